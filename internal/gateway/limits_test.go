package gateway

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/upstream"
)

type nopConn struct{ upstream.Conn }

func (nopConn) Close() error { return nil }

func TestProcessLimit(t *testing.T) {
	rt := &serverRuntime{name: "s"}
	open := rt.limitProcesses(func(context.Context) (upstream.Conn, error) { return nopConn{}, nil }, 2)
	a, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := open(context.Background()); err == nil || !strings.Contains(err.Error(), "already runs 2 processes") {
		t.Fatalf("third process: err = %v", err)
	}
	_ = a.Close()
	_ = a.Close() // closing twice frees one slot only
	if _, err := open(context.Background()); err != nil {
		t.Fatalf("after a close: %v", err)
	}
	if _, err := open(context.Background()); err == nil {
		t.Fatalf("a double close freed two slots")
	}
}

// TestMaxSessions: http.max_sessions caps the 2025-era sessions held at once; the next initialize is
// refused with a message that names the cap, and a session that ends makes room again.
func TestMaxSessions(t *testing.T) {
	g, base := startConfigGateway(t, "http:\n  max_sessions: 2\nservers:\n"+stdioServerYAML("cap"), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	url := base + "/mcp/cap"
	first := connect(t, url, legacy, &recorder{})
	connect(t, url, legacy, &recorder{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := newClient(&recorder{}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, &mcp.ClientSessionOptions{ProtocolVersion: legacy})
	if err == nil || !strings.Contains(err.Error(), "Service Unavailable") {
		t.Fatalf("third session under max_sessions 2: %v; want 503", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.front.SessionCount() >= 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cs := connect(t, url, legacy, &recorder{})
	if text, isErr := callText(t, cs, "echo", map[string]any{"text": "room"}); isErr || text != "cap:room" {
		t.Fatalf("echo on the session that took the freed place: %q %v", text, isErr)
	}
}
