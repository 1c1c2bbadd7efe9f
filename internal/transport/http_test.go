package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
)

// fakeBackend answers every request with {"method": …}; "chatty" first sends a related notification,
// "hold" waits until released, "broadcast" sends an unrelated notification then answers.
type fakeBackend struct {
	mu       sync.Mutex
	release  chan struct{}
	opened   []*session.Info
	sinks    []Sink
	received []string
}

func newFakeBackend() *fakeBackend { return &fakeBackend{release: make(chan struct{})} }

func (b *fakeBackend) Open(ctx context.Context, info *session.Info, sink Sink) (Session, error) {
	b.mu.Lock()
	b.opened = append(b.opened, info)
	b.sinks = append(b.sinks, sink)
	b.mu.Unlock()
	return &fakeSession{b: b, sink: sink}, nil
}

type fakeSession struct {
	b    *fakeBackend
	sink Sink
}

func (s *fakeSession) Handle(ctx context.Context, msg *jsonrpc.Message, hdr http.Header) {
	s.b.mu.Lock()
	s.b.received = append(s.b.received, msg.Method+string(msg.ID))
	s.b.mu.Unlock()
	if msg.Kind != jsonrpc.KindRequest {
		return
	}
	note := func(method string, related jsonrpc.ID) {
		b, _ := jsonrpc.NewNotification(method, map[string]any{"x": 1})
		_ = s.sink.Send(ctx, jsonrpc.MustDecode(b), related)
	}
	switch msg.Method {
	case "chatty":
		note("notifications/message", msg.ID)
	case "broadcast":
		note("notifications/tools/list_changed", nil)
	case "hold", "chattyhold":
		select {
		case <-s.b.release:
		case <-ctx.Done():
			return
		}
	}
	result := map[string]any{"method": msg.Method}
	if len(hdr) > 0 {
		result["params_headers"] = hdr
	}
	if msg.Method == "initialize" {
		result["protocolVersion"] = "2025-11-25"
	}
	b, _ := jsonrpc.NewResult(msg.ID, result)
	_ = s.sink.Send(ctx, jsonrpc.MustDecode(b), msg.ID)
}

func (s *fakeSession) Close() {}

func newTestFront(t *testing.T, b Backend) (*HTTPFront, *httptest.Server) {
	t.Helper()
	f := NewHTTPFront(HTTPOptions{
		MaxMessageBytes: 1024, KeepAlive: time.Hour,
		AllowedOrigins: []string{"https://console.example.com"},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp/x", f.Handler("x", b))
	mux.Handle("/mcp/y", f.Handler("y", b))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ts.Close()
		f.Close(context.Background())
	})
	return f, ts
}

type resp struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, body string, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

func errCode(t *testing.T, body string) int64 {
	t.Helper()
	var m struct {
		Error *jsonrpc.WireError `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Error == nil {
		t.Fatalf("not a JSON-RPC error: %q", body)
	}
	return m.Error.Code
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func initSession(t *testing.T, url string) string {
	t.Helper()
	r := do(t, "POST", url, initBody, nil)
	sid := r.header.Get(HeaderSessionID)
	if r.status != 200 || sid == "" {
		t.Fatalf("initialize: %d %q sid=%q", r.status, r.body, sid)
	}
	return sid
}

func TestHostAndOriginChecks(t *testing.T) {
	_, ts := newTestFront(t, newFakeBackend())
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"loopback no origin", nil, 200},
		{"loopback origin", map[string]string{"Origin": "http://localhost:5173"}, 200},
		{"allowed origin", map[string]string{"Origin": "https://console.example.com"}, 200},
		{"foreign origin", map[string]string{"Origin": "http://evil.example"}, 403},
		{"null origin", map[string]string{"Origin": "null"}, 403},
		{"rebinding host", map[string]string{"Host": "evil.example:8740"}, 403},
		{"rebinding host and origin", map[string]string{"Host": "evil.example", "Origin": "http://evil.example"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := do(t, "POST", ts.URL+"/mcp/x", initBody, tc.hdr); r.status != tc.status {
				t.Errorf("status %d, want %d (%s)", r.status, tc.status, r.body)
			}
		})
	}
}

func TestPostRejections(t *testing.T) {
	_, ts := newTestFront(t, newFakeBackend())
	url := ts.URL + "/mcp/x"
	for _, tc := range []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   int64
	}{
		{"too large", `{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"` + strings.Repeat("a", 2000) + `"}}`, nil, 413, jsonrpc.CodeInvalidRequest},
		{"batch", `[` + initBody + `]`, nil, 400, jsonrpc.CodeInvalidRequest},
		{"not json", `{"jsonrpc":`, nil, 400, jsonrpc.CodeParseError},
		{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"initialize","method":"tools/call"}`, nil, 400, jsonrpc.CodeInvalidRequest},
		{"no session", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil, 400, jsonrpc.CodeInvalidRequest},
		{"unknown session", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{HeaderSessionID: "nope"}, 404, jsonrpc.CodeUpstreamUnavailable},
		{"wrong content type", initBody, map[string]string{"Content-Type": "text/plain"}, 415, jsonrpc.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", url, tc.body, tc.hdr)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tc.status, r.body)
			}
			if got := errCode(t, r.body); got != tc.code {
				t.Errorf("code %d, want %d (%s)", got, tc.code, r.body)
			}
		})
	}
	if r := do(t, "PUT", url, "", nil); r.status != 405 || r.header.Get("Allow") == "" {
		t.Errorf("PUT: %d allow=%q", r.status, r.header.Get("Allow"))
	}
}

func TestLegacySessionLifecycle(t *testing.T) {
	b := newFakeBackend()
	f, ts := newTestFront(t, b)
	url := ts.URL + "/mcp/x"
	sid := initSession(t, url)
	h := map[string]string{HeaderSessionID: sid, HeaderProtocolVersion: "2025-11-25"}

	r := do(t, "POST", url, `{"jsonrpc":"2.0","id":"a1","method":"tools/list"}`, h)
	if events := parseSSE(r.body); r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" || len(events) != 1 || events[0].data != `{"jsonrpc":"2.0","id":"a1","result":{"method":"tools/list"}}` {
		t.Fatalf("request: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := do(t, "POST", url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, h); r.status != 202 {
		t.Errorf("notification: %d", r.status)
	}
	// A session belongs to its endpoint.
	if r := do(t, "POST", ts.URL+"/mcp/y", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, h); r.status != 404 {
		t.Errorf("session used on another endpoint: %d", r.status)
	}
	// A message before the response turns the response into an SSE stream with event ids.
	r = do(t, "POST", url, `{"jsonrpc":"2.0","id":3,"method":"chatty"}`, h)
	if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("chatty: %d %q", r.status, r.header.Get("Content-Type"))
	}
	events := parseSSE(r.body)
	if len(events) != 2 || !strings.Contains(events[0].data, "notifications/message") || !strings.Contains(events[1].data, `"id":3`) || events[0].id == "" {
		t.Errorf("chatty events: %+v", events)
	}
	if r := do(t, "POST", url, `{"jsonrpc":"2.0","id":4,"method":"x"}`, map[string]string{HeaderSessionID: sid, HeaderProtocolVersion: "1999-01-01"}); r.status != 400 {
		t.Errorf("bad version header: %d", r.status)
	}
	if r := do(t, "DELETE", url, "", h); r.status != 204 {
		t.Errorf("DELETE: %d", r.status)
	}
	if r := do(t, "POST", url, `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`, h); r.status != 404 {
		t.Errorf("after DELETE: %d", r.status)
	}
	if n := f.SessionCount(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

type sseEvent struct{ id, data string }

func parseSSE(body string) []sseEvent {
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			cur.data += line[6:]
		case line == "":
			if cur.data != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		}
	}
	return out
}

func TestStandaloneStreamAndResumption(t *testing.T) {
	b := newFakeBackend()
	_, ts := newTestFront(t, b)
	url := ts.URL + "/mcp/x"
	sid := initSession(t, url)
	h := map[string]string{HeaderSessionID: sid}

	// An unrelated server notification with no GET stream open waits for the next GET.
	if r := do(t, "POST", url, `{"jsonrpc":"2.0","id":1,"method":"broadcast"}`, h); r.status != 200 {
		t.Fatalf("broadcast: %d", r.status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(HeaderSessionID, sid)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	var got []string
	for len(got) < 2 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(line))
	}
	cancel()
	res.Body.Close()
	if !strings.HasPrefix(got[0], "id: 0_") || !strings.Contains(got[1]+got[0], "") {
		t.Errorf("GET stream first lines: %q", got)
	}

	// A request whose client disconnects after the first event can be resumed with Last-Event-ID.
	ctx2, cancel2 := context.WithCancel(context.Background())
	req2, _ := http.NewRequestWithContext(ctx2, "POST", url, strings.NewReader(`{"jsonrpc":"2.0","id":"r","method":"chattyhold"}`))
	req2.Header.Set("Content-Type", "application/json")
	req2.Header.Set("Accept", "application/json, text/event-stream")
	req2.Header.Set(HeaderSessionID, sid)
	// chattyhold: a related notification, then wait for release, then the response.
	sess := b.sinks[len(b.sinks)-1].(*httpSession)
	go func() {
		for {
			sess.mu.Lock()
			st := sess.byRequest[jsonrpc.ID(`"r"`).Key()]
			sess.mu.Unlock()
			if st != nil {
				n, _ := jsonrpc.NewNotification("notifications/progress", map[string]any{"progressToken": 1, "progress": 1})
				_ = sess.Send(context.Background(), jsonrpc.MustDecode(n), jsonrpc.ID(`"r"`))
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res2, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	br2 := bufio.NewReader(res2.Body)
	idLine, _ := br2.ReadString('\n')
	lastID := strings.TrimSpace(strings.TrimPrefix(idLine, "id: "))
	cancel2()
	res2.Body.Close()
	if lastID == "" || !strings.Contains(lastID, "_") {
		t.Fatalf("no event id on the POST stream: %q", idLine)
	}
	// The response arrives while nobody is listening. The held handler is released only afterwards: its own
	// response would otherwise race this one (and is dropped as already answered).
	out, _ := jsonrpc.NewResult(jsonrpc.ID(`"r"`), map[string]any{"late": true})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sess.mu.Lock()
		_, waiting := sess.byRequest[jsonrpc.ID(`"r"`).Key()]
		sess.mu.Unlock()
		if waiting || time.Now().After(deadline) {
			break
		}
	}
	_ = sess.Send(context.Background(), jsonrpc.MustDecode(out), nil)
	close(b.release)
	r := do(t, "GET", url, "", map[string]string{HeaderSessionID: sid, "Last-Event-ID": lastID, "Accept": "text/event-stream"})
	events := parseSSE(r.body)
	if r.status != 200 || len(events) != 1 || events[0].data != string(out) {
		t.Errorf("resumed stream: %d %+v", r.status, events)
	}
}

func TestModernStateless(t *testing.T) {
	b := newFakeBackend()
	f, ts := newTestFront(t, b)
	url := ts.URL + "/mcp/x"
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
	good := map[string]string{HeaderProtocolVersion: "2026-07-28", HeaderMethod: "tools/call", HeaderName: "echo", "Mcp-Param-Region": "eu",
		"Accept": "application/json"} // a JSON-only client gets plain JSON
	r := do(t, "POST", url, body, good)
	if r.status != 200 {
		t.Fatalf("stateless call: %d %s", r.status, r.body)
	}
	var res struct {
		Result struct {
			Method  string      `json:"method"`
			Headers http.Header `json:"params_headers"`
		} `json:"result"`
	}
	_ = json.Unmarshal([]byte(r.body), &res)
	if diff := cmp.Diff(http.Header{"Mcp-Param-Region": {"eu"}, HeaderProtocolVersion: {"2026-07-28"}}, res.Result.Headers); diff != "" {
		t.Errorf("Mcp-Param-* forwarded (-want +got):\n%s", diff)
	}
	if f.SessionCount() != 0 {
		t.Errorf("a stateless request left a session behind")
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"method mismatch", map[string]string{HeaderProtocolVersion: "2026-07-28", HeaderMethod: "tools/list", HeaderName: "echo"}},
		{"name mismatch", map[string]string{HeaderProtocolVersion: "2026-07-28", HeaderMethod: "tools/call", HeaderName: "rm"}},
		{"name missing", map[string]string{HeaderProtocolVersion: "2026-07-28", HeaderMethod: "tools/call"}},
		{"method missing", map[string]string{HeaderProtocolVersion: "2026-07-28", HeaderName: "echo"}},
		{"version mismatch", map[string]string{HeaderProtocolVersion: "2026-08-01", HeaderMethod: "tools/call", HeaderName: "echo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", url, body, tc.hdr)
			if r.status != 400 || errCode(t, r.body) != jsonrpc.CodeHeaderMismatch {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	if r := do(t, "GET", url, "", map[string]string{HeaderProtocolVersion: "2026-07-28", "Accept": "text/event-stream"}); r.status != 405 {
		t.Errorf("GET in 2026 era: %d", r.status)
	}
}

func FuzzHTTPFront(f *testing.F) {
	f.Add(initBody, "", "")
	f.Add(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, "2026-07-28", "tools/call")
	f.Add(`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, "", "")
	f.Add(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, "2025-06-18", "")
	f.Add("\xff\xfe", "x", "y")
	front := NewHTTPFront(HTTPOptions{MaxMessageBytes: 4096, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer front.Close(context.Background())
	h := front.Handler("x", newFakeBackend())
	f.Fuzz(func(t *testing.T, body, version, method string) {
		req := httptest.NewRequest("POST", "http://127.0.0.1/mcp/x", strings.NewReader(body))
		req.Header.Set("Accept", "application/json, text/event-stream")
		if version != "" && !strings.ContainsAny(version, "\r\n\x00") {
			req.Header.Set(HeaderProtocolVersion, version)
		}
		if method != "" && !strings.ContainsAny(method, "\r\n\x00") {
			req.Header.Set(HeaderMethod, method)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 202, 400, 404, 406, 413, 415:
		default:
			t.Fatalf("unexpected status %d for %q", rec.Code, body)
		}
		if rec.Header().Get("Content-Type") == "application/json" && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("invalid JSON response %q", rec.Body.String())
		}
	})
}

func TestSessionBoundToOwner(t *testing.T) {
	f := NewHTTPFront(HTTPOptions{
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		SessionOwner: func(r *http.Request) string { return r.Header.Get("X-Test-User") },
	})
	ts := httptest.NewServer(f.Handler("x", newFakeBackend()))
	t.Cleanup(func() { ts.Close(); f.Close(context.Background()) })
	r := do(t, "POST", ts.URL, initBody, map[string]string{"X-Test-User": "alice"})
	sid := r.header.Get(HeaderSessionID)
	if r.status != 200 || sid == "" {
		t.Fatalf("initialize: %d", r.status)
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if r := do(t, "POST", ts.URL, list, map[string]string{HeaderSessionID: sid, "X-Test-User": "bob"}); r.status != 404 {
		t.Errorf("another user's request on alice's session: %d, want 404", r.status)
	}
	if r := do(t, "DELETE", ts.URL, "", map[string]string{HeaderSessionID: sid, "X-Test-User": "bob"}); r.status != 404 {
		t.Errorf("another user's DELETE: %d, want 404", r.status)
	}
	if r := do(t, "POST", ts.URL, list, map[string]string{HeaderSessionID: sid, "X-Test-User": "alice"}); r.status != 200 {
		t.Errorf("owner's request: %d, want 200", r.status)
	}
}

// TestFinishedStreamsAreBounded: a long-lived session answering many requests over SSE keeps only a bounded
// number of finished streams for resumption (the bench tool found this growing with every call).
func TestFinishedStreamsAreBounded(t *testing.T) {
	b := newFakeBackend()
	_, ts := newTestFront(t, b)
	url := ts.URL + "/mcp/x"
	sid := initSession(t, url)
	for i := range 50 {
		r := do(t, "POST", url, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"chatty"}`, i+10), map[string]string{HeaderSessionID: sid})
		if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("request %d: %d %s", i, r.status, r.header.Get("Content-Type"))
		}
	}
	sess := b.sinks[len(b.sinks)-1].(*httpSession)
	sess.mu.Lock()
	n := len(sess.streams)
	sess.mu.Unlock()
	if n > maxRetainedStreams+1 { // the retained ones, plus the standalone stream
		t.Errorf("session keeps %d streams after 50 delivered requests, want at most %d", n, maxRetainedStreams+1)
	}
}
