package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

// pendingIDs runs `approvals list --json` and returns the pending approval ids.
func pendingIDs(t *testing.T, cfg string) []string {
	t.Helper()
	out, errOut, code := cli(t, "approvals", "list", "--config", cfg, "--json")
	if code != 0 {
		t.Fatalf("approvals list: exit %d\n%s", code, errOut)
	}
	var list []approval.Approval
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("approvals list --json: %v\n%s", err, out)
	}
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	return ids
}

// waitPending polls the CLI until one approval is pending.
func waitPending(t *testing.T, cfg string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ids := pendingIDs(t, cfg); len(ids) == 1 {
			return ids[0]
		}
	}
	t.Fatal("no pending approval appeared")
	return ""
}

type callResult struct {
	text string
	err  error
}

// TestApprovalsCLI: a destructive call through the gateway is parked; the mcpwarden binary (another process)
// lists it, approves it with the OS user recorded as approver, and the waiting agent gets the real result;
// deny returns the reason; grants can be listed and revoked; the audit trail records the approval.
func TestApprovalsCLI(t *testing.T) {
	dataDir := t.TempDir()
	cfg := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+dataDir+"\n"+upstreamYAML("")+"approval:\n  timeout: 1m\n")
	base, stop := inProcess(t, cfg)
	cs := connectClient(t, base+"/mcp/files")
	callCtx := func(ctx context.Context, q string) <-chan callResult {
		ch := make(chan callResult, 1)
		go func() {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "lookup", Arguments: map[string]any{"query": q}})
			if err != nil {
				ch <- callResult{err: err}
				return
			}
			ch <- callResult{text: res.Content[0].(*mcp.TextContent).Text}
		}()
		return ch
	}
	callAsync := func(q string) <-chan callResult { return callCtx(t.Context(), q) }

	res := callAsync("DROP TABLE users")
	id := waitPending(t, cfg)
	out, errOut, code := cli(t, "approvals", "show", "--config", cfg, id)
	if code != 0 || !strings.Contains(out, "DROP TABLE users") || !strings.Contains(out, "default-ask-destructive") {
		t.Errorf("approvals show: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, "approvals", "approve", "--config", cfg, id, "--scope", "args", "--ttl", "10m", "--reason", "planned migration")
	if code != 0 || !strings.Contains(out, "approved "+id) {
		t.Fatalf("approvals approve: exit %d\n%s%s", code, out, errOut)
	}
	if got := <-res; got.err != nil || got.text != "found DROP TABLE users" {
		t.Fatalf("approved call = %+v", got)
	}
	if got := <-callAsync("DROP TABLE users"); got.err != nil || got.text != "found DROP TABLE users" {
		t.Errorf("identical call under the args grant = %+v", got)
	}

	res = callAsync("DROP TABLE orders")
	id2 := waitPending(t, cfg)
	if _, errOut, code := cli(t, "approvals", "deny", "--config", cfg, id2, "--reason", "orders are kept"); code != 0 {
		t.Fatalf("approvals deny: exit %d\n%s", code, errOut)
	}
	if got := <-res; got.err == nil || !strings.Contains(got.err.Error(), id2) || !strings.Contains(got.err.Error(), "orders are kept") {
		t.Errorf("denied call = %+v, want an error naming %s and the reason", got, id2)
	}
	if _, errOut, code := cli(t, "approvals", "approve", "--config", cfg, id2); code != 1 || !strings.Contains(errOut, "already denied") {
		t.Errorf("approving a denied approval: exit %d, %s", code, errOut)
	}

	out, _, _ = cli(t, "approvals", "grants", "--config", cfg, "--json")
	var grants []approval.Grant
	if err := json.Unmarshal([]byte(out), &grants); err != nil || len(grants) != 1 {
		t.Fatalf("approvals grants: %v\n%s", err, out)
	}
	g := grants[0]
	if g.Scope != approval.ScopeArgs || g.Uses != 2 || g.GrantedBy != identity.Local().ID() || g.ApprovalID != id {
		t.Errorf("grant = %+v, want scope args, 2 uses, granted by %s for %s", g, identity.Local().ID(), id)
	}
	if _, errOut, code := cli(t, "approvals", "revoke", "--config", cfg, g.ID); code != 0 {
		t.Fatalf("approvals revoke: exit %d\n%s", code, errOut)
	}
	// Revoked: the identical call asks again. The agent gives up on it (cancels the request): the parked
	// call ends at once, and the approval stays pending for a retry.
	ctx, cancel := context.WithCancel(t.Context())
	res = callCtx(ctx, "DROP TABLE users")
	id3 := waitPending(t, cfg)
	cancel()
	<-res
	// The gateway learns of it from notifications/cancelled and records the parked call as abandoned
	// (long before the one-minute approval timeout).
	deadline := time.Now().Add(20 * time.Second)
	for !slices.ContainsFunc(listJSON(t, cfg, "--tool", "lookup"), func(e audit.Entry) bool {
		return e.Approval != nil && e.Approval.ID == id3 && e.Approval.Outcome == "abandoned"
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled parked call %s was not recorded as abandoned", id3)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, _, _ := cli(t, "approvals", "show", "--config", cfg, id3); !strings.Contains(out, "pending") {
		t.Errorf("an abandoned call's approval should stay pending for a retry:\n%s", out)
	}
	_ = cs.Close()
	stop()

	var approvals []string
	for _, e := range listJSON(t, cfg, "--tool", "lookup") {
		if e.Kind != "request" && e.Approval != nil {
			approvals = append(approvals, e.Approval.ID+" "+e.Approval.Approver+" "+strings.SplitN(e.Approval.Outcome, ":", 2)[0])
		}
	}
	me := identity.Local().ID()
	want := []string{id + " " + me + " approved", id + " " + me + " grant", id2 + " " + me + " denied"}
	for _, w := range want {
		found := false
		for _, a := range approvals {
			found = found || a == w
		}
		if !found {
			t.Errorf("audit trail lacks approval %q; has %q", w, approvals)
		}
	}
}

// TestApprovalsCLIFourEyes: under a four-eyes rule the OS user who made the call cannot approve it.
func TestApprovalsCLIFourEyes(t *testing.T) {
	dataDir := t.TempDir()
	cfg := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+dataDir+"\n"+upstreamYAML("")+
		"approval:\n  rules:\n    - rule: default-ask-destructive\n      four_eyes: true\n")
	loaded, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := approval.OpenStore(t.Context(), loaded, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	me := identity.Local()
	a, err := st.Create(t.Context(), approval.Call{Server: "files", Method: "tools/call", Tool: "lookup", Principal: me.ID(), User: me.Subject,
		Rule: "default-ask-destructive"}, approval.Requirement{FourEyes: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := cli(t, "approvals", "approve", "--config", cfg, a.ID)
	if code != 1 || !strings.Contains(errOut, "four eyes") {
		t.Errorf("self-approval under four eyes: exit %d, %q; want exit 1 and a four-eyes refusal", code, errOut)
	}
	if _, errOut, code := cli(t, "approvals", "approve", "--config", cfg, a.ID, "--scope", "forever"); code != 2 || !strings.Contains(errOut, "unknown scope") {
		t.Errorf("bad scope: exit %d, %q; want exit 2", code, errOut)
	}
}
