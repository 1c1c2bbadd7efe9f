package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
	"github.com/mcpwarden/mcpwarden/internal/sse"
)

// httpSession is the HTTP side of one client session: the streams its messages go out on. It is the Sink the
// gateway writes to.
type httpSession struct {
	front     *HTTPFront
	info      *session.Info
	backend   Session
	stateless bool
	owner     string // who initialized the session (HTTPOptions.SessionOwner), "" without binding

	ctx    context.Context // session lifetime: 2025-era requests are not cancelled by a dropped POST stream
	cancel context.CancelFunc

	initFailed atomic.Bool
	last       atomic.Int64 // unix nanos of the last activity
	active     atomic.Int32 // in-flight POSTs

	mu            sync.Mutex
	streams       map[int]*stream    // every stream still resumable, by index
	byRequest     map[string]*stream // request id → the stream waiting for its response
	byProgress    map[string]*stream // progress token → stream of the request that asked for progress
	standalone    *stream            // the GET stream (index 0), created on first need
	retained      []int              // finished POST streams kept for resumption, oldest first
	retainedBytes int                // bytes of event data they hold
	nextIdx       int
	closed        bool
	closeOnce     sync.Once
}

func newHTTPSession(f *HTTPFront, info *session.Info) *httpSession {
	ctx, cancel := context.WithCancel(context.Background())
	s := &httpSession{
		front: f, info: info, ctx: ctx, cancel: cancel,
		streams:    make(map[int]*stream),
		byRequest:  make(map[string]*stream),
		byProgress: make(map[string]*stream),
		nextIdx:    1,
	}
	s.touch()
	return s
}

func (s *httpSession) touch()              { s.last.Store(time.Now().UnixNano()) }
func (s *httpSession) lastUsed() time.Time { return time.Unix(0, s.last.Load()) }
func (s *httpSession) inflight() int32     { return s.active.Load() }

func (s *httpSession) close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		streams := make([]*stream, 0, len(s.streams)+1)
		for _, st := range s.streams {
			streams = append(streams, st)
		}
		if s.standalone != nil {
			streams = append(streams, s.standalone)
		}
		s.mu.Unlock()
		s.cancel()
		if s.backend != nil {
			s.backend.Close()
		}
		for _, st := range streams {
			st.finish()
		}
	})
}

// endStandalone ends the session's GET stream, if one is open (graceful shutdown).
func (s *httpSession) endStandalone() {
	s.mu.Lock()
	st := s.standalone
	s.mu.Unlock()
	if st != nil {
		st.finish()
	}
}

// serve handles one POSTed message of this session; it reports whether the message was processed.
func (s *httpSession) serve(w http.ResponseWriter, r *http.Request, msg *jsonrpc.Message) bool {
	s.touch()
	s.active.Add(1)
	defer s.active.Add(-1)
	s.front.inGroup.Add(1)
	defer s.front.inGroup.Done()

	hdr := paramHeaders(r)
	if msg.Kind != jsonrpc.KindRequest {
		// Notifications and responses: forward, then 202.
		ctx, cancel := s.handleContext(r)
		s.backend.Handle(ctx, msg, hdr)
		cancel()
		w.WriteHeader(http.StatusAccepted)
		return true
	}

	st := s.newStream(msg.ID, acceptsSSE(r))
	st.passStatus = s.stateless
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeRPCError(w, http.StatusNotFound, msg.ID, jsonrpc.CodeUpstreamUnavailable, "session ended")
		return false
	}
	if _, dup := s.byRequest[msg.ID.Key()]; dup {
		s.mu.Unlock()
		writeRPCError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeInvalidRequest,
			"request id "+msg.ID.String()+" is already in use by an unanswered request in this session")
		return false
	}
	s.byRequest[msg.ID.Key()] = st
	if len(msg.ProgressToken) > 0 {
		s.byProgress[string(msg.ProgressToken)] = st
	}
	s.streams[st.idx] = st
	s.mu.Unlock()
	st.attach(w)

	ctx, cancel := s.handleContext(r)
	// A client that goes away detaches its stream: what the gateway sends meanwhile is kept for a
	// Last-Event-ID resumption (2025 era); a 2026-era request is cancelled through ctx.
	stopDetach := context.AfterFunc(r.Context(), st.detach)
	// Long-running calls get SSE comments as keep-alive, so proxies do not cut an idle stream.
	stopPing := every(s.front.opts.KeepAlive, st.ping)

	// Handle runs on this goroutine: no hand-off on the hot path.
	s.backend.Handle(ctx, msg, hdr)
	cancel()
	stopPing()
	stopDetach()
	if !st.isDone() {
		// Handle returned without a response (ctx ended, or the backend failed to answer).
		st.deliver(jsonrpc.MustDecode(jsonrpc.NewErrorResponse(msg.ID, jsonrpc.CodeInternalError,
			"the gateway ended this request without a response", nil)), true)
	}
	s.afterResponse(st, msg)
	return true
}

// handleContext is the context a message is handled under. It carries the request's values (the
// authenticated principal, …). A 2026-era request is cancelled when the client goes away (closing the stream
// is cancellation); a 2025-era request carries on after a dropped stream — its events wait for a
// Last-Event-ID resumption — and ends with the session.
func (s *httpSession) handleContext(r *http.Request) (context.Context, context.CancelFunc) {
	if s.stateless {
		return context.WithCancel(r.Context())
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *httpSession) afterResponse(st *stream, msg *jsonrpc.Message) {
	st.detach()
	s.forgetRequest(msg, st)
	if msg.Method == "initialize" && st.finalKind == jsonrpc.KindError {
		s.initFailed.Store(true)
	}
	s.mu.Lock()
	if !st.sse {
		delete(s.streams, st.idx) // plain JSON cannot be resumed; nothing to keep
	} else {
		// Keep the most recent finished streams for a Last-Event-ID resumption (the client may have lost the
		// end of one without the gateway noticing), bounded in count and bytes so a long-lived, busy session
		// does not grow the gateway.
		s.retained = append(s.retained, st.idx)
		s.retainedBytes += st.historyBytes()
		for len(s.retained) > maxRetainedStreams || (s.retainedBytes > maxRetainedBytes && len(s.retained) > 1) {
			if old := s.streams[s.retained[0]]; old != nil {
				s.retainedBytes -= old.historyBytes()
			}
			delete(s.streams, s.retained[0])
			s.retained = s.retained[1:]
		}
	}
	s.mu.Unlock()
}

// Bounds on the finished POST streams a session keeps for resumption.
const (
	maxRetainedStreams = 8
	maxRetainedBytes   = 1 << 20
)

func (s *httpSession) forgetRequest(msg *jsonrpc.Message, st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.isDone() {
		if s.byRequest[msg.ID.Key()] == st {
			delete(s.byRequest, msg.ID.Key())
		}
		if len(msg.ProgressToken) > 0 && s.byProgress[string(msg.ProgressToken)] == st {
			delete(s.byProgress, string(msg.ProgressToken))
		}
	}
}

func (s *httpSession) newStream(id jsonrpc.ID, allowSSE bool) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &stream{idx: s.nextIdx, reqID: id, allowSSE: allowSSE, done: make(chan struct{}), max: s.front.opts.MaxBufferedEvents}
	s.nextIdx++
	return st
}

// Send implements Sink: it routes msg to the stream it belongs on.
func (s *httpSession) Send(ctx context.Context, msg *jsonrpc.Message, related jsonrpc.ID) error {
	s.touch()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errSessionClosed
	}
	var st *stream
	final := false
	switch {
	case msg.Kind.IsResponse():
		st = s.byRequest[msg.ID.Key()]
		final = true
		if st != nil {
			delete(s.byRequest, msg.ID.Key())
		}
	default:
		if related != nil {
			st = s.byRequest[related.Key()]
		}
		if st == nil && msg.Method == "notifications/progress" {
			if tok := progressToken(msg.Params); tok != nil {
				st = s.byProgress[string(tok)]
			}
		}
		if st == nil && s.stateless {
			for _, only := range s.byRequest {
				st = only
			}
		}
		if st != nil && !st.allowSSE {
			st = nil // a JSON-only POST can carry nothing but its response
		}
		if st == nil {
			st = s.standaloneLocked()
		}
	}
	s.mu.Unlock()
	if st == nil {
		s.front.opts.Logger.Warn("response for an unknown or already answered request dropped",
			"session", s.info.ID, "id", msg.ID.String())
		return nil
	}
	st.deliver(msg, final)
	return nil
}

func (s *httpSession) standaloneLocked() *stream {
	if s.standalone == nil {
		s.standalone = &stream{idx: 0, allowSSE: true, sse: true, done: make(chan struct{}), max: s.front.opts.MaxBufferedEvents}
		s.streams[0] = s.standalone
		if s.closed { // close has finished the streams it found; this one ends at once too
			s.standalone.finishLocked(jsonrpc.KindInvalid)
		}
	}
	return s.standalone
}

// standalone serves the GET stream: server messages not tied to a request.
func (s *httpSession) serveStandalone(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st := s.standaloneLocked()
	s.mu.Unlock()
	s.serveEvents(st, w, r, -1, "this session already has an open GET stream")
}

// serveEvents attaches a GET to st, replays the events after seq after (-1: those not yet sent) and keeps
// the stream open until it finishes, the client goes away or the session ends. busy is the 409 answer when
// st already has a reader.
func (s *httpSession) serveEvents(st *stream, w http.ResponseWriter, r *http.Request, after int, busy string) {
	if st.idx == 0 {
		switch s.serveRaw(st, w, r, after) {
		case rawServed:
			return
		case rawBusy:
			writePlainError(w, http.StatusConflict, busy)
			return
		}
	}
	if !st.tryAttachSSE(w, after) {
		writePlainError(w, http.StatusConflict, busy)
		return
	}
	s.pump(st, r)
}

// resume serves GET with Last-Event-ID: replay what the stream sent after that event, then continue it.
func (s *httpSession) resume(w http.ResponseWriter, r *http.Request, last string) {
	idx, seq, ok := parseEventID(last)
	s.mu.Lock()
	st := s.streams[idx]
	if ok && idx == 0 {
		st = s.standaloneLocked()
	}
	s.mu.Unlock()
	if !ok || st == nil {
		writePlainError(w, http.StatusNotFound, "Last-Event-ID "+strconv.Quote(last)+" names no stream this session can resume")
		return
	}
	s.serveEvents(st, w, r, seq, "that stream is already being read by another connection")
}

func (s *httpSession) pump(st *stream, r *http.Request) {
	ping := time.NewTicker(s.front.opts.KeepAlive)
	defer ping.Stop()
	for {
		select {
		case <-st.done:
			st.detach()
			return
		case <-r.Context().Done():
			st.detach()
			return
		case <-s.ctx.Done():
			st.detach()
			return
		case <-ping.C:
			s.touch()
			st.ping()
		}
	}
}

// every runs fn every interval until the returned stop is called; no goroutine exists between runs.
func every(interval time.Duration, fn func()) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock()
	t = time.AfterFunc(interval, func() {
		fn()
		mu.Lock()
		if !stopped {
			t.Reset(interval)
		}
		mu.Unlock()
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

func parseEventID(id string) (idx, seq int, ok bool) {
	a, b, found := strings.Cut(id, "_")
	if !found {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	return i, n, err1 == nil && err2 == nil && i >= 0 && n >= 0
}

func progressToken(params json.RawMessage) json.RawMessage {
	if len(params) == 0 {
		return nil
	}
	var p struct {
		Token json.RawMessage `json:"progressToken"`
	}
	if json.Unmarshal(params, &p) != nil {
		return nil
	}
	return p.Token
}

// stream is one response stream: a POST's (index ≥ 1) or the standalone GET stream (index 0). Its events are
// kept (bounded) so a client can resume it with Last-Event-ID.
type stream struct {
	idx      int
	reqID    jsonrpc.ID
	allowSSE bool
	max      int
	// passStatus: answer with the upstream's HTTP status for error responses (2026-era requests).
	passStatus bool

	mu        sync.Mutex
	w         http.ResponseWriter // nil while detached
	sse       bool                // true once the stream switched to text/event-stream
	started   bool                // headers written
	seq       int                 // last event sequence number
	sent      int                 // last sequence number written to a connection
	history   []event
	finished  bool
	finalKind jsonrpc.Kind
	done      chan struct{}
	// onFinish, when set, runs (with mu held) when the stream finishes: a raw GET stream's reader lets go.
	onFinish func()
}

type event struct {
	seq  int
	data []byte
}

func (st *stream) isDone() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.finished
}

// historyBytes is the event data the stream keeps.
func (st *stream) historyBytes() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, ev := range st.history {
		n += len(ev.data)
	}
	return n
}

func (st *stream) attach(w http.ResponseWriter) {
	st.mu.Lock()
	st.w = w
	st.mu.Unlock()
}

func (st *stream) detach() {
	st.mu.Lock()
	st.w = nil
	st.mu.Unlock()
}

// tryAttachSSE attaches w as the stream's reader and replays events after seq (-1: everything not yet sent).
func (st *stream) tryAttachSSE(w http.ResponseWriter, after int) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.w != nil {
		return false
	}
	st.attachSSELocked(w, after)
	return true
}

func (st *stream) attachSSELocked(w http.ResponseWriter, after int) {
	st.w = w
	st.sse = true
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st.started = true
	if after < 0 {
		after = st.sent
	}
	for _, ev := range st.history {
		if ev.seq > after {
			st.writeEventLocked(ev)
		}
	}
	flush(w)
}

func (st *stream) ping() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.w != nil && st.sse && st.started {
		_ = sse.WriteComment(st.w, "keep-alive")
		flush(st.w)
	}
}

// deliver writes msg on the stream; final marks the response that completes a POST stream.
func (st *stream) deliver(msg *jsonrpc.Message, final bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.finished && st.idx != 0 {
		return
	}
	if !st.sse && !st.started && st.w != nil && final && (!st.allowSSE || (st.passStatus && msg.HTTPStatus >= 400)) {
		// Plain JSON: for clients that accept nothing else, and for 2026-era errors whose HTTP status is
		// part of the answer. Everyone else gets an event stream, as MCP servers commonly answer: every
		// message then has an event id, so a dropped connection can be resumed.
		h := st.w.Header()
		h.Set("Content-Type", "application/json")
		status := http.StatusOK
		if st.passStatus && msg.HTTPStatus >= 400 && msg.HTTPStatus <= 599 {
			status = msg.HTTPStatus // 2026 era: the status is part of the answer (e.g. 404 for -32601)
		}
		st.w.WriteHeader(status)
		_, _ = st.w.Write(msg.Raw)
		st.started = true
		st.finishLocked(msg.Kind)
		return
	}
	if !st.sse {
		st.sse = true
		if st.w != nil && !st.started {
			h := st.w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			st.w.WriteHeader(http.StatusOK)
			st.started = true
		}
	}
	st.seq++
	ev := event{seq: st.seq, data: msg.Raw}
	st.history = append(st.history, ev)
	if len(st.history) > st.max {
		st.history = st.history[len(st.history)-st.max:]
	}
	if st.w != nil {
		st.writeEventLocked(ev)
		if !final || st.idx == 0 {
			flush(st.w) // a POST stream's final event is flushed by the handler's return, with the stream's end
		}
	}
	if final {
		st.finishLocked(msg.Kind)
	}
}

func (st *stream) writeEventLocked(ev event) {
	id := strconv.Itoa(st.idx) + "_" + strconv.Itoa(ev.seq)
	if err := sse.WriteEvent(st.w, sse.Event{ID: id, Type: "message", Data: ev.data}); err == nil && ev.seq > st.sent {
		st.sent = ev.seq
	}
}

func (st *stream) finishLocked(k jsonrpc.Kind) {
	if !st.finished {
		st.finished = true
		st.finalKind = k
		close(st.done)
		if f := st.onFinish; f != nil {
			f()
		}
	}
}

// finish ends the stream without a response (session closed).
func (st *stream) finish() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.finishLocked(jsonrpc.KindInvalid)
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

type sessionClosedError struct{}

func (sessionClosedError) Error() string { return "client session closed" }

var errSessionClosed error = sessionClosedError{}

var _ Sink = (*httpSession)(nil)
var _ = bytes.TrimSpace
