package destructive

import (
	"encoding/json"
	"testing"
)

// A trusted server's readOnlyHint outranks the guess from the tool's name, never what the arguments hold.
func TestTrustedReadOnlyHint(t *testing.T) {
	ro := json.RawMessage(`{"readOnlyHint":true}`)
	for _, tc := range []struct {
		name    string
		trusted bool
		args    string
		want    bool
	}{
		{"untrusted hint, destructive name", false, `{}`, true},
		{"trusted hint, destructive name", true, `{}`, false},
		{"trusted hint, destructive SQL argument", true, `{"query":"DROP TABLE users"}`, true},
		{"trusted hint, rm -rf argument", true, `{"command":"rm -rf /"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(ToolInfo{Name: "purge_cache", Annotations: ro, Trusted: tc.trusted}, json.RawMessage(tc.args), Options{})
			if f.Destructive != tc.want {
				t.Errorf("Destructive = %v, want %v (reasons %v)", f.Destructive, tc.want, f.Reasons)
			}
		})
	}
}
