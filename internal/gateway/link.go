package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/upstream"
)

// serverMessageHandler receives what an upstream sends on its own initiative: requests (sampling, elicitation,
// roots) and notifications. related is the client-side id of the request the message belongs to, when known.
type serverMessageHandler interface {
	serverMessage(ctx context.Context, l *link, f upstream.Frame, related jsonrpc.ID)
}

// link is one upstream session seen from the gateway: it correlates requests with responses, enforces the
// per-request timeout (reset by progress), maps ids when the session is shared, restarts a crashed upstream
// with backoff and replays the client's handshake on the new one.
type link struct {
	server  string
	open    func(ctx context.Context) (upstream.Conn, error)
	timeout time.Duration
	remap   bool // shared by several clients: rewrite request ids to gateway ids
	// adopted: the client's handshake happened on another replica; the link replays it (initialized
	// included) on every upstream session it opens, so the client's own initialized is not forwarded.
	adopted bool
	owner   serverMessageHandler
	log     *slog.Logger

	backoffMin, backoffMax time.Duration
	hello                  func(ctx context.Context, server string, init *jsonrpc.Message, result json.RawMessage) (json.RawMessage, error) // Stages.UpstreamHello

	mu       sync.Mutex
	conn     upstream.Conn
	gen      int // increments with every (re)connect
	pending  map[string]*pendingCall
	failures int
	lastFail time.Time
	closed   bool
	connMu   sync.Mutex // serialises (re)connects

	handshake  *handshake
	initResult []byte // the upstream's latest initialize result (aggregate: capabilities, instructions)
	nextID     atomic.Int64
	readers    sync.WaitGroup
}

// kept returns msg for keeping as long as the session lives: decoded from a copy of its bytes, so the
// request body it was read from (sized for reading, not for keeping) can be freed.
func kept(msg *jsonrpc.Message) *jsonrpc.Message {
	if cp, err := jsonrpc.Decode(bytes.Clone(msg.Raw)); err == nil {
		return cp
	}
	return msg
}

// handshake is the client's initialize exchange, replayed when the upstream restarts.
type handshake struct {
	init        *jsonrpc.Message // the initialize request
	initialized *jsonrpc.Message // the notifications/initialized, once sent
}

type pendingCall struct {
	origID   jsonrpc.ID // id as the client sent it
	owner    serverMessageHandler
	token    string // progress token (raw JSON), "" when none
	ch       chan *jsonrpc.Message
	progress chan struct{}
	method   string
}

func newLink(server string, open func(context.Context) (upstream.Conn, error), timeout time.Duration, remap bool, owner serverMessageHandler, log *slog.Logger) *link {
	return &link{
		server: server, open: open, timeout: timeout, remap: remap, owner: owner, log: log,
		backoffMin: 100 * time.Millisecond, backoffMax: 30 * time.Second,
		pending: make(map[string]*pendingCall),
	}
}

// errLinkClosed is returned once the link was closed.
var errLinkClosed = errors.New("upstream session closed")

// ensure returns a live connection, starting (or restarting, after backoff) the upstream when needed.
func (l *link) ensure(ctx context.Context) (upstream.Conn, int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, 0, errLinkClosed
	}
	if l.conn != nil {
		c, g := l.conn, l.gen
		l.mu.Unlock()
		return c, g, nil
	}
	l.mu.Unlock()

	l.connMu.Lock()
	defer l.connMu.Unlock()
	l.mu.Lock()
	if l.conn != nil { // another caller connected meanwhile
		c, g := l.conn, l.gen
		l.mu.Unlock()
		return c, g, nil
	}
	wait := time.Duration(0)
	if l.failures > 0 {
		wait = l.backoffMin << min(l.failures-1, 16)
		if wait > l.backoffMax {
			wait = l.backoffMax
		}
		wait -= time.Since(l.lastFail)
	}
	hs := l.handshake
	l.mu.Unlock()
	if wait > 0 {
		l.log.Info("waiting before restarting upstream", "server", l.server, "backoff", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, 0, ctx.Err()
		}
	}
	conn, err := l.open(ctx)
	if err != nil {
		l.noteFailure()
		return nil, 0, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = conn.Close()
		return nil, 0, errLinkClosed
	}
	l.gen++
	gen := l.gen
	// A connection that can dispatch its frames itself needs no reader goroutine (one goroutine less per
	// upstream session); it gets its dispatch function before anyone can send on it.
	d, dispatches := conn.(upstream.Dispatcher)
	if dispatches {
		d.Dispatch(func(f upstream.Frame) { l.dispatchFrom(conn, gen, f) })
	}
	l.conn = conn
	l.mu.Unlock()
	if !dispatches {
		l.readers.Add(1)
		go l.read(conn, gen)
	}
	if hs != nil && hs.init != nil {
		if err := l.replay(ctx, conn, hs); err != nil {
			l.drop(conn, gen, err)
			return nil, 0, fmt.Errorf("re-initializing restarted upstream: %w", err)
		}
	}
	return conn, gen, nil
}

// replay re-sends the client's initialize (and initialized) to a restarted upstream so the client's session
// goes on. The upstream's answer is checked and not forwarded: the client already has one.
func (l *link) replay(ctx context.Context, conn upstream.Conn, hs *handshake) error {
	id := l.gatewayID()
	p := &pendingCall{ch: make(chan *jsonrpc.Message, 1), progress: make(chan struct{}, 1), method: "initialize"}
	l.mu.Lock()
	l.pending[id.Key()] = p
	l.mu.Unlock()
	req := jsonrpc.MustDecode(hs.init.WithID(id))
	if err := conn.Send(ctx, upstream.Frame{Msg: req}); err != nil {
		l.forget(id)
		return err
	}
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	select {
	case resp := <-p.ch:
		if resp.Kind == jsonrpc.KindError {
			return fmt.Errorf("initialize refused: %s", resp.Error.Message)
		}
		res := resp.Result
		if l.hello != nil {
			var err error
			if res, err = l.hello(ctx, l.server, hs.init, res); err != nil {
				return err
			}
		}
		l.mu.Lock()
		l.initResult = append([]byte(nil), res...)
		l.mu.Unlock()
	case <-t.C:
		l.forget(id)
		return fmt.Errorf("no initialize response within %s", l.timeout)
	case <-ctx.Done():
		l.forget(id)
		return ctx.Err()
	}
	if hs.initialized != nil {
		return conn.Send(ctx, upstream.Frame{Msg: hs.initialized})
	}
	return nil
}

func (l *link) noteFailure() {
	l.mu.Lock()
	l.failures++
	l.lastFail = time.Now()
	l.mu.Unlock()
}

func (l *link) gatewayID() jsonrpc.ID {
	return jsonrpc.ID(strconv.Quote("mcpwarden-" + strconv.FormatInt(l.nextID.Add(1), 10)))
}

func (l *link) forget(id jsonrpc.ID) {
	l.mu.Lock()
	delete(l.pending, id.Key())
	l.mu.Unlock()
}

// read pumps one connection that is not a Dispatcher until it ends, then fails its in-flight calls.
func (l *link) read(conn upstream.Conn, gen int) {
	defer l.readers.Done()
	ctx := context.Background()
	for {
		f, err := conn.Recv(ctx)
		if err != nil {
			l.drop(conn, gen, err)
			return
		}
		l.dispatch(ctx, f)
	}
}

// dispatchFrom handles a frame a Dispatcher connection hands over, unless the link has dropped that
// connection meanwhile (nobody waits for what it still sends).
func (l *link) dispatchFrom(conn upstream.Conn, gen int, f upstream.Frame) {
	l.mu.Lock()
	current := l.conn == conn && l.gen == gen
	l.mu.Unlock()
	if current {
		l.dispatch(context.Background(), f)
	}
}

func (l *link) dispatch(ctx context.Context, f upstream.Frame) {
	msg := f.Msg
	if msg.Kind.IsResponse() {
		l.mu.Lock()
		p := l.pending[msg.ID.Key()]
		delete(l.pending, msg.ID.Key())
		if p != nil {
			l.failures = 0 // a working upstream resets the restart backoff
		}
		l.mu.Unlock()
		if p == nil {
			l.log.Warn("upstream answered a request the gateway is not waiting for; dropped",
				"server", l.server, "id", msg.ID.String())
			return
		}
		if l.remap || !sameID(msg.ID, p.origID) {
			if p.origID != nil {
				msg = jsonrpc.MustDecode(msg.WithID(p.origID))
			}
		}
		p.ch <- msg
		return
	}
	// A request or notification from the server: find the client request it belongs to.
	owner, related := l.owner, jsonrpc.ID(nil)
	l.mu.Lock()
	var p *pendingCall
	if f.Related != nil {
		p = l.pending[f.Related.Key()]
	}
	if p == nil && msg.Method == "notifications/progress" {
		if tok := progressTokenOf(msg.Params); tok != "" {
			for _, c := range l.pending {
				if c.token == tok {
					p = c
					break
				}
			}
		}
	}
	if p == nil && len(l.pending) == 1 {
		for _, c := range l.pending {
			if c.origID != nil {
				p = c
			}
		}
	}
	l.mu.Unlock()
	if p != nil {
		if msg.Method == "notifications/progress" {
			select {
			case p.progress <- struct{}{}:
			default:
			}
		}
		related = p.origID
		if p.owner != nil {
			owner = p.owner
		}
	}
	if owner == nil {
		l.log.Debug("server message with no client to deliver it to; dropped", "server", l.server, "method", msg.Method)
		return
	}
	owner.serverMessage(ctx, l, f, related)
}

// drop retires a failed connection and answers every call that was waiting on it.
func (l *link) drop(conn upstream.Conn, gen int, cause error) {
	l.mu.Lock()
	if l.gen != gen || l.conn != conn {
		l.mu.Unlock()
		return
	}
	l.conn = nil
	closed := l.closed
	failed := l.pending
	l.pending = make(map[string]*pendingCall)
	if !closed {
		l.failures++
		l.lastFail = time.Now()
	}
	l.mu.Unlock()
	_ = conn.Close()
	if !closed {
		l.log.Warn("upstream connection ended", "server", l.server, "err", cause, "in_flight", len(failed))
	}
	for _, p := range failed {
		if p.origID == nil {
			continue
		}
		text := fmt.Sprintf("upstream %q ended before answering %s (%v); the gateway restarts it — retry the request", l.server, p.method, cause)
		if closed {
			text = fmt.Sprintf("upstream %q session closed before answering %s", l.server, p.method)
		}
		p.ch <- jsonrpc.MustDecode(jsonrpc.NewErrorResponse(p.origID, jsonrpc.CodeUpstreamUnavailable, text, nil))
	}
}

// Call sends a request and waits for its response. The returned message carries the client's id. A nil
// message with a nil error never happens; ctx ending returns ctx.Err().
func (l *link) Call(ctx context.Context, msg *jsonrpc.Message, hdr http.Header, owner serverMessageHandler) (*jsonrpc.Message, error) {
	conn, gen, err := l.ensure(ctx)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return errorReply(msg, jsonrpc.CodeUpstreamUnavailable, fmt.Sprintf("upstream %q is unavailable: %v", l.server, err)), nil
	}
	p := &pendingCall{origID: msg.ID, owner: owner, ch: make(chan *jsonrpc.Message, 1), progress: make(chan struct{}, 1), method: msg.Method}
	if len(msg.ProgressToken) > 0 {
		p.token = string(msg.ProgressToken)
	}
	wireID := msg.ID
	out := msg
	if l.remap {
		wireID = l.gatewayID()
		out = jsonrpc.MustDecode(msg.WithID(wireID))
	}
	var hs *handshake
	if msg.Method == "initialize" && !l.remap {
		hs = &handshake{init: kept(msg)}
	}
	l.mu.Lock()
	if l.conn != conn || l.gen != gen {
		l.mu.Unlock()
		return errorReply(msg, jsonrpc.CodeUpstreamUnavailable, fmt.Sprintf("upstream %q restarted; retry the request", l.server)), nil
	}
	if _, dup := l.pending[wireID.Key()]; dup {
		l.mu.Unlock()
		return errorReply(msg, jsonrpc.CodeInvalidRequest, "request id "+msg.ID.String()+" is already in use by an unanswered request"), nil
	}
	l.pending[wireID.Key()] = p
	if hs != nil {
		l.handshake = hs
	}
	l.mu.Unlock()

	if err := conn.Send(ctx, upstream.Frame{Msg: out, Header: hdr}); err != nil {
		l.forget(wireID)
		l.drop(conn, gen, err)
		return errorReply(msg, jsonrpc.CodeUpstreamUnavailable, fmt.Sprintf("upstream %q: could not send %s: %v; retry the request", l.server, msg.Method, err)), nil
	}

	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	for {
		select {
		case resp := <-p.ch:
			return resp, nil
		case <-p.progress:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(l.timeout)
		case <-timer.C:
			l.forget(wireID)
			l.cancelUpstream(conn, wireID, msg, "timed out in the gateway")
			return errorReply(msg, jsonrpc.CodeUpstreamTimeout, fmt.Sprintf(
				"upstream %q did not answer %s within %s; the gateway cancelled the request (raise servers[].timeout if the tool is slow)",
				l.server, msg.Method, l.timeout)), nil
		case <-ctx.Done():
			l.forget(wireID)
			l.cancelUpstream(conn, wireID, msg, "client went away")
			return nil, ctx.Err()
		}
	}
}

// cancelUpstream tells the upstream to stop working on a request the gateway no longer waits for.
func (l *link) cancelUpstream(conn upstream.Conn, wireID jsonrpc.ID, msg *jsonrpc.Message, reason string) {
	params := map[string]any{"requestId": json.RawMessage(wireID), "reason": reason}
	if msg.ProtocolVersion != "" {
		params["_meta"] = map[string]string{jsonrpc.MetaProtocolVersionKey: msg.ProtocolVersion}
	}
	b, err := jsonrpc.NewNotification("notifications/cancelled", params)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Send(ctx, upstream.Frame{Msg: jsonrpc.MustDecode(b)})
}

// Notify forwards a client notification (or, with remap, a cancellation translated to the gateway id).
func (l *link) Notify(ctx context.Context, msg *jsonrpc.Message, hdr http.Header) error {
	conn, gen, err := l.ensure(ctx)
	if err != nil {
		return err
	}
	if msg.Method == "notifications/initialized" && !l.remap {
		if l.adopted {
			return nil // the replayed handshake sent it
		}
		initialized := kept(msg)
		l.mu.Lock()
		if l.handshake != nil {
			l.handshake.initialized = initialized
		}
		l.mu.Unlock()
	}
	if err := conn.Send(ctx, upstream.Frame{Msg: msg, Header: hdr}); err != nil {
		l.drop(conn, gen, err)
		return err
	}
	return nil
}

// setHandshake makes the link initialize every upstream session it opens with init (and initialized): the
// aggregate endpoint owns its upstream sessions and starts them itself.
func (l *link) setHandshake(init, initialized *jsonrpc.Message) {
	l.mu.Lock()
	l.handshake = &handshake{init: init, initialized: initialized}
	l.mu.Unlock()
}

// InitResult returns the raw result of the upstream's last initialize (nil before one succeeded).
func (l *link) InitResult() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.initResult
}

// release answers and forgets the in-flight call the client cancelled (origID is the client's id); with
// notify, it also tells the upstream, translating the id. It reports whether such a call was in flight.
func (l *link) release(origID jsonrpc.ID, reason string, notify bool) bool {
	l.mu.Lock()
	var wire string
	var p *pendingCall
	for k, c := range l.pending {
		if c.origID != nil && sameID(c.origID, origID) {
			wire, p = k, c
			break
		}
	}
	if p != nil {
		delete(l.pending, wire)
	}
	conn := l.conn
	l.mu.Unlock()
	if p == nil {
		return false
	}
	if notify && conn != nil {
		l.cancelUpstream(conn, jsonrpc.ID(wire), &jsonrpc.Message{}, reason)
	}
	p.ch <- jsonrpc.MustDecode(jsonrpc.NewErrorResponse(p.origID, jsonrpc.CodeInvalidRequest, "request cancelled by the client", nil))
	return true
}

// Respond sends the client's answer to a server→client request.
func (l *link) Respond(ctx context.Context, msg *jsonrpc.Message) error {
	l.mu.Lock()
	conn := l.conn
	l.mu.Unlock()
	if conn == nil {
		return fmt.Errorf("upstream %q restarted; its request can no longer be answered", l.server)
	}
	return conn.Send(ctx, upstream.Frame{Msg: msg})
}

// Close ends the upstream session.
func (l *link) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	conn, gen := l.conn, l.gen
	l.mu.Unlock()
	if conn != nil {
		l.drop(conn, gen, errLinkClosed) // closes the conn and answers what was waiting
	}
	l.readers.Wait()
}

func sameID(a, b jsonrpc.ID) bool { return string(a) == string(b) }

func progressTokenOf(params json.RawMessage) string {
	if len(params) == 0 {
		return ""
	}
	var p struct {
		Token json.RawMessage `json:"progressToken"`
	}
	if json.Unmarshal(params, &p) != nil {
		return ""
	}
	return string(p.Token)
}
