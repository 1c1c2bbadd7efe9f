package jsonrpc

import (
	"fmt"
	"strings"
	"sync"
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

// CaseVariantKeys checks that no object in the JSON value b has two keys that are equal, or equal under
// Unicode simple case folding (the way encoding/json matches keys to struct fields), or a key containing NUL,
// at any depth. Such an object is read one way by a parser that matches keys exactly (go-sdk, a map) and
// another by one that folds case (encoding/json structs, where the last variant wins). Invalid JSON is an
// error too. what names b in the error ("tools item").
func CaseVariantKeys(b []byte, what string) error {
	d := decoders.Get().(*decoder)
	defer d.release()
	d.b, d.foldAll, d.root, d.allowLone = b, true, what, true
	d.ws()
	if d.value() {
		d.ws()
		if d.pos < len(b) {
			d.syntax(d.pos, "unexpected %s after the JSON value", d.describe(d.pos))
		}
	}
	e := d.perr
	if e == nil {
		e = d.serr
	}
	if e == nil {
		return nil
	}
	return fmt.Errorf("%s (at byte %d)", e.Msg, e.Offset)
}

// IsBatch reports whether b (after leading whitespace) is a JSON array.
func IsBatch(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '['
	}
	return false
}

// Field names a key may not imitate by case folding (encoding/json would match them case-insensitively).
var (
	envelopeNames = known("jsonrpc", "id", "method", "params", "result", "error")
	paramsNames   = known("name", "uri", "arguments", "_meta")
	metaNames     = known("progressToken", MetaProtocolVersionKey)
	errorNames    = known("code", "message", "data")
)

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// Decode parses one JSON-RPC message strictly, in one pass, without reflection. b must hold exactly one JSON
// object, optionally surrounded by JSON whitespace (space, tab, CR, LF); a top-level array is a batch (see
// IsBatch), which Decode rejects.
//
// The returned Message aliases b: Raw is the trimmed sub-slice of b, and Params, Result, Arguments, Meta,
// ProgressToken, Error.Data and ID are sub-slices of Raw. The caller must not modify or reuse b while the
// Message is in use.
//
// Everything that could be read differently by the gateway and by the server behind it is rejected with a
// *DecodeError. Code is CodeParseError for input that is not RFC 8259 JSON text: bad syntax, invalid UTF-8
// anywhere, a byte order mark, a control character in a string, data after the value. Code is
// CodeInvalidRequest for:
//   - nesting deeper than 512 objects and arrays;
//   - a key repeated in any object at any depth (keys are compared after unescaping, so "n\u0061me" repeats
//     "name");
//   - in the envelope, params, params._meta, the top level of params.arguments and error: two keys that are
//     equal under Unicode simple case folding (strings.EqualFold, which is how encoding/json matches struct
//     fields: "\u212a" (Kelvin sign) matches "k", "\u017f" (long s) matches "s"), and a key that folds to a
//     field name of that level without being it ("Method", "argument\u017f", "progressto\u212aen"),
//     and a key containing NUL ("\u0000"), which parsers using C strings would cut short;
//   - a \u escape of a lone UTF-16 surrogate in any key and in any string value outside "result" and
//     "error.data" (encoding/json decodes every lone surrogate to U+FFFD, so two different keys or names could
//     become equal; response payloads are only forwarded, and truncated text in them is common, so they are
//     kept);
//   - a broken envelope rule: "jsonrpc" must be exactly "2.0"; a request has a non-empty string "method" and
//     a string or number "id"; a notification has a method and no id; requests and notifications carry no
//     "result" or "error"; a response has an "id" (null only in an error response, giving a nil ID), exactly
//     one of "result" or "error", and no "params"; "error" is an object with an integer "code" that fits in
//     64 bits and a string "message"; "params" is an object or an array; params._meta is an object;
//     params.arguments is an object or null.
//
// A syntax error anywhere wins over a rule broken earlier in the input. DecodeError.Offset is a byte offset
// in b. DecodeError.ID is set when exactly one well-formed envelope id was read before scanning stopped (the
// scan continues after a rule violation, so an id after the offending member is still found).
func Decode(b []byte) (*Message, error) {
	start, end := 0, len(b)
	for start < end && isSpace(b[start]) {
		start++
	}
	for end > start && isSpace(b[end-1]) {
		end--
	}
	if start == end {
		return nil, &DecodeError{Code: CodeParseError, Msg: "empty message: want a JSON object", Offset: start}
	}
	if end-start >= 3 && b[start] == 0xEF && b[start+1] == 0xBB && b[start+2] == 0xBF {
		return nil, &DecodeError{Code: CodeParseError, Offset: start,
			Msg: "message starts with a UTF-8 byte order mark; send JSON text without a BOM"}
	}

	d := decoders.Get().(*decoder)
	defer d.release()
	d.b = b[:end]
	d.pos = start

	switch c := b[start]; c {
	case '{':
		d.envelope()
	default:
		d.value()
		if d.perr == nil {
			if c == '[' {
				d.invalid(start, "message is a JSON array (a batch); batches are not accepted here, send one object per message")
			} else {
				d.invalid(start, "message is not a JSON object")
			}
		}
	}
	if d.perr == nil {
		d.ws()
		if d.pos < end {
			d.syntax(d.pos, "unexpected %s after the JSON value; send exactly one JSON value per message", d.describe(d.pos))
		}
	}
	if d.perr == nil && d.serr == nil && b[start] == '{' {
		d.checkEnvelope()
	}
	if err := d.perr; err != nil {
		err.ID = d.env.recoveredID(d.b)
		return nil, err
	}
	if err := d.serr; err != nil {
		err.ID = d.env.recoveredID(d.b)
		return nil, err
	}

	m := new(Message)
	*m = d.m
	m.Raw = b[start:end:end]
	if d.env.hasID && !d.env.idNull {
		m.ID = ID(b[d.env.idStart:d.env.idEnd:d.env.idEnd])
		m.idStart, m.idEnd = d.env.idStart-start, d.env.idEnd-start
	}
	return m, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// release clears every reference to the caller's input and returns d to the pool.
func (d *decoder) release() {
	d.b = nil
	d.pos = 0
	d.frames = d.frames[:0]
	d.keys = d.keys[:0]
	d.kbuf = d.kbuf[:0]
	d.allowLone = false
	d.foldAll, d.root = false, ""
	d.perr, d.serr = nil, nil
	d.violations = 0
	d.env = envelope{}
	d.m = Message{}
	if cap(d.kbuf) > 64<<10 || cap(d.keys) > 4096 || cap(d.hashes) > 4096 {
		return // do not keep the buffers of an unusually large message alive
	}
	decoders.Put(d)
}

// envelope tracks the envelope members seen so far.
type envelope struct {
	hasJSONRPC, jsonrpcOK                  bool
	hasID, idNull, idBadType, idConflict   bool
	idCount                                int
	idStart, idEnd                         int
	hasMethod                              bool
	hasParams, hasResult, hasError         bool
	jsonrpcPos, idPos, methodPos, paramPos int
	resultPos, errorPos                    int
	err                                    errorState
	name, uri                              string
	hasName, hasURI                        bool
}

type errorState struct {
	hasCode, hasMessage bool
}

// recoveredID returns the id for a DecodeError when exactly one well-formed id was read.
func (e *envelope) recoveredID(b []byte) ID {
	if !e.hasID || e.idNull || e.idBadType || e.idConflict || e.idCount != 1 {
		return nil
	}
	return ID(b[e.idStart:e.idEnd:e.idEnd])
}

// target returns the params member that the receiver of method acts on, which is what Message.Name reports:
// params.uri for the resources/ methods (resources/read, resources/subscribe, resources/unsubscribe),
// params.name for tools/call and prompts/get, and for other methods params.name, else params.uri. A
// message may carry both members (unknown members are ignored by servers), so the choice follows the
// method, never the presence of the other member: a resources/read with a harmless "name" beside the
// "uri" it reads must still be judged by its uri.
func (e *envelope) target(method string) string {
	switch {
	case strings.HasPrefix(method, "resources/"):
		return e.uri
	case method == "tools/call" || method == "prompts/get":
		return e.name
	case e.hasName:
		return e.name
	}
	return e.uri
}

// noteKeyConflict marks the id as ambiguous when either envelope key of a conflict is an "id" variant.
func (e *envelope) noteKeyConflict(a, b []byte) {
	if foldsTo(a, "ID") || foldsTo(b, "ID") {
		e.idConflict = true
	}
}

func foldsTo(k []byte, folded string) bool {
	var buf [16]byte
	return len(k) <= 12 && string(appendFolded(buf[:0], k)) == folded
}

func (d *decoder) envelope() {
	d.object(d.envMember)
}

func (d *decoder) envMember(ki int) bool {
	e := &d.env
	pos := d.pos
	c := d.peek()
	switch d.checkKnown(ki, envelopeNames) {
	case "jsonrpc":
		e.hasJSONRPC, e.jsonrpcPos = true, pos
		if c != '"' {
			d.invalid(pos, `"jsonrpc" must be the string "2.0"`)
			return d.value()
		}
		s, e2, esc, ok := d.str(false)
		if !ok {
			return false
		}
		v := d.b[s:e2]
		if esc {
			v = appendUnescaped(nil, v)
		}
		e.jsonrpcOK = string(v) == "2.0"
		return true
	case "id":
		before := d.violations
		if !d.value() {
			return false
		}
		e.hasID, e.idPos = true, pos
		e.idCount++
		e.idStart, e.idEnd = pos, d.pos
		e.idNull, e.idBadType = false, d.violations != before // a lone surrogate escape in a string id
		switch {
		case c == 'n':
			e.idNull = true
		case c == '"' || c == '-' || c >= '0' && c <= '9':
		default:
			e.idBadType = true
			d.invalid(pos, `"id" must be a string or a number`)
		}
		return true
	case "method":
		e.hasMethod, e.methodPos = true, pos
		if c != '"' {
			d.invalid(pos, `"method" must be a string`)
			return d.value()
		}
		m, ok := d.strValue(internMethod)
		if !ok {
			return false
		}
		d.m.Method = m
		if m == "" {
			d.invalid(pos, `"method" must not be empty`)
		}
		return true
	case "params":
		e.hasParams, e.paramPos = true, pos
		switch c {
		case '{':
			if !d.object(d.paramsMember) {
				return false
			}
		case '[':
			if !d.value() {
				return false
			}
		default:
			d.invalid(pos, `"params" must be an object or an array`)
			if !d.value() {
				return false
			}
		}
		d.m.Params = d.b[pos:d.pos:d.pos]
		return true
	case "result":
		e.hasResult, e.resultPos = true, pos
		d.allowLone = true
		ok := d.value()
		d.allowLone = false
		d.m.Result = d.b[pos:d.pos:d.pos]
		return ok
	case "error":
		e.hasError, e.errorPos = true, pos
		if c != '{' {
			d.invalid(pos, `"error" must be an object with "code" and "message"`)
			return d.value()
		}
		d.m.Error = &WireError{}
		e.err = errorState{}
		if !d.object(d.errorMember) {
			return false
		}
		switch {
		case !e.err.hasCode:
			d.invalid(pos, `"error" has no "code"`)
		case !e.err.hasMessage:
			d.invalid(pos, `"error" has no "message"`)
		}
		return true
	}
	return d.value()
}

func (d *decoder) paramsMember(ki int) bool {
	e := &d.env
	pos := d.pos
	c := d.peek()
	switch d.checkKnown(ki, paramsNames) {
	case "name":
		if c != '"' {
			return d.value()
		}
		s, ok := d.strValue(nil)
		e.name, e.hasName = s, true
		return ok
	case "uri":
		if c != '"' {
			return d.value()
		}
		s, ok := d.strValue(nil)
		e.uri, e.hasURI = s, true
		return ok
	case "arguments":
		switch c {
		case '{':
			if !d.object(d.argumentsMember) {
				return false
			}
		case 'n':
			if !d.literal("null") {
				return false
			}
		default:
			d.invalid(pos, `"params.arguments" must be an object`)
			if !d.value() {
				return false
			}
		}
		d.m.Arguments = d.b[pos:d.pos:d.pos]
		return true
	case "_meta":
		if c == '{' {
			if !d.object(d.metaMember) {
				return false
			}
		} else {
			d.invalid(pos, `"params._meta" must be an object`)
			if !d.value() {
				return false
			}
		}
		d.m.Meta = d.b[pos:d.pos:d.pos]
		return true
	}
	return d.value()
}

func (d *decoder) argumentsMember(int) bool { return d.value() }

func (d *decoder) metaMember(ki int) bool {
	pos := d.pos
	switch d.checkKnown(ki, metaNames) {
	case "progressToken":
		if !d.value() {
			return false
		}
		d.m.ProgressToken = d.b[pos:d.pos:d.pos]
		return true
	case MetaProtocolVersionKey:
		if d.peek() != '"' {
			return d.value()
		}
		s, ok := d.strValue(internVersion)
		d.m.ProtocolVersion = s
		return ok
	}
	return d.value()
}

func (d *decoder) errorMember(ki int) bool {
	es := &d.env.err
	pos := d.pos
	c := d.peek()
	switch d.checkKnown(ki, errorNames) {
	case "code":
		es.hasCode = true
		if c != '-' && (c < '0' || c > '9') {
			d.invalid(pos, `"error.code" must be an integer`)
			return d.value()
		}
		isInt, ok := d.num()
		if !ok {
			return false
		}
		code, fits := parseInt64(d.b[pos:d.pos])
		if !isInt || !fits {
			d.invalid(pos, `"error.code" must be an integer that fits in 64 bits`)
			return true
		}
		d.m.Error.Code = code
		return true
	case "message":
		es.hasMessage = true
		if c != '"' {
			d.invalid(pos, `"error.message" must be a string`)
			return d.value()
		}
		s, ok := d.strValue(nil)
		d.m.Error.Message = s
		return ok
	case "data":
		d.allowLone = true
		ok := d.value()
		d.allowLone = false
		d.m.Error.Data = d.b[pos:d.pos:d.pos]
		return ok
	}
	return d.value()
}

// parseInt64 parses a JSON integer (already validated syntax) and reports whether it fits in an int64.
func parseInt64(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var u uint64
	for _, c := range b {
		if u > (1<<63)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return -int64(u), true // -(1<<63) wraps to itself, which is right
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// checkEnvelope applies the JSON-RPC 2.0 envelope rules once the whole input has been scanned.
func (d *decoder) checkEnvelope() {
	e := &d.env
	start := e.jsonrpcPos
	switch {
	case !e.hasJSONRPC:
		d.invalid(d.pos, `missing "jsonrpc":"2.0"`)
		return
	case !e.jsonrpcOK:
		d.invalid(start, `"jsonrpc" must be the string "2.0"`)
		return
	}
	if e.hasMethod {
		d.m.Name = e.target(d.m.Method)
		switch {
		case e.hasResult:
			d.invalid(e.resultPos, `a request or notification must not carry "result"`)
		case e.hasError:
			d.invalid(e.errorPos, `a request or notification must not carry "error"`)
		case e.hasID && e.idNull:
			d.invalid(e.idPos, `a request "id" must be a string or a number, not null`)
		case e.hasID:
			d.m.Kind = KindRequest
		default:
			d.m.Kind = KindNotification
		}
		return
	}
	switch {
	case e.hasResult && e.hasError:
		d.invalid(e.errorPos, `a response must carry either "result" or "error", not both`)
	case !e.hasResult && !e.hasError:
		d.invalid(d.pos-1, `message has neither "method", "result" nor "error"`)
	case e.hasParams:
		d.invalid(e.paramPos, `a response must not carry "params"`)
	case !e.hasID:
		d.invalid(d.pos-1, `a response must carry an "id"`)
	case e.hasResult && e.idNull:
		d.invalid(e.idPos, `a result "id" must be a string or a number, not null`)
	case e.hasResult:
		d.m.Kind = KindResult
	default:
		d.m.Kind = KindError
	}
}

// internMethod returns common method names without allocating.
func internMethod(b []byte) string {
	switch string(b) {
	case "tools/call":
		return "tools/call"
	case "tools/list":
		return "tools/list"
	case "initialize":
		return "initialize"
	case "notifications/initialized":
		return "notifications/initialized"
	case "ping":
		return "ping"
	case "resources/read":
		return "resources/read"
	case "resources/list":
		return "resources/list"
	case "resources/templates/list":
		return "resources/templates/list"
	case "resources/subscribe":
		return "resources/subscribe"
	case "resources/unsubscribe":
		return "resources/unsubscribe"
	case "prompts/get":
		return "prompts/get"
	case "prompts/list":
		return "prompts/list"
	case "completion/complete":
		return "completion/complete"
	case "logging/setLevel":
		return "logging/setLevel"
	case "server/discover":
		return "server/discover"
	case "notifications/progress":
		return "notifications/progress"
	case "notifications/cancelled":
		return "notifications/cancelled"
	case "notifications/message":
		return "notifications/message"
	case "notifications/tools/list_changed":
		return "notifications/tools/list_changed"
	case "notifications/resources/list_changed":
		return "notifications/resources/list_changed"
	case "notifications/resources/updated":
		return "notifications/resources/updated"
	case "notifications/prompts/list_changed":
		return "notifications/prompts/list_changed"
	case "notifications/roots/list_changed":
		return "notifications/roots/list_changed"
	case "sampling/createMessage":
		return "sampling/createMessage"
	case "elicitation/create":
		return "elicitation/create"
	case "roots/list":
		return "roots/list"
	}
	return string(b)
}

// internVersion returns known protocol versions without allocating.
func internVersion(b []byte) string {
	switch string(b) {
	case "2026-07-28":
		return "2026-07-28"
	case "2025-11-25":
		return "2025-11-25"
	case "2025-06-18":
		return "2025-06-18"
	case "2025-03-26":
		return "2025-03-26"
	case "2024-11-05":
		return "2024-11-05"
	}
	return string(b)
}

// WithID returns a copy of m.Raw whose id is replaced by id, without re-encoding anything else: every other
// byte is kept. id must be a JSON string or number (StringID, or strconv digits). It panics if m has no id.
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
