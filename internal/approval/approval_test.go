package approval

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/store"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T, path string, clock Clock) *Store {
	t.Helper()
	db, err := store.Open(t.Context(), store.Options{Dialect: store.SQLite, Path: path}, Migrations)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(db, clock)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopenable returns a function that opens (again) one database of the backend: a SQLite file, or a fresh
// PostgreSQL database (testenv.PostgresDSN).
func reopenable(t *testing.T, backend string, clock Clock) func() *Store {
	t.Helper()
	opts := store.Options{Dialect: store.SQLite, Path: filepath.Join(t.TempDir(), "audit.db")}
	if backend == "postgres" {
		opts = store.Options{Dialect: store.Postgres, DSN: testenv.PostgresDSN(t)}
	}
	return func() *Store {
		db, err := store.Open(t.Context(), opts, Migrations)
		if err != nil {
			t.Fatal(err)
		}
		s := NewStore(db, clock)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

var backends = []string{"sqlite", "postgres"}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)} }

var (
	alice = Call{Server: "db", Method: "tools/call", Tool: "sql", Arguments: json.RawMessage(`{"query":"DROP TABLE t"}`),
		Principal: "oidc:alice@idp", User: "alice", SessionID: "s1", Rule: "default-ask-destructive"}
	bob = Approver{ID: "oidc:bob@idp", User: "bob", Groups: []string{"dba"}}
)

func with(c Call, f func(*Call)) Call { f(&c); return c }

// TestGrantScopes: which later calls each scope lets through, and that grants expire by the clock.
func TestGrantScopes(t *testing.T) {
	other := func(c *Call) { c.Arguments = json.RawMessage(`{"query":"DROP TABLE u"}`) }
	reordered := func(c *Call) { c.Arguments = json.RawMessage(`{ "query" : "DROP TABLE t" }`) }
	otherSession := func(c *Call) { c.SessionID = "s2" }
	otherUser := func(c *Call) { c.Principal, c.User = "oidc:carol@idp", "carol" }
	otherTool := func(c *Call) { c.Tool = "shell" }
	for _, tc := range []struct {
		scope Scope
		ttl   time.Duration
		// which calls pass, in order: same, same again, other args, reformatted args, other session, other user, other tool
		want []bool
	}{
		{ScopeOnce, 0, []bool{true, false, false, false, false, false, false}},
		{ScopeArgs, 10 * time.Minute, []bool{true, true, false, true, true, false, false}},
		{ScopeSession, time.Hour, []bool{true, true, true, true, false, false, false}},
		{ScopeUser, 8 * time.Hour, []bool{true, true, true, true, true, false, false}},
	} {
		t.Run(string(tc.scope), func(t *testing.T) {
			clock := newClock()
			st := openStore(t, filepath.Join(t.TempDir(), "a.db"), clock)
			b, err := NewBroker(BrokerConfig{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			a, err := b.Park(t.Context(), alice)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.Decide(t.Context(), a.ID, Decision{Approve: true, By: bob, Scope: tc.scope, TTL: tc.ttl}); err != nil {
				t.Fatal(err)
			}
			var got []bool
			for _, c := range []Call{alice, alice, with(alice, other), with(alice, reordered), with(alice, otherSession), with(alice, otherUser), with(alice, otherTool)} {
				g, err := b.Check(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, g != nil)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("calls let through (-want +got):\n%s", diff)
			}
			if tc.scope == ScopeOnce {
				return
			}
			clock.Advance(tc.ttl - time.Second)
			if g, _ := b.Check(t.Context(), alice); g == nil {
				t.Errorf("grant gone a second before it expires")
			}
			clock.Advance(2 * time.Second)
			if g, _ := b.Check(t.Context(), alice); g != nil {
				t.Errorf("grant %s still used after it expired", g.ID)
			}
			if gs, _ := st.Grants(t.Context(), false); len(gs) != 0 {
				t.Errorf("active grants after expiry: %+v", gs)
			}
		})
	}
}

// TestDecideRules: decisions happen once, and four-eyes, approver groups and in-band self-approval follow
// the rule.
func TestDecideRules(t *testing.T) {
	self := Approver{ID: alice.Principal, User: alice.User, Groups: []string{"dba"}}
	selfInBand := Approver{ID: alice.Principal, User: alice.User, InBand: true}
	outsider := Approver{ID: "oidc:eve@idp", User: "eve", Groups: []string{"dev"}}
	for _, tc := range []struct {
		name    string
		req     Requirement
		by      Approver
		refused bool
	}{
		{"anyone may approve", Requirement{}, outsider, false},
		{"the caller may approve without four eyes", Requirement{}, self, false},
		{"four eyes refuses the caller", Requirement{FourEyes: true}, self, true},
		{"four eyes refuses the same user under another id", Requirement{FourEyes: true}, Approver{ID: "api_key:alice", User: "alice"}, true},
		{"four eyes accepts another approver", Requirement{FourEyes: true}, bob, false},
		{"groups refuse an outsider", Requirement{Approvers: []string{"dba"}}, outsider, true},
		{"groups accept a member", Requirement{Approvers: []string{"dba"}}, bob, false},
		{"in-band needs self_approve", Requirement{}, selfInBand, true},
		{"in-band with self_approve", Requirement{SelfApprove: true}, selfInBand, false},
		{"in-band never with four eyes", Requirement{SelfApprove: true, FourEyes: true}, selfInBand, true},
		{"in-band with groups refuses a caller outside them", Requirement{SelfApprove: true, Approvers: []string{"dba"}}, selfInBand, true},
		{"in-band with groups accepts a caller in one", Requirement{SelfApprove: true, Approvers: []string{"dba"}},
			Approver{ID: alice.Principal, User: alice.User, Groups: []string{"dba"}, InBand: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, filepath.Join(t.TempDir(), "a.db"), newClock())
			a, err := st.Create(t.Context(), alice, tc.req, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = st.Decide(t.Context(), a.ID, Decision{Approve: true, By: tc.by})
			var re *RefusedError
			if got := errors.As(err, &re); got != tc.refused {
				t.Fatalf("refused = %v (err %v), want %v", got, err, tc.refused)
			}
			if !tc.refused {
				if _, _, err := st.Decide(t.Context(), a.ID, Decision{By: bob}); !errors.As(err, &re) {
					t.Errorf("second decision: err = %v, want a refusal", err)
				}
			}
		})
	}
}

// TestExpiredApproval: an approval cannot be approved once its pending TTL is over.
func TestExpiredApproval(t *testing.T) {
	clock := newClock()
	st := openStore(t, filepath.Join(t.TempDir(), "a.db"), clock)
	a, err := st.Create(t.Context(), alice, Requirement{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	var re *RefusedError
	if _, _, err := st.Decide(t.Context(), a.ID, Decision{Approve: true, By: bob}); !errors.As(err, &re) {
		t.Errorf("late approval: err = %v, want a refusal", err)
	}
	if l, _ := st.List(t.Context(), StatusPending); len(l) != 0 {
		t.Errorf("expired approval still listed as pending: %+v", l)
	}
}

// TestRestart: pending approvals and grants survive closing and reopening the store.
func TestRestart(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { testRestart(t, b) })
	}
}

func testRestart(t *testing.T, backend string) {
	clock := newClock()
	open := reopenable(t, backend, clock)
	st := open()
	pendingA, err := st.Create(t.Context(), alice, Requirement{FourEyes: true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	granted, err := st.Create(t.Context(), with(alice, func(c *Call) { c.Tool = "shell" }), Requirement{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := st.Decide(t.Context(), granted.ID, Decision{Approve: true, By: bob, Scope: ScopeUser, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open()
	list, err := st.List(t.Context(), StatusPending)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("pending after reopening = %d, want 1", len(list))
	}
	if diff := cmp.Diff(pendingA, list[0]); diff != "" {
		t.Errorf("pending approval after reopening (-want +got):\n%s", diff)
	}
	grants, err := st.Grants(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 {
		t.Fatalf("grants after reopening = %d, want 1", len(grants))
	}
	if diff := cmp.Diff(g, grants[0]); diff != "" {
		t.Errorf("grant after reopening (-want +got):\n%s", diff)
	}
	if err := st.Revoke(t.Context(), g.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.FindGrant(t.Context(), with(alice, func(c *Call) { c.Tool = "shell" })); got != nil {
		t.Errorf("revoked grant still found")
	}
	if err := st.Revoke(t.Context(), g.ID, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: err = %v, want ErrNotFound", err)
	}
}

// TestAwait: a decision made through another handle on the same database releases a parked call; the
// timeout refuses it (or forwards it when so configured); a client going away leaves the approval pending.
func TestAwait(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { testAwait(t, b) })
	}
}

func testAwait(t *testing.T, backend string) {
	open := reopenable(t, backend, nil)
	st := open()
	cli := open() // as the CLI in another process
	b, err := NewBroker(BrokerConfig{Store: st, Poll: 10 * time.Millisecond, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	a, err := b.Park(t.Context(), alice)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _, _ = cli.Decide(context.Background(), a.ID, Decision{Approve: true, By: bob, Scope: ScopeArgs})
	}()
	out, err := b.Await(t.Context(), a, nil, nil)
	if err != nil || out.Result != Approved || out.Grant == nil || out.Grant.Uses != 1 {
		t.Fatalf("await = %+v, %v; want approved with a used grant", out, err)
	}

	short, _ := NewBroker(BrokerConfig{Store: st, Poll: 10 * time.Millisecond, Timeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = short.Close() })
	a, _ = short.Park(t.Context(), alice)
	if out, err := short.Await(t.Context(), a, nil, nil); err != nil || out.Result != TimedOut {
		t.Errorf("await with nobody deciding = %+v, %v; want timed_out", out, err)
	}
	allow, _ := NewBroker(BrokerConfig{Store: st, Poll: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, AllowOnTimeout: true})
	t.Cleanup(func() { _ = allow.Close() })
	if out, err := allow.Await(t.Context(), a, nil, nil); err != nil || out.Result != AllowedOnTimeout {
		t.Errorf("await with allow on timeout = %+v, %v", out, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Await(ctx, a, nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("await with the client gone: err = %v", err)
	}
	if cur, _ := st.Get(t.Context(), a.ID); cur.Status != StatusPending {
		t.Errorf("status after the wait ended = %s, want pending", cur.Status)
	}

	if backend != "postgres" {
		return
	}
	// PostgreSQL: a decision wakes the parked call through NOTIFY, without waiting for a poll.
	notified, err := NewBroker(BrokerConfig{Store: st, Poll: time.Hour, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = notified.Close() })
	a, _ = notified.Park(t.Context(), with(alice, func(c *Call) { c.Tool = "notify" }))
	go func() { _, _, _ = cli.Decide(context.Background(), a.ID, Decision{By: bob, Reason: "no"}) }()
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if out, err := notified.Await(ctx, a, nil, nil); err != nil || out.Result != Denied {
		t.Errorf("await with an hourly poll = %+v, %v; want denied, woken by NOTIFY", out, err)
	}
}

func TestArgsHashCanonical(t *testing.T) {
	if ArgsHash(json.RawMessage(`{"a":1,"b":[1,2]}`)) != ArgsHash(json.RawMessage(`{ "b":[1, 2], "a":1 }`)) {
		t.Error("equal arguments written differently hash differently")
	}
	if ArgsHash(json.RawMessage(`{"a":1}`)) == ArgsHash(json.RawMessage(`{"a":2}`)) {
		t.Error("different arguments hash the same")
	}
}

// TestAwaitReleasesOnce: an approval releases calls only through its grant. A second wait on an approval
// whose once grant was used (a replay of the approval), or whose grant was revoked, is Spent, not Approved.
func TestAwaitReleasesOnce(t *testing.T) {
	st := reopenable(t, "sqlite", nil)()
	b, err := NewBroker(BrokerConfig{Store: st, Poll: 10 * time.Millisecond, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	for _, c := range []struct {
		name   string
		scope  Scope
		revoke bool
	}{{"once used", ScopeOnce, false}, {"user revoked", ScopeUser, true}} {
		a, err := b.Park(t.Context(), alice)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Decide(t.Context(), a.ID, Decision{Approve: true, By: bob, Scope: c.scope}); err != nil {
			t.Fatal(err)
		}
		if out, err := b.Await(t.Context(), a, nil, nil); err != nil || out.Result != Approved {
			t.Fatalf("%s: first wait = %+v, %v; want approved", c.name, out, err)
		}
		cur, _ := st.Get(t.Context(), a.ID)
		if c.revoke {
			if err := st.Revoke(t.Context(), cur.GrantID, "carol"); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := b.Await(t.Context(), a, nil, nil); err != nil || out.Result != Spent {
			t.Errorf("%s: second wait on the same approval = %+v, %v; want spent", c.name, out.Result, err)
		}
	}
}

// TestGrantBoundToAction: a grant covers the action it was approved for. Approving a tool call lets neither
// a prompt nor a resource of the same name through, nor the release of a held result, and the other way
// round; a grant stored before grants named their action covers tool calls only.
func TestGrantBoundToAction(t *testing.T) {
	prompt := func(c *Call) { c.Method = "prompts/get" }
	release := func(c *Call) { c.Release, c.Rule = true, "dataflow-result" }
	for _, tc := range []struct {
		name     string
		approved Call
		legacy   bool
		// which calls pass: the tool call, the prompt of that name, the release of the tool's result
		want []bool
	}{
		{"tool call", alice, false, []bool{true, false, false}},
		{"prompt", with(alice, prompt), false, []bool{false, true, false}},
		{"result release", with(alice, release), false, []bool{false, false, true}},
		{"grant stored before actions", alice, true, []bool{true, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, filepath.Join(t.TempDir(), "a.db"), newClock())
			b, err := NewBroker(BrokerConfig{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			a, err := b.Park(t.Context(), tc.approved)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.Decide(t.Context(), a.ID, Decision{Approve: true, By: bob, Scope: ScopeUser}); err != nil {
				t.Fatal(err)
			}
			if tc.legacy {
				if _, err := st.db.ExecContext(t.Context(), "UPDATE approval_grants SET action = ''"); err != nil {
					t.Fatal(err)
				}
			}
			var got []bool
			for _, c := range []Call{alice, with(alice, prompt), with(alice, release)} {
				g, err := b.Check(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, g != nil)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("calls let through (-want +got):\n%s", diff)
			}
		})
	}
}
