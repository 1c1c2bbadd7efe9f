package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/gateway/gatewaytest"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// seen records what the client was sent by the server, through the gateway.
type seen struct {
	mu          sync.Mutex
	progress    int
	updated     []string
	sampled     []string
	elicited    []string
	listChanged int
}

func (s *seen) snapshot() (progress int, updated []string, listChanged int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress, append([]string(nil), s.updated...), s.listChanged
}

func newClient(s *seen) *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(ctx context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			s.mu.Lock()
			s.sampled = append(s.sampled, fmt.Sprint(req.Params.Messages[0].Content))
			s.mu.Unlock()
			return &mcp.CreateMessageResult{Model: "e2e-model", Role: "assistant", Content: &mcp.TextContent{Text: "sampled-by-e2e"}}, nil
		},
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			s.mu.Lock()
			s.elicited = append(s.elicited, req.Params.Message)
			s.mu.Unlock()
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
		ProgressNotificationHandler: func(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
			s.mu.Lock()
			s.progress++
			s.mu.Unlock()
		},
		ResourceUpdatedHandler: func(ctx context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			s.mu.Lock()
			s.updated = append(s.updated, req.Params.URI)
			s.mu.Unlock()
		},
		ToolListChangedHandler: func(ctx context.Context, req *mcp.ToolListChangedRequest) {
			s.mu.Lock()
			s.listChanged++
			s.mu.Unlock()
		},
	})
}

// eventually polls cond (bounded) — the server sends some notifications on its own schedule.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestServerEverything drives the npm reference server @modelcontextprotocol/server-everything through
// /mcp/{name} (stdio and Streamable HTTP upstreams) and through the aggregate /mcp: echo, sampling and
// elicitation round trips, progress notifications and resource subscriptions.
func TestServerEverything(t *testing.T) {
	t.Parallel()
	node, entry := testenv.NodePath(t), testenv.ServerEverythingNPM(t)
	httpURL, _ := testenv.StartServerEverythingNPM(t)
	servers := fmt.Sprintf(`servers:
  - name: everything
    command: [%q, %q, "stdio"]
    timeout: 30s
  - name: everything-http
    url: %s
    timeout: 30s
`, node, entry, httpURL)
	gw := gatewaytest.Start(t, servers)

	for _, tc := range []struct {
		name, path, prefix, resourcePrefix, version string
	}{
		{"stdio", "/mcp/everything", "", "", ""}, // the client's default: server/discover, then falls back to initialize
		{"http", "/mcp/everything-http", "", "", "2025-11-25"},
		{"aggregate", "/mcp", "everything.", "mcpwarden://everything/", "2025-11-25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &seen{}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cs, err := newClient(s).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: gw.URL + tc.path},
				&mcp.ClientSessionOptions{ProtocolVersion: tc.version})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			if v := cs.InitializeResult().ProtocolVersion; !strings.HasPrefix(v, "2025-") {
				t.Errorf("negotiated %q, want a 2025 version (the npm server speaks only the session era)", v)
			}

			// The sampling and elicitation tools appear after initialized, announced by list_changed.
			var names []string
			eventually(t, "trigger-sampling-request in tools/list", func() bool {
				res, err := cs.ListTools(ctx, nil)
				if err != nil {
					t.Fatalf("tools/list: %v", err)
				}
				names = names[:0]
				for _, tl := range res.Tools {
					names = append(names, tl.Name)
				}
				return strings.Contains(strings.Join(names, ","), tc.prefix+"trigger-sampling-request")
			})

			call := func(name string, args map[string]any) *mcp.CallToolResult {
				t.Helper()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tc.prefix + name, Arguments: args})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if res.IsError {
					t.Fatalf("%s: tool error: %s", name, text(res))
				}
				return res
			}
			if got := text(call("echo", map[string]any{"message": "through mcpwarden"})); got != "Echo: through mcpwarden" {
				t.Errorf("echo = %q", got)
			}
			if got := text(call("trigger-sampling-request", map[string]any{"prompt": "hello model", "maxTokens": 5})); !strings.Contains(got, "sampled-by-e2e") {
				t.Errorf("sampling round trip: %q", got)
			}
			if got := text(call("trigger-elicitation-request", map[string]any{})); !strings.Contains(strings.ToLower(got), "decline") {
				t.Errorf("elicitation round trip: %q", got)
			}
			s.mu.Lock()
			nSampled, nElicited := len(s.sampled), len(s.elicited)
			s.mu.Unlock()
			if nSampled != 1 || nElicited != 1 {
				t.Errorf("client saw %d sampling and %d elicitation requests, want 1 each", nSampled, nElicited)
			}

			params := &mcp.CallToolParams{Name: tc.prefix + "trigger-long-running-operation", Arguments: map[string]any{"duration": 1, "steps": 3}}
			params.SetProgressToken("e2e-progress")
			if _, err := cs.CallTool(ctx, params); err != nil {
				t.Fatalf("long-running operation: %v", err)
			}
			eventually(t, "3 progress notifications", func() bool { p, _, _ := s.snapshot(); return p >= 3 })

			uri := tc.resourcePrefix + "demo://resource/static/document/architecture.md"
			if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
				t.Fatalf("subscribe %s: %v", uri, err)
			}
			call("toggle-subscriber-updates", map[string]any{})
			eventually(t, "notifications/resources/updated for "+uri, func() bool {
				_, updated, _ := s.snapshot()
				for _, u := range updated {
					if u == uri {
						return true
					}
				}
				return false
			})
			call("toggle-subscriber-updates", map[string]any{}) // stop the timer
		})
	}
}
