// Package jsonrpc is the gateway's message layer: a strict, allocation-light decoder for JSON-RPC 2.0
// envelopes that keeps the original bytes, exposes only the fields policy reads (method, id, params.name /
// params.uri, params.arguments, params._meta), and rejects messages whose meaning could differ between the
// gateway and the server behind it (duplicate keys, case-variant keys, invalid UTF-8, trailing data).
//
// The gateway forwards Message.Raw unchanged unless a stage rewrote the message; encoders in this package
// build the few messages the gateway itself originates (errors, its own requests).
package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Kind is the shape of a JSON-RPC message.
type Kind uint8

const (
	// KindInvalid is the zero Kind.
	KindInvalid Kind = iota
	// KindRequest has a method and an id.
	KindRequest
	// KindNotification has a method and no id.
	KindNotification
	// KindResult is a response carrying "result".
	KindResult
	// KindError is a response carrying "error".
	KindError
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResult:
		return "result"
	case KindError:
		return "error"
	}
	return "invalid"
}

// IsResponse reports whether k is a result or an error.
func (k Kind) IsResponse() bool { return k == KindResult || k == KindError }

// ID is a request id exactly as it appeared on the wire: the raw JSON bytes of a string or a number
// (e.g. `"a1"` or `7`). Comparing two IDs compares their bytes, so `1` and `1.0` are different ids, as they
// are for every peer that echoes ids back verbatim. The zero ID (nil) means "no id".
type ID []byte

// String returns the raw JSON text of the id.
func (id ID) String() string { return string(id) }

// Key returns the id as a map key for matching responses to requests: equal for two ids that a peer may
// read as the same id, whatever their bytes. A string is keyed by its unescaped value ("a" and "\u0061" are
// one id to every JSON parser). A number is keyed by its value truncated to an integer, as go-sdk reads ids
// (a float64 converted to int64), which also equates the numbers a JavaScript peer reads as one double
// (1, 1.0 and 1e0); numbers beyond ±2^63 share one key per sign. A server answers with its own encoding of
// the id, so a response must find its request under that encoding, and two requests in flight must not
// share an id the server would confuse: whoever keeps requests by Key refuses the second.
func (id ID) Key() string {
	if len(id) == 0 {
		return ""
	}
	if id[0] == '"' {
		if bytes.IndexByte(id, '\\') < 0 {
			return "s" + string(id[1:len(id)-1])
		}
		var s string
		if json.Unmarshal(id, &s) == nil {
			return "s" + s
		}
		return "s" + string(id)
	}
	f, err := strconv.ParseFloat(string(id), 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return "n" + string(id) // not a number: cannot happen for a decoded id
	case f >= 1<<63:
		return "n+big"
	case f <= -(1 << 63):
		return "n-big"
	}
	return "n" + strconv.FormatInt(int64(f), 10)
}

// IsZero reports whether the id is absent.
func (id ID) IsZero() bool { return len(id) == 0 }

// StringID returns the ID for a JSON string value s.
func StringID(s string) ID {
	b, _ := json.Marshal(s)
	return ID(b)
}

// WireError is the "error" member of an error response.
type WireError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *WireError) Error() string { return e.Message }

// Message is one decoded JSON-RPC message.
//
// Raw holds the original bytes; the other fields are views decoded from it. Callers must not modify Raw in
// place: build a new message with the helpers below and forward that instead.
type Message struct {
	// Raw is the message exactly as received (one JSON object, no surrounding whitespace).
	Raw []byte
	// Kind is the message shape.
	Kind Kind
	// ID is the raw id (nil for notifications).
	ID ID
	// Method is set for requests and notifications (unescaped).
	Method string
	// Params is the raw "params" value, nil when absent.
	Params json.RawMessage
	// Result is the raw "result" value of a result response.
	Result json.RawMessage
	// Error is the "error" member of an error response.
	Error *WireError

	// Name is what a request acts on, unescaped: params.uri for the resources/ methods (resources/read,
	// resources/subscribe, resources/unsubscribe), params.name for tools/call and prompts/get, and for
	// other methods params.name or, when there is none, params.uri. Empty when that member is absent or not
	// a string (a resources/read is never named by a params.name sent beside its uri).
	Name string
	// Arguments is the raw params.arguments value, nil when absent.
	Arguments json.RawMessage
	// Meta is the raw params._meta value, nil when absent.
	Meta json.RawMessage
	// ProtocolVersion is params._meta["io.modelcontextprotocol/protocolVersion"] when it is a string
	// (the 2026-07-28 era carries the version on every request), else "".
	ProtocolVersion string
	// ProgressToken is the raw params._meta.progressToken value, nil when absent.
	ProgressToken json.RawMessage

	// HTTPStatus is transport metadata, not JSON: for an error response an HTTP upstream sent with a
	// non-2xx status (the 2026-07-28 era maps errors to statuses, e.g. 404 for -32601), that status, so an
	// HTTP front can answer with the same one. 0 otherwise.
	HTTPStatus int

	// idStart/idEnd locate the id value inside Raw so WithID can splice a new id without re-encoding.
	idStart, idEnd int
}

// MetaProtocolVersionKey is the _meta key that carries the protocol version in the 2026-07-28 era.
const MetaProtocolVersionKey = "io.modelcontextprotocol/protocolVersion"

// Error codes used by the gateway.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
	// CodeHeaderMismatch (2026-07-28): an Mcp-* header disagrees with the body.
	CodeHeaderMismatch = -32020
	// CodeMissingClientCapability (2026-07-28).
	CodeMissingClientCapability = -32021
	// CodeUnsupportedProtocolVersion (2026-07-28).
	CodeUnsupportedProtocolVersion = -32022

	// Gateway-specific codes, in the implementation-defined server error range (-32000 to -32099), in a block
	// no MCP SDK uses (go-sdk's jsonrpc2 uses -32001, -32003, -32004, -32005 for its own transport errors;
	// MCP itself -32002, -32020…-32022, -32042), so a client can tell a gateway refusal from its own errors.

	// CodeUpstreamUnavailable: the upstream server could not be reached, crashed, or closed the session.
	CodeUpstreamUnavailable = -32080
	// CodeUpstreamTimeout: the upstream did not answer within its configured timeout.
	CodeUpstreamTimeout = -32081
	// CodePolicyDenied: a policy rule refused the request.
	CodePolicyDenied = -32082
	// CodeAuditUnavailable: the call could not be recorded, so it was refused (fail closed), or its record
	// could not be made durable, so its answer was withheld.
	CodeAuditUnavailable = -32083
	// CodeApprovalRequired: the call needs a human approval that has not (yet) been given.
	CodeApprovalRequired = -32084
	// CodeGatewayShutdown: the gateway is shutting down.
	CodeGatewayShutdown = -32085
)

// MustDecode decodes a message the gateway built itself; it panics on invalid input, which would be a bug.
func MustDecode(b []byte) *Message {
	m, err := Decode(b)
	if err != nil {
		panic("jsonrpc: invalid built-in message: " + err.Error())
	}
	return m
}
