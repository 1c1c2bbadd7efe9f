package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	for _, tc := range []struct {
		name    string
		in      string
		max     int
		want    []string
		tooLong int
	}{
		{"lines", "a\nb\n", 10, []string{"a", "b"}, 0},
		{"no final newline", "a\nb", 10, []string{"a", "b"}, 0},
		{"blank and CRLF", "\n  \r\na\r\n\n", 10, []string{"a"}, 0},
		{"over max", "short\n" + strings.Repeat("y", 11) + "\nok\n", 10, []string{"short", "ok"}, 1},
		{"longer than buffer, allowed", long + "\nz\n", 300 << 10, []string{long, "z"}, 0},
		{"longer than buffer, too long", long + "\nz\n", 100 << 10, []string{"z"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			n := 0
			err := ReadLines(strings.NewReader(tc.in), tc.max, func(l []byte) bool { got = append(got, string(l)); return true }, func() { n++ })
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if n != tc.tooLong {
				t.Errorf("tooLong called %d times, want %d", n, tc.tooLong)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
		{"{\"jsonrpc\":\"2.0\",\r\n\"id\":1,\r\"method\":\"ping\"\n}", `{"jsonrpc":"2.0",  "id":1, "method":"ping" }`},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"s\":\"a\u2028b\u2029c\u0085d — é\"}}",
			`{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"a\u2028b\u2029c\u0085d — é"}}`},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"\u2028\":1}}", `{"jsonrpc":"2.0","id":1,"method":"x","params":{"\u2028":1}}`},
	} {
		m, err := Decode([]byte(tc.in))
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		before := string(m.Raw)
		got := OneLine(m.Raw)
		if string(got) != tc.want {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if string(m.Raw) != before {
			t.Errorf("OneLine modified its input")
		}
		if got, want := oneLineView(t, got), oneLineView(t, m.Raw); !cmp.Equal(got, want) {
			t.Errorf("OneLine(%q) changed the message (-want +got):\n%s", tc.in, cmp.Diff(want, got))
		}
	}
}

// oneLineView is what a message means, whatever its bytes: its decoded fields and its JSON value.
func oneLineView(t *testing.T, b []byte) []any {
	t.Helper()
	m, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(%q): %v", b, err)
	}
	var v any
	if err := unmarshalNumber(b, &v); err != nil {
		t.Fatal(err)
	}
	canon, err := json.Marshal(v) // map keys sorted, strings re-escaped: the same for equal values
	if err != nil {
		t.Fatal(err)
	}
	return []any{m.Kind, m.Method, m.Name, string(m.ID), string(canon)}
}
