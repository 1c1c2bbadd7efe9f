package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

const legacy = "2025-11-25"

// stdioServerYAML returns a config entry for the test binary as a stdio server.
func stdioServerYAML(name string) string {
	return fmt.Sprintf("  - name: %s\n    command: [%q]\n    env: {MCPWARDEN_TEST_SERVER: %s}\n    timeout: 20s\n    restart: {initial_backoff: 10ms, max_backoff: 200ms}\n", name, os.Args[0], name)
}

func httpServerYAML(name, url string) string {
	return fmt.Sprintf("  - name: %s\n    url: %s\n    timeout: 20s\n", name, url)
}

// startGateway builds a gateway from YAML server entries and serves it on a loopback httptest server.
func startGateway(t *testing.T, servers ...string) (*Gateway, string) {
	t.Helper()
	return startGatewayTB(t, servers...)
}

// loadTestConfig writes "listen, data_dir" plus body to a config file in a new temporary directory (also the
// data_dir) and loads it as `serve` would.
func loadTestConfig(t testing.TB, body string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	yml := "listen: 127.0.0.1:0\ndata_dir: " + dir + "\n" + body
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	return cfg, dir
}

func startGatewayTB(t testing.TB, servers ...string) (*Gateway, string) {
	t.Helper()
	var log *slog.Logger
	if tt, ok := t.(*testing.T); ok {
		log = slog.New(slog.NewTextHandler(testWriter{tt}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return startConfigGateway(t, "servers:\n"+strings.Join(servers, ""), Options{Logger: log})
}

// startConfigGateway builds a gateway from a whole config (YAML) and opts, and serves it on a loopback
// httptest server until the test ends.
func startConfigGateway(t testing.TB, yml string, opts Options) (*Gateway, string) {
	t.Helper()
	cfg, _ := loadTestConfig(t, yml)
	g, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return g, serveGateway(t, g, func() error { return nil })
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// recorder collects what a test client received from servers.
type recorder struct {
	mu       sync.Mutex
	progress []float64
	sampled  []string
}

func newClient(rec *recorder) *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(ctx context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			text := req.Params.Messages[0].Content.(*mcp.TextContent).Text
			rec.mu.Lock()
			rec.sampled = append(rec.sampled, text)
			rec.mu.Unlock()
			return &mcp.CreateMessageResult{Model: "test-model", Role: "assistant", Content: &mcp.TextContent{Text: strings.ToUpper(text)}}, nil
		},
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"answer": "yes to " + req.Params.Message}}, nil
		},
		ProgressNotificationHandler: func(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
			rec.mu.Lock()
			rec.progress = append(rec.progress, req.Params.Progress)
			rec.mu.Unlock()
		},
	})
}

func connect(t *testing.T, url, version string, rec *recorder) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cs, err := newClient(rec).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect %s (%s): %v", url, version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}

// exercise runs the per-server feature set against one endpoint.
func exercise(t *testing.T, cs *mcp.ClientSession, rec *recorder, server string, serverRequests bool) {
	t.Helper()
	want := []string{"ask", "crash", "echo", "hang", "noise", "pid", "sample", "slow"}
	if diff := cmp.Diff(want, sortedCopy(toolNames(t, cs))); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
	if got, _ := callText(t, cs, "echo", map[string]any{"text": "hi"}); got != server+":hi" {
		t.Errorf("echo = %q, want %q", got, server+":hi")
	}
	// Progress notifications reach the client, on the request's stream.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	params := &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"steps": 3, "step_ms": 5}}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(ctx, params)
	if err != nil || res.IsError {
		t.Fatalf("slow: %v %+v", err, res)
	}
	// The client dispatches notifications asynchronously: wait (bounded) until all three were handled.
	var gotProgress []float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		rec.mu.Lock()
		gotProgress = append([]float64(nil), rec.progress...)
		rec.mu.Unlock()
		if len(gotProgress) >= 3 || time.Now().After(deadline) {
			break
		}
	}
	if diff := cmp.Diff([]float64{1, 2, 3}, gotProgress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"who": "ann"}})
	if err != nil || pr.Messages[0].Content.(*mcp.TextContent).Text != "hello ann" {
		t.Errorf("prompts/get: %v %+v", err, pr)
	}
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://" + server + "/static"})
	if err != nil || rr.Contents[0].Text != "static from "+server {
		t.Errorf("resources/read: %v %+v", err, rr)
	}
	if !serverRequests {
		return
	}
	if got, isErr := callText(t, cs, "sample", map[string]any{"text": "ping"}); got != "model said: PING" || isErr {
		t.Errorf("sampling round trip = %q (isError %v)", got, isErr)
	}
	if got, isErr := callText(t, cs, "ask", map[string]any{"text": "proceed?"}); got != "user accept yes to proceed?" || isErr {
		t.Errorf("elicitation round trip = %q (isError %v)", got, isErr)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestPerServerEndpoint(t *testing.T) {
	stateful := httptest.NewServer(newTestHTTPUpstream("remote", false))
	t.Cleanup(stateful.Close)
	stateless := httptest.NewServer(newTestHTTPUpstream("remote2", true))
	t.Cleanup(stateless.Close)
	_, base := startGateway(t, stdioServerYAML("local"), httpServerYAML("remote", stateful.URL), httpServerYAML("remote2", stateless.URL))

	for _, tc := range []struct {
		server, version string
		serverRequests  bool
	}{
		{"local", legacy, true},
		{"local", "", false}, // the client's default: 2026-07-28 via server/discover
		{"remote", legacy, true},
		{"remote2", "", false},
		{"remote2", legacy, false},
	} {
		t.Run(tc.server+"/"+orStr(tc.version, "latest"), func(t *testing.T) {
			rec := &recorder{}
			cs := connect(t, base+"/mcp/"+tc.server, tc.version, rec)
			wantVersion := orStr(tc.version, "2026-07-28")
			if got := cs.InitializeResult().ProtocolVersion; got != wantVersion {
				t.Errorf("negotiated version %q, want %q", got, wantVersion)
			}
			exercise(t, cs, rec, tc.server, tc.serverRequests)
		})
	}
}

func TestAggregateEndpoint(t *testing.T) {
	remote := httptest.NewServer(newTestHTTPUpstream("b", false))
	t.Cleanup(remote.Close)
	_, base := startGateway(t, stdioServerYAML("a"), httpServerYAML("b", remote.URL))
	rec := &recorder{}
	cs := connect(t, base+"/mcp", legacy, rec)

	names := toolNames(t, cs)
	for _, want := range []string{"a.echo", "a.slow", "b.echo", "b.sample"} {
		if !contains(names, want) {
			t.Errorf("aggregate tools/list lacks %q: %v", want, names)
		}
	}
	for _, s := range []string{"a", "b"} {
		if got, _ := callText(t, cs, s+".echo", map[string]any{"text": "x"}); got != s+":x" {
			t.Errorf("%s.echo = %q", s, got)
		}
		if got, _ := callText(t, cs, s+".sample", map[string]any{"text": "hey"}); got != "model said: HEY" {
			t.Errorf("%s.sample = %q", s, got)
		}
	}
	prompts, err := cs.ListPrompts(t.Context(), nil)
	if err != nil || len(prompts.Prompts) != 2 {
		t.Fatalf("prompts/list: %v %+v", err, prompts)
	}
	rr, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "mcpwarden://b/test://b/static"})
	if err != nil || rr.Contents[0].Text != "static from b" || rr.Contents[0].URI != "mcpwarden://b/test://b/static" {
		t.Errorf("namespaced resources/read: %v %+v", err, rr)
	}
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "nosuch.echo"}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("unknown server prefix: err = %v", err)
	}

	// Killing the stdio upstream mid-call fails that call only; the next call runs on a restarted process.
	pidText, _ := callText(t, cs, "a.pid", nil)
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		t.Fatalf("pid: %q", pidText)
	}
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "a.slow", Arguments: map[string]any{"steps": 100, "step_ms": 50}})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the call reach the upstream (ordering only, not a timing assertion)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "ended before answering") {
		t.Errorf("call during crash: err = %v, want an upstream-ended error", err)
	}
	if got, _ := callText(t, cs, "b.echo", map[string]any{"text": "y"}); got != "b:y" {
		t.Errorf("other upstream affected: %q", got)
	}
	if got, _ := callText(t, cs, "a.echo", map[string]any{"text": "again"}); got != "a:again" {
		t.Errorf("after restart: %q", got)
	}
	newPid, _ := callText(t, cs, "a.pid", nil)
	if newPid == pidText {
		t.Errorf("upstream was not restarted (same pid %s)", newPid)
	}
}

func TestAggregateModernEra(t *testing.T) {
	remote := httptest.NewServer(newTestHTTPUpstream("b", true))
	t.Cleanup(remote.Close)
	_, base := startGateway(t, stdioServerYAML("a"), httpServerYAML("b", remote.URL))
	cs := connect(t, base+"/mcp", "", &recorder{})
	if got := cs.InitializeResult().ProtocolVersion; got != "2026-07-28" {
		t.Errorf("version %q", got)
	}
	for _, s := range []string{"a", "b"} {
		if got, _ := callText(t, cs, s+".echo", map[string]any{"text": "m"}); got != s+":m" {
			t.Errorf("%s.echo = %q", s, got)
		}
	}
}

func TestWrapStdio(t *testing.T) {
	g, _ := startGateway(t, stdioServerYAML("local"))
	cr, gw := io.Pipe() // client reads what the gateway writes
	gr, cw := io.Pipe() // gateway reads what the client writes
	errc := make(chan error, 1)
	go func() { errc <- g.ServeStdio(t.Context(), "local", gr, gw) }()
	rec := &recorder{}
	cs, err := newClient(rec).Connect(t.Context(), &mcp.IOTransport{Reader: cr, Writer: cw}, &mcp.ClientSessionOptions{ProtocolVersion: legacy})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, cs, rec, "local", true)
	_ = cs.Close()
	_ = cw.Close()
	if err := <-errc; err != nil {
		t.Errorf("ServeStdio: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestLegacySSEUpstream(t *testing.T) {
	srv := newTestServer("old")
	sse := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(sse.Close)
	_, base := startGateway(t, fmt.Sprintf("  - name: old\n    transport: sse\n    url: %s\n    timeout: 20s\n", sse.URL))
	rec := &recorder{}
	cs := connect(t, base+"/mcp/old", legacy, rec)
	exercise(t, cs, rec, "old", true)

	// A default (2026-first) client probes with server/discover, gets a clear error, and falls back.
	c := mcp.NewClient(&mcp.Implementation{Name: "modern", Version: "1"}, nil)
	cs2, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: base + "/mcp/old"}, nil)
	if err != nil {
		t.Fatalf("a default client must reach a legacy SSE upstream by falling back to the 2025 era: %v", err)
	}
	defer cs2.Close()
	if v := cs2.InitializeResult().ProtocolVersion; !strings.HasPrefix(v, "202") || v == "2026-07-28" {
		t.Errorf("negotiated %q with a legacy-only upstream", v)
	}
}

func TestUpstreamTimeoutAndNoise(t *testing.T) {
	entry := fmt.Sprintf("  - name: slowpoke\n    command: [%q]\n    env: {MCPWARDEN_TEST_SERVER: slowpoke}\n    timeout: 300ms\n", os.Args[0])
	_, base := startGateway(t, entry)
	cs := connect(t, base+"/mcp/slowpoke", legacy, &recorder{})
	_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "hang", Arguments: map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "did not answer tools/call within 300ms") {
		t.Fatalf("hung upstream: err = %v, want the gateway's timeout error", err)
	}
	// The session and the upstream carry on after a timeout, and stderr output does not disturb the stream.
	if got, _ := callText(t, cs, "noise", map[string]any{"text": "x"}); got != "noisy" {
		t.Errorf("after timeout: %q", got)
	}
	if got, _ := callText(t, cs, "echo", map[string]any{"text": "still here"}); got != "slowpoke:still here" {
		t.Errorf("after timeout: %q", got)
	}
}

func TestAggregatePagination(t *testing.T) {
	entry := fmt.Sprintf("  - name: big\n    command: [%q]\n    env: {MCPWARDEN_TEST_SERVER: big, MCPWARDEN_TEST_EXTRA_TOOLS: \"700\"}\n  - name: small\n    command: [%q]\n    env: {MCPWARDEN_TEST_SERVER: small}\n", os.Args[0], os.Args[0])
	_, base := startGateway(t, entry)
	cs := connect(t, base+"/mcp", legacy, &recorder{})
	var names []string
	pages := 0
	for tl, err := range cs.Tools(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name)
	}
	// Count pages explicitly too.
	cursor := ""
	for {
		res, err := cs.ListTools(t.Context(), &mcp.ListToolsParams{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if res.NextCursor == "" {
			break
		}
		cursor = res.NextCursor
	}
	want := 2*8 + 700
	if len(names) != want {
		t.Errorf("aggregate listed %d tools, want %d", len(names), want)
	}
	if pages < 2 {
		t.Errorf("%d tools came in %d page(s); want more than one page", len(names), pages)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate %q across pages", n)
		}
		seen[n] = true
	}
	if !seen["big.extra0699"] || !seen["small.echo"] {
		t.Errorf("missing namespaced tools")
	}
	if _, err := cs.ListTools(t.Context(), &mcp.ListToolsParams{Cursor: "bogus"}); err == nil {
		t.Errorf("a forged cursor was accepted")
	}
}

// stagedGateway is a gateway built the way `serve` builds one: a config file (listen and data_dir added to
// body), the stages BuildStages makes from it, served on a loopback test server until the test ends.
type stagedGateway struct {
	URL    string
	Dir    string // data_dir
	Config *config.Config
}

// startStaged starts a stagedGateway; options, when not nil, adds Options (authentication hooks) for the
// loaded config.
func startStaged(t *testing.T, body string, options func(*config.Config) Options) *stagedGateway {
	t.Helper()
	cfg, dir := loadTestConfig(t, body)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stages, closeStages, err := BuildStages(t.Context(), cfg, log)
	if err != nil {
		t.Fatalf("stages: %v", err)
	}
	var opts Options
	if options != nil {
		opts = options(cfg)
	}
	opts.Logger, opts.Stages = log, stages
	g, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &stagedGateway{URL: serveGateway(t, g, closeStages), Dir: dir, Config: cfg}
}
