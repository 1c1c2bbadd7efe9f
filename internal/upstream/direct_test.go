package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/sse"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// streamServer wraps an MCP handler: it records the event-stream GETs (headers, whether over TLS) and can
// end the open ones, as a server restart or a proxy's idle timeout would.
type streamServer struct {
	next   http.Handler
	mu     sync.Mutex
	gets   []*http.Request
	open   map[*http.Request]context.CancelFunc
	active atomic.Int32 // GET handlers running
}

func newStreamServer(next http.Handler) *streamServer {
	return &streamServer{next: next, open: map[*http.Request]context.CancelFunc{}}
}

func (s *streamServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.next.ServeHTTP(w, r)
		return
	}
	s.active.Add(1)
	defer s.active.Add(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s.mu.Lock()
	s.gets = append(s.gets, r)
	s.open[r] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.open, r)
		s.mu.Unlock()
	}()
	s.next.ServeHTTP(w, r.WithContext(ctx))
}

func (s *streamServer) getRequests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.gets...)
}

// drop ends every open GET stream.
func (s *streamServer) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.open {
		cancel()
	}
}

// waitFor polls cond (bounded by httpHangGuard, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(httpHangGuard); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// notifyOutOfBand calls the fixture's notify tool and waits for both its result and the notification the
// server sends on the standalone stream (so with no Related id).
func notifyOutOfBand(t *testing.T, conn Conn, id int, text string) {
	t.Helper()
	wireSend(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"notify","arguments":{"text":%q}}}`, id, text))
	var gotResp, gotNote bool
	for !gotResp || !gotNote {
		f := wireRecv(t, conn)
		switch {
		case f.Msg.Kind.IsResponse() && string(f.Msg.ID) == fmt.Sprint(id):
			gotResp = true
		case f.Msg.Method == "notifications/progress" && strings.Contains(string(f.Msg.Raw), text):
			gotNote = true
			if f.Related != nil {
				t.Errorf("standalone notification Related = %q, want nil", f.Related)
			}
		}
	}
}

// TestHTTPDirectStandaloneGoSDK: against a real stateful go-sdk server, over plain HTTP and over TLS, the
// standalone GET stream is sent on a connection dialled with the stream transport's own dialer (and TLS
// config) and read by the stream's own goroutine, with no http.Transport connection (and its two
// goroutines) behind it; an idle stream waits in a goroutine of its own small stack. A server-initiated
// notification arrives on it; after the server drops the stream, it is reopened with Last-Event-ID and
// delivers again; Close ends the connection (the server's handler returns) and the stream's goroutine.
func TestHTTPDirectStandaloneGoSDK(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[overTLS], func(t *testing.T) {
			srv := goSDKFixture()
			ss := newStreamServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
				&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)}))
			ts := httptest.NewUnstartedServer(ss)
			if overTLS {
				ts.StartTLS()
			} else {
				ts.Start()
			}
			defer ts.Close()

			var dials atomic.Int32
			dialer := &net.Dialer{Timeout: 10 * time.Second}
			streams := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return dialer.DialContext(ctx, network, addr)
			}}
			requests := &http.Transport{DisableKeepAlives: true} // no idle connection outlives a POST
			if overTLS {
				cfg := ts.Client().Transport.(*http.Transport).TLSClientConfig
				streams.TLSClientConfig, requests.TLSClientConfig = cfg, cfg
			}
			testenv.WaitGoroutines(t, "net/http.(*persistConn).readLoop", 0, "transport connections of earlier tests still open")
			testenv.WaitGoroutines(t, "(*standaloneStream)", 0, "standalone streams of earlier tests still open")

			conn := openHTTP(t, HTTPOptions{Name: "direct", URL: ts.URL, Headers: map[string]string{"X-Api-Key": "k-1"},
				Client: &http.Client{Transport: requests}, StreamClient: &http.Client{Transport: streams}})
			defer conn.Close() // before ts.Close, which waits for the stream's handler, should the test fail first
			wireSend(t, conn, legacyInit)
			wireRecvResponse(t, conn, "1")
			wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

			waitFor(t, "the standalone GET", func() bool { return ss.active.Load() == 1 })
			testenv.WaitGoroutines(t, "net/http.(*persistConn).readLoop", 0,
				"a transport connection while only the standalone stream is open: it must be read on a connection of its own")
			if overTLS { // the goroutine waits in its read: crypto/tls may hold input
				testenv.WaitGoroutines(t, "(*standaloneStream).run", 1, "the idle stream's reader")
			} else {
				testenv.WaitGoroutines(t, "(*standaloneStream)", idleStreamGoroutines, "the idle stream, waiting for input")
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("stream transport's dialer called %d times, want once (the GET)", n)
			}
			notifyOutOfBand(t, conn, 2, "before the drop")

			ss.drop()
			waitFor(t, "the stream reopened", func() bool { return len(ss.getRequests()) == 2 && ss.active.Load() == 1 })
			notifyOutOfBand(t, conn, 3, "after the drop")

			closeWithin(t, conn) // the parked stream is woken to stop
			testenv.WaitGoroutines(t, "(*standaloneStream)", 0, "the stream's goroutine after Close")
			waitFor(t, "the server's GET handler to see the connection closed", func() bool { return ss.active.Load() == 0 })

			gets := ss.getRequests()
			if id := gets[1].Header.Get("Last-Event-ID"); id == "" {
				t.Error("the reopened stream carried no Last-Event-ID")
			}
			for i, r := range gets {
				if r.Header.Get("X-Api-Key") != "k-1" || r.Header.Get("Mcp-Session-Id") == "" ||
					r.Header.Get("MCP-Protocol-Version") != "2025-11-25" || r.Header.Get("Accept") != "text/event-stream" {
					t.Errorf("GET %d headers %v: want the configured key, the session, the version and Accept", i, r.Header)
				}
				if (r.TLS != nil) != overTLS {
					t.Errorf("GET %d: TLS %v, want %v", i, r.TLS != nil, overTLS)
				}
			}
			if n := dials.Load(); n != 2 {
				t.Errorf("stream transport's dialer called %d times, want twice (a GET, then its reconnection)", n)
			}
		})
	}
}

// idleStreamGoroutines is how many goroutines an idle direct stream over plain TCP keeps: none on Linux,
// where it is parked with the process's poller; elsewhere one that waits for input.
var idleStreamGoroutines = map[bool]int{true: 0, false: 1}[runtime.GOOS == "linux"]

// closeWithin closes conn, failing the test if Close does not return (a stream nobody wakes to stop).
func closeWithin(t *testing.T, conn Conn) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- conn.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(httpHangGuard):
		t.Fatal("Close did not return")
	}
}

// headerAdder is a RoundTripper that sets a header, as the upstream OAuth client's transport wrapper does.
type headerAdder struct {
	base       http.RoundTripper
	key, value string
}

func (h headerAdder) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.key, h.value)
	return h.base.RoundTrip(r)
}

// TestHTTPDirectStreamFallback: the standalone GET goes through the stream client whenever a direct
// connection would not send what the client sends: through a proxy, with a RoundTripper that adds
// credentials (the upstream OAuth client's), with credentials in the URL. The stream works all the same.
func TestHTTPDirectStreamFallback(t *testing.T) {
	srv := goSDKFixture()
	ss := newStreamServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	ts := httptest.NewServer(ss)
	defer ts.Close()
	target, _ := url.Parse(ts.URL)
	var proxied atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			proxied.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	credURL := strings.Replace(ts.URL, "http://", "http://user:pw@", 1)

	for _, tc := range []struct {
		name   string
		url    string
		stream *http.Client
		check  func(t *testing.T, get *http.Request)
	}{
		{name: "proxy", url: ts.URL, stream: &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}},
			check: func(t *testing.T, _ *http.Request) {
				if proxied.Load() == 0 {
					t.Error("the GET did not go through the configured proxy")
				}
			}},
		{name: "credentials from a RoundTripper", url: ts.URL,
			stream: &http.Client{Transport: headerAdder{base: http.DefaultTransport, key: "Authorization", value: "Bearer from-the-wrapper"}},
			check: func(t *testing.T, get *http.Request) {
				if got := get.Header.Get("Authorization"); got != "Bearer from-the-wrapper" {
					t.Errorf("GET Authorization = %q, want the wrapper's", got)
				}
			}},
		{name: "credentials in the URL", url: credURL, stream: &http.Client{},
			check: func(t *testing.T, get *http.Request) {
				if got, want := get.Header.Get("Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("user:pw")); got != want {
					t.Errorf("GET Authorization = %q, want %q", got, want)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(ss.getRequests())
			conn := openHTTP(t, HTTPOptions{Name: "fallback", URL: tc.url, StreamClient: tc.stream})
			defer conn.Close()
			wireSend(t, conn, legacyInit)
			wireRecvResponse(t, conn, "1")
			wireSend(t, conn, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			waitFor(t, "the standalone GET", func() bool { return len(ss.getRequests()) > before })
			notifyOutOfBand(t, conn, 2, tc.name)
			testenv.WaitGoroutines(t, "(*standaloneStream).run", 1, "the stream's reader, waiting in the client's body")
			wireClose(t, conn)
			tc.check(t, ss.getRequests()[before])
		})
	}
}

// TestDirectStreamsChoice: which stream clients and requests are sent directly.
func TestDirectStreamsChoice(t *testing.T) {
	dial := (&net.Dialer{}).DialContext
	h1 := func() *http.Transport { return &http.Transport{DialContext: dial} }
	h2 := new(http.Protocols)
	h2.SetHTTP1(true)
	h2.SetHTTP2(true)
	onlyH1 := new(http.Protocols)
	onlyH1.SetHTTP1(true)
	cleartextH2 := new(http.Protocols)
	cleartextH2.SetHTTP1(true)
	cleartextH2.SetUnencryptedHTTP2(true)
	with := func(f func(*http.Transport)) *http.Transport { t := h1(); f(t); return t }
	jar := &http.Client{Transport: h1()}
	jar.Jar = cookieJar{}

	for _, tc := range []struct {
		name       string
		client     *http.Client
		http, tlsS bool // direct for http://, https://
	}{
		{"default transport (HTTP/2 over TLS)", &http.Client{}, true, false},
		{"dialer, HTTP/1.1 only", &http.Client{Transport: h1()}, true, true},
		{"forced HTTP/2", &http.Client{Transport: with(func(t *http.Transport) { t.ForceAttemptHTTP2 = true })}, true, false},
		{"h2 in TLSNextProto", &http.Client{Transport: with(func(t *http.Transport) {
			t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{"h2": nil}
		})}, true, false},
		{"h2 in the TLS config's protocols", &http.Client{Transport: with(func(t *http.Transport) {
			t.TLSClientConfig = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
		})}, true, false},
		{"Protocols with HTTP/2", &http.Client{Transport: with(func(t *http.Transport) { t.Protocols = h2 })}, true, false},
		{"Protocols HTTP/1 only", &http.Client{Transport: &http.Transport{Protocols: onlyH1}}, true, true},
		{"cleartext HTTP/2", &http.Client{Transport: with(func(t *http.Transport) { t.Protocols = cleartextH2 })}, false, false},
		{"TLS dialer", &http.Client{Transport: with(func(t *http.Transport) {
			t.DialTLSContext = func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no") }
		})}, false, false},
		{"proxy", &http.Client{Transport: with(func(t *http.Transport) {
			t.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: "proxy.invalid:3128"})
		})}, false, false},
		{"wrapping RoundTripper", &http.Client{Transport: headerAdder{base: h1()}}, false, false},
		{"cookie jar", jar, false, false},
		{"overall timeout", &http.Client{Transport: h1(), Timeout: time.Minute}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirectStreams(tc.client)
			for _, u := range []struct {
				url  string
				want bool
			}{{"http://127.0.0.1:1/mcp", tc.http}, {"https://127.0.0.1:1/mcp", tc.tlsS}} {
				req, _ := http.NewRequest(http.MethodGet, u.url, nil)
				if got := d.usable(req); got != u.want {
					t.Errorf("%s: direct = %v, want %v", u.url, got, u.want)
				}
			}
		})
	}

	d := newDirectStreams(&http.Client{Transport: h1()})
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"credentials in the URL", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://u:p@127.0.0.1:1/", nil)
			return r
		}},
		{"non-ASCII host", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://bücher.example/", nil)
			return r
		}},
		{"invalid header value", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
			r.Header.Set("X-Key", "a\nb")
			return r
		}},
		{"invalid header name", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
			r.Header["X Key"] = []string{"v"}
			return r
		}},
	} {
		if d.usable(tc.req()) {
			t.Errorf("%s: sent directly, want through the client", tc.name)
		}
	}
}

type cookieJar struct{}

func (cookieJar) SetCookies(*url.URL, []*http.Cookie) {}
func (cookieJar) Cookies(*url.URL) []*http.Cookie     { return nil }

// rawServer answers each connection with answer(request, conn), after reading the request.
func rawServer(t *testing.T, answer func(r *http.Request, raw []byte, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var raw strings.Builder
				r, err := http.ReadRequest(bufio.NewReader(io.TeeReader(c, &raw)))
				if err != nil {
					return
				}
				answer(r, []byte(raw.String()), c)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

const sseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"

// TestDirectStreamWire: what a direct GET writes, and how it reads the answers a server may give: 1xx
// answers first, a chunked, sized or connection-delimited body, a redirect (followed through the client),
// headers over the transport's limit or later than its timeout, and a context that ends meanwhile.
func TestDirectStreamWire(t *testing.T) {
	events := "id: 7\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: {\"b\":2}\n\n"
	chunked := func(s string) string {
		var b strings.Builder
		for _, part := range []string{s[:10], s[10:]} {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(part), part)
		}
		return b.String() + "0\r\n\r\n"
	}
	var wrote atomic.Value
	srvURL := rawServer(t, func(r *http.Request, raw []byte, c net.Conn) {
		switch r.URL.Path {
		case "/chunked":
			wrote.Store(string(raw))
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"+sseHead+"Transfer-Encoding: chunked\r\n\r\n"+chunked(events))
		case "/sized":
			io.WriteString(c, sseHead+fmt.Sprintf("Content-Length: %d\r\n\r\n", len(events))+events)
		case "/to-close":
			io.WriteString(c, sseHead+"Connection: close\r\n\r\n"+events)
		case "/redirect":
			io.WriteString(c, "HTTP/1.1 307 Temporary Redirect\r\nLocation: /sized\r\nContent-Length: 0\r\n\r\n")
		case "/big-headers":
			io.WriteString(c, sseHead+"X-Big: "+strings.Repeat("b", 4096)+"\r\n\r\n")
		case "/silent":
			_, _ = c.Read(make([]byte, 1)) // until the client goes away
		}
	})

	newConn := func(tr *http.Transport) *base {
		opts := HTTPOptions{Name: "wire", URL: srvURL, Headers: map[string]string{"X-Api-Key": "k-2"}, StreamClient: &http.Client{Transport: tr},
			RequestHeaders: func(context.Context) (http.Header, error) {
				return http.Header{"Authorization": {"Bearer per-user"}}, nil
			}}
		b := newBase(opts, newShared(opts))
		b.setRequestHeaders(t.Context(), opts.RequestHeaders)
		if b.direct == nil {
			t.Fatal("the stream client is not sent directly")
		}
		return &b
	}
	get := func(b *base, ctx context.Context, path string) (*http.Response, error) {
		req, err := b.newRequest(ctx, http.MethodGet, srvURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b.openStream(req)
	}
	readAll := func(resp *http.Response) []string {
		defer resp.Body.Close()
		var got []string
		r := sse.NewReaderSize(resp.Body, 1<<20, 16)
		for {
			ev, err := nextEvent(r, resp.Body)
			if err != nil {
				if err != io.EOF {
					t.Errorf("stream ended with %v", err)
				}
				return got
			}
			got = append(got, ev.ID+" "+string(ev.Data))
		}
	}
	want := []string{`7 {"a":1}`, `7 {"b":2}`}
	b := newConn(&http.Transport{DialContext: (&net.Dialer{}).DialContext})

	for _, path := range []string{"/chunked", "/sized", "/to-close", "/redirect"} {
		resp, err := get(b, t.Context(), path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK || mediaType(resp.Header) != "text/event-stream" {
			t.Fatalf("%s: %s %q", path, resp.Status, resp.Header.Get("Content-Type"))
		}
		if _, direct := resp.Body.(*directBody); direct == (path == "/redirect") {
			t.Errorf("%s: body read directly = %v", path, direct)
		}
		if got := readAll(resp); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: events %q, want %q", path, got, want)
		}
	}
	raw, _ := wrote.Load().(string)
	for _, line := range []string{"GET /chunked HTTP/1.1\r\n", "\r\nHost: " + strings.TrimPrefix(srvURL, "http://") + "\r\n",
		"\r\nAccept: text/event-stream\r\n", "\r\nX-Api-Key: k-2\r\n", "\r\nAuthorization: Bearer per-user\r\n", "\r\nUser-Agent: Go-http-client/1.1\r\n"} {
		if !strings.Contains(raw, line) {
			t.Errorf("request lacks %q:\n%s", line, raw)
		}
	}

	limited := newConn(&http.Transport{DialContext: (&net.Dialer{}).DialContext, MaxResponseHeaderBytes: 1024})
	if _, err := get(limited, t.Context(), "/big-headers"); err == nil || !strings.Contains(err.Error(), "exceeded 1024 bytes") {
		t.Errorf("headers over MaxResponseHeaderBytes: err %v", err)
	}
	slow := newConn(&http.Transport{DialContext: (&net.Dialer{}).DialContext, ResponseHeaderTimeout: 20 * time.Millisecond})
	if _, err := get(slow, t.Context(), "/silent"); err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Errorf("no headers within ResponseHeaderTimeout: err %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := get(b, ctx, "/silent"); !errors.Is(err, context.Canceled) {
		t.Errorf("context ended while waiting for headers: err %v, want context.Canceled", err)
	}
}
