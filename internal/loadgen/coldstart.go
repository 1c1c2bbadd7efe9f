package loadgen

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ColdStartOptions describe a cold-start measurement.
type ColdStartOptions struct {
	// Exe is the mcpwarden binary (normally os.Executable()); Config its config file.
	Exe    string
	Config string
	// Runs is how many times the gateway is started (default 5, at most 1000).
	Runs int
	// Timeout bounds each start (default 30 s).
	Timeout time.Duration
}

// CheckAndSetDefaults validates o and fills defaults.
func (o *ColdStartOptions) CheckAndSetDefaults() error {
	if o.Exe == "" || o.Config == "" {
		return fmt.Errorf("cold start needs the gateway binary and --serve-config FILE")
	}
	if o.Runs == 0 {
		o.Runs = 5
	}
	if o.Runs < 1 || o.Runs > 1000 {
		return fmt.Errorf("--runs %d is out of range (1…1000)", o.Runs)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return nil
}

// ColdStartReport is the result of ColdStart: time from exec to the listen port accepting a connection.
type ColdStartReport struct {
	Runs     int       `json:"runs"`
	MinMS    float64   `json:"min_ms"`
	MedianMS float64   `json:"median_ms"`
	MaxMS    float64   `json:"max_ms"`
	AllMS    []float64 `json:"all_ms"`
}

// ColdStart starts `Exe serve --config Config` o.Runs times, one after the other, measuring each time from
// exec to the first accepted TCP connection, and stops each process before the next start.
func ColdStart(ctx context.Context, o ColdStartOptions) (*ColdStartReport, error) {
	if err := o.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	rep := &ColdStartReport{Runs: o.Runs}
	for i := range o.Runs {
		g, err := StartGateway(ctx, o.Exe, o.Config, o.Timeout, GatewayOptions{})
		if err != nil {
			return nil, fmt.Errorf("cold start %d of %d: %w", i+1, o.Runs, err)
		}
		rep.AllMS = append(rep.AllMS, float64(g.Listening.Sub(g.Started).Microseconds())/1e3)
		g.Stop(10 * time.Second)
	}
	sorted := slices.Clone(rep.AllMS)
	slices.Sort(sorted)
	rep.MinMS, rep.MaxMS = sorted[0], sorted[len(sorted)-1]
	if n := len(sorted); n%2 == 1 {
		rep.MedianMS = sorted[n/2]
	} else {
		rep.MedianMS = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return rep, nil
}
