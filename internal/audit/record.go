// Package audit is stage ⑧ of mcpwarden's data path: the audit trail. Every JSON-RPC message that passes
// the gateway, in both directions, becomes one Record; records are hash-chained, periodically sealed by
// signed checkpoints, stored durably (SQLite or PostgreSQL through internal/store), and can be verified,
// queried and exported.
//
// Contract:
//   - A request record is kept before Auditor.Write returns without error — appended to the journal in
//     front of a SQLite store, committed to PostgreSQL — and the gateway forwards a request only after
//     that (fail closed); its answer waits until the record is committed and durable (Ticket.Durable). A
//     response or notification record is queued and written by the same group-commit writer; nothing is
//     ever dropped: a full queue blocks the caller (backpressure).
//   - Records never hold the live message: arguments, results and headers are copied, redacted (or
//     hashed, or omitted) according to the capture mode, and size-capped.
//   - Each record carries the hash of its predecessor in its chain (one chain per gateway instance), so
//     Verify finds the first modified, deleted, inserted or reordered record. A request whose response
//     never made it to the store (a crash) is reported as interrupted, not as tampering.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Record is one audit record: one JSON-RPC message through the gateway. Its JSON form (field names below)
// is the stable export format documented in docs/audit.md.
type Record struct {
	// ID is the store's row id (not part of the hashed body; assigned on insert).
	ID int64 `json:"-"`
	// Chain is the hash chain the record belongs to (the gateway instance that wrote it). Chain, Seq and
	// PrevHash are assigned by the writer; they are stored in their own columns, not in the body.
	Chain string `json:"chain,omitempty"`
	// Seq is the record's position in its chain, from 1.
	Seq int64 `json:"seq,omitempty"`
	// PrevHash is the hash of the chain's previous record (absent for seq 1 of a new chain).
	PrevHash string `json:"prev_hash,omitempty"`
	// Time is when the gateway saw the message.
	Time time.Time `json:"time"`
	// Instance names the gateway instance (host name unless configured).
	Instance string `json:"instance"`
	// Direction is client_to_server or server_to_client.
	Direction string `json:"direction"`
	// Kind is request, notification, result or error.
	Kind string `json:"kind"`

	// SessionID is the gateway's client session id ("" for stateless 2026-era requests).
	SessionID string `json:"session_id,omitempty"`
	// Era is the protocol era of the session: legacy (2024-11-05…2025-11-25) or modern (2026-07-28).
	Era string `json:"era,omitempty"`
	// ProtocolVersion is the negotiated protocol version, when known.
	ProtocolVersion string `json:"protocol_version,omitempty"`
	// Transport is how the client reached the gateway (http or stdio); Remote is its address.
	Transport string `json:"transport,omitempty"`
	Remote    string `json:"remote,omitempty"`
	// Principal is who made the call.
	Principal Principal `json:"principal"`
	// Client is the MCP client's self-reported name and version.
	Client ClientInfo `json:"client"`

	// Server is the upstream server's configured name.
	Server string `json:"server,omitempty"`
	// Method is the JSON-RPC method (for responses: the method of the request answered).
	Method string `json:"method,omitempty"`
	// Name is the tool, prompt or resource the request names (params.name or params.uri).
	Name string `json:"name,omitempty"`
	// RequestID is the JSON-RPC id as it appeared on the wire (JSON text: "\"a1\"" or "7").
	RequestID string `json:"request_id,omitempty"`
	// Parent is, for a response, the ref ("chain:seq") of the request record it answers.
	Parent string `json:"parent,omitempty"`
	// RelatedRequestID is, for server→client traffic, the id of the client request it belongs to.
	RelatedRequestID string `json:"related_request_id,omitempty"`

	// Capture is the capture mode applied to Arguments, Result and Error.Data.
	Capture string `json:"capture"`
	// Arguments are params.arguments (requests) after capture processing.
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// Params are the params of requests and notifications other than arguments-bearing calls, after capture.
	Params json.RawMessage `json:"params,omitempty"`
	// Result is the result of a result response, after capture processing.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is the error of an error response.
	Error *ErrorInfo `json:"error,omitempty"`
	// Headers are HTTP headers that travelled with the message (credentials redacted).
	Headers map[string][]string `json:"headers,omitempty"`

	// Decision is the policy decision, when a policy stage made one.
	Decision *Decision `json:"decision,omitempty"`
	// Approval is the human approval a call needed, when it needed one.
	Approval *Approval `json:"approval,omitempty"`
	// Findings are detector findings (secrets, PII, poisoning …) about the message.
	Findings []Finding `json:"findings,omitempty"`

	// LatencyMS is, for a response, the time from the request to its response in milliseconds.
	LatencyMS float64 `json:"latency_ms,omitempty"`
	// BytesIn is the size of the request message; BytesOut the size of the response (responses only).
	BytesIn  int `json:"bytes_in,omitempty"`
	BytesOut int `json:"bytes_out,omitempty"`

	// Hash is the record's own hash: hex SHA-256 over PrevHash and the body. Not part of the body.
	Hash string `json:"-"`
}

// Principal is who made a call.
type Principal struct {
	// User is the user name.
	User string `json:"user"`
	// Groups are the user's groups or roles.
	Groups []string `json:"groups,omitempty"`
	// AuthMethod says how the user was identified (local_os_user until the identity stage lands).
	AuthMethod string `json:"auth_method"`
}

// ClientInfo is the MCP client's self-description.
type ClientInfo struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// ErrorInfo is a JSON-RPC error.
type ErrorInfo struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Decision is a policy outcome.
type Decision struct {
	// Action is allow, deny, ask or redact.
	Action string `json:"action"`
	// Rule is the id of the rule that decided.
	Rule string `json:"rule,omitempty"`
	// Reason is the human-readable reason.
	Reason string `json:"reason,omitempty"`
}

// Approval is the human approval of a call.
type Approval struct {
	ID       string `json:"id"`
	Approver string `json:"approver,omitempty"`
	Outcome  string `json:"outcome,omitempty"`
}

// Finding is one detector finding.
type Finding struct {
	Detector string `json:"detector"`
	Severity string `json:"severity,omitempty"`
	Message  string `json:"message,omitempty"`
	Path     string `json:"path,omitempty"`
}

// Ref returns the record's reference "chain:seq", stable across stores and exports.
func (r *Record) Ref() string { return r.Chain + ":" + strconv.FormatInt(r.Seq, 10) }

// ParseRef splits a "chain:seq" reference.
func ParseRef(ref string) (chain string, seq int64, ok bool) {
	i := strings.LastIndexByte(ref, ':')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(ref[i+1:], 10, 64)
	if err != nil || seq <= 0 {
		return "", 0, false
	}
	return ref[:i], seq, true
}

// Body returns the bytes that are stored and hashed: the record's JSON encoding without its chain
// position (Chain, Seq and PrevHash must be unset), so callers can encode records concurrently before the
// writer places them in the chain.
func (r *Record) Body() ([]byte, error) {
	c := *r
	c.Chain, c.Seq, c.PrevHash = "", 0, ""
	return json.Marshal(&c)
}

// ChainHash returns a record's hash: hex SHA-256 of
// "mcpwarden-audit-v1\n" chain "\n" seq "\n" prev "\n" hex(SHA-256(body)).
// Hashing the body's digest rather than the body lets submitters hash bodies concurrently; the writer
// only chains fixed-size digests.
func ChainHash(chain string, seq int64, prev string, body []byte) string {
	return chainHash(chain, seq, prev, sha256.Sum256(body))
}

func chainHash(chain string, seq int64, prev string, digest [32]byte) string {
	var buf [256]byte
	b := append(buf[:0], "mcpwarden-audit-v1\n"...)
	b = append(b, chain...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '\n')
	b = append(b, prev...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, digest[:])
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// DecisionAction returns the decision's action or "".
func (r *Record) DecisionAction() string {
	if r.Decision == nil {
		return ""
	}
	return r.Decision.Action
}
