package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/inspect/flow"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/policy"
	"github.com/mcpwarden/mcpwarden/internal/policy/external"
)

// PolicyStageConfig configures the policy stage adapter (④).
type PolicyStageConfig struct {
	// Policy holds the active policy (required); it may be reloaded while the gateway runs.
	Policy *policy.Holder
	// Limiter counts rate limits and quotas; nil means a fresh one.
	Limiter *policy.Limiter
	// Labels returns the session labels (taint, classification) of the exchange; nil means none.
	Labels func(x *Exchange) []string
	// Findings returns detector findings about the exchange or its tool (e.g. "poisoned_tool",
	// "pin_changed"); nil means none.
	Findings func(x *Exchange) []string
	// ToolLabels returns the data-flow labels of a server's tool (def is its cached definition, nil when
	// unknown); they reach policy as tool.labels and the flow stage as Exchange.ToolLabels. Nil: none.
	ToolLabels func(server, name string, def *policy.ToolDef) []flow.Assigned
	// PassAsk forwards ask decisions to the next stage (the approval stage reads x.Decision) instead of
	// answering CodeApprovalRequired. Leave false while no approval stage is configured.
	PassAsk bool
	// Trusted reports whether the operator marked a server trusted (servers[].trusted): only then do its tool
	// annotations lower risk. Nil: no server is trusted.
	Trusted func(server string) bool
	// Logger receives monitor-mode decisions and tool-list problems; nil discards.
	Logger *slog.Logger
}

// policyStage adapts package policy to a Middleware: it evaluates every client request and notification,
// answers deny and ask with a JSON-RPC error response, applies rate limits and result redaction, filters
// tools/list, prompts/list and resources/list to what the caller may use, and answers calls to hidden
// names exactly like calls to unknown ones.
type policyStage struct {
	cfg   PolicyStageConfig
	log   *slog.Logger
	tools sync.Map // server → *serverTools
	seq   atomic.Int64

	extMu     sync.Mutex
	extCfg    *policy.External // the configuration extClient was made for (changes on reload)
	extClient *external.Client
}

func (s *policyStage) externalClient(cfg *policy.External) *external.Client {
	s.extMu.Lock()
	defer s.extMu.Unlock()
	if s.extCfg != cfg {
		s.extCfg, s.extClient = cfg, external.New(*cfg, nil)
	}
	return s.extClient
}

// serverTools caches one server's tool definitions, learnt from tools/list results passing through.
type serverTools struct {
	mu      sync.RWMutex
	listed  bool
	probing chan struct{} // non-nil while a fetch runs; closed when it ends
	retryAt time.Time     // after a failed fetch, when to try again
	byName  map[string]*policy.ToolDef
	canon   map[string]*policy.ToolDef
}

// probeRetry is how long the stage waits before fetching a server's tools/list again after a failure.
const probeRetry = 30 * time.Second

// NewPolicyStage returns the policy stage as a Middleware.
func NewPolicyStage(cfg PolicyStageConfig) (Middleware, error) {
	if cfg.Policy == nil {
		return nil, fmt.Errorf("policy stage: no policy")
	}
	if cfg.Limiter == nil {
		cfg.Limiter = policy.NewLimiter()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &policyStage{cfg: cfg, log: log}
	return s.middleware, nil
}

func (s *policyStage) middleware(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		msg := x.Msg
		if x.Direction != ClientToServer || msg.Kind.IsResponse() || msg.Kind == jsonrpc.KindInvalid {
			return next(ctx, x) // the client's answers to server requests are not decisions of the client
		}
		pol := s.cfg.Policy.Policy()
		if msg.Kind == jsonrpc.KindRequest && msg.Method == "tools/call" {
			s.ensureTools(ctx, x, next)
		}
		in := s.input(ctx, x)
		d := pol.Evaluate(in)
		if pol.External != nil && policy.IsCall(msg.Method) && d.Effect != policy.Deny {
			d = s.externalClient(pol.External).Decide(ctx, in, d)
		}
		x.Decision = &d
		if len(d.Errors) > 0 {
			s.log.Warn("policy: errors while deciding (rule conditions or the external decision point); they never weaken the decision", "server", x.Server,
				"method", msg.Method, "name", msg.Name, "errors", d.Errors, "effect", d.Effect, "rule", d.RuleID)
		}
		if d.Monitor {
			if d.Effect != policy.Allow {
				s.log.Info("policy (monitor mode) would refuse", "server", x.Server, "method", msg.Method, "name", msg.Name,
					"effect", d.Effect, "rule", d.RuleID, "reason", d.Reason)
			}
			reply, err := next(ctx, x)
			if err == nil && reply != nil && reply.Kind == jsonrpc.KindResult {
				s.learn(x, reply)
			}
			return reply, err
		}
		switch d.Effect {
		case policy.Deny:
			if msg.Kind != jsonrpc.KindRequest {
				s.log.Debug("policy dropped a notification", "server", x.Server, "method", msg.Method, "rule", d.RuleID)
				return nil, nil
			}
			if d.Hidden {
				return unknownReply(msg), nil
			}
			return errorReply(msg, jsonrpc.CodePolicyDenied, d.Message), nil
		case policy.Ask:
			if !s.cfg.PassAsk {
				if msg.Kind != jsonrpc.KindRequest {
					return nil, nil
				}
				return errorReply(msg, jsonrpc.CodeApprovalRequired, d.Message+
					"; approvals are turned off in this gateway (approval: {enabled: false}), so the call was refused"), nil
			}
		}
		if hit, err := s.cfg.Limiter.TakeContext(ctx, d.Limits); hit != nil {
			d.Effect, d.RuleID = policy.Deny, hit.RuleID
			d.Reason = fmt.Sprintf("rate limit %q: more than %d calls per %s", hit.RuleID, hit.Count, hit.Per)
			d.Message = hit.Message
			if d.Message == "" {
				d.Message = fmt.Sprintf("rate limit exceeded: at most %d calls per %s (rule %s); try again later", hit.Count, hit.Per, hit.RuleID)
			}
			if err != nil {
				// The shared counters cannot be read: refuse rather than let the limit lapse (fail closed).
				d.Reason = fmt.Sprintf("rate limit %q could not be checked: %v", hit.RuleID, err)
				d.Message = fmt.Sprintf("the gateway cannot check rate limit %s right now (its shared counters are unavailable), so the call was refused; try again later", hit.RuleID)
				s.log.Warn("rate limit counters unavailable; call refused", "rule", hit.RuleID, "err", err)
			}
			if msg.Kind != jsonrpc.KindRequest {
				return nil, nil
			}
			return errorReply(msg, jsonrpc.CodePolicyDenied, d.Message), nil
		}
		reply, err := next(ctx, x)
		if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult {
			return reply, err
		}
		s.learn(x, reply)
		if _, ok := policy.ListMethods[msg.Method]; ok {
			reply = s.filterList(ctx, x, pol, reply)
		}
		if len(d.Redactions) > 0 {
			if red, changed := policy.RedactJSON(reply.Result, d.Redactions); changed {
				if b, err := jsonrpc.NewResult(reply.ID, red); err == nil {
					reply = jsonrpc.MustDecode(b)
				}
			}
		}
		return reply, nil
	}
}

// input builds the policy input for an exchange.
func (s *policyStage) input(ctx context.Context, x *Exchange) *policy.Input {
	msg := x.Msg
	in := &policy.Input{Server: x.Server, Method: msg.Method, Name: msg.Name, Arguments: msg.Arguments, Meta: msg.Meta}
	p := x.Principal
	if p == nil {
		if cp, ok := identity.FromContext(ctx); ok {
			p = cp
		} else {
			p = identity.Local() // hook: until ③ identity runs everywhere, the principal is the OS user
		}
	}
	in.Principal = policy.Principal{User: p.Subject, Groups: p.Groups, Auth: p.AuthMethod, Claims: p.Claims, ID: p.ID(),
		Email: p.Email, Issuer: p.Issuer, Scopes: p.Scopes}
	if x.Session != nil {
		in.SessionID = x.Session.ID
		in.ClientName, in.ClientVersion = x.Session.Client()
	}
	in.Labels, in.SessionServers, in.Findings = x.SessionLabels, x.SessionServers, x.Findings
	if s.cfg.Labels != nil {
		in.Labels = append(slices.Clip(in.Labels), s.cfg.Labels(x)...)
	}
	if s.cfg.Findings != nil {
		in.Findings = append(slices.Clip(in.Findings), s.cfg.Findings(x)...)
	}
	if msg.Method == "tools/call" {
		in.Tool = s.tool(x.Server, msg.Name)
		if s.cfg.ToolLabels != nil {
			x.ToolLabels = s.cfg.ToolLabels(x.Server, msg.Name, in.Tool)
			in.ToolLabels = flow.Names(x.ToolLabels)
		}
	}
	return in
}

func (s *policyStage) serverTools(server string) *serverTools {
	v, _ := s.tools.LoadOrStore(server, &serverTools{byName: map[string]*policy.ToolDef{}, canon: map[string]*policy.ToolDef{}})
	return v.(*serverTools)
}

// tool returns the cached definition of a tool: by exact name, else by canonical name (a server that
// resolves names loosely runs that tool), else nil (unknown: treated as untrusted).
func (s *policyStage) tool(server, name string) *policy.ToolDef {
	st := s.serverTools(server)
	st.mu.RLock()
	defer st.mu.RUnlock()
	if t := st.byName[name]; t != nil {
		return t
	}
	return st.canon[policy.Canonical(name)]
}

// ensureTools fetches the server's tools/list through the rest of the chain when a call arrives before any
// list was seen, so that annotations and schemas inform the decision. Concurrent calls wait for the one
// fetch. A failure leaves the tool unknown (untrusted) and is retried after probeRetry.
func (s *policyStage) ensureTools(ctx context.Context, x *Exchange, next Handler) {
	st := s.serverTools(x.Server)
	st.mu.Lock()
	if st.listed || time.Now().Before(st.retryAt) {
		st.mu.Unlock()
		return
	}
	if wait := st.probing; wait != nil {
		st.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		return
	}
	done := make(chan struct{})
	st.probing = done
	st.mu.Unlock()
	ok := s.fetchTools(ctx, x, next)
	st.mu.Lock()
	st.probing = nil
	if !ok {
		st.retryAt = time.Now().Add(probeRetry)
	}
	st.mu.Unlock()
	close(done)
}

// fetchTools pages through tools/list, with the triggering request's protocol _meta (the 2026-07-28 era
// requires it on every request).
func (s *policyStage) fetchTools(ctx context.Context, x *Exchange, next Handler) bool {
	var meta map[string]json.RawMessage
	if len(x.Msg.Meta) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(x.Msg.Meta, &m) == nil {
			for k, v := range m {
				if strings.HasPrefix(k, "io.modelcontextprotocol/") {
					if meta == nil {
						meta = map[string]json.RawMessage{}
					}
					meta[k] = v
				}
			}
		}
	}
	cursor := ""
	for page := 0; page < 20; page++ {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		if meta != nil {
			params["_meta"] = meta
		}
		id := jsonrpc.StringID("mcpwarden-policy-" + strconv.FormatInt(s.seq.Add(1), 10))
		b, err := jsonrpc.NewRequest(id, "tools/list", params)
		if err != nil {
			return false
		}
		req := jsonrpc.MustDecode(b)
		lx := &Exchange{Session: x.Session, Server: x.Server, Direction: ClientToServer, Msg: req, Original: req, Principal: x.Principal}
		reply, err := next(ctx, lx)
		if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult {
			why := "no answer"
			switch {
			case err != nil:
				why = err.Error()
			case reply != nil && reply.Error != nil:
				why = reply.Error.Message
			}
			s.log.Warn("policy: could not fetch tools/list before a call; the tool is treated as untrusted", "server", x.Server, "err", why)
			return false
		}
		s.learn(lx, reply)
		var r struct {
			NextCursor string `json:"nextCursor"`
		}
		if json.Unmarshal(reply.Result, &r) != nil || r.NextCursor == "" || r.NextCursor == cursor {
			return true
		}
		cursor = r.NextCursor
	}
	return true
}

// learn caches the tool definitions of a tools/list result.
func (s *policyStage) learn(x *Exchange, reply *jsonrpc.Message) {
	if x.Msg.Method != "tools/list" {
		return
	}
	var r struct {
		Tools []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"inputSchema"`
			Annotations json.RawMessage `json:"annotations"`
		} `json:"tools"`
	}
	if json.Unmarshal(reply.Result, &r) != nil {
		return
	}
	st := s.serverTools(x.Server)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.listed = true
	for _, t := range r.Tools {
		def := &policy.ToolDef{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema, Annotations: t.Annotations,
			Trusted: s.cfg.Trusted != nil && s.cfg.Trusted(x.Server)}
		st.byName[t.Name] = def
		c := policy.Canonical(t.Name)
		if prev := st.canon[c]; prev == nil || prev.Name == t.Name {
			st.canon[c] = def
		}
	}
}

// filterList removes the items the caller cannot use from a list result.
func (s *policyStage) filterList(ctx context.Context, x *Exchange, pol *policy.Policy, reply *jsonrpc.Message) *jsonrpc.Message {
	lm := policy.ListMethods[x.Msg.Method]
	var r map[string]json.RawMessage
	if json.Unmarshal(reply.Result, &r) != nil {
		return reply
	}
	var items []json.RawMessage
	if json.Unmarshal(r[lm.Key], &items) != nil {
		return reply
	}
	base := s.input(ctx, x)
	kept := make([]json.RawMessage, 0, len(items))
	for _, item := range items {
		var f map[string]json.RawMessage
		var name string
		if json.Unmarshal(item, &f) != nil || json.Unmarshal(f[lm.Field], &name) != nil {
			continue // an item without a name cannot be governed: leave it out
		}
		in := *base
		in.Method, in.Name, in.Arguments, in.Meta = lm.CallMethod, name, nil, nil
		if lm.CallMethod == "tools/call" {
			in.Tool = s.tool(x.Server, name)
		}
		if pol.Visible(&in) {
			kept = append(kept, item)
		}
	}
	if len(kept) == len(items) {
		return reply
	}
	r[lm.Key], _ = json.Marshal(kept)
	b, err := jsonrpc.NewResult(reply.ID, r)
	if err != nil {
		return reply
	}
	return jsonrpc.MustDecode(b)
}

// unknownReply is the answer to a call to a hidden tool, prompt or resource: the same error an MCP server
// (go-sdk) gives for one that does not exist.
func unknownReply(msg *jsonrpc.Message) *jsonrpc.Message {
	switch msg.Method {
	case "tools/call":
		return errorReply(msg, jsonrpc.CodeInvalidParams, fmt.Sprintf("unknown tool %q", msg.Name))
	case "prompts/get":
		return errorReply(msg, jsonrpc.CodeInvalidParams, fmt.Sprintf("unknown prompt %q", msg.Name))
	default:
		data, _ := json.Marshal(map[string]string{"uri": msg.Name})
		// json.RawMessage: a []byte would be encoded as a base64 string, unlike the server's {"uri": …}.
		return jsonrpc.MustDecode(jsonrpc.NewErrorResponse(msg.ID, jsonrpc.CodeInvalidParams, "Resource not found", json.RawMessage(data)))
	}
}
