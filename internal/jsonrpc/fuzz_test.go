package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode checks Decode against encoding/json, the library many MCP servers decode the same bytes with:
// whatever Decode accepts, encoding/json must read as the same method, id, params.name/uri, arguments and _meta,
// both into a map (exact keys) and into structs (case-insensitive keys); no two keys policy reads may be equal
// under case folding; WithID must change only the id. Rejections must be *DecodeError with a sane offset, and a
// parse error only for bytes that are not valid UTF-8 JSON.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases() {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(benchCall))
	f.Add([]byte(benchResult()))
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		m, err := Decode(b)
		if !bytes.Equal(b, orig) {
			t.Fatalf("Decode modified its input")
		}
		if err != nil {
			checkRejection(t, b, err)
			return
		}
		checkAccepted(t, b, m)
	})
}

func checkRejection(t *testing.T, b []byte, err error) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Decode(%q) error %v is not a *DecodeError", b, err)
	}
	if de.Code != CodeParseError && de.Code != CodeInvalidRequest {
		t.Fatalf("Decode(%q) error code %d", b, de.Code)
	}
	if de.Offset < 0 || de.Offset > len(b) {
		t.Fatalf("Decode(%q) error offset %d outside the input", b, de.Offset)
	}
	if de.Msg == "" {
		t.Fatalf("Decode(%q) error without message", b)
	}
	if de.Code == CodeParseError && json.Valid(b) && utf8.Valid(b) {
		t.Fatalf("Decode(%q) = parse error %q for valid UTF-8 JSON", b, de.Msg)
	}
	if de.ID != nil {
		if err := checkID(de.ID); err != nil {
			t.Fatalf("Decode(%q) error carries id %q: %v", b, de.ID, err)
		}
		if !bytes.Contains(b, de.ID) {
			t.Fatalf("Decode(%q) error carries id %q, which is not in the input", b, de.ID)
		}
	}
}

// server mirrors how a Go MCP server built on encoding/json reads a message: struct fields, matched
// case-insensitively, last duplicate wins.
type server struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   *WireError      `json:"error"`
}

type serverParams struct {
	Name      json.RawMessage `json:"name"`
	URI       json.RawMessage `json:"uri"`
	Arguments json.RawMessage `json:"arguments"`
	Meta      *struct {
		ProgressToken   json.RawMessage `json:"progressToken"`
		ProtocolVersion json.RawMessage `json:"io.modelcontextprotocol/protocolVersion"`
	} `json:"_meta"`
}

func checkAccepted(t *testing.T, b []byte, m *Message) {
	t.Helper()
	if !json.Valid(b) || !utf8.Valid(b) {
		t.Fatalf("Decode accepted %q, which is not valid UTF-8 JSON", b)
	}
	if !bytes.Equal(m.Raw, bytes.Trim(b, " \t\r\n")) {
		t.Fatalf("Raw = %q, want the trimmed input", m.Raw)
	}
	if m.Kind == KindInvalid {
		t.Fatalf("Decode(%q) accepted with KindInvalid", b)
	}
	if ol := OneLine(m.Raw); lineBreakAt(ol) >= 0 {
		t.Fatalf("OneLine(%q) = %q still holds a line break", m.Raw, ol)
	} else if !cmp.Equal(oneLineView(t, ol), oneLineView(t, m.Raw)) {
		t.Fatalf("OneLine(%q) = %q means something else", m.Raw, ol)
	}

	// Exact-key view (map), numbers kept as text.
	var env map[string]any
	if err := unmarshalNumber(b, &env); err != nil {
		t.Fatalf("encoding/json cannot read accepted %q: %v", b, err)
	}
	if s, ok := env["method"].(string); m.Kind == KindRequest || m.Kind == KindNotification {
		if !ok || s != m.Method {
			t.Fatalf("%q: method: gateway %q, encoding/json %v", b, m.Method, env["method"])
		}
	} else if _, has := env["method"]; has {
		t.Fatalf("%q: response has a method", b)
	}
	if m.ID != nil {
		if got, want := normalize(t, m.ID), marshal(t, env["id"]); got != want {
			t.Fatalf("%q: id: gateway %s, encoding/json %s", b, got, want)
		}
	} else if v, has := env["id"]; has && v != nil {
		t.Fatalf("%q: gateway saw no id, encoding/json %v", b, v)
	}
	checkNoFoldPairs(t, b, "envelope", env, "jsonrpc", "id", "method", "params", "result", "error")

	// Case-insensitive view (structs), as a typical Go server decodes.
	var srv server
	if err := json.Unmarshal(b, &srv); err != nil {
		t.Fatalf("encoding/json cannot read accepted %q into a struct: %v", b, err)
	}
	if srv.Method != m.Method || srv.JSONRPC != "2.0" {
		t.Fatalf("%q: struct view method %q jsonrpc %q, gateway method %q", b, srv.Method, srv.JSONRPC, m.Method)
	}
	if m.ID != nil && !bytes.Equal(srv.ID, m.ID) {
		t.Fatalf("%q: struct view id %s, gateway %s", b, srv.ID, m.ID)
	}
	if !bytes.Equal(srv.Params, m.Params) || !bytes.Equal(srv.Result, m.Result) {
		t.Fatalf("%q: struct view params/result %s / %s, gateway %s / %s", b, srv.Params, srv.Result, m.Params, m.Result)
	}
	if m.Kind == KindError {
		if diff := cmp.Diff(srv.Error, m.Error); diff != "" {
			t.Fatalf("%q: error differs (-encoding/json +gateway):\n%s", b, diff)
		}
	}

	if params, ok := env["params"].(map[string]any); ok {
		checkParams(t, b, m, params, srv.Params)
	} else if m.Name != "" || m.Arguments != nil || m.Meta != nil {
		t.Fatalf("%q: gateway read params fields from non-object params", b)
	}

	if m.ID != nil {
		if got := m.WithID(m.ID); !bytes.Equal(got, m.Raw) {
			t.Fatalf("WithID(own id) = %q, want %q", got, m.Raw)
		}
		for _, id := range []ID{ID(`"gw-1"`), ID(`123456789`)} {
			out := m.WithID(id)
			m2, err := Decode(out)
			if err != nil {
				t.Fatalf("Decode(WithID(%s) of %q) = %v", id, b, err)
			}
			want := viewOf(m)
			want.ID = string(id)
			if diff := cmp.Diff(want, viewOf(m2)); diff != "" {
				t.Fatalf("WithID(%s) of %q changed more than the id (-want +got):\n%s", id, b, diff)
			}
		}
	}
}

func checkParams(t *testing.T, b []byte, m *Message, params map[string]any, raw json.RawMessage) {
	t.Helper()
	// The member the method's server acts on: uri for resources/*, name for tools/call and prompts/get,
	// else name, or uri when there is no string name.
	wantName, field := "", "name"
	name, nameOK := params["name"].(string)
	uri, uriOK := params["uri"].(string)
	switch {
	case strings.HasPrefix(m.Method, "resources/"):
		wantName, field = uri, "uri"
	case m.Method == "tools/call" || m.Method == "prompts/get" || nameOK:
		wantName = name
	case uriOK:
		wantName, field = uri, "uri"
	}
	if m.Name != wantName {
		t.Fatalf("%q: name: gateway %q, encoding/json %q", b, m.Name, wantName)
	}
	checkNoFoldPairs(t, b, "params", params, "name", "uri", "arguments", "_meta")

	var sp serverParams
	if err := json.Unmarshal(raw, &sp); err != nil {
		t.Fatalf("%q: encoding/json cannot read params into a struct: %v", b, err)
	}
	member := sp.Name
	if field == "uri" {
		member = sp.URI
	}
	if name := unquote(member); name != nil && *name != m.Name {
		t.Fatalf("%q: struct view %s %q, gateway %q", b, field, *name, m.Name)
	}
	if !bytes.Equal(sp.Arguments, m.Arguments) {
		t.Fatalf("%q: struct view arguments %s, gateway %s", b, sp.Arguments, m.Arguments)
	}
	if args, ok := params["arguments"].(map[string]any); ok {
		checkNoFoldPairs(t, b, "arguments", args)
		var gw any
		if err := unmarshalNumber(m.Arguments, &gw); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(any(args), gw); diff != "" {
			t.Fatalf("%q: arguments differ (-encoding/json +gateway):\n%s", b, diff)
		}
	}
	if meta, ok := params["_meta"].(map[string]any); ok {
		checkNoFoldPairs(t, b, "_meta", meta, "progressToken", MetaProtocolVersionKey)
		if v, has := meta["progressToken"]; has != (m.ProgressToken != nil) || has && normalize(t, m.ProgressToken) != marshal(t, v) {
			t.Fatalf("%q: progressToken: gateway %s, encoding/json %v", b, m.ProgressToken, v)
		}
		if s, _ := meta[MetaProtocolVersionKey].(string); s != m.ProtocolVersion {
			t.Fatalf("%q: protocol version: gateway %q, encoding/json %q", b, m.ProtocolVersion, s)
		}
		if sp.Meta == nil || !bytes.Equal(sp.Meta.ProgressToken, m.ProgressToken) {
			t.Fatalf("%q: struct view progressToken differs from gateway %s", b, m.ProgressToken)
		}
	}
}

// checkNoFoldPairs fails if two keys of obj, or a key and one of names, are equal under case folding without
// being identical.
func checkNoFoldPairs(t *testing.T, b []byte, where string, obj map[string]any, names ...string) {
	t.Helper()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	for i, k := range keys {
		for _, k2 := range append(keys[i+1:], names...) {
			if k != k2 && strings.EqualFold(k, k2) {
				t.Fatalf("%q: %s keys %q and %q are equal under case folding", b, where, k, k2)
			}
		}
	}
}

func unmarshalNumber(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// normalize re-encodes raw JSON so that equal values compare equal as text.
func normalize(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := unmarshalNumber(raw, &v); err != nil {
		t.Fatalf("normalize %q: %v", raw, err)
	}
	return marshal(t, v)
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return string(b)
}

func unquote(raw json.RawMessage) *string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return &s
}

// FuzzNewErrorResponse checks that NewErrorResponse always produces one line that Decode accepts, whatever
// the id, message and data.
func FuzzNewErrorResponse(f *testing.F) {
	f.Add([]byte(`"a1"`), int64(-32600), "bad request", []byte(`{"k":"v"}`))
	f.Add([]byte(`7`), int64(0), "line\nbreak \x00 \xff <tag> & \u2028", []byte(`{"a":1,"a":2}`))
	f.Add([]byte(`null`), int64(-9223372036854775808), "", []byte("\"\\ud800\""))
	f.Add([]byte(`{}`), int64(1), "m", []byte("[1,\n2]"))
	f.Add([]byte(nil), int64(1), "m", []byte(nil))
	f.Fuzz(func(t *testing.T, id []byte, code int64, message string, data []byte) {
		var d any
		if data != nil {
			d = json.RawMessage(data)
		}
		out := NewErrorResponse(ID(id), code, message, d)
		if bytes.ContainsAny(out, "\r\n") {
			t.Fatalf("NewErrorResponse output spans lines: %q", out)
		}
		m, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(NewErrorResponse(%q, %d, %q, %q)) = %v; output %q", id, code, message, data, err, out)
		}
		if m.Kind != KindError || m.Error.Code != code {
			t.Fatalf("NewErrorResponse output %q decodes as %v code %d", out, m.Kind, m.Error.Code)
		}
		if utf8.ValidString(message) && m.Error.Message != message {
			t.Fatalf("message %q came back as %q", message, m.Error.Message)
		}
		if checkID(ID(id)) == nil && string(m.ID) != string(id) {
			t.Fatalf("id %q came back as %q", id, m.ID)
		}
	})
}
