package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/loadgen"
)

func init() { extraCommands = append(extraCommands, newBenchCmd) }

// benchFlags are the flags of `mcpwarden bench`.
type benchFlags struct {
	url, compare, compareStdio  string
	stdio                       bool
	label, compareLabel         string
	sessions, calls, warmup     int
	rounds                      int
	tool, args, compareTool     string
	protocolVersion             string
	jsonOut                     bool
	connectTimeout, callTimeout time.Duration
	hold, pid, probeCalls       int
	serveConfig                 string
	settle                      time.Duration
	coldStart                   bool
	runs                        int
	duration, interval          time.Duration
	metricsURL                  string
}

// benchOutput is the --json document: one mode's report plus the machine's load around the run.
type benchOutput struct {
	Mode      string                   `json:"mode"` // load, hold, cold-start, soak
	Command   []string                 `json:"command"`
	Machine   machineInfo              `json:"machine"`
	Load      *loadgen.LoadReport      `json:"load,omitempty"`
	Hold      *loadgen.HoldReport      `json:"hold,omitempty"`
	ColdStart *loadgen.ColdStartReport `json:"cold_start,omitempty"`
	Soak      *loadgen.SoakReport      `json:"soak,omitempty"`
}

type machineInfo struct {
	CPUs        int    `json:"cpus"`
	LoadBefore  string `json:"loadavg_before,omitempty"` // /proc/loadavg 1/5/15-minute averages
	LoadAfter   string `json:"loadavg_after,omitempty"`
	GatewayPID  int    `json:"gateway_pid,omitempty"`
	StartedWith string `json:"gateway_started_with,omitempty"`
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench (--url URL | --stdio -- CMD ARGS…) [flags]",
		Short: "Measure an MCP endpoint: latency, throughput, idle-session memory, cold start, soak",
		Long: `Measure MCP endpoints with real go-sdk clients. Only the endpoints you name are contacted.

Modes:
  load (default)   --sessions N sessions × --calls M calls each of one tool; p50/p90/p99/p99.9, calls/s,
                   errors. --compare URL (or --compare-stdio "CMD ARGS") measures a second endpoint, usually
                   the server without the gateway, in alternating rounds, and prints added latency and
                   throughput as a percentage of it. With --pid or --serve-config, also the gateway
                   process's CPU time per call (user and system), which other load on the machine disturbs
                   far less than latency.
  soak             --duration D: constant load for D, one line per --interval with calls, errors, latency,
                   and the gateway's RSS (--pid or --serve-config) and goroutines (--metrics-url, or
                   automatic with --serve-config: the gateway is started with a metrics listener).
  hold             --hold N: open N idle sessions to the gateway (--pid PID, or --serve-config FILE to start
                   one) and report its RSS before and after, bytes per idle session, and probe-call latency
                   before and while the sessions are held.
  cold start       --cold-start --serve-config FILE: start "mcpwarden serve" --runs times and report the time
                   from exec to accepting connections (min/median/max).

The tool called is --tool NAME with --args JSON, or, by default, a harmless one chosen from tools/list
(read-only or echo-like, required string arguments filled in). With --serve-config, --url may be a path
such as /mcp/everything (default /mcp) on the gateway started for the run.

Exit codes: 0 every call succeeded; 1 some call failed or the run could not be made; 2 usage error.

Examples:
  mcpwarden bench --url http://127.0.0.1:8740/mcp/everything --compare http://127.0.0.1:3001/mcp --sessions 16 --calls 1000
  mcpwarden bench --stdio -- mcpwarden wrap --config mcpwarden.yaml everything
  mcpwarden bench --hold 1000 --serve-config mcpwarden.yaml --url /mcp/everything
  mcpwarden bench --cold-start --runs 10 --serve-config mcpwarden.yaml
  mcpwarden bench --url http://127.0.0.1:8740/mcp --duration 10m --interval 30s --pid $(pgrep -n mcpwarden) \
                  --metrics-url http://127.0.0.1:9741/metrics
  mcpwarden bench --serve-config mcpwarden.yaml --url /mcp/everything --duration 30s --interval 5s`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "Streamable HTTP endpoint to measure (a path like /mcp/NAME with --serve-config)")
	fl.BoolVar(&f.stdio, "stdio", false, "measure a stdio server: the command follows --, one process per session")
	fl.StringVar(&f.compare, "compare", "", "second endpoint measured in the same run, interleaved (e.g. the server without the gateway)")
	fl.StringVar(&f.compareStdio, "compare-stdio", "", `second endpoint as a stdio command line, split on spaces ("CMD ARG…", no quoting)`)
	fl.StringVar(&f.label, "label", "target", "name of the measured endpoint in reports")
	fl.StringVar(&f.compareLabel, "compare-label", "direct", "name of the --compare endpoint in reports")
	fl.IntVar(&f.sessions, "sessions", 1, "concurrent sessions per endpoint")
	fl.IntVar(&f.calls, "calls", 1000, "measured calls per session")
	fl.IntVar(&f.warmup, "warmup", 20, "unmeasured warm-up calls per session")
	fl.IntVar(&f.rounds, "rounds", 10, "alternating rounds with --compare")
	fl.StringVar(&f.tool, "tool", "", "tool to call (default: a harmless tool chosen from tools/list)")
	fl.StringVar(&f.args, "args", "", `tool arguments as a JSON object, e.g. '{"text":"hi"}'`)
	fl.StringVar(&f.compareTool, "compare-tool", "", "tool name on the --compare endpoint (default: the same, or without the aggregate {server}. prefix)")
	fl.StringVar(&f.protocolVersion, "protocol-version", "", `protocol version to ask for (default: the client's latest, falling back to what the server supports; hold mode: "2025-11-25")`)
	fl.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", loadgen.DefaultConnectTimeout, "bound on each session connect")
	fl.DurationVar(&f.callTimeout, "call-timeout", loadgen.DefaultCallTimeout, "bound on each call")
	fl.IntVar(&f.hold, "hold", 0, "hold mode: number of idle sessions to open against the gateway")
	fl.IntVar(&f.pid, "pid", 0, "process id of the gateway to sample (hold and soak modes: RSS; load mode: CPU per call)")
	fl.IntVar(&f.probeCalls, "probe-calls", 500, "hold mode: calls per probe session before and while holding")
	fl.DurationVar(&f.settle, "settle", 2*time.Second, "hold mode: wait before each RSS sample")
	fl.StringVar(&f.serveConfig, "serve-config", "", `config file: start "mcpwarden serve" with it on a free loopback port for the run`)
	fl.BoolVar(&f.coldStart, "cold-start", false, "cold-start mode: time from exec to listening (needs --serve-config)")
	fl.IntVar(&f.runs, "runs", 5, "cold-start mode: number of starts")
	fl.DurationVar(&f.duration, "duration", 0, "soak mode: run at constant load for this long (e.g. 10m)")
	fl.DurationVar(&f.interval, "interval", 10*time.Second, "soak mode: time between sample lines")
	fl.StringVar(&f.metricsURL, "metrics-url", "", "soak mode: Prometheus endpoint of the gateway, for its go_goroutines gauge (automatic with --serve-config)")
	return cmd
}

func runBench(cmd *cobra.Command, f benchFlags, args []string) error {
	out := cmd.OutOrStdout()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if f.stdio != (len(args) > 0) {
		if f.stdio {
			return usageErr(errors.New("--stdio needs the server command after --, e.g. --stdio -- ./server --flag"))
		}
		return usageErr(fmt.Errorf("unexpected arguments %q; a stdio server command goes after --stdio --", args))
	}
	if f.url != "" && f.stdio {
		return usageErr(errors.New("give either --url or --stdio, not both"))
	}
	if f.compare != "" && f.compareStdio != "" {
		return usageErr(errors.New("give either --compare or --compare-stdio, not both"))
	}
	modes := 0
	for _, on := range []bool{f.coldStart, f.hold > 0, f.duration > 0} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return usageErr(errors.New("--cold-start, --hold and --duration are separate modes; choose one"))
	}
	callArgs, err := loadgen.ParseArgs(f.args)
	if err != nil {
		return usageErr(err)
	}
	res := benchOutput{Command: append([]string{"mcpwarden", "bench"}, os.Args[min(2, len(os.Args)):]...),
		Machine: machineInfo{CPUs: runtime.NumCPU(), LoadBefore: loadAvg()}}
	finish := func(text func(io.Writer) error) error {
		res.Machine.LoadAfter = loadAvg()
		if f.jsonOut {
			return writeJSON(out, res)
		}
		if err := text(out); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "machine: %d CPUs, load average before %s, after %s\n", res.Machine.CPUs, res.Machine.LoadBefore, res.Machine.LoadAfter)
		return err
	}

	if f.coldStart {
		if f.serveConfig == "" {
			return usageErr(errors.New("--cold-start needs --serve-config FILE (the gateway config to start)"))
		}
		exe, err := os.Executable()
		if err != nil {
			return &exitError{code: exitFindings, err: fmt.Errorf("cannot find the mcpwarden binary to start: %w", err)}
		}
		res.Mode = "cold-start"
		rep, err := loadgen.ColdStart(ctx, loadgen.ColdStartOptions{Exe: exe, Config: f.serveConfig, Runs: f.runs, Timeout: f.connectTimeout})
		if err != nil {
			return &exitError{code: exitFindings, err: err}
		}
		res.ColdStart = rep
		return finish(func(w io.Writer) error { return loadgen.WriteColdStart(w, rep) })
	}

	// The gateway under test: started here, or named by --pid.
	target := loadgen.Endpoint{Label: f.label, URL: f.url}
	if f.stdio {
		target.Command = args
	}
	if f.serveConfig != "" {
		if f.stdio {
			return usageErr(errors.New("--serve-config starts an HTTP gateway; measure it with --url /mcp/NAME, not --stdio"))
		}
		if f.pid != 0 {
			return usageErr(errors.New("give either --pid (a running gateway) or --serve-config (start one), not both"))
		}
		exe, err := os.Executable()
		if err != nil {
			return &exitError{code: exitFindings, err: fmt.Errorf("cannot find the mcpwarden binary to start: %w", err)}
		}
		// A soak run samples the gateway's goroutines from a metrics listener started for the run (on a free
		// port: a configured one may be taken by the operator's own gateway), unless --metrics-url names one.
		metricsPath := ""
		if f.duration > 0 && f.metricsURL == "" {
			cfg, err := config.Load(f.serveConfig)
			if err != nil {
				return usageErr(err)
			}
			metricsPath = config.DefaultMetricsPath
			if cfg.Metrics != nil {
				metricsPath = cfg.Metrics.Path
			}
		}
		g, err := loadgen.StartGateway(ctx, exe, f.serveConfig, f.connectTimeout, loadgen.GatewayOptions{Metrics: metricsPath != ""})
		if err != nil {
			return &exitError{code: exitFindings, err: err}
		}
		defer g.Stop(10 * time.Second)
		if metricsPath != "" {
			f.metricsURL = "http://" + g.MetricsAddr + metricsPath
		}
		path := f.url
		if path == "" {
			path = "/mcp"
		}
		if !strings.HasPrefix(path, "/") {
			return usageErr(fmt.Errorf("with --serve-config, --url is a path on the started gateway such as /mcp/NAME, not %q", f.url))
		}
		target.URL = g.BaseURL() + path
		f.pid = g.PID()
		res.Machine.StartedWith = f.serveConfig
	}
	res.Machine.GatewayPID = f.pid
	if err := target.Check(); err != nil {
		return usageErr(err)
	}

	switch {
	case f.hold > 0:
		res.Mode = "hold"
		o := loadgen.HoldOptions{Endpoint: target, PID: f.pid, Hold: f.hold,
			ProbeSessions: f.sessions, ProbeCalls: f.probeCalls, Tool: f.tool, Args: callArgs,
			ProtocolVersion: f.protocolVersion, Settle: f.settle, ConnectTimeout: f.connectTimeout, CallTimeout: f.callTimeout}
		if err := o.CheckAndSetDefaults(); err != nil {
			return usageErr(err)
		}
		rep, err := loadgen.Hold(ctx, o)
		if err != nil {
			return &exitError{code: exitFindings, err: err}
		}
		res.Hold = rep
		if err := finish(func(w io.Writer) error { return loadgen.WriteHold(w, rep) }); err != nil {
			return err
		}
		return callErrors(rep.Before, rep.During)

	case f.duration > 0:
		res.Mode = "soak"
		emit := func(s loadgen.SoakSample) {
			if !f.jsonOut {
				_ = loadgen.WriteSoakSample(out, s)
			}
		}
		o := loadgen.SoakOptions{Endpoint: target, Sessions: f.sessions, Duration: f.duration,
			Interval: f.interval, PID: f.pid, MetricsURL: f.metricsURL, Tool: f.tool, Args: callArgs,
			ProtocolVersion: f.protocolVersion, ConnectTimeout: f.connectTimeout, CallTimeout: f.callTimeout}
		if err := o.CheckAndSetDefaults(); err != nil {
			return usageErr(err)
		}
		rep, err := loadgen.Soak(ctx, o, emit)
		if rep == nil {
			return &exitError{code: exitFindings, err: err}
		}
		res.Soak = rep
		if ferr := finish(func(w io.Writer) error { return loadgen.WriteSoak(w, rep) }); ferr != nil {
			return ferr
		}
		if err != nil {
			return &exitError{code: exitFindings, err: err}
		}
		return callErrors(rep.Total)

	default:
		res.Mode = "load"
		var baseline *loadgen.Endpoint
		switch {
		case f.compare != "":
			baseline = &loadgen.Endpoint{Label: f.compareLabel, URL: f.compare}
		case f.compareStdio != "":
			baseline = &loadgen.Endpoint{Label: f.compareLabel, Command: strings.Fields(f.compareStdio)}
		}
		if baseline != nil {
			if err := baseline.Check(); err != nil {
				return usageErr(err)
			}
		}
		o := loadgen.Options{Sessions: f.sessions, Calls: f.calls, Warmup: f.warmup, Rounds: f.rounds, Tool: f.tool,
			Args: callArgs, BaselineTool: f.compareTool, ProtocolVersion: f.protocolVersion,
			ConnectTimeout: f.connectTimeout, CallTimeout: f.callTimeout, PID: f.pid}
		if err := o.CheckAndSetDefaults(); err != nil {
			return usageErr(err)
		}
		rep, err := loadgen.Run(ctx, o, target, baseline)
		if err != nil {
			return &exitError{code: exitFindings, err: err}
		}
		res.Load = rep
		if err := finish(func(w io.Writer) error { return loadgen.WriteLoad(w, rep) }); err != nil {
			return err
		}
		if rep.Baseline != nil {
			return callErrors(rep.Target, *rep.Baseline)
		}
		return callErrors(rep.Target)
	}
}

// callErrors turns failed calls into exit code 1 (the report already lists them).
func callErrors(stats ...loadgen.Stats) error {
	n := 0
	for _, s := range stats {
		n += s.Errors
	}
	if n == 0 {
		return nil
	}
	return &exitError{code: exitFindings, err: fmt.Errorf("%d calls failed (see the report above)", n)}
}

// loadAvg returns the 1/5/15-minute load averages from /proc/loadavg, or "" where there is none.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return ""
	}
	return strings.Join(fields[:3], " ")
}
