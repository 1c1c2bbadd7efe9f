package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/transport"
	"github.com/mcpwarden/mcpwarden/internal/upstream"
	"github.com/mcpwarden/mcpwarden/internal/upstream/sandbox"
)

// Options configures a Gateway beyond its config file.
type Options struct {
	// Stages are the pluggable stages of the chain; zero value = pass-through.
	Stages Stages
	// Logger is the operational log. Default slog.Default().
	Logger *slog.Logger
	// HTTPClient is used for HTTP and SSE upstreams. Default: a client with sane transport timeouts, and a
	// second one with small connection buffers for the event-stream GETs, which are held open per session.
	HTTPClient *http.Client
	// HTTPMiddleware, when set, wraps every MCP endpoint (e.g. authentication that puts the principal in
	// the request context with identity.WithPrincipal). Nil: endpoints are served as they are.
	HTTPMiddleware func(http.Handler) http.Handler
	// SessionOwner binds 2025-era sessions to who created them (see transport.HTTPOptions.SessionOwner).
	SessionOwner func(*http.Request) string
	// UpstreamHeaders, when set, returns for a server the per-request header function of its HTTP or SSE
	// upstream (upstream.HTTPOptions.RequestHeaders: the caller's own credential), or nil for none.
	UpstreamHeaders func(server string) func(ctx context.Context) (http.Header, error)
	// UpstreamEnv, when set, returns for a stdio server the function that gives the process a user starts
	// that user's own credential (HTTPAuth.UpstreamEnv); such a server runs one process per user. Nil: none.
	UpstreamEnv func(server string) func(ctx context.Context) (map[string]string, error)
	// UpstreamTransport, when set, may wrap the HTTP transport of a server's upstream requests (the
	// upstream OAuth client refreshes a refused token and retries); nil keeps rt.
	UpstreamTransport func(server string, rt http.RoundTripper) http.RoundTripper
	// Cluster, when set, makes the gateway one replica of several sharing 2025-era sessions (see
	// transport.ClusterOptions). Nil: sessions live on this gateway only.
	Cluster *transport.ClusterOptions
}

// Gateway is a running mcpwarden: upstream runtimes, the chain and the fronts.
type Gateway struct {
	cfg     *config.Config
	stages  Stages
	log     *slog.Logger
	servers map[string]*serverRuntime
	order   []string
	front   *transport.HTTPFront
	agg     *aggregateBackend
	// wrapHTTP wraps the MCP endpoints (authentication); nil = none.
	wrapHTTP func(http.Handler) http.Handler

	closeOnce sync.Once
}

// New builds a gateway from a validated config. It starts nothing but the eager upstreams.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	if cfg == nil {
		return nil, errors.New("gateway: nil config")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	hc := opts.HTTPClient
	var streamHC *http.Client // nil: event-stream GETs use hc
	if hc == nil {
		newTransport := func() *http.Transport {
			return &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:          256,
				MaxIdleConnsPerHost:   64,
				IdleConnTimeout:       90 * time.Second,
				TLSHandshakeTimeout:   10 * time.Second,
				ResponseHeaderTimeout: 0, // SSE responses may start late; per-request timeouts bound the wait
			}
		}
		hc = &http.Client{Transport: newTransport()}
		// Event-stream GETs live as long as their session and are mostly idle: their connections get
		// small buffers (the default is 4 KiB each way) — the request is written once, and an event or
		// header line longer than the buffer is still read whole.
		st := newTransport()
		st.ReadBufferSize, st.WriteBufferSize = streamReadBuffer, streamWriteBuffer
		streamHC = &http.Client{Transport: st}
	}
	// wrap gives a server's requests the UpstreamTransport wrapper, if any.
	wrap := func(c *http.Client, server string) *http.Client {
		if c == nil || opts.UpstreamTransport == nil {
			return c
		}
		base := c.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		if wrapped := opts.UpstreamTransport(server, base); wrapped != nil {
			cp := *c
			cp.Transport = wrapped
			return &cp
		}
		return c
	}
	g := &Gateway{cfg: cfg, stages: opts.Stages, log: log, servers: make(map[string]*serverRuntime), wrapHTTP: opts.HTTPMiddleware}
	maxMsg := cfg.HTTP.MaxMessageBytes
	for _, sc := range cfg.Servers {
		var reqHeaders func(context.Context) (http.Header, error)
		if opts.UpstreamHeaders != nil {
			reqHeaders = opts.UpstreamHeaders(sc.Name)
		}
		if tp := sc.TokenPassthrough; tp != nil {
			reqHeaders = TokenPassthroughHeaders(sc.Name, tp.Audience) // the explicit, warned-about opt-in
		}
		clients := upstreamClients{requests: wrap(hc, sc.Name), streams: wrap(streamHC, sc.Name)}
		var userEnv func(context.Context) (map[string]string, error)
		if opts.UpstreamEnv != nil {
			userEnv = opts.UpstreamEnv(sc.Name)
		}
		rt, err := newServerRuntime(sc, clients, maxMsg, log, reqHeaders, userEnv)
		if err != nil {
			return nil, err
		}
		rt.hello = opts.Stages.UpstreamHello
		g.servers[sc.Name] = rt
		g.order = append(g.order, sc.Name)
	}
	g.front = transport.NewHTTPFront(transport.HTTPOptions{
		ListenAddr:         cfg.Listen,
		AllowedHosts:       cfg.HTTP.AllowedHosts,
		AllowedOrigins:     cfg.HTTP.AllowedOrigins,
		MaxMessageBytes:    maxMsg,
		SessionIdleTimeout: cfg.HTTP.SessionIdleTimeout.D(),
		MaxSessions:        cfg.HTTP.MaxSessions,
		Logger:             log,
		SessionOwner:       opts.SessionOwner,
		Cluster:            opts.Cluster,
	})
	g.agg = newAggregateBackend(g)
	opts.Stages.Metrics.WatchSessions(g.front.SessionCount)
	return g, nil
}

// Start starts the upstreams configured with start: eager.
func (g *Gateway) Start(ctx context.Context) error {
	for _, name := range g.order {
		rt := g.servers[name]
		if rt.eager {
			if err := rt.startShared(ctx); err != nil {
				g.log.Warn("eager upstream failed to start; it will be retried on first use", "server", name, "err", err)
			}
		}
	}
	return nil
}

// Handler returns the gateway's HTTP handler: /mcp (aggregate), /mcp/{name} (one server), /healthz.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	wrap := func(h http.Handler) http.Handler {
		if g.wrapHTTP != nil {
			return g.wrapHTTP(h)
		}
		return h
	}
	aggregate := wrap(g.front.Handler("", g.agg))
	mux.Handle("/mcp", aggregate)
	mux.Handle("/mcp/{$}", aggregate)
	for _, name := range g.order {
		mux.Handle("/mcp/"+name, wrap(g.front.Handler(name, &proxyBackend{g: g, srv: g.servers[name]})))
	}
	mux.HandleFunc("/mcp/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("no MCP server named %q is configured; configured servers: %s (the aggregate endpoint is /mcp)",
			r.PathValue("name"), strings.Join(g.order, ", ")), http.StatusNotFound)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// ServeStdio runs the `wrap` front: the client speaks stdio on r/w, the named server sits behind the chain.
// It returns when the client closes its input or ctx ends.
func (g *Gateway) ServeStdio(ctx context.Context, name string, r io.Reader, w io.Writer) error {
	rt := g.servers[name]
	if rt == nil {
		return fmt.Errorf("no server named %q in the config; configured servers: %s", name, strings.Join(g.order, ", "))
	}
	return transport.ServeStdio(ctx, transport.StdioOptions{
		Name: name, MaxMessageBytes: int(g.cfg.HTTP.MaxMessageBytes), Logger: g.log,
	}, &proxyBackend{g: g, srv: rt}, r, w)
}

// EndSessions ends the local state of every 2025-era session whose id matches (another replica ended it).
func (g *Gateway) EndSessions(match func(id string) bool) { g.front.EndSessions(match) }

// Drain begins a graceful shutdown of the HTTP front (see transport.HTTPFront.Drain); pass it to
// http.Server.RegisterOnShutdown.
func (g *Gateway) Drain() { g.front.Drain() }

// Close shuts the gateway down: in-flight calls get until ctx's deadline, then sessions and upstreams end.
func (g *Gateway) Close(ctx context.Context) {
	g.closeOnce.Do(func() {
		g.front.Close(ctx)
		g.agg.close()
		for _, name := range g.order {
			g.servers[name].close()
		}
	})
}

// Servers returns the configured server names in config order.
func (g *Gateway) Servers() []string { return append([]string(nil), g.order...) }

// serverRuntime is one configured upstream: how to open sessions to it, and its shared session.
type serverRuntime struct {
	name       string
	kind       string // stdio | http | sse
	open       func(ctx context.Context) (upstream.Conn, error)
	timeout    time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	hello      func(ctx context.Context, server string, init *jsonrpc.Message, result json.RawMessage) (json.RawMessage, error) // Stages.UpstreamHello
	eager      bool
	log        *slog.Logger

	// perUser: a stdio server with per-user credentials — every process belongs to one principal (it was
	// started with that principal's secret), so 2026-era requests share a process per principal, not one
	// for all.
	perUser bool

	mu     sync.Mutex
	shared *link // stdio: one process shared by 2026-era requests and the aggregate endpoint
	// userLinks are the per-principal shared processes of a perUser server (by principal id).
	userLinks map[string]*userLink
}

// userLink is one principal's shared process of a per-user stdio server.
type userLink struct {
	l        *link
	lastUsed time.Time
}

// sandboxProfile turns a server's sandbox config into the profile the stdio launcher applies. A nil config
// (a Config that did not go through CheckAndSetDefaults) gets the default sandbox; enabled: false gets none.
func sandboxProfile(c *config.Sandbox) *sandbox.Profile {
	if c == nil {
		return &sandbox.Profile{Limits: sandbox.DefaultLimits}
	}
	if !c.On() {
		return nil
	}
	cpu := uint64(0)
	if d := c.Limits.CPU.D(); d > 0 {
		cpu = uint64((d + time.Second - 1) / time.Second)
	}
	return &sandbox.Profile{
		InheritEnv: c.Env == config.SandboxEnvInherit,
		PassEnv:    c.PassEnv,
		Limits: sandbox.Limits{AddressSpace: uint64(max(c.Limits.AddressSpace, 0)), CPUSeconds: cpu,
			OpenFiles: uint64(max(c.Limits.OpenFiles, 0)), Processes: uint64(max(c.Limits.Processes, 0))},
		NoNetwork: c.Network == config.SandboxNetNone,
		ReadOnly:  c.ReadOnly,
		ReadWrite: c.ReadWrite,
		Strict:    c.Strict,
	}
}

// Buffer sizes of the connections that carry upstream event-stream GETs.
const (
	streamReadBuffer  = 1 << 10
	streamWriteBuffer = 512
)

// upstreamClients are the HTTP clients of one server's upstream: requests, and event-stream GETs (nil:
// requests' client).
type upstreamClients struct{ requests, streams *http.Client }

func newServerRuntime(sc config.Server, hc upstreamClients, maxMsg int64, log *slog.Logger, reqHeaders func(context.Context) (http.Header, error),
	userEnv func(context.Context) (map[string]string, error)) (*serverRuntime, error) {
	rt := &serverRuntime{
		name: sc.Name, kind: sc.Transport, timeout: sc.Timeout.D(),
		backoffMin: sc.Restart.InitialBackoff.D(), backoffMax: sc.Restart.MaxBackoff.D(),
		eager: sc.Start == "eager", log: log,
	}
	if rt.timeout <= 0 {
		rt.timeout = 60 * time.Second
	}
	if rt.backoffMin <= 0 {
		rt.backoffMin = 100 * time.Millisecond
	}
	if rt.backoffMax <= 0 {
		rt.backoffMax = 30 * time.Second
	}
	switch sc.Transport {
	case "stdio", "":
		rt.kind = "stdio"
		dir := sc.Cwd
		if dir != "" && !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("server %q: cwd %q must be absolute after config loading", sc.Name, dir)
		}
		if sc.Credentials != nil && sc.Credentials.Env != "" && userEnv == nil {
			return nil, fmt.Errorf("server %q: credentials need the credential store (gateway.UpstreamEnv); refusing to start it without the users' own credentials", sc.Name)
		}
		rt.perUser = userEnv != nil
		st := upstream.NewStdio(upstream.StdioOptions{
			Name: sc.Name, Command: sc.Command, Env: sc.Env, Dir: dir, MaxMessageBytes: int(maxMsg), Logger: log,
			Sandbox: sandboxProfile(sc.Sandbox), PinSHA256: programPin(sc), UserEnv: userEnv,
		})
		rt.open = rt.limitProcesses(st.Open, maxProcessesPerServer)
	case "http":
		h := upstream.NewHTTP(upstream.HTTPOptions{Name: sc.Name, URL: sc.URL, Headers: sc.Headers, Client: hc.requests, StreamClient: hc.streams, MaxMessageBytes: maxMsg, Logger: log,
			RequestHeaders: reqHeaders})
		rt.open = h.Open
	case "sse":
		s := upstream.NewSSE(upstream.SSEOptions{Name: sc.Name, URL: sc.URL, Headers: sc.Headers, Client: hc.requests, StreamClient: hc.streams, MaxMessageBytes: maxMsg, Logger: log,
			RequestHeaders: reqHeaders})
		rt.open = s.Open
	default:
		return nil, fmt.Errorf("server %q: unknown transport %q (use stdio, http or sse)", sc.Name, sc.Transport)
	}
	return rt, nil
}

// programPin is the server's pin.sha256, "" when it has none.
func programPin(sc config.Server) string {
	if sc.Pin == nil {
		return ""
	}
	return sc.Pin.SHA256
}

// maxProcessesPerServer caps the live child processes of one stdio server (one per 2025-era session), so a
// client that opens sessions in a loop cannot exhaust the host.
const maxProcessesPerServer = 256

// limitProcesses wraps open so that at most max connections from it are alive at once.
func (rt *serverRuntime) limitProcesses(open func(context.Context) (upstream.Conn, error), max int) func(context.Context) (upstream.Conn, error) {
	slots := make(chan struct{}, max)
	return func(ctx context.Context) (upstream.Conn, error) {
		select {
		case slots <- struct{}{}:
		default:
			return nil, fmt.Errorf("server %q already runs %d processes (one per client session); close idle sessions and retry", rt.name, max)
		}
		c, err := open(ctx)
		if err != nil {
			<-slots
			return nil, err
		}
		return &releasingConn{Conn: c, release: func() { <-slots }}, nil
	}
}

// releasingConn frees its process slot when closed.
type releasingConn struct {
	upstream.Conn
	once    sync.Once
	release func()
}

func (c *releasingConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// modernLink returns the link a 2026-era request uses and whether the caller owns (and must close) it.
// ctx carries the request's principal (a per-user server's process is that principal's).
func (rt *serverRuntime) modernLink(ctx context.Context, owner serverMessageHandler) (*link, bool, error) {
	if rt.perUser {
		return rt.userLink(ctx), false, nil
	}
	switch rt.kind {
	case "http":
		// Stateless upstream: one cheap connection per request, ids untouched.
		l := newLink(rt.name, rt.open, rt.timeout, false, owner, rt.log)
		return l, true, nil
	case "sse":
		return nil, false, errUnsupportedEra(rt.name)
	default:
		return rt.sharedLink(), false, nil
	}
}

func (rt *serverRuntime) sharedLink() *link {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.shared == nil {
		rt.shared = newLink(rt.name, rt.open, rt.timeout, true, nil, rt.log)
		rt.shared.backoffMin, rt.shared.backoffMax = rt.backoffMin, rt.backoffMax
		rt.shared.hello = rt.hello
	}
	return rt.shared
}

// userIdle is how long a principal's shared process of a per-user server lives without use.
const userIdle = 15 * time.Minute

// userLink returns the shared process of the principal in ctx (the OS user when there is none), created
// on first use; processes of other principals idle for userIdle are closed.
func (rt *serverRuntime) userLink(ctx context.Context) *link {
	p, ok := identity.FromContext(ctx)
	if !ok {
		p = identity.Local()
	}
	key, now := p.ID(), time.Now()
	rt.mu.Lock()
	if rt.userLinks == nil {
		rt.userLinks = map[string]*userLink{}
	}
	var idle []*link
	for k, u := range rt.userLinks {
		if k != key && now.Sub(u.lastUsed) > userIdle {
			idle = append(idle, u.l)
			delete(rt.userLinks, k)
		}
	}
	u := rt.userLinks[key]
	if u == nil {
		l := newLink(rt.name, rt.open, rt.timeout, true, nil, rt.log)
		l.backoffMin, l.backoffMax = rt.backoffMin, rt.backoffMax
		l.hello = rt.hello
		u = &userLink{l: l}
		rt.userLinks[key] = u
	}
	u.lastUsed = now
	rt.mu.Unlock()
	for _, l := range idle {
		go l.Close()
	}
	return u.l
}

func (rt *serverRuntime) startShared(ctx context.Context) error {
	if rt.perUser {
		rt.log.Info("start: eager does not apply to a server with per-user credentials: each user's process starts with their first request", "server", rt.name)
		return nil
	}
	_, _, err := rt.sharedLink().ensure(ctx)
	return err
}

func (rt *serverRuntime) close() {
	rt.mu.Lock()
	l := rt.shared
	rt.shared = nil
	users := rt.userLinks
	rt.userLinks = nil
	rt.mu.Unlock()
	if l != nil {
		l.Close()
	}
	for _, u := range users {
		u.l.Close()
	}
}

var _ = jsonrpc.KindRequest
