package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestApprovalsAcrossReplicas: two `mcpwarden serve` processes (the real binary) share one PostgreSQL
// database. A destructive call made through gateway A is parked there; the approvals CLI, run as its own
// process with gateway B's config, sees it in the shared store and approves it, and the agent waiting on A
// gets the real result. The args grant that approval created lets the identical call through gateway B
// without asking. A second call parked on A is denied through B's config, and the agent on A gets the
// denial with the approval id and the reason. Both instances' audit chains verify afterwards.
func TestApprovalsAcrossReplicas(t *testing.T) {
	bin := binary(t)
	dsn := testenv.PostgresDSN(t)
	// Replicas of one store share the checkpoint signing key, or verification rejects the other's checkpoints.
	signingKey := filepath.Join(t.TempDir(), "audit-signing.key")
	type replica struct {
		name, addr, cfg string
	}
	newReplica := func(name string) replica {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		cfg := writeConfig(t, "listen: "+addr+"\ndata_dir: "+t.TempDir()+"\n"+upstreamYAML("")+
			"audit:\n  store: postgres\n  postgres_dsn: "+dsn+"\n  instance: "+name+"\n  signing_key: "+signingKey+"\n"+
			"approval:\n  timeout: 45s\n")
		return replica{name: name, addr: addr, cfg: cfg}
	}
	a, b := newReplica("gw-a"), newReplica("gw-b")
	// Start them one after the other: the first creates the signing key the second then reads (migrations
	// would be serialised anyway by their advisory lock).
	procs := map[string]*testenv.Proc{}
	for _, r := range []replica{a, b} {
		p := testenv.StartProcess(t, []string{bin, "serve", "--config", r.cfg}, nil)
		p.WaitForPort(t, r.addr)
		procs[r.name] = p
	}

	csA := connectClient(t, "http://"+a.addr+"/mcp/files")
	callAsync := func(cs *mcp.ClientSession, q string) <-chan callResult {
		ch := make(chan callResult, 1)
		go func() {
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "lookup", Arguments: map[string]any{"query": q}})
			switch {
			case err != nil:
				ch <- callResult{err: err}
			case len(res.Content) == 0:
				ch <- callResult{err: fmt.Errorf("empty result %+v", res)}
			default:
				text, _ := res.Content[0].(*mcp.TextContent)
				if text == nil {
					ch <- callResult{err: fmt.Errorf("result is not text: %+v", res.Content[0])}
					return
				}
				ch <- callResult{text: text.Text}
			}
		}()
		return ch
	}
	await := func(what string, ch <-chan callResult) callResult {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(40 * time.Second):
			t.Fatalf("%s: no answer after 40s\ngateway A:\n%s\ngateway B:\n%s", what, procs["gw-a"].Output(), procs["gw-b"].Output())
			return callResult{}
		}
	}

	// Approve on B what is parked on A.
	res := callAsync(csA, "DROP TABLE users")
	id := waitPending(t, b.cfg)
	out, errOut, code := cli(t, "approvals", "approve", "--config", b.cfg, id, "--scope", "args", "--ttl", "10m", "--reason", "replica test")
	decided := time.Now()
	if code != 0 || !strings.Contains(out, "approved "+id) {
		t.Fatalf("approvals approve --config B: exit %d\n%s%s", code, out, errOut)
	}
	got := await("approved call on A", res)
	// Gateway A learns of B's decision through LISTEN/NOTIFY, or at worst its 200ms poll; seconds mean the
	// decision did not reach it the way it should.
	t.Logf("the call parked on A was answered %v after the approve CLI (config B) exited", time.Since(decided))
	if got.err != nil || got.text != "found DROP TABLE users" {
		t.Fatalf("approved call on A = %+v, want the real result", got)
	}
	if late := time.Since(decided); late > 5*time.Second {
		t.Errorf("the parked call resumed %v after the approval; want well under the 45s approval timeout", late)
	}

	// The grant is in the shared store: the identical call through B passes without a new approval.
	csB := connectClient(t, "http://"+b.addr+"/mcp/files")
	if got := await("identical call on B", callAsync(csB, "DROP TABLE users")); got.err != nil || got.text != "found DROP TABLE users" {
		t.Errorf("identical call through B under the args grant approved on B for A = %+v", got)
	}
	if ids := pendingIDs(t, a.cfg); len(ids) != 0 {
		t.Errorf("pending approvals after the grant was used: %v, want none", ids)
	}

	// Deny through B what is parked on A.
	res = callAsync(csA, "DROP TABLE orders")
	id2 := waitPending(t, b.cfg)
	if id2 == id {
		t.Fatalf("the second call reused approval %s", id)
	}
	if _, errOut, code := cli(t, "approvals", "deny", "--config", b.cfg, id2, "--reason", "orders are kept"); code != 0 {
		t.Fatalf("approvals deny --config B: exit %d\n%s", code, errOut)
	}
	got = await("denied call on A", res)
	if got.err == nil || !strings.Contains(got.err.Error(), id2) || !strings.Contains(got.err.Error(), "orders are kept") {
		t.Errorf("denied call on A = %+v, want an error naming %s and the reason", got, id2)
	}
	// A's view of the store agrees with B's.
	if out, errOut, code := cli(t, "approvals", "show", "--config", a.cfg, id2); code != 0 || !strings.Contains(out, "denied") {
		t.Errorf("approvals show --config A %s: exit %d\n%s%s", id2, code, out, errOut)
	}

	_ = csA.Close()
	_ = csB.Close()
	for name, p := range procs {
		if err := p.Stop(); err != nil { // graceful: flushes the trail
			t.Fatalf("stopping %s: %v\n%s", name, err, p.Output())
		}
	}
	if out, errOut, code := cli(t, "audit", "verify", "--config", a.cfg); code != 0 {
		t.Errorf("audit verify of the shared store: exit %d\n%s%s", code, out, errOut)
	}
}
