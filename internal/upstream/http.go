package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/sse"
)

// DefaultMaxMessageBytes bounds one message from an HTTP upstream when the options give no limit.
const DefaultMaxMessageBytes = 16 << 20

// HTTP header names of the MCP Streamable HTTP transport.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "MCP-Protocol-Version"
	headerMethod          = "Mcp-Method"
	headerName            = "Mcp-Name"
	headerParamPrefix     = "Mcp-Param-"
	headerLastEventID     = "Last-Event-ID"
)

// streamBufferSize is the read buffer of the event streams a session holds open over GET (mostly idle; an
// event longer than the buffer is still read whole). Request streams keep the sse package's default.
const streamBufferSize = 512

// Reconnection bounds for SSE streams. Variables so tests in this package can shorten them.
var (
	reconnectInitial = 250 * time.Millisecond
	reconnectMax     = 30 * time.Second
	// resumeDefault is how long to wait before resuming a request's stream when the server gave no retry.
	resumeDefault = time.Second
	// resumeAttempts bounds the resumptions of one request's stream that bring no new event.
	resumeAttempts = 5
	// deleteTimeout bounds the DELETE that Close sends.
	deleteTimeout = 5 * time.Second
)

// legacyVersions are the protocol versions of the session-based era; any other version carried in a
// request's _meta is the stateless (2026-07-28 and later) era.
var legacyVersions = map[string]bool{
	"2024-11-05": true,
	"2025-03-26": true,
	"2025-06-18": true,
	"2025-11-25": true,
}

// isModern reports whether a request that carries protocol version v in its _meta is sent the stateless way.
func isModern(v string) bool { return v != "" && !legacyVersions[v] }

// HTTPOptions configures a Streamable HTTP upstream.
type HTTPOptions struct {
	// Name is the configured server name, used in errors and logs.
	Name string
	// URL is the server's MCP endpoint (http or https).
	URL string
	// Headers are added to every request (typically credentials). Their values never appear in errors or
	// logs, and are redacted from upstream error bodies quoted in errors.
	Headers map[string]string
	// Client sends the requests. Nil means a client without an overall timeout (streams are long-lived).
	// Redirects to another origin are refused unless the given client sets its own CheckRedirect.
	Client *http.Client
	// StreamClient, when set, sends the GET requests of event streams (the standalone stream, a resumed
	// response stream, the legacy transport's stream) instead of Client: such a connection lives as long
	// as its session, mostly idle, so a transport with small buffers (http.Transport's ReadBufferSize and
	// WriteBufferSize) saves memory per session. Redirects are guarded as for Client. When the client (this
	// one, else Client) is a plain *http.Transport with no proxy for the URL, such a GET is sent on a
	// connection dialled with that transport's dialer, TLS config and timeouts and read by the stream's own
	// goroutine, without the transport's two goroutines per connection; see directStreams for what still
	// goes through the client.
	StreamClient *http.Client
	// MaxMessageBytes bounds one message (a JSON body or one SSE event). 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// Logger receives diagnostics. Nil discards them.
	Logger *slog.Logger
	// RequestHeaders, when set, adds headers to every request to the server, after Headers (typically a
	// per-user credential). It is called with the context of the message being sent for a POST, and with
	// the context given to Open for the session's GET stream and closing DELETE, so it can read values the
	// caller put there (the principal). An error fails that request: a request gets a JSON-RPC error that
	// quotes it, so it must not contain secrets. The values never appear in errors or logs, and are
	// redacted from upstream error bodies quoted in errors.
	RequestHeaders func(ctx context.Context) (http.Header, error)
}

// HTTP is a Streamable HTTP upstream server (protocol versions 2025-03-26 to 2025-11-25 with sessions, and
// the stateless 2026-07-28 era, chosen per message).
type HTTP struct {
	opts HTTPOptions
	sh   shared
}

// NewHTTP returns an upstream for opts. It does no I/O; Open checks the options.
func NewHTTP(opts HTTPOptions) *HTTP { return &HTTP{opts: opts, sh: newShared(opts)} }

// shared is what every Conn of one upstream uses, prepared once rather than per session.
type shared struct {
	client, stream *http.Client
	direct         *directStreams // event-stream GETs on connections of their own; nil: all through stream
	log            *slog.Logger
}

func newShared(o HTTPOptions) shared {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sh := shared{client: guardRedirects(o.Client), log: log.With("upstream", o.Name)}
	sh.stream = sh.client
	if o.StreamClient != nil {
		sh.stream = guardRedirects(o.StreamClient)
	}
	sh.direct = newDirectStreams(sh.stream)
	return sh
}

// Open returns a Conn for one client session. It does no network I/O: the first Send does.
//
// The Conn sends each message with a POST of its original bytes. A request whose _meta names a protocol
// version of the stateless era is sent with MCP-Protocol-Version, Mcp-Method and (for tools/call,
// prompts/get, resources/read) Mcp-Name headers and no session; the Frame's Mcp-Param-* headers are
// forwarded. Other messages follow the session era: the session id and the protocol version negotiated by
// the client's initialize are sent on every later message, the standalone GET stream is opened after
// notifications/initialized, and Close ends the session with DELETE.
//
// Send returns once a request is on the wire (its response arrives through Recv, with Frame.Related set to
// the request id, after any messages the server sent on the request's stream); cancelling Send's ctx
// aborts the POST, after which nothing is delivered for that request. Any other failure of a request
// becomes a JSON-RPC error response for its id (code jsonrpc.CodeUpstreamUnavailable unless the server
// answered with a JSON-RPC error), so the client is never left waiting. Send of a notification or response
// returns when the server accepted it, or an error saying why not.
func (u *HTTP) Open(ctx context.Context) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Server: u.opts.Name, Op: "open", Err: err}
	}
	ep, err := parseEndpoint(u.opts.URL)
	if err != nil {
		return nil, &Error{Server: u.opts.Name, Op: "open", Err: err}
	}
	c := &httpConn{base: newBase(u.opts, u.sh)}
	c.setRequestHeaders(ctx, u.opts.RequestHeaders)
	c.url = ep.String()
	c.host = ep.Host
	return c, nil
}

// parseEndpoint checks that raw is an absolute http(s) URL.
func parseEndpoint(raw string) (*url.URL, error) {
	ep, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url is not a valid URL (%v); set it to the server's MCP endpoint, e.g. https://host/mcp", stripURL(err))
	}
	if (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" {
		return nil, fmt.Errorf("url %q is not an absolute http or https URL; set it to the server's MCP endpoint, e.g. https://host/mcp", ep.Redacted())
	}
	return ep, nil
}

// base is what the HTTP and SSE connections share: the HTTP client, the Recv channel and the goroutines
// that feed it.
type base struct {
	name    string
	headers map[string]string
	client  *http.Client
	stream  *http.Client // for event-stream GETs (HTTPOptions.StreamClient, or client)
	direct  *directStreams
	max     int64
	log     *slog.Logger

	// ctx lives as long as the Conn; Close cancels it, which aborts every request and stream.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts the goroutines (and in-flight Sends) that Close waits for.
	wg sync.WaitGroup
	// recv is the single channel Recv reads from.
	recv chan Frame
	// dispatch, when set (Dispatcher), receives every frame instead of recv. Set before the first Send, so
	// before any goroutine that delivers starts.
	dispatch func(Frame)

	mu     sync.Mutex
	closed bool

	// reqHeaders adds per-request headers (HTTPOptions.RequestHeaders); openValues carries the values of
	// Open's context for requests that belong to no message.
	reqHeaders func(context.Context) (http.Header, error)
	openValues context.Context
	// dynSecrets are recent reqHeaders values, redacted like headers (bounded; guarded by secMu, a lock
	// of its own so it can be taken wherever mu is held).
	secMu      sync.Mutex
	dynSecrets map[string]struct{}
}

// setRequestHeaders installs a per-request header function; Open calls it with its own context.
func (b *base) setRequestHeaders(openCtx context.Context, f func(context.Context) (http.Header, error)) {
	b.reqHeaders = f
	b.openValues = context.WithoutCancel(openCtx)
}

// maxDynSecrets bounds the remembered per-request header values.
const maxDynSecrets = 64

func newBase(o HTTPOptions, sh shared) base {
	max := o.MaxMessageBytes
	if max <= 0 {
		max = DefaultMaxMessageBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	return base{
		name:    o.Name,
		headers: o.Headers,
		client:  sh.client,
		stream:  sh.stream,
		direct:  sh.direct,
		max:     max,
		log:     sh.log,
		ctx:     ctx,
		cancel:  cancel,
		recv:    make(chan Frame),
	}
}

// guardRedirects returns a client that refuses to follow a redirect to another origin, so configured
// headers (credentials) and message bodies never reach a server other than the configured one. A client
// that sets its own CheckRedirect is used as is.
func guardRedirects(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		if c.CheckRedirect != nil {
			return c
		}
		cp = *c
	}
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !sameOrigin(via[0].URL, req.URL) {
			return fmt.Errorf("refusing to follow a redirect to another origin (%s)", origin(req.URL))
		}
		return nil
	}
	return &cp
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// begin registers an in-flight operation with the Conn; it fails after Close.
func (b *base) begin() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.wg.Add(1)
	return nil
}

// shut marks the Conn closed, cancels everything and waits for the goroutines. It reports whether this
// call did it.
func (b *base) shut() bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	return true
}

// go starts f as a goroutine owned by the Conn. It reports false (not starting f) after Close.
func (b *base) goOwned(f func()) bool {
	if b.begin() != nil {
		return false
	}
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

// deliver hands f to Recv, or to the Dispatch function. It reports false when the Conn closed first.
func (b *base) deliver(f Frame) bool {
	if b.dispatch != nil {
		if b.ctx.Err() != nil {
			return false
		}
		b.dispatch(f)
		return true
	}
	select {
	case b.recv <- f:
		return true
	case <-b.ctx.Done():
		return false
	}
}

func (b *base) recvFrame(ctx context.Context) (Frame, error) {
	select {
	case f := <-b.recv:
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-b.ctx.Done():
		return Frame{}, ErrClosed
	}
}

// linkCtx returns a context cancelled when parent is or when the Conn closes.
func (b *base) linkCtx(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(b.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// newRequest builds a request with the configured headers and the transport's fixed ones.
func (b *base) newRequest(ctx context.Context, method, target string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range b.headers {
		req.Header.Set(k, v)
	}
	if b.reqHeaders != nil {
		hctx := ctx
		if method != http.MethodPost {
			hctx = b.openValues
		}
		extra, err := b.reqHeaders(hctx)
		if err != nil {
			return nil, err
		}
		for k, vs := range extra {
			req.Header.Del(k)
			for _, v := range vs {
				req.Header.Add(k, v)
				b.rememberSecret(v)
			}
		}
	}
	switch method {
	case http.MethodPost:
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	case http.MethodGet:
		req.Header.Set("Accept", "text/event-stream")
	}
	return req, nil
}

// sensitiveQuery matches the values of URL query parameters that act as one-time credentials (consent
// tickets, authorization codes, OAuth state, tokens).
var sensitiveQuery = regexp.MustCompile(`(?i)([?&](?:ticket|code|state|token|access_token|refresh_token|id_token)=)[^&\s"'<>]+`)

// redactQueryValues replaces those values with "[REDACTED]" for logs.
func redactQueryValues(s string) string {
	return sensitiveQuery.ReplaceAllString(s, "${1}[REDACTED]")
}

// failRequest delivers a gateway error response for request id: "upstream NAME <what>".
func (b *base) failRequest(id jsonrpc.ID, status int, what string) {
	data := map[string]any{"server": b.name}
	if status != 0 {
		data["httpStatus"] = status
	}
	msg := fmt.Sprintf("upstream %q %s", b.name, what)
	// The client gets the whole text (it may carry the caller's own consent link); the log does not keep
	// single-use values such a link holds.
	b.log.Warn("request failed", "id", id.String(), "error", redactQueryValues(msg))
	raw := jsonrpc.NewErrorResponse(id, jsonrpc.CodeUpstreamUnavailable, msg, data)
	m, err := jsonrpc.Decode(raw)
	if err != nil { // cannot happen: we built it
		b.log.Error("building an error response failed", "error", err)
		return
	}
	b.deliver(Frame{Msg: m, Related: id})
}

// relayErrorBody delivers body as the response to request id when it is a JSON-RPC error response, and
// reports whether it was. A body whose id differs (often null) is re-issued with the request's id and the
// same error, so the client can match it.
func (b *base) relayErrorBody(id jsonrpc.ID, body []byte, status int) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return false
	}
	m, err := jsonrpc.Decode(body)
	if err != nil || m.Kind != jsonrpc.KindError || m.Error == nil {
		return false
	}
	if !bytes.Equal(m.ID, id) {
		var data any
		if len(m.Error.Data) > 0 {
			data = json.RawMessage(m.Error.Data)
		}
		if m, err = jsonrpc.Decode(jsonrpc.NewErrorResponse(id, m.Error.Code, m.Error.Message, data)); err != nil {
			return false
		}
	}
	m.HTTPStatus = status
	b.deliver(Frame{Msg: m, Related: id})
	return true
}

// statusText describes a non-2xx answer: the status, the start of the body, and what to do.
func (b *base) statusText(resp *http.Response, body []byte) string {
	s := "answered HTTP " + resp.Status
	if snip := b.snippet(body); snip != "" {
		s += ": " + snip
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		s += " (check the credentials in this server's headers in the gateway config)"
	case resp.StatusCode >= 500:
		s += " (the server failed; check its logs, or retry later)"
	default:
		s += " (the server refused the message)"
	}
	return s
}

func (b *base) rememberSecret(v string) {
	b.secMu.Lock()
	defer b.secMu.Unlock()
	if b.dynSecrets == nil || len(b.dynSecrets) >= maxDynSecrets {
		b.dynSecrets = map[string]struct{}{}
	}
	b.dynSecrets[v] = struct{}{}
}

// snippet returns up to 200 bytes of body as printable text, with configured header values redacted.
func (b *base) snippet(body []byte) string {
	s := strings.ToValidUTF8(string(body), "?")
	for _, v := range b.headers {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	b.secMu.Lock()
	for v := range b.dynSecrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	b.secMu.Unlock()
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// readBody reads at most b.max bytes of r; tooBig reports that r had more.
func (b *base) readBody(r io.Reader) (body []byte, tooBig bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r, b.max+1))
	if int64(len(body)) > b.max {
		return body[:b.max], true, err
	}
	return body, false, err
}

// stripURL drops the URL from a *url.Error (it may carry secrets in its query) and keeps the cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func mediaType(h http.Header) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// decodeJSONBody splits a JSON body into messages: one object, or an array of them (a 2025-03-26 batch).
func decodeJSONBody(body []byte) ([]*jsonrpc.Message, error) {
	body = bytes.TrimSpace(body)
	if !jsonrpc.IsBatch(body) {
		m, err := jsonrpc.Decode(body)
		if err != nil {
			return nil, err
		}
		return []*jsonrpc.Message{m}, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		return nil, fmt.Errorf("invalid JSON-RPC batch: %w", err)
	}
	msgs := make([]*jsonrpc.Message, 0, len(elems))
	for i, e := range elems {
		m, err := jsonrpc.Decode(e)
		if err != nil {
			return nil, fmt.Errorf("batch element %d: %w", i, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// httpConn is one client session with a Streamable HTTP upstream.
type httpConn struct {
	base
	url  string
	host string

	// Guarded by base.mu.
	sessionID string
	version   string             // negotiated by initialize; sent as MCP-Protocol-Version in the session era
	getCancel context.CancelFunc // stops the standalone GET stream; nil when none runs

	closeErr error
}

// exchange is one POSTed message and the session facts it was sent with.
type exchange struct {
	f         Frame
	modern    bool
	sessionID string
	version   string
}

func (c *httpConn) Send(ctx context.Context, f Frame) error {
	if f.Msg == nil || len(f.Msg.Raw) == 0 {
		return &Error{Server: c.name, Op: "send", Err: errors.New("empty frame: the gateway passed no message")}
	}
	if err := c.begin(); err != nil {
		return err
	}
	ex := exchange{f: f, modern: isModern(modernVersion(f))}
	if !ex.modern && f.Msg.Method != "initialize" {
		c.mu.Lock()
		ex.sessionID, ex.version = c.sessionID, c.version
		c.mu.Unlock()
	}
	if f.Msg.Kind != jsonrpc.KindRequest {
		defer c.wg.Done()
		return c.post(ctx, ex)
	}
	written := make(chan struct{})
	go func() {
		defer c.wg.Done()
		c.request(ctx, ex, written)
	}()
	select {
	case <-written:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
	return nil
}

func (c *httpConn) Recv(ctx context.Context) (Frame, error) { return c.recvFrame(ctx) }

// Dispatch implements Dispatcher: an HTTP upstream session ends only when closed (a failed request becomes
// its error response), and each of its streams is read by a goroutine of its own anyway.
func (c *httpConn) Dispatch(f func(Frame)) { c.dispatch = f }

// Close stops every request and stream, then ends the upstream session with DELETE (a 405 answer means
// the server does not support that, which is fine).
func (c *httpConn) Close() error {
	if !c.shut() {
		return nil
	}
	c.mu.Lock()
	sid, ver := c.sessionID, c.version
	c.mu.Unlock()
	if sid != "" {
		c.closeErr = c.deleteSession(sid, ver)
	}
	return c.closeErr
}

func (c *httpConn) deleteSession(sid, ver string) error {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodDelete, c.url, nil)
	if err != nil {
		return &Error{Server: c.name, Op: "close", Err: err}
	}
	req.Header.Set(headerSessionID, sid)
	if ver != "" {
		req.Header.Set(headerProtocolVersion, ver)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return &Error{Server: c.name, Op: "close", Err: fmt.Errorf("ending the session with DELETE failed: %w", stripURL(err))}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300,
		resp.StatusCode == http.StatusMethodNotAllowed, resp.StatusCode == http.StatusNotFound:
		return nil
	}
	return &Error{Server: c.name, Op: "close", Err: fmt.Errorf("ending the session with DELETE: server answered HTTP %s", resp.Status)}
}

// modernVersion is the 2026-era version a message travels under: its _meta version, or, for a body that
// lacks one (which the server must reject with -32602), the version header the client sent with it.
func modernVersion(f Frame) string {
	if f.Msg.ProtocolVersion != "" {
		return f.Msg.ProtocolVersion
	}
	return f.Header.Get(headerProtocolVersion)
}

// newPost builds the POST for ex.
func (c *httpConn) newPost(ctx context.Context, ex exchange) (*http.Request, error) {
	req, err := c.newRequest(ctx, http.MethodPost, c.url, ex.f.Msg.Raw)
	if err != nil {
		return nil, err
	}
	m := ex.f.Msg
	if ex.modern {
		req.Header.Set(headerProtocolVersion, modernVersion(ex.f))
		if m.Method != "" {
			req.Header.Set(headerMethod, m.Method)
		}
		switch m.Method {
		case "tools/call", "prompts/get", "resources/read":
			if m.Name != "" {
				req.Header.Set(headerName, m.Name)
			}
		}
	} else {
		if ex.sessionID != "" {
			req.Header.Set(headerSessionID, ex.sessionID)
		}
		if ex.version != "" {
			req.Header.Set(headerProtocolVersion, ex.version)
		}
	}
	for k, vs := range ex.f.Header {
		if len(k) > len(headerParamPrefix) && strings.EqualFold(k[:len(headerParamPrefix)], headerParamPrefix) {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
	}
	for k, vs := range req.Header {
		if k != headerName && !strings.HasPrefix(k, headerParamPrefix) {
			continue
		}
		for _, v := range vs {
			if strings.ContainsFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }) {
				return nil, fmt.Errorf("its %s header would carry control characters, which HTTP cannot; the client sent an invalid name or parameter value", k)
			}
		}
	}
	return req, nil
}

// post sends a notification or a response and waits for the server to accept it.
func (c *httpConn) post(ctx context.Context, ex exchange) error {
	ctx, cancel := c.linkCtx(ctx)
	defer cancel()
	fail := func(err error) error { return &Error{Server: c.name, Op: "send", Err: err} }
	req, err := c.newPost(ctx, ex)
	if err != nil {
		return fail(fmt.Errorf("building the request: %w", err))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(fmt.Errorf("could not reach the server at %s: %w; check that it is running and that its url in the config is right", c.host, stripURL(err)))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode == http.StatusNotFound && ex.sessionID != "" {
			return fail(errors.New("the upstream session expired or is unknown to the server (HTTP 404); the client must initialize a new session"))
		}
		body, _, _ := c.readBody(io.LimitReader(resp.Body, 64<<10))
		return fail(errors.New(c.statusText(resp, body)))
	}
	// A server may answer a notification or response with messages (it should not); pass them on. Any
	// other body (even a stream the server keeps open) is not read: closing it ends the exchange.
	if mediaType(resp.Header) != "application/json" {
		return c.afterAccepted(ex)
	}
	body, tooBig, _ := c.readBody(resp.Body)
	if !tooBig && len(bytes.TrimSpace(body)) > 0 {
		if msgs, err := decodeJSONBody(body); err == nil {
			// From a Conn-owned goroutine: the caller may be the one that reads Recv.
			c.goOwned(func() {
				for _, m := range msgs {
					if !c.deliver(Frame{Msg: m}) {
						return
					}
				}
			})
		}
	}
	return c.afterAccepted(ex)
}

// afterAccepted runs what follows the server's acceptance of a notification or response: the standalone
// stream opens once the session is initialized.
func (c *httpConn) afterAccepted(ex exchange) error {
	if ex.f.Msg.Method == "notifications/initialized" && !ex.modern {
		c.startStandalone()
	}
	return nil
}

// request runs one request's POST and delivers everything that comes back, ending with its response (or
// an error response). written is closed once the request is on the wire or has failed.
func (c *httpConn) request(sendCtx context.Context, ex exchange, written chan struct{}) {
	var once sync.Once
	markWritten := func() { once.Do(func() { close(written) }) }
	defer markWritten()
	ctx, cancel := c.linkCtx(sendCtx)
	defer cancel()
	id := ex.f.Msg.ID

	req, err := c.newPost(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { markWritten() },
	}), ex)
	if err != nil {
		markWritten()
		c.failRequest(id, 0, fmt.Sprintf("was not sent the request: %v", err))
		return
	}
	resp, err := c.client.Do(req)
	// Send waits for this; from here on, delivering may block until the caller reads Recv.
	markWritten()
	if err != nil {
		if ctx.Err() != nil { // Close, or the client cancelled: nobody waits for an answer
			return
		}
		c.failRequest(id, 0, fmt.Sprintf("could not be reached at %s: %v; check that the server is running and that its url in the config is right", c.host, stripURL(err)))
		return
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _, _ := c.readBody(io.LimitReader(resp.Body, 1<<20))
		if ctx.Err() != nil {
			return
		}
		if c.relayErrorBody(id, body, resp.StatusCode) {
			return
		}
		if resp.StatusCode == http.StatusNotFound && ex.sessionID != "" {
			c.failRequest(id, resp.StatusCode, "ended the session: the upstream session expired or is unknown to the server (HTTP 404); the client must initialize a new session")
			return
		}
		c.failRequest(id, resp.StatusCode, c.statusText(resp, body))
		return
	}

	if ex.f.Msg.Method == "initialize" && !ex.modern {
		if !c.adoptSession(id, resp) {
			return
		}
	}

	switch mediaType(resp.Header) {
	case "text/event-stream":
		c.readRequestStream(ctx, ex, resp)
	case "application/json":
		body, tooBig, err := c.readBody(resp.Body)
		switch {
		case ctx.Err() != nil:
			return
		case tooBig:
			c.failRequest(id, resp.StatusCode, fmt.Sprintf("sent a response larger than the %d-byte limit; raise the server's message size limit in the gateway config or ask for less data", c.max))
			return
		case err != nil:
			c.failRequest(id, resp.StatusCode, fmt.Sprintf("broke off its response: %v; the client may retry", err))
			return
		}
		msgs, err := decodeJSONBody(body)
		if err != nil {
			c.failRequest(id, resp.StatusCode, fmt.Sprintf("sent an invalid JSON-RPC message: %v", err))
			return
		}
		answered := false
		for _, m := range msgs {
			answered = answered || c.isAnswer(ex, m)
			if !c.deliver(Frame{Msg: m, Related: id}) {
				return
			}
		}
		if !answered {
			c.failRequest(id, resp.StatusCode, "answered with a JSON body that does not contain the response to the request")
		}
	default:
		if resp.StatusCode == http.StatusAccepted {
			c.failRequest(id, resp.StatusCode, "accepted the request (HTTP 202) but sent no response for it")
			return
		}
		c.failRequest(id, resp.StatusCode, fmt.Sprintf("answered with Content-Type %q, which is neither application/json nor text/event-stream", resp.Header.Get("Content-Type")))
	}
}

// adoptSession records the session id of an initialize response. It reports false (after delivering an
// error response) when the id is not usable.
func (c *httpConn) adoptSession(id jsonrpc.ID, resp *http.Response) bool {
	sid := resp.Header.Get(headerSessionID)
	for i := 0; i < len(sid); i++ {
		if sid[i] < 0x21 || sid[i] > 0x7e {
			c.failRequest(id, resp.StatusCode, "issued a session id with characters outside visible ASCII, which the protocol forbids; the server is misbehaving")
			return false
		}
	}
	c.mu.Lock()
	if c.getCancel != nil { // a new session replaces the old one and its stream
		c.getCancel()
		c.getCancel = nil
	}
	c.sessionID = sid
	c.version = ""
	c.mu.Unlock()
	return true
}

// isAnswer reports whether m is the response to ex's request, and records the negotiated protocol version
// when it answers initialize.
func (c *httpConn) isAnswer(ex exchange, m *jsonrpc.Message) bool {
	if !m.Kind.IsResponse() || !bytes.Equal(m.ID, ex.f.Msg.ID) {
		return false
	}
	if ex.f.Msg.Method == "initialize" && !ex.modern && m.Kind == jsonrpc.KindResult {
		var r struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		if json.Unmarshal(m.Result, &r) == nil && r.ProtocolVersion != "" {
			c.mu.Lock()
			c.version = r.ProtocolVersion
			c.mu.Unlock()
		}
	}
	return true
}

// readRequestStream delivers the messages of a request's SSE stream until its response. When the stream
// ends early, a session-era stream is resumed with GET + Last-Event-ID (bounded); otherwise, or when
// resuming fails, an error response is delivered.
// drainAfterAnswer reads what is left of a request's response stream once its answer was delivered, so
// that the connection goes back to the pool: an HTTP/1.1 body closed before its end takes its connection
// with it, and the next call pays for a new one. A server ends the stream right after the response (the
// answer is already on its way to the client meanwhile); one that keeps it open is cut off after
// drainWait, or after drainLimit bytes.
func drainAfterAnswer(body io.ReadCloser) {
	t := time.AfterFunc(drainWait, func() { _ = body.Close() })
	defer t.Stop()
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
}

const (
	drainWait  = time.Second
	drainLimit = 64 << 10
)

func (c *httpConn) readRequestStream(ctx context.Context, ex exchange, resp *http.Response) {
	id := ex.f.Msg.ID
	r := sse.NewReader(resp.Body, int(c.max))
	answered, err := c.readStream(r, id, func(m *jsonrpc.Message) bool { return c.isAnswer(ex, m) })
	if answered {
		drainAfterAnswer(resp.Body)
		return
	}
	if ctx.Err() != nil {
		return
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		c.failRequest(id, 0, fmt.Sprintf("sent a message larger than the %d-byte limit; raise the server's message size limit in the gateway config or ask for less data", c.max))
		return
	}
	if ex.modern {
		c.failRequest(id, 0, fmt.Sprintf("closed the response stream before the response (%v); the client may send the request again", streamEnd(err)))
		return
	}
	lastID := r.LastEventID()
	if lastID == "" {
		c.failRequest(id, 0, fmt.Sprintf("closed the response stream before the response (%v) and gave no event id to resume from; the client may send the request again", streamEnd(err)))
		return
	}
	delay := resumeDefault
	if d, ok := r.Retry(); ok {
		delay = min(d, reconnectMax)
	}
	for attempt := 1; ; attempt++ {
		if !sleepCtx(ctx, delay) {
			return
		}
		r, status, rerr := c.resume(ctx, lastID)
		if ctx.Err() != nil {
			return
		}
		if rerr == nil && r == nil { // the server refused: no point retrying
			c.failRequest(id, status, fmt.Sprintf("closed the response stream before the response and refused to resume it (HTTP %d); the client may send the request again", status))
			return
		}
		if r != nil {
			answered, err = c.readStream(r, id, func(m *jsonrpc.Message) bool { return c.isAnswer(ex, m) })
			if answered || ctx.Err() != nil {
				return
			}
			if errors.Is(err, sse.ErrEventTooLarge) {
				c.failRequest(id, 0, fmt.Sprintf("sent a message larger than the %d-byte limit; raise the server's message size limit in the gateway config or ask for less data", c.max))
				return
			}
			if r.LastEventID() != "" && r.LastEventID() != lastID {
				lastID = r.LastEventID()
				attempt = 0 // progress: the budget counts resumptions that bring nothing new
			}
			if d, ok := r.Retry(); ok {
				delay = min(d, reconnectMax)
			}
			rerr = err
		}
		if attempt >= resumeAttempts {
			c.failRequest(id, status, fmt.Sprintf("closed the response stream before the response and %d attempts to resume it failed (last: %v); the client may send the request again", resumeAttempts, streamEnd(rerr)))
			return
		}
	}
}

// resume opens GET + Last-Event-ID for ex's session. It returns a Reader on success; nil Reader and nil
// error when the server refused (status says how); an error when the attempt failed and may be retried.
func (c *httpConn) resume(ctx context.Context, lastID string) (*sse.Reader, int, error) {
	c.mu.Lock()
	sid, ver := c.sessionID, c.version // current: an initialize's stream resumes in its new session
	c.mu.Unlock()
	resp, err := c.get(ctx, sid, ver, lastID)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusConflict {
		_ = resp.Body.Close()
		return nil, resp.StatusCode, fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.StatusCode != http.StatusOK || mediaType(resp.Header) != "text/event-stream" {
		_ = resp.Body.Close()
		return nil, resp.StatusCode, nil
	}
	// The body is closed when ctx ends (the request's context) or the stream is read to its end.
	context.AfterFunc(ctx, func() { _ = resp.Body.Close() })
	return sse.NewReaderSize(&closeOnEOF{rc: resp.Body}, int(c.max), streamBufferSize), resp.StatusCode, nil
}

// closeOnEOF closes the body once it has been read to its end or failed.
type closeOnEOF struct{ rc io.ReadCloser }

func (c *closeOnEOF) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if err != nil {
		_ = c.rc.Close()
	}
	return n, err
}

// get opens an SSE GET on the endpoint.
func (c *httpConn) get(ctx context.Context, sid, ver, lastID string) (*http.Response, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		req.Header.Set(headerSessionID, sid)
	}
	if ver != "" {
		req.Header.Set(headerProtocolVersion, ver)
	}
	if lastID != "" {
		req.Header.Set(headerLastEventID, lastID)
	}
	resp, err := c.openStream(req)
	if err != nil {
		return nil, stripURL(err)
	}
	return resp, nil
}

// openStream sends an event-stream GET: on a connection of its own when it can (see directStreams), else
// through the stream client. A redirect answered on the direct path is followed by sending the GET again
// through the client, which applies its redirect policy.
func (b *base) openStream(req *http.Request) (*http.Response, error) {
	if b.direct.usable(req) {
		resp, err := b.direct.do(req)
		if err != nil || !isRedirect(resp.StatusCode) {
			return resp, err
		}
		_ = resp.Body.Close()
	}
	return b.stream.Do(req)
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readStream delivers the "message" events of r with Frame.Related = related until isAnswer reports the
// response, the stream ends (err is io.EOF then) or fails.
func (c *httpConn) readStream(r *sse.Reader, related jsonrpc.ID, isAnswer func(*jsonrpc.Message) bool) (answered bool, err error) {
	for {
		ev, err := r.Next()
		if err != nil {
			return false, err
		}
		m := c.eventMessage(ev)
		if m == nil {
			continue
		}
		done := isAnswer != nil && isAnswer(m)
		if !c.deliver(Frame{Msg: m, Related: related}) {
			return false, ErrClosed
		}
		if done {
			return true, nil
		}
	}
}

// nextEvent returns r's next event. When body is a direct stream's over plain TCP (directBody) and r has to
// read for the event, the goroutine first waits for the connection to be readable, where little of its
// stack is in use and r holds no buffer.
func nextEvent(r *sse.Reader, body io.Reader) (sse.Event, error) {
	db, _ := body.(*directBody)
	if db == nil || db.raw == nil {
		return r.Next()
	}
	for {
		ev, err := r.NextBuffered()
		if err != sse.ErrNeedInput {
			return ev, err
		}
		db.waitReadable()
		if err := r.Fill(); err != nil {
			return sse.Event{}, err
		}
	}
}

// eventMessage decodes a "message" event; other events, empty ones (stream priming) and invalid messages
// (logged) give nil.
func (c *base) eventMessage(ev sse.Event) *jsonrpc.Message {
	if ev.Type != "message" {
		return nil
	}
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return nil
	}
	m, err := jsonrpc.Decode(data)
	if err != nil {
		c.log.Warn("dropped an invalid message from the upstream's event stream", "error", err)
		return nil
	}
	return m
}

func streamEnd(err error) string {
	if err == nil || errors.Is(err, io.EOF) {
		return "the server ended it"
	}
	return err.Error()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// startStandalone opens the session's standalone GET stream, once per session.
func (c *httpConn) startStandalone() {
	c.mu.Lock()
	if c.getCancel != nil || c.closed {
		c.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.getCancel = cancel
	s := &standaloneStream{c: c, ctx: ctx, cancel: cancel, sid: c.sessionID, ver: c.version, backoff: reconnectInitial}
	c.wg.Add(1) // done by whichever goroutine of the stream stops it
	c.mu.Unlock()
	go s.run(false)
}

// standaloneStream is the standalone GET stream of one session: kept open until ctx ends, reconnected after
// a drop with Last-Event-ID, after the server's retry time or a backoff that doubles up to reconnectMax;
// stopped for good when the server has no such stream (405), the session is gone (404), or the server
// refuses it (another 4xx). Its messages are delivered with no Related id.
//
// Such a stream is idle nearly all the time, for the session's whole life, and a goroutine waiting on it
// costs its stack: one that has read and parsed events keeps 4 to 8 KiB (the garbage collector shrinks a
// stack only while its use, plus 800 bytes, is under a quarter of it). So on a direct stream over plain TCP
// (directBody), once the events buffered are delivered, the goroutine that delivered them starts a new one
// that only waits for the connection to be readable, on a new goroutine's small stack, and ends; the new
// one then reads on. The state of the stream lives here, not on a stack.
type standaloneStream struct {
	c        *httpConn
	ctx      context.Context
	cancel   context.CancelFunc
	sid, ver string

	lastID  string
	backoff time.Duration

	body io.ReadCloser // the stream being read; nil between connections
	r    *sse.Reader   // reads body
	n    int           // messages delivered since body was opened
}

// run carries the stream on from where it is: it connects when no body is open, then reads (filling r from
// the body first when fill is set: after waiting for input). It returns once the stream has stopped, or has
// been handed to a goroutine that waits for input.
func (s *standaloneStream) run(fill bool) {
	for {
		if s.body == nil {
			if !s.connect() {
				s.stop()
				return
			}
		}
		err := s.read(fill)
		fill = false
		if err == errHandedOff {
			return
		}
		_ = s.body.Close()
		s.body = nil
		if !s.ended(err) {
			s.stop()
			return
		}
	}
}

// errHandedOff is read's report that the stream went on in a new goroutine.
var errHandedOff = errors.New("handed off")

// stop ends the stream for good: what its last goroutine does.
func (s *standaloneStream) stop() {
	s.cancel()
	s.c.wg.Done()
}

// read delivers what the body brings until the stream ends (the error that ended it, io.EOF when the
// server did) or the stream is handed off to a goroutine that waits for input (errHandedOff). fill: read
// from the body first.
func (s *standaloneStream) read(fill bool) error {
	db, _ := s.body.(*directBody)
	for {
		if fill {
			if err := s.r.Fill(); err != nil {
				return err
			}
		}
		k, err := s.c.deliverBuffered(s.r)
		s.n += k
		if err != sse.ErrNeedInput {
			return err
		}
		if db != nil && db.raw != nil && db.br.Buffered() == 0 {
			if !db.park(func() { go s.run(true) }) {
				go s.waitInput(db)
			}
			return errHandedOff
		}
		fill = true // the body has bytes buffered, or cannot be waited on: Fill waits, where it must
	}
}

// waitInput is the goroutine of an idle stream: it waits for the connection to be readable (or to fail, or
// to be closed when the stream is stopped), then reads on.
func (s *standaloneStream) waitInput(db *directBody) {
	db.waitReadable()
	s.run(true)
}

// connect opens the stream, retrying as standaloneStream says; false when it is not to be had (or ctx
// ended). Only the body of the response is kept.
func (s *standaloneStream) connect() bool {
	c, ctx := s.c, s.ctx
	for {
		resp, err := c.get(ctx, s.sid, s.ver, s.lastID)
		if ctx.Err() != nil {
			if err == nil {
				_ = resp.Body.Close()
			}
			return false
		}
		if err != nil {
			c.log.Warn("standalone event stream: connecting failed; retrying", "error", err, "retry_in", s.backoff)
			if !s.wait(s.backoff) {
				return false
			}
			continue
		}
		status := resp.StatusCode
		switch {
		case status == http.StatusOK && mediaType(resp.Header) == "text/event-stream":
			s.body, s.n = resp.Body, 0
			s.r = sse.NewReaderSize(resp.Body, int(c.max), streamBufferSize)
			return true
		case status == http.StatusMethodNotAllowed:
			_ = resp.Body.Close()
			c.log.Debug("server offers no standalone event stream (HTTP 405)")
			return false
		case status == http.StatusNotFound && s.sid != "":
			_ = resp.Body.Close()
			c.log.Warn("standalone event stream: the upstream session expired (HTTP 404); stopping it")
			return false
		case status == http.StatusBadRequest && s.lastID != "":
			// The server cannot replay (it keeps no event store): reconnect from now on.
			_ = resp.Body.Close()
			c.log.Debug("server refused Last-Event-ID on the standalone stream; reconnecting without it")
			s.lastID = ""
		case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			body, _, _ := c.readBody(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			c.log.Warn("standalone event stream refused; server-initiated messages outside requests will not arrive",
				"error", c.statusText(resp, body))
			return false
		default:
			_ = resp.Body.Close()
			c.log.Warn("standalone event stream: unexpected answer; retrying", "status", resp.Status, "retry_in", s.backoff)
			if !s.wait(s.backoff) {
				return false
			}
		}
	}
}

// ended handles the end of one connection's stream, which ended with err: it waits before the next
// connection and reports whether there is to be one.
func (s *standaloneStream) ended(err error) bool {
	if s.ctx.Err() != nil {
		return false
	}
	if id := s.r.LastEventID(); id != "" {
		s.lastID = id
	}
	if s.n > 0 {
		s.backoff = reconnectInitial
	}
	delay := s.backoff
	if d, ok := s.r.Retry(); ok {
		delay = min(d, reconnectMax)
	}
	s.r = nil
	s.c.log.Debug("standalone event stream ended; reconnecting", "reason", streamEnd(err), "retry_in", delay)
	return s.wait(delay)
}

// wait sleeps d (or until ctx ends, reporting false) and doubles the backoff.
func (s *standaloneStream) wait(d time.Duration) bool {
	ok := sleepCtx(s.ctx, d)
	s.backoff = min(s.backoff*2, reconnectMax)
	return ok
}

// deliverBuffered delivers the messages of the events r has buffered, with no Related id, and returns how
// many it delivered and sse.ErrNeedInput once r needs more input; another error ends the stream (ErrClosed
// when the Conn closed).
func (c *httpConn) deliverBuffered(r *sse.Reader) (n int, err error) {
	for {
		ev, err := r.NextBuffered()
		if err != nil {
			return n, err
		}
		m := c.eventMessage(ev)
		if m == nil {
			continue
		}
		n++
		if !c.deliver(Frame{Msg: m}) {
			return n, ErrClosed
		}
	}
}

// Interface guards.
var (
	_ Conn       = (*httpConn)(nil)
	_ Dispatcher = (*httpConn)(nil)
)
