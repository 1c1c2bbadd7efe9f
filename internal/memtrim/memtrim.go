// Package memtrim gives the Go heap's free memory back to the operating system once the process goes
// quiet.
//
// The runtime keeps a heap of up to twice its live size between collections (GOGC=100), and its
// background scavenger only returns pages above about that goal. A gateway allocates most at start
// (≈ 30 MB of garbage while its detectors compile, for ≈ 9 MB kept) and during bursts of calls, then
// idles with that memory resident. Run notices the quiet after such a phase and trims once: a
// collection, then every free page returned (debug.FreeOSMemory). It does not trim while the process
// is allocating, so calls do not wait for it; the heap grows again on demand.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Settings of Run.
const (
	// QuietRate is the most the heap may allocate per second for the process to count as quiet: less
	// than one small tool call through the gateway (≈ 70 KiB).
	QuietRate = 64 << 10
	// Churn is the least the heap must have allocated since the last trim for another one to be worth
	// its collection.
	Churn = 4 << 20
	// MinInterval and MaxInterval bound the time between two readings of the heap's allocations: the
	// shortest while the process allocates, so that a trim follows soon after the quiet begins; doubling
	// up to the longest while it stays quiet, so that an idle process is hardly woken.
	MinInterval = 250 * time.Millisecond
	MaxInterval = 4 * time.Second
)

const allocsMetric = "/gc/heap/allocs:bytes"

// Run trims the heap whenever the process goes quiet after allocating at least Churn bytes, until ctx
// ends. It reads the heap's cumulative allocations (runtime/metrics) at intervals between MinInterval
// and MaxInterval; an interval in which the heap allocated at most QuietRate bytes per second is quiet.
func Run(ctx context.Context) {
	sample := []metrics.Sample{{Name: allocsMetric}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0 // unknown to this runtime: nothing is ever allocated, so nothing is trimmed
		}
		return sample[0].Value.Uint64()
	}
	s := newState(read())
	t := time.NewTimer(s.interval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if s.step(read(), now.Sub(last)) {
			debug.FreeOSMemory()
			s.trimmed(read())
		}
		last = now
		t.Reset(s.interval)
	}
}

// state decides when to trim from successive readings of the heap's cumulative allocations.
type state struct {
	last     uint64 // the previous reading
	base     uint64 // the reading after the last trim, or the first one
	interval time.Duration
}

func newState(now uint64) *state {
	return &state{last: now, base: now, interval: MinInterval}
}

// step takes a reading made elapsed after the previous one, sets the interval before the next, and
// reports whether to trim now: the heap allocated at most QuietRate bytes per second since the previous
// reading, and at least Churn since the last trim.
func (s *state) step(now uint64, elapsed time.Duration) bool {
	quiet := float64(now-s.last) <= QuietRate*elapsed.Seconds()
	s.last = now
	if !quiet {
		s.interval = MinInterval
		return false
	}
	s.interval = min(2*s.interval, MaxInterval)
	return now-s.base >= Churn
}

// trimmed records a trim, with the reading taken after it (the collection itself allocates a little).
func (s *state) trimmed(now uint64) { s.last, s.base = now, now }
