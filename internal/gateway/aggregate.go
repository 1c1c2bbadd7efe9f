package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
	"github.com/mcpwarden/mcpwarden/internal/transport"
	"github.com/mcpwarden/mcpwarden/internal/upstream"
)

// The aggregate endpoint /mcp terminates MCP: it is the server its clients talk to, and a client of every
// configured upstream. Names are namespaced by server:
//
//	tools, prompts:                 "{server}.{name}"           e.g. "github.create_issue"
//	resources, resource templates:  "mcpwarden://{server}/{uri}" e.g. "mcpwarden://files/file:///tmp/a.txt"
//
// Server names cannot contain ".", so the first "." always ends the server part, and no two servers can
// produce the same namespaced name. A namespaced tool name longer than MCP's 128-character limit is left out
// of the list with a warning in the log.
const (
	nameSep        = "."
	resourcePrefix = "mcpwarden://"
	aggPageSize    = 500
	maxToolName    = 128
)

// aggregateBackend serves /mcp.
type aggregateBackend struct {
	g *Gateway

	mu sync.Mutex
	// modern holds the gateway-owned upstream sessions that serve 2026-era requests, one set per principal
	// (so one user's upstream session, and the credentials it was opened with, never serves another).
	modern map[string]*linkSet
}

type linkSet struct {
	links    map[string]*link // by server
	lastUsed time.Time
}

// modernIdle is how long a principal's shared upstream sessions live without use.
const modernIdle = 15 * time.Minute

func newAggregateBackend(g *Gateway) *aggregateBackend {
	return &aggregateBackend{g: g, modern: make(map[string]*linkSet)}
}

func (b *aggregateBackend) close() {
	b.mu.Lock()
	sets := b.modern
	b.modern = map[string]*linkSet{}
	b.mu.Unlock()
	for _, set := range sets {
		for _, l := range set.links {
			l.Close()
		}
	}
}

// Open implements transport.Backend.
func (b *aggregateBackend) Open(ctx context.Context, info *session.Info, sink transport.Sink) (transport.Session, error) {
	s := &aggSession{b: b, g: b.g, info: info, sink: sink, log: b.g.log, links: make(map[string]*link)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.calls = newClientCalls(sink, true)
	s.toClientChain = b.g.stages.serverChain(s.toClient)
	s.toUpstreamChain = b.g.stages.clientChain(s.toUpstream)
	s.localChain = b.g.stages.localChain(s.answerLocally)
	if info.Era() == session.EraModern {
		owner := ""
		if p, ok := identity.FromContext(ctx); ok {
			owner = p.ID()
		}
		s.links = b.sharedLinks(owner)
		s.shared = true
	} else {
		for _, name := range b.g.order {
			rt := b.g.servers[name]
			l := newLink(name, rt.open, rt.timeout, true, s, b.g.log)
			l.backoffMin, l.backoffMax = rt.backoffMin, rt.backoffMax
			l.hello = rt.hello
			s.links[name] = l
		}
	}
	return s, nil
}

// sharedLinks returns the gateway-owned upstream sessions that serve owner's 2026-era aggregate requests,
// creating them on first use; sets idle for modernIdle are closed.
func (b *aggregateBackend) sharedLinks(owner string) map[string]*link {
	now := time.Now()
	b.mu.Lock()
	var idle []*linkSet
	for k, set := range b.modern {
		if k != owner && now.Sub(set.lastUsed) > modernIdle {
			idle = append(idle, set)
			delete(b.modern, k)
		}
	}
	set := b.modern[owner]
	if set == nil {
		set = &linkSet{links: make(map[string]*link, len(b.g.order))}
		for _, name := range b.g.order {
			rt := b.g.servers[name]
			l := newLink(name, rt.open, rt.timeout, true, nil, b.g.log)
			l.backoffMin, l.backoffMax = rt.backoffMin, rt.backoffMax
			l.hello = rt.hello
			init, initialized := upstreamHandshake(session.LegacyVersions[len(session.LegacyVersions)-1], nil, "mcpwarden-aggregate", "")
			l.setHandshake(init, initialized)
			set.links[name] = l
		}
		b.modern[owner] = set
	}
	set.lastUsed = now
	out := make(map[string]*link, len(set.links))
	for k, v := range set.links {
		out[k] = v
	}
	b.mu.Unlock()
	for _, old := range idle {
		for _, l := range old.links {
			go l.Close()
		}
	}
	return out
}

// upstreamHandshake builds the initialize request (and initialized notification) the aggregate sends to
// each upstream on behalf of its client.
func upstreamHandshake(version string, caps json.RawMessage, clientName, clientVersion string) (*jsonrpc.Message, *jsonrpc.Message) {
	if len(caps) == 0 {
		caps = json.RawMessage(`{}`)
	}
	if clientName == "" {
		clientName = "mcpwarden"
	}
	name := clientName + " via mcpwarden"
	if clientName == "mcpwarden-aggregate" {
		name = clientName
	}
	params := map[string]any{
		"protocolVersion": version,
		"capabilities":    caps,
		"clientInfo":      map[string]string{"name": name, "version": clientVersion},
	}
	init, _ := jsonrpc.NewRequest(jsonrpc.ID(`0`), "initialize", params)
	initialized, _ := jsonrpc.NewNotification("notifications/initialized", nil)
	return jsonrpc.MustDecode(init), jsonrpc.MustDecode(initialized)
}

type aggSession struct {
	b     *aggregateBackend
	g     *Gateway
	info  *session.Info
	sink  transport.Sink
	log   *slog.Logger
	links map[string]*link
	// shared: links belong to the backend (2026-era), not to this session.
	shared bool
	calls  *clientCalls

	ctx    context.Context
	cancel context.CancelFunc
	work   sync.WaitGroup

	toUpstreamChain Handler
	toClientChain   Handler
	localChain      Handler // what the aggregate answers itself
	// principal is who opened the session (its first message's principal), used for server-initiated traffic.
	principal atomic.Pointer[identity.Principal]
	inflight  inflightRequests
}

// Close implements transport.Session.
func (s *aggSession) Close() {
	s.cancel()
	if !s.shared {
		var wg sync.WaitGroup
		for _, l := range s.links {
			wg.Add(1)
			go func() { defer wg.Done(); l.Close() }()
		}
		wg.Wait()
	}
	s.calls.closeAll()
	s.work.Wait()
}

// Handle implements transport.Session.
func (s *aggSession) Handle(ctx context.Context, msg *jsonrpc.Message, hdr http.Header) {
	if p, ok := identity.FromContext(ctx); ok {
		s.principal.CompareAndSwap(nil, p)
	}
	switch msg.Kind {
	case jsonrpc.KindResult, jsonrpc.KindError:
		if !s.calls.resolve(msg) {
			s.log.Warn("client answered a request the gateway did not send; dropped", "id", msg.ID.String())
		}
		return
	}
	if msg.Kind == jsonrpc.KindRequest {
		var done func()
		ctx, done = s.inflight.begin(ctx, msg.ID)
		defer done()
		// ⑤ approval: keep-alive (both eras) and in-band questions (2025 era)
		ctx = WithClientPeer(ctx, &sessionPeer{sink: s.sink, calls: s.calls, related: msg.ID, noCalls: s.info.Era() == session.EraModern})
	}
	var reply *jsonrpc.Message
	if msg.Kind == jsonrpc.KindRequest && routedMethods[msg.Method] {
		reply = s.request(ctx, msg, hdr) // recorded by the routed request's own chain
	} else {
		x := &Exchange{Session: s.info, Direction: ClientToServer, Msg: msg, Original: msg, Header: hdr}
		var err error
		if reply, err = s.localChain(ctx, x); err != nil && msg.Kind == jsonrpc.KindRequest {
			reply = errorReply(msg, jsonrpc.CodeInternalError, "gateway error: "+err.Error())
		}
	}
	if msg.Kind != jsonrpc.KindRequest || reply == nil {
		return
	}
	if err := s.sink.Send(ctx, reply, msg.ID); err != nil {
		s.log.Debug("could not deliver response", "err", err)
	}
}

// routedMethods are forwarded to one server and recorded by that server's chain; everything else the
// aggregate answers itself, through localChain.
var routedMethods = map[string]bool{
	"tools/call": true, "prompts/get": true, "resources/read": true, "resources/subscribe": true,
	"resources/unsubscribe": true, "completion/complete": true,
}

// answerLocally is the end of localChain.
func (s *aggSession) answerLocally(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
	if x.Msg.Kind == jsonrpc.KindNotification {
		s.notification(ctx, x.Msg)
		return nil, nil
	}
	return s.request(ctx, x.Msg, x.Header), nil
}

func (s *aggSession) notification(ctx context.Context, msg *jsonrpc.Message) {
	switch msg.Method {
	case "notifications/initialized":
		// Each upstream was sent its own initialized when the aggregate initialized it.
	case "notifications/cancelled":
		id := cancelledRequestID(msg.Params)
		if id == nil {
			return
		}
		defer s.inflight.cancel(id) // also ends a request that never left the gateway (parked for approval)
		for _, l := range s.links {
			if l.release(id, "cancelled by the client", true) {
				return
			}
		}
	case "notifications/roots/list_changed":
		for name := range s.links {
			x := &Exchange{Session: s.info, Server: name, Direction: ClientToServer, Msg: msg, Original: msg}
			if _, err := s.toUpstreamChain(ctx, x); err != nil {
				s.log.Debug("forwarding roots/list_changed failed", "server", name, "err", err)
			}
		}
	default:
		s.log.Debug("client notification not routed by the aggregate endpoint; dropped", "method", msg.Method)
	}
}

func (s *aggSession) request(ctx context.Context, msg *jsonrpc.Message, hdr http.Header) *jsonrpc.Message {
	switch msg.Method {
	case "initialize":
		return s.initialize(ctx, msg)
	case "ping":
		return s.result(msg, map[string]any{})
	case "server/discover":
		return s.discover(ctx, msg)
	case "tools/list":
		return s.list(ctx, msg, "tools", "name", nameSep)
	case "prompts/list":
		return s.list(ctx, msg, "prompts", "name", nameSep)
	case "resources/list":
		return s.list(ctx, msg, "resources", "uri", "")
	case "resources/templates/list":
		return s.list(ctx, msg, "resourceTemplates", "uriTemplate", "")
	case "tools/call", "prompts/get":
		return s.routeByName(ctx, msg, hdr, "name")
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return s.routeByURI(ctx, msg, hdr)
	case "completion/complete":
		return s.routeCompletion(ctx, msg, hdr)
	case "logging/setLevel":
		for name := range s.links {
			s.forward(ctx, name, msg, msg, hdr)
		}
		return s.result(msg, map[string]any{})
	}
	return errorReply(msg, jsonrpc.CodeMethodNotFound, fmt.Sprintf(
		"method %q is not available on the aggregate endpoint /mcp; use the server's own endpoint /mcp/{server} for it", msg.Method))
}

// result builds a result response; 2026-era results carry resultType.
func (s *aggSession) result(req *jsonrpc.Message, v map[string]any) *jsonrpc.Message {
	if s.info.Era() == session.EraModern {
		v["resultType"] = "complete"
	}
	b, err := jsonrpc.NewResult(req.ID, v)
	if err != nil {
		return errorReply(req, jsonrpc.CodeInternalError, "encoding result: "+err.Error())
	}
	return jsonrpc.MustDecode(b)
}

// connectAll makes sure every upstream session is up (initializing it), in parallel. It returns the servers
// that could not be reached, with why.
func (s *aggSession) connectAll(ctx context.Context) map[string]error {
	var mu sync.Mutex
	failed := map[string]error{}
	var wg sync.WaitGroup
	for name, l := range s.links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := l.ensure(ctx); err != nil {
				mu.Lock()
				failed[name] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for name, err := range failed {
		s.log.Warn("aggregate: upstream unavailable; its tools are left out", "server", name, "err", err)
	}
	return failed
}

func (s *aggSession) initialize(ctx context.Context, msg *jsonrpc.Message) *jsonrpc.Message {
	noteInitialize(s.info, msg)
	version := s.prepareHandshake()
	s.connectAll(ctx)
	caps, instructions := s.merged()
	return s.result(msg, map[string]any{
		"protocolVersion": version,
		"capabilities":    caps,
		"serverInfo":      map[string]string{"name": "mcpwarden", "title": "mcpwarden aggregate endpoint", "version": Version},
		"instructions":    instructions,
	})
}

// prepareHandshake makes every link initialize its upstream session on behalf of the client the session's
// Info describes, and settles the session's protocol version, which it returns.
func (s *aggSession) prepareHandshake() string {
	version := s.info.Version()
	if !session.IsLegacyVersion(version) {
		version = session.LegacyVersions[len(session.LegacyVersions)-1]
	}
	name, ver := s.info.Client()
	init, initialized := upstreamHandshake(version, s.info.Capabilities(), name, ver)
	for _, l := range s.links {
		l.setHandshake(init, initialized)
	}
	s.info.SetVersion(version)
	return version
}

// Adopt implements transport.Adopter: a 2025-era session initialized on another replica. The upstream
// sessions are opened (and initialized for the client) on first use, as after an upstream restart.
func (b *aggregateBackend) Adopt(ctx context.Context, info *session.Info, sink transport.Sink, init *jsonrpc.Message) (transport.Session, error) {
	noteInitialize(info, init)
	sess, err := b.Open(ctx, info, sink)
	if err != nil {
		return nil, err
	}
	sess.(*aggSession).prepareHandshake()
	return sess, nil
}

func (s *aggSession) discover(ctx context.Context, msg *jsonrpc.Message) *jsonrpc.Message {
	s.connectAll(ctx)
	caps, instructions := s.merged()
	return s.result(msg, map[string]any{
		"supportedVersions": []string{msg.ProtocolVersion},
		"capabilities":      caps,
		"serverInfo":        map[string]string{"name": "mcpwarden", "title": "mcpwarden aggregate endpoint", "version": Version},
		"instructions":      instructions,
	})
}

// merged combines the upstreams' capabilities and instructions.
func (s *aggSession) merged() (map[string]any, string) {
	caps := map[string]any{}
	var instr strings.Builder
	fmt.Fprintf(&instr, "mcpwarden aggregates %d MCP servers. Tools and prompts are named {server}.{name}; resources are mcpwarden://{server}/{uri}.", len(s.links))
	for _, name := range s.g.order {
		l := s.links[name]
		if l == nil {
			continue
		}
		raw := l.InitResult()
		if raw == nil {
			continue
		}
		var r struct {
			Capabilities map[string]json.RawMessage `json:"capabilities"`
			Instructions string                     `json:"instructions"`
		}
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		for k, v := range r.Capabilities {
			switch k {
			case "tools", "prompts":
				caps[k] = map[string]any{"listChanged": true}
			case "resources":
				sub := false
				if m, ok := caps[k].(map[string]any); ok && m["subscribe"] == true {
					sub = true
				}
				var rc struct {
					Subscribe bool `json:"subscribe"`
				}
				_ = json.Unmarshal(v, &rc)
				caps[k] = map[string]any{"listChanged": true, "subscribe": sub || rc.Subscribe}
			case "logging", "completions":
				caps[k] = map[string]any{}
			}
		}
		if r.Instructions != "" {
			fmt.Fprintf(&instr, "\n\n## %s\n%s", name, r.Instructions)
		}
	}
	return caps, instr.String()
}

// forward sends one (possibly rewritten) request to a server through the chain.
func (s *aggSession) forward(ctx context.Context, server string, out, orig *jsonrpc.Message, hdr http.Header) *jsonrpc.Message {
	x := &Exchange{Session: s.info, Server: server, Direction: ClientToServer, Msg: out, Original: orig, Header: hdr}
	reply, err := s.toUpstreamChain(ctx, x)
	if err != nil {
		return errorReply(orig, jsonrpc.CodeInternalError, "gateway error: "+err.Error())
	}
	return reply
}

func (s *aggSession) toUpstream(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
	l := s.links[x.Server]
	if l == nil {
		return errorReply(x.Msg, jsonrpc.CodeInvalidParams, fmt.Sprintf("no server named %q", x.Server)), nil
	}
	if x.Msg.Kind == jsonrpc.KindNotification {
		return nil, l.Notify(ctx, x.Msg, x.Header)
	}
	return l.Call(ctx, x.Msg, nil, s)
}

// list fans a list method out to every server, namespaces the items and pages the merged list.
func (s *aggSession) list(ctx context.Context, msg *jsonrpc.Message, key, field, sep string) *jsonrpc.Message {
	var p struct {
		Cursor string `json:"cursor"`
	}
	_ = json.Unmarshal(msg.Params, &p)
	offset := 0
	if p.Cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(p.Cursor, key+":"))
		if err != nil || n < 0 || !strings.HasPrefix(p.Cursor, key+":") {
			return errorReply(msg, jsonrpc.CodeInvalidParams, "invalid cursor "+strconv.Quote(p.Cursor))
		}
		offset = n
	}
	type fetched struct {
		items []json.RawMessage
	}
	results := make([]fetched, len(s.g.order))
	var wg sync.WaitGroup
	for i, name := range s.g.order {
		if s.links[name] == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].items = s.fetchAll(ctx, name, msg, key)
		}()
	}
	wg.Wait()
	var all []json.RawMessage
	for i, name := range s.g.order {
		for _, item := range results[i].items {
			renamed, ok := s.namespace(name, item, field, sep)
			if ok {
				all = append(all, renamed)
			}
		}
	}
	if offset > len(all) {
		offset = len(all)
	}
	end := min(offset+aggPageSize, len(all))
	out := map[string]any{key: append([]json.RawMessage{}, all[offset:end]...)}
	if end < len(all) {
		out["nextCursor"] = key + ":" + strconv.Itoa(end)
	}
	return s.result(msg, out)
}

// fetchAll pages through one server's list.
func (s *aggSession) fetchAll(ctx context.Context, server string, orig *jsonrpc.Message, key string) []json.RawMessage {
	var items []json.RawMessage
	cursor := ""
	for page := 0; page < 1000; page++ {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		b, _ := jsonrpc.NewRequest(orig.ID, orig.Method, params)
		reply := s.forward(ctx, server, jsonrpc.MustDecode(b), orig, nil)
		if reply == nil || reply.Kind != jsonrpc.KindResult {
			if reply != nil && reply.Error != nil && reply.Error.Code != jsonrpc.CodeMethodNotFound {
				s.log.Warn("aggregate: list failed; that server's items are left out", "server", server, "method", orig.Method, "err", reply.Error.Message)
			}
			return items
		}
		var r map[string]json.RawMessage
		if json.Unmarshal(reply.Result, &r) != nil {
			return items
		}
		var got []json.RawMessage
		_ = json.Unmarshal(r[key], &got)
		items = append(items, got...)
		var next string
		_ = json.Unmarshal(r["nextCursor"], &next)
		if next == "" || next == cursor {
			return items
		}
		cursor = next
	}
	return items
}

// namespace rewrites an item's name/uri field into the aggregate namespace.
func (s *aggSession) namespace(server string, item json.RawMessage, field, sep string) (json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(item, &m) != nil {
		return nil, false
	}
	var v string
	if json.Unmarshal(m[field], &v) != nil {
		return nil, false
	}
	var nv string
	if sep != "" {
		nv = server + sep + v
		if field == "name" && len(nv) > maxToolName {
			s.log.Warn("aggregate: namespaced name exceeds 128 characters; left out", "server", server, "name", v)
			return nil, false
		}
	} else {
		nv = resourcePrefix + server + "/" + v
	}
	m[field], _ = json.Marshal(nv)
	out, err := json.Marshal(m)
	return out, err == nil
}

// splitName splits "{server}.{name}".
func (s *aggSession) splitName(n string) (string, string, bool) {
	server, name, ok := strings.Cut(n, nameSep)
	if !ok || name == "" || s.links[server] == nil {
		return "", "", false
	}
	return server, name, true
}

// splitURI splits "mcpwarden://{server}/{uri}".
func (s *aggSession) splitURI(u string) (string, string, bool) {
	rest, ok := strings.CutPrefix(u, resourcePrefix)
	if !ok {
		return "", "", false
	}
	server, orig, ok := strings.Cut(rest, "/")
	if !ok || orig == "" || s.links[server] == nil {
		return "", "", false
	}
	return server, orig, true
}

// rewrite returns msg with params rewritten by fn, and for 2026-era requests with the protocol's _meta keys
// removed (the aggregate's upstream sessions are its own).
func (s *aggSession) rewrite(msg *jsonrpc.Message, fn func(p map[string]json.RawMessage) error) (*jsonrpc.Message, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(msg.Params, &p); err != nil || p == nil {
		return nil, fmt.Errorf("params must be an object")
	}
	if err := fn(p); err != nil {
		return nil, err
	}
	if s.info.Era() == session.EraModern && p["_meta"] != nil {
		var meta map[string]json.RawMessage
		if json.Unmarshal(p["_meta"], &meta) == nil {
			for k := range meta {
				if strings.HasPrefix(k, "io.modelcontextprotocol/") {
					delete(meta, k)
				}
			}
			p["_meta"], _ = json.Marshal(meta)
		}
	}
	b, err := jsonrpc.NewRequest(msg.ID, msg.Method, p)
	if err != nil {
		return nil, err
	}
	return jsonrpc.Decode(b)
}

func setString(p map[string]json.RawMessage, k, v string) {
	p[k], _ = json.Marshal(v)
}

func (s *aggSession) routeByName(ctx context.Context, msg *jsonrpc.Message, hdr http.Header, field string) *jsonrpc.Message {
	server, name, ok := s.splitName(msg.Name)
	if !ok {
		return errorReply(msg, jsonrpc.CodeInvalidParams, fmt.Sprintf("unknown %s %q: names on /mcp are {server}.{name} (servers: %s)",
			strings.TrimSuffix(strings.Split(msg.Method, "/")[0], "s"), msg.Name, strings.Join(s.g.order, ", ")))
	}
	out, err := s.rewrite(msg, func(p map[string]json.RawMessage) error { setString(p, field, name); return nil })
	if err != nil {
		return errorReply(msg, jsonrpc.CodeInvalidParams, err.Error())
	}
	return s.forward(ctx, server, out, msg, hdr)
}

func (s *aggSession) routeByURI(ctx context.Context, msg *jsonrpc.Message, hdr http.Header) *jsonrpc.Message {
	server, uri, ok := s.splitURI(msg.Name)
	if !ok {
		return errorReply(msg, jsonrpc.CodeInvalidParams, fmt.Sprintf("unknown resource %q: resources on /mcp are %s{server}/{uri}", msg.Name, resourcePrefix))
	}
	out, err := s.rewrite(msg, func(p map[string]json.RawMessage) error { setString(p, "uri", uri); return nil })
	if err != nil {
		return errorReply(msg, jsonrpc.CodeInvalidParams, err.Error())
	}
	reply := s.forward(ctx, server, out, msg, hdr)
	if reply != nil && reply.Kind == jsonrpc.KindResult && msg.Method == "resources/read" {
		reply = s.prefixContents(reply, server)
	}
	return reply
}

// prefixContents namespaces the uris inside a resources/read result.
func (s *aggSession) prefixContents(reply *jsonrpc.Message, server string) *jsonrpc.Message {
	var r map[string]json.RawMessage
	if json.Unmarshal(reply.Result, &r) != nil {
		return reply
	}
	var contents []json.RawMessage
	if json.Unmarshal(r["contents"], &contents) != nil {
		return reply
	}
	for i, c := range contents {
		if nc, ok := s.namespace(server, c, "uri", ""); ok {
			contents[i] = nc
		}
	}
	r["contents"], _ = json.Marshal(contents)
	b, err := jsonrpc.NewResult(reply.ID, r)
	if err != nil {
		return reply
	}
	return jsonrpc.MustDecode(b)
}

func (s *aggSession) routeCompletion(ctx context.Context, msg *jsonrpc.Message, hdr http.Header) *jsonrpc.Message {
	var p struct {
		Ref struct {
			Type string `json:"type"`
			Name string `json:"name"`
			URI  string `json:"uri"`
		} `json:"ref"`
	}
	_ = json.Unmarshal(msg.Params, &p)
	var server, local string
	var ok bool
	field := "name"
	switch p.Ref.Type {
	case "ref/prompt":
		server, local, ok = s.splitName(p.Ref.Name)
	case "ref/resource":
		server, local, ok = s.splitURI(p.Ref.URI)
		field = "uri"
	}
	if !ok {
		return errorReply(msg, jsonrpc.CodeInvalidParams, "completion/complete: ref must name a namespaced prompt ({server}.{name}) or resource template ("+resourcePrefix+"{server}/{uri})")
	}
	out, err := s.rewrite(msg, func(pm map[string]json.RawMessage) error {
		var ref map[string]json.RawMessage
		if err := json.Unmarshal(pm["ref"], &ref); err != nil {
			return err
		}
		setString(ref, field, local)
		pm["ref"], _ = json.Marshal(ref)
		return nil
	})
	if err != nil {
		return errorReply(msg, jsonrpc.CodeInvalidParams, err.Error())
	}
	return s.forward(ctx, server, out, msg, hdr)
}

// serverMessage implements serverMessageHandler for the aggregate: notifications are namespaced and merged,
// server requests go to the client with gateway ids.
func (s *aggSession) serverMessage(_ context.Context, l *link, f upstream.Frame, related jsonrpc.ID) {
	msg := f.Msg
	if msg.Kind == jsonrpc.KindNotification && msg.Method == "notifications/resources/updated" {
		var p map[string]json.RawMessage
		var uri string
		if json.Unmarshal(msg.Params, &p) == nil && json.Unmarshal(p["uri"], &uri) == nil {
			setString(p, "uri", resourcePrefix+l.server+"/"+uri)
			if b, err := jsonrpc.NewNotification(msg.Method, p); err == nil {
				msg = jsonrpc.MustDecode(b)
			}
		}
	}
	x := &Exchange{Session: s.info, Server: l.server, Direction: ServerToClient, Msg: msg, Original: f.Msg, Related: related, Principal: s.principal.Load()}
	if msg.Kind != jsonrpc.KindRequest {
		if _, err := s.toClientChain(s.ctx, x); err != nil {
			s.log.Debug("could not deliver server notification", "server", l.server, "method", msg.Method, "err", err)
		}
		return
	}
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		reply, err := s.toClientChain(s.ctx, x)
		if err != nil {
			reply = errorReply(msg, jsonrpc.CodeInternalError, "gateway error: "+err.Error())
		}
		if reply != nil {
			if err := l.Respond(s.ctx, reply); err != nil {
				s.log.Warn("could not return the client's answer to the upstream", "server", l.server, "err", err)
			}
		}
	}()
}

func (s *aggSession) toClient(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
	if x.Msg.Kind == jsonrpc.KindRequest {
		if s.info.Era() == session.EraModern {
			return errorReply(x.Msg, jsonrpc.CodeMethodNotFound, "a 2026-07-28 client cannot receive server requests ("+x.Msg.Method+")"), nil
		}
		return s.calls.call(ctx, x.Msg, x.Related)
	}
	return nil, s.sink.Send(ctx, x.Msg, x.Related)
}

var _ transport.Session = (*aggSession)(nil)
var _ serverMessageHandler = (*aggSession)(nil)
