package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/inspect/flow"
	"github.com/mcpwarden/mcpwarden/internal/inspect/injection"
	"github.com/mcpwarden/mcpwarden/internal/inspect/pii"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// FlowStageConfig configures the data-flow stage adapter.
type FlowStageConfig struct {
	// Labeler labels tools (required).
	Labeler *flow.Labeler
	// Tracker holds each session's data-flow state (required).
	Tracker *flow.Tracker
	// Stateless holds the state of stateless (2026-07-28) requests, kept per principal; nil uses Tracker.
	// Its TTL is shorter: a principal's taint ends after a quiet spell, as a session's ends with it.
	Stateless *flow.Tracker
	// Guard runs the secret, PII and injection detectors (required). Guard.Monitor makes the whole stage
	// monitor-only: nothing is redacted or refused, session labels are recorded but not shown to policy,
	// and what would have happened is written to the audit trail and the log.
	Guard *flow.Guard
	// Rules returns the detector actions for a server's tool (nil: record only).
	Rules func(server, name string) flow.Rules
	// Approvals holds results whose rules say ask until a human releases them; nil (approvals off): such
	// results are withheld, as with block.
	Approvals *approval.Broker
	// Logger receives refusals and monitor-mode reports; nil discards.
	Logger *slog.Logger
}

type flowStage struct {
	cfg FlowStageConfig
	log *slog.Logger
}

// NewFlowStage returns the data-flow stage as a Middleware. It sits between ⑧ audit and ④ policy: before
// policy decides it shows policy the session's labels and servers and the detector findings of the call's
// arguments; when the result comes back (after ⑦ inspect, ⑤ approval and ④ policy had their say) it
// scans it, redacts or refuses it per the rules, and adds the tool's labels (and a taint, for a detected
// injection) to the session.
func NewFlowStage(cfg FlowStageConfig) (Middleware, error) {
	if cfg.Labeler == nil || cfg.Tracker == nil || cfg.Guard == nil {
		return nil, fmt.Errorf("flow stage: labeler, tracker and guard are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &flowStage{cfg: cfg, log: log}
	return s.middleware, nil
}

// flowMethods are the requests whose results bring data into a session.
var flowMethods = map[string]bool{"tools/call": true, "resources/read": true, "prompts/get": true}

// tracker returns the tracker that holds key's state.
func (s *flowStage) tracker(key string) *flow.Tracker {
	if strings.HasPrefix(key, "p:") && s.cfg.Stateless != nil {
		return s.cfg.Stateless
	}
	return s.cfg.Tracker
}

// flowKey is whose state a request belongs to: its session, or for stateless (2026-07-28) requests, which
// have none, its principal — so a stateless agent cannot shed its taint by not keeping a session.
func flowKey(x *Exchange) string {
	if x.Session != nil && x.Session.ID != "" {
		return "s:" + x.Session.ID
	}
	if x.Principal != nil {
		return "p:" + x.Principal.ID()
	}
	return ""
}

func (s *flowStage) middleware(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		msg := x.Msg
		if x.Direction == ServerToClient && msg.Kind == jsonrpc.KindRequest && serverAsks[msg.Method] {
			s.serverRequest(ctx, x)
			return next(ctx, x)
		}
		if x.Direction != ClientToServer || msg.Kind != jsonrpc.KindRequest || !flowMethods[msg.Method] {
			return next(ctx, x)
		}
		monitor := s.cfg.Guard.Monitor
		key := flowKey(x)
		tr := s.tracker(key)
		st, err := tr.StateContext(ctx, key)
		if err != nil {
			s.log.Error("dataflow: the shared session state cannot be read; refusing (fail closed)", "server", x.Server, "method", msg.Method, "err", err)
			return errorReply(msg, jsonrpc.CodePolicyDenied, "mcpwarden refused this request because the data-flow state of this session "+
				"(shared by the gateway's replicas) cannot be read, so it cannot tell what entered the session; nothing was forwarded. "+
				"The gateway's log has the cause; an operator should check the PostgreSQL database. Retry later"), nil
		}
		if !monitor {
			x.SessionLabels, x.SessionServers = st.Labels, st.Servers
		}
		var rules flow.Rules
		if s.cfg.Rules != nil {
			rules = s.cfg.Rules(x.Server, msg.Name)
		}

		// Arguments: findings for policy, and redaction or refusal when the rules say so.
		if msg.Method == "tools/call" && len(msg.Arguments) > 0 {
			v := s.cfg.Guard.Arguments(msg.Arguments, rules)
			x.Note(auditFindings(v.Findings, "arguments", monitor)...)
			x.Findings = append(x.Findings, v.Names...)
			if v.Block != "" {
				if monitor {
					s.log.Info("dataflow (monitor mode) would refuse a call", "server", x.Server, "tool", msg.Name, "why", v.Block)
				} else {
					s.log.Warn("dataflow: refused a call", "server", x.Server, "tool", msg.Name, "why", v.Block)
					return errorReply(msg, jsonrpc.CodePolicyDenied, "mcpwarden refused this call: "+v.Block+
						" (dataflow.arguments is block for this tool); nothing was forwarded. Remove them from the arguments, "+
						"or ask an administrator to change the dataflow rules"), nil
				}
			}
			if v.Redacted > 0 {
				if out, err := withArguments(msg, v.Payload); err == nil {
					x.Msg = out
					dropParamHeaders(x.Header)
				} else {
					return errorReply(msg, jsonrpc.CodePolicyDenied, "mcpwarden refused this call: its arguments carry secrets or personal "+
						"data that must be redacted, and the redacted request could not be built ("+err.Error()+")"), nil
				}
			}
		}

		// Private text copied into the arguments (whatever the tool): a finding for policy, with the source.
		if msg.Method == "tools/call" {
			if srcs := tr.CopiedFrom(key, msg.Params); len(srcs) > 0 { // arguments, _meta and any other field
				names := []string{"private_data"}
				var elsewhere []string
				for _, src := range srcs {
					if server, _, _ := strings.Cut(src, "."); server != x.Server {
						elsewhere = append(elsewhere, src)
						names = append(names, "private_data:"+server)
					}
				}
				msgText := "the arguments carry text read earlier in this session from " + strings.Join(srcs, ", ") + " (private)"
				sev := "medium"
				if len(elsewhere) > 0 {
					names = append(names, "private_data_elsewhere")
					msgText += ", sent to another server (" + x.Server + ")"
					sev = "high"
				}
				if monitor {
					msgText = "monitor: " + msgText
				} else {
					x.Findings = append(x.Findings, names...)
				}
				x.Note(audit.Finding{Detector: "dataflow:private-data", Severity: sev, Message: msgText, Path: "arguments"})
			}
		}

		reply, err := next(ctx, x)

		// A refusal that the session's flow explains: record how the labels entered the session.
		if d := x.Decision; d != nil && len(st.Labels) > 0 && d.Effect != policy.Allow && d.RuleID != "" {
			if why := tr.Explain(key); why != "" {
				x.Note(audit.Finding{Detector: "dataflow", Severity: "high", Message: "session flow before this call: " + why,
					Path: "rule " + d.RuleID})
			}
		}
		if monitor {
			s.monitorFlow(x, key, st)
		}
		if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult {
			return reply, err
		}

		// The result: detectors, then what it brings into the session.
		v := s.cfg.Guard.Result(ctx, reply.Result, rules)
		x.Note(auditFindings(v.Findings, "result", monitor)...)
		if !slices.ContainsFunc(v.Findings, func(f flow.Finding) bool { return f.Detector == "secrets" || f.Detector == "pii" }) {
			// Nothing for the audit trail's redaction either: ⑧ audit stores this result without scanning it
			// again (a result rewritten below is a new payload and is scanned as usual).
			x.markScanned(reply.Result)
		}
		var events []flow.Event
		labels := x.ToolLabels
		if msg.Method != "tools/call" || labels == nil {
			labels = s.cfg.Labeler.Tool(x.Server, toolName(msg), nil)
		}
		for _, a := range labels {
			events = append(events, flow.Event{Label: a.Label, Server: x.Server, Name: msg.Name, Why: a.Source + ": " + a.Why, Ref: x.AuditRef()})
			if a.Label == flow.Private {
				// What the agent saw of a private source (after redaction), to recognise it in later arguments.
				tr.AddPrivate(key, x.Server+"."+msg.Name, v.Payload)
			}
		}
		if v.Taint {
			events = append(events, flow.Event{Label: flow.Tainted, Server: x.Server, Name: msg.Name,
				Why: "prompt injection in the result: " + v.Injection.Summary(), Ref: x.AuditRef()})
		}
		if err := tr.RecordContext(context.WithoutCancel(ctx), key, x.Server, events, v.Names); err != nil {
			// The other replicas would not learn what entered the session (a taint could be shed by moving to
			// another replica): the result is withheld.
			s.log.Error("dataflow: the shared session state cannot be written; withholding the result (fail closed)", "server", x.Server,
				"method", msg.Method, "err", err)
			return errorReply(msg, jsonrpc.CodePolicyDenied, "mcpwarden withheld the result of this call because it could not record "+
				"what the result brings into this session (the data-flow state shared by the gateway's replicas cannot be written). "+
				"The call itself ran on the server. An operator should check the PostgreSQL database"), nil
		}
		if v.Block != "" {
			if monitor {
				s.log.Info("dataflow (monitor mode) would withhold a result", "server", x.Server, "method", msg.Method, "name", msg.Name, "why", v.Block)
			} else {
				s.log.Warn("dataflow: withheld a result", "server", x.Server, "method", msg.Method, "name", msg.Name, "why", v.Block)
				return errorReply(msg, jsonrpc.CodePolicyDenied, "mcpwarden withheld the result of this call: "+v.Block+
					" (the dataflow rules block it for this tool). The call itself ran on the server; ask an administrator "+
					"if this data should reach the agent"), nil
			}
		}
		if v.Ask != "" && !monitor {
			if refusal := s.release(ctx, x, v.Ask); refusal != nil {
				return refusal, nil
			}
		} else if v.Ask != "" {
			s.log.Info("dataflow (monitor mode) would hold a result for a human", "server", x.Server, "method", msg.Method, "name", msg.Name, "why", v.Ask)
		}
		if v.Redacted > 0 {
			b, err := jsonrpc.NewResult(reply.ID, v.Payload)
			if err != nil {
				return errorReply(msg, jsonrpc.CodePolicyDenied, "mcpwarden withheld the result of this call: it carries secrets or "+
					"personal data that must be redacted, and the redacted result could not be built"), nil
			}
			s.log.Info("dataflow: redacted a result", "server", x.Server, "method", msg.Method, "name", msg.Name, "redactions", v.Redacted)
			reply = jsonrpc.MustDecode(b)
		}
		return reply, nil
	}
}

// release holds a result until a human releases it through the gateway's approvals (dataflow action ask):
// nil lets the result through, otherwise the reply withholds it. A grant covering the call (e.g. "this tool
// for this session") releases it at once.
func (s *flowStage) release(ctx context.Context, x *Exchange, why string) *jsonrpc.Message {
	msg := x.Msg
	withheld := func(text string) *jsonrpc.Message {
		return errorReply(msg, jsonrpc.CodePolicyDenied, "mcpwarden withheld the result of this call: "+why+"; "+text+
			" The call itself ran on the server.")
	}
	if s.cfg.Approvals == nil {
		return withheld("the dataflow rules ask a human to release such results, and approvals are turned off in this gateway.")
	}
	call := approval.Call{Server: x.Server, Method: msg.Method, Tool: msg.Name, Arguments: msg.Arguments, Rule: "dataflow-result",
		Reason: why, Message: why + "; release the result to the agent?", Release: true}
	if p := x.Principal; p != nil {
		call.Principal, call.User, call.Groups = p.ID(), p.Subject, p.Groups
	}
	if x.Session != nil {
		call.SessionID = x.Session.ID
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if g, err := s.cfg.Approvals.Check(wctx, call); err != nil {
		return withheld("the approval store could not be read (" + err.Error() + ").")
	} else if g != nil {
		x.SetApproval(&audit.Approval{ID: g.ApprovalID, Approver: g.GrantedBy, Outcome: "grant:" + string(g.Scope) + ":" + g.ID})
		return nil
	}
	a, err := s.cfg.Approvals.Park(wctx, call)
	if err != nil {
		return withheld("it could not be parked for approval (" + err.Error() + ").")
	}
	s.log.Info("dataflow: holding a result until a human releases it", "server", x.Server, "name", msg.Name, "approval", a.ID, "why", why)
	out, err := s.cfg.Approvals.Await(ctx, a, nil, nil)
	switch {
	case err != nil:
		x.SetApproval(&audit.Approval{ID: a.ID, Outcome: "abandoned"})
		return withheld("approval " + a.ID + " was not decided before the client went away.")
	case out.Result == approval.Approved || out.Result == approval.AllowedOnTimeout:
		x.SetApproval(&audit.Approval{ID: a.ID, Approver: out.Approval.DecidedBy, Outcome: "released:" + string(out.Approval.Scope)})
		return nil
	case out.Result == approval.Denied:
		x.SetApproval(&audit.Approval{ID: a.ID, Approver: out.Approval.DecidedBy, Outcome: "denied"})
		return withheld("approval " + a.ID + " was denied by " + out.Approval.DecidedBy + ".")
	case out.Result == approval.Spent:
		x.SetApproval(&audit.Approval{ID: a.ID, Approver: out.Approval.DecidedBy, Outcome: "spent"})
		return withheld("approval " + a.ID + " was approved, but its grant was already used, revoked or has expired; make the call again.")
	default:
		x.SetApproval(&audit.Approval{ID: a.ID, Outcome: "timed_out"})
		return withheld("approval " + a.ID + " was not decided in time; an approver can release it with `mcpwarden approvals approve " +
			a.ID + "`, then make the call again.")
	}
}

// serverAsks are the server→client requests whose text reaches the client's model or user.
var serverAsks = map[string]bool{"sampling/createMessage": true, "elicitation/create": true}

// serverRequest scans what an upstream asks the client's model (sampling) or user (elicitation) for prompt
// injection: it reaches the model as surely as a tool result does, so a detected injection taints the
// session the same way. The request itself is forwarded (the client and its user decide on it).
func (s *flowStage) serverRequest(ctx context.Context, x *Exchange) {
	rep := injection.ScanJSON(x.Msg.Params)
	if rep.Level < injection.Medium {
		return
	}
	monitor := s.cfg.Guard.Monitor
	m := "possible prompt injection in " + x.Msg.Method + " from " + x.Server + " (score " + fmt.Sprint(rep.Score) + "): " + rep.Summary()
	if monitor {
		m = "monitor: " + m
	}
	x.Note(audit.Finding{Detector: "injection", Severity: rep.Level.String(), Message: m, Path: "params"})
	if rep.Level < injection.LevelBlock {
		return
	}
	key := flowKey(x)
	ev := flow.Event{Label: flow.Tainted, Server: x.Server, Name: x.Msg.Method, Why: "prompt injection in the request: " + rep.Summary()}
	if err := s.tracker(key).RecordContext(context.WithoutCancel(ctx), key, x.Server, []flow.Event{ev}, []string{"injection"}); err != nil {
		s.log.Error("dataflow: could not record a taint in the shared session state", "server", x.Server, "method", x.Msg.Method, "err", err)
	}
}

// monitorFlow reports, in monitor mode, the toxic flows the shipped policy would have stopped.
func (s *flowStage) monitorFlow(x *Exchange, key string, st flow.State) {
	if !slices.ContainsFunc(x.ToolLabels, func(a flow.Assigned) bool { return a.Label == flow.Sink }) {
		return
	}
	var what string
	switch {
	case slices.Contains(st.Labels, flow.Tainted):
		what = "a call to a sink after a detected prompt injection (default-deny-tainted-sink would deny it)"
	case slices.Contains(st.Labels, flow.Untrusted) && slices.Contains(st.Labels, flow.Private):
		what = "a lethal-trifecta flow (default-ask-lethal-trifecta would ask)"
	default:
		return
	}
	why := s.tracker(key).Explain(key)
	s.log.Info("dataflow (monitor mode): "+what, "server", x.Server, "tool", x.Msg.Name, "session_flow", why)
	x.Note(audit.Finding{Detector: "dataflow", Severity: "high", Message: "monitor: " + what + "; session flow: " + why})
}

// toolName is the tool name of a tools/call ("" for resources and prompts: they carry the server's labels).
func toolName(msg *jsonrpc.Message) string {
	if msg.Method == "tools/call" {
		return msg.Name
	}
	return ""
}

func auditFindings(fs []flow.Finding, where string, monitor bool) []audit.Finding {
	out := make([]audit.Finding, 0, len(fs))
	for _, f := range fs {
		m := f.Message
		if monitor {
			m = "monitor: " + m
		}
		p := where
		if f.Path != "" {
			p += " " + f.Path
		}
		out = append(out, audit.Finding{Detector: f.Detector + ":" + f.Rule, Severity: f.Severity, Message: m, Path: p})
	}
	return out
}

// withArguments returns msg with params.arguments replaced.
func withArguments(msg *jsonrpc.Message, args json.RawMessage) (*jsonrpc.Message, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(msg.Params, &p); err != nil || p == nil {
		return nil, fmt.Errorf("params must be an object")
	}
	p["arguments"] = args
	b, err := jsonrpc.NewRequest(msg.ID, msg.Method, p)
	if err != nil {
		return nil, err
	}
	return jsonrpc.Decode(b)
}

// dropParamHeaders removes the 2026-07-28 Mcp-Param-* headers, which mirror arguments: after a redaction
// they could still carry the redacted values.
func dropParamHeaders(h http.Header) {
	for k := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "Mcp-Param-") {
			delete(h, k)
		}
	}
}

// statelessFlowTTL is how long a principal's data-flow state lives without calls when its requests are
// stateless (2026-07-28): there is no session end to clear it.
const statelessFlowTTL = time.Hour

// buildFlow builds the data-flow stage's configuration and the tool labeller policy uses from the config
// (dataflow: and servers[].labels / tool_labels); BuildStages adds the approvals and makes the stage. With
// shared non-nil (replicas sharing PostgreSQL, cluster: configured), the session state is shared too.
func buildFlow(cfg *config.Config, shared flow.Shared, log *slog.Logger) (FlowStageConfig, func(server, name string, def *policy.ToolDef) []flow.Assigned, error) {
	df := cfg.DataFlow
	if df == nil {
		df = &config.DataFlow{}
	}
	lab := &flow.Labeler{Servers: map[string]flow.ServerLabels{}, NoHeuristics: df.Heuristics != nil && !*df.Heuristics}
	for _, sc := range cfg.Servers {
		if len(sc.Labels) > 0 || len(sc.ToolLabels) > 0 {
			lab.Servers[sc.Name] = flow.ServerLabels{Labels: sc.Labels, Tools: sc.ToolLabels}
		}
	}
	minConf := piiConfidence(df.PIIConfidence)
	guard := &flow.Guard{Monitor: df.Mode == "monitor"}
	if c := df.Classifier; c != nil {
		cl, err := injection.NewHTTPClassifier(injection.HTTPClassifierConfig{URL: c.URL, Timeout: c.Timeout.D(), FailMode: injection.FailMode(c.Fail)})
		if err != nil {
			return FlowStageConfig{}, nil, fmt.Errorf("dataflow.classifier: %w", err)
		}
		guard.Classifier, guard.ClassifierTimeout, guard.ClassifierFailOpen = cl, c.Timeout.D(), c.Fail == "open"
	}
	rulesOf := func(r config.DataFlowRules, base flow.Rules) flow.Rules {
		set := func(dst *flow.Action, v string) {
			if v != "" {
				*dst = flow.Action(v)
			}
		}
		set(&base.Secrets, r.Secrets)
		set(&base.PII, r.PII)
		set(&base.Injection, r.Injection)
		set(&base.Arguments, r.Arguments)
		return base
	}
	def := rulesOf(df.DataFlowRules, flow.Rules{Secrets: flow.Redact, PII: flow.Redact, Injection: flow.Taint, Arguments: flow.Allow, PIIMin: minConf})
	overrides := df.Overrides
	rules := func(server, name string) flow.Rules {
		for _, o := range overrides {
			if globAny(o.Servers, server) && globAny(o.Tools, name) {
				return rulesOf(o.DataFlowRules, def)
			}
		}
		return def
	}
	fc := FlowStageConfig{Labeler: lab, Tracker: &flow.Tracker{Shared: shared},
		Stateless: &flow.Tracker{Shared: shared, TTL: statelessFlowTTL}, Guard: guard, Rules: rules, Logger: log}
	toolLabels := func(server, name string, t *policy.ToolDef) []flow.Assigned {
		var ann json.RawMessage
		if t != nil {
			ann = t.Annotations
		}
		return lab.Tool(server, name, ann)
	}
	return fc, toolLabels, nil
}

// globAny reports whether name matches one of the patterns (an empty list matches everything).
func globAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// piiConfidence parses dataflow.pii_confidence (default high).
func piiConfidence(s string) pii.Confidence {
	switch s {
	case "low":
		return pii.Low
	case "medium":
		return pii.Medium
	}
	return pii.High
}
