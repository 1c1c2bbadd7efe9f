package upstream

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
)

const legacyInit = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
	`"capabilities":{"sampling":{}},"clientInfo":{"name":"test-client","version":"1.0.0"}}}`

const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
	`"io.modelcontextprotocol/clientInfo":{"name":"test-client","version":"1.0.0"},` +
	`"io.modelcontextprotocol/clientCapabilities":{}}`

// TestHTTPLegacySessionGoSDK drives a full 2025-11-25 session against a real stateful go-sdk server:
// initialize, initialized, tools/list, a tool that samples (server→client request on the call's stream),
// a notification on the standalone GET stream, a call whose stream the server closes early (resumed with
// Last-Event-ID), and DELETE on Close.
func TestHTTPLegacySessionGoSDK(t *testing.T) {
	srv := goSDKFixture()
	rec := &httpRecorder{next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})}
	ts := httptest.NewServer(rec)
	defer ts.Close()

	conn, err := NewHTTP(HTTPOptions{Name: "fixture", URL: ts.URL}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	wireSend(t, conn, legacyInit)
	init, _ := wireRecvResponse(t, conn, "1")
	var ir struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(init.Msg.Result, &ir); err != nil || ir.ProtocolVersion != "2025-11-25" {
		t.Fatalf("initialize result %s: want protocolVersion 2025-11-25", init.Msg.Raw)
	}
	if string(init.Related) != "1" {
		t.Errorf("initialize response Related = %q, want 1", init.Related)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	// A string id comes back byte for byte.
	wireSend(t, conn, `{"jsonrpc":"2.0","id":"a1","method":"tools/list"}`)
	list, _ := wireRecvResponse(t, conn, `"a1"`)
	var lr struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(list.Msg.Result, &lr); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range lr.Tools {
		names = append(names, tl.Name)
	}
	if diff := cmp.Diff([]string{"disconnect", "echo", "notify", "sample"}, names); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}

	// Sampling: the server's request arrives on the call's stream, related to the call.
	wireSend(t, conn, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sample","arguments":{"text":"hi"}}}`)
	sreq := wireRecv(t, conn)
	if sreq.Msg.Kind != jsonrpc.KindRequest || sreq.Msg.Method != "sampling/createMessage" {
		t.Fatalf("got %s, want a sampling/createMessage request", sreq.Msg.Raw)
	}
	if string(sreq.Related) != "7" {
		t.Errorf("sampling request Related = %q, want 7", sreq.Related)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","id":`+string(sreq.Msg.ID)+`,"result":{"role":"assistant",`+
		`"content":{"type":"text","text":"from the model"},"model":"test-model"}}`)
	call, _ := wireRecvResponse(t, conn, "7")
	if got := wireResultText(t, call); got != "sampled: from the model" {
		t.Errorf("sample result = %q", got)
	}
	if string(call.Related) != "7" {
		t.Errorf("call response Related = %q, want 7", call.Related)
	}

	// A notification unrelated to any request arrives on the standalone GET stream.
	wireSend(t, conn, `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"notify","arguments":{"text":"out of band"}}}`)
	var gotResp, gotNote bool
	for !gotResp || !gotNote {
		f := wireRecv(t, conn)
		switch {
		case f.Msg.Kind.IsResponse() && string(f.Msg.ID) == "8":
			gotResp = true
			if got := wireResultText(t, f); got != "notified" {
				t.Errorf("notify result = %q", got)
			}
		case f.Msg.Method == "notifications/progress":
			gotNote = true
			if !strings.Contains(string(f.Msg.Raw), "out of band") {
				t.Errorf("progress notification %s lacks its message", f.Msg.Raw)
			}
			if f.Related != nil {
				t.Errorf("GET-stream notification Related = %q, want nil", f.Related)
			}
		default:
			t.Fatalf("unexpected frame %s", f.Msg.Raw)
		}
	}

	// The server closes the call's stream before answering; the Conn resumes it with Last-Event-ID.
	wireSend(t, conn, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"disconnect","arguments":{"text":"x"}}}`)
	res, _ := wireRecvResponse(t, conn, "9")
	if got := wireResultText(t, res); got != "after disconnect: x" {
		t.Errorf("disconnect result = %q", got)
	}
	if string(res.Related) != "9" {
		t.Errorf("resumed response Related = %q, want 9", res.Related)
	}

	wireClose(t, conn)

	// Every request after initialize carried the session and the negotiated version.
	inits := rec.find(http.MethodPost, `"initialize"`)
	if len(inits) != 1 || inits[0].Header.Get("Mcp-Session-Id") != "" {
		t.Fatalf("initialize POSTs = %d (want 1, without a session id)", len(inits))
	}
	var sid string
	for _, r := range rec.all() {
		if strings.Contains(r.Body, `"initialize"`) {
			continue
		}
		if sid == "" {
			sid = r.Header.Get("Mcp-Session-Id")
		}
		if r.Header.Get("Mcp-Session-Id") == "" || r.Header.Get("Mcp-Session-Id") != sid {
			t.Errorf("%s %.60s: Mcp-Session-Id = %q, want the session's %q", r.Method, r.Body, r.Header.Get("Mcp-Session-Id"), sid)
		}
		if r.Header.Get("MCP-Protocol-Version") != "2025-11-25" {
			t.Errorf("%s %.60s: MCP-Protocol-Version = %q, want 2025-11-25", r.Method, r.Body, r.Header.Get("MCP-Protocol-Version"))
		}
	}
	var resumed, deleted bool
	for _, r := range rec.all() {
		// The standalone stream's ids start with "_" (its stream id is empty); others belong to a call.
		if id := r.Header.Get("Last-Event-ID"); r.Method == http.MethodGet && id != "" && !strings.HasPrefix(id, "_") {
			resumed = true
		}
		if r.Method == http.MethodDelete {
			deleted = true
		}
	}
	if !resumed {
		t.Error("no GET with Last-Event-ID was sent to resume the closed stream")
	}
	if !deleted {
		t.Error("Close sent no DELETE")
	}
}

// TestHTTPModernGoSDK sends 2026-07-28 requests to a real stateless go-sdk server, which rejects requests
// whose Mcp-Method / Mcp-Name headers are missing or disagree with the body.
func TestHTTPModernGoSDK(t *testing.T) {
	srv := goSDKFixture()
	rec := &httpRecorder{next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true})}
	ts := httptest.NewServer(rec)
	defer ts.Close()

	conn, err := NewHTTP(HTTPOptions{Name: "modern", URL: ts.URL}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer wireClose(t, conn)

	wireSend(t, conn, `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{`+modernMeta+`}}`)
	disc, _ := wireRecvResponse(t, conn, "1")
	var dr struct {
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(disc.Msg.Result, &dr); err != nil || len(dr.SupportedVersions) == 0 || dr.SupportedVersions[0] != "2026-07-28" {
		t.Fatalf("server/discover answered %s", disc.Msg.Raw)
	}

	wireSend(t, conn, `{"jsonrpc":"2.0","id":"m-2","method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},`+modernMeta+`}}`)
	call, _ := wireRecvResponse(t, conn, `"m-2"`)
	if got := wireResultText(t, call); got != "echo: hi" {
		t.Errorf("echo result = %q (response %s)", got, call.Msg.Raw)
	}

	// An unknown method gets the server's 404 + -32601, delivered as the server sent it.
	wireSend(t, conn, `{"jsonrpc":"2.0","id":3,"method":"vendor/unknown","params":{`+modernMeta+`}}`)
	unk, _ := wireRecvResponse(t, conn, "3")
	if e := wireErrorOf(t, unk); e.Code != jsonrpc.CodeMethodNotFound {
		t.Errorf("unknown method: code %d (%s), want %d", e.Code, e.Message, jsonrpc.CodeMethodNotFound)
	}

	calls := rec.find(http.MethodPost, `"tools/call"`)
	if len(calls) != 1 {
		t.Fatalf("tools/call POSTs = %d, want 1", len(calls))
	}
	h := calls[0].Header
	got := map[string]string{
		"MCP-Protocol-Version": h.Get("MCP-Protocol-Version"),
		"Mcp-Method":           h.Get("Mcp-Method"),
		"Mcp-Name":             h.Get("Mcp-Name"),
		"Mcp-Session-Id":       h.Get("Mcp-Session-Id"),
	}
	want := map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo", "Mcp-Session-Id": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tools/call headers (-want +got):\n%s", diff)
	}
	for _, r := range rec.all() {
		if r.Method != http.MethodPost {
			t.Errorf("modern era sent %s; it is POST only", r.Method)
		}
	}
}

// TestHTTPStatelessLegacyGoSDK: a stateless server in the session era issues no session id and has no
// GET stream (405), which must not disturb the session.
func TestHTTPStatelessLegacyGoSDK(t *testing.T) {
	srv := goSDKFixture()
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true}))
	defer ts.Close()
	conn, err := NewHTTP(HTTPOptions{Name: "stateless", URL: ts.URL}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer wireClose(t, conn)
	wireSend(t, conn, legacyInit)
	wireRecvResponse(t, conn, "1")
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	wireSend(t, conn, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"s"}}}`)
	res, _ := wireRecvResponse(t, conn, "2")
	if got := wireResultText(t, res); got != "echo: s" {
		t.Errorf("echo result = %q", got)
	}
}

// methodCounter is a RoundTripper that counts the requests of each method it carries.
type methodCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (m *methodCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	m.mu.Lock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[r.Method]++
	m.mu.Unlock()
	return m.base.RoundTrip(r)
}

func (m *methodCounter) counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.n)
}

// TestHTTPDispatchAndStreamClient runs a 2025-11-25 session against a real stateful go-sdk server with the
// frames handed to a Dispatch function instead of Recv, and the event-stream GETs on their own client whose
// transport has tiny buffers: server→client requests on a call's stream, an out-of-band notification longer
// than every buffer on the standalone stream, a call stream resumed with GET + Last-Event-ID; nothing is
// dispatched once Close has returned.
func TestHTTPDispatchAndStreamClient(t *testing.T) {
	srv := goSDKFixture()
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)}))
	defer ts.Close()
	requests := &methodCounter{base: http.DefaultTransport}
	streamTransport := &http.Transport{ReadBufferSize: 64, WriteBufferSize: 64}
	defer streamTransport.CloseIdleConnections()
	streams := &methodCounter{base: streamTransport}

	conn := openHTTP(t, HTTPOptions{Name: "fixture", URL: ts.URL,
		Client: &http.Client{Transport: requests}, StreamClient: &http.Client{Transport: streams}})
	frames := make(chan Frame, 16)
	var closed atomic.Bool
	conn.(Dispatcher).Dispatch(func(f Frame) {
		if closed.Load() {
			t.Errorf("frame %s dispatched after Close returned", f.Msg.Raw)
		}
		frames <- f
	})
	next := func() Frame {
		t.Helper()
		select {
		case f := <-frames:
			return f
		case <-time.After(httpHangGuard):
			t.Fatal("no frame dispatched")
			return Frame{}
		}
	}
	response := func(id string) Frame {
		t.Helper()
		for {
			if f := next(); f.Msg.Kind.IsResponse() && string(f.Msg.ID) == id {
				return f
			}
		}
	}

	wireSend(t, conn, legacyInit)
	if f := response("1"); string(f.Related) != "1" {
		t.Errorf("initialize response Related = %q, want 1", f.Related)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	wireSend(t, conn, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sample","arguments":{"text":"hi"}}}`)
	sreq := next()
	if sreq.Msg.Method != "sampling/createMessage" || string(sreq.Related) != "7" {
		t.Fatalf("got %s related to %q, want a sampling/createMessage request related to 7", sreq.Msg.Raw, sreq.Related)
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","id":`+string(sreq.Msg.ID)+`,"result":{"role":"assistant",`+
		`"content":{"type":"text","text":"from the model"},"model":"test-model"}}`)
	if got := wireResultText(t, response("7")); got != "sampled: from the model" {
		t.Errorf("sample result = %q", got)
	}

	long := strings.Repeat("out of band ", 200) // 2,400 bytes: longer than the stream buffers
	wireSend(t, conn, `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"notify","arguments":{"text":"`+long+`"}}}`)
	var gotResp, gotNote bool
	for !gotResp || !gotNote {
		f := next()
		switch {
		case f.Msg.Kind.IsResponse() && string(f.Msg.ID) == "8":
			gotResp = true
		case f.Msg.Method == "notifications/progress":
			gotNote = true
			if !strings.Contains(string(f.Msg.Raw), long) || f.Related != nil {
				t.Errorf("standalone notification (related %q) lacks its %d-byte message: %.100s…", f.Related, len(long), f.Msg.Raw)
			}
		default:
			t.Fatalf("unexpected frame %s", f.Msg.Raw)
		}
	}

	wireSend(t, conn, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"disconnect","arguments":{"text":"x"}}}`)
	if got := wireResultText(t, response("9")); got != "after disconnect: x" {
		t.Errorf("disconnect result = %q", got)
	}

	wireClose(t, conn)
	closed.Store(true)

	// POSTs and the DELETE went through Client; the standalone GET and the resumption through StreamClient.
	if got := requests.counts(); got[http.MethodGet] != 0 || got[http.MethodPost] < 5 || got[http.MethodDelete] != 1 {
		t.Errorf("requests through Client: %v, want POSTs and one DELETE, no GET", got)
	}
	if got := streams.counts(); got[http.MethodGet] < 2 || got[http.MethodPost]+got[http.MethodDelete] != 0 {
		t.Errorf("requests through StreamClient: %v, want the standalone GET and the resumption only", got)
	}
}

// TestHTTPConnectionReuseGoSDK: calls answered on an event stream leave their connection in the pool (the
// stream is read to its end after the answer), so a run of calls does not open a connection each.
func TestHTTPConnectionReuseGoSDK(t *testing.T) {
	srv := goSDKFixture()
	ts := httptest.NewUnstartedServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true}))
	var opened atomic.Int64
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	conn, err := NewHTTP(HTTPOptions{Name: "reuse", URL: ts.URL}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer wireClose(t, conn)
	wireSend(t, conn, legacyInit)
	wireRecvResponse(t, conn, "1")
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	const calls = 100
	for i := range calls {
		id := strconv.Itoa(10 + i)
		wireSend(t, conn, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"r"}}}`)
		if res, _ := wireRecvResponse(t, conn, id); wireResultText(t, res) != "echo: r" {
			t.Fatalf("call %d: %s", i, res.Msg.Raw)
		}
	}
	if n := opened.Load(); n > 5 {
		t.Errorf("%d connections opened for %d sequential calls; want them reused", n, calls)
	}
}
