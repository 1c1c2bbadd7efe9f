package jsonrpc

// INTERIM implementation (non-strict, encoding/json based) so the rest of the tree compiles; to be replaced by
// the strict scanner described in message.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// DecodeError says why a message was rejected. Code is CodeParseError for bytes that are not JSON and
// CodeInvalidRequest for JSON that is not an acceptable JSON-RPC message.
type DecodeError struct {
	Code   int64
	Msg    string
	Offset int // byte offset of the problem in the input, -1 when not known
	ID     ID  // the message id when it could be recovered, so the error response can name it
}

func (e *DecodeError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("invalid JSON-RPC message at byte %d: %s", e.Offset, e.Msg)
	}
	return "invalid JSON-RPC message: " + e.Msg
}

// IsBatch reports whether b (after leading whitespace) is a JSON array.
func IsBatch(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

// Decode parses one message.
func Decode(b []byte) (*Message, error) {
	b = bytes.TrimSpace(b)
	var env struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  *string         `json:"method"`
		Params  json.RawMessage `json:"params"`
		Result  json.RawMessage `json:"result"`
		Error   *WireError      `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, &DecodeError{Code: CodeParseError, Msg: err.Error(), Offset: -1}
	}
	m := &Message{Raw: b, Params: env.Params, Result: env.Result, Error: env.Error}
	if len(env.ID) > 0 && string(env.ID) != "null" {
		m.ID = ID(env.ID)
	}
	switch {
	case env.Method != nil && m.ID != nil:
		m.Kind = KindRequest
		m.Method = *env.Method
	case env.Method != nil:
		m.Kind = KindNotification
		m.Method = *env.Method
	case env.Error != nil:
		m.Kind = KindError
	case env.Result != nil:
		m.Kind = KindResult
	default:
		return nil, &DecodeError{Code: CodeInvalidRequest, Msg: "neither method, result nor error", Offset: -1}
	}
	if len(env.Params) > 0 && env.Params[0] == '{' {
		var p struct {
			Name      *string         `json:"name"`
			URI       *string         `json:"uri"`
			Arguments json.RawMessage `json:"arguments"`
			Meta      json.RawMessage `json:"_meta"`
		}
		if err := json.Unmarshal(env.Params, &p); err == nil {
			if p.Name != nil {
				m.Name = *p.Name
			} else if p.URI != nil {
				m.Name = *p.URI
			}
			m.Arguments = p.Arguments
			m.Meta = p.Meta
			if len(p.Meta) > 0 {
				var meta map[string]json.RawMessage
				if json.Unmarshal(p.Meta, &meta) == nil {
					var v string
					if json.Unmarshal(meta[MetaProtocolVersionKey], &v) == nil {
						m.ProtocolVersion = v
					}
					m.ProgressToken = meta["progressToken"]
				}
			}
		}
	}
	if m.ID != nil {
		i := bytes.Index(b, []byte(`"id"`))
		if i >= 0 {
			j := bytes.Index(b[i:], env.ID)
			if j >= 0 {
				m.idStart = i + j
				m.idEnd = m.idStart + len(env.ID)
			}
		}
	}
	return m, nil
}

// WithID returns a copy of m.Raw whose id is replaced by id, without re-encoding anything else.
// It panics if m has no id.
func (m *Message) WithID(id ID) []byte {
	if m.ID == nil {
		panic("jsonrpc: WithID on a message without id")
	}
	out := make([]byte, 0, len(m.Raw)-len(m.ID)+len(id))
	out = append(out, m.Raw[:m.idStart]...)
	out = append(out, id...)
	out = append(out, m.Raw[m.idEnd:]...)
	return out
}

// NewRequest encodes a request. params may be nil, a json.RawMessage, or any value encoding/json accepts.
func NewRequest(id ID, method string, params any) ([]byte, error) {
	return encode(id, method, params, nil, nil, true)
}

// NewNotification encodes a notification.
func NewNotification(method string, params any) ([]byte, error) {
	return encode(nil, method, params, nil, nil, false)
}

// NewResult encodes a result response.
func NewResult(id ID, result any) ([]byte, error) {
	if result == nil {
		result = json.RawMessage(`{}`)
	}
	return encode(id, "", nil, result, nil, true)
}

// NewErrorResponse encodes an error response. A nil id is written as null (parse errors).
// data may be nil.
func NewErrorResponse(id ID, code int64, message string, data any) []byte {
	we := &WireError{Code: code, Message: message}
	if data != nil {
		if b, err := json.Marshal(data); err == nil {
			we.Data = b
		}
	}
	if id == nil {
		id = ID("null")
	}
	b, err := encode(id, "", nil, nil, we, true)
	if err != nil { // cannot happen: every part is JSON we built
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":` + strconv.Quote(message) + `}}`)
	}
	return b
}

func encode(id ID, method string, params, result any, werr *WireError, withID bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"jsonrpc":"2.0"`)
	if withID {
		buf.WriteString(`,"id":`)
		buf.Write(id)
	}
	if method != "" {
		buf.WriteString(`,"method":`)
		mb, _ := json.Marshal(method)
		buf.Write(mb)
		if params != nil {
			pb, err := json.Marshal(params)
			if err != nil {
				return nil, err
			}
			buf.WriteString(`,"params":`)
			buf.Write(pb)
		}
	}
	if result != nil {
		rb, err := json.Marshal(result)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`,"result":`)
		buf.Write(rb)
	}
	if werr != nil {
		eb, err := json.Marshal(werr)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`,"error":`)
		buf.Write(eb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
