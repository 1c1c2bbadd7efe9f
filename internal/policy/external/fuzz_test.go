package external

import (
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// FuzzParseAnswer: any bytes from a decision point give a valid effect or an error, never a panic.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{`{"result": true}`, `{"result": {"effect": "ask"}}`, `{}`, `{"effect": "deny", "message": "x"}`, `[1]`, `null`, `{"result": null}`} {
		f.Add("opa", []byte(s))
		f.Add("webhook", []byte(s))
	}
	f.Fuzz(func(t *testing.T, kind string, b []byte) {
		a, err := parseAnswer(kind, b)
		if err != nil {
			return
		}
		switch a.Effect {
		case policy.Allow, policy.Deny, policy.Ask:
		default:
			t.Fatalf("parseAnswer(%q) = effect %q without an error", b, a.Effect)
		}
	})
}
