package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The encoders build the few messages the gateway originates. Every message they return is accepted by Decode
// (they check their own output), is compact JSON on one line (stdio framing), and keeps json.RawMessage values'
// content, with insignificant whitespace removed.

// NewRequest encodes a request. id must be a JSON string or number; method must not be empty; params may be
// nil, a json.RawMessage, or any value encoding/json accepts that encodes to an object or an array
// (a value that encodes to null is left out).
func NewRequest(id ID, method string, params any) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return encode(id, method, params, nil, nil, true)
}

// NewNotification encodes a notification. method must not be empty; params as for NewRequest.
func NewNotification(method string, params any) ([]byte, error) {
	return encode(nil, method, params, nil, nil, false)
}

// NewResult encodes a result response. id must be a JSON string or number. A nil result is written as {}.
func NewResult(id ID, result any) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if result == nil {
		result = json.RawMessage(`{}`)
	}
	return encode(id, "", nil, result, nil, true)
}

// NewErrorResponse encodes an error response. It always returns a valid message: a nil id, or one that is not a
// JSON string or number, is written as null (parse errors); data may be nil, and is left out when it cannot be
// encoded.
func NewErrorResponse(id ID, code int64, message string, data any) []byte {
	if checkID(id) != nil {
		id = ID("null")
	}
	we := &WireError{Code: code, Message: message}
	if data != nil {
		if b, err := marshalCompact(data); err == nil {
			we.Data = b
		}
	}
	if b, err := encode(id, "", nil, nil, we, true); err == nil {
		return b
	}
	we.Data = nil // data was JSON that Decode refuses (e.g. duplicate keys)
	if b, err := encode(id, "", nil, nil, we, true); err == nil {
		return b
	}
	// Unreachable: the id is checked and json.Marshal of a string is always valid JSON.
	mb, _ := json.Marshal(message)
	return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":` + strconv.FormatInt(code, 10) + `,"message":` + string(mb) + `}}`)
}

// checkID reports whether id is a single JSON string or number.
func checkID(id ID) error {
	if len(id) == 0 {
		return errors.New("jsonrpc: missing id: a request or response needs a JSON string or number id")
	}
	d := decoders.Get().(*decoder)
	defer d.release()
	d.b = id
	c := id[0]
	ok := (c == '"' || c == '-' || c >= '0' && c <= '9') && d.value() && d.pos == len(id) && d.serr == nil
	if !ok {
		return fmt.Errorf("jsonrpc: id %s is not a JSON string or number; use StringID or decimal digits", quoteKey(id))
	}
	return nil
}

// marshalCompact encodes v as compact JSON; a json.RawMessage is compacted, not re-escaped.
func marshalCompact(v any) ([]byte, error) {
	if raw, ok := v.(json.RawMessage); ok {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("jsonrpc: raw JSON value: %w", err)
		}
		return buf.Bytes(), nil
	}
	return json.Marshal(v)
}

func encode(id ID, method string, params, result any, werr *WireError, withID bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"jsonrpc":"2.0"`)
	if withID {
		buf.WriteString(`,"id":`)
		buf.Write(id)
	}
	if !withID || result == nil && werr == nil {
		if method == "" {
			return nil, errors.New("jsonrpc: empty method name")
		}
		buf.WriteString(`,"method":`)
		mb, _ := json.Marshal(method)
		buf.Write(mb)
		if params != nil {
			pb, err := marshalCompact(params)
			if err != nil {
				return nil, fmt.Errorf("jsonrpc: encoding params of %q: %w", method, err)
			}
			switch {
			case string(pb) == "null":
			case pb[0] == '{' || pb[0] == '[':
				buf.WriteString(`,"params":`)
				buf.Write(pb)
			default:
				return nil, fmt.Errorf("jsonrpc: params of %q encode to %.20s; params must be an object or an array", method, pb)
			}
		}
	}
	if result != nil {
		rb, err := marshalCompact(result)
		if err != nil {
			return nil, fmt.Errorf("jsonrpc: encoding result: %w", err)
		}
		buf.WriteString(`,"result":`)
		buf.Write(rb)
	}
	if werr != nil {
		eb, err := json.Marshal(werr)
		if err != nil {
			return nil, fmt.Errorf("jsonrpc: encoding error: %w", err)
		}
		buf.WriteString(`,"error":`)
		buf.Write(eb)
	}
	buf.WriteByte('}')
	out := buf.Bytes()
	if _, err := Decode(out); err != nil {
		return nil, fmt.Errorf("jsonrpc: encoded message is not acceptable: %w", err)
	}
	return out, nil
}
