package policy

import (
	"encoding/json"
	"testing"
)

// FuzzCompile: any policy text either compiles or fails with an error; a compiled policy evaluates any
// input without panicking.
func FuzzCompile(f *testing.F) {
	f.Add(string(DefaultPolicy()), "sql", `{"query":"DROP TABLE t"}`)
	f.Add(matrixPolicy, "echo", `{"text":"x"}`)
	f.Add("rules:\n  - {id: a, tools: ['*'], effect: deny, when: 'args.x[0] > 1'}\n", "x", `{"x":[2]}`)
	f.Add("rules: [{id: l, effect: limit, limit: {count: 1, per: 1s}}]\n", "y", `[]`)
	f.Add("default: ask\nrules:\n - {effect: redact, redact: ['a+']}\n", "z", `null`)
	f.Fuzz(func(t *testing.T, src, tool, args string) {
		p, err := Compile("fuzz.yaml", []byte(src), Options{})
		if err != nil {
			return
		}
		for _, m := range []string{"tools/call", "prompts/get", "resources/read", "ping"} {
			in := &Input{Method: m, Name: tool, Arguments: json.RawMessage(args), Meta: json.RawMessage(args)}
			d := p.Evaluate(in)
			switch d.Effect {
			case Allow, Deny, Ask:
			default:
				t.Fatalf("Evaluate gave effect %q", d.Effect)
			}
			_ = p.Visible(in)
		}
		_ = Lint(p)
	})
}

// FuzzCanonical: canonicalisation is idempotent, and a name always matches itself as a pattern.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"delete_file", "DELETE", "dеlеtе", "ｄｅｌ", "a\u200bb", "*", "a?b", "ﬁ", "\U000E0041x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Canonical(s)
		if Canonical(c) != c {
			t.Fatalf("Canonical not idempotent: %q → %q → %q", s, c, Canonical(c))
		}
		if !globMatch(c, c) && !containsWildcard(c) {
			t.Fatalf("%q does not match itself", c)
		}
		if !globMatch("*", c) {
			t.Fatalf("* does not match %q", c)
		}
	})
}

func containsWildcard(s string) bool {
	for _, r := range s {
		if r == '*' || r == '?' {
			return true
		}
	}
	return false
}
