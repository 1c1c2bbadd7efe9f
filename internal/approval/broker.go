package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

// BrokerConfig configures a Broker.
type BrokerConfig struct {
	// Store keeps approvals and grants (required).
	Store *Store
	// Timeout is how long a parked call waits for a decision. Default 2m.
	Timeout time.Duration
	// AllowOnTimeout forwards a call nobody decided in time (default false: refuse it).
	AllowOnTimeout bool
	// PendingTTL is how long an approval stays approvable (for a retry after its call timed out). Default
	// 24h; never shorter than Timeout.
	PendingTTL time.Duration
	// Rules holds the requirements of particular policy rules' ask decisions, by rule id.
	Rules map[string]Requirement
	// Poll is how often a parked call looks for a decision in the store. Default 200ms.
	Poll time.Duration
	// KeepAlive is how often Await calls its tick function while waiting. Default 10s.
	KeepAlive time.Duration
	// OnPark, when set, is told of every new pending approval (the webhook); it must not block.
	OnPark func(a *Approval)
	// Logger receives parked, decided and timed-out calls; nil discards.
	Logger *slog.Logger
}

// CheckAndSetDefaults validates cfg and fills in defaults.
func (c *BrokerConfig) CheckAndSetDefaults() error {
	if c.Store == nil {
		return errors.New("approval broker: no store")
	}
	if c.Timeout <= 0 {
		c.Timeout = config.DefaultApprovalTimeout
	}
	if c.PendingTTL <= 0 {
		c.PendingTTL = config.DefaultApprovalPendingTTL
	}
	if c.Poll <= 0 {
		c.Poll = 200 * time.Millisecond
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// BrokerConfigFrom translates the config's approval: section (which must have had its defaults set).
func BrokerConfigFrom(a *config.Approval, st *Store) BrokerConfig {
	bc := BrokerConfig{Store: st, Timeout: a.Timeout.D(), AllowOnTimeout: a.DefaultOnTimeout == "allow",
		PendingTTL: a.PendingTTL.D(), Rules: map[string]Requirement{}}
	for _, r := range a.Rules {
		bc.Rules[r.Rule] = Requirement{FourEyes: r.FourEyes, Approvers: r.Approvers, SelfApprove: r.SelfApprove && !r.FourEyes, Timeout: r.Timeout.D()}
	}
	return bc
}

// Broker parks calls, waits for decisions and matches grants.
type Broker struct {
	cfg    BrokerConfig
	listen *listener // PostgreSQL only: wakes parked calls on NOTIFY
}

// NewBroker returns a Broker. On PostgreSQL it LISTENs for decisions (parked calls still poll as a
// fallback); call Close when done.
func NewBroker(cfg BrokerConfig) (*Broker, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	return &Broker{cfg: cfg, listen: startListener(cfg.Store.db, cfg.Logger)}, nil
}

// Close stops the broker's listener (it does not close the store).
func (b *Broker) Close() error {
	b.listen.stop()
	return nil
}

// Store returns the broker's store.
func (b *Broker) Store() *Store { return b.cfg.Store }

// Requirement returns what approving a call asked by the rule takes.
func (b *Broker) Requirement(rule string) Requirement {
	r := b.cfg.Rules[rule]
	if r.Timeout <= 0 {
		r.Timeout = b.cfg.Timeout
	}
	return r
}

// Check returns the grant that lets call through now, after recording its use, or nil when the call must
// be approved.
func (b *Broker) Check(ctx context.Context, call Call) (*Grant, error) {
	for range 3 { // a once grant may be used by a concurrent identical call: look again
		g, err := b.cfg.Store.FindGrant(ctx, call)
		if err != nil || g == nil {
			return nil, err
		}
		ok, err := b.cfg.Store.UseGrant(ctx, g, call)
		if err != nil {
			return nil, err
		}
		if ok {
			return g, nil
		}
	}
	return nil, nil
}

// Park stores a pending approval for call.
func (b *Broker) Park(ctx context.Context, call Call) (*Approval, error) {
	req := b.Requirement(call.Rule)
	ttl := max(b.cfg.PendingTTL, req.Timeout)
	a, err := b.cfg.Store.Create(ctx, call, req, ttl)
	if err != nil {
		return nil, err
	}
	if b.cfg.OnPark != nil {
		b.cfg.OnPark(a)
	}
	b.cfg.Logger.Info("approval: call parked", "approval", a.ID, "server", call.Server, "tool", call.Tool,
		"user", call.User, "rule", call.Rule, "timeout", req.Timeout, "four_eyes", req.FourEyes)
	return a, nil
}

// Result is how a parked call ended.
type Result string

const (
	// Approved: an approver approved; the call goes on (Outcome.Grant was used for it).
	Approved Result = "approved"
	// Denied: an approver denied; Outcome.Approval says who and why.
	Denied Result = "denied"
	// TimedOut: nobody decided in time and the call is refused; the approval stays approvable.
	TimedOut Result = "timed_out"
	// AllowedOnTimeout: nobody decided in time and the configuration forwards such calls.
	AllowedOnTimeout Result = "allowed_on_timeout"
	// Spent: the approval was approved, but its grant was already used up (a once grant), revoked or
	// expired, so it releases no further call; the call must be approved anew.
	Spent Result = "spent"
)

// Outcome is the end of a wait.
type Outcome struct {
	Result   Result
	Approval *Approval
	Grant    *Grant
	// Timeout is how long the call waited before TimedOut or AllowedOnTimeout.
	Timeout time.Duration
}

// Await waits for a decision on a until its requirement's timeout (measured in real time), calling tick
// every KeepAlive while waiting (nil: none). A decision made by any process sharing the store releases it.
// When ctx ends first (the client went away) it returns ctx's error and the approval stays pending.
// decided, when non-nil, wakes the wait early (an in-band decision made by this process).
func (b *Broker) Await(ctx context.Context, a *Approval, decided <-chan struct{}, tick func()) (Outcome, error) {
	timeout := a.Require.Timeout
	if timeout <= 0 {
		timeout = b.cfg.Timeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(b.cfg.Poll)
	defer poll.Stop()
	keep := time.NewTicker(b.cfg.KeepAlive)
	defer keep.Stop()
	for {
		wake := b.listen.changed() // before reading, so that no notification slips between the two
		cur, err := b.cfg.Store.Get(context.WithoutCancel(ctx), a.ID)
		if err != nil {
			return Outcome{Approval: a}, err
		}
		switch cur.Status {
		case StatusDenied:
			b.cfg.Logger.Info("approval: call denied", "approval", a.ID, "by", cur.DecidedBy, "reason", cur.Reason)
			return Outcome{Result: Denied, Approval: cur}, nil
		case StatusApproved:
			// The decision releases one call through its grant: the use must be recorded, so that a once
			// grant used up (by an identical call, or by an earlier release of this approval), revoked or
			// expired releases nothing more.
			g, err := b.grant(ctx, cur)
			if err != nil {
				return Outcome{Approval: cur}, err
			}
			out := Outcome{Result: Approved, Approval: cur, Grant: g}
			ok := false
			if g != nil {
				if ok, err = b.cfg.Store.UseGrant(context.WithoutCancel(ctx), g, cur.Call); err != nil {
					return out, err
				}
			}
			if !ok {
				b.cfg.Logger.Warn("approval: approved, but its grant can no longer be used; the call is refused", "approval", a.ID, "grant", cur.GrantID)
				return Outcome{Result: Spent, Approval: cur, Grant: g}, nil
			}
			b.cfg.Logger.Info("approval: call approved", "approval", a.ID, "by", cur.DecidedBy, "scope", cur.Scope)
			return out, nil
		}
		select {
		case <-ctx.Done():
			return Outcome{Approval: cur}, ctx.Err()
		case <-deadline.C:
			res := TimedOut
			if b.cfg.AllowOnTimeout {
				res = AllowedOnTimeout
			}
			b.cfg.Logger.Warn("approval: nobody decided in time", "approval", a.ID, "timeout", timeout, "outcome", res)
			return Outcome{Result: res, Approval: cur, Timeout: timeout}, nil
		case <-keep.C:
			if tick != nil {
				tick()
			}
		case <-poll.C:
		case <-wake:
		case <-decided:
			decided = nil
		}
	}
}

func (b *Broker) grant(ctx context.Context, a *Approval) (*Grant, error) {
	if a.GrantID == "" {
		return nil, nil
	}
	gs, err := b.cfg.Store.grantByID(context.WithoutCancel(ctx), a.GrantID)
	if err != nil {
		return nil, fmt.Errorf("approval %s: read its grant: %w", a.ID, err)
	}
	return gs, nil
}
