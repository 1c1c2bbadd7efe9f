package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// view is the comparable projection of a decoded Message.
type view struct {
	Kind            Kind
	ID              string
	Method          string
	Params          string
	Result          string
	Error           *WireError
	Name            string
	Arguments       string
	Meta            string
	ProtocolVersion string
	ProgressToken   string
}

func viewOf(m *Message) view {
	return view{
		Kind: m.Kind, ID: string(m.ID), Method: m.Method, Params: string(m.Params), Result: string(m.Result),
		Error: m.Error, Name: m.Name, Arguments: string(m.Arguments), Meta: string(m.Meta),
		ProtocolVersion: m.ProtocolVersion, ProgressToken: string(m.ProgressToken),
	}
}

// wantErr describes a rejection: Msg must occur in DecodeError.Msg; Offset -2 means "not checked".
type wantErr struct {
	Code   int64
	Msg    string
	Offset int
	ID     string
}

type decodeCase struct {
	name string
	in   string
	want *view    // nil when the input must be rejected
	err  *wantErr // nil when the input must be accepted
}

const any2 = -2 // wantErr.Offset: not checked

func req(id, method, params string) string {
	s := `{"jsonrpc":"2.0","id":` + id + `,"method":` + method
	if params != "" {
		s += `,"params":` + params
	}
	return s + "}"
}

func call(args string) string {
	return req("1", `"tools/call"`, `{"name":"t","arguments":`+args+`}`)
}

func nest(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// anyID in wantErr.ID: not checked.
const anyID = "?"

func invalidReq(msg string) *wantErr {
	return &wantErr{Code: CodeInvalidRequest, Msg: msg, Offset: any2, ID: anyID}
}
func parseErr(msg string) *wantErr {
	return &wantErr{Code: CodeParseError, Msg: msg, Offset: any2, ID: anyID}
}

func decodeCases() []decodeCase {
	reqView := func(id string) *view {
		return &view{Kind: KindRequest, ID: id, Method: "ping"}
	}
	return []decodeCase{
		// ---- valid: ids ----
		{name: "string id", in: req(`"a1"`, `"ping"`, ""), want: reqView(`"a1"`)},
		{name: "number id", in: req(`7`, `"ping"`, ""), want: reqView(`7`)},
		{name: "negative id", in: req(`-1`, `"ping"`, ""), want: reqView(`-1`)},
		{name: "zero id", in: req(`0`, `"ping"`, ""), want: reqView(`0`)},
		{name: "minus zero id", in: req(`-0`, `"ping"`, ""), want: reqView(`-0`)},
		{name: "exponent id", in: req(`1.5e3`, `"ping"`, ""), want: reqView(`1.5e3`)},
		{name: "upper exponent id", in: req(`1E+2`, `"ping"`, ""), want: reqView(`1E+2`)},
		{name: "large int id kept verbatim", in: req(`123456789012345678901234567890`, `"ping"`, ""),
			want: reqView(`123456789012345678901234567890`)},
		{name: "escaped string id kept verbatim", in: req(`"a\u0031\n\"x"`, `"ping"`, ""), want: reqView(`"a\u0031\n\"x"`)},
		{name: "empty string id", in: req(`""`, `"ping"`, ""), want: reqView(`""`)},
		{name: "id after method", in: `{"method":"ping","jsonrpc":"2.0","id":3}`, want: reqView(`3`)},

		// ---- valid: requests ----
		{name: "tools/call",
			in: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fs_write","arguments":{"path":"/tmp/x","n":2}}}`,
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call",
				Params: `{"name":"fs_write","arguments":{"path":"/tmp/x","n":2}}`, Name: "fs_write",
				Arguments: `{"path":"/tmp/x","n":2}`}},
		{name: "surrounding whitespace",
			in:   " \t\r\n{ \"jsonrpc\" : \"2.0\" ,\n\"id\" : 1 , \"method\" : \"ping\" } \n\t",
			want: reqView("1")},
		{name: "escaped method", in: req("1", `"\u0074ools/c\u0061ll"`, ""),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call"}},
		{name: "escaped key", in: `{"jsonrpc":"2.0","id":1,"\u006dethod":"ping"}`, want: reqView("1")},
		{name: "escaped jsonrpc value", in: `{"jsonrpc":"\u0032.0","id":1,"method":"ping"}`, want: reqView("1")},
		{name: "unknown method kept", in: req("1", `"vendor/thing"`, ""),
			want: &view{Kind: KindRequest, ID: "1", Method: "vendor/thing"}},
		{name: "escaped name", in: req("1", `"tools/call"`, `{"name":"a\/b\u00e9\ud83d\ude00"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call", Params: `{"name":"a\/b\u00e9\ud83d\ude00"}`,
				Name: "a/bé😀"}},
		{name: "uri when no name", in: req("1", `"resources/read"`, `{"uri":"file:///etc/passwd"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "resources/read", Params: `{"uri":"file:///etc/passwd"}`,
				Name: "file:///etc/passwd"}},
		// A server reads the member its method defines and ignores the other: Name must be that member.
		{name: "resources/read is named by its uri, not a name beside it",
			in: req("1", `"resources/read"`, `{"name":"harmless","uri":"file:///etc/shadow"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "resources/read",
				Params: `{"name":"harmless","uri":"file:///etc/shadow"}`, Name: "file:///etc/shadow"}},
		{name: "resources/subscribe with method after params",
			in: `{"jsonrpc":"2.0","id":1,"params":{"uri":"file:///x","name":"y"},"method":"resources/subscribe"}`,
			want: &view{Kind: KindRequest, ID: "1", Method: "resources/subscribe",
				Params: `{"uri":"file:///x","name":"y"}`, Name: "file:///x"}},
		{name: "resources/read without uri has no name", in: req("1", `"resources/read"`, `{"name":"n"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "resources/read", Params: `{"name":"n"}`}},
		{name: "tools/call without name is not named by a uri", in: req("1", `"tools/call"`, `{"uri":"echo"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call", Params: `{"uri":"echo"}`}},
		{name: "prompts/get with a non-string name is not named by a uri",
			in:   req("1", `"prompts/get"`, `{"name":5,"uri":"greet"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "prompts/get", Params: `{"name":5,"uri":"greet"}`}},
		{name: "name wins over uri", in: req("1", `"x"`, `{"uri":"u","name":"n"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "x", Params: `{"uri":"u","name":"n"}`, Name: "n"}},
		{name: "non-string name falls back to uri", in: req("1", `"x"`, `{"name":5,"uri":"u"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "x", Params: `{"name":5,"uri":"u"}`, Name: "u"}},
		{name: "params array", in: req("1", `"x"`, `[1,"two",{"name":"n"}]`),
			want: &view{Kind: KindRequest, ID: "1", Method: "x", Params: `[1,"two",{"name":"n"}]`}},
		{name: "empty params", in: req("1", `"x"`, `{}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "x", Params: `{}`}},
		{name: "null arguments", in: call(`null`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call", Params: `{"name":"t","arguments":null}`,
				Name: "t", Arguments: "null"}},
		{name: "meta",
			in: req("1", `"tools/call"`, `{"_meta":{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28","x":{}},"name":"t"}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call",
				Params: `{"_meta":{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28","x":{}},"name":"t"}`,
				Name:   "t", Meta: `{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28","x":{}}`,
				ProtocolVersion: "2026-07-28", ProgressToken: `"p1"`}},
		{name: "numeric progress token", in: req("1", `"x"`, `{"_meta":{"progressToken":12}}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "x", Params: `{"_meta":{"progressToken":12}}`,
				Meta: `{"progressToken":12}`, ProgressToken: "12"}},
		{name: "unknown envelope member", in: `{"jsonrpc":"2.0","id":1,"method":"ping","x-trace":{"a":[1]}}`,
			want: reqView("1")},
		{name: "case variants below the top level of arguments", in: call(`{"a":{"b":1,"B":2},"c":[{"k":1,"K":2}]}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call",
				Params: `{"name":"t","arguments":{"a":{"b":1,"B":2},"c":[{"k":1,"K":2}]}}`, Name: "t",
				Arguments: `{"a":{"b":1,"B":2},"c":[{"k":1,"K":2}]}`}},
		{name: "same key in sibling objects", in: call(`{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call",
				Params: `{"name":"t","arguments":{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}}`, Name: "t",
				Arguments: `{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}`}},
		{name: "sharp s does not simple-fold to ss", in: call(`{"straße":1,"STRASSE":2}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call",
				Params: `{"name":"t","arguments":{"straße":1,"STRASSE":2}}`, Name: "t", Arguments: `{"straße":1,"STRASSE":2}`}},
		{name: "long s that folds to another name is just another member",
			in: `{"jsonrpc":"2.0","id":1,"method":"ping","` + "method\xc5\xbf" + `":"x"}`, want: reqView("1")},
		{name: "all literals and numbers", in: call(`{"a":[true,false,null,0,-0.5,1e-9,2E+10,"",{}, []]}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call",
				Params: `{"name":"t","arguments":{"a":[true,false,null,0,-0.5,1e-9,2E+10,"",{}, []]}}`, Name: "t",
				Arguments: `{"a":[true,false,null,0,-0.5,1e-9,2E+10,"",{}, []]}`}},

		// ---- valid: notifications and responses ----
		{name: "notification", in: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			want: &view{Kind: KindNotification, Method: "notifications/initialized"}},
		{name: "notification with params", in: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}`,
			want: &view{Kind: KindNotification, Method: "notifications/progress", Params: `{"progressToken":1,"progress":0.5}`}},
		{name: "result", in: `{"jsonrpc":"2.0","id":"a1","result":{"content":[{"type":"text","text":"hi"}]}}`,
			want: &view{Kind: KindResult, ID: `"a1"`, Result: `{"content":[{"type":"text","text":"hi"}]}`}},
		{name: "null result", in: `{"jsonrpc":"2.0","id":1,"result":null}`,
			want: &view{Kind: KindResult, ID: "1", Result: "null"}},
		{name: "lone surrogate kept in result strings", in: `{"jsonrpc":"2.0","id":1,"result":{"text":"cut \ud83d"}}`,
			want: &view{Kind: KindResult, ID: "1", Result: `{"text":"cut \ud83d"}`}},
		{name: "error", in: `{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"M\u00e9thode inconnue","data":{"m":"x"}}}`,
			want: &view{Kind: KindError, ID: "5", Error: &WireError{Code: -32601, Message: "Méthode inconnue",
				Data: json.RawMessage(`{"m":"x"}`)}}},
		{name: "error with null id", in: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
			want: &view{Kind: KindError, Error: &WireError{Code: -32700, Message: "Parse error"}}},
		{name: "error code extremes", in: `{"jsonrpc":"2.0","id":1,"error":{"message":"","code":-9223372036854775808}}`,
			want: &view{Kind: KindError, ID: "1", Error: &WireError{Code: -9223372036854775808}}},
		{name: "lone surrogate kept in error data", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":"\udc00"}}`,
			want: &view{Kind: KindError, ID: "1", Error: &WireError{Code: 1, Message: "m", Data: json.RawMessage(`"\udc00"`)}}},

		// ---- parse errors ----
		{name: "empty", in: "", err: &wantErr{Code: CodeParseError, Msg: "empty message", Offset: 0}},
		{name: "only whitespace", in: " \n\t ", err: parseErr("empty message")},
		{name: "byte order mark", in: "\xEF\xBB\xBF" + req("1", `"ping"`, ""), err: parseErr("byte order mark")},
		{name: "trailing garbage", in: req("1", `"ping"`, "") + ` x`,
			err: &wantErr{Code: CodeParseError, Msg: "unexpected character 'x' after the JSON value", Offset: 41, ID: "1"}},
		{name: "two objects", in: req("1", `"ping"`, "") + req("2", `"ping"`, ""), err: parseErr("after the JSON value")},
		{name: "trailing NUL", in: req("1", `"ping"`, "") + "\x00", err: parseErr("byte 0x00 after the JSON value")},
		{name: "trailing comma in object", in: `{"jsonrpc":"2.0","id":1,"method":"ping",}`,
			err: parseErr("expected a string object key")},
		{name: "trailing comma in array", in: call(`{"a":[1,]}`), err: parseErr("expected a JSON value")},
		{name: "invalid UTF-8 in value", in: call(`{"a":"` + "\xff" + `"}`), err: parseErr("invalid UTF-8 in string")},
		{name: "invalid UTF-8 in key", in: call(`{"` + "\xc3" + `":1}`), err: parseErr("invalid UTF-8")},
		{name: "invalid UTF-8 in result", in: `{"jsonrpc":"2.0","id":1,"result":"` + "a\xe2\x82" + `"}`,
			err: parseErr("invalid UTF-8")},
		{name: "overlong UTF-8", in: call(`{"a":"` + "\xc0\xaf" + `"}`), err: parseErr("invalid UTF-8")},
		{name: "UTF-8 encoded surrogate", in: call(`{"a":"` + "\xed\xa0\x80" + `"}`), err: parseErr("invalid UTF-8")},
		{name: "raw byte between tokens", in: `{"jsonrpc":"2.0",` + "\xff" + `"id":1}`, err: parseErr("byte 0xff")},
		{name: "control character in string", in: call(`{"a":"x` + "\n" + `y"}`), err: parseErr("control character 0x0a")},
		{name: "invalid escape", in: call(`{"a":"\x41"}`), err: parseErr(`invalid escape \x`)},
		{name: "short unicode escape", in: call(`{"a":"\u12"}`), err: parseErr(`invalid \u escape`)},
		{name: "non-hex unicode escape", in: call(`{"a":"\u12G4"}`), err: parseErr(`invalid \u escape`)},
		{name: "unterminated string", in: `{"jsonrpc":"2.0","id":1,"method":"ping`, err: parseErr("unterminated string")},
		{name: "unterminated object", in: `{"jsonrpc":"2.0","id":1`, err: parseErr("found end of input")},
		{name: "unterminated array", in: `{"jsonrpc":"2.0","id":1,"method":"x","params":[1`, err: parseErr("found end of input")},
		{name: "leading zero", in: req("01", `"ping"`, ""), err: parseErr("expected ',' or '}'")},
		{name: "bare decimal point", in: req("1.", `"ping"`, ""), err: parseErr("after the decimal point")},
		{name: "leading decimal point", in: req(".5", `"ping"`, ""), err: parseErr("expected a JSON value")},
		{name: "lone minus", in: req("-", `"ping"`, ""), err: parseErr("where a digit belongs")},
		{name: "empty exponent", in: req("1e", `"ping"`, ""), err: parseErr("in the exponent")},
		{name: "plus sign", in: req("+1", `"ping"`, ""), err: parseErr("expected a JSON value")},
		{name: "NaN", in: call(`{"a":NaN}`), err: parseErr("expected a JSON value")},
		{name: "hex number", in: call(`{"a":0x10}`), err: parseErr("expected ',' or '}'")},
		{name: "bad literal", in: call(`{"a":tru}`), err: parseErr("expected true")},
		{name: "capitalised literal", in: call(`{"a":True}`), err: parseErr("expected a JSON value")},
		{name: "single quotes", in: `{'jsonrpc':'2.0'}`, err: parseErr("expected a string object key")},
		{name: "comment", in: `{"jsonrpc":"2.0", /* c */ "id":1,"method":"ping"}`, err: parseErr("expected a string object key")},
		{name: "missing colon", in: `{"jsonrpc" "2.0"}`, err: parseErr("expected ':'")},
		{name: "missing comma", in: `{"jsonrpc":"2.0" "id":1}`, err: parseErr("expected ',' or '}'")},
		{name: "syntax error wins over an earlier rule violation", in: `{"jsonrpc":"1.0","id":1,"method":"ping","a":}`,
			err: parseErr("expected a JSON value")},
		{name: "garbage deep in a result", in: `{"jsonrpc":"2.0","id":1,"result":{"a":[{"b":[1,2,}]}]}}`,
			err: parseErr("expected a JSON value")},

		// ---- not a message ----
		{name: "batch", in: `[` + req("1", `"ping"`, "") + `]`, err: &wantErr{Code: CodeInvalidRequest, Msg: "JSON array (a batch)", Offset: 0}},
		{name: "empty batch", in: ` []`, err: &wantErr{Code: CodeInvalidRequest, Msg: "JSON array (a batch)", Offset: 1}},
		{name: "broken batch is a parse error", in: `[{"jsonrpc":"2.0"`, err: parseErr("found end of input")},
		{name: "string", in: `"ping"`, err: invalidReq("not a JSON object")},
		{name: "number", in: `1`, err: invalidReq("not a JSON object")},
		{name: "null", in: `null`, err: invalidReq("not a JSON object")},

		// ---- envelope rules ----
		{name: "missing jsonrpc", in: `{"id":1,"method":"ping"}`, err: &wantErr{Code: CodeInvalidRequest, Msg: `missing "jsonrpc":"2.0"`, Offset: any2, ID: "1"}},
		{name: "jsonrpc 1.0", in: `{"jsonrpc":"1.0","id":1,"method":"ping"}`, err: &wantErr{Code: CodeInvalidRequest, Msg: `"jsonrpc" must be the string "2.0"`, Offset: 11, ID: "1"}},
		{name: "jsonrpc number", in: `{"jsonrpc":2.0,"id":1,"method":"ping"}`, err: invalidReq(`"jsonrpc" must be the string "2.0"`)},
		{name: "jsonrpc with spaces", in: `{"jsonrpc":"2.0 ","id":1,"method":"ping"}`, err: invalidReq(`"jsonrpc" must be the string "2.0"`)},
		{name: "method number", in: req("1", `5`, ""), err: &wantErr{Code: CodeInvalidRequest, Msg: `"method" must be a string`, Offset: any2, ID: "1"}},
		{name: "method empty", in: req("1", `""`, ""), err: invalidReq(`"method" must not be empty`)},
		{name: "request id null", in: req("null", `"ping"`, ""), err: invalidReq(`request "id" must be a string or a number, not null`)},
		{name: "id object", in: req(`{"a":1}`, `"ping"`, ""), err: &wantErr{Code: CodeInvalidRequest, Msg: `"id" must be a string or a number`, Offset: 22}},
		{name: "id array", in: req(`[1]`, `"ping"`, ""), err: invalidReq(`"id" must be a string or a number`)},
		{name: "id bool", in: req(`true`, `"ping"`, ""), err: invalidReq(`"id" must be a string or a number`)},
		{name: "result and error", in: `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `either "result" or "error", not both`, Offset: any2, ID: "1"}},
		{name: "neither method result nor error", in: `{"jsonrpc":"2.0","id":1}`, err: invalidReq(`neither "method", "result" nor "error"`)},
		{name: "result with null id", in: `{"jsonrpc":"2.0","id":null,"result":{}}`, err: invalidReq(`result "id" must be a string or a number, not null`)},
		{name: "response without id", in: `{"jsonrpc":"2.0","result":{}}`, err: invalidReq(`a response must carry an "id"`)},
		{name: "error response without id", in: `{"jsonrpc":"2.0","error":{"code":1,"message":"m"}}`, err: invalidReq(`a response must carry an "id"`)},
		{name: "response with params", in: `{"jsonrpc":"2.0","id":1,"result":{},"params":{}}`, err: invalidReq(`must not carry "params"`)},
		{name: "request with result", in: `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, err: invalidReq(`must not carry "result"`)},
		{name: "notification with error", in: `{"jsonrpc":"2.0","method":"x","error":{"code":1,"message":"m"}}`, err: invalidReq(`must not carry "error"`)},
		{name: "error not an object", in: `{"jsonrpc":"2.0","id":1,"error":"boom"}`, err: invalidReq(`"error" must be an object`)},
		{name: "error null", in: `{"jsonrpc":"2.0","id":1,"result":{},"error":null}`, err: invalidReq(`"error" must be an object`)},
		{name: "error without code", in: `{"jsonrpc":"2.0","id":1,"error":{"message":"m"}}`, err: invalidReq(`"error" has no "code"`)},
		{name: "error without message", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1}}`, err: invalidReq(`"error" has no "message"`)},
		{name: "error code fraction", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}`, err: invalidReq(`"error.code" must be an integer`)},
		{name: "error code exponent", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1e3,"message":"m"}}`, err: invalidReq(`"error.code" must be an integer`)},
		{name: "error code string", in: `{"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"m"}}`, err: invalidReq(`"error.code" must be an integer`)},
		{name: "error code overflow", in: `{"jsonrpc":"2.0","id":1,"error":{"code":9223372036854775808,"message":"m"}}`, err: invalidReq(`fits in 64 bits`)},
		{name: "error message number", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":1}}`, err: invalidReq(`"error.message" must be a string`)},
		{name: "params string", in: req("1", `"x"`, `"a"`), err: invalidReq(`"params" must be an object or an array`)},
		{name: "params null", in: req("1", `"x"`, `null`), err: invalidReq(`"params" must be an object or an array`)},
		{name: "meta not an object", in: req("1", `"x"`, `{"_meta":[]}`), err: invalidReq(`"params._meta" must be an object`)},
		{name: "arguments array", in: call(`["rm -rf /"]`), err: invalidReq(`"params.arguments" must be an object`)},
		{name: "arguments string", in: call(`"{}"`), err: invalidReq(`"params.arguments" must be an object`)},

		// ---- duplicate keys ----
		{name: "duplicate method", in: `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `duplicate key "method" in the message`, Offset: 46, ID: "1"}},
		{name: "duplicate id leaves ID unset", in: `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `duplicate key "id" in the message`, Offset: 24}},
		{name: "duplicate via escape", in: req("1", `"tools/call"`, `{"name":"safe","n\u0061me":"rm"}`),
			err: &wantErr{Code: CodeInvalidRequest, Msg: `duplicate key "name" in params`, Offset: 70, ID: "1"}},
		{name: "duplicate argument", in: call(`{"path":"/tmp","path":"/etc"}`), err: invalidReq(`duplicate key "path" in params.arguments`)},
		{name: "duplicate in meta", in: req("1", `"x"`, `{"_meta":{"progressToken":1,"progressToken":2}}`), err: invalidReq(`duplicate key "progressToken" in params._meta`)},
		{name: "duplicate deep in arguments", in: call(`{"a":` + nest(`[{"b":`, `}]`, 40, `{"c":1,"c":2}`) + `}`),
			err: invalidReq(`duplicate key "c" in params.arguments.a[0].b[0].b…[0].b[0].b[0].b[0].b`)},
		{name: "duplicate deep in result", in: `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"a","type":"image"}]}}`,
			err: invalidReq(`duplicate key "type" in result.content[0]`)},
		{name: "duplicate in error data", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":{"a":1,"a":1}}}`,
			err: invalidReq(`duplicate key "a" in error.data`)},
		{name: "duplicate in params array", in: req("1", `"x"`, `[{"a":1},{"b":1,"b":2}]`), err: invalidReq(`duplicate key "b" in params[1]`)},
		{name: "duplicate in unknown envelope member", in: `{"jsonrpc":"2.0","id":1,"method":"ping","x":{"y":1,"y":1}}`, err: invalidReq(`duplicate key "y" in x`)},
		{name: "duplicate empty key", in: call(`{"":1,"":2}`), err: invalidReq(`duplicate key "" in params.arguments`)},
		{name: "duplicate in large object", in: call(`{` + manyKeys(40, "") + `,"k7":0}`), err: invalidReq(`duplicate key "k7" in params.arguments`)},
		{name: "duplicate in large nested object", in: call(`{"x":{` + manyKeys(100, "") + `,"k99":0}}`), err: invalidReq(`duplicate key "k99" in params.arguments.x`)},
		{name: "duplicate with odd key name in path", in: call(`{"a b":{"c":1,"c":2}}`), err: invalidReq(`duplicate key "c" in params.arguments["a b"]`)},

		// ---- case variants ----
		{name: "Method", in: `{"jsonrpc":"2.0","id":1,"Method":"tools/call"}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `key "Method" differs only in case from "method"`, Offset: 24, ID: "1"}},
		{name: "METHOD beside method", in: `{"jsonrpc":"2.0","id":1,"method":"tools/list","METHOD":"tools/call"}`,
			err: invalidReq(`key "METHOD" differs only in case from "method"`)},
		{name: "ID leaves ID unset", in: `{"jsonrpc":"2.0","id":1,"ID":2,"method":"ping"}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `key "ID" differs only in case from "id"`, Offset: 24}},
		{name: "Params", in: `{"jsonrpc":"2.0","id":1,"method":"x","Params":{}}`, err: invalidReq(`key "Params" differs only in case from "params"`)},
		{name: "JSONRPC", in: `{"JSONRPC":"2.0","jsonrpc":"2.0","id":1,"method":"x"}`, err: invalidReq(`key "JSONRPC" differs only in case from "jsonrpc"`)},
		{name: "Result", in: `{"jsonrpc":"2.0","id":1,"Result":{}}`, err: invalidReq(`key "Result" differs only in case from "result"`)},
		{name: "Error", in: `{"jsonrpc":"2.0","id":1,"result":{},"eRRor":{}}`, err: invalidReq(`key "eRRor" differs only in case from "error"`)},
		{name: "Name in params", in: req("1", `"tools/call"`, `{"name":"read","Name":"delete"}`),
			err: invalidReq(`key "Name" in params differs only in case from "name"`)},
		{name: "URI in params", in: req("1", `"resources/read"`, `{"URI":"file:///etc/shadow"}`),
			err: invalidReq(`key "URI" in params differs only in case from "uri"`)},
		{name: "Arguments in params", in: req("1", `"tools/call"`, `{"name":"t","arguments":{},"Arguments":{"x":1}}`),
			err: invalidReq(`key "Arguments" in params differs only in case from "arguments"`)},
		{name: "_META in params", in: req("1", `"x"`, `{"_META":{}}`), err: invalidReq(`key "_META" in params differs only in case from "_meta"`)},
		{name: "long s in arguments key", in: req("1", `"tools/call"`, `{"name":"t","argument\u017f":{"x":1}}`),
			err: invalidReq(`key "argument\u017f" in params differs only in case from "arguments"`)},
		{name: "raw long s in params key", in: req("1", `"tools/call"`, `{"name":"t","`+"argument\xc5\xbf"+`":{}}`),
			err: invalidReq(`key "argument\u017f" in params differs only in case from "arguments"`)},
		{name: "Kelvin sign in argument names", in: call(`{"k":"safe","\u212a":"evil"}`),
			err: invalidReq(`key "\u212a" in params.arguments differs only in case from "k"`)},
		{name: "raw Kelvin sign in argument names", in: call(`{"` + "\xe2\x84\xaa" + `ey":1,"KEY":2}`),
			err: invalidReq(`key "KEY" in params.arguments differs only in case from "\u212aey"`)},
		{name: "Kelvin sign in meta key", in: req("1", `"x"`, `{"_meta":{"progressto\u212aen":1}}`),
			err: invalidReq(`key "progressto\u212aen" in params._meta differs only in case from "progressToken"`)},
		{name: "protocol version key case", in: req("1", `"x"`, `{"_meta":{"io.modelcontextprotocol/ProtocolVersion":"2025-11-25"}}`),
			err: invalidReq(`differs only in case from "io.modelcontextprotocol/protocolVersion"`)},
		{name: "case variant of unknown envelope member", in: `{"jsonrpc":"2.0","id":1,"method":"x","trace":1,"TRACE":2}`,
			err: invalidReq(`key "TRACE" differs only in case from "trace"`)},
		{name: "case variant of unknown params member", in: req("1", `"x"`, `{"cursor":"a","Cursor":"b"}`),
			err: invalidReq(`key "Cursor" in params differs only in case from "cursor"`)},
		{name: "case variant in error", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"Code":2,"message":"m"}}`,
			err: invalidReq(`key "Code" in error differs only in case from "code"`)},
		{name: "case variant in large arguments object", in: call(`{` + manyKeys(30, "") + `,"K29":0}`),
			err: invalidReq(`key "K29" in params.arguments differs only in case from "k29"`)},

		{name: "NUL in envelope key", in: `{"jsonrpc":"2.0","id":1,"method":"ping","method\u0000x":"evil"}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `key "method\x00x" in the message contains a NUL character`, Offset: 40, ID: "1"}},
		{name: "NUL in argument name", in: call(`{"path\u0000":"/etc"}`), err: invalidReq(`key "path\x00" in params.arguments contains a NUL`)},
		{name: "NUL in a nested key is allowed", in: call(`{"a":{"b\u0000":1}}`),
			want: &view{Kind: KindRequest, ID: "1", Method: "tools/call", Params: `{"name":"t","arguments":{"a":{"b\u0000":1}}}`,
				Name: "t", Arguments: `{"a":{"b\u0000":1}}`}},

		// ---- lone surrogates ----
		{name: "lone high surrogate in key", in: call(`{"\ud800":1}`), err: invalidReq(`\ud800 of a lone UTF-16 surrogate`)},
		{name: "two lone surrogates in keys", in: call(`{"\ud800":1,"\udbff":2}`), err: invalidReq(`lone UTF-16 surrogate`)},
		{name: "lone surrogate in key inside result", in: `{"jsonrpc":"2.0","id":1,"result":{"\udc00":1}}`, err: invalidReq(`lone UTF-16 surrogate`)},
		{name: "lone low surrogate in method", in: req("1", `"tools/call\udc00"`, ""), err: invalidReq(`\udc00 of a lone UTF-16 surrogate`)},
		{name: "lone surrogate in name", in: req("1", `"tools/call"`, `{"name":"x\ud800"}`), err: invalidReq(`lone UTF-16 surrogate`)},
		{name: "lone surrogate deep in arguments", in: call(`{"a":[{"b":"\ud800x"}]}`), err: invalidReq(`lone UTF-16 surrogate`)},
		{name: "lone surrogate in id", in: req(`"\ud800"`, `"ping"`, ""), err: invalidReq(`lone UTF-16 surrogate`)},
		{name: "reversed surrogate pair", in: call(`{"a":"\ude00\ud83d"}`), err: invalidReq(`lone UTF-16 surrogate`)},
		{name: "high surrogate then non-surrogate escape", in: call(`{"a":"\ud83d\u0041"}`), err: invalidReq(`\ud83d of a lone`)},
		{name: "lone surrogate in error message", in: `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"\ud800"}}`, err: invalidReq(`lone UTF-16 surrogate`)},

		// ---- depth ----
		{name: "depth bomb", in: call(`{"a":` + strings.Repeat("[", 100000)),
			err: &wantErr{Code: CodeInvalidRequest, Msg: "nesting deeper than 512 levels", Offset: any2, ID: "1"}},
		{name: "object depth bomb", in: req("1", `"x"`, strings.Repeat(`{"a":`, 100000)), err: invalidReq("nesting deeper than 512")},
		{name: "top-level array depth bomb", in: strings.Repeat("[", 100000), err: invalidReq("nesting deeper than 512")},
		{name: "513 levels", in: req("1", `"x"`, nest("[", "]", 512, "")), err: invalidReq("nesting deeper than 512")},
		{name: "512 levels", in: req("1", `"x"`, nest("[", "]", 511, "")),
			want: &view{Kind: KindRequest, ID: "1", Method: "x", Params: nest("[", "]", 511, "")}},

		// ---- id recovery ----
		{name: "id read after the violation", in: `{"jsonrpc":"2.0","method":"ping","Params":{},"id":"late"}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `key "Params" differs only in case`, Offset: 33, ID: `"late"`}},
		{name: "duplicate id after another violation leaves ID unset", in: `{"jsonrpc":"2.0","Method":"x","id":1,"id":2}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `key "Method" differs only in case from "method"`, Offset: 17}},
		{name: "lone surrogate id after another violation leaves ID unset", in: `{"jsonrpc":"2.0","Method":"x","id":"\ud800"}`,
			err: &wantErr{Code: CodeInvalidRequest, Msg: `key "Method" differs only in case from "method"`, Offset: 17}},
		{name: "parse error after id", in: `{"jsonrpc":"2.0","id":"a1","method":"ping","params":{"x":]}}`,
			err: &wantErr{Code: CodeParseError, Msg: "expected a JSON value, found character ']'", Offset: 57, ID: `"a1"`}},
	}
}

// manyKeys returns n members "k0":0 … "k{n-1}":0, with an optional prefix on each key.
func manyKeys(n int, prefix string) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"` + prefix + "k" + itoa(i) + `":0`)
	}
	return sb.String()
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			m, err := Decode(in)
			if tc.err != nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Decode(%.80q) = %+v, %v; want a *DecodeError", tc.in, m, err)
				}
				got := wantErr{Code: de.Code, Msg: tc.err.Msg, Offset: de.Offset, ID: string(de.ID)}
				if tc.err.Offset == any2 {
					got.Offset = any2
				}
				if tc.err.ID == anyID {
					got.ID = anyID
				}
				if diff := cmp.Diff(*tc.err, got); diff != "" {
					t.Errorf("Decode(%.80q) error mismatch (-want +got):\n%s\nerror: %v", tc.in, diff, err)
				}
				if !strings.Contains(de.Msg, tc.err.Msg) {
					t.Errorf("Decode(%.80q) error %q does not contain %q", tc.in, de.Msg, tc.err.Msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%.80q): %v", tc.in, err)
			}
			if diff := cmp.Diff(*tc.want, viewOf(m)); diff != "" {
				t.Errorf("Decode(%.80q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			trimmed := bytes.Trim(in, " \t\r\n")
			if !bytes.Equal(m.Raw, trimmed) {
				t.Errorf("Raw = %q, want the trimmed input %q", m.Raw, trimmed)
			}
			if len(m.Raw) > 0 && &m.Raw[0] != &in[len(in)-len(bytes.TrimLeft(in, " \t\r\n"))] {
				t.Errorf("Raw is a copy; want a sub-slice of the input")
			}
		})
	}
}

func TestDecodeErrorString(t *testing.T) {
	_, err := Decode([]byte(`{"jsonrpc":"2.0","id":1,"Method":"x"}`))
	want := `invalid JSON-RPC message at byte 24: key "Method" differs only in case from "method"`
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %v, want %q", err, want)
	}
	e := &DecodeError{Code: CodeParseError, Msg: "m", Offset: -1}
	if got, want := e.Error(), "invalid JSON-RPC message: m"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestIsBatch(t *testing.T) {
	for in, want := range map[string]bool{
		`[]`: true, " \n\t\r[{}]": true, `{}`: false, ``: false, `  `: false, `"["`: false, "\xEF\xBB\xBF[]": false,
	} {
		if got := IsBatch([]byte(in)); got != want {
			t.Errorf("IsBatch(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestWithID(t *testing.T) {
	in := " {\"id\" : \"client-7\" ,\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"t\",\"id\":\"not-this\"}}\n"
	m, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := m.WithID(ID("42"))
	want := `{"id" : 42 ,"jsonrpc":"2.0","method":"tools/call","params":{"name":"t","id":"not-this"}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("WithID mismatch (-want +got):\n%s", diff)
	}
	if got := m.WithID(m.ID); !bytes.Equal(got, m.Raw) {
		t.Errorf("WithID(m.ID) = %q, want Raw %q", got, m.Raw)
	}
	m2, err := Decode(got)
	if err != nil {
		t.Fatalf("Decode(WithID output): %v", err)
	}
	wantView := viewOf(m)
	wantView.ID = "42"
	if diff := cmp.Diff(wantView, viewOf(m2)); diff != "" {
		t.Errorf("WithID changed more than the id (-want +got):\n%s", diff)
	}

	n, err := Decode([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("WithID on a notification did not panic")
		}
	}()
	n.WithID(ID("1"))
}

// TestDecodeIndependentResults checks that the pooled decoder state shared by Decode calls never leaks into
// the Messages they return.
func TestDecodeIndependentResults(t *testing.T) {
	a, err := Decode([]byte(call(`{"a":"\u0041"}`)))
	if err != nil {
		t.Fatal(err)
	}
	before := viewOf(a)
	for range 10 {
		if _, err := Decode([]byte(req("2", `"other"`, `{"name":"n\u0041","arguments":{"b":1}}`))); err != nil {
			t.Fatal(err)
		}
		if _, err := Decode([]byte(`{"a":1,"a":2}`)); err == nil {
			t.Fatal("duplicate accepted")
		}
	}
	if diff := cmp.Diff(before, viewOf(a)); diff != "" {
		t.Errorf("later Decode calls changed an earlier Message (-want +got):\n%s", diff)
	}
}

func TestDecodeAllocs(t *testing.T) {
	in := []byte(benchCall)
	if _, err := Decode(in); err != nil {
		t.Fatal(err)
	}
	// The Message and the name string; method is interned. (The race detector adds allocations.)
	if n := testing.AllocsPerRun(100, func() { _, _ = Decode(in) }); n > 2 && !raceEnabled {
		t.Errorf("Decode of a tools/call allocates %v times, want ≤ 2", n)
	}
}

func TestCaseVariantKeys(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{`{"name":"a","description":"b","inputSchema":{"type":"object","properties":{"x":{"type":"string"}}}}`, ""},
		{`[{"a":1},{"a":2},"A",{"b":{"c":[{"d":null}]}}]`, ""},
		{`"x"`, ""},
		{`{"s":"lone \ud800 surrogate in a value"}`, ""},
		{`{"description":"a","Description":"b"}`, `key "Description" in tools item differs only in case from "description"`},
		{`{"x":{"properties":{"p":{"description":"a","de\u017fcription":"b"}}}}`, `key "de\u017fcription" in x.properties.p differs only in case from "description"`},
		{`{"a":[{"k":1,"\u212a":2}]}`, `differs only in case`},
		{`{"a":1,"a":2}`, `duplicate key "a" in tools item`},
		{`{"a\u0000":1}`, `NUL`},
		{`{"a":1} x`, `unexpected`},
		{`{"a":`, `end of input`},
	} {
		err := CaseVariantKeys([]byte(tc.in), "tools item")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("CaseVariantKeys(%s) = %v, want nil", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("CaseVariantKeys(%s) = %v, want an error containing %q", tc.in, err, tc.err)
		}
	}
	// The pooled decoder forgets the mode: a message keeps its nested case variants afterwards.
	if _, err := Decode([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":{"b":1,"B":2}}}}`)); err != nil {
		t.Errorf("Decode after CaseVariantKeys: %v", err)
	}
}
