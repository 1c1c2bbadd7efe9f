package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// SoakOptions describe a constant-load run for a fixed duration.
type SoakOptions struct {
	Endpoint Endpoint
	// Sessions is the number of sessions, each calling back to back (closed loop; default 1).
	Sessions int
	// Duration of the run (1 s … 7 days) and Interval between sample lines (default 10 s).
	Duration time.Duration
	Interval time.Duration
	// PID, when set, is the process whose RSS and thread count are sampled (the gateway).
	PID int
	// MetricsURL, when set, is a Prometheus text endpoint whose go_goroutines gauge is sampled.
	MetricsURL string
	// Tool and Args choose the call; empty Tool lets PickTool choose.
	Tool            string
	Args            json.RawMessage
	ProtocolVersion string
	ConnectTimeout  time.Duration
	CallTimeout     time.Duration
}

// CheckAndSetDefaults validates o and fills defaults.
func (o *SoakOptions) CheckAndSetDefaults() error {
	if err := o.Endpoint.Check(); err != nil {
		return err
	}
	if o.Sessions <= 0 {
		o.Sessions = 1
	}
	if o.Duration < time.Second || o.Duration > 7*24*time.Hour {
		return fmt.Errorf("--duration %v is out of range (1s…168h)", o.Duration)
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	o.Interval = min(o.Interval, o.Duration)
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	return nil
}

// SoakSample is one interval of a soak run. Fields that were not sampled are omitted.
type SoakSample struct {
	ElapsedSeconds float64  `json:"elapsed_seconds"`
	Calls          int      `json:"calls"`
	Errors         int      `json:"errors"`
	CallsPerSec    float64  `json:"calls_per_sec"`
	P50US          float64  `json:"p50_us"`
	P99US          float64  `json:"p99_us"`
	RSSBytes       int64    `json:"rss_bytes,omitempty"`
	Threads        int      `json:"threads,omitempty"`
	Goroutines     int      `json:"goroutines,omitempty"`
	SampleErrors   []string `json:"sample_errors,omitempty"` // why RSS or goroutines could not be read
}

// SoakReport is the result of Soak.
type SoakReport struct {
	Samples []SoakSample `json:"samples"`
	Total   Stats        `json:"total"`
	// RSSGrowthBytes is the last sampled RSS minus the first, and RSSGrowthPerCall that growth divided by
	// the calls made between the two samples: under flat load, a steady positive figure is a leak.
	RSSGrowthBytes   int64   `json:"rss_growth_bytes,omitempty"`
	RSSGrowthPerCall float64 `json:"rss_growth_bytes_per_call,omitempty"`
}

// maxKeptLatencies bounds the latencies a soak run keeps for its total percentiles (80 MB).
const maxKeptLatencies = 10_000_000

// Soak keeps o.Sessions sessions calling for o.Duration and calls emit with one sample per interval (and
// one for the last partial interval). It stops early, returning what it has, when ctx ends.
func Soak(ctx context.Context, o SoakOptions, emit func(SoakSample)) (*SoakReport, error) {
	if err := o.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	p, err := Dial(ctx, o.Endpoint, o.Sessions, o.ProtocolVersion, o.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	call, err := ResolveCall(ctx, p, o.Tool, o.Args, o.CallTimeout)
	if err != nil {
		return nil, err
	}

	var (
		mu       sync.Mutex
		interval = &recorder{}
		total    recorder
	)
	record := func(d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		interval.add(d, err)
		if len(total.lat) < maxKeptLatencies || err != nil {
			total.add(d, err)
		}
	}

	start := time.Now()
	runCtx, cancel := context.WithDeadline(ctx, start.Add(o.Duration))
	defer cancel()
	var wg sync.WaitGroup
	for _, cs := range p.Sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				d, err := call.do(runCtx, cs, o.CallTimeout)
				if runCtx.Err() != nil {
					return // the run ended under this call; it is not a server error
				}
				record(d, err)
			}
		}()
	}

	rep := &SoakReport{}
	last := start
	takeSample := func(now time.Time) {
		mu.Lock()
		iv := interval
		interval = &recorder{}
		mu.Unlock()
		iv.wall = now.Sub(last)
		last = now
		st := iv.stats("", "")
		s := SoakSample{ElapsedSeconds: now.Sub(start).Seconds(), Calls: st.Calls, Errors: st.Errors,
			CallsPerSec: st.CallsPerSec, P50US: st.P50US, P99US: st.P99US}
		if o.PID > 0 {
			if ps, err := ReadProcStatus(o.PID); err != nil {
				s.SampleErrors = append(s.SampleErrors, err.Error())
			} else {
				s.RSSBytes, s.Threads = ps.RSSBytes, ps.Threads
			}
		}
		if o.MetricsURL != "" {
			if n, err := FetchGoroutines(ctx, o.MetricsURL); err != nil {
				s.SampleErrors = append(s.SampleErrors, err.Error())
			} else {
				s.Goroutines = n
			}
		}
		rep.Samples = append(rep.Samples, s)
		if emit != nil {
			emit(s)
		}
	}
	ticker := time.NewTicker(o.Interval)
	defer ticker.Stop()
loop:
	for {
		select {
		case now := <-ticker.C:
			if now.Sub(start) < o.Duration {
				takeSample(now)
			}
		case <-runCtx.Done():
			break loop
		}
	}
	wg.Wait()
	takeSample(time.Now())
	total.wall = time.Since(start)
	rep.Total = total.stats(o.Endpoint.Label, o.Endpoint.String())
	rep.Total.ProtocolVersion, rep.Total.Tool, rep.Total.Sessions = p.ProtocolVersion, call.Tool, o.Sessions
	rep.rssGrowth()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("soak run stopped after %.0fs: %w", time.Since(start).Seconds(), context.Cause(ctx))
	}
	return rep, nil
}

// rssGrowth fills the RSS growth figures from the first and last samples that have an RSS.
func (r *SoakReport) rssGrowth() {
	first, last := -1, -1
	for i, s := range r.Samples {
		if s.RSSBytes > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || last == first {
		return
	}
	calls := 0
	for _, s := range r.Samples[first+1 : last+1] {
		calls += s.Calls
	}
	r.RSSGrowthBytes = r.Samples[last].RSSBytes - r.Samples[first].RSSBytes
	if calls > 0 {
		r.RSSGrowthPerCall = float64(r.RSSGrowthBytes) / float64(calls)
	}
}
