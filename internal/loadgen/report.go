package loadgen

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteLoad prints a load report as a table.
func WriteLoad(w io.Writer, r *LoadReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tsessions\tcalls\terrors\tp50 µs\tp90 µs\tp99 µs\tp99.9 µs\tmax µs\tcalls/s\t")
	rows := []Stats{r.Target}
	if r.Baseline != nil {
		rows = append(rows, *r.Baseline)
	}
	for _, s := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n",
			s.Label, s.Sessions, s.Calls, s.Errors, s.P50US, s.P90US, s.P99US, s.P999US, s.MaxUS, s.CallsPerSec)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rows {
		fmt.Fprintf(w, "%s: %s, protocol %s, tool %q\n", s.Label, s.Endpoint, s.ProtocolVersion, s.Tool)
	}
	if r.Compare != nil {
		fmt.Fprintf(w, "added latency: p50 %+.0f µs, p99 %+.0f µs; throughput %.1f%% of %s (%d interleaved rounds)\n",
			r.Compare.AddedP50US, r.Compare.AddedP99US, r.Compare.ThroughputPct, r.Baseline.Label, r.Rounds)
	}
	if c := r.GatewayCPU; c != nil {
		fmt.Fprintf(w, "gateway CPU (pid %d): %.0f µs per call (user %.0f, system %.0f; %d calls, %d Hz ticks)\n",
			c.PID, c.TotalUS, c.UserUS, c.SystemUS, c.CallsSeen, c.TickHz)
	}
	writeErrors(w, rows...)
	return nil
}

func writeErrors(w io.Writer, rows ...Stats) {
	for _, s := range rows {
		if s.Errors == 0 {
			continue
		}
		fmt.Fprintf(w, "%s: %d of %d calls failed; first errors:\n", s.Label, s.Errors, s.Calls)
		for _, m := range s.ErrorSamples {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
}

// WriteHold prints a hold report.
func WriteHold(w io.Writer, r *HoldReport) error {
	fmt.Fprintf(w, "gateway pid %d, %s, protocol %s\n", r.PID, r.Endpoint, r.ProtocolVersion)
	fmt.Fprintf(w, "idle RSS:            %s (threads %d)\n", mib(r.IdleRSSBytes), r.ThreadsIdle)
	fmt.Fprintf(w, "RSS with %d held:  %s (threads %d; sessions opened in %.1fs)\n", r.Held, mib(r.HeldRSSBytes), r.ThreadsHeld, r.OpenSeconds)
	fmt.Fprintf(w, "per idle session:    %.0f bytes (%.1f KiB)\n", r.BytesPerSession, r.BytesPerSession/1024)
	fmt.Fprintf(w, "RSS after release:   %s\n", mib(r.ReleasedRSSBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "probe latency\tcalls\terrors\tp50 µs\tp99 µs\tp99.9 µs\tcalls/s\t")
	for _, row := range []struct {
		name string
		s    Stats
	}{{"before holding", r.Before}, {fmt.Sprintf("with %d held", r.Held), r.During}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t\n", row.name, row.s.Calls, row.s.Errors, row.s.P50US, row.s.P99US, row.s.P999US, row.s.CallsPerSec)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeErrors(w, r.Before, r.During)
	return nil
}

// WriteColdStart prints a cold-start report.
func WriteColdStart(w io.Writer, r *ColdStartReport) error {
	_, err := fmt.Fprintf(w, "cold start (exec → listening), %d runs: min %.1f ms, median %.1f ms, max %.1f ms\n",
		r.Runs, r.MinMS, r.MedianMS, r.MaxMS)
	return err
}

// WriteSoakSample prints one soak sample as a line.
func WriteSoakSample(w io.Writer, s SoakSample) error {
	line := fmt.Sprintf("t=%6.0fs calls=%d errors=%d calls/s=%.0f p50=%.0fµs p99=%.0fµs", s.ElapsedSeconds, s.Calls, s.Errors, s.CallsPerSec, s.P50US, s.P99US)
	if s.RSSBytes > 0 {
		line += fmt.Sprintf(" rss=%s threads=%d", mib(s.RSSBytes), s.Threads)
	}
	if s.Goroutines > 0 {
		line += fmt.Sprintf(" goroutines=%d", s.Goroutines)
	}
	for _, e := range s.SampleErrors {
		line += " [" + e + "]"
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// WriteSoak prints the totals of a soak run.
func WriteSoak(w io.Writer, r *SoakReport) error {
	t := r.Total
	_, err := fmt.Fprintf(w, "total: %d calls, %d errors, %.0f calls/s, p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs (%s, tool %q, %d sessions)\n",
		t.Calls, t.Errors, t.CallsPerSec, t.P50US, t.P99US, t.P999US, t.MaxUS, t.Endpoint, t.Tool, t.Sessions)
	if r.RSSGrowthBytes != 0 {
		fmt.Fprintf(w, "rss growth: %+.1f MiB from the first to the last sample, %+.0f bytes per call\n",
			float64(r.RSSGrowthBytes)/(1<<20), r.RSSGrowthPerCall)
	}
	writeErrors(w, t)
	return err
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
