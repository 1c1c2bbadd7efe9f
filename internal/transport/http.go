package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
	"github.com/mcpwarden/mcpwarden/internal/sse"
)

// HTTP header names of the Streamable HTTP transport.
const (
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderProtocolVersion = "Mcp-Protocol-Version"
	HeaderMethod          = "Mcp-Method"
	HeaderName            = "Mcp-Name"
	HeaderParamPrefix     = "Mcp-Param-"
	HeaderLastEventID     = "Last-Event-Id"
)

// HTTPOptions configures the Streamable HTTP front.
type HTTPOptions struct {
	// ListenAddr is the address the server listens on; its host is an accepted Host header value.
	ListenAddr string
	// AllowedHosts are extra accepted Host values (host or host:port). Loopback names are always accepted.
	AllowedHosts []string
	// AllowedOrigins are extra accepted Origin values (scheme://host[:port]). Loopback origins are always
	// accepted; a request without Origin (a non-browser client) is accepted.
	AllowedOrigins []string
	// MaxMessageBytes caps a request body. Default 4 MiB.
	MaxMessageBytes int64
	// SessionIdleTimeout ends sessions without traffic. Default 30m.
	SessionIdleTimeout time.Duration
	// KeepAlive is the interval of SSE comment pings on open streams. Default 25s.
	KeepAlive time.Duration
	// MaxBufferedEvents bounds the per-stream history kept for Last-Event-ID resumption. Default 1024.
	MaxBufferedEvents int
	// MaxSessions caps live 2025-era sessions; initialize beyond it gets 503. Default 10,000.
	MaxSessions int
	// Logger for front-level events. Default slog.Default().
	Logger *slog.Logger
	// SessionOwner, when set, names who is making a request (e.g. the authenticated principal's id). A
	// session is bound to the owner of its initialize request; a request for it from anyone else is
	// answered as if the session did not exist, so a leaked session id is useless to another user. Nil: no
	// binding.
	SessionOwner func(*http.Request) string
	// Cluster, when set, makes this front one of several replicas sharing their 2025-era sessions: session
	// ids are sealed, and a request for a session another replica initialized adopts it (see ClusterOptions).
	// Nil: session ids are random and live on this front only.
	Cluster *ClusterOptions
}

func (o *HTTPOptions) setDefaults() {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 4 << 20
	}
	if o.SessionIdleTimeout <= 0 {
		o.SessionIdleTimeout = 30 * time.Minute
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 25 * time.Second
	}
	if o.MaxBufferedEvents <= 0 {
		o.MaxBufferedEvents = 1024
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// HTTPFront serves MCP's Streamable HTTP transport for any number of endpoints and owns their 2025-era
// sessions.
type HTTPFront struct {
	opts HTTPOptions

	mu       sync.Mutex
	sessions map[string]*httpSession
	closed   bool
	draining bool

	stop    chan struct{}
	reaper  sync.WaitGroup
	inGroup sync.WaitGroup // in-flight Handle calls, for graceful shutdown
}

// NewHTTPFront returns a front; call Close to end its sessions.
func NewHTTPFront(opts HTTPOptions) *HTTPFront {
	opts.setDefaults()
	f := &HTTPFront{opts: opts, sessions: make(map[string]*httpSession), stop: make(chan struct{})}
	f.reaper.Add(1)
	go f.reapIdle()
	return f
}

// Handler returns the http.Handler for one endpoint. endpoint is the server name ("" for the aggregate).
func (f *HTTPFront) Handler(endpoint string, b Backend) http.Handler {
	return &endpointHandler{front: f, endpoint: endpoint, backend: b}
}

// Drain starts a graceful shutdown: new sessions are refused and every open GET stream is ended (a client
// reconnects elsewhere), while requests in flight go on. Use it with http.Server.RegisterOnShutdown so
// Shutdown does not wait on streams that never end by themselves.
func (f *HTTPFront) Drain() {
	f.mu.Lock()
	f.draining = true
	ss := make([]*httpSession, 0, len(f.sessions))
	for _, s := range f.sessions {
		ss = append(ss, s)
	}
	f.mu.Unlock()
	for _, s := range ss {
		s.endStandalone()
	}
}

// Close ends every session (and with it the upstream sessions behind them) after in-flight calls have finished
// or ctx ended.
func (f *HTTPFront) Close(ctx context.Context) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.stop)
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.inGroup.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	f.mu.Lock()
	ss := make([]*httpSession, 0, len(f.sessions))
	for _, s := range f.sessions {
		ss = append(ss, s)
	}
	f.sessions = map[string]*httpSession{}
	f.mu.Unlock()
	for _, s := range ss {
		s.close()
	}
	f.reaper.Wait()
}

// SessionCount returns the number of live 2025-era sessions.
func (f *HTTPFront) SessionCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

func (f *HTTPFront) reapIdle() {
	defer f.reaper.Done()
	tick := time.NewTicker(f.opts.SessionIdleTimeout / 4)
	defer tick.Stop()
	for {
		select {
		case <-f.stop:
			return
		case now := <-tick.C:
			var idle []*httpSession
			f.mu.Lock()
			for id, s := range f.sessions {
				if now.Sub(s.lastUsed()) > f.opts.SessionIdleTimeout && s.inflight() == 0 {
					idle = append(idle, s)
					delete(f.sessions, id)
				}
			}
			f.mu.Unlock()
			for _, s := range idle {
				f.opts.Logger.Info("session expired after idle timeout", "session", s.info.ID, "endpoint", s.info.Endpoint)
				s.close()
			}
		}
	}
}

// lookup finds the session id of endpoint on behalf of request r; nil when it does not exist or belongs to
// someone else.
func (f *HTTPFront) lookup(r *http.Request, id, endpoint string) *httpSession {
	f.mu.Lock()
	s := f.sessions[id]
	f.mu.Unlock()
	if s == nil || s.info.Endpoint != endpoint || s.owner != f.owner(r) {
		return nil
	}
	return s
}

// find returns the session sid names for r: this front's, or in a cluster one adopted from another replica.
// Without one, it returns the HTTP status and the reason to answer with.
func (h *endpointHandler) find(r *http.Request, sid string) (*httpSession, int, string) {
	if s := h.front.lookup(r, sid, h.endpoint); s != nil {
		return s, 0, ""
	}
	if h.front.opts.Cluster == nil {
		return nil, http.StatusNotFound, errNotAdoptable.Error()
	}
	s, err := h.adopt(r, sid)
	switch {
	case err == errNotAdoptable:
		return nil, http.StatusNotFound, err.Error()
	case err != nil:
		h.front.opts.Logger.Warn("could not adopt a session from another replica", "endpoint", h.endpoint, "err", err)
		return nil, http.StatusServiceUnavailable, "this gateway replica cannot take over the session: " + err.Error() + "; retry"
	}
	return s, 0, ""
}

func (f *HTTPFront) owner(r *http.Request) string {
	if f.opts.SessionOwner == nil {
		return ""
	}
	return f.opts.SessionOwner(r)
}

func (f *HTTPFront) remove(id string) *httpSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[id]
	delete(f.sessions, id)
	return s
}

type endpointHandler struct {
	front    *HTTPFront
	endpoint string
	backend  Backend
}

func (h *endpointHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if msg, ok := h.front.checkHostOrigin(r); !ok {
		writePlainError(w, http.StatusForbidden, msg)
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.post(w, r)
	case http.MethodGet:
		h.get(w, r)
	case http.MethodDelete:
		h.delete(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writePlainError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on an MCP endpoint; use POST (messages), GET (event stream) or DELETE (end session)")
	}
}

// checkHostOrigin is the DNS-rebinding defence: a browser page on an attacker's domain that resolves to
// 127.0.0.1 sends its own Host and Origin, both of which are refused.
func (f *HTTPFront) checkHostOrigin(r *http.Request) (string, bool) {
	if !f.hostAllowed(r.Host) {
		return fmt.Sprintf("Host %q is not accepted by this gateway (DNS-rebinding protection); add it to http.allowed_hosts if it is legitimate", r.Host), false
	}
	if origin := r.Header.Get("Origin"); origin != "" && !f.originAllowed(origin) {
		return fmt.Sprintf("Origin %q is not accepted by this gateway (DNS-rebinding protection); add it to http.allowed_origins if it is legitimate", origin), false
	}
	return "", true
}

func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func splitHost(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func (f *HTTPFront) hostAllowed(hostport string) bool {
	if hostport == "" {
		return false
	}
	host := splitHost(hostport)
	if isLoopbackHost(host) {
		return true
	}
	if lh := splitHost(f.opts.ListenAddr); lh != "" && !isUnspecified(lh) && strings.EqualFold(lh, host) {
		return true
	}
	for _, a := range f.opts.AllowedHosts {
		if strings.EqualFold(a, hostport) || strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

func isUnspecified(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsUnspecified()
}

func (f *HTTPFront) originAllowed(origin string) bool {
	for _, a := range f.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(origin, "/")) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return isLoopbackHost(u.Hostname())
}

// acceptsSSE reports whether the client accepts text/event-stream (absent Accept: assume it does not).
func acceptsSSE(r *http.Request) bool { return acceptHas(r, "text/event-stream") }

func acceptHas(r *http.Request, typ string) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
			if strings.EqualFold(mt, typ) || mt == "*/*" || (strings.HasSuffix(typ, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(typ, "*"))) {
				return true
			}
			if mt == strings.SplitN(typ, "/", 2)[0]+"/*" {
				return true
			}
		}
	}
	return false
}

func (h *endpointHandler) post(w http.ResponseWriter, r *http.Request) {
	f := h.front
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			writeRPCError(w, http.StatusUnsupportedMediaType, nil, jsonrpc.CodeInvalidRequest,
				"Content-Type must be application/json, got "+strconv.Quote(ct))
			return
		}
	}
	if len(r.Header.Values("Accept")) > 0 && !acceptHas(r, "application/json") && !acceptsSSE(r) {
		writeRPCError(w, http.StatusNotAcceptable, nil, jsonrpc.CodeInvalidRequest,
			"Accept must include application/json and text/event-stream")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, f.opts.MaxMessageBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRPCError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.CodeInvalidRequest,
				fmt.Sprintf("message exceeds the gateway's limit of %d bytes (http.max_message_bytes)", f.opts.MaxMessageBytes))
			return
		}
		writeRPCError(w, http.StatusBadRequest, nil, jsonrpc.CodeParseError, "could not read request body: "+err.Error())
		return
	}
	if jsonrpc.IsBatch(body) {
		writeRPCError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest,
			"JSON-RPC batches are not supported (removed from MCP in 2025-06-18); send one message per request")
		return
	}
	msg, err := jsonrpc.Decode(body)
	if err != nil {
		var de *jsonrpc.DecodeError
		code := int64(jsonrpc.CodeParseError)
		var id jsonrpc.ID
		if errors.As(err, &de) {
			code, id = de.Code, de.ID
		}
		writeRPCError(w, http.StatusBadRequest, id, code, err.Error())
		return
	}

	versionHeader := r.Header.Get(HeaderProtocolVersion)
	sid := r.Header.Get(HeaderSessionID)
	switch {
	case sid != "":
		s, status, why := h.find(r, sid)
		if s == nil {
			writeRPCError(w, status, msg.ID, jsonrpc.CodeUpstreamUnavailable, why)
			return
		}
		if versionHeader != "" && !session.IsLegacyVersion(versionHeader) {
			writeRPCError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeInvalidRequest,
				fmt.Sprintf("unsupported %s %q for a session-based request", HeaderProtocolVersion, versionHeader))
			return
		}
		s.serve(w, r, msg)
	case msg.Kind == jsonrpc.KindRequest && msg.Method == "initialize" && session.EraOf(versionHeader) != session.EraModern:
		h.initialize(w, r, msg)
	case session.EraOf(versionHeader) == session.EraModern || session.EraOf(msg.ProtocolVersion) == session.EraModern:
		h.stateless(w, r, msg, versionHeader)
	default:
		if versionHeader != "" && !session.IsLegacyVersion(versionHeader) {
			writeRPCError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeUnsupportedProtocolVersion,
				fmt.Sprintf("unsupported protocol version %q", versionHeader))
			return
		}
		writeRPCError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeInvalidRequest,
			"missing "+HeaderSessionID+" header: send initialize first (2025 protocol era), or send the protocol version in "+
				HeaderProtocolVersion+" and params._meta (2026-07-28 era)")
	}
}

func (h *endpointHandler) initialize(w http.ResponseWriter, r *http.Request, msg *jsonrpc.Message) {
	f := h.front
	if n := f.SessionCount(); n >= f.opts.MaxSessions {
		f.opts.Logger.Warn("session limit reached; initialize refused", "sessions", n)
		writeRPCError(w, http.StatusServiceUnavailable, msg.ID, jsonrpc.CodeUpstreamUnavailable,
			fmt.Sprintf("the gateway holds its maximum of %d sessions; close idle sessions (DELETE) and retry", f.opts.MaxSessions))
		return
	}
	info := session.New(session.TransportHTTP, h.endpoint, r.RemoteAddr, f.opts.Cluster == nil)
	wireID := info.ID // the Mcp-Session-Id header; in a cluster, sealed, and info.ID is its short label
	if f.opts.Cluster != nil {
		id, err := h.sealID(r, msg)
		if err != nil {
			writeRPCError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeInvalidParams, "cannot start a session: "+err.Error())
			return
		}
		wireID, info.ID = id, SessionLabel(id)
	}
	s := newHTTPSession(f, info)
	s.owner = f.owner(r)
	sess, err := h.backend.Open(r.Context(), info, s)
	if err != nil {
		writeRPCError(w, http.StatusBadGateway, msg.ID, jsonrpc.CodeUpstreamUnavailable, err.Error())
		return
	}
	s.backend = sess
	f.mu.Lock()
	if f.closed || f.draining {
		f.mu.Unlock()
		sess.Close()
		writeRPCError(w, http.StatusServiceUnavailable, msg.ID, jsonrpc.CodeGatewayShutdown, "the gateway is shutting down; retry against another instance or later")
		return
	}
	f.sessions[wireID] = s
	f.mu.Unlock()
	w.Header().Set(HeaderSessionID, wireID)
	if !s.serve(w, r, msg) {
		return
	}
	// A failed initialize leaves no session behind (in a cluster: none another replica would adopt).
	if s.initFailed.Load() {
		if f.remove(wireID) != nil {
			s.close()
		}
		if c := f.opts.Cluster; c != nil && c.Revoke != nil {
			if err := c.Revoke(context.WithoutCancel(r.Context()), wireID); err != nil {
				f.opts.Logger.Warn("could not record a failed initialize's session as ended", "err", err)
			}
		}
	}
}

// stateless serves one 2026-era message: header/body agreement, then a one-message session.
func (h *endpointHandler) stateless(w http.ResponseWriter, r *http.Request, msg *jsonrpc.Message, versionHeader string) {
	if msg.Kind.IsResponse() {
		writeRPCError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeInvalidRequest,
			"the 2026-07-28 protocol has no client responses over HTTP (server requests are replaced by input_required results)")
		return
	}
	if m := checkModernHeaders(r, msg, versionHeader); m != "" {
		writeRPCError(w, http.StatusBadRequest, msg.ID, jsonrpc.CodeHeaderMismatch, m)
		return
	}
	info := session.New(session.TransportHTTP, h.endpoint, r.RemoteAddr, false)
	info.SetInitialize(session.EraModern, msg.ProtocolVersion, "", "", nil)
	s := newHTTPSession(h.front, info)
	sess, err := h.backend.Open(r.Context(), info, s)
	if err != nil {
		writeRPCError(w, http.StatusBadGateway, msg.ID, jsonrpc.CodeUpstreamUnavailable, err.Error())
		return
	}
	s.backend = sess
	s.stateless = true
	s.serve(w, r, msg)
	s.close()
}

// checkModernHeaders enforces the 2026-07-28 rule that routing headers agree with the body; it returns the
// mismatch, or "".
func checkModernHeaders(r *http.Request, msg *jsonrpc.Message, versionHeader string) string {
	if versionHeader == "" {
		return "missing " + HeaderProtocolVersion + " header (required in the 2026-07-28 protocol)"
	}
	// A body without the version is the server's to reject (-32602, "missing _meta"); a different one is a
	// mismatch the gateway refuses itself.
	if msg.ProtocolVersion != "" && msg.ProtocolVersion != versionHeader {
		return fmt.Sprintf("header mismatch: %s %q does not match params._meta %q value %q",
			HeaderProtocolVersion, versionHeader, jsonrpc.MetaProtocolVersionKey, msg.ProtocolVersion)
	}
	mh := r.Header.Get(HeaderMethod)
	if mh == "" {
		return "missing required " + HeaderMethod + " header"
	}
	if mh != msg.Method {
		return fmt.Sprintf("header mismatch: %s %q does not match body method %q", HeaderMethod, mh, msg.Method)
	}
	switch msg.Method {
	case "tools/call", "prompts/get", "resources/read":
		nh, present := r.Header[http.CanonicalHeaderKey(HeaderName)]
		if !present || len(nh) == 0 {
			return fmt.Sprintf("missing required %s header for method %q", HeaderName, msg.Method)
		}
		if nh[0] != msg.Name {
			return fmt.Sprintf("header mismatch: %s %q does not match body value %q", HeaderName, nh[0], msg.Name)
		}
	}
	return ""
}

// paramHeaders returns the headers that travel with a message to an HTTP upstream (nil when there are
// none): Mcp-Param-*, and for a 2026-era request the protocol version the client declared.
func paramHeaders(r *http.Request) http.Header {
	var out http.Header
	if v := r.Header.Get(HeaderProtocolVersion); v != "" && session.EraOf(v) == session.EraModern {
		out = http.Header{HeaderProtocolVersion: {v}}
	}
	for k, v := range r.Header {
		if len(k) > len(HeaderParamPrefix) && strings.EqualFold(k[:len(HeaderParamPrefix)], HeaderParamPrefix) {
			if out == nil {
				out = http.Header{}
			}
			out[k] = append([]string(nil), v...)
		}
	}
	return out
}

func (h *endpointHandler) get(w http.ResponseWriter, r *http.Request) {
	if session.EraOf(r.Header.Get(HeaderProtocolVersion)) == session.EraModern {
		w.Header().Set("Allow", "POST")
		writePlainError(w, http.StatusMethodNotAllowed, "the 2026-07-28 protocol has no GET stream")
		return
	}
	if !acceptsSSE(r) {
		writePlainError(w, http.StatusNotAcceptable, "GET opens an event stream: Accept must include text/event-stream")
		return
	}
	sid := r.Header.Get(HeaderSessionID)
	if sid == "" {
		writePlainError(w, http.StatusBadRequest, "missing "+HeaderSessionID+" header")
		return
	}
	s, status, why := h.find(r, sid)
	if s == nil {
		writePlainError(w, status, why)
		return
	}
	s.touch()
	if last := r.Header.Get(HeaderLastEventID); last != "" {
		s.resume(w, r, last)
		return
	}
	s.serveStandalone(w, r)
}

func (h *endpointHandler) delete(w http.ResponseWriter, r *http.Request) {
	sid := r.Header.Get(HeaderSessionID)
	if sid == "" {
		writePlainError(w, http.StatusBadRequest, "missing "+HeaderSessionID+" header")
		return
	}
	if s := h.front.lookup(r, sid, h.endpoint); s == nil {
		// In a cluster, a session another replica initialized is ended here too: revoked for every replica.
		if _, ok := h.openSealed(r, sid); !ok {
			writePlainError(w, http.StatusNotFound, "session not found or expired")
			return
		}
	}
	if c := h.front.opts.Cluster; c != nil && c.Revoke != nil {
		if err := c.Revoke(r.Context(), sid); err != nil {
			writePlainError(w, http.StatusServiceUnavailable, "could not end the session on every replica: "+err.Error()+"; retry the DELETE")
			return
		}
	}
	if s := h.front.remove(sid); s != nil {
		s.close()
	}
	w.WriteHeader(http.StatusNoContent)
}

func writePlainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

func writeRPCError(w http.ResponseWriter, status int, id jsonrpc.ID, code int64, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(jsonrpc.NewErrorResponse(id, code, msg, nil))
}

var _ = json.Valid // encoding/json is used by tests of this package
var _ = sse.Event{}
