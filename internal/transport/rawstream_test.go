package transport

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// hangGuard bounds every wait in these tests so a bug fails the test instead of hanging it. It is not a
// timing assertion: healthy runs finish far sooner.
const hangGuard = 30 * time.Second

// eventStream is an open GET stream of a session.
type eventStream struct {
	res    *http.Response
	br     *bufio.Reader
	cancel context.CancelFunc
}

// openStream sends GET for session sid (with Last-Event-ID last, if not empty) through client.
func openStream(t *testing.T, client *http.Client, url, sid, last string) (*eventStream, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(HeaderSessionID, sid)
	if last != "" {
		req.Header.Set(HeaderLastEventID, last)
	}
	res, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		cancel()
		return nil, res.StatusCode
	}
	return &eventStream{res: res, br: bufio.NewReader(res.Body), cancel: cancel}, res.StatusCode
}

// next returns the next event (comments are returned as events with data ": …").
func (s *eventStream) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the GET stream: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
			ev.data = line
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			ev.data += line[6:]
		}
	}
}

// end reads the rest of the stream and reports how it ended: nil for a clean end of the chunked body.
func (s *eventStream) end() error {
	defer s.cancel()
	defer s.res.Body.Close()
	_, err := io.Copy(io.Discard, s.br)
	return err
}

func (s *eventStream) close() {
	s.cancel()
	s.res.Body.Close()
}

// TestStandaloneStreamTakenOver: over HTTP/1.1 the GET stream's connection is taken over from net/http, so
// no handler goroutine waits in it; it behaves as before: events arrive, a second GET is refused, a client
// that goes away is noticed at once (its next GET is served), Last-Event-ID replays what was missed, and
// DELETE ends the stream cleanly.
func TestStandaloneStreamTakenOver(t *testing.T) {
	testenv.WaitGoroutines(t, "(*httpSession).serveRaw", 0, "streams of earlier tests still open")
	b := newFakeBackend()
	_, ts := newTestFront(t, b)
	url := ts.URL + "/mcp/x"
	sid := initSession(t, url)
	h := map[string]string{HeaderSessionID: sid}
	broadcast := func() {
		t.Helper()
		if r := do(t, "POST", url, `{"jsonrpc":"2.0","id":1,"method":"broadcast"}`, h); r.status != 200 {
			t.Fatalf("broadcast: %d %q", r.status, r.body)
		}
	}

	s, status := openStream(t, http.DefaultClient, url, sid, "")
	if s == nil {
		t.Fatalf("GET: %d", status)
	}
	if !s.res.Close || s.res.Header.Get("Content-Type") != "text/event-stream" || len(s.res.TransferEncoding) != 1 || s.res.TransferEncoding[0] != "chunked" {
		t.Errorf("GET response: close %v, Content-Type %q, Transfer-Encoding %v; want a chunked event stream with Connection: close",
			s.res.Close, s.res.Header.Get("Content-Type"), s.res.TransferEncoding)
	}
	broadcast()
	first := s.next(t)
	if first.id != "0_1" || !strings.Contains(first.data, "notifications/tools/list_changed") {
		t.Errorf("first event %+v, want 0_1 with the notification", first)
	}
	if n := testenv.GoroutinesIn(t, "(*httpSession).pump"); n != 0 {
		t.Errorf("%d goroutines wait in a handler for the stream; want none (connection taken over)", n)
	}
	testenv.WaitGoroutines(t, "(*httpSession).serveRaw", 1, "one watcher of the taken-over connection")
	if _, status := openStream(t, http.DefaultClient, url, sid, ""); status != http.StatusConflict {
		t.Errorf("second GET: %d, want 409", status)
	}

	// The client goes away; what is sent meanwhile waits for its next GET, which is served at once.
	s.close()
	testenv.WaitGoroutines(t, "(*httpSession).serveRaw", 0, "the watcher did not notice the client going away")
	broadcast()
	broadcast()
	s, status = openStream(t, http.DefaultClient, url, sid, first.id)
	if s == nil {
		t.Fatalf("GET after the client went away: %d, want 200", status)
	}
	if a, b := s.next(t), s.next(t); a.id != "0_2" || b.id != "0_3" {
		t.Errorf("resumed after %s: events %s, %s; want 0_2, 0_3", first.id, a.id, b.id)
	}

	if r := do(t, "DELETE", url, "", h); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.status)
	}
	if err := s.end(); err != nil {
		t.Errorf("GET stream after DELETE ended with %v, want a clean end", err)
	}
}

// TestStandaloneStreamKeepAliveAndDrain: a taken-over stream gets its keep-alive comments, and Drain ends
// it cleanly.
func TestStandaloneStreamKeepAliveAndDrain(t *testing.T) {
	f := NewHTTPFront(HTTPOptions{KeepAlive: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewServer(f.Handler("x", newFakeBackend()))
	t.Cleanup(func() {
		ts.Close()
		f.Close(context.Background())
	})
	url := ts.URL
	sid := initSession(t, url)
	s, status := openStream(t, http.DefaultClient, url, sid, "")
	if s == nil {
		t.Fatalf("GET: %d", status)
	}
	if ev := s.next(t); ev.data != ": keep-alive" {
		t.Errorf("got %+v, want a keep-alive comment", ev)
	}
	f.Drain()
	if err := s.end(); err != nil {
		t.Errorf("GET stream after Drain ended with %v, want a clean end", err)
	}
}

// TestStandaloneStreamHTTP2: an HTTP/2 stream cannot be taken over; it is served by its handler as before.
func TestStandaloneStreamHTTP2(t *testing.T) {
	b := newFakeBackend()
	f := NewHTTPFront(HTTPOptions{KeepAlive: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts := httptest.NewUnstartedServer(f.Handler("x", b))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		f.Close(context.Background())
	})
	client := ts.Client()
	post := func(body string, h map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	sid := post(initBody, nil).Header.Get(HeaderSessionID)
	s, status := openStream(t, client, ts.URL, sid, "")
	if s == nil {
		t.Fatalf("GET: %d", status)
	}
	if s.res.ProtoMajor != 2 {
		t.Fatalf("GET over %s, want HTTP/2", s.res.Proto)
	}
	post(`{"jsonrpc":"2.0","id":1,"method":"broadcast"}`, map[string]string{HeaderSessionID: sid})
	if ev := s.next(t); ev.id != "0_1" || !strings.Contains(ev.data, "notifications/tools/list_changed") {
		t.Errorf("event %+v, want 0_1 with the notification", ev)
	}
	testenv.WaitGoroutines(t, "(*httpSession).pump", 1, "the HTTP/2 stream is served by its handler")
	req, _ := http.NewRequest("DELETE", ts.URL, nil)
	req.Header.Set(HeaderSessionID, sid)
	res, err := client.Do(req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %v %v", res, err)
	}
	res.Body.Close()
	if err := s.end(); err != nil {
		t.Errorf("GET stream after DELETE ended with %v, want a clean end", err)
	}
}

// TestRawWriterClientNotReading: a write to a client that does not read its stream gives up after
// rawWriteTimeout and drops the connection, so the stream's lock is not held for ever (the client
// resumes with Last-Event-ID); later writes fail at once.
func TestRawWriterClientNotReading(t *testing.T) {
	old := rawWriteTimeout
	rawWriteTimeout = 50 * time.Millisecond
	t.Cleanup(func() { rawWriteTimeout = old })
	server, client := net.Pipe() // unbuffered: nobody reads the client end
	defer client.Close()
	rw := &rawWriter{conn: server, header: http.Header{}}
	done := make(chan error, 1)
	go func() {
		_, err := rw.Write([]byte("data: x\n\n"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a write nobody read succeeded")
		}
	case <-time.After(hangGuard):
		t.Fatal("the write to a client that does not read never gave up")
	}
	if _, err := rw.Write([]byte("data: y\n\n")); err == nil {
		t.Error("a write after the connection was dropped succeeded")
	}
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Error("the client's end is still open after the connection was dropped")
	}
}
