package memtrim

import (
	"context"
	"runtime/metrics"
	"testing"
	"time"
)

// TestStep walks the decision through start-up, a burst, an idle stretch and light traffic.
func TestStep(t *testing.T) {
	const sec = time.Second
	s := newState(10 << 20)
	steps := []struct {
		what    string
		alloc   uint64 // allocated since the previous reading
		elapsed time.Duration
		trim    bool
		next    time.Duration
	}{
		{"warm-up", 20 << 20, sec / 4, false, MinInterval},
		{"warm-up ends, quiet after churn", 1 << 10, sec / 4, true, 2 * MinInterval},
		{"quiet, nothing new", 0, sec / 2, false, 4 * MinInterval},
		{"quiet, nothing new", 0, sec, false, 8 * MinInterval},
		{"quiet, nothing new", 0, 2 * sec, false, MaxInterval},
		{"quiet, nothing new", 0, 4 * sec, false, MaxInterval},
		{"a burst begins", 3 << 20, 4 * sec, false, MinInterval},
		{"the burst goes on", 2 << 20, sec / 4, false, MinInterval},
		{"the burst ends", 10 << 10, sec / 4, true, 2 * MinInterval},
		{"light traffic: quiet, too little for a trim", 100 << 10, 2 * sec, false, 4 * MinInterval},
		{"light traffic", 200 << 10, 4 * sec, false, 8 * MinInterval},
		{"more than the quiet rate", 300 << 10, 4 * sec, false, MinInterval},
		{"quiet again, 4 MiB since the last trim", 3600 << 10, 60 * sec, true, 2 * MinInterval},
	}
	now := s.last
	for _, st := range steps {
		now += st.alloc
		got := s.step(now, st.elapsed)
		if got {
			now += 32 << 10 // the collection's own allocations
			s.trimmed(now)
		}
		if got != st.trim || s.interval != st.next {
			t.Errorf("%s: trim %v, next reading in %v; want %v, %v", st.what, got, s.interval, st.trim, st.next)
		}
	}
}

// TestRunTrimsWhenQuiet: after churn, Run collects (debug.FreeOSMemory counts as a forced cycle) once
// the process is quiet, and returns when its context ends.
func TestRunTrimsWhenQuiet(t *testing.T) {
	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	before := forced()
	go func() {
		Run(ctx)
		close(done)
	}()
	for range 2 * Churn / (64 << 10) {
		sink = make([]byte, 64<<10) // on the heap: sink escapes
	}
	sink = nil
	deadline := time.Now().Add(30 * time.Second)
	for forced() == before {
		if time.Now().After(deadline) {
			t.Fatal("no trim 30 s after the churn")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
}

var sink []byte
