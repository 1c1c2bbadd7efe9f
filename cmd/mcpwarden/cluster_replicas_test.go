package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
	"github.com/mcpwarden/mcpwarden/internal/transport"
)

// roundRobin is a load balancer without affinity: every POST goes to the next replica in turn (GETs
// alternate on their own), and it remembers which replica served which JSON-RPC method.
type roundRobin struct {
	targets []*url.URL
	proxy   *httputil.ReverseProxy

	mu     sync.Mutex
	posts  int
	gets   int
	served []servedBy
}

type servedBy struct {
	method, body string
	replica      int
}

func newRoundRobin(addrs ...string) *roundRobin {
	rr := &roundRobin{}
	for _, a := range addrs {
		rr.targets = append(rr.targets, &url.URL{Scheme: "http", Host: a})
	}
	rr.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := pr.In.Context().Value(replicaKey{}).(int)
			pr.SetURL(rr.targets[i])
		},
		FlushInterval: -1, // event streams go out as they come
	}
	return rr
}

type replicaKey struct{}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rr.mu.Lock()
	var i int
	if r.Method == http.MethodGet {
		i = rr.gets % len(rr.targets)
		rr.gets++
	} else {
		i = rr.posts % len(rr.targets)
		rr.posts++
	}
	var m struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal(body, &m)
	rr.served = append(rr.served, servedBy{method: r.Method + " " + m.Method, body: string(body), replica: i})
	rr.mu.Unlock()
	rr.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), replicaKey{}, i)))
}

// replicasServing returns the replicas that served POSTs of method whose body contains substr.
func (rr *roundRobin) replicasServing(method, substr string) map[int]int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := map[int]int{}
	for _, s := range rr.served {
		if s.method == "POST "+method && strings.Contains(s.body, substr) {
			out[s.replica]++
		}
	}
	return out
}

// TestClusterRoundRobin: two `mcpwarden serve` processes (the real binary) share one PostgreSQL database and
// a session key, behind a round-robin front with no session affinity. One go-sdk client session (2025-era,
// Mcp-Session-Id) alternates between them: initialize on one, initialized on the other, then tools/list and
// tools/call, each landing on a replica in turn, and every call succeeds — the replica that did not
// initialize the session adopts it from the sealed id and opens its own upstream session with the client's
// handshake. A destructive call parked on one replica is approved with the other replica's config and the
// agent, through the front, gets the result. Closing the session (DELETE on one replica) ends it on both.
// The shared audit trail verifies and holds the session's calls from both replicas.
func TestClusterRoundRobin(t *testing.T) {
	bin := binary(t)
	dsn := testenv.PostgresDSN(t)
	dir := t.TempDir()
	signingKey := filepath.Join(dir, "audit-signing.key")
	sessionKey := filepath.Join(dir, "session.key")
	if err := os.WriteFile(sessionKey, []byte("c2Vzc2lvbi1rZXktZm9yLXRoZS1jbHVzdGVyLXRlc3Q=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type replica struct{ name, addr, cfg string }
	newReplica := func(name string) replica {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		cfg := writeConfig(t, "listen: "+addr+"\ndata_dir: "+t.TempDir()+"\n"+upstreamYAML("")+
			"audit:\n  store: postgres\n  postgres_dsn: "+dsn+"\n  instance: "+name+"\n  signing_key: "+signingKey+"\n"+
			"approval:\n  timeout: 45s\n"+
			"cluster:\n  session_key_file: "+sessionKey+"\n")
		return replica{name: name, addr: addr, cfg: cfg}
	}
	reps := []replica{newReplica("gw-a"), newReplica("gw-b")}
	procs := make([]*testenv.Proc, len(reps))
	for i, r := range reps {
		procs[i] = testenv.StartProcess(t, []string{bin, "serve", "--config", r.cfg}, nil)
		procs[i].WaitForPort(t, r.addr)
	}
	outputs := func() string {
		return "gateway A:\n" + procs[0].Output() + "\ngateway B:\n" + procs[1].Output()
	}
	rr := newRoundRobin(reps[0].addr, reps[1].addr)
	front := httptest.NewServer(rr)
	t.Cleanup(func() { front.CloseClientConnections(); front.Close() }) // after the client session's cleanup

	cs := connectClient(t, front.URL+"/mcp/files")
	sid := cs.ID()
	if !strings.HasPrefix(sid, "w1.") {
		t.Fatalf("session id %q is not sealed", sid)
	}
	for i := range 6 {
		q := fmt.Sprintf("query %d", i)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "lookup", Arguments: map[string]any{"query": q}})
		if err != nil {
			cancel()
			t.Fatalf("call %d through the round-robin front: %v\n%s", i, err, outputs())
		}
		if text, _ := res.Content[0].(*mcp.TextContent); text == nil || text.Text != "found "+q {
			t.Fatalf("call %d = %+v", i, res.Content)
		}
		if i%2 == 0 { // an odd number of requests between two calls: each replica gets calls
			lt, err := cs.ListTools(ctx, nil)
			if err != nil || len(lt.Tools) == 0 {
				cancel()
				t.Fatalf("tools/list %d: %v %+v\n%s", i, err, lt, outputs())
			}
		}
		cancel()
	}
	if by := rr.replicasServing("tools/call", "query"); by[0] == 0 || by[1] == 0 {
		t.Fatalf("tools/call served by %v: the front did not alternate", by)
	}
	if by := rr.replicasServing("tools/list", ""); by[0] == 0 || by[1] == 0 {
		t.Fatalf("tools/list served by %v: the front did not alternate", by)
	}

	// A call parked on one replica, approved with the other's config.
	parked := make(chan callResult, 1)
	go func() {
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "lookup", Arguments: map[string]any{"query": "DROP TABLE users"}})
		if err != nil {
			parked <- callResult{err: err}
			return
		}
		text, _ := res.Content[0].(*mcp.TextContent)
		if text == nil {
			parked <- callResult{err: fmt.Errorf("result is not text: %+v", res.Content)}
			return
		}
		parked <- callResult{text: text.Text}
	}()
	id := waitPending(t, reps[0].cfg)
	by := rr.replicasServing("tools/call", "DROP TABLE users")
	if len(by) != 1 {
		t.Fatalf("the destructive call was sent to %v", by)
	}
	parkedOn := 0
	for k := range by {
		parkedOn = k
	}
	other := reps[1-parkedOn]
	if out, errOut, code := cli(t, "approvals", "approve", "--config", other.cfg, id, "--reason", "cluster test"); code != 0 || !strings.Contains(out, "approved "+id) {
		t.Fatalf("approvals approve --config %s: exit %d\n%s%s", other.name, code, out, errOut)
	}
	select {
	case got := <-parked:
		if got.err != nil || got.text != "found DROP TABLE users" {
			t.Fatalf("approved call parked on %s = %+v, want the real result\n%s", reps[parkedOn].name, got, outputs())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("the call parked on %s was not released by the approval on %s\n%s", reps[parkedOn].name, other.name, outputs())
	}

	// DELETE lands on one replica; the session is gone on both.
	if err := cs.Close(); err != nil {
		t.Fatalf("closing the session: %v", err)
	}
	for _, r := range reps {
		var status int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/mcp/files",
				strings.NewReader(`{"jsonrpc":"2.0","id":99,"method":"tools/list"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", sid)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if status = resp.StatusCode; status == http.StatusNotFound {
				break
			}
		}
		if status != http.StatusNotFound {
			t.Errorf("after DELETE, %s answers the ended session with %d, want 404", r.name, status)
		}
	}

	for i, p := range procs {
		if err := p.Stop(); err != nil {
			t.Fatalf("stopping %s: %v\n%s", reps[i].name, err, p.Output())
		}
	}
	if out, errOut, code := cli(t, "audit", "verify", "--config", reps[0].cfg); code != 0 {
		t.Errorf("audit verify of the shared store: exit %d\n%s%s", code, out, errOut)
	}
	chains := map[string]int{}
	label := transport.SessionLabel(sid) // what records name the session by, on every replica
	for _, e := range listJSON(t, reps[1].cfg) {
		if e.SessionID == label && e.Method == "tools/call" {
			chains[e.Chain]++
		}
	}
	if chains["gw-a"] == 0 || chains["gw-b"] == 0 {
		t.Errorf("tools/call records of the session per chain: %v, want records from both replicas", chains)
	}
}
