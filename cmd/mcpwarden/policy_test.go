package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyLintAndTestExitCodes(t *testing.T) {
	good := writeFile(t, "good.yaml", "rules:\n  - {id: a, tools: [x], effect: deny}\n")
	bad := writeFile(t, "bad.yaml", "rules:\n  - id: a\n    effect: deny\n    when: call.sql.nope\n")
	pass := writeFile(t, "pass.yaml", "cases:\n  - {name: x denied, input: {tool: x}, expect: deny, rule: a}\n  - {name: y allowed, input: {tool: y}, expect: allow}\n")
	fail := writeFile(t, "fail.yaml", "cases:\n  - {name: x is allowed, input: {tool: x}, expect: allow}\n")
	typo := writeFile(t, "typo.yaml", "cases:\n  - {name: x, input: {tol: x}, expect: deny}\n")
	cfg := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\nservers:\n  - name: a\n    command: [x]\npolicy: "+good+"\n")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"lint good file", []string{"policy", "lint", good}, exitOK},
		{"lint bad file", []string{"policy", "lint", bad}, exitFindings},
		{"lint missing file", []string{"policy", "lint", "/nonexistent.yaml"}, exitUsage},
		{"lint the shipped default", []string{"policy", "lint"}, exitOK},
		{"lint a config's policy", []string{"policy", "lint", "--config", cfg}, exitOK},
		{"fixtures pass", []string{"policy", "test", "--policy", good, pass}, exitOK},
		{"fixtures pass with the config's policy", []string{"policy", "test", "--config", cfg, pass}, exitOK},
		{"fixtures fail", []string{"policy", "test", "--policy", good, fail}, exitFindings},
		{"fixture with an unknown key", []string{"policy", "test", typo}, exitUsage},
		{"test without fixtures", []string{"policy", "test"}, exitUsage},
		{"shipped fixtures", []string{"policy", "test", "../../internal/policy/testdata/fixtures/default.yaml", "../../internal/policy/testdata/fixtures/team.yaml"}, exitOK},
		{"replay without config", []string{"policy", "replay"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// TestPolicyReplay records calls in a real audit store, then replays them with a stricter candidate.
func TestPolicyReplay(t *testing.T) {
	path := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\nservers:\n  - name: db\n    command: [x]\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := audit.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Minute)
	for i, c := range []struct{ name, args, decision string }{
		{"query", `{"sql":"SELECT 1"}`, "allow"},
		{"query", `{"sql":"DROP TABLE t"}`, "allow"}, // recorded before the policy asked
		{"drop_db", `{}`, "deny"},
		{"echo", `{"text":"hi"}`, ""},
		{"wipe_disk", `{}`, "monitor:ask"}, // monitor mode: it was forwarded
	} {
		r := &audit.Record{Time: start.Add(time.Duration(i) * time.Second), Direction: "client_to_server", Kind: "request",
			Server: "db", Method: "tools/call", Name: c.name, Arguments: json.RawMessage(c.args),
			Principal: audit.Principal{User: "alice", AuthMethod: "local"}}
		if c.decision != "" {
			r.Decision = &audit.Decision{Action: c.decision}
		}
		if err := a.Commit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The gateway records a call's decision on its response record: a call asked then and asked by the
	// candidate is unchanged.
	req := &audit.Record{Time: start.Add(10 * time.Second), Direction: "client_to_server", Kind: "request", Server: "db",
		Method: "tools/call", Name: "query", Arguments: json.RawMessage(`{"sql":"DROP TABLE audit"}`),
		Principal: audit.Principal{User: "alice", AuthMethod: "local"}}
	if err := a.Commit(ctx, req); err != nil {
		t.Fatal(err)
	}
	resp := &audit.Record{Time: start.Add(11 * time.Second), Direction: "server_to_client", Kind: "error", Server: "db",
		Method: "tools/call", Name: "query", Parent: req.Ref(), Decision: &audit.Decision{Action: "ask", Rule: "default-ask-destructive"}}
	if err := a.Commit(ctx, resp); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cand, err := policy.Compile("candidate.yaml", []byte(`
rules:
  - {id: echo-off, tools: [echo], effect: deny}
  - {id: drop-db-ok, tools: [drop_db], effect: allow}
extends: default
`), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replay(ctx, cfg, cand, start.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	type change struct{ Name, Was, Now, Rule string }
	var got []change
	for _, c := range rep.Changes {
		got = append(got, change{c.Name, c.Was, c.Now, c.Rule})
	}
	want := []change{
		{"query", "allow", "ask", "default-ask-destructive"},
		{"drop_db", "deny", "allow", "drop-db-ok"},
		{"echo", "allow", "deny", "echo-off"},
		{"wipe_disk", "allow", "ask", "default-ask-destructive"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if rep.Evaluated != 6 || rep.Unchanged != 2 || rep.NewlyDenied != 1 || rep.NewlyAsked != 2 || rep.NewlyAllowed != 1 {
		t.Errorf("report counts = %+v", rep)
	}
}
