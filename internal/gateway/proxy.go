package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
	"github.com/mcpwarden/mcpwarden/internal/transport"
	"github.com/mcpwarden/mcpwarden/internal/upstream"
)

// proxyBackend serves /mcp/{name}: a transparent endpoint for one upstream server. Messages pass through
// unchanged (same bytes, same ids); each 2025-era client session gets its own upstream session, 2026-era
// requests share one (stdio) or use their own request (HTTP).
type proxyBackend struct {
	g   *Gateway
	srv *serverRuntime
}

func (b *proxyBackend) Open(ctx context.Context, info *session.Info, sink transport.Sink) (transport.Session, error) {
	s := &proxySession{g: b.g, srv: b.srv, info: info, sink: sink, log: b.g.log}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.calls = newClientCalls(sink, false)
	s.toUpstreamChain = b.g.stages.clientChain(s.toUpstream)
	s.toClientChain = b.g.stages.serverChain(s.toClient)
	if info.Era() == session.EraModern {
		l, own, err := b.srv.modernLink(ctx, s)
		if err != nil {
			return nil, err
		}
		s.link, s.ownLink = l, own
	} else {
		s.link, s.ownLink = newLink(b.srv.name, b.srv.open, b.srv.timeout, false, s, b.g.log), true
		s.link.backoffMin, s.link.backoffMax = b.srv.backoffMin, b.srv.backoffMax
		s.link.hello = b.srv.hello // a restart's replayed initialize is inspected too
	}
	return s, nil
}

// Adopt implements transport.Adopter: a 2025-era session initialized on another replica gets its own
// upstream session here, opened on first use and initialized with the client's handshake replayed, as after
// an upstream restart.
func (b *proxyBackend) Adopt(ctx context.Context, info *session.Info, sink transport.Sink, init *jsonrpc.Message) (transport.Session, error) {
	noteInitialize(info, init)
	sess, err := b.Open(ctx, info, sink)
	if err != nil {
		return nil, err
	}
	initialized, err := jsonrpc.NewNotification("notifications/initialized", nil)
	if err != nil {
		return nil, err
	}
	s := sess.(*proxySession)
	s.link.setHandshake(init, jsonrpc.MustDecode(initialized))
	s.link.adopted = true
	return s, nil
}

type proxySession struct {
	g    *Gateway
	srv  *serverRuntime
	info *session.Info
	sink transport.Sink
	log  *slog.Logger

	ctx    context.Context // the session's lifetime (server-initiated work runs under it)
	cancel context.CancelFunc

	link    *link
	ownLink bool
	calls   *clientCalls

	toUpstreamChain Handler
	toClientChain   Handler
	// principal is who opened the session (its first message's principal), used for server-initiated traffic.
	principal atomic.Pointer[identity.Principal]
	work      sync.WaitGroup
	inflight  inflightRequests
}

// Handle implements transport.Session.
func (s *proxySession) Handle(ctx context.Context, msg *jsonrpc.Message, hdr http.Header) {
	if p, ok := identity.FromContext(ctx); ok {
		s.principal.CompareAndSwap(nil, p)
	}
	if msg.Kind.IsResponse() {
		// The client's answer to a server→client request: the waiting server chain picks it up.
		if !s.calls.resolve(msg) {
			s.log.Warn("client answered a request the gateway did not send; dropped", "server", s.srv.name, "id", msg.ID.String())
		}
		return
	}
	if msg.Method == "initialize" && msg.Kind == jsonrpc.KindRequest {
		noteInitialize(s.info, msg)
	}
	x := &Exchange{Session: s.info, Server: s.srv.name, Direction: ClientToServer, Msg: msg, Original: msg, Header: hdr}
	if msg.Kind == jsonrpc.KindRequest {
		var done func()
		ctx, done = s.inflight.begin(ctx, msg.ID)
		defer done()
		// ⑤ approval: keep-alive (both eras) and in-band questions (2025 era: 2026-07-28 clients take no requests)
		ctx = WithClientPeer(ctx, &sessionPeer{sink: s.sink, calls: s.calls, related: msg.ID, noCalls: s.info.Era() == session.EraModern})
	}
	reply, err := s.toUpstreamChain(ctx, x)
	if msg.Method == "notifications/cancelled" {
		if id := cancelledRequestID(msg.Params); id != nil {
			if err == nil {
				// The upstream got the cancellation as sent; stop waiting for an answer that may never come.
				s.link.release(id, "", false)
			}
			s.inflight.cancel(id) // and end it if it never left the gateway (parked for approval)
		}
	}
	if msg.Kind != jsonrpc.KindRequest {
		if err != nil {
			s.log.Warn("forwarding notification failed", "server", s.srv.name, "method", msg.Method, "err", err)
		}
		return
	}
	if err != nil {
		reply = errorReply(msg, jsonrpc.CodeInternalError, "gateway error: "+err.Error())
	}
	if reply == nil {
		return // ctx ended: the client is gone
	}
	if msg.Method == "initialize" && reply.Kind == jsonrpc.KindResult {
		noteInitializeResult(s.info, reply)
	}
	if err := s.sink.Send(ctx, reply, msg.ID); err != nil {
		s.log.Debug("could not deliver response", "server", s.srv.name, "err", err)
	}
}

// Close implements transport.Session.
func (s *proxySession) Close() {
	s.cancel()
	if s.ownLink {
		s.link.Close()
	}
	s.calls.closeAll()
	s.work.Wait()
}

func (s *proxySession) toUpstream(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
	switch x.Msg.Kind {
	case jsonrpc.KindRequest:
		return s.link.Call(ctx, x.Msg, x.Header, s)
	case jsonrpc.KindNotification:
		return nil, s.link.Notify(ctx, x.Msg, x.Header)
	default:
		return nil, s.link.Respond(ctx, x.Msg)
	}
}

func (s *proxySession) toClient(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
	if x.Msg.Kind == jsonrpc.KindRequest {
		if s.info.Era() == session.EraModern {
			return errorReply(x.Msg, jsonrpc.CodeMethodNotFound,
				"a 2026-07-28 client cannot receive server requests ("+x.Msg.Method+"); use an input_required result instead"), nil
		}
		return s.calls.call(ctx, x.Msg, x.Related)
	}
	return nil, s.sink.Send(ctx, x.Msg, x.Related)
}

// serverMessage implements serverMessageHandler: traffic the upstream started.
func (s *proxySession) serverMessage(_ context.Context, l *link, f upstream.Frame, related jsonrpc.ID) {
	x := &Exchange{Session: s.info, Server: s.srv.name, Direction: ServerToClient, Msg: f.Msg, Original: f.Msg, Related: related, Principal: s.principal.Load()}
	if f.Msg.Kind != jsonrpc.KindRequest {
		if _, err := s.toClientChain(s.ctx, x); err != nil {
			s.log.Debug("could not deliver server notification", "server", s.srv.name, "method", f.Msg.Method, "err", err)
		}
		return
	}
	// Requests run concurrently: the client may take its time (a human answering an elicitation).
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		reply, err := s.toClientChain(s.ctx, x)
		if err != nil {
			reply = errorReply(f.Msg, jsonrpc.CodeInternalError, "gateway error: "+err.Error())
		}
		if reply == nil {
			return
		}
		if err := l.Respond(s.ctx, reply); err != nil {
			s.log.Warn("could not return the client's answer to the upstream", "server", s.srv.name, "err", err)
		}
	}()
}

// sessionPeer is the ClientPeer of one client request (per-server or aggregate endpoint).
type sessionPeer struct {
	sink    transport.Sink
	calls   *clientCalls
	related jsonrpc.ID
	// noCalls: a 2026-07-28 client receives notifications on the request's stream but no requests.
	noCalls bool
}

func (p *sessionPeer) Notify(ctx context.Context, msg *jsonrpc.Message) error {
	return p.sink.Send(ctx, msg, p.related)
}

func (p *sessionPeer) Call(ctx context.Context, msg *jsonrpc.Message) (*jsonrpc.Message, error) {
	if p.noCalls {
		return nil, errors.New("a 2026-07-28 client takes no requests from the server (input_required replaces them)")
	}
	return p.calls.call(ctx, msg, p.related)
}

// clientCalls correlates gateway→client requests with the client's responses.
type clientCalls struct {
	sink  transport.Sink
	remap bool
	next  atomic.Int64

	mu      sync.Mutex
	pending map[string]*clientCall
	closed  bool
}

type clientCall struct {
	origID jsonrpc.ID
	ch     chan *jsonrpc.Message
}

func newClientCalls(sink transport.Sink, remap bool) *clientCalls {
	return &clientCalls{sink: sink, remap: remap, pending: make(map[string]*clientCall)}
}

// call sends a request to the client and waits for its answer, returned with the request's original id.
func (c *clientCalls) call(ctx context.Context, msg *jsonrpc.Message, related jsonrpc.ID) (*jsonrpc.Message, error) {
	wireID, out := msg.ID, msg
	if c.remap {
		wireID = jsonrpc.ID(strconv.Quote("mcpwarden-c" + strconv.FormatInt(c.next.Add(1), 10)))
		out = jsonrpc.MustDecode(msg.WithID(wireID))
	}
	cc := &clientCall{origID: msg.ID, ch: make(chan *jsonrpc.Message, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errorReply(msg, jsonrpc.CodeUpstreamUnavailable, "client session closed"), nil
	}
	if _, dup := c.pending[wireID.Key()]; dup {
		c.mu.Unlock()
		return errorReply(msg, jsonrpc.CodeInvalidRequest, "request id "+msg.ID.String()+" is already waiting for a client answer"), nil
	}
	c.pending[wireID.Key()] = cc
	c.mu.Unlock()
	if err := c.sink.Send(ctx, out, related); err != nil {
		c.drop(wireID)
		return errorReply(msg, jsonrpc.CodeInternalError, "could not deliver the request to the client: "+err.Error()), nil
	}
	select {
	case resp := <-cc.ch:
		if c.remap || !sameID(resp.ID, msg.ID) {
			resp = jsonrpc.MustDecode(resp.WithID(msg.ID))
		}
		return resp, nil
	case <-ctx.Done():
		c.drop(wireID)
		return nil, ctx.Err()
	}
}

func (c *clientCalls) drop(id jsonrpc.ID) {
	c.mu.Lock()
	delete(c.pending, id.Key())
	c.mu.Unlock()
}

func (c *clientCalls) resolve(msg *jsonrpc.Message) bool {
	c.mu.Lock()
	cc := c.pending[msg.ID.Key()]
	delete(c.pending, msg.ID.Key())
	c.mu.Unlock()
	if cc == nil {
		return false
	}
	cc.ch <- msg
	return true
}

func (c *clientCalls) closeAll() {
	c.mu.Lock()
	c.closed = true
	p := c.pending
	c.pending = map[string]*clientCall{}
	c.mu.Unlock()
	for _, cc := range p {
		cc.ch <- jsonrpc.MustDecode(jsonrpc.NewErrorResponse(cc.origID, jsonrpc.CodeUpstreamUnavailable, "client session closed", nil))
	}
}

// noteInitialize records the client's initialize parameters on the session (stage ②).
func noteInitialize(info *session.Info, msg *jsonrpc.Message) {
	var p struct {
		ProtocolVersion string          `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities"`
		ClientInfo      struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"clientInfo"`
	}
	_ = json.Unmarshal(msg.Params, &p)
	info.SetInitialize(session.EraLegacy, p.ProtocolVersion, p.ClientInfo.Name, p.ClientInfo.Version, p.Capabilities)
}

func noteInitializeResult(info *session.Info, reply *jsonrpc.Message) {
	var r struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(reply.Result, &r) == nil && r.ProtocolVersion != "" {
		info.SetVersion(r.ProtocolVersion)
	}
}

// sharedOwner routes server messages on a shared link to the session whose call they belong to; messages
// with no owner are dropped by the link.
var _ serverMessageHandler = (*proxySession)(nil)
var _ transport.Session = (*proxySession)(nil)

// cancelledRequestID returns params.requestId of a notifications/cancelled.
func cancelledRequestID(params json.RawMessage) jsonrpc.ID {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(params, &p) != nil || len(p.RequestID) == 0 || string(p.RequestID) == "null" {
		return nil
	}
	return jsonrpc.ID(p.RequestID)
}

func errUnsupportedEra(server string) error {
	return fmt.Errorf("upstream %q speaks only the legacy HTTP+SSE protocol (2024-11-05); connect with a 2025-era client (initialize) or use the aggregate endpoint /mcp", server)
}

// inflightRequests tracks the client requests a session is handling, so that a notifications/cancelled
// also ends a request still inside the gateway (parked for approval, waiting on a tool-list fetch), not
// only one the upstream is working on.
type inflightRequests struct{ m sync.Map } // id key → *context.CancelFunc

// begin registers a request; call the returned function when its handling ends.
func (r *inflightRequests) begin(ctx context.Context, id jsonrpc.ID) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	p := &cancel
	r.m.Store(id.Key(), p)
	return ctx, func() {
		r.m.CompareAndDelete(id.Key(), p)
		cancel()
	}
}

// cancel ends the handling of the request with this id, if it is still in flight.
func (r *inflightRequests) cancel(id jsonrpc.ID) {
	if v, ok := r.m.Load(id.Key()); ok {
		(*v.(*context.CancelFunc))()
	}
}
