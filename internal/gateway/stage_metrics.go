package gateway

import (
	"context"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/metrics"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// countRequests wraps the client→server chain outside ⑧ audit, where every request's final answer is known
// (audit's own refusals included): it counts each request by server, method and outcome, and times
// tools/call. Notifications and responses pass uncounted. With m nil (metrics off) it returns next itself,
// so the chain pays nothing.
func countRequests(m *metrics.Metrics, next Handler) Handler {
	if m == nil {
		return next
	}
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		if x.Msg.Kind != jsonrpc.KindRequest {
			return next(ctx, x)
		}
		method := x.Msg.Method
		m.Begin()
		start := time.Now()
		reply, err := next(ctx, x)
		m.Done(x.Server, method, requestOutcome(x, reply, err), time.Since(start))
		return reply, err
	}
}

// requestOutcome classifies how the chain answered request x.
func requestOutcome(x *Exchange, reply *jsonrpc.Message, err error) metrics.Outcome {
	switch {
	case err != nil:
		return metrics.Error
	case reply == nil:
		return metrics.Cancelled
	}
	forwarded := x.forwarded.Load()
	d := x.Decision
	if reply.Kind == jsonrpc.KindError && reply.Error != nil {
		switch reply.Error.Code {
		case jsonrpc.CodePolicyDenied:
			return metrics.Denied // a rule, an approver, a quarantine, a data-flow guard (also on the result)
		case jsonrpc.CodeApprovalRequired:
			return metrics.ApprovalAsked
		case jsonrpc.CodeUpstreamUnavailable, jsonrpc.CodeUpstreamTimeout, jsonrpc.CodeAuditUnavailable, jsonrpc.CodeGatewayShutdown:
			return metrics.Error
		}
		switch {
		case forwarded:
			return metrics.Forwarded // the upstream's own error
		case d != nil && d.Effect == policy.Deny && !d.Monitor:
			return metrics.Denied // a hidden tool, answered as an unknown one
		case x.Server == "":
			return metrics.Answered // the aggregate endpoint's own error (bad cursor, unknown method)
		}
		return metrics.Error
	}
	switch {
	case forwarded:
		return metrics.Forwarded
	case d != nil && d.Effect == policy.Ask && !d.Monitor:
		return metrics.ApprovalAsked // the 2026-07-28 in-band question (input_required)
	}
	return metrics.Answered
}
