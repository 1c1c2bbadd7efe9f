package policy

import (
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	p, err := Compile("l.yaml", []byte(`
rules:
  - {id: a, tools: [x], effect: deny}
  - {id: b, tools: [x], effect: allow}
  - {id: c, annotations: {readOnlyHint: true}, effect: allow}
  - {id: all, effect: ask}
  - {id: dead, tools: [y], effect: allow}
  - {id: ping, methods: [ping], effect: deny}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Lint(p), "\n")
	for _, want := range []string{
		`l.yaml:4: rule "b" is never reached: rule "a" (line 3) already decides "x"`,
		`l.yaml:5: rule "c" allows on annotations`,
		`l.yaml:7: rule "dead" is never reached: rule "all" (line 6) decides every call before it`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lint output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"ping"`) {
		t.Errorf("a rule for an explicit method is reachable:\n%s", got)
	}
	def, err := Compile("default", DefaultPolicy(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w := Lint(def); len(w) > 0 {
		t.Errorf("the shipped default policy has lint warnings:\n%s", strings.Join(w, "\n"))
	}
}
