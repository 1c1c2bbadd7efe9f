package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/sse"
)

// scriptedServer is a raw Streamable HTTP server: it answers initialize with a session, accepts
// notifications and responses, and answers requests with whatever reply returns.
type scriptedServer struct {
	sessionID string
	version   string
	// reply writes the answer to a request other than initialize.
	reply func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message)
	// get answers GET; nil means 405.
	get func(w http.ResponseWriter, r *http.Request)
}

func (s *scriptedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		if s.get == nil {
			http.Error(w, "no standalone stream", http.StatusMethodNotAllowed)
			return
		}
		s.get(w, r)
		return
	case http.MethodDelete:
		w.WriteHeader(http.StatusOK)
		return
	}
	body, _ := io.ReadAll(r.Body)
	m, err := jsonrpc.Decode(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case m.Kind != jsonrpc.KindRequest:
		w.WriteHeader(http.StatusAccepted)
	case m.Method == "initialize":
		if s.sessionID != "" {
			w.Header().Set("Mcp-Session-Id", s.sessionID)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":%q,"capabilities":{},"serverInfo":{"name":"raw","version":"1"}}}`, m.ID, s.version)
	default:
		s.reply(w, r, m)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

func writeSSE(t *testing.T, w http.ResponseWriter, ev sse.Event) {
	if err := sse.WriteEvent(w, ev); err != nil {
		t.Errorf("WriteEvent: %v", err)
	}
	w.(http.Flusher).Flush()
}

func openHTTP(t *testing.T, opts HTTPOptions) Conn {
	t.Helper()
	c, err := NewHTTP(opts).Open(t.Context())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

// TestHTTPHeadersAndBytes checks what goes on the wire in both eras: the fixed and configured headers,
// session id and negotiated version after initialize, Mcp-Method/Mcp-Name/Mcp-Param-* in the modern era,
// and bodies forwarded byte for byte in both directions.
func TestHTTPHeadersAndBytes(t *testing.T) {
	srv := &scriptedServer{sessionID: "sess-42", version: "2025-06-18"}
	srv.reply = func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message) {
		// Odd key order and spacing: the client must get exactly these bytes.
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"result": {"ok" : true}, "id":%s,"jsonrpc":"2.0"}`, m.ID))
	}
	rec := &httpRecorder{next: srv}
	ts := httptest.NewServer(rec)
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "raw", URL: ts.URL, Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Tenant": "acme"}})

	wireSend(t, conn, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	wireRecvResponse(t, conn, "0")
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	legacyList := `{"jsonrpc":"2.0",  "id": 12345678901234567890 ,"method":"tools/list"}`
	wireSend(t, conn, legacyList)
	resp, _ := wireRecvResponse(t, conn, "12345678901234567890")
	if diff := cmp.Diff(`{"result": {"ok" : true}, "id":12345678901234567890,"jsonrpc":"2.0"}`, string(resp.Msg.Raw)); diff != "" {
		t.Errorf("response bytes changed (-want +got):\n%s", diff)
	}
	modernCall := `{"jsonrpc":"2.0","id":"req-é","method":"tools/call","params":{"name":"get_weather","arguments":{"region":"eu"},` + modernMeta + `}}`
	wireSendHeader(t, conn, modernCall, http.Header{"Mcp-Param-Region": {"eu"}, "X-Forwarded-For": {"10.0.0.1"}, "Authorization": {"Bearer client-token"}})
	wireRecvResponse(t, conn, `"req-é"`)
	modernRead := `{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///a.txt",` + modernMeta + `}}`
	wireSend(t, conn, modernRead)
	wireRecvResponse(t, conn, "5")
	// The standalone GET stream is opened in the background after initialized; wait (bounded) until it
	// reached the server, or a Close racing it would cancel it before it is on the wire.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		seen := false
		for _, r := range rec.all() {
			seen = seen || r.Method == http.MethodGet
		}
		if seen || time.Now().After(deadline) {
			break
		}
	}
	wireClose(t, conn)

	type hdrs map[string]string
	pick := func(r httpRecord) hdrs {
		out := hdrs{}
		for _, k := range []string{"Accept", "Content-Type", "Authorization", "X-Tenant", "Mcp-Session-Id", "Mcp-Protocol-Version",
			"Mcp-Method", "Mcp-Name", "Mcp-Param-Region", "X-Forwarded-For", "Last-Event-Id"} {
			if v := r.Header.Get(k); v != "" {
				out[k] = v
			}
		}
		return out
	}
	post := func(extra hdrs) hdrs {
		h := hdrs{"Accept": "application/json, text/event-stream", "Content-Type": "application/json", "Authorization": "Bearer s3cret", "X-Tenant": "acme"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	session := hdrs{"Mcp-Session-Id": "sess-42", "Mcp-Protocol-Version": "2025-06-18"}
	type call struct {
		Method string
		Body   string
		Header hdrs
	}
	var got []call
	for _, r := range rec.all() {
		body := r.Body // compared byte for byte, except the initialize request
		if r.Method != http.MethodPost || strings.Contains(body, `"method":"initialize"`) {
			body = ""
		}
		got = append(got, call{r.Method, body, pick(r)})
	}
	want := []call{
		{"POST", "", post(nil)},
		{"POST", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, post(session)},
		{"GET", "", hdrs{"Accept": "text/event-stream", "Authorization": "Bearer s3cret", "X-Tenant": "acme", "Mcp-Session-Id": "sess-42", "Mcp-Protocol-Version": "2025-06-18"}},
		{"POST", legacyList, post(session)},
		{"POST", modernCall, post(hdrs{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "get_weather", "Mcp-Param-Region": "eu"})},
		{"POST", modernRead, post(hdrs{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "resources/read", "Mcp-Name": "file:///a.txt"})},
		{"DELETE", "", hdrs{"Authorization": "Bearer s3cret", "X-Tenant": "acme", "Mcp-Session-Id": "sess-42", "Mcp-Protocol-Version": "2025-06-18"}},
	}
	// The GET is concurrent with the next POST: compare it apart from the ordered POSTs.
	sortGet := func(cs []call) []call {
		var rest, gets []call
		for _, c := range cs {
			if c.Method == "GET" {
				gets = append(gets, c)
			} else {
				rest = append(rest, c)
			}
		}
		return append(rest, gets...)
	}
	if diff := cmp.Diff(sortGet(want), sortGet(got)); diff != "" {
		t.Errorf("requests on the wire (-want +got):\n%s", diff)
	}
}

// TestHTTPStreamedResponse: an SSE answer carries a server request and a notification before the
// response; each is delivered with Related set, and an answer to the server request is POSTed back.
func TestHTTPStreamedResponse(t *testing.T) {
	answered := make(chan string, 1)
	srv := &scriptedServer{version: "2025-06-18"}
	srv.reply = func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message) {
		startSSE(w)
		writeSSE(t, w, sse.Event{Data: []byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}`)})
		writeSSE(t, w, sse.Event{Type: "message", Data: []byte(`{"jsonrpc":"2.0","id":"srv-1","method":"roots/list"}`)})
		select {
		case a := <-answered:
			writeSSE(t, w, sse.Event{Data: []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"got":%q}}`, m.ID, a))})
		case <-r.Context().Done():
		}
	}
	inner := srv.ServeHTTP
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), `"srv-1"`) {
				answered <- string(body)
				w.WriteHeader(http.StatusAccepted)
				return
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		inner(w, r)
	}))
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "raw", URL: ts.URL})
	defer wireClose(t, conn)

	wireSend(t, conn, `{"jsonrpc":"2.0","id":"c-1","method":"tools/call","params":{"name":"x"}}`)
	note := wireRecv(t, conn)
	sreq := wireRecv(t, conn)
	if note.Msg.Method != "notifications/progress" || sreq.Msg.Method != "roots/list" {
		t.Fatalf("got %s then %s; want the progress notification, then roots/list", note.Msg.Raw, sreq.Msg.Raw)
	}
	for _, f := range []Frame{note, sreq} {
		if string(f.Related) != `"c-1"` {
			t.Errorf("%s: Related = %q, want \"c-1\"", f.Msg.Method, f.Related)
		}
	}
	wireSend(t, conn, `{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[]}}`)
	resp, _ := wireRecvResponse(t, conn, `"c-1"`)
	if !strings.Contains(string(resp.Msg.Raw), `roots`) || string(resp.Related) != `"c-1"` {
		t.Errorf("response %s (Related %q): want the echoed answer, related to c-1", resp.Msg.Raw, resp.Related)
	}
}

// TestHTTPBatchResponse: a 2025-03-26 server may answer with a JSON array; every element is delivered.
func TestHTTPBatchResponse(t *testing.T) {
	srv := &scriptedServer{version: "2025-03-26"}
	srv.reply = func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message) {
		writeJSON(w, http.StatusOK, `[{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}},{"jsonrpc":"2.0","id":4,"result":{}}]`)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "batch", URL: ts.URL})
	defer wireClose(t, conn)
	wireSend(t, conn, `{"jsonrpc":"2.0","id":4,"method":"ping"}`)
	resp, before := wireRecvResponse(t, conn, "4")
	if len(before) != 1 || before[0].Msg.Method != "notifications/message" {
		t.Fatalf("before the response got %d frames, want the log notification", len(before))
	}
	if diff := cmp.Diff(`{"jsonrpc":"2.0","id":4,"result":{}}`, string(resp.Msg.Raw)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestHTTPFailuresBecomeErrorResponses: whatever goes wrong with a request, the client gets an error
// response for its id (and no hang); JSON-RPC error bodies are passed on as the server sent them.
func TestHTTPFailuresBecomeErrorResponses(t *testing.T) {
	big := strings.Repeat("x", 4096)
	tests := []struct {
		name     string
		modern   bool
		handler  http.HandlerFunc
		wantCode int64
		wantIn   []string // substrings of the error message
		wantRaw  string   // exact bytes, when the server's error is passed on as is
		notIn    []string
		before   int // frames expected before the error response
	}{
		{
			name: "500 with HTML",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "<html><body>\n<h1>Internal error</h1>"+big+"</body></html>")
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{`upstream "broken" answered HTTP 500 Internal Server Error: <html><body> <h1>Internal error</h1>xxx`, "check its logs"},
			notIn:    []string{big[:300]},
		},
		{
			name: "502 plain",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "bad gateway", http.StatusBadGateway)
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{`upstream "broken" answered HTTP 502 Bad Gateway: bad gateway`},
		},
		{
			name: "401 echoing the credential",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "invalid token "+r.Header.Get("Authorization"), http.StatusUnauthorized)
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"answered HTTP 401 Unauthorized: invalid token [redacted]", "credentials"},
			notIn:    []string{"hunter2-secret"},
		},
		{
			name: "400 with a JSON-RPC error for the id",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusBadRequest, `{"jsonrpc":"2.0","id":"q","error":{"code":-32020,"message":"header mismatch"}}`)
			},
			wantRaw: `{"jsonrpc":"2.0","id":"q","error":{"code":-32020,"message":"header mismatch"}}`,
		},
		{
			name:   "404 with a JSON-RPC error and a null id",
			modern: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusNotFound, `{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"Method not found","data":{"m":"x"}}}`)
			},
			wantCode: jsonrpc.CodeMethodNotFound,
			wantIn:   []string{"Method not found"},
		},
		{
			name: "oversize JSON body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"jsonrpc":"2.0","id":"q","result":{"blob":"`+big+`"}}`)
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"larger than the 1024-byte limit"},
		},
		{
			name: "oversize SSE event",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				sse.WriteEvent(w, sse.Event{Data: []byte(`{"jsonrpc":"2.0","id":"q","result":{"blob":"` + big + `"}}`)})
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"larger than the 1024-byte limit"},
		},
		{
			name: "stream cut before the response",
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				sse.WriteEvent(w, sse.Event{Data: []byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}`)})
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"closed the response stream before the response", "no event id to resume from"},
			before:   1,
		},
		{
			name:   "modern stream cut",
			modern: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				startSSE(w)
				sse.WriteEvent(w, sse.Event{ID: "1", Data: []byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}`)})
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"closed the response stream before the response", "send the request again"},
			before:   1,
		},
		{
			name: "connection dropped mid-body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "500")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"jsonrpc":"2.0",`)
				w.(http.Flusher).Flush()
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"broke off its response"},
		},
		{
			name: "202 for a request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"accepted the request (HTTP 202) but sent no response"},
		},
		{
			name: "unexpected content type",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "hello")
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{`Content-Type "text/plain"`},
		},
		{
			name: "JSON body without the response",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"jsonrpc":"2.0","id":"other","result":{}}`)
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"does not contain the response"},
			before:   1,
		},
		{
			name:   "name that cannot be a header",
			modern: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				t.Error("the request reached the server")
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{`was not sent the request: its Mcp-Name header would carry control characters`},
		},
		{
			name: "invalid JSON body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"jsonrpc":`)
			},
			wantCode: jsonrpc.CodeUpstreamUnavailable,
			wantIn:   []string{"sent an invalid JSON-RPC message"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			conn := openHTTP(t, HTTPOptions{Name: "broken", URL: ts.URL, MaxMessageBytes: 1024,
				Headers: map[string]string{"Authorization": "Bearer hunter2-secret"}})
			defer wireClose(t, conn)
			name := "t"
			if strings.HasPrefix(tt.name, "name that") {
				name = `t\r\nX-Injected: 1`
			}
			req := `{"jsonrpc":"2.0","id":"q","method":"tools/call","params":{"name":"` + name + `"}}`
			if tt.modern {
				req = `{"jsonrpc":"2.0","id":"q","method":"tools/call","params":{"name":"` + name + `",` + modernMeta + `}}`
			}
			wireSend(t, conn, req)
			resp, before := wireRecvResponse(t, conn, `"q"`)
			if len(before) != tt.before {
				t.Errorf("%d frames before the response, want %d", len(before), tt.before)
			}
			if string(resp.Related) != `"q"` {
				t.Errorf("Related = %q, want \"q\"", resp.Related)
			}
			if tt.wantRaw != "" {
				if diff := cmp.Diff(tt.wantRaw, string(resp.Msg.Raw)); diff != "" {
					t.Errorf("error passed on changed (-want +got):\n%s", diff)
				}
				return
			}
			e := wireErrorOf(t, resp)
			if e.Code != tt.wantCode {
				t.Errorf("code = %d, want %d (message %q)", e.Code, tt.wantCode, e.Message)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(e.Message, s) {
					t.Errorf("message %q lacks %q", e.Message, s)
				}
			}
			for _, s := range tt.notIn {
				if strings.Contains(string(resp.Msg.Raw), s) {
					t.Errorf("error response contains %q: %s", s, resp.Msg.Raw)
				}
			}
		})
	}
}

// TestHTTPUpstreamDown: a server that is not listening gets an error response, not a hang.
func TestHTTPUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conn := openHTTP(t, HTTPOptions{Name: "down", URL: "http://" + addr + "/mcp?token=abc"})
	defer wireClose(t, conn)
	wireSend(t, conn, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	resp, _ := wireRecvResponse(t, conn, "1")
	e := wireErrorOf(t, resp)
	if e.Code != jsonrpc.CodeUpstreamUnavailable || !strings.Contains(e.Message, `upstream "down" could not be reached at `+addr) {
		t.Errorf("error = %d %q", e.Code, e.Message)
	}
	if strings.Contains(e.Message, "token=abc") {
		t.Errorf("error %q repeats the URL's query", e.Message)
	}
	// A notification reports the failure from Send.
	err = conn.Send(t.Context(), Frame{Msg: wireMsg(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)})
	var ue *Error
	if !errors.As(err, &ue) || ue.Server != "down" {
		t.Errorf("Send(notification) error = %v, want an *Error for server down", err)
	}
}

// TestHTTPNotificationResults: a notification's Send reports the server's refusal, and returns without
// reading a body the server keeps open.
func TestHTTPNotificationResults(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), "refused"):
			http.Error(w, "no thanks", http.StatusForbidden)
		default: // an open stream for a notification: must not block Send
			startSSE(w)
			<-r.Context().Done()
		}
	}))
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "notes", URL: ts.URL})
	defer wireClose(t, conn)
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/streamed"}`)
	err := conn.Send(t.Context(), Frame{Msg: wireMsg(t, `{"jsonrpc":"2.0","method":"notifications/refused"}`)})
	var ue *Error
	if !errors.As(err, &ue) || ue.Op != "send" || !strings.Contains(err.Error(), "answered HTTP 403 Forbidden: no thanks (check the credentials") {
		t.Errorf("Send = %v", err)
	}
}

// TestHTTPSessionExpired: a 404 to a request carrying a session id means the session is gone.
func TestHTTPSessionExpired(t *testing.T) {
	srv := &scriptedServer{sessionID: "old", version: "2025-11-25"}
	srv.reply = func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message) {
		http.Error(w, "session not found", http.StatusNotFound)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "exp", URL: ts.URL})
	defer wireClose(t, conn)
	wireSend(t, conn, legacyInit)
	wireRecvResponse(t, conn, "1")
	wireSend(t, conn, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	resp, _ := wireRecvResponse(t, conn, "2")
	if e := wireErrorOf(t, resp); !strings.Contains(e.Message, "session expired") || !strings.Contains(e.Message, "initialize a new session") {
		t.Errorf("message %q does not say the session expired and what to do", e.Message)
	}
}

// TestHTTPStandaloneReconnect: the GET stream is reopened after a drop with Last-Event-ID and the
// server's retry time, and its messages arrive with no Related id.
func TestHTTPStandaloneReconnect(t *testing.T) {
	var mu sync.Mutex
	var lastIDs []string
	srv := &scriptedServer{sessionID: "s", version: "2025-11-25"}
	srv.get = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
		n := len(lastIDs)
		mu.Unlock()
		startSSE(w)
		switch n {
		case 1:
			writeSSE(t, w, sse.Event{ID: "ev-1", Retry: 1, Data: []byte(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)})
			// then drop the stream
		case 2:
			writeSSE(t, w, sse.Event{ID: "ev-2", Data: []byte(`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///x"}}`)})
			<-r.Context().Done()
		default:
			<-r.Context().Done()
		}
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "get", URL: ts.URL})
	wireSend(t, conn, legacyInit)
	wireRecvResponse(t, conn, "1")
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	first, second := wireRecv(t, conn), wireRecv(t, conn)
	if first.Msg.Method != "notifications/tools/list_changed" || second.Msg.Method != "notifications/resources/updated" {
		t.Errorf("got %s then %s", first.Msg.Raw, second.Msg.Raw)
	}
	if first.Related != nil || second.Related != nil {
		t.Errorf("GET-stream frames carry Related %q, %q; want nil", first.Related, second.Related)
	}
	wireClose(t, conn)
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"", "ev-1"}, lastIDs); diff != "" {
		t.Errorf("Last-Event-ID of each GET (-want +got):\n%s", diff)
	}
}

// TestHTTPResumeRequestStream: a POST stream that ends before the response is resumed with GET +
// Last-Event-ID, and the response that arrives there is related to the request.
func TestHTTPResumeRequestStream(t *testing.T) {
	gotLastID := make(chan string, 1)
	srv := &scriptedServer{sessionID: "s", version: "2025-11-25"}
	srv.reply = func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message) {
		startSSE(w)
		writeSSE(t, w, sse.Event{ID: "call_0", Type: "prime", Retry: 1})
		writeSSE(t, w, sse.Event{ID: "call_1", Data: []byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`)})
	}
	srv.get = func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Last-Event-ID")
		if id == "" { // the standalone stream: stay quiet
			startSSE(w)
			<-r.Context().Done()
			return
		}
		gotLastID <- id
		startSSE(w)
		writeSSE(t, w, sse.Event{ID: "call_2", Data: []byte(`{"jsonrpc":"2.0","id":3,"result":{"done":true}}`)})
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "resume", URL: ts.URL})
	defer wireClose(t, conn)
	wireSend(t, conn, legacyInit)
	wireRecvResponse(t, conn, "1")
	wireSend(t, conn, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow"}}`)
	resp, before := wireRecvResponse(t, conn, "3")
	if len(before) != 1 || string(before[0].Related) != "3" {
		t.Errorf("frames before the response: %d (want the progress notification related to 3)", len(before))
	}
	if resp.Msg.Kind != jsonrpc.KindResult || string(resp.Related) != "3" {
		t.Errorf("response %s Related %q; want the result related to 3", resp.Msg.Raw, resp.Related)
	}
	if id := <-gotLastID; id != "call_1" {
		t.Errorf("resumed with Last-Event-ID %q, want call_1", id)
	}
}

// TestHTTPCancelAbortsPost: cancelling Send's ctx aborts the POST (how a client cancels in 2026-07-28).
func TestHTTPCancelAbortsPost(t *testing.T) {
	started := make(chan struct{})
	aborted := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		close(started)
		<-r.Context().Done()
		close(aborted)
	}))
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "cancel", URL: ts.URL})
	defer wireClose(t, conn)
	ctx, cancel := context.WithCancel(t.Context())
	if err := conn.Send(ctx, Frame{Msg: wireMsg(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow",`+modernMeta+`}}`)}); err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	<-aborted
}

// TestHTTPCloseStopsEverything: Close aborts in-flight requests, unblocks Recv and makes Send fail.
func TestHTTPCloseStopsEverything(t *testing.T) {
	srv := &scriptedServer{sessionID: "s", version: "2025-11-25"}
	srv.reply = func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message) {
		startSSE(w)
		<-r.Context().Done()
	}
	srv.get = func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		<-r.Context().Done()
	}
	rec := &httpRecorder{next: srv}
	ts := httptest.NewServer(rec)
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "close", URL: ts.URL})
	wireSend(t, conn, legacyInit)
	wireRecvResponse(t, conn, "1")
	wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	wireSend(t, conn, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"forever"}}`)

	recvErr := make(chan error, 1)
	go func() {
		_, err := conn.Recv(context.Background())
		recvErr <- err
	}()
	if err := conn.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-recvErr; !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
	if err := conn.Send(t.Context(), Frame{Msg: wireMsg(t, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	dels := rec.find(http.MethodDelete, "")
	if len(dels) != 1 || dels[0].Header.Get("Mcp-Session-Id") != "s" {
		t.Errorf("DELETEs = %+v, want one with the session id", dels)
	}
}

// TestHTTPOpenRejectsBadURL: a misconfigured url fails Open with an *Error that says what to do.
func TestHTTPOpenRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x/mcp", "/relative", "http://"} {
		_, err := NewHTTP(HTTPOptions{Name: "bad", URL: u}).Open(t.Context())
		var ue *Error
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "set it to the server's MCP endpoint") {
			t.Errorf("Open(%q) error = %v, want an *Error with advice", u, err)
		}
	}
}

// TestHTTPRefusesCrossOriginRedirect: configured credentials never follow a redirect to another origin.
func TestHTTPRefusesCrossOriginRedirect(t *testing.T) {
	leaked := make(chan string, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked <- r.Header.Get("X-Api-Key")
		writeJSON(w, http.StatusOK, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	defer other.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	defer ts.Close()
	conn := openHTTP(t, HTTPOptions{Name: "redir", URL: ts.URL, Headers: map[string]string{"X-Api-Key": "k-123456"}})
	defer wireClose(t, conn)
	wireSend(t, conn, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	resp, _ := wireRecvResponse(t, conn, "1")
	if e := wireErrorOf(t, resp); !strings.Contains(e.Message, "another origin") {
		t.Errorf("message %q does not name the refused redirect", e.Message)
	}
	select {
	case k := <-leaked:
		t.Errorf("the other origin received the request (X-Api-Key %q)", k)
	default:
	}
}

// FuzzDecodeJSONBody: the splitter of upstream JSON bodies must not panic on any input.
func FuzzDecodeJSONBody(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"result":{}}`, `[{"jsonrpc":"2.0","method":"x"},{"jsonrpc":"2.0","id":"a","error":{"code":1,"message":"m"}}]`, `[]`, `[1,`, ` `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := decodeJSONBody(b)
		if err == nil && msgs == nil {
			t.Fatal("nil messages without an error")
		}
		for _, m := range msgs {
			if m == nil || len(m.Raw) == 0 {
				t.Fatal("empty message")
			}
		}
	})
}

// TestHTTPResumeFailures: a cut stream whose resumption the server refuses, or keeps failing, ends in an
// error response for the request, never a hang.
func TestHTTPResumeFailures(t *testing.T) {
	tests := []struct {
		name      string
		getStatus int
		wantIn    string
		wantGets  int
	}{
		{name: "refused", getStatus: http.StatusBadRequest, wantIn: "refused to resume it (HTTP 400)", wantGets: 1},
		{name: "keeps failing", getStatus: http.StatusServiceUnavailable, wantIn: "5 attempts to resume it failed", wantGets: resumeAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			gets := 0
			srv := &scriptedServer{version: "2025-11-25"}
			srv.reply = func(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message) {
				startSSE(w)
				writeSSE(t, w, sse.Event{ID: "s_0", Type: "prime", Retry: 1})
			}
			srv.get = func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				gets++
				mu.Unlock()
				http.Error(w, "cannot", tt.getStatus)
			}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			conn := openHTTP(t, HTTPOptions{Name: "rf", URL: ts.URL})
			defer wireClose(t, conn)
			wireSend(t, conn, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`)
			resp, _ := wireRecvResponse(t, conn, "1")
			if e := wireErrorOf(t, resp); !strings.Contains(e.Message, tt.wantIn) {
				t.Errorf("message %q lacks %q", e.Message, tt.wantIn)
			}
			mu.Lock()
			defer mu.Unlock()
			if gets != tt.wantGets {
				t.Errorf("%d resumption GETs, want %d", gets, tt.wantGets)
			}
		})
	}
}

func TestRedactQueryValues(t *testing.T) {
	in := `upstream "gh" needs your consent: open http://127.0.0.1:8740/oauth/upstream/gh/start?ticket=eyJhbGc.sig&x=1 (or ?code=abc&state=xyz)`
	got := redactQueryValues(in)
	for _, leak := range []string{"eyJhbGc", "abc", "xyz"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q kept %q", got, leak)
		}
	}
	if !strings.Contains(got, "?ticket=[REDACTED]&x=1") {
		t.Errorf("got %q", got)
	}
}
