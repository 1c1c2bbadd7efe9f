package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
)

// httpHangGuard bounds every wait in these tests so a bug fails the test instead of hanging it. It is not a
// timing assertion: healthy runs finish far sooner.
const httpHangGuard = 30 * time.Second

func wireMsg(t *testing.T, raw string) *jsonrpc.Message {
	t.Helper()
	m, err := jsonrpc.Decode([]byte(raw))
	if err != nil {
		t.Fatalf("test message %s: %v", raw, err)
	}
	return m
}

// send sends raw with the test's context (a request's exchange lives as long as Send's ctx).
func wireSend(t *testing.T, c Conn, raw string) {
	t.Helper()
	wireSendHeader(t, c, raw, nil)
}

func wireSendHeader(t *testing.T, c Conn, raw string, h http.Header) {
	t.Helper()
	if err := c.Send(t.Context(), Frame{Msg: wireMsg(t, raw), Header: h}); err != nil {
		t.Fatalf("Send(%s): %v", raw, err)
	}
}

func wireRecv(t *testing.T, c Conn) Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), httpHangGuard)
	defer cancel()
	f, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return f
}

// recvResponse receives frames until the response with id (raw JSON) and returns it and what came before.
func wireRecvResponse(t *testing.T, c Conn, id string) (Frame, []Frame) {
	t.Helper()
	var before []Frame
	for {
		f := wireRecv(t, c)
		if f.Msg.Kind.IsResponse() && string(f.Msg.ID) == id {
			return f, before
		}
		before = append(before, f)
	}
}

// errorOf returns the error member of an error response, failing the test for anything else.
func wireErrorOf(t *testing.T, f Frame) *jsonrpc.WireError {
	t.Helper()
	if f.Msg.Kind != jsonrpc.KindError || f.Msg.Error == nil {
		t.Fatalf("got %s, want an error response", f.Msg.Raw)
	}
	return f.Msg.Error
}

// resultText returns the first text content of a tools/call result.
func wireResultText(t *testing.T, f Frame) string {
	t.Helper()
	if f.Msg.Kind != jsonrpc.KindResult {
		t.Fatalf("got %s, want a result", f.Msg.Raw)
	}
	var r struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(f.Msg.Result, &r); err != nil || len(r.Content) == 0 {
		t.Fatalf("result %s has no text content (%v)", f.Msg.Result, err)
	}
	return r.Content[0].Text
}

func wireClose(t *testing.T, c Conn) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// httpRecord is one HTTP request a httpRecorder saw.
type httpRecord struct {
	Method string
	Header http.Header
	Body   string
}

// httpRecorder wraps a handler and records every request (headers and body) before serving it.
type httpRecorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []httpRecord
}

func (rec *httpRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, httpRecord{Method: r.Method, Header: r.Header.Clone(), Body: string(body)})
	rec.mu.Unlock()
	rec.next.ServeHTTP(w, r)
}

func (rec *httpRecorder) all() []httpRecord {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]httpRecord(nil), rec.reqs...)
}

// find returns the httpRecord requests matching method whose body contains sub.
func (rec *httpRecorder) find(method, sub string) []httpRecord {
	var out []httpRecord
	for _, r := range rec.all() {
		if r.Method == method && strings.Contains(r.Body, sub) {
			out = append(out, r)
		}
	}
	return out
}

type echoArgs struct {
	Text string `json:"text"`
}

// fixtureServer is a real go-sdk MCP server with tools that exercise every server→client path.
func goSDKFixture() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "fixture", Version: "1.0.0"}, nil)
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Returns its text."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			return text("echo: " + in.Text), nil, nil
		})
	// sample asks the client's model (a server→client request on the call's stream).
	mcp.AddTool(s, &mcp.Tool{Name: "sample", Description: "Asks the client to sample."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
				MaxTokens: 10,
				Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Text}}},
			})
			if err != nil {
				return nil, nil, err
			}
			tc, _ := res.Content.(*mcp.TextContent)
			if tc == nil {
				return text("sampled: <no text>"), nil, nil
			}
			return text("sampled: " + tc.Text), nil, nil
		})
	// notify sends a notification unrelated to the call, which goes to the standalone GET stream.
	mcp.AddTool(s, &mcp.Tool{Name: "notify", Description: "Sends a notification out of band."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			err := req.Session.NotifyProgress(context.Background(), &mcp.ProgressNotificationParams{
				ProgressToken: "out-of-band", Progress: 1, Message: in.Text,
			})
			if err != nil {
				return nil, nil, err
			}
			return text("notified"), nil, nil
		})
	// disconnect closes the call's stream before answering (2025-11-25 SEP-1699), so the client must
	// resume with GET + Last-Event-ID.
	mcp.AddTool(s, &mcp.Tool{Name: "disconnect", Description: "Closes the stream, then answers."},
		func(ctx context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			if req.Extra != nil && req.Extra.CloseSSEStream != nil {
				req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 20 * time.Millisecond})
			}
			return text("after disconnect: " + in.Text), nil, nil
		})
	return s
}
