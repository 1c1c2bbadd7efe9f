package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/sse"
)

// TestSSEGoSDK drives a 2024-11-05 session against a real go-sdk HTTP+SSE server, including a
// server→client sampling request answered through Send. The event stream is opened with StreamClient.
func TestSSEGoSDK(t *testing.T) {
	srv := goSDKFixture()
	ts := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	defer ts.Close()
	requests, streams := &methodCounter{base: http.DefaultTransport}, &methodCounter{base: http.DefaultTransport}

	conn, err := NewSSE(SSEOptions{Name: "legacy", URL: ts.URL,
		Client: &http.Client{Transport: requests}, StreamClient: &http.Client{Transport: streams}}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{"sampling":{}},"clientInfo":{"name":"c","version":"1"}}}`)
	init, _ := wireRecvResponse(t, conn, "1")
	if !strings.Contains(string(init.Msg.Result), `"2024-11-05"`) {
		t.Fatalf("initialize result %s", init.Msg.Raw)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	wireSend(t, conn, `{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
	list, _ := wireRecvResponse(t, conn, `"l"`)
	if !strings.Contains(string(list.Msg.Result), `"echo"`) {
		t.Errorf("tools/list result %s lacks echo", list.Msg.Result)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sample","arguments":{"text":"q"}}}`)
	sreq := wireRecv(t, conn)
	if sreq.Msg.Method != "sampling/createMessage" {
		t.Fatalf("got %s, want sampling/createMessage", sreq.Msg.Raw)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","id":`+string(sreq.Msg.ID)+`,"result":{"role":"assistant","content":{"type":"text","text":"A"},"model":"m"}}`)
	res, _ := wireRecvResponse(t, conn, "2")
	if got := wireResultText(t, res); got != "sampled: A" {
		t.Errorf("sample result = %q", got)
	}
	wireClose(t, conn)
	if _, err := conn.Recv(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
	if got := streams.counts(); !cmp.Equal(got, map[string]int{http.MethodGet: 1}) {
		t.Errorf("requests through StreamClient: %v, want the event stream's GET only", got)
	}
	if got := requests.counts(); got[http.MethodGet] != 0 || got[http.MethodPost] != 5 {
		t.Errorf("requests through Client: %v, want the 5 POSTs only", got)
	}
}

// sseServer is a raw HTTP+SSE server whose GET sends the given endpoint event and then whatever the
// test pushes on events; ending closes the stream. POSTs are recorded and answered with postStatus.
type sseServer struct {
	endpoint   string
	events     chan string // data of "message" events to send
	end        chan struct{}
	posts      chan string
	postStatus atomic.Int32
}

func newSSEServer(endpoint string) *sseServer {
	s := &sseServer{endpoint: endpoint, events: make(chan string, 8), end: make(chan struct{}), posts: make(chan string, 8)}
	s.postStatus.Store(http.StatusAccepted)
	return s
}

func (s *sseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		s.posts <- r.URL.RequestURI() + " " + string(body)
		status := int(s.postStatus.Load())
		if status >= 400 {
			http.Error(w, "<html>nope</html>", status)
			return
		}
		w.WriteHeader(status)
		return
	}
	startSSE(w)
	if s.endpoint != "" {
		_ = sse.WriteEvent(w, sse.Event{Type: "endpoint", Data: []byte(s.endpoint)})
		w.(http.Flusher).Flush()
	}
	for {
		select {
		case d := <-s.events:
			_ = sse.WriteEvent(w, sse.Event{Type: "message", Data: []byte(d)})
			w.(http.Flusher).Flush()
		case <-s.end:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// TestSSEEndpointOrigin: the endpoint is resolved against the SSE URL, and one on another origin is
// refused before any message is sent.
func TestSSEEndpointOrigin(t *testing.T) {
	tests := []struct {
		name     string
		endpoint func(base string) string
		wantPath string // where the POST lands; "" = Open must fail
	}{
		{name: "absolute path", endpoint: func(string) string { return "/messages?sessionId=abc" }, wantPath: "/messages?sessionId=abc"},
		{name: "relative path", endpoint: func(string) string { return "msg?s=1" }, wantPath: "/sse/msg?s=1"},
		{name: "same origin absolute", endpoint: func(b string) string { return b + "/m" }, wantPath: "/m"},
		{name: "other host", endpoint: func(string) string { return "http://evil.example/messages" }},
		{name: "other port", endpoint: func(b string) string { return "http://127.0.0.1:1/messages" }},
		{name: "other scheme", endpoint: func(b string) string { return strings.Replace(b, "http://", "https://", 1) + "/m" }},
		{name: "scheme-relative other host", endpoint: func(string) string { return "//evil.example/m" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSSEServer("")
			ts := httptest.NewUnstartedServer(srv)
			srv.endpoint = tt.endpoint("http://" + ts.Listener.Addr().String())
			ts.Start()
			defer ts.Close()
			conn, err := NewSSE(SSEOptions{Name: "sse", URL: ts.URL + "/sse/stream"}).Open(t.Context())
			if tt.wantPath == "" {
				var ue *Error
				if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "another origin") {
					t.Fatalf("Open error = %v, want an *Error refusing another origin", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer wireClose(t, conn)
			wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			if diff := cmp.Diff(tt.wantPath+` {"jsonrpc":"2.0","method":"notifications/initialized"}`, <-srv.posts); diff != "" {
				t.Errorf("POST (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSSEOpenFailures: no endpoint in time, a stream that ends first, or a non-SSE answer fail Open.
func TestSSEOpenFailures(t *testing.T) {
	t.Run("no endpoint before ctx ends", func(t *testing.T) {
		srv := newSSEServer("")
		ts := httptest.NewServer(srv)
		defer ts.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := NewSSE(SSEOptions{Name: "slow", URL: ts.URL}).Open(ctx)
		if err == nil || !strings.Contains(err.Error(), "no endpoint event arrived in time") {
			t.Errorf("Open error = %v", err)
		}
	})
	t.Run("stream ends before endpoint", func(t *testing.T) {
		srv := newSSEServer("")
		close(srv.end)
		ts := httptest.NewServer(srv)
		defer ts.Close()
		_, err := NewSSE(SSEOptions{Name: "short", URL: ts.URL}).Open(t.Context())
		if err == nil || !strings.Contains(err.Error(), "ended before the endpoint event") {
			t.Errorf("Open error = %v", err)
		}
	})
	t.Run("not an event stream", func(t *testing.T) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, `{}`)
		}))
		defer ts.Close()
		_, err := NewSSE(SSEOptions{Name: "json", URL: ts.URL}).Open(t.Context())
		if err == nil || !strings.Contains(err.Error(), "instead of text/event-stream") {
			t.Errorf("Open error = %v", err)
		}
	})
	t.Run("HTTP error", func(t *testing.T) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no such endpoint", http.StatusNotFound)
		}))
		defer ts.Close()
		_, err := NewSSE(SSEOptions{Name: "nf", URL: ts.URL}).Open(t.Context())
		if err == nil || !strings.Contains(err.Error(), `upstream "nf": open: answered HTTP 404 Not Found: no such endpoint`) {
			t.Errorf("Open error = %v", err)
		}
	})
}

// TestSSEStreamEndAndPostFailure: messages arrive from the stream; a refused POST of a request becomes an
// error response; the end of the stream makes Recv return an *Error.
func TestSSEStreamEndAndPostFailure(t *testing.T) {
	srv := newSSEServer("/messages")
	ts := httptest.NewServer(srv)
	defer ts.Close()
	conn, err := NewSSE(SSEOptions{Name: "ends", URL: ts.URL}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer wireClose(t, conn)

	srv.events <- `{"jsonrpc":"2.0","id":"x","result":{"v":1}}`
	if f := wireRecv(t, conn); string(f.Msg.Raw) != `{"jsonrpc":"2.0","id":"x","result":{"v":1}}` || f.Related != nil {
		t.Errorf("got %s (Related %q)", f.Msg.Raw, f.Related)
	}

	srv.postStatus.Store(http.StatusInternalServerError)
	wireSend(t, conn, `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`)
	<-srv.posts
	resp, _ := wireRecvResponse(t, conn, "5")
	if e := wireErrorOf(t, resp); e.Code != jsonrpc.CodeUpstreamUnavailable || !strings.Contains(e.Message, `upstream "ends" answered HTTP 500 Internal Server Error: <html>nope</html>`) {
		t.Errorf("error %d %q", e.Code, e.Message)
	}
	err = conn.Send(t.Context(), Frame{Msg: wireMsg(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}`)})
	<-srv.posts
	var ue *Error
	if !errors.As(err, &ue) || ue.Op != "send" {
		t.Errorf("Send(notification) = %v, want an *Error", err)
	}

	close(srv.end)
	ctx, cancel := context.WithTimeout(t.Context(), httpHangGuard)
	defer cancel()
	_, err = conn.Recv(ctx)
	if !errors.As(err, &ue) || ue.Op != "recv" || ue.Server != "ends" {
		t.Fatalf("Recv after the stream ended = %v, want an *Error for recv", err)
	}
	if err := conn.Send(t.Context(), Frame{Msg: wireMsg(t, `{"jsonrpc":"2.0","id":6,"method":"ping"}`)}); !errors.As(err, &ue) {
		t.Errorf("Send after the stream ended = %v, want the *Error", err)
	}
}
