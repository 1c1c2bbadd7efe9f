package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/config"
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

func TestLintApproval(t *testing.T) {
	src := []byte(`
rules:
  - {id: ask-drop, tools: [sql], effect: ask}
  - {id: deny-rm, tools: [rm], effect: deny}
`)
	p, err := Compile("p.yaml", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	askDefault, err := Compile("ask.yaml", []byte("default: ask\nrules:\n  - {id: deny-rm, tools: [rm], effect: deny}\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	withExternal, err := Compile("ext.yaml", append([]byte("external: {kind: webhook, url: \"http://127.0.0.1:9/x\"}\n"), src...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const never = "so its approval settings (four_eyes, approvers, timeout, self_approve) never apply"
	rules := func(ids ...string) *config.Approval {
		a := &config.Approval{}
		for _, id := range ids {
			a.Rules = append(a.Rules, config.ApprovalRule{Rule: id, FourEyes: true})
		}
		return a
	}
	for _, tc := range []struct {
		name string
		p    *Policy
		a    *config.Approval
		want []string
	}{
		{"no approval section", p, nil, nil},
		{"existing ask rule", p, rules("ask-drop"), nil},
		{"typo", p, rules("ask-dorp"), []string{
			`c.yaml: approval.rules[0]: rule "ask-dorp" is not a rule of p.yaml, ` + never + `: did you mean "ask-drop"?`}},
		{"unknown, nothing close", p, rules("ask-drop", "dba-writes"), []string{
			`c.yaml: approval.rules[1]: rule "dba-writes" is not a rule of p.yaml, ` + never + `: write the id of one of its ask rules ("ask-drop")`}},
		{"rule that never asks", p, rules("deny-rm"), []string{
			`c.yaml: approval.rules[0]: rule "deny-rm" of p.yaml has effect deny, not ask: it never parks a call, ` + never}},
		{"default entry, default allow", p, rules(""), []string{
			`c.yaml: approval.rules[0]: rule "" stands for calls the policy's default effect asks about, but the default effect of p.yaml is allow, ` + never}},
		{"default entry, default ask", askDefault, rules(""), nil},
		{"unknown in a policy without ask rules", askDefault, rules("x"), []string{
			`c.yaml: approval.rules[0]: rule "x" is not a rule of ask.yaml, ` + never + `: it has no ask rules`}},
		{"external rule without an external decision point", p, rules("external:oncall"), []string{
			`c.yaml: approval.rules[0]: rule "external:oncall" is not a rule of p.yaml, ` + never + `: write the id of one of its ask rules ("ask-drop")`}},
		{"external rule with an external decision point", withExternal, rules("external", "external:oncall"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, LintApproval(tc.p, "c.yaml", tc.a)); diff != "" {
				t.Errorf("LintApproval (-want +got):\n%s", diff)
			}
		})
	}
	// The shipped default policy: its two ask rules are known, a near miss of one is pointed at it.
	def, err := Compile("default", DefaultPolicy(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := LintApproval(def, "c.yaml", rules("default-ask-destructive", "default-ask-uninspectable", "default-ask-destructiv"))
	want := []string{`c.yaml: approval.rules[2]: rule "default-ask-destructiv" is not a rule of default, ` + never + `: did you mean "default-ask-destructive"?`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LintApproval of the default policy (-want +got):\n%s", diff)
	}
}
