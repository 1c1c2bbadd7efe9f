// Package approval is stage ⑤ of the data path: calls the policy marks "ask" are parked until a human
// decides, and decisions become scoped, expiring grants that let later calls through without asking.
//
// Contract:
//   - Pending approvals and grants live in the gateway's database (the audit store: SQLite in data_dir or
//     PostgreSQL) through Migrations, so they survive a restart and are shared by replicas and the CLI.
//   - A decision is made exactly once (Store.Decide is atomic); four-eyes rules refuse the caller's own
//     decision; approver groups refuse anyone outside them.
//   - A parked call (Broker.Await) is released by a decision made in any process: the broker polls the store.
//   - Grants are matched on server × tool × (arguments | session | principal) by scope, expire by the
//     injected Clock, can be revoked, and every use is counted in the store (and annotated in the audit trail
//     by the gateway). A "once" grant is used up by its first use.
//
// The package does no MCP framing: the gateway's adapter (internal/gateway/stage_approval.go) turns the
// broker's outcomes into JSON-RPC responses.
package approval

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Clock tells the time; tests inject a fake one to expire grants without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Scope says what a grant covers.
type Scope string

const (
	// ScopeOnce covers one use of the identical call (same principal, server, tool and arguments).
	ScopeOnce Scope = "once"
	// ScopeArgs covers the same tool with the same arguments, for the same principal, until it expires.
	ScopeArgs Scope = "args"
	// ScopeSession covers the tool for the rest of the client session.
	ScopeSession Scope = "session"
	// ScopeUser covers the tool for the principal, in any session.
	ScopeUser Scope = "user"
)

// Scopes lists the scopes in order of breadth.
var Scopes = []Scope{ScopeOnce, ScopeArgs, ScopeSession, ScopeUser}

// DefaultTTL is a scope's grant lifetime when the approver gives none.
func DefaultTTL(s Scope) time.Duration {
	switch s {
	case ScopeArgs:
		return 10 * time.Minute
	case ScopeSession, ScopeUser:
		return 8 * time.Hour
	default:
		return 24 * time.Hour // once: long enough to retry a call that timed out while waiting
	}
}

// ParseScope checks a scope name.
func ParseScope(s string) (Scope, error) {
	if s == "" {
		return ScopeOnce, nil
	}
	if slices.Contains(Scopes, Scope(s)) {
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown scope %q: use once, args, session or user", s)
}

// Status is where an approval stands.
type Status string

// The statuses of an approval: pending until decided, then approved or denied for good.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusDenied   Status = "denied"
)

// Call is what a parked or granted call is about.
type Call struct {
	Server    string          `json:"server"`
	Method    string          `json:"method"`
	Tool      string          `json:"tool"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// Principal is the caller's stable id (identity.Principal.ID); User its subject; Groups its groups.
	Principal string   `json:"principal"`
	User      string   `json:"user"`
	Groups    []string `json:"groups,omitempty"`
	SessionID string   `json:"session_id,omitempty"`
	// Rule, Reason and Message are the policy decision that asked.
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Release marks the approval of releasing a call's result to the agent (the dataflow stage holds it),
	// rather than of making the call: a grant for one never lets the other through.
	Release bool `json:"release,omitempty"`
}

// Action is what approving the call allows, and what its grants are bound to besides server and name: the
// method ("tools/call", "prompts/get", "resources/read", …), prefixed with "release:" for a result release.
// A grant for a prompt or a resource of the same name as a tool never covers the tool.
func (c *Call) Action() string {
	if c.Release {
		return "release:" + c.Method
	}
	return c.Method
}

// ArgsHash is the SHA-256 of the call's arguments in canonical JSON (keys sorted, no spaces), so that
// the same arguments written differently match the same grant.
func (c *Call) ArgsHash() string {
	return ArgsHash(c.Arguments)
}

// ArgsHash hashes arguments in canonical form.
func ArgsHash(args json.RawMessage) string {
	canon := []byte("null")
	if len(args) > 0 {
		var v any
		dec := json.NewDecoder(bytes.NewReader(args))
		dec.UseNumber() // large integers keep every digit
		if dec.Decode(&v) == nil {
			if b, err := json.Marshal(v); err == nil {
				canon = b
			}
		} else {
			canon = args
		}
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// Requirement is what a rule demands of the approval of its calls.
type Requirement struct {
	// FourEyes refuses the caller's own decision.
	FourEyes bool `json:"four_eyes,omitempty"`
	// Approvers restricts deciders to these groups (any one); empty means anyone.
	Approvers []string `json:"approvers,omitempty"`
	// SelfApprove allows an in-band elicitation to the caller. Never with FourEyes.
	SelfApprove bool `json:"self_approve,omitempty"`
	// Timeout is how long the call waits; 0 means the broker's default.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Approval is one request for a human decision.
type Approval struct {
	ID      string      `json:"id"`
	Status  Status      `json:"status"`
	Created time.Time   `json:"created"`
	Expires time.Time   `json:"expires"` // after this an undecided approval can no longer be approved
	Call    Call        `json:"call"`
	Require Requirement `json:"require"`
	// Decision fields, set once decided.
	DecidedBy string    `json:"decided_by,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	Scope     Scope     `json:"scope,omitempty"`
	GrantID   string    `json:"grant_id,omitempty"`
}

// Grant lets calls through without asking, within its scope, until it expires or is revoked.
type Grant struct {
	ID         string    `json:"id"`
	ApprovalID string    `json:"approval_id"`
	Scope      Scope     `json:"scope"`
	Server     string    `json:"server"`
	Tool       string    `json:"tool"`
	ArgsHash   string    `json:"args_hash,omitempty"`
	SessionID  string    `json:"session_id,omitempty"`
	Principal  string    `json:"principal"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	GrantedBy  string    `json:"granted_by"`
	// Action is the Call.Action the grant covers ("" in grants stored before it existed: tools/call).
	Action    string    `json:"action,omitempty"`
	Uses      int       `json:"uses"`
	RevokedBy string    `json:"revoked_by,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Approver is who decides.
type Approver struct {
	// ID is the approver's stable id (identity.Principal.ID); User the subject; Groups its groups.
	ID     string
	User   string
	Groups []string
	// InBand marks a decision made by the calling client through an elicitation.
	InBand bool
}

// Decision is an approver's answer to an approval.
type Decision struct {
	Approve bool
	By      Approver
	Scope   Scope         // approve only; default once
	TTL     time.Duration // approve only; default DefaultTTL(Scope)
	Reason  string
}

// RefusedError is a decision the store refused because of who decided or when (four-eyes, approver
// groups, in-band without self-approval, already decided, expired); the approval is unchanged.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// check applies the approval's requirements to an approver.
func (a *Approval) check(by Approver) error {
	self := by.ID == a.Call.Principal || (by.User != "" && by.User == a.Call.User)
	if a.Require.FourEyes && self {
		return &RefusedError{fmt.Sprintf("approval %s needs four eyes: %s asked for it and cannot approve it; ask another approver", a.ID, by.User)}
	}
	if by.InBand && (!a.Require.SelfApprove || a.Require.FourEyes) {
		return &RefusedError{fmt.Sprintf("approval %s cannot be approved by the caller in-band: its rule requires another approver", a.ID)}
	}
	if len(a.Require.Approvers) > 0 { // in-band too: self_approve lets a caller in the groups decide, no one else
		ok := false
		for _, g := range by.Groups {
			if slices.Contains(a.Require.Approvers, g) {
				ok = true
				break
			}
		}
		if !ok {
			return &RefusedError{fmt.Sprintf("approval %s may only be decided by members of %s; %s is not in one",
				a.ID, strings.Join(a.Require.Approvers, ", "), by.User)}
		}
	}
	return nil
}

// CallerMayApproveInBand reports whether the rule lets the caller decide its own call in-band (an
// elicitation): self-approval is allowed, four eyes is not required, and the caller is in one of the
// approver groups when the rule names some. The gateway asks only such callers.
func (a *Approval) CallerMayApproveInBand() bool {
	return a.check(Approver{ID: a.Call.Principal, User: a.Call.User, Groups: a.Call.Groups, InBand: true}) == nil
}

// newID returns a short random id with the prefix, e.g. apr-3f9c2a7b1e.
func newID(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
