package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
)

// annotate copies into r what the stages learned about x: the principal, the policy decision, the approval
// and detector findings (Exchange.Note, Exchange.SetApproval).
func annotate(x *Exchange, r *audit.Record) {
	if p := x.Principal; p != nil {
		r.Principal = audit.Principal{User: p.Subject, Groups: p.Groups, AuthMethod: p.AuthMethod}
	}
	if d := x.Decision; d != nil {
		action := string(d.Effect)
		if d.Monitor {
			action = "monitor:" + action
		}
		r.Decision = &audit.Decision{Action: action, Rule: d.RuleID, Reason: d.Reason}
	}
	if r.Error != nil && r.Error.Code == jsonrpc.CodePolicyDenied && r.DecisionAction() != "deny" {
		// A later stage refused the call on policy grounds after the policy stage itself allowed it.
		r.Decision = &audit.Decision{Action: "deny", Reason: r.Error.Message}
	}
	fs, a := x.notes()
	if a != nil {
		r.Approval = a
	}
	r.Findings = append(r.Findings, fs...)
}

// AuditStage adapts an Auditor to the chain (stage ⑧). A request is recorded in the store before it is
// forwarded (the rest of the chain decides meanwhile), and its answer goes back only once that record is
// durable; when either fails the request is refused with CodeAuditUnavailable (unless audit.fail_open). Each response is recorded with its latency and sizes, linked to its request record;
// notifications are recorded as they pass. Records are built from copies: the live message is never
// modified.
func AuditStage(a *audit.Auditor, log *slog.Logger) Middleware {
	if log == nil {
		log = slog.Default()
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
			rec := auditRecord(a, x, x.Msg, x.Direction)
			if p := x.Principal; p != nil {
				rec.Principal = audit.Principal{User: p.Subject, Groups: p.Groups, AuthMethod: p.AuthMethod}
			}
			if x.Msg.Kind != jsonrpc.KindRequest {
				reply, err := next(ctx, x)
				annotate(x, rec)
				if qerr := a.Queue(ctx, rec); qerr != nil {
					log.Error("audit: could not queue a record", "method", x.Msg.Method, "err", qerr)
				}
				return reply, err
			}
			// The request's record is written while the rest of the chain decides (policy, approval's grant
			// lookup, inspect's pin reads overlap it); nothing is forwarded before the write ended
			// (awaitAudit), and a request that could not be recorded is refused there (fail closed). With
			// the SQLite store the write is an append to the audit journal, synced while the upstream works,
			// and the answer waits for that sync (Durable); the commit to SQLite follows within a few
			// milliseconds, with the records of other calls.
			var (
				written bool
				ticket  audit.Ticket
				refusal *jsonrpc.Message
				done    = make(chan struct{})
			)
			go func() {
				defer close(done)
				var err error
				if ticket, err = a.Write(ctx, rec); err != nil {
					if !a.FailOpen() {
						log.Warn("audit: refusing a request that could not be recorded (fail closed)", "server", x.Server, "method", x.Msg.Method, "err", err)
						refusal = errorReply(x.Msg, jsonrpc.CodeAuditUnavailable,
							"mcpwarden refused this request because it could not be recorded in the audit trail ("+err.Error()+
								"); nothing was forwarded. The gateway retries the audit store by itself; if this persists, check the audit store "+
								"(data_dir or audit.postgres_dsn)")
						return
					}
					log.Warn("audit: forwarding a request that could not be recorded (audit.fail_open is set)", "server", x.Server, "method", x.Msg.Method, "err", err)
					return
				}
				written = true
			}()
			// ref is the request record's chain position, once committed ("" if it could not be).
			ref := func() string {
				if !written || a.Committed(ctx, ticket) != nil {
					return ""
				}
				return rec.Ref()
			}
			x.auditGate = func() *jsonrpc.Message {
				<-done
				if refusal == nil && written {
					x.auditRef = sync.OnceValue(ref)
				}
				return refusal
			}
			start := time.Now()
			reply, err := next(ctx, x)
			<-done
			if refusal != nil && reply != nil {
				// An unrecorded request is refused as such, whatever else the chain answered meanwhile (another
				// store that is down, a policy refusal): nothing was forwarded, and the first cause is audit.
				reply, err = refusal, nil
			}
			if refusal == nil && written && reply != nil {
				// The record was kept before the request went on; it is committed and made durable (fsynced,
				// with the records of other calls) while the upstream works, and the answer waits for that.
				if derr := a.Durable(ctx, ticket); derr != nil {
					if !a.FailOpen() {
						log.Error("audit: withholding an answer whose request record could not be made durable (fail closed)", "server", x.Server, "method", x.Msg.Method, "err", derr)
						reply, err = errorReply(x.Msg, jsonrpc.CodeAuditUnavailable,
							"mcpwarden withheld the answer to this request because its audit record could not be made durable ("+derr.Error()+
								"). The request may have reached the server. Check the audit store's disk (data_dir)"), nil
					} else {
						log.Warn("audit: answering although the request record could not be made durable (audit.fail_open is set)", "server", x.Server, "method", x.Msg.Method, "err", derr)
					}
				}
			}
			// The answer's record names the request's as its parent; the request's commit may still be
			// gathering company (the journal keeps both meanwhile), so the writer links them at commit.
			resp := auditResponse(a, x, rec, "", reply, err, time.Since(start))
			annotate(x, resp)
			if !written {
				ticket = audit.Ticket{}
			}
			if qerr := a.QueueAnswer(ctx, resp, ticket); qerr != nil {
				log.Error("audit: could not queue a response record", "method", x.Msg.Method, "err", qerr)
			}
			return reply, err
		}
	}
}

// auditRecord builds the record of msg travelling in direction d within exchange x.
func auditRecord(a *audit.Auditor, x *Exchange, msg *jsonrpc.Message, d Direction) *audit.Record {
	r := &audit.Record{
		Time:      time.Now().UTC(),
		Direction: d.String(),
		Kind:      msg.Kind.String(),
		Server:    x.Server,
		Method:    msg.Method,
		Name:      msg.Name,
		Headers:   audit.Headers(x.Header),
		BytesIn:   len(msg.Raw),
	}
	if !msg.ID.IsZero() {
		r.RequestID = msg.ID.String()
	}
	if !x.Related.IsZero() {
		r.RelatedRequestID = x.Related.String()
	}
	if s := x.Session; s != nil {
		r.SessionID = s.ID
		r.Transport = string(s.Transport)
		r.Remote = s.Remote
		r.ProtocolVersion = s.Version()
		if e := s.Era(); e != session.EraUnknown {
			r.Era = e.String()
		}
		r.Client.Name, r.Client.Version = s.Client()
	}
	if r.ProtocolVersion == "" {
		r.ProtocolVersion = msg.ProtocolVersion
	}
	c := a.Capturer()
	switch {
	case msg.Arguments != nil:
		r.Arguments = c.Payload(msg.Arguments)
	case msg.Params != nil:
		r.Params = c.Payload(msg.Params)
	}
	auditOutcome(c, x, r, msg)
	return r
}

// auditOutcome fills the result or error of a response message. A result the data-flow stage already
// scanned and found clean (Exchange.markScanned) is stored without running the same detectors again.
func auditOutcome(c *audit.Capturer, x *Exchange, r *audit.Record, msg *jsonrpc.Message) {
	switch msg.Kind {
	case jsonrpc.KindResult:
		if x.wasScanned(msg.Result) {
			r.Result = c.PayloadScanned(msg.Result)
		} else {
			r.Result = c.Payload(msg.Result)
		}
	case jsonrpc.KindError:
		if msg.Error != nil {
			r.Error = &audit.ErrorInfo{Code: msg.Error.Code, Message: msg.Error.Message, Data: c.Payload(msg.Error.Data)}
			if msg.Error.Code == jsonrpc.CodePolicyDenied {
				r.Decision = &audit.Decision{Action: "deny", Reason: msg.Error.Message}
			}
		}
	}
}

// auditResponse builds the record of the answer to request record req.
func auditResponse(a *audit.Auditor, x *Exchange, req *audit.Record, parent string, reply *jsonrpc.Message, err error, latency time.Duration) *audit.Record {
	d := ServerToClient
	if x.Direction == ServerToClient {
		d = ClientToServer
	}
	r := &audit.Record{
		Time: time.Now().UTC(), Direction: d.String(), Server: req.Server, Method: req.Method, Name: req.Name,
		RequestID: req.RequestID, RelatedRequestID: req.RelatedRequestID, Parent: parent,
		SessionID: req.SessionID, Era: req.Era, ProtocolVersion: req.ProtocolVersion, Transport: req.Transport, Remote: req.Remote,
		Client: req.Client, Principal: req.Principal,
		LatencyMS: float64(latency.Microseconds()) / 1000, BytesIn: req.BytesIn,
	}
	if s := x.Session; s != nil {
		// initialize fills these in only when its response arrives.
		r.Client.Name, r.Client.Version = s.Client()
		if v := s.Version(); v != "" {
			r.ProtocolVersion = v
		}
		if e := s.Era(); e != session.EraUnknown {
			r.Era = e.String()
		}
	}
	switch {
	case err != nil:
		r.Kind = jsonrpc.KindError.String()
		r.Error = &audit.ErrorInfo{Code: jsonrpc.CodeInternalError, Message: "gateway error: " + err.Error()}
	case reply == nil:
		r.Kind = jsonrpc.KindError.String()
		r.Error = &audit.ErrorInfo{Message: "no response: the requester went away before the answer arrived"}
	default:
		r.Kind = reply.Kind.String()
		r.BytesOut = len(reply.Raw)
		auditOutcome(a.Capturer(), x, r, reply)
	}
	return r
}
