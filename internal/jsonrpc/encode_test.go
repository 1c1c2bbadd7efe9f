package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncoders(t *testing.T) {
	type toolArgs struct {
		Path string `json:"path"`
		N    int    `json:"n,omitempty"`
	}
	var nilMap map[string]any
	tests := []struct {
		name    string
		encode  func() ([]byte, error)
		want    string // exact output; "" when an error is expected
		wantErr string
	}{
		{name: "request with raw params",
			encode: func() ([]byte, error) {
				return NewRequest(ID("1"), "tools/call", json.RawMessage("{\n  \"name\": \"t\",\n  \"arguments\": {\"q\": \"<a&b>\"}\n}"))
			},
			want: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"q":"<a&b>"}}}`},
		{name: "request with struct params",
			encode: func() ([]byte, error) {
				return NewRequest(StringID("gw-1"), "tools/call", map[string]any{"name": "t", "arguments": toolArgs{Path: "/x"}})
			},
			want: `{"jsonrpc":"2.0","id":"gw-1","method":"tools/call","params":{"arguments":{"path":"/x"},"name":"t"}}`},
		{name: "request without params",
			encode: func() ([]byte, error) { return NewRequest(ID("-3"), "ping", nil) },
			want:   `{"jsonrpc":"2.0","id":-3,"method":"ping"}`},
		{name: "params encoding to null are left out",
			encode: func() ([]byte, error) { return NewRequest(ID("2"), "ping", nilMap) },
			want:   `{"jsonrpc":"2.0","id":2,"method":"ping"}`},
		{name: "array params",
			encode: func() ([]byte, error) { return NewRequest(ID("2"), "sum", []int{1, 2}) },
			want:   `{"jsonrpc":"2.0","id":2,"method":"sum","params":[1,2]}`},
		{name: "method with quotes and newline",
			encode: func() ([]byte, error) { return NewRequest(ID("2"), "a\"b\nc", nil) },
			want:   `{"jsonrpc":"2.0","id":2,"method":"a\"b\nc"}`},
		{name: "request without id",
			encode: func() ([]byte, error) { return NewRequest(nil, "ping", nil) }, wantErr: "missing id"},
		{name: "request with null id",
			encode: func() ([]byte, error) { return NewRequest(ID("null"), "ping", nil) }, wantErr: "not a JSON string or number"},
		{name: "request with object id",
			encode: func() ([]byte, error) { return NewRequest(ID(`{"a":1}`), "ping", nil) }, wantErr: "not a JSON string or number"},
		{name: "request with two ids",
			encode: func() ([]byte, error) { return NewRequest(ID(`1,"id":2`), "ping", nil) }, wantErr: "not a JSON string or number"},
		{name: "request with empty method",
			encode: func() ([]byte, error) { return NewRequest(ID("1"), "", nil) }, wantErr: "empty method"},
		{name: "scalar params",
			encode: func() ([]byte, error) { return NewRequest(ID("1"), "x", "str") }, wantErr: "must be an object or an array"},
		{name: "invalid raw params",
			encode: func() ([]byte, error) { return NewRequest(ID("1"), "x", json.RawMessage(`{"a":`)) }, wantErr: "raw JSON value"},
		{name: "raw params with duplicate keys",
			encode:  func() ([]byte, error) { return NewRequest(ID("1"), "x", json.RawMessage(`{"a":1,"a":2}`)) },
			wantErr: `duplicate key "a" in params`},
		{name: "raw params with invalid UTF-8",
			encode:  func() ([]byte, error) { return NewRequest(ID("1"), "x", json.RawMessage("{\"a\":\"\xff\"}")) },
			wantErr: "invalid UTF-8"},
		{name: "unencodable params",
			encode:  func() ([]byte, error) { return NewRequest(ID("1"), "x", map[string]any{"c": make(chan int)}) },
			wantErr: `encoding params of "x"`},
		{name: "notification",
			encode: func() ([]byte, error) {
				return NewNotification("notifications/progress", map[string]any{"progressToken": 1, "progress": 0.5})
			},
			want: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":0.5,"progressToken":1}}`},
		{name: "notification without method",
			encode: func() ([]byte, error) { return NewNotification("", nil) }, wantErr: "empty method"},
		{name: "result",
			encode: func() ([]byte, error) { return NewResult(StringID("a1"), map[string]any{"tools": []any{}}) },
			want:   `{"jsonrpc":"2.0","id":"a1","result":{"tools":[]}}`},
		{name: "nil result",
			encode: func() ([]byte, error) { return NewResult(ID("9"), nil) },
			want:   `{"jsonrpc":"2.0","id":9,"result":{}}`},
		{name: "raw result kept",
			encode: func() ([]byte, error) { return NewResult(ID("9"), json.RawMessage(` {"text": "<b>\u00e9</b>"} `)) },
			want:   `{"jsonrpc":"2.0","id":9,"result":{"text":"<b>\u00e9</b>"}}`},
		{name: "result without id",
			encode: func() ([]byte, error) { return NewResult(nil, nil) }, wantErr: "missing id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.encode()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if _, err := Decode(got); err != nil {
				t.Errorf("Decode(output): %v", err)
			}
		})
	}
}

func TestNewErrorResponse(t *testing.T) {
	tests := []struct {
		name    string
		id      ID
		code    int64
		message string
		data    any
		want    string
	}{
		{name: "with id", id: StringID("a1"), code: CodePolicyDenied, message: "denied by rule \"no-rm\"",
			want: `{"jsonrpc":"2.0","id":"a1","error":{"code":-32082,"message":"denied by rule \"no-rm\""}}`},
		{name: "nil id is null", code: CodeParseError, message: "parse error",
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`},
		{name: "invalid id is null", id: ID(`{"x":1}`), code: CodeInvalidRequest, message: "m",
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}`},
		{name: "garbage id is null", id: ID(`1,"id":2`), code: CodeInvalidRequest, message: "m",
			want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}`},
		{name: "data", id: ID("4"), code: CodeApprovalRequired, message: "ask", data: map[string]string{"approval": "ap-1"},
			want: `{"jsonrpc":"2.0","id":4,"error":{"code":-32084,"message":"ask","data":{"approval":"ap-1"}}}`},
		{name: "raw data compacted", id: ID("4"), code: 1, message: "m", data: json.RawMessage("[1,\n 2]"),
			want: `{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"m","data":[1,2]}}`},
		{name: "unencodable data left out", id: ID("4"), code: 1, message: "m", data: func() {},
			want: `{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"m"}}`},
		{name: "invalid raw data left out", id: ID("4"), code: 1, message: "m", data: json.RawMessage(`{`),
			want: `{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"m"}}`},
		{name: "raw data with duplicate keys left out", id: ID("4"), code: 1, message: "m", data: json.RawMessage(`{"a":1,"a":2}`),
			want: `{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"m"}}`},
		{name: "control characters and invalid UTF-8 in message", id: ID("4"), code: 1, message: "a\x00b\nc\xffd",
			want: `{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"a\u0000b\nc\ufffdd"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewErrorResponse(tc.id, tc.code, tc.message, tc.data)
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			m, err := Decode(got)
			if err != nil {
				t.Fatalf("Decode(output): %v", err)
			}
			if m.Kind != KindError || m.Error.Code != tc.code {
				t.Errorf("decoded %v code %d, want error code %d", m.Kind, m.Error.Code, tc.code)
			}
			if bytes.ContainsAny(got, "\r\n") {
				t.Errorf("output spans lines")
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	b, err := NewRequest(StringID("r-1"), "tools/call", map[string]any{
		"name":      "search",
		"arguments": map[string]any{"q": "x"},
		"_meta":     map[string]any{"progressToken": "pt", MetaProtocolVersionKey: "2026-07-28"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := view{Kind: KindRequest, ID: `"r-1"`, Method: "tools/call",
		Params:    `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"pt"},"arguments":{"q":"x"},"name":"search"}`,
		Name:      "search",
		Arguments: `{"q":"x"}`, Meta: `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"pt"}`,
		ProtocolVersion: "2026-07-28", ProgressToken: `"pt"`}
	if diff := cmp.Diff(want, viewOf(m)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestIDKey(t *testing.T) {
	same := [][]string{
		{`"a"`, `"\u0061"`, `"\u0061"`},
		{`"req-é"`, `"req-\u00e9"`, `"req-\u00E9"`},
		{`1`, `1.0`, `1e0`, `10E-1`, `1.5`, `1.999`},
		{`-3`, `-3.0`, `-3.2`},
		{`0`, `-0`, `0.5`, `-0.5`},
		{`123456789012345678901234567890`, `1e30`, `9223372036854775808`},
		{`-1e400`, `-9223372036854775809`},
	}
	for _, group := range same {
		for _, id := range group[1:] {
			if ID(id).Key() != ID(group[0]).Key() {
				t.Errorf("Key(%s) = %q, Key(%s) = %q: want one key", id, ID(id).Key(), group[0], ID(group[0]).Key())
			}
		}
	}
	distinct := []string{`"a"`, `"A"`, `"1"`, `1`, `2`, `-1`, `"n1"`, `"s1"`, `1e30`, `-1e30`, `""`}
	seen := map[string]string{}
	for _, id := range distinct {
		k := ID(id).Key()
		if prev, dup := seen[k]; dup {
			t.Errorf("Key(%s) = Key(%s) = %q: want different keys", id, prev, k)
		}
		seen[k] = id
	}
}
