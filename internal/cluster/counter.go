package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/policy"
	"github.com/mcpwarden/mcpwarden/internal/store"
)

// Counter is a policy.SharedCounter in PostgreSQL: the limit rules of every replica count in one table.
//
// Semantics: fixed windows. A rule "count N per P" admits at most N calls of one key (rule × principal ×
// server × tool, as the rule counts by) in each window [k·P, (k+1)·P) of Unix time, across all replicas;
// the N+1st call in a window is refused, and the count starts again at the next window. Unlike the
// in-memory token bucket, a burst of N at the end of one window and N at the start of the next is possible
// (at most 2N within any span of P). Windows follow the clock of the replica that counts, so replicas need
// synchronised clocks (NTP) for their windows to agree.
//
// A call with several limit hits counts against all of them in one transaction, or against none when one
// is full. When the database cannot be reached within Timeout, Take returns an error and the policy stage
// refuses the call (fail closed).
type Counter struct {
	db *store.DB
	// Timeout bounds one Take. Default 2s.
	Timeout time.Duration

	lastSweep atomic.Int64
}

// NewCounter returns a Counter on db, which must have been opened with Migrations.
func NewCounter(db *store.DB) *Counter { return &Counter{db: db, Timeout: 2 * time.Second} }

var _ policy.SharedCounter = (*Counter)(nil)

// sweepEvery is how often a Counter deletes windows that have ended.
const sweepEvery = time.Minute

// Take implements policy.SharedCounter.
func (c *Counter) Take(ctx context.Context, hits []policy.LimitHit, now time.Time) (int, error) {
	if len(hits) == 0 {
		return -1, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	// Rows are locked in key order, so concurrent calls with overlapping hits cannot deadlock.
	order := make([]int, len(hits))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return hits[order[a]].Key < hits[order[b]].Key })
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("rate-limit counters (PostgreSQL): %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	refused := -1
	for _, i := range order {
		h := hits[i]
		per := h.Per
		if per <= 0 {
			per = time.Second
		}
		window := now.UnixNano() - now.UnixNano()%int64(per)
		var n int64
		err := tx.QueryRowContext(ctx, `INSERT INTO cluster_rate_counters (key, window_ns, expires_ns, count) VALUES ($1, $2, $3, 1)
			ON CONFLICT (key, window_ns) DO UPDATE SET count = cluster_rate_counters.count + 1
			RETURNING count`, h.Key, window, window+int64(per)).Scan(&n)
		if err != nil {
			return -1, fmt.Errorf("rate-limit counters (PostgreSQL): %w", err)
		}
		if n > int64(h.Count) && (refused < 0 || i < refused) {
			refused = i
		}
	}
	if refused >= 0 {
		return refused, nil // the rollback undoes the counts
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("rate-limit counters (PostgreSQL): %w", err)
	}
	if last := c.lastSweep.Load(); now.UnixNano()-last > int64(sweepEvery) && c.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		_, _ = c.db.ExecContext(ctx, `DELETE FROM cluster_rate_counters WHERE expires_ns < $1`, now.UnixNano())
	}
	return -1, nil
}
