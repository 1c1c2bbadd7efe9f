package policy

import (
	"context"
	"sync"
	"time"
)

// Limiter enforces the rate limits and quotas that limit rules describe: a token bucket per LimitHit.Key
// holding Count tokens, refilled at Count per Per. The count+1st call inside one period is refused. A
// Limiter is safe for concurrent use; its owner keeps it across policy reloads so that reloading does not
// reset counters.
type Limiter struct {
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// Shared, when set, counts instead of the in-memory buckets, for every Limiter that uses the same
	// counter (gateway replicas on one database). Its semantics are its own (see SharedCounter).
	Shared SharedCounter

	mu      sync.Mutex
	buckets map[string]*bucket
	sweeps  int
}

type bucket struct {
	tokens float64
	last   time.Time
	count  int
	per    time.Duration
}

// NewLimiter returns an empty Limiter.
func NewLimiter() *Limiter { return &Limiter{buckets: map[string]*bucket{}} }

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// SharedCounter counts calls in one place for several Limiters.
type SharedCounter interface {
	// Take counts one call against every hit unless one of them is already at its limit; it returns the
	// index of the first refused hit (nothing is counted then), or -1 when the call may proceed. An error
	// means nothing could be decided.
	Take(ctx context.Context, hits []LimitHit, now time.Time) (int, error)
}

// TakeContext is Take for a Limiter that may count in a SharedCounter: an error from it is returned with
// the first hit, which the caller refuses (fail closed).
func (l *Limiter) TakeContext(ctx context.Context, hits []LimitHit) (*LimitHit, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	if l.Shared == nil {
		return l.Take(hits), nil
	}
	i, err := l.Shared.Take(ctx, hits, l.now())
	switch {
	case err != nil:
		return &hits[0], err
	case i >= 0 && i < len(hits):
		return &hits[i], nil
	}
	return nil, nil
}

// Take consumes one token from every hit's bucket. It returns the first hit whose bucket is empty (nothing
// is consumed then), or nil when the call may proceed.
func (l *Limiter) Take(hits []LimitHit) *LimitHit {
	if len(hits) == 0 {
		return nil
	}
	if l.Shared != nil {
		hit, _ := l.TakeContext(context.Background(), hits)
		return hit
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	bs := make([]*bucket, len(hits))
	for i, h := range hits {
		b := l.buckets[h.Key]
		if b == nil || b.count != h.Count || b.per != h.Per {
			b = &bucket{tokens: float64(h.Count), last: now, count: h.Count, per: h.Per}
			l.buckets[h.Key] = b
		}
		if el := now.Sub(b.last); el > 0 {
			b.tokens = min(float64(b.count), b.tokens+float64(b.count)*float64(el)/float64(b.per))
			b.last = now
		}
		if b.tokens < 1 {
			return &hits[i]
		}
		bs[i] = b
	}
	for _, b := range bs {
		b.tokens--
	}
	return nil
}

// sweep drops buckets that have refilled completely, every 1024 calls.
func (l *Limiter) sweep(now time.Time) {
	l.sweeps++
	if l.sweeps%1024 != 0 {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.last) >= b.per {
			delete(l.buckets, k)
		}
	}
}
