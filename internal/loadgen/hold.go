package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// HoldOptions describe a session-hold run against a gateway process.
type HoldOptions struct {
	// Endpoint is the gateway's Streamable HTTP endpoint (a URL; stdio sessions would hold processes).
	Endpoint Endpoint
	// PID is the gateway process whose RSS is sampled.
	PID int
	// Hold is the number of idle sessions to open and keep (default 100).
	Hold int
	// ProbeSessions and ProbeCalls make the latency measurement before and while the sessions are held
	// (defaults 1 and 500; ProbeCalls is per probe session).
	ProbeSessions int
	ProbeCalls    int
	// Tool and Args choose the probe call; empty Tool lets PickTool choose.
	Tool string
	Args json.RawMessage
	// ProtocolVersion of every session (default "2025-11-25": the stateful era, where a session is state
	// the gateway keeps; sessions of the stateless 2026-07-28 era cost a server nothing while idle).
	ProtocolVersion string
	// Settle is how long to wait before each RSS sample (default 2s).
	Settle time.Duration
	// ConnectTimeout and CallTimeout bound each connect and each call.
	ConnectTimeout time.Duration
	CallTimeout    time.Duration
}

// CheckAndSetDefaults validates o and fills defaults.
func (o *HoldOptions) CheckAndSetDefaults() error {
	if o.Endpoint.URL == "" {
		return fmt.Errorf("hold mode needs the gateway's URL (--url, or a path such as /mcp/NAME with --serve-config)")
	}
	if err := o.Endpoint.Check(); err != nil {
		return err
	}
	if o.PID <= 0 {
		return fmt.Errorf("hold mode needs the gateway's process id (--pid PID) or --serve-config FILE to start one")
	}
	if o.Hold == 0 {
		o.Hold = 100
	}
	if o.Hold < 1 || o.Hold > 100000 {
		return fmt.Errorf("--hold %d is out of range (1…100000)", o.Hold)
	}
	if o.ProbeSessions <= 0 {
		o.ProbeSessions = 1
	}
	if o.ProbeCalls <= 0 {
		o.ProbeCalls = 500
	}
	if o.ProtocolVersion == "" {
		o.ProtocolVersion = "2025-11-25"
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	return nil
}

// HoldReport is the result of Hold. RSS figures are bytes of the gateway process.
type HoldReport struct {
	PID             int    `json:"pid"`
	Endpoint        string `json:"endpoint"`
	ProtocolVersion string `json:"protocol_version"`
	Held            int    `json:"held_sessions"`
	// IdleRSSBytes is the RSS after warm-up and the first latency probe, before the sessions are opened.
	IdleRSSBytes int64 `json:"idle_rss_bytes"`
	// HeldRSSBytes is the RSS with all sessions open and idle.
	HeldRSSBytes int64 `json:"held_rss_bytes"`
	// ReleasedRSSBytes is the RSS after the held sessions were closed (Go rarely returns memory at once).
	ReleasedRSSBytes int64 `json:"released_rss_bytes"`
	// BytesPerSession is (HeldRSSBytes − IdleRSSBytes) / Held.
	BytesPerSession float64 `json:"bytes_per_idle_session"`
	ThreadsIdle     int     `json:"threads_idle"`
	ThreadsHeld     int     `json:"threads_held"`
	OpenSeconds     float64 `json:"open_seconds"` // time to open all held sessions
	// Before and During are the probe latency without and with the held sessions.
	Before Stats `json:"latency_before"`
	During Stats `json:"latency_during"`
}

// Hold opens o.Hold idle sessions to the gateway and reports what they cost in memory and in call latency.
func Hold(ctx context.Context, o HoldOptions) (*HoldReport, error) {
	if err := o.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	probe, err := Dial(ctx, o.Endpoint, o.ProbeSessions, o.ProtocolVersion, o.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	defer probe.Close()
	call, err := ResolveCall(ctx, probe, o.Tool, o.Args, o.CallTimeout)
	if err != nil {
		return nil, err
	}
	rep := &HoldReport{PID: o.PID, Endpoint: o.Endpoint.String(), ProtocolVersion: probe.ProtocolVersion, Held: o.Hold}
	measure := func() (Stats, error) {
		var rec recorder
		wall, err := runRound(ctx, probe, call, o.ProbeCalls, o.CallTimeout, &rec)
		if err != nil {
			return Stats{}, err
		}
		rec.wall = wall
		s := rec.stats(o.Endpoint.Label, o.Endpoint.String())
		s.ProtocolVersion, s.Tool, s.Sessions = probe.ProtocolVersion, call.Tool, o.ProbeSessions
		return s, nil
	}
	var warm recorder
	if _, err := runRound(ctx, probe, call, 20, o.CallTimeout, &warm); err != nil {
		return nil, err
	}
	if len(warm.lat) == 0 {
		return nil, fmt.Errorf("every warm-up call of %q failed; first error: %s", call.Tool, warm.samples[0])
	}
	if rep.Before, err = measure(); err != nil {
		return nil, err
	}
	sample := func() (ProcStatus, error) {
		select {
		case <-ctx.Done():
			return ProcStatus{}, context.Cause(ctx)
		case <-time.After(o.Settle):
		}
		return ReadProcStatus(o.PID)
	}
	idle, err := sample()
	if err != nil {
		return nil, err
	}
	rep.IdleRSSBytes, rep.ThreadsIdle = idle.RSSBytes, idle.Threads

	start := time.Now()
	held, err := Dial(ctx, o.Endpoint, o.Hold, o.ProtocolVersion, o.ConnectTimeout)
	if err != nil {
		return nil, fmt.Errorf("opening %d sessions: %w", o.Hold, err)
	}
	rep.OpenSeconds = time.Since(start).Seconds()
	heldSt, err := sample()
	if err != nil {
		held.Close()
		return nil, err
	}
	rep.HeldRSSBytes, rep.ThreadsHeld = heldSt.RSSBytes, heldSt.Threads
	rep.BytesPerSession = float64(rep.HeldRSSBytes-rep.IdleRSSBytes) / float64(o.Hold)
	rep.During, err = measure()
	held.Close()
	if err != nil {
		return nil, err
	}
	released, err := sample()
	if err != nil {
		return nil, err
	}
	rep.ReleasedRSSBytes = released.RSSBytes
	return rep, nil
}
