// Package loadgen measures MCP endpoints: latency percentiles and throughput of tool calls (optionally
// interleaved against a second, baseline endpoint), the memory a gateway spends on idle sessions, gateway
// cold-start time, and long soak runs. It backs `mcpwarden bench`.
//
// Contract: loadgen drives only the endpoints, commands and processes its caller names (a URL, a stdio
// command, a pid, a gateway binary plus config); it never discovers targets by itself. Every loop is bounded
// in count and in time: calls by Options.Calls or a duration, connects and calls by timeouts, process starts
// by a start timeout, and everything by the caller's context. Clients are real go-sdk v1.8.0 clients
// (Streamable HTTP or a stdio command, one process per session), so the figures include what a real client
// pays. Results are plain structs with JSON tags; the functions report, they assert nothing about time.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Defaults applied by the Check methods of the option structs.
const (
	DefaultConnectTimeout = 30 * time.Second
	DefaultCallTimeout    = 30 * time.Second
	// connectParallelism bounds how many sessions are being opened at once.
	connectParallelism = 32
	// maxErrorSamples is how many distinct error messages a report keeps.
	maxErrorSamples = 5
)

// Endpoint is one MCP server to measure: a Streamable HTTP URL or a stdio command (each session then runs
// its own process). Exactly one of URL and Command is set.
type Endpoint struct {
	// Label names the endpoint in reports, e.g. "target" or "direct".
	Label string `json:"label"`
	// URL is a Streamable HTTP endpoint, e.g. http://127.0.0.1:8740/mcp/everything.
	URL string `json:"url,omitempty"`
	// Command is the argv of a server speaking MCP over stdin/stdout.
	Command []string `json:"command,omitempty"`
}

func (e Endpoint) String() string {
	if e.URL != "" {
		return e.URL
	}
	return "stdio: " + strings.Join(e.Command, " ")
}

// Check reports a missing or ambiguous endpoint.
func (e Endpoint) Check() error {
	switch {
	case e.URL == "" && len(e.Command) == 0:
		return fmt.Errorf("endpoint %q: give a URL (--url) or a stdio command (--stdio -- CMD ARGS…)", e.Label)
	case e.URL != "" && len(e.Command) > 0:
		return fmt.Errorf("endpoint %q: give either a URL or a stdio command, not both", e.Label)
	case e.URL != "" && !strings.HasPrefix(e.URL, "http://") && !strings.HasPrefix(e.URL, "https://"):
		return fmt.Errorf("endpoint %q: URL %q must start with http:// or https://", e.Label, e.URL)
	}
	return nil
}

// Pool is a set of open client sessions to one endpoint.
type Pool struct {
	Endpoint Endpoint
	// Sessions are the open sessions, all to Endpoint.
	Sessions []*mcp.ClientSession
	// ProtocolVersion is the version the first session negotiated.
	ProtocolVersion string

	httpClient *http.Client
}

// Dial opens n sessions to ep, at most connectParallelism at a time, each connect bounded by timeout.
// version is the protocol version the client asks for ("" for the client's latest; the go-sdk client
// falls back to the newest version the server supports). On error every session opened so far is closed.
func Dial(ctx context.Context, ep Endpoint, n int, version string, timeout time.Duration) (*Pool, error) {
	if err := ep.Check(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("endpoint %q: need at least one session, got %d", ep.Label, n)
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	p := &Pool{Endpoint: ep, Sessions: make([]*mcp.ClientSession, n)}
	if ep.URL != "" {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// One POST plus one standalone GET stream per session may be open at once; keep them all pooled
		// so the benchmark measures calls, not TCP handshakes.
		tr.MaxIdleConns = 0
		tr.MaxIdleConnsPerHost = 2*n + 8
		p.httpClient = &http.Client{Transport: tr}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden-bench", Version: "1"}, nil)
	errs := make([]error, n)
	sem := make(chan struct{}, connectParallelism)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			cs, err := client.Connect(cctx, p.transport(), &mcp.ClientSessionOptions{ProtocolVersion: version})
			if err != nil {
				errs[i] = err
				return
			}
			p.Sessions[i] = cs
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		failed := 0
		for _, e := range errs {
			if e != nil {
				failed++
			}
		}
		p.Close()
		first := slices.IndexFunc(errs, func(e error) bool { return e != nil })
		return nil, fmt.Errorf("endpoint %q (%s): %d of %d sessions failed to connect; first error: %w (is the server running, and is the URL or command right?)",
			ep.Label, ep, failed, n, errs[first])
	}
	if res := p.Sessions[0].InitializeResult(); res != nil {
		p.ProtocolVersion = res.ProtocolVersion
	}
	return p, nil
}

// transport returns a fresh go-sdk transport for one session.
func (p *Pool) transport() mcp.Transport {
	if p.Endpoint.URL != "" {
		return &mcp.StreamableClientTransport{Endpoint: p.Endpoint.URL, HTTPClient: p.httpClient, MaxRetries: -1}
	}
	cmd := exec.Command(p.Endpoint.Command[0], p.Endpoint.Command[1:]...)
	cmd.Stderr = io.Discard
	return &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}
}

// Close closes every open session (stopping stdio processes) and idle HTTP connections.
func (p *Pool) Close() {
	var wg sync.WaitGroup
	for _, cs := range p.Sessions {
		if cs == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cs.Close()
		}()
	}
	wg.Wait()
	if p.httpClient != nil {
		p.httpClient.CloseIdleConnections()
	}
}

// Call is one tool call: a tool name and its JSON object arguments.
type Call struct {
	Tool string          `json:"tool"`
	Args json.RawMessage `json:"args,omitempty"`
}

// ParseArgs checks that s is a JSON object and returns it ("" means no arguments).
func ParseArgs(s string) (json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, fmt.Errorf("--args %q is not a JSON object (write it like '{\"text\":\"hi\"}')", s)
	}
	return json.RawMessage(s), nil
}

// do performs one call on cs and returns its latency; a tool result with isError counts as an error.
func (c Call) do(ctx context.Context, cs *mcp.ClientSession, timeout time.Duration) (time.Duration, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	params := &mcp.CallToolParams{Name: c.Tool}
	if len(c.Args) > 0 {
		params.Arguments = c.Args
	}
	start := time.Now()
	res, err := cs.CallTool(cctx, params)
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	if res.IsError {
		return d, fmt.Errorf("tool %q returned an error result: %s", c.Tool, resultText(res))
	}
	return d, nil
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	s := strings.Join(parts, " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// unsafeWords mark tools the automatic choice never calls: they may change something, wait on a human
// or a model, or fail on purpose.
var unsafeWords = []string{"delete", "remove", "drop", "write", "exec", "run", "kill", "create", "update",
	"send", "post", "push", "move", "rename", "sampl", "elicit", "error", "sleep", "long", "trigger",
	"reconnect", "input_required", "progress", "missing", "roots", "destroy", "set", "put", "install"}

// preferredWords rank the harmless candidates.
var preferredWords = []string{"simple", "echo", "ping", "time", "add", "sum", "get", "list"}

// PickTool chooses a harmless tool to call when the user named none: a tool whose required arguments are
// all strings (they are filled with "mcpwarden-bench"), whose name suggests no side effect, preferring
// tools annotated read-only and names such as "simple", "echo" or "ping". It errors, listing the tools,
// when nothing qualifies.
func PickTool(tools []*mcp.Tool) (Call, error) {
	type cand struct {
		call  Call
		score int
	}
	var cands []cand
	var names []string
	for _, t := range tools {
		names = append(names, t.Name)
		lower := strings.ToLower(t.Name)
		if slices.ContainsFunc(unsafeWords, func(w string) bool { return strings.Contains(lower, w) }) {
			continue
		}
		if t.Annotations != nil && t.Annotations.DestructiveHint != nil && *t.Annotations.DestructiveHint {
			continue
		}
		args, ok := fillRequired(t.InputSchema)
		if !ok {
			continue
		}
		score := 0
		if t.Annotations != nil && t.Annotations.ReadOnlyHint {
			score += 100
		}
		for i, w := range preferredWords {
			if strings.Contains(lower, w) {
				score += 50 - i
				break
			}
		}
		if len(args) == 0 {
			score += 5
		}
		c := Call{Tool: t.Name}
		if len(args) > 0 {
			c.Args, _ = json.Marshal(args)
		}
		cands = append(cands, cand{c, score})
	}
	if len(cands) == 0 {
		return Call{}, fmt.Errorf("no tool looks safe to call repeatedly (tools: %s); choose one with --tool NAME --args JSON", strings.Join(names, ", "))
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.score > best.score {
			best = c
		}
	}
	return best.call, nil
}

// fillRequired returns arguments for the required properties of an input schema when all of them are
// strings; ok is false otherwise.
func fillRequired(schema any) (map[string]any, bool) {
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, false
	}
	var s struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false
		}
	}
	args := map[string]any{}
	for _, name := range s.Required {
		p, ok := s.Properties[name]
		if !ok || p.Type != "string" {
			return nil, false
		}
		args[name] = "mcpwarden-bench"
	}
	return args, true
}

// ResolveCall decides what to call on the pool's endpoint. When tool is set it is used with args as
// given; otherwise the tools are listed and PickTool chooses.
func ResolveCall(ctx context.Context, p *Pool, tool string, args json.RawMessage, timeout time.Duration) (Call, error) {
	if tool != "" {
		return Call{Tool: tool, Args: args}, nil
	}
	tools, err := listTools(ctx, p, timeout)
	if err != nil {
		return Call{}, err
	}
	return PickTool(tools)
}

// baselineCall adapts the target's call to the baseline: the same tool when the baseline has it, else the
// name without an aggregate "{server}." prefix.
func baselineCall(ctx context.Context, p *Pool, c Call, timeout time.Duration) (Call, error) {
	tools, err := listTools(ctx, p, timeout)
	if err != nil {
		return Call{}, err
	}
	has := func(name string) bool {
		return slices.ContainsFunc(tools, func(t *mcp.Tool) bool { return t.Name == name })
	}
	if has(c.Tool) {
		return c, nil
	}
	if _, rest, ok := strings.Cut(c.Tool, "."); ok && has(rest) {
		c.Tool = rest
		return c, nil
	}
	return Call{}, fmt.Errorf("endpoint %q has no tool %q; name the baseline's tool with --compare-tool", p.Endpoint.Label, c.Tool)
}

func listTools(ctx context.Context, p *Pool, timeout time.Duration) ([]*mcp.Tool, error) {
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var tools []*mcp.Tool
	for t, err := range p.Sessions[0].Tools(cctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: listing tools: %w", p.Endpoint.Label, err)
		}
		tools = append(tools, t)
		if len(tools) > 10000 {
			break
		}
	}
	return tools, nil
}
