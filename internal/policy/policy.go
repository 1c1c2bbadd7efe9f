package policy

import (
	"encoding/json"
	"regexp"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/policy/destructive"
)

// Effect is what a rule (or the default) does with a message.
type Effect string

const (
	// Allow forwards the message.
	Allow Effect = "allow"
	// Deny refuses it with the rule's message.
	Deny Effect = "deny"
	// Ask needs a human approval; until the approval stage answers, the gateway refuses it with
	// CodeApprovalRequired and the rule's message.
	Ask Effect = "ask"
	// Redact forwards the message and redacts the result (non-terminal: evaluation continues).
	Redact Effect = "redact"
	// Limit counts the message against a rate limit (non-terminal: evaluation continues).
	Limit Effect = "limit"
)

// Mode is enforce (decisions are applied) or monitor (decisions are recorded, never applied).
type Mode string

const (
	// Enforce applies decisions.
	Enforce Mode = "enforce"
	// Monitor records decisions and forwards everything.
	Monitor Mode = "monitor"
)

// Principal is who sends the message (stage ③).
type Principal struct {
	// User is the user name (OS user for local connections, the subject of a token otherwise).
	User string
	// Groups are the principal's groups or roles.
	Groups []string
	// Auth is how the principal was established: "local", "oidc", "apikey", …
	Auth string
	// Claims are further attributes (token claims), visible to CEL as principal.claims.
	Claims map[string]any
	// ID identifies the principal across auth methods (e.g. "oidc:alice@issuer"); rate limits count by it.
	ID string
	// Email, Issuer and Scopes come from a token, when there is one.
	Email, Issuer string
	Scopes        []string
}

// ToolDef is what the gateway knows about a tool from the server's tools/list.
type ToolDef struct {
	Name        string
	Description string
	InputSchema json.RawMessage
	// Annotations is the raw annotations object, nil when absent.
	Annotations json.RawMessage
	// Trusted is set when the operator declared the server trustworthy: only then do its hints lower risk.
	Trusted bool

	schemaOnce sync.Once
	schema     map[string]any
}

// Schema returns InputSchema decoded, once per ToolDef (the destructive classifier reads it on every call
// to the tool; the result is shared and must not be modified).
func (t *ToolDef) Schema() map[string]any {
	t.schemaOnce.Do(func() { t.schema = destructive.ParseSchema(t.InputSchema) })
	return t.schema
}

// Input is everything a decision may depend on. The zero value of any field means "unknown/none".
type Input struct {
	Principal Principal
	// ClientName and ClientVersion come from the client's initialize.
	ClientName, ClientVersion string
	// SessionID is the client session; Labels are labels attached to it (e.g. by taint tracking).
	SessionID string
	Labels    []string
	// SessionServers are the servers whose data entered the session (data-flow tracking).
	SessionServers []string
	// ToolLabels are the data-flow labels of the tool a call targets (private, untrusted, sink, …).
	ToolLabels []string
	// Server is the configured upstream server name.
	Server string
	// Method is the JSON-RPC method.
	Method string
	// Name is params.name (tools/call, prompts/get) or params.uri (resources/*), as sent upstream.
	Name string
	// Tool is the definition of the called tool, nil when unknown (treated as untrusted).
	Tool *ToolDef
	// Arguments and Meta are the raw params.arguments and params._meta.
	Arguments, Meta json.RawMessage
	// Findings are detector findings about this message or its tool (e.g. "poisoned_tool", "pin_changed").
	Findings []string
	// Facts are the destructive-action facts of a tools/call; when nil, Evaluate computes them from Name,
	// Tool, Arguments and Meta if a rule needs them.
	Facts *destructive.Facts
}

// Decision is the outcome of evaluating a policy for one Input.
type Decision struct {
	// Effect is allow, deny or ask.
	Effect Effect `json:"effect"`
	// RuleID is the rule that decided; empty when the default effect applied.
	RuleID string `json:"rule,omitempty"`
	// Reason says why, for the audit trail and logs.
	Reason string `json:"reason"`
	// Message is what the agent is told on deny or ask.
	Message string `json:"message,omitempty"`
	// Monitor is set when the policy is in monitor mode: the gateway records the decision and forwards.
	Monitor bool `json:"monitor,omitempty"`
	// Hidden is set on a deny when the name is invisible to the caller: the gateway answers as for an
	// unknown tool, prompt or resource.
	Hidden bool `json:"hidden,omitempty"`
	// Redactions are the redact rules that matched; they apply to the result.
	Redactions []Redaction `json:"redactions,omitempty"`
	// Limits are the limit rules that matched; the caller's Limiter consumes them.
	Limits []LimitHit `json:"limits,omitempty"`
	// Errors are CEL evaluation errors met on the way (each rule's id and the error).
	Errors []string `json:"errors,omitempty"`
	// Destructive and DestructiveReasons summarise the facts when they were computed.
	Destructive        bool     `json:"destructive,omitempty"`
	DestructiveReasons []string `json:"destructive_reasons,omitempty"`
	// Policy identifies the policy version that decided (a hash of its source).
	Policy string `json:"policy,omitempty"`
}

// Redaction is one matching redact rule.
type Redaction struct {
	RuleID   string           `json:"rule"`
	Patterns []*regexp.Regexp `json:"-"`
}

// LimitHit is one matching limit rule and the bucket the message counts against.
type LimitHit struct {
	RuleID string `json:"rule"`
	// Key identifies the bucket: the rule and the principal × server × tool parts the rule counts by.
	Key     string        `json:"key"`
	Count   int           `json:"count"`
	Per     time.Duration `json:"per"`
	Message string        `json:"message,omitempty"`
}

// callMethods are the methods that use something (the default effect applies to them).
var callMethods = map[string]string{
	"tools/call":            "tools",
	"prompts/get":           "prompts",
	"resources/read":        "resources",
	"resources/subscribe":   "resources",
	"resources/unsubscribe": "resources",
}

// ListMethods maps each list method to the call method its items are used with and the result key.
var ListMethods = map[string]struct{ CallMethod, Key, Field string }{
	"tools/list":               {"tools/call", "tools", "name"},
	"prompts/list":             {"prompts/get", "prompts", "name"},
	"resources/list":           {"resources/read", "resources", "uri"},
	"resources/templates/list": {"resources/read", "resourceTemplates", "uriTemplate"},
}

// IsCall reports whether method uses a tool, prompt or resource (the default effect applies to it).
func IsCall(method string) bool { _, ok := callMethods[method]; return ok }
