package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ToolScanner inspects the tools a server lists (poisoned descriptions, hidden instructions, …).
// internal/inspect/poison can satisfy it through a small adapter. A nil ToolScanner means no scan.
type ToolScanner interface {
	ScanTools(ctx context.Context, server string, tools []Tool) ([]ToolFinding, error)
}

// ConnectOptions configures Connect.
type ConnectOptions struct {
	// Timeout bounds connecting to and listing one server. Default 15s.
	Timeout time.Duration
	// Scanner, when not nil, scans each server's tools; its findings feed the risk score.
	Scanner ToolScanner
	// Home is used to re-score servers (broad filesystem roots).
	Home string
}

// Connect starts each enabled stdio server (with its configured environment) and connects to each HTTP or
// SSE server with the go-sdk client, lists its tools and records them on the inventory entry, scans them
// when a Scanner is set, and re-scores the server. Starting servers runs their commands: callers must make
// this opt-in. A server that fails gets ConnectError; Connect itself never fails.
func Connect(ctx context.Context, inv *Inventory, opts ConnectOptions) {
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	for i := range inv.Servers {
		s := &inv.Servers[i]
		if s.Disabled {
			continue
		}
		tools, err := listTools(ctx, s, opts.Timeout)
		if err != nil {
			s.ConnectError = err.Error()
			continue
		}
		s.Tools = tools
		if opts.Scanner != nil {
			findings, err := opts.Scanner.ScanTools(ctx, s.Name, tools)
			if err != nil {
				s.ConnectError = "tool scan: " + err.Error()
			}
			s.ToolFindings = findings
		}
		scoreServer(s, opts.Home)
	}
}

// headerTransport adds configured headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		r.Header.Set(k, v)
	}
	return t.base.RoundTrip(r)
}

func listTools(ctx context.Context, s *Server, timeout time.Duration) ([]Tool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var t mcp.Transport
	switch s.Transport {
	case TransportStdio:
		if s.Command == "" {
			return nil, fmt.Errorf("server %q has no command", s.Name)
		}
		cmd := exec.CommandContext(ctx, s.Command, s.rawArgs...)
		cmd.Env = os.Environ()
		for k, v := range s.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		t = &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}
	case TransportHTTP, TransportSSE:
		hc := &http.Client{Transport: headerTransport{base: http.DefaultTransport, headers: s.headers}}
		if s.Transport == TransportSSE {
			t = &mcp.SSEClientTransport{Endpoint: s.rawURL, HTTPClient: hc}
		} else {
			t = &mcp.StreamableClientTransport{Endpoint: s.rawURL, HTTPClient: hc, MaxRetries: -1, DisableStandaloneSSE: true}
		}
	default:
		return nil, fmt.Errorf("server %q: unknown transport %q", s.Name, s.Transport)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden-discover", Version: "1"}, nil)
	sess, err := client.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to %q: %w", s.Name, err)
	}
	defer sess.Close()
	var tools []Tool
	for tool, err := range sess.Tools(ctx, nil) {
		if err != nil {
			return tools, fmt.Errorf("list tools of %q: %w", s.Name, err)
		}
		schema, _ := json.Marshal(tool.InputSchema)
		tools = append(tools, Tool{Name: tool.Name, Description: tool.Description, InputSchema: schema})
		if len(tools) >= 1000 {
			break
		}
	}
	return tools, nil
}
