package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPolicyLintApprovalRules: `policy lint --config` warns about approval.rules entries whose rule id is
// not a rule of the policy being linted (the config's, or the files given), or names a rule that never
// asks; the warnings do not change the exit code.
func TestPolicyLintApprovalRules(t *testing.T) {
	const never = "so its approval settings (four_eyes, approvers, timeout, self_approve) never apply"
	candidate := writeFile(t, "candidate.yaml", "rules:\n  - {id: ask-sql, tools: [sql], effect: ask}\n  - {id: deny-rm, tools: [rm], effect: deny}\n")
	withRules := func(approvalRules ...string) string {
		body := "listen: 127.0.0.1:0\ndata_dir: " + t.TempDir() + "\nservers:\n  - name: a\n    command: [x]\napproval:\n  rules:\n"
		for _, r := range approvalRules {
			body += "    - {rule: " + r + ", four_eyes: true}\n"
		}
		return writeConfig(t, body)
	}
	typo, right, mixed := withRules("default-ask-destructiv"), withRules("default-ask-destructive", "default-ask-uninspectable"), withRules("ask-sql", "deny-rm")
	for _, tc := range []struct {
		name string
		args []string
		want []string // the warning lines, in order
	}{
		{"typo in the config's approval rules", []string{"--config", typo}, []string{
			"warning: " + typo + `: approval.rules[0]: rule "default-ask-destructiv" is not a rule of default policy, ` + never +
				`: did you mean "default-ask-destructive"?`}},
		{"ids of the default policy", []string{"--config", right}, nil},
		{"policy files checked against the config's approval rules", []string{"--config", right, candidate}, []string{
			"warning: " + right + `: approval.rules[0]: rule "default-ask-destructive" is not a rule of ` + candidate + ", " + never +
				`: write the id of one of its ask rules ("ask-sql")`,
			"warning: " + right + `: approval.rules[1]: rule "default-ask-uninspectable" is not a rule of ` + candidate + ", " + never +
				`: write the id of one of its ask rules ("ask-sql")`}},
		{"a rule that never asks", []string{"--config", mixed, candidate}, []string{
			"warning: " + mixed + `: approval.rules[1]: rule "deny-rm" of ` + candidate + " has effect deny, not ask: it never parks a call, " + never}},
		{"without --config nothing to check", []string{candidate}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCmd(t, newPolicyLintCmd, tc.args...)
			if code != exitOK {
				t.Fatalf("policy lint %q: exit %d, want %d (warnings do not fail lint)\n%s", tc.args, code, exitOK, out)
			}
			var got []string
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "warning: ") {
					got = append(got, line)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("policy lint %q warnings (-want +got):\n%s\nfull output:\n%s", tc.args, diff, out)
			}
		})
	}
}
