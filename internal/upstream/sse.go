package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/sse"
)

// SSEOptions configures a legacy HTTP+SSE upstream (protocol version 2024-11-05). The fields mean what they
// mean for HTTPOptions; URL is the SSE endpoint (the GET URL, often .../sse), and the event stream is opened
// with Open's context.
type SSEOptions = HTTPOptions

// SSE is a legacy HTTP+SSE upstream server: the gateway holds a GET event stream open, the server names a
// POST endpoint in its first "endpoint" event, each client message is POSTed there, and every server
// message arrives as a "message" event on the stream.
type SSE struct {
	opts SSEOptions
	sh   shared
}

// NewSSE returns an upstream for opts. It does no I/O.
func NewSSE(opts SSEOptions) *SSE { return &SSE{opts: opts, sh: newShared(opts)} }

// Open connects the event stream and waits (bounded by ctx) for the endpoint event. An endpoint on another
// origin (scheme, host and port) than the SSE URL is refused: a server must not be able to send the
// gateway's messages, and the credentials in Headers, elsewhere. ctx bounds only the opening; the stream
// lives until Close or until the server ends it, after which Recv returns an *Error.
//
// Send POSTs the message's original bytes and returns once the server accepted it. A request the server
// does not accept gets a JSON-RPC error response through Recv instead (code
// jsonrpc.CodeUpstreamUnavailable, unless the server answered with a JSON-RPC error).
func (u *SSE) Open(ctx context.Context) (Conn, error) {
	fail := func(err error) error { return &Error{Server: u.opts.Name, Op: "open", Err: err} }
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	streamURL, err := parseEndpoint(u.opts.URL)
	if err != nil {
		return nil, fail(err)
	}
	c := &sseConn{
		base:  newBase(u.opts, u.sh),
		ended: make(chan struct{}),
	}
	c.setRequestHeaders(ctx, u.opts.RequestHeaders)
	// Opening is bounded by ctx; the stream then lives with the Conn.
	stopOpenBound := context.AfterFunc(ctx, c.cancel)
	abort := func(err error) (Conn, error) {
		stopOpenBound()
		c.cancel()
		if ctx.Err() != nil {
			err = fmt.Errorf("no endpoint event arrived in time (%w); check that url points at the server's SSE endpoint", ctx.Err())
		}
		return nil, fail(err)
	}
	req, err := c.newRequest(c.ctx, http.MethodGet, streamURL.String(), nil)
	if err != nil {
		return abort(err)
	}
	resp, err := c.openStream(req)
	if err != nil {
		return abort(fmt.Errorf("could not reach the server at %s: %w; check that it is running and that its url in the config is right", streamURL.Host, stripURL(err)))
	}
	if resp.StatusCode != http.StatusOK {
		body, _, _ := c.readBody(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		return abort(errors.New(c.statusText(resp, body)))
	}
	if mt := mediaType(resp.Header); mt != "text/event-stream" {
		_ = resp.Body.Close()
		return abort(fmt.Errorf("answered the SSE GET with Content-Type %q instead of text/event-stream; check that url points at the server's SSE endpoint (for Streamable HTTP servers, leave transport unset)", resp.Header.Get("Content-Type")))
	}
	r := sse.NewReaderSize(resp.Body, int(c.max), streamBufferSize)
	var endpoint *url.URL
	for endpoint == nil {
		ev, err := r.Next()
		if err != nil {
			_ = resp.Body.Close()
			return abort(fmt.Errorf("the event stream ended before the endpoint event (%v); check that the server speaks the 2024-11-05 HTTP+SSE transport", streamEnd(err)))
		}
		if ev.Type != "endpoint" {
			c.log.Warn("ignored an event that came before the endpoint event", "type", ev.Type)
			continue
		}
		ref, err := url.Parse(string(bytes.TrimSpace(ev.Data)))
		if err != nil {
			_ = resp.Body.Close()
			return abort(errors.New("sent an endpoint event that is not a valid URL; the server is misbehaving"))
		}
		endpoint = streamURL.ResolveReference(ref)
	}
	if !sameOrigin(streamURL, endpoint) {
		_ = resp.Body.Close()
		return abort(fmt.Errorf("sent an endpoint on another origin (%s) than its SSE URL (%s); refusing to post messages there — a server must not redirect the gateway's messages and credentials", origin(endpoint), origin(streamURL)))
	}
	if !stopOpenBound() { // ctx ended while we finished
		_ = resp.Body.Close()
		return abort(ctx.Err())
	}
	c.endpoint = endpoint.String()
	c.host = endpoint.Host
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.readLoop(resp.Body, r)
	}()
	return c, nil
}

// sseConn is one session with a legacy HTTP+SSE upstream.
type sseConn struct {
	base
	endpoint string
	host     string

	// ended is closed when the event stream has ended; endErr then says why.
	ended   chan struct{}
	endErr  error
	endOnce sync.Once
}

func (c *sseConn) readLoop(body io.ReadCloser, r *sse.Reader) {
	defer body.Close()
	for {
		ev, err := nextEvent(r, body)
		if err != nil {
			if c.ctx.Err() != nil {
				c.end(ErrClosed)
			} else {
				c.log.Warn("event stream ended", "reason", streamEnd(err))
				c.end(&Error{Server: c.name, Op: "recv", Err: fmt.Errorf("the event stream ended (%s); pending requests will get no response, reconnect to start a new session", streamEnd(err))})
			}
			return
		}
		if m := c.eventMessage(ev); m != nil {
			if !c.deliver(Frame{Msg: m}) {
				c.end(ErrClosed)
				return
			}
		}
	}
}

func (c *sseConn) end(err error) {
	c.endOnce.Do(func() {
		c.endErr = err
		close(c.ended)
	})
}

func (c *sseConn) Send(ctx context.Context, f Frame) error {
	if f.Msg == nil || len(f.Msg.Raw) == 0 {
		return &Error{Server: c.name, Op: "send", Err: errors.New("empty frame: the gateway passed no message")}
	}
	select {
	case <-c.ended:
		return c.endErr
	default:
	}
	if err := c.begin(); err != nil {
		return err
	}
	defer c.wg.Done()
	ctx, cancel := c.linkCtx(ctx)
	defer cancel()

	isReq := f.Msg.Kind == jsonrpc.KindRequest
	id := f.Msg.ID
	// failReq answers a failed request with an error response, delivered from a Conn-owned goroutine so a
	// caller that sends and receives on one goroutine cannot deadlock.
	failReq := func(status int, what string) error {
		c.goOwned(func() { c.failRequest(id, status, what) })
		return nil
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.endpoint, f.Msg.Raw)
	if err != nil {
		return &Error{Server: c.name, Op: "send", Err: err}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return &Error{Server: c.name, Op: "send", Err: ctx.Err()}
		}
		what := fmt.Sprintf("could not be reached at %s: %v; check that the server is running", c.host, stripURL(err))
		if isReq {
			return failReq(0, what)
		}
		return &Error{Server: c.name, Op: "send", Err: errors.New(what)}
	}
	body, _, _ := c.readBody(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	if isReq {
		if c.goOwned(func() {
			if !c.relayErrorBody(id, body, resp.StatusCode) {
				c.failRequest(id, resp.StatusCode, c.statusText(resp, body))
			}
		}) {
			return nil
		}
		return ErrClosed
	}
	return &Error{Server: c.name, Op: "send", Err: errors.New(c.statusText(resp, body))}
}

// Recv returns the next message from the event stream. After the stream ended it returns the *Error that
// says so (ErrClosed after Close).
func (c *sseConn) Recv(ctx context.Context) (Frame, error) {
	select {
	case f := <-c.recv:
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-c.ctx.Done():
		return Frame{}, ErrClosed
	case <-c.ended:
		select {
		case f := <-c.recv: // an error response still on its way
			return f, nil
		default:
		}
		return Frame{}, c.endErr
	}
}

// Close stops the event stream and waits for the Conn's goroutines.
func (c *sseConn) Close() error {
	c.shut()
	return nil
}

// Interface guard.
var _ Conn = (*sseConn)(nil)
