package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestIdleSessionStreams: a 2025-11-25 session between a go-sdk client and a stateful go-sdk server holds
// two event streams open through the gateway (the client's GET, the gateway's GET upstream). A notification
// the server sends on its own (tools/list_changed, on its standalone stream) reaches the client's stream.
// While the session is idle, no goroutine reads the upstream for the link (the upstream's stream reader
// dispatches itself) and none serves the client's stream in a handler (the connection is taken over);
// closing the session ends both streams.
func TestIdleSessionStreams(t *testing.T) {
	srv := newTestServer("up")
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(up.Close) // after the gateway's cleanup, which ends its streams to up
	_, gw := startGateway(t, httpServerYAML("up", up.URL))
	const (
		clientStream   = "internal/transport.(*httpSession).serveRaw"
		upstreamStream = "internal/upstream.(*standaloneStream)."
	)
	testenv.WaitGoroutines(t, clientStream, 0, "client streams of earlier tests still open")
	testenv.WaitGoroutines(t, upstreamStream, 0, "upstream streams of earlier tests still open")

	changed := make(chan struct{}, 4)
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: gw + "/mcp/up"}, &mcp.ClientSessionOptions{ProtocolVersion: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if got, _ := callText(t, cs, "echo", map[string]any{"text": "hi"}); got != "up:hi" {
		t.Errorf("echo = %q", got)
	}
	testenv.WaitGoroutines(t, clientStream, 1, "the client's GET stream, taken over from net/http")
	// The gateway's GET stream to the upstream: idle, it is parked with the process's poller on Linux (no
	// goroutine), else waited on by one goroutine.
	testenv.WaitGoroutines(t, upstreamStream, map[bool]int{true: 0, false: 1}[runtime.GOOS == "linux"], "the gateway's GET stream to the upstream")
	if n := testenv.GoroutinesIn(t, "gateway.(*link).read("); n != 0 {
		t.Errorf("%d goroutines read the upstream for a link; want none", n)
	}
	if n := testenv.GoroutinesIn(t, "transport.(*httpSession).pump("); n != 0 {
		t.Errorf("%d handlers serve a GET stream; want none", n)
	}

	mcp.AddTool(srv, &mcp.Tool{Name: "late", Description: "Added while the session is idle."},
		func(context.Context, *mcp.CallToolRequest, echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("the upstream's tools/list_changed did not reach the client")
	}

	if err := cs.Close(); err != nil {
		t.Errorf("closing the session: %v", err)
	}
	testenv.WaitGoroutines(t, clientStream, 0, "the client's GET stream after the session ended")
	testenv.WaitGoroutines(t, upstreamStream, 0, "the upstream GET stream after the session ended")
}
