package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/policy"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestCounterSharedAcrossLimiters: two Limiters (two replicas) on one PostgreSQL database enforce one limit
// together: 5 calls per minute admit 5 calls in total, whichever Limiter takes them; the next window starts
// over; a call with two hits counts against neither when one is full; a database that is gone refuses the
// call with an error (fail closed).
func TestCounterSharedAcrossLimiters(t *testing.T) {
	cfg := &config.Config{Audit: config.Audit{Store: "postgres", PostgresDSN: testenv.PostgresDSN(t)}}
	ctx := context.Background()
	open := func() *policy.Limiter {
		db, err := OpenDB(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		l := policy.NewLimiter()
		l.Shared = NewCounter(db)
		return l
	}
	a, b := open(), open()
	now := time.Date(2026, 11, 24, 10, 0, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	a.Now, b.Now = clock, clock

	hit := policy.LimitHit{RuleID: "five", Key: "five|alice|fs|read", Count: 5, Per: time.Minute}
	other := policy.LimitHit{RuleID: "other", Key: "other|alice", Count: 100, Per: time.Minute}
	admitted := 0
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		h, err := l.TakeContext(ctx, []policy.LimitHit{other, hit})
		if err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
		if h == nil {
			admitted++
		} else if h.RuleID != "five" {
			t.Fatalf("take %d refused by %q, want five", i, h.RuleID)
		}
	}
	if admitted != 5 {
		t.Fatalf("two limiters admitted %d calls under a shared limit of 5 per minute", admitted)
	}
	// The refused calls did not count against the other rule: 5 of its 100 are used.
	var n int
	db, _ := OpenDB(ctx, cfg)
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT count FROM cluster_rate_counters WHERE key = $1`, other.Key).Scan(&n); err != nil || n != 5 {
		t.Fatalf("the other rule's counter is %d (%v), want 5: refused calls must not count", n, err)
	}
	// The next window starts over.
	now = now.Add(time.Minute)
	if h, err := b.TakeContext(ctx, []policy.LimitHit{hit}); h != nil || err != nil {
		t.Fatalf("first call of the next window refused: %+v %v", h, err)
	}
	// Fail closed: the database is gone.
	dead := policy.NewLimiter()
	dbDead, err := OpenDB(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = dbDead.Close()
	dead.Shared = NewCounter(dbDead)
	if h, err := dead.TakeContext(ctx, []policy.LimitHit{hit}); h == nil || err == nil {
		t.Fatalf("a limiter whose database is closed returned %+v, %v; want the hit and an error", h, err)
	}
	if h := dead.Take([]policy.LimitHit{hit}); h == nil {
		t.Fatal("Take on a limiter whose database is closed let the call through")
	}
}

// BenchmarkCounterTake: one limited call counted in PostgreSQL (one transaction, one upsert).
func BenchmarkCounterTake(b *testing.B) {
	cfg := &config.Config{Audit: config.Audit{Store: "postgres", PostgresDSN: testenv.PostgresDSN(b)}}
	db, err := OpenDB(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	c := NewCounter(db)
	hits := []policy.LimitHit{{RuleID: "r", Key: "r|alice|fs|read", Count: 1 << 30, Per: time.Hour}}
	for b.Loop() {
		if _, err := c.Take(context.Background(), hits, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
