package gateway

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The test binary doubles as a real stdio MCP server: with MCPWARDEN_TEST_SERVER set, TestMain serves the test
// server on stdin/stdout instead of running tests. The gateway tests start it as a child process, so the stdio
// upstream is a real process speaking real MCP.
func TestMain(m *testing.M) {
	if log := os.Getenv("MCPWARDEN_TEST_LINE_SERVER"); log != "" {
		os.Exit(serveLineFramed(log)) // wire_test.go: a server that frames stdin the way Python and Node do
	}
	if name := os.Getenv("MCPWARDEN_TEST_SERVER"); name != "" {
		srv := newTestServer(name)
		if err := srv.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			log.Printf("test server: %v", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type echoIn struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

type slowIn struct {
	Steps int `json:"steps" jsonschema:"how many progress steps"`
	// StepMS is the delay per step in milliseconds.
	StepMS int `json:"step_ms" jsonschema:"delay per step in milliseconds"`
}

// newTestServer builds the MCP server used as upstream in gateway tests: echo, progress, sampling,
// elicitation, a tool that crashes the process, a prompt and resources.
func newTestServer(name string) *mcp.Server {
	version, instructions := "1.0.0", "Test server "+name+"."
	if f := os.Getenv("MCPWARDEN_TEST_VERSION_FILE"); f != "" { // the version it reports, read at start
		if b, err := os.ReadFile(f); err == nil {
			version = strings.TrimSpace(string(b))
		}
	}
	if v := os.Getenv("MCPWARDEN_TEST_INSTRUCTIONS"); v != "" {
		instructions = v
	}
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: version}, &mcp.ServerOptions{
		Instructions: instructions,
		SubscribeHandler: func(context.Context, *mcp.SubscribeRequest) error {
			return nil
		},
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error {
			return nil
		},
	})
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echo the text back."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ":" + in.Text}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "slow", Description: "Report progress, then answer."},
		func(ctx context.Context, req *mcp.CallToolRequest, in slowIn) (*mcp.CallToolResult, any, error) {
			for i := 1; i <= in.Steps; i++ {
				select {
				case <-time.After(time.Duration(in.StepMS) * time.Millisecond):
				case <-ctx.Done():
					return nil, nil, ctx.Err()
				}
				if tok := req.Params.GetProgressToken(); tok != nil {
					_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: float64(in.Steps)})
				}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done " + strconv.Itoa(in.Steps)}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "sample", Description: "Ask the client's model."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
				MaxTokens: 10,
				Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Text}}},
			})
			if err != nil {
				return nil, nil, fmt.Errorf("sampling failed: %w", err)
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "model said: " + res.Content.(*mcp.TextContent).Text}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "ask", Description: "Ask the user."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: in.Text, RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"answer": map[string]any{"type": "string"}}}})
			if err != nil {
				return nil, nil, fmt.Errorf("elicitation failed: %w", err)
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "user " + res.Action + " " + fmt.Sprint(res.Content["answer"])}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "crash", Description: "Exit the server process mid-call."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			os.Exit(3)
			return nil, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "hang", Description: "Never answer (until cancelled)."},
		func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
			<-ctx.Done()
			return nil, nil, ctx.Err()
		})
	mcp.AddTool(s, &mcp.Tool{Name: "noise", Description: "Write to stderr and a non-JSON line to stdout, then answer."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			fmt.Fprintln(os.Stderr, "diagnostic from "+name+": "+in.Text)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "noisy"}}}, nil, nil
		})
	if n, _ := strconv.Atoi(os.Getenv("MCPWARDEN_TEST_EXTRA_TOOLS")); n > 0 {
		for i := range n {
			mcp.AddTool(s, &mcp.Tool{Name: fmt.Sprintf("extra%04d", i), Description: "Filler for pagination tests."},
				func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
					return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
				})
		}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "Return the server's process id."},
		func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strconv.Itoa(os.Getpid())}}}, nil, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "greet", Description: "Greet someone.", Arguments: []*mcp.PromptArgument{{Name: "who"}}},
		func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello " + req.Params.Arguments["who"]}}}}, nil
		})
	s.AddResource(&mcp.Resource{URI: "test://" + name + "/static", Name: "static", MIMEType: "text/plain"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: "static from " + name}}}, nil
		})
	for _, add := range extraTestTools {
		add(s, name) // tools other test files add (they pick the server names they apply to)
	}
	return s
}

// extraTestTools are added to newTestServer by other test files, in their init functions.
var extraTestTools []func(s *mcp.Server, name string)

// newTestHTTPUpstream serves newTestServer over Streamable HTTP (stateless serves both eras).
func newTestHTTPUpstream(name string, stateless bool) http.Handler {
	srv := newTestServer(name)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{Stateless: stateless})
}
