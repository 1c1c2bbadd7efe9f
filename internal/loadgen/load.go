package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Options describe a load run: Sessions concurrent sessions, each making Calls calls.
type Options struct {
	// Sessions is the number of concurrent client sessions per endpoint (default 1).
	Sessions int
	// Calls is the number of calls each session makes (default 1000).
	Calls int
	// Warmup is the number of unmeasured calls each session makes first (default 20, capped at Calls).
	Warmup int
	// Rounds is the number of alternating rounds when a baseline is measured (default 10, capped at
	// Calls): round r runs target then baseline for even r and baseline then target for odd r.
	Rounds int
	// Tool and Args choose the call; an empty Tool lets PickTool choose on the target.
	Tool string
	Args json.RawMessage
	// BaselineTool overrides the tool name used on the baseline (default: the target's, or that name
	// without an aggregate "{server}." prefix when the baseline lacks it).
	BaselineTool string
	// ProtocolVersion is asked of both endpoints ("" = the client's latest, with fallback).
	ProtocolVersion string
	// ConnectTimeout and CallTimeout bound each connect and each call.
	ConnectTimeout time.Duration
	CallTimeout    time.Duration
	// PID, when set, is the gateway's process: the report gives its CPU time per measured call (Linux),
	// which machine load disturbs far less than latency does.
	PID int
}

// CheckAndSetDefaults validates o and fills defaults.
func (o *Options) CheckAndSetDefaults() error {
	if o.Sessions == 0 {
		o.Sessions = 1
	}
	if o.Calls == 0 {
		o.Calls = 1000
	}
	if o.Sessions < 1 || o.Sessions > 100000 {
		return fmt.Errorf("--sessions %d is out of range (1…100000)", o.Sessions)
	}
	if o.Calls < 1 || o.Calls > 100_000_000 {
		return fmt.Errorf("--calls %d is out of range (1…100000000 per session)", o.Calls)
	}
	if o.Warmup < 0 {
		o.Warmup = 20
	}
	o.Warmup = min(o.Warmup, o.Calls)
	if o.Rounds <= 0 {
		o.Rounds = 10
	}
	o.Rounds = min(o.Rounds, o.Calls)
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	return nil
}

// Stats summarise the measured calls of one endpoint. Latencies are in microseconds.
type Stats struct {
	Label           string   `json:"label"`
	Endpoint        string   `json:"endpoint"`
	ProtocolVersion string   `json:"protocol_version"`
	Tool            string   `json:"tool"`
	Sessions        int      `json:"sessions"`
	Calls           int      `json:"calls"`  // measured calls, errors included
	Errors          int      `json:"errors"` // calls that failed or returned isError
	ErrorSamples    []string `json:"error_samples,omitempty"`
	MinUS           float64  `json:"min_us"`
	MeanUS          float64  `json:"mean_us"`
	P50US           float64  `json:"p50_us"`
	P90US           float64  `json:"p90_us"`
	P99US           float64  `json:"p99_us"`
	P999US          float64  `json:"p999_us"`
	MaxUS           float64  `json:"max_us"`
	CallsPerSec     float64  `json:"calls_per_sec"` // successful calls / wall time of this endpoint's rounds
	WallSeconds     float64  `json:"wall_seconds"`
}

// Comparison relates the target to the baseline.
type Comparison struct {
	AddedP50US float64 `json:"added_p50_us"` // target p50 − baseline p50
	AddedP99US float64 `json:"added_p99_us"` // target p99 − baseline p99
	// ThroughputPct is target calls/s as a percentage of baseline calls/s.
	ThroughputPct float64 `json:"throughput_pct_of_baseline"`
}

// LoadReport is the result of Run.
type LoadReport struct {
	Target   Stats       `json:"target"`
	Baseline *Stats      `json:"baseline,omitempty"`
	Compare  *Comparison `json:"comparison,omitempty"`
	Rounds   int         `json:"rounds"`
	Warmup   int         `json:"warmup_calls_per_session"`
	// GatewayCPU is the CPU time the gateway process (Options.PID) used per measured call of the target,
	// everything it did during the measured rounds counted (background work such as audit syncs too).
	GatewayCPU *CPUPerCall `json:"gateway_cpu,omitempty"`
}

// CPUPerCall is a process's CPU time divided by the calls made.
type CPUPerCall struct {
	PID       int     `json:"pid"`
	UserUS    float64 `json:"user_us_per_call"`
	SystemUS  float64 `json:"system_us_per_call"`
	TotalUS   float64 `json:"total_us_per_call"`
	TickHz    int     `json:"clock_ticks_per_second"`
	CallsSeen int     `json:"calls"`
}

// recorder collects latencies and errors of one endpoint; safe for concurrent use.
type recorder struct {
	mu      sync.Mutex
	lat     []time.Duration
	errors  int
	samples []string
	wall    time.Duration
}

func (r *recorder) add(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors++
		msg := err.Error()
		if len(r.samples) < maxErrorSamples && !slices.Contains(r.samples, msg) {
			r.samples = append(r.samples, msg)
		}
		return
	}
	r.lat = append(r.lat, d)
}

func (r *recorder) stats(label, endpoint string) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Label: label, Endpoint: endpoint, Calls: len(r.lat) + r.errors, Errors: r.errors,
		ErrorSamples: slices.Clone(r.samples), WallSeconds: r.wall.Seconds()}
	if len(r.lat) > 0 {
		sorted := slices.Clone(r.lat)
		slices.Sort(sorted)
		var sum time.Duration
		for _, d := range sorted {
			sum += d
		}
		s.MinUS = us(sorted[0])
		s.MaxUS = us(sorted[len(sorted)-1])
		s.MeanUS = us(sum / time.Duration(len(sorted)))
		s.P50US = us(Percentile(sorted, 0.50))
		s.P90US = us(Percentile(sorted, 0.90))
		s.P99US = us(Percentile(sorted, 0.99))
		s.P999US = us(Percentile(sorted, 0.999))
	}
	if r.wall > 0 {
		s.CallsPerSec = float64(len(r.lat)) / r.wall.Seconds()
	}
	return s
}

// Percentile returns the p-quantile (0 ≤ p ≤ 1, nearest rank) of sorted latencies; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1 // ceil(n·p) − 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// Run measures target, and baseline when it is not nil, with the same sessions count, tool and call count,
// in alternating rounds so that machine noise hits both alike. Failed calls are counted, not fatal; failing
// to connect or to choose a tool is an error.
func Run(ctx context.Context, o Options, target Endpoint, baseline *Endpoint) (*LoadReport, error) {
	if err := o.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	tp, err := Dial(ctx, target, o.Sessions, o.ProtocolVersion, o.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	defer tp.Close()
	tcall, err := ResolveCall(ctx, tp, o.Tool, o.Args, o.CallTimeout)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", target.Label, err)
	}
	pools := []*Pool{tp}
	calls := []Call{tcall}
	if baseline != nil {
		bp, err := Dial(ctx, *baseline, o.Sessions, o.ProtocolVersion, o.ConnectTimeout)
		if err != nil {
			return nil, err
		}
		defer bp.Close()
		var bcall Call
		if o.BaselineTool != "" {
			bcall = Call{Tool: o.BaselineTool, Args: tcall.Args}
		} else if bcall, err = baselineCall(ctx, bp, tcall, o.CallTimeout); err != nil {
			return nil, err
		}
		pools = append(pools, bp)
		calls = append(calls, bcall)
	}

	// Warm-up: connections, upstream processes, caches on every path.
	for i, p := range pools {
		var discard recorder
		if _, err := runRound(ctx, p, calls[i], o.Warmup, o.CallTimeout, &discard); err != nil {
			return nil, err
		}
		if len(discard.lat) == 0 && discard.errors > 0 {
			return nil, fmt.Errorf("endpoint %q: every warm-up call of %q failed; first error: %s", p.Endpoint.Label, calls[i].Tool, discard.samples[0])
		}
	}

	recs := make([]recorder, len(pools))
	for i := range recs {
		recs[i].lat = make([]time.Duration, 0, o.Sessions*o.Calls)
	}
	var cpu0 ProcCPU
	if o.PID > 0 {
		if cpu0, err = ReadProcCPU(o.PID); err != nil {
			return nil, err
		}
	}
	for r := range o.Rounds {
		n := o.Calls / o.Rounds
		if r < o.Calls%o.Rounds {
			n++
		}
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			if i >= len(pools) {
				continue
			}
			wall, err := runRound(ctx, pools[i], calls[i], n, o.CallTimeout, &recs[i])
			if err != nil {
				return nil, err
			}
			recs[i].wall += wall
		}
	}

	rep := &LoadReport{Rounds: o.Rounds, Warmup: o.Warmup}
	stats := func(i int) Stats {
		s := recs[i].stats(pools[i].Endpoint.Label, pools[i].Endpoint.String())
		s.ProtocolVersion, s.Tool, s.Sessions = pools[i].ProtocolVersion, calls[i].Tool, o.Sessions
		return s
	}
	rep.Target = stats(0)
	if o.PID > 0 {
		cpu1, err := ReadProcCPU(o.PID)
		if err != nil {
			return nil, err
		}
		if n := rep.Target.Calls; n > 0 {
			user, sys := cpu1.User-cpu0.User, cpu1.System-cpu0.System
			rep.GatewayCPU = &CPUPerCall{PID: o.PID, UserUS: float64(user.Microseconds()) / float64(n),
				SystemUS: float64(sys.Microseconds()) / float64(n), TotalUS: float64((user + sys).Microseconds()) / float64(n),
				TickHz: clockTicks, CallsSeen: n}
		}
	}
	if len(pools) > 1 {
		b := stats(1)
		rep.Baseline = &b
		rep.Compare = &Comparison{AddedP50US: rep.Target.P50US - b.P50US, AddedP99US: rep.Target.P99US - b.P99US}
		if b.CallsPerSec > 0 {
			rep.Compare.ThroughputPct = 100 * rep.Target.CallsPerSec / b.CallsPerSec
		}
	}
	return rep, nil
}

// runRound has every session of p make n calls concurrently, recording into rec, and returns the round's
// wall time. It returns an error only when ctx ends.
func runRound(ctx context.Context, p *Pool, c Call, n int, timeout time.Duration, rec *recorder) (time.Duration, error) {
	if n <= 0 {
		return 0, nil
	}
	var wg sync.WaitGroup
	start := time.Now()
	for _, cs := range p.Sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if ctx.Err() != nil {
					return
				}
				rec.add(c.do(ctx, cs, timeout))
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if err := ctx.Err(); err != nil {
		return wall, fmt.Errorf("load run stopped: %w", context.Cause(ctx))
	}
	return wall, nil
}
