// Package gateway wires the stages of mcpwarden's data path together. chain.go is the data path: read it top
// to bottom to follow one JSON-RPC message from a client to an upstream server and back.
//
//	client ─▶ ① transport  (internal/transport: stdio | Streamable HTTP, both eras; Origin/Host; size limits)
//	       ─▶ ② session    (internal/session: session id, era, negotiated version, client capabilities)
//	       ─▶ ③ identity   (who the principal is)                      Stages.Identity
//	       ─▶   metrics    (count the request by its final outcome)    Stages.Metrics
//	       ─▶ ⑧ audit      (record before forwarding; wraps the rest)  Stages.Audit
//	       ─▶ ⑦ flow       (data flow: session labels and argument     Stages.Flow
//	                        detectors before policy; result secrets,
//	                        PII and injection, and taint, after)
//	       ─▶ ④ policy     (allow | deny | ask | redact)               Stages.Policy
//	       ─▶ ⑤ approval   (park on ask)                               Stages.Approval
//	       ─▶ ⑦ inspect    (pins, scanners, taint — on the response)   Stages.Inspect
//	       ─▶ ⑥ upstream   (internal/upstream: process/HTTP, id mapping, timeouts, restarts)
//
// Server→client traffic (sampling, elicitation, roots, notifications, progress) takes the shorter chain
// ⑧ audit ─▶ ⑦ flow ─▶ ⑦ inspect ─▶ client.
//
// Every stage is a Middleware; a nil stage passes messages through unchanged. A stage that refuses a message
// returns a JSON-RPC error *response* (the client sees the refusal); a Go error means the gateway itself
// failed, and the client gets an internal error naming the stage.
package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/inspect/flow"
	"github.com/mcpwarden/mcpwarden/internal/inspect/pin"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/metrics"
	"github.com/mcpwarden/mcpwarden/internal/policy"
	"github.com/mcpwarden/mcpwarden/internal/session"
)

// Direction says which way a message travels.
type Direction uint8

const (
	// ClientToServer: requests, notifications and responses sent by the client.
	ClientToServer Direction = iota + 1
	// ServerToClient: requests, notifications and responses sent by an upstream server.
	ServerToClient
)

func (d Direction) String() string {
	if d == ServerToClient {
		return "server_to_client"
	}
	return "client_to_server"
}

// Exchange is one message on its way through the chain, with what the stages learn about it.
type Exchange struct {
	// Session is the client session the message belongs to.
	Session *session.Info
	// Server is the configured name of the upstream server the message is for or from.
	Server string
	// Direction is the way the message travels.
	Direction Direction
	// Msg is the message as it will be forwarded. A stage that rewrites it replaces Msg (never edits Raw).
	Msg *jsonrpc.Message
	// Original is the message as received, before any rewrite (the aggregate endpoint renames tools).
	Original *jsonrpc.Message
	// Header holds HTTP headers that travel with the message (2026 Mcp-Param-*), or nil.
	Header http.Header
	// Related is the id of the client request a server→client message belongs to, when known.
	Related jsonrpc.ID
	// Principal is who the message is for, set by ③ identity (never nil after it).
	Principal *identity.Principal
	// Decision is the policy stage's decision about the message (④), nil when no policy ran. It is set
	// before the later stages run; audit (⑧ wraps ④) reads it when the chain returns. In monitor mode it
	// records what would have happened (Decision.Monitor).
	Decision *policy.Decision
	// auditRef, set by ⑧ audit once the request's record is kept, returns its audit reference
	// (AuditRef).
	auditRef func() string

	// Data-flow state, set by the flow stage before ④ policy decides: the labels and servers that entered
	// the session, and detector findings about this message ("secret", "pii:card", …), which policy sees
	// as session.labels, session.servers and findings.
	SessionLabels, SessionServers, Findings []string
	// ToolLabels are the data-flow labels of the tool a tools/call targets, with their reasons; set by ④
	// policy from its tool cache, read by the flow stage when the result comes back.
	ToolLabels []flow.Assigned

	// What later stages learned for the audit record (detector findings, the approval), added with Note
	// and SetApproval and copied into the record by ⑧ audit when the chain returns.
	notesMu  sync.Mutex
	findings []audit.Finding
	approval *audit.Approval
	// pins are the pins ⑦ inspect read for this exchange: policy's findings read a tool's pin, then the
	// call guards read it again; within one exchange the second read reuses the first. Cleared when the
	// exchange waits for a human (⑤ approval), after which pins are read afresh.
	pins []pinRead
	// auditGate, set by ⑧ audit on a request, waits until the request's audit record is committed (the
	// commit runs while the other stages decide) and returns the refusal to answer when it could not be
	// (nil: forward). ⑥ upstream is reached only through it: nothing is forwarded unrecorded.
	auditGate func() *jsonrpc.Message
	// forwarded is set when the request passed awaitAudit to ⑥ upstream (read by the request counters).
	forwarded atomic.Bool

	// scanned is the result payload in which the data-flow stage's secret and PII detectors found nothing
	// (set with markScanned): ⑧ audit stores exactly that payload without running them again.
	scanned json.RawMessage
}

// pinRead is one pin read from the store (p is nil when the item has no pin).
type pinRead struct {
	server, kind, name string
	p                  *pin.Pin
}

// readPin returns the pin read earlier in this exchange, if any.
func (x *Exchange) readPin(server, kind, name string) (*pin.Pin, bool) {
	x.notesMu.Lock()
	defer x.notesMu.Unlock()
	for _, r := range x.pins {
		if r.server == server && r.kind == kind && r.name == name {
			return r.p, true
		}
	}
	return nil, false
}

// keepPin remembers a pin read for the rest of the exchange.
func (x *Exchange) keepPin(server, kind, name string, p *pin.Pin) {
	x.notesMu.Lock()
	x.pins = append(x.pins, pinRead{server, kind, name, p})
	x.notesMu.Unlock()
}

// forgetPins drops the pins read so far: the exchange is about to wait, and pins may change meanwhile.
func (x *Exchange) forgetPins() {
	x.notesMu.Lock()
	x.pins = nil
	x.notesMu.Unlock()
}

// markScanned records that the detectors found no secret and no personal data, at any confidence, in the
// result payload raw.
func (x *Exchange) markScanned(raw json.RawMessage) {
	x.notesMu.Lock()
	x.scanned = raw
	x.notesMu.Unlock()
}

// wasScanned reports whether raw is the very payload markScanned recorded (the same bytes in memory, so a
// payload rewritten after the scan never counts as scanned).
func (x *Exchange) wasScanned(raw json.RawMessage) bool {
	x.notesMu.Lock()
	defer x.notesMu.Unlock()
	return len(raw) > 0 && len(raw) == len(x.scanned) && &raw[0] == &x.scanned[0]
}

// Note adds detector findings to the exchange's audit record. Safe for concurrent use.
func (x *Exchange) Note(fs ...audit.Finding) {
	if len(fs) == 0 {
		return
	}
	x.notesMu.Lock()
	x.findings = append(x.findings, fs...)
	x.notesMu.Unlock()
}

// SetApproval records how the approval stage let the exchange through (or refused it).
func (x *Exchange) SetApproval(a *audit.Approval) {
	x.notesMu.Lock()
	x.approval = a
	x.notesMu.Unlock()
}

// notes returns what Note and SetApproval recorded.
func (x *Exchange) notes() ([]audit.Finding, *audit.Approval) {
	x.notesMu.Lock()
	defer x.notesMu.Unlock()
	return x.findings, x.approval
}

// Handler processes an exchange. For a request it returns the response to deliver the other way (nil only
// when ctx ended first); for a notification or a response it returns nil after forwarding.
type Handler func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error)

// Middleware wraps a Handler with one stage.
type Middleware func(next Handler) Handler

// Stages holds the pluggable stages of the chain. Each may be nil (no-op).
type Stages struct {
	Identity Middleware // ③
	Audit    Middleware // ⑧
	Flow     Middleware // ⑦ data flow (wraps policy: it feeds policy and sees the final result)
	Policy   Middleware // ④
	Approval Middleware // ⑤
	Inspect  Middleware // ⑦

	// UpstreamHello, when set, inspects the initialize results the gateway obtains from an upstream by itself
	// (the aggregate endpoint's handshakes, the handshakes replayed after an upstream restarts), which no
	// client request carries through the chain, and returns the result to keep (⑦ inspect: the server
	// identity pin; instructions withheld when quarantined), or an error that fails that connection.
	UpstreamHello func(ctx context.Context, server string, init *jsonrpc.Message, result json.RawMessage) (json.RawMessage, error)

	// Metrics, when set, counts every client request by server, method and outcome where its answer is
	// final (outside ⑧ audit), and is served by `mcpwarden serve` (config metrics:). Nil: no metrics.
	Metrics *metrics.Metrics
}

// clientChain builds the client→server chain in data-path order around the upstream (⑥) handler.
func (s Stages) clientChain(upstream Handler) Handler {
	h := upstream                   // ⑥ forward to the upstream server, wait for its response
	h = awaitAudit(h)               // ⑧ … once the request's audit record is durable (committed while ④–⑦ ran)
	h = apply(s.Inspect, h)         // ⑦ inspect what comes back (pins, scanners, taint)
	h = apply(s.Approval, h)        // ⑤ park calls that need a human
	h = apply(s.Policy, h)          // ④ decide
	h = apply(s.Flow, h)            // ⑦ data flow: session labels and findings for ④; redact, block or taint results
	h = apply(s.Audit, h)           // ⑧ record the message before anything is forwarded, and the outcome
	h = countRequests(s.Metrics, h) // count the request by its final outcome (audit's refusals included)
	h = apply(s.Identity, h)        // ③ establish the principal
	h = resolvePrincipal(h)         // ③ default: the principal an authenticating front put in ctx, else the OS user
	return h
}

// serverChain builds the server→client chain around the client-delivery handler.
func (s Stages) serverChain(client Handler) Handler {
	h := client             // ① deliver to the client (and, for requests, wait for its answer)
	h = apply(s.Inspect, h) // ⑦ inspect server-initiated traffic
	h = apply(s.Flow, h)    // ⑦ data flow: an injection in a sampling or elicitation request taints the session
	h = apply(s.Audit, h)   // ⑧ record it
	h = resolvePrincipal(h) // ③ the session's principal (set by the session), else the OS user
	return h
}

// resolvePrincipal fills Exchange.Principal from the context (an authenticating front puts it there) or, in
// local modes, with the OS user.
func resolvePrincipal(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		if x.Principal == nil {
			if p, ok := identity.FromContext(ctx); ok {
				x.Principal = p
			} else {
				x.Principal = identity.Local()
			}
		}
		return next(ctx, x)
	}
}

// localChain wraps what the gateway answers itself (the aggregate endpoint's initialize, ping, merged lists):
// no upstream is involved, so only ③ identity and ⑧ audit apply; each upstream request the answer needs
// travels its own full clientChain.
func (s Stages) localChain(local Handler) Handler {
	h := local
	h = apply(s.Audit, h)
	h = countRequests(s.Metrics, h)
	h = apply(s.Identity, h)
	h = resolvePrincipal(h)
	return h
}

// awaitAudit holds a request until ⑧ audit wrote its record to the store, and answers with audit's refusal
// when it could not (fail closed). The write started before the other stages ran, so they overlap it; the
// record's fsync overlaps the upstream's work (AuditStage waits for it before answering).
func awaitAudit(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		if refusal := x.auditCommitted(); refusal != nil {
			return refusal, nil
		}
		x.forwarded.Store(true)
		return next(ctx, x)
	}
}

// AuditRef is the audit reference ("chain:seq") of the request's record: "" before ⑧ audit kept it (the
// request was not forwarded), without audit, or when it could not be committed. It may wait for the
// record's commit, which runs while the upstream works.
func (x *Exchange) AuditRef() string {
	if x.auditRef == nil {
		return ""
	}
	return x.auditRef()
}

// auditCommitted waits for the request's audit commit (see auditGate); nil means it may be forwarded.
func (x *Exchange) auditCommitted() *jsonrpc.Message {
	if x.auditGate == nil {
		return nil
	}
	return x.auditGate()
}

func apply(m Middleware, h Handler) Handler {
	if m == nil {
		return h
	}
	return m(h)
}

// errorReply builds the error response for request msg.
func errorReply(msg *jsonrpc.Message, code int64, text string) *jsonrpc.Message {
	return jsonrpc.MustDecode(jsonrpc.NewErrorResponse(msg.ID, code, text, nil))
}
