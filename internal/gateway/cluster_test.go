package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/transport"
)

// startReplicas starts two gateways from the same servers that share a session seal, behind a front that
// sends each POST to the other gateway than the previous one (GETs alternate separately).
func startReplicas(t *testing.T, servers ...string) (front string) {
	t.Helper()
	seal, err := transport.NewSessionSeal([]byte("a shared secret for the replica test"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []*url.URL
	for range 2 {
		_, base := startConfigGateway(t, "servers:\n"+strings.Join(servers, ""),
			Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})), Cluster: &transport.ClusterOptions{Seal: seal}})
		u, _ := url.Parse(base)
		targets = append(targets, u)
	}
	var posts, gets atomic.Int64
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			n := &posts
			if pr.In.Method == http.MethodGet {
				n = &gets
			}
			pr.SetURL(targets[(n.Add(1)-1)%2])
		},
		FlushInterval: -1,
	}
	ts := httptest.NewServer(rp)
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	return ts.URL
}

// TestReplicasShareSessions: one 2025-era client session alternates between two gateways with a shared seal
// and no shared memory, on a per-server endpoint with an HTTP upstream and on the aggregate endpoint over a
// stdio and an HTTP upstream: every list and call succeeds, whichever gateway it reaches. A sealed id is not
// accepted on another endpoint.
func TestReplicasShareSessions(t *testing.T) {
	remote := httptest.NewServer(newTestHTTPUpstream("b", false))
	t.Cleanup(remote.Close)
	front := startReplicas(t, stdioServerYAML("a"), httpServerYAML("b", remote.URL))

	rec := &recorder{}
	csB := connect(t, front+"/mcp/b", legacy, rec)
	if !strings.HasPrefix(csB.ID(), "w1.") {
		t.Fatalf("session id %q is not sealed", csB.ID())
	}
	for i := range 5 {
		if got, _ := callText(t, csB, "echo", map[string]any{"text": "x"}); got != "b:x" {
			t.Fatalf("/mcp/b call %d = %q", i, got)
		}
		if names := toolNames(t, csB); !contains(names, "echo") {
			t.Fatalf("/mcp/b tools/list %d = %v", i, names)
		}
	}

	agg := connect(t, front+"/mcp", legacy, rec)
	for i := range 3 {
		for _, s := range []string{"a", "b"} {
			if got, _ := callText(t, agg, s+".echo", map[string]any{"text": "y"}); got != s+":y" {
				t.Fatalf("/mcp %s.echo round %d = %q", s, i, got)
			}
		}
		if names := toolNames(t, agg); !contains(names, "a.echo") || !contains(names, "b.echo") {
			t.Fatalf("/mcp tools/list %d = %v", i, names)
		}
	}

	// The id of a /mcp/b session names nothing on /mcp/a.
	req, _ := http.NewRequest(http.MethodPost, front+"/mcp/a", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(transport.HeaderSessionID, csB.ID())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a /mcp/b session id on /mcp/a: status %d, want 404", resp.StatusCode)
	}
}
