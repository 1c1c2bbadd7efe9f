package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/metrics"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// ApprovalStageConfig configures the approval stage adapter (⑤).
type ApprovalStageConfig struct {
	// Broker parks calls and matches grants (required).
	Broker *approval.Broker
	// Annotate records the approval (id, approver, outcome) in the exchange's audit records. Set it only when
	// the audit stage runs: the annotation is held until the audit stage collects it.
	Annotate bool
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics counts approval outcomes and the calls parked for a human; nil: none.
	Metrics *metrics.Metrics
}

// NewApprovalStage returns the approval stage: a request the policy stage passed down with an ask decision
// goes through when an active grant covers it (the use is recorded); otherwise it is parked as a pending
// approval and the client's request stays open until an approver decides (in any process sharing the
// store), the timeout passes, or the client goes away. While parked, a 2025-era request that carried a
// progressToken receives progress notifications as keep-alive, and a client that declared the elicitation
// capability is asked in-band when the rule allows self-approval (see ClientPeer).
func NewApprovalStage(cfg ApprovalStageConfig) (Middleware, error) {
	if cfg.Broker == nil {
		return nil, fmt.Errorf("approval stage: no broker")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &approvalStage{cfg: cfg, log: log}
	return s.middleware, nil
}

type approvalStage struct {
	cfg ApprovalStageConfig
	log *slog.Logger
}

func (s *approvalStage) note(x *Exchange, n *audit.Approval) {
	s.cfg.Metrics.Approval(n.Outcome)
	if s.cfg.Annotate {
		x.SetApproval(n)
	}
}

func (s *approvalStage) middleware(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		d := x.Decision
		if d == nil || d.Effect != policy.Ask || d.Monitor || x.Direction != ClientToServer || x.Msg.Kind.IsResponse() {
			return next(ctx, x)
		}
		msg := x.Msg
		if msg.Kind != jsonrpc.KindRequest {
			return nil, nil // a notification cannot wait for a human: dropped, as the policy stage does
		}
		x.forgetPins() // the call may wait: ⑦ inspect reads its pins again when it goes on
		call := s.call(x, d)
		if d.Message == "" {
			d.Message = "this call needs a human approval"
		}
		// A 2026-07-28 client retrying after the gateway's own input_required question (see inputRequired).
		if id, answer, ok := ownRetry(msg); ok {
			return s.resumeInBand(ctx, x, d, call, id, answer, next)
		}
		// Approval writes outlive a disconnecting client (its trail must not vanish with it).
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		g, err := s.cfg.Broker.Check(wctx, call)
		cancel()
		if err != nil {
			s.log.Error("approval: could not look up grants; refusing the call", "server", x.Server, "tool", msg.Name, "err", err)
			return errorReply(msg, jsonrpc.CodeApprovalRequired, d.Message+"; the approval store could not be read ("+err.Error()+
				"), so the call was refused. Check the database (data_dir or audit.postgres_dsn) and retry"), nil
		}
		if g != nil {
			s.note(x, &audit.Approval{ID: g.ApprovalID, Approver: g.GrantedBy, Outcome: "grant:" + string(g.Scope) + ":" + g.ID})
			return next(ctx, x)
		}
		// A call is parked only once its request is recorded (an unrecorded one is refused, not parked).
		if refusal := x.auditCommitted(); refusal != nil {
			return refusal, nil
		}
		wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		a, err := s.cfg.Broker.Park(wctx, call)
		cancel()
		if err != nil {
			s.log.Error("approval: could not park the call; refusing it", "server", x.Server, "tool", msg.Name, "err", err)
			return errorReply(msg, jsonrpc.CodeApprovalRequired, d.Message+"; the call could not be parked for approval ("+err.Error()+
				"), so it was refused. Check the database (data_dir or audit.postgres_dsn) and retry"), nil
		}
		if s.canAskInBandMRTR(x, a) {
			// 2026-07-28: no server→client requests; the question goes back as an input_required result and
			// the client's retry carries the answer. The approval stays pending meanwhile (and can be decided
			// out of band).
			s.note(x, &audit.Approval{ID: a.ID, Outcome: "asked_in_band"})
			return inputRequired(msg, a, call), nil
		}
		return s.await(ctx, x, d, a, call, next)
	}
}

// await waits for the decision on a parked call, with keep-alive and in-band questions where the client
// allows them, and answers or forwards the call accordingly.
func (s *approvalStage) await(ctx context.Context, x *Exchange, d *policy.Decision, a *approval.Approval, call approval.Call, next Handler) (*jsonrpc.Message, error) {
	msg := x.Msg
	peer, _ := ctx.Value(clientPeerKey{}).(ClientPeer)
	tick := s.keepAlive(ctx, x, peer, a)
	ectx, stopElicit := context.WithCancel(ctx)
	decided, elicitDone := s.elicit(ectx, x, peer, a, call)
	s.cfg.Metrics.Waiting(1)
	out, err := s.cfg.Broker.Await(ctx, a, decided, tick)
	s.cfg.Metrics.Waiting(-1)
	stopElicit()
	<-elicitDone
	if err != nil {
		if ctx.Err() != nil {
			s.note(x, &audit.Approval{ID: a.ID, Outcome: "abandoned"})
			return nil, nil // the client went away; the approval stays pending for a retry
		}
		return nil, fmt.Errorf("approval %s: %w", a.ID, err)
	}
	cur := out.Approval
	switch out.Result {
	case approval.Approved:
		n := &audit.Approval{ID: a.ID, Approver: cur.DecidedBy, Outcome: "approved:" + string(cur.Scope)}
		if out.Grant != nil {
			n.Outcome += ":" + out.Grant.ID
		}
		s.note(x, n)
		return next(ctx, x)
	case approval.Denied:
		s.note(x, &audit.Approval{ID: a.ID, Approver: cur.DecidedBy, Outcome: "denied"})
		why := cur.Reason
		if why == "" {
			why = "no reason given"
		}
		return errorReply(msg, jsonrpc.CodePolicyDenied, fmt.Sprintf("approval %s was denied by %s: %s; the call was not forwarded",
			a.ID, cur.DecidedBy, why)), nil
	case approval.AllowedOnTimeout:
		s.note(x, &audit.Approval{ID: a.ID, Outcome: "allowed_on_timeout"})
		return next(ctx, x)
	case approval.Spent:
		s.note(x, &audit.Approval{ID: a.ID, Approver: cur.DecidedBy, Outcome: "spent"})
		return errorReply(msg, jsonrpc.CodeApprovalRequired, fmt.Sprintf("%s: approval %s was approved by %s, but its grant %s was "+
			"already used, revoked or has expired, so it releases no further call; make the call again to ask for a new approval",
			d.Message, a.ID, cur.DecidedBy, cur.GrantID)), nil
	default:
		s.note(x, &audit.Approval{ID: a.ID, Outcome: "timed_out"})
		return errorReply(msg, jsonrpc.CodeApprovalRequired, fmt.Sprintf(
			"%s: approval %s was not decided within %s, so the call was refused. Ask an approver to run "+
				"`mcpwarden approvals approve %s` (until %s), then make the identical call again: it will pass through the grant",
			d.Message, a.ID, out.Timeout, a.ID, a.Expires.Format(time.RFC3339))), nil
	}
}

// inBandKey names the gateway's own entry in inputRequests/inputResponses, and stateInBand prefixes its
// requestState (the approval id follows). Upstream requestState values are never touched.
const (
	inBandKey   = "mcpwarden-approval"
	stateInBand = "mcpwarden-approval:"
)

// canAskInBandMRTR reports whether a parked call can be put to its own caller as an input_required result:
// a 2026-07-28 request, a rule that lets this caller approve in-band (CallerMayApproveInBand), and a client that declared
// the elicitation capability in the request's _meta.
func (s *approvalStage) canAskInBandMRTR(x *Exchange, a *approval.Approval) bool {
	if !a.CallerMayApproveInBand() {
		return false
	}
	m := x.Original
	if m == nil {
		m = x.Msg
	}
	if m.ProtocolVersion < "2026-07-28" || len(m.Meta) == 0 {
		return false
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(m.Meta, &meta) != nil {
		return false
	}
	var caps map[string]json.RawMessage
	if json.Unmarshal(meta["io.modelcontextprotocol/clientCapabilities"], &caps) != nil {
		return false
	}
	_, ok := caps["elicitation"]
	return ok
}

// inputRequired is the 2026-07-28 multi-round-trip answer that asks the caller to approve its own call.
func inputRequired(msg *jsonrpc.Message, a *approval.Approval, call approval.Call) *jsonrpc.Message {
	b, err := jsonrpc.NewResult(msg.ID, map[string]any{
		"resultType": "input_required",
		"inputRequests": map[string]any{inBandKey: map[string]any{
			"method": "elicitation/create",
			"params": map[string]any{
				"message":         fmt.Sprintf("mcpwarden: approve %s on %s? %s (approval %s)", call.Tool, call.Server, call.Message, a.ID),
				"requestedSchema": elicitationSchema,
			},
		}},
		"requestState": stateInBand + a.ID,
	})
	if err != nil {
		return errorReply(msg, jsonrpc.CodeApprovalRequired, call.Message+" (approval "+a.ID+")")
	}
	return jsonrpc.MustDecode(b)
}

// ownRetry recognises a retry that answers the gateway's own input_required question: params.requestState
// is the gateway's, and the answer is params.inputResponses[inBandKey] (nil when absent).
func ownRetry(msg *jsonrpc.Message) (id string, answer json.RawMessage, ok bool) {
	if !bytes.Contains(msg.Params, []byte(stateInBand)) {
		return "", nil, false
	}
	var p struct {
		RequestState   string                     `json:"requestState"`
		InputResponses map[string]json.RawMessage `json:"inputResponses"`
	}
	if json.Unmarshal(msg.Params, &p) != nil || !strings.HasPrefix(p.RequestState, stateInBand) {
		return "", nil, false
	}
	return strings.TrimPrefix(p.RequestState, stateInBand), p.InputResponses[inBandKey], true
}

// withoutInBandState removes the gateway's requestState and input response from a retried request, so the
// upstream sees the call as the client first made it.
func withoutInBandState(msg *jsonrpc.Message) (*jsonrpc.Message, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(msg.Params, &p); err != nil || p == nil {
		return nil, fmt.Errorf("params must be an object")
	}
	delete(p, "requestState")
	var rs map[string]json.RawMessage
	if json.Unmarshal(p["inputResponses"], &rs) == nil {
		delete(rs, inBandKey)
		if len(rs) == 0 {
			delete(p, "inputResponses")
		} else {
			p["inputResponses"], _ = json.Marshal(rs)
		}
	}
	b, err := jsonrpc.NewRequest(msg.ID, msg.Method, p)
	if err != nil {
		return nil, err
	}
	return jsonrpc.Decode(b)
}

// resumeInBand handles the retry of a call the gateway put to its caller as input_required: the answer is
// recorded as the caller's decision (the store enforces the rule's self-approval and four-eyes settings
// again), and the call then proceeds as that decision says — or, when the caller gave no usable answer,
// waits for an out-of-band decision like any parked call.
func (s *approvalStage) resumeInBand(ctx context.Context, x *Exchange, d *policy.Decision, call approval.Call, id string, answer json.RawMessage, next Handler) (*jsonrpc.Message, error) {
	msg := x.Msg
	st := s.cfg.Broker.Store()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	a, err := st.Get(wctx, id)
	if err != nil || a == nil || !sameCall(a.Call, call) {
		// Not this caller's question about this very call: a forged or stale state gets a fresh approval.
		s.log.Warn("approval: a retry carried an approval state that does not match the call; asking anew", "approval", id, "server", x.Server, "tool", msg.Name)
		return errorReply(msg, jsonrpc.CodeInvalidParams, "requestState "+strconv.Quote(stateInBand+id)+
			" does not belong to this call; make the call again without requestState and inputResponses"), nil
	}
	stripped, err := withoutInBandState(msg)
	if err != nil {
		return errorReply(msg, jsonrpc.CodeInvalidParams, "the retried request could not be read: "+err.Error()), nil
	}
	x.Msg = stripped
	if a.Status == approval.StatusApproved {
		// Already approved: the decision released its own call (or is waiting for this retry), and releases a
		// call only through its grant. The retry goes the way of any call, so a grant decides it — one that
		// covers this very call (its session too) and has a use left — or it is asked anew: a requestState
		// replayed after a once grant was used, revoked or expired releases nothing.
		return s.middleware(next)(ctx, x)
	}
	if a.Status == approval.StatusPending && len(answer) > 0 {
		var r struct {
			Action  string `json:"action"`
			Content struct {
				Approve *bool `json:"approve"`
			} `json:"content"`
		}
		if json.Unmarshal(answer, &r) == nil {
			by := approval.Approver{ID: call.Principal, User: call.User, Groups: call.Groups, InBand: true}
			var dec *approval.Decision
			switch {
			case r.Action == "accept" && r.Content.Approve != nil && *r.Content.Approve:
				dec = &approval.Decision{Approve: true, By: by, Scope: approval.ScopeOnce, Reason: "approved in-band by the caller"}
			case r.Action == "accept" || r.Action == "decline":
				dec = &approval.Decision{By: by, Reason: "declined in-band by the caller"}
			}
			if dec != nil {
				if _, _, err := st.Decide(wctx, a.ID, *dec); err != nil {
					s.log.Info("approval: in-band decision not recorded", "approval", a.ID, "err", err)
				}
			}
		}
	}
	return s.await(ctx, x, d, a, call, next)
}

// sameCall reports whether a retried call is the one an approval was created for: same caller, server,
// method, tool and arguments. Arguments are compared as grants compare them (canonical JSON that keeps every
// number as written), not as float64 values: 9007199254740993 is not 9007199254740992 to a server, nor
// 1.0 always 1, and the approver saw only the call's own.
func sameCall(a, b approval.Call) bool {
	if a.Principal != b.Principal || a.Server != b.Server || a.Method != b.Method || a.Tool != b.Tool {
		return false
	}
	return a.ArgsHash() == b.ArgsHash()
}

// call describes the exchange for the approval store.
func (s *approvalStage) call(x *Exchange, d *policy.Decision) approval.Call {
	c := approval.Call{Server: x.Server, Method: x.Msg.Method, Tool: x.Msg.Name, Arguments: x.Msg.Arguments,
		Rule: d.RuleID, Reason: d.Reason, Message: d.Message}
	if p := x.Principal; p != nil {
		c.Principal, c.User, c.Groups = p.ID(), p.Subject, p.Groups
	}
	if x.Session != nil {
		c.SessionID = x.Session.ID
	}
	return c
}

// ClientPeer lets the approval stage talk to the client whose request is parked. The gateway puts one in
// the request's context (WithClientPeer) for 2025-era sessions; without one, no keep-alive or in-band
// approval is attempted.
type ClientPeer interface {
	// Notify sends a notification to the client, related to the request being handled.
	Notify(ctx context.Context, msg *jsonrpc.Message) error
	// Call sends a request to the client and waits for its answer. It fails for clients that cannot
	// receive requests (2026 era).
	Call(ctx context.Context, msg *jsonrpc.Message) (*jsonrpc.Message, error)
}

type clientPeerKey struct{}

// WithClientPeer returns ctx carrying p for the approval stage.
func WithClientPeer(ctx context.Context, p ClientPeer) context.Context {
	return context.WithValue(ctx, clientPeerKey{}, p)
}

// keepAlive returns the tick that sends progress notifications while the call is parked, or nil when the
// request carried no progressToken or there is no peer.
func (s *approvalStage) keepAlive(ctx context.Context, x *Exchange, peer ClientPeer, a *approval.Approval) func() {
	if peer == nil || len(x.Msg.Meta) == 0 {
		return nil
	}
	var meta struct {
		ProgressToken json.RawMessage `json:"progressToken"`
	}
	if json.Unmarshal(x.Msg.Meta, &meta) != nil || len(meta.ProgressToken) == 0 || string(meta.ProgressToken) == "null" {
		return nil
	}
	n := 0
	return func() {
		n++
		b, err := jsonrpc.NewNotification("notifications/progress", map[string]any{
			"progressToken": meta.ProgressToken, "progress": n,
			"message": "waiting for a human to approve (approval " + a.ID + ")",
		})
		if err != nil {
			return
		}
		if err := peer.Notify(ctx, jsonrpc.MustDecode(b)); err != nil {
			s.log.Debug("approval: keep-alive progress not delivered", "approval", a.ID, "err", err)
		}
	}
}

// elicitation is the schema of the in-band approval question: one boolean.
var elicitationSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"approve": map[string]any{"type": "boolean", "title": "Approve this call", "description": "true runs the call once; false denies it"},
	},
	"required": []string{"approve"},
}

// elicit asks the calling client in-band (an elicitation/create request) to approve its own call, when the
// rule permits self-approval, the session is 2025-era and the client declared the elicitation capability.
// The answer is recorded through the store like any decision (the store enforces the rule again). The
// returned channel is closed once a decision was recorded; done is closed when the question has ended
// (answered, refused, or ctx ended).
func (s *approvalStage) elicit(ctx context.Context, x *Exchange, peer ClientPeer, a *approval.Approval, call approval.Call) (decided, done chan struct{}) {
	decided, done = make(chan struct{}), make(chan struct{})
	if peer == nil || !a.CallerMayApproveInBand() || x.Session == nil || !x.Session.HasCapability("elicitation") {
		close(done)
		return decided, done
	}
	go func() {
		defer close(done)
		id := jsonrpc.StringID("mcpwarden-approval-" + a.ID)
		b, err := jsonrpc.NewRequest(id, "elicitation/create", map[string]any{
			"message":         fmt.Sprintf("mcpwarden: approve %s on %s? %s (approval %s)", call.Tool, call.Server, call.Message, a.ID),
			"requestedSchema": elicitationSchema,
		})
		if err != nil {
			return
		}
		reply, err := peer.Call(ctx, jsonrpc.MustDecode(b))
		if ctx.Err() != nil {
			// Decided elsewhere (or the caller left) before the client answered: withdraw the question.
			if nb, err := jsonrpc.NewNotification("notifications/cancelled", map[string]any{"requestId": json.RawMessage(id),
				"reason": "the approval was decided out of band"}); err == nil {
				nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				_ = peer.Notify(nctx, jsonrpc.MustDecode(nb))
				cancel()
			}
			return
		}
		if err != nil || reply == nil || reply.Kind != jsonrpc.KindResult {
			return // no in-band answer: the approval waits for an out-of-band decision
		}
		var r struct {
			Action  string `json:"action"`
			Content struct {
				Approve *bool `json:"approve"`
			} `json:"content"`
		}
		if json.Unmarshal(reply.Result, &r) != nil {
			return
		}
		by := approval.Approver{ID: call.Principal, User: call.User, Groups: call.Groups, InBand: true}
		var dec approval.Decision
		switch {
		case r.Action == "accept" && r.Content.Approve != nil && *r.Content.Approve:
			dec = approval.Decision{Approve: true, By: by, Scope: approval.ScopeOnce, Reason: "approved in-band by the caller"}
		case r.Action == "accept" || r.Action == "decline":
			dec = approval.Decision{By: by, Reason: "declined in-band by the caller"}
		default:
			return // cancelled: leave it to an out-of-band approver
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, _, err := s.cfg.Broker.Store().Decide(wctx, a.ID, dec); err != nil {
			s.log.Info("approval: in-band decision not recorded", "approval", a.ID, "err", err)
			return
		}
		close(decided)
	}()
	return decided, done
}
