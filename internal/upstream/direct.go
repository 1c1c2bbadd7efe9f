package upstream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Event-stream GETs on a connection of their own.
//
// A GET held open through http.Transport costs, besides the goroutine that reads its body, the transport's
// two goroutines per connection (persistConn's readLoop and writeLoop) with their stacks and buffers. A
// session holds such a GET for its whole life (the standalone stream of a stateful upstream; the legacy
// transport's stream), so when the stream client is a plain *http.Transport, the GET is written and its
// response read here instead, on a connection dialled with that transport's own dialer, TLS config and
// timeouts: the goroutine that reads the stream is then the only one (and an idle stream over plain TCP can
// do without it: directBody.park), and the connection's buffer is small (directReadBuffer). The request is
// the one the usual path builds (configured and per-request headers included), so it carries the same
// credentials.
//
// Whatever this does not reproduce goes through the client as before: a RoundTripper other than
// *http.Transport (the upstream OAuth client's token refresh, a test's), a cookie jar, an overall client
// timeout, a proxy (the transport's Proxy gives a URL for the request), credentials in the URL (the client
// turns them into Basic auth), HTTP/2 (over TLS, unless the transport speaks only HTTP/1.1; cleartext
// HTTP/2 always), custom dialers of the deprecated or TLS kind, and a redirect (the GET is sent again
// through the client, which applies its redirect policy). The one deliberate difference: the transport asks
// for gzip and inflates it; a direct GET asks for nothing, so the server sends the stream as is.

// directReadBuffer is the read buffer of a direct GET's connection. It holds the response's header lines
// and the body's chunk-size lines while they are parsed (a longer header line is still read whole; a
// chunk-size line longer than this, which would take chunk extensions no server sends, fails the stream,
// which is then reconnected); the events themselves are read past it, into the event parser's buffer.
const directReadBuffer = 128

// directStreams opens event-stream GETs on connections of their own (see above). Nil when the stream
// client cannot be bypassed.
type directStreams struct {
	t         *http.Transport
	tlsOK     bool // https GETs may go direct: the transport speaks only HTTP/1.1 over TLS
	maxHeader int64
}

// newDirectStreams returns the direct path for the stream client c, or nil when c must be used for every
// GET. It reads only transport fields that http.Transport itself never changes, or ones it leaves alone in
// the configuration found, so it does not race with the transport's first use elsewhere.
func newDirectStreams(c *http.Client) *directStreams {
	if c == nil || c.Jar != nil || c.Timeout != 0 {
		return nil
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok || t.Dial != nil || t.DialTLS != nil || t.DialTLSContext != nil { // deprecated or not, they dial
		return nil
	}
	d := &directStreams{t: t, maxHeader: t.MaxResponseHeaderBytes}
	if p := t.Protocols; p != nil {
		if !p.HTTP1() || p.UnencryptedHTTP2() {
			return nil
		}
		d.tlsOK = !p.HTTP2()
	} else if !t.ForceAttemptHTTP2 && t.DialContext != nil {
		// The transport then enables HTTP/2 only through an "h2" entry the caller put in TLSNextProto
		// (which it never writes in this case).
		_, h2 := t.TLSNextProto["h2"]
		d.tlsOK = !h2
	}
	// Without HTTP/2 the transport leaves TLSClientConfig alone; one that offers h2 by itself is left to it.
	if d.tlsOK && t.TLSClientConfig != nil && containsFold(t.TLSClientConfig.NextProtos, "h2") {
		d.tlsOK = false
	}
	if d.maxHeader <= 0 {
		d.maxHeader = 10 << 20 // http.Transport's default
	}
	return d
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// usable reports whether req may be sent directly.
func (d *directStreams) usable(req *http.Request) bool {
	if d == nil || req.URL == nil || req.URL.User != nil || req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.URL.Scheme {
	case "http":
	case "https":
		if !d.tlsOK {
			return false
		}
	default:
		return false
	}
	h := req.URL.Hostname()
	if h == "" || !isASCII(h) { // the transport converts IDNs; leave those to it
		return false
	}
	if d.t.Proxy != nil {
		if u, err := d.t.Proxy(req); err != nil || u != nil {
			return false
		}
	}
	for k, vs := range req.Header {
		if !validHeaderName(k) {
			return false // the transport refuses it with its own error
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return false
			}
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validHeaderName reports whether k is an HTTP token (RFC 9110, 5.6.2).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v has no control characters but horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// do sends req on a new connection and returns its response once the headers are read. The body reads
// from the connection; closing it, or the end of req's context, closes the connection.
func (d *directStreams) do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	resp, err := d.roundTrip(ctx, req)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return resp, err
}

func (d *directStreams) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	u := req.URL
	addr := net.JoinHostPort(u.Hostname(), effectivePort(u))
	dial := d.t.DialContext
	if dial == nil {
		var zero net.Dialer
		dial = zero.DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if u.Scheme == "https" {
		tc, err := d.handshake(ctx, raw, u.Hostname())
		if err != nil {
			_ = raw.Close()
			return nil, err
		}
		conn = tc
	}
	body := &directBody{conn: conn}
	body.stop = context.AfterFunc(ctx, body.cancel)
	fail := func(err error) (*http.Response, error) {
		_ = body.Close()
		return nil, err
	}

	// Written whole from a buffer (Request.Write wraps any writer without WriteByte in a 4 KiB bufio.Writer).
	var out bytes.Buffer
	if err := req.Write(&out); err != nil {
		return fail(err)
	}
	if _, err := conn.Write(out.Bytes()); err != nil {
		return fail(err)
	}

	var headerTimedOut atomic.Bool
	if rt := d.t.ResponseHeaderTimeout; rt > 0 {
		t := time.AfterFunc(rt, func() { headerTimedOut.Store(true); _ = conn.Close() })
		defer t.Stop()
	}
	lr := &headerLimitReader{r: conn, left: d.maxHeader}
	br := bufio.NewReaderSize(lr, directReadBuffer)
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		resp, err = http.ReadResponse(br, req)
		if err != nil {
			if headerTimedOut.Load() {
				err = errors.New("net/http: timeout awaiting response headers")
			} else if lr.left < 0 {
				err = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", d.maxHeader)
			}
			return fail(err)
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if n1xx >= 5 { // as the transport: a few informational answers (103 Early Hints), not endless ones
			return fail(errors.New("net/http: too many 1xx informational responses"))
		}
	}
	lr.left = noHeaderLimit
	if headerTimedOut.Load() {
		return fail(errors.New("net/http: timeout awaiting response headers"))
	}
	if tc, ok := conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		resp.TLS = &st
	}
	// The body reads br itself: the one http.ReadResponse made keeps the response (for trailers), its
	// headers and the request alive for as long as the stream is held.
	body.r, body.br = framedBody(resp, br), br
	if sc, ok := conn.(syscall.Conn); ok && peekSupported { // not over TLS: its own buffers are not visible
		body.raw, _ = sc.SyscallConn()
	}
	resp.Body = body
	return resp, nil
}

// framedBody reads resp's body from br as http.ReadResponse framed it: chunked, of a given length, none, or
// up to the end of the connection.
func framedBody(resp *http.Response, br *bufio.Reader) io.Reader {
	switch {
	case resp.Body == http.NoBody || resp.ContentLength == 0:
		return http.NoBody
	case len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked":
		return httputil.NewChunkedReader(br)
	case resp.ContentLength > 0:
		return io.LimitReader(br, resp.ContentLength)
	}
	return br
}

// handshake runs the TLS handshake as http.Transport does for an HTTP/1.1-only connection: its
// TLSClientConfig, the host as server name unless the config names one, its TLSHandshakeTimeout.
func (d *directStreams) handshake(ctx context.Context, raw net.Conn, host string) (*tls.Conn, error) {
	cfg := &tls.Config{}
	if d.t.TLSClientConfig != nil {
		cfg = d.t.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	hctx := ctx
	if to := d.t.TLSHandshakeTimeout; to > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, to)
		defer cancel()
	}
	if err := tc.HandshakeContext(hctx); err != nil {
		if ctx.Err() == nil && hctx.Err() != nil {
			return nil, errors.New("net/http: TLS handshake timeout")
		}
		return nil, err
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
		return nil, fmt.Errorf("the server chose protocol %q, not HTTP/1.1", p)
	}
	return tc, nil
}

const noHeaderLimit = 1<<63 - 1

// headerLimitReader bounds what is read while the response headers are: left goes negative past the
// bound. Only the goroutine that reads the response uses it.
type headerLimitReader struct {
	r    io.Reader
	left int64
}

func (l *headerLimitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.left = -1
		return 0, errors.New("response headers too large")
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	if l.left != noHeaderLimit {
		l.left -= int64(n)
	}
	return n, err
}

// directBody is the body of a direct GET's response: closing it, or the end of the request's context,
// closes the connection.
type directBody struct {
	r    io.Reader
	br   *bufio.Reader // what r reads from
	conn net.Conn
	raw  syscall.RawConn // the plain TCP connection, for waiting until it is readable; nil: none (TLS)
	stop func() bool     // stops the context's AfterFunc

	// For park: closed is set once the connection is closed; wake is what the end of the request's
	// context must run for a parked body; polled says the connection is in the poller's set.
	closed atomic.Bool
	wake   atomic.Pointer[func()]
	polled atomic.Bool
}

func (b *directBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *directBody) Close() error {
	b.stop()
	b.closed.Store(true)
	return b.conn.Close()
}

// cancel runs when the request's context ends: it closes the connection, and wakes the reader if it is
// parked.
func (b *directBody) cancel() {
	b.closed.Store(true)
	_ = b.conn.Close()
	if w := b.wake.Swap(nil); w != nil {
		(*w)()
	}
}

// waitReadable waits, when nothing is buffered between the connection and the body, until the connection
// has something to read (or has ended, failed or been closed). Over TLS it returns at once: decrypted or
// read-ahead bytes may wait inside crypto/tls, out of sight.
func (b *directBody) waitReadable() {
	if b.raw != nil && b.br.Buffered() == 0 {
		_ = b.raw.Read(peekReady) // an error (closed, failed) shows in the read that follows
	}
}

// park hands the idle body (nothing buffered, plain TCP) to the process's poller, so that no goroutine
// waits for it: wake runs once, when the connection is readable, has ended or failed, or when the request's
// context ends (the connection then closed); it runs on the poller's goroutine, the context's, or park's
// caller's, so it must not block (it starts a goroutine). It reports false when the body cannot be parked;
// the caller then waits itself (waitReadable).
func (b *directBody) park(wake func()) bool {
	p := idlePoller()
	if p == nil || b.raw == nil || b.br.Buffered() > 0 {
		return false
	}
	var once atomic.Bool
	id := p.newID()
	w := func() {
		if once.CompareAndSwap(false, true) {
			p.forget(id)
			wake()
		}
	}
	p.add(id, w) // before the connection is armed: its event may come at once
	var armErr error
	err := b.raw.Control(func(fd uintptr) { // the descriptor stays open (and its number ours) meanwhile
		armErr = p.arm(int(fd), id, !b.polled.Load())
	})
	if err != nil || armErr != nil {
		p.forget(id)
		return false
	}
	b.polled.Store(true)
	// Whichever of this and cancel comes second sees the other's store, so a context that ended meanwhile
	// still wakes the reader (once: w guards it).
	b.wake.Store(&w)
	if b.closed.Load() {
		w()
	}
	return true
}
