package approval

import (
	"encoding/json"
	"testing"
)

// FuzzArgsHash: arguments come from agents. Hashing never panics, and equal JSON values hash equally
// whatever their formatting.
func FuzzArgsHash(f *testing.F) {
	for _, s := range []string{`{"query":"DROP TABLE t"}`, `{ "b":[1, 2.50], "a":{"x":null} }`, `12345678901234567890`, `"x"`, `{`, ``, `[{"a":"\u0000"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h := ArgsHash(json.RawMessage(b))
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		var indented []byte
		var err error
		if indented, err = json.MarshalIndent(json.RawMessage(b), "", "  "); err != nil {
			return
		}
		if got := ArgsHash(indented); got != h {
			t.Errorf("ArgsHash(%q) = %s, but the same value indented hashes to %s", b, h, got)
		}
	})
}
