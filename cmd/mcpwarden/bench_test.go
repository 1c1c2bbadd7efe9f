package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/loadgen"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// benchConfig is a gateway config with the go-sdk everything-server (stateful era) as server "everything".
func benchConfig(t *testing.T, listen string) string {
	t.Helper()
	direct, _ := testenv.StartEverythingServer(t, false)
	return writeConfig(t, fmt.Sprintf("listen: %s\ndata_dir: %s\nservers:\n  - name: everything\n    url: %s\n    timeout: 20s\n",
		listen, t.TempDir(), direct))
}

// runBenchBinary runs the built mcpwarden binary's bench command (cold start and --serve-config need the
// real binary as os.Executable) and decodes its --json report.
func runBenchBinary(t *testing.T, args ...string) benchOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"bench", "--json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mcpwarden bench %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	var out benchOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("bench --json output is not JSON: %v\n%s", err, stdout.String())
	}
	return out
}

func TestBenchHold(t *testing.T) {
	// A gateway started by the test, named by --pid; and one started by bench itself.
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := benchConfig(t, addr)
	gw := testenv.StartProcess(t, []string{binary(t), "serve", "--config", cfg}, nil)
	gw.WaitForPort(t, addr)

	tests := []struct {
		name string
		args []string
		pid  int // 0: started by bench
	}{
		{"running gateway by pid", []string{"--url", "http://" + addr + "/mcp/everything", "--pid", fmt.Sprint(gw.PID())}, gw.PID()},
		{"gateway started from --serve-config", []string{"--serve-config", cfg, "--url", "/mcp/everything"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runBenchBinary(t, append(tt.args, "--hold", "25", "--probe-calls", "15", "--settle", "100ms")...)
			h := out.Hold
			if out.Mode != "hold" || h == nil {
				t.Fatalf("mode %q, hold report %v", out.Mode, h)
			}
			type shape struct {
				Held                                  int
				Version                               string
				BeforeCalls, BeforeErrs, DuringCalls  int
				DuringErrs                            int
				PIDMatches, RSSPositive, LoadRecorded bool
			}
			got := shape{h.Held, h.ProtocolVersion, h.Before.Calls, h.Before.Errors, h.During.Calls, h.During.Errors,
				h.PID == out.Machine.GatewayPID && (tt.pid == 0 || h.PID == tt.pid),
				h.IdleRSSBytes > 0 && h.HeldRSSBytes > 0 && h.ReleasedRSSBytes > 0, out.Machine.LoadBefore != ""}
			want := shape{25, "2025-11-25", 15, 0, 15, 0, true, true, true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("hold report (-want +got):\n%s\nfull: %+v", diff, h)
			}
			if h.During.P99US <= 0 || h.Before.P99US <= 0 {
				t.Errorf("no probe latency: before %+v during %+v", h.Before, h.During)
			}
		})
	}
}

func TestBenchColdStart(t *testing.T) {
	cfg := benchConfig(t, "127.0.0.1:0")
	out := runBenchBinary(t, "--cold-start", "--runs", "3", "--serve-config", cfg)
	c := out.ColdStart
	if out.Mode != "cold-start" || c == nil {
		t.Fatalf("mode %q, cold-start report %v", out.Mode, c)
	}
	if c.Runs != 3 || len(c.AllMS) != 3 || !(c.MinMS > 0 && c.MinMS <= c.MedianMS && c.MedianMS <= c.MaxMS) {
		t.Errorf("cold-start report %+v: want 3 runs with 0 < min ≤ median ≤ max", c)
	}
}

// TestBenchLoadGatewayCPU: in load mode against a gateway bench started (--serve-config), the report gives
// that process's CPU time per measured call.
func TestBenchLoadGatewayCPU(t *testing.T) {
	cfg := benchConfig(t, "127.0.0.1:0")
	out := runBenchBinary(t, "--serve-config", cfg, "--url", "/mcp/everything", "--sessions", "2", "--calls", "150", "--warmup", "5")
	if out.Mode != "load" || out.Load == nil {
		t.Fatalf("mode %q, load report %v", out.Mode, out.Load)
	}
	c := out.Load.GatewayCPU
	if c == nil {
		t.Fatalf("no gateway CPU in the report: %+v", out.Load)
	}
	if c.PID != out.Machine.GatewayPID || c.PID == 0 || c.CallsSeen != 300 || out.Load.Target.Errors != 0 {
		t.Errorf("gateway CPU %+v (gateway pid %d, %d errors): want the started gateway's pid and 300 calls", c, out.Machine.GatewayPID, out.Load.Target.Errors)
	}
	// 300 calls through a fully protected gateway take far more than one 10 ms clock tick of CPU.
	if c.TotalUS <= 0 || math.Abs(c.UserUS+c.SystemUS-c.TotalUS) > 1 {
		t.Errorf("gateway CPU %+v: want a positive total, the sum of user and system", c)
	}
}

// TestBenchLoad runs the command in-process: load mode needs no binary of its own.
func TestBenchLoad(t *testing.T) {
	direct, _ := testenv.StartEverythingServer(t, true)
	server := testenv.EverythingServer(t)
	tests := []struct {
		name     string
		args     []string
		want     []string // labels
		wantText []string
	}{
		{"http against stdio, json", []string{"--url", direct, "--compare-stdio", server, "--label", "http", "--compare-label", "stdio", "--json"}, []string{"http", "stdio"}, nil},
		{"stdio target, table", []string{"--stdio", "--", server}, []string{"target"}, []string{"p99.9 µs", "tool \"test_simple_text\"", "machine: "}},
		{"explicit tool and args", []string{"--url", direct, "--tool", "test_simple_text", "--args", `{"unused":1}`, "--json"}, []string{"target"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newBenchCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetArgs(append([]string{"--sessions", "2", "--calls", "8", "--warmup", "1", "--rounds", "2"}, tt.args...))
			if err := cmd.Execute(); err != nil {
				t.Fatalf("bench %q: %v\n%s", tt.args, err, out.String())
			}
			if tt.wantText != nil {
				for _, w := range tt.wantText {
					if !strings.Contains(out.String(), w) {
						t.Errorf("output lacks %q:\n%s", w, out.String())
					}
				}
				return
			}
			var res benchOutput
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			stats := []loadgen.Stats{res.Load.Target}
			if res.Load.Baseline != nil {
				stats = append(stats, *res.Load.Baseline)
				if res.Load.Compare == nil || res.Load.Compare.ThroughputPct <= 0 {
					t.Errorf("comparison missing: %+v", res.Load.Compare)
				}
			}
			var labels []string
			for _, s := range stats {
				labels = append(labels, s.Label)
				if s.Calls != 16 || s.Errors != 0 {
					t.Errorf("%s: %d calls, %d errors (%q); want 16, 0", s.Label, s.Calls, s.Errors, s.ErrorSamples)
				}
			}
			if diff := cmp.Diff(tt.want, labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBenchExitCodes(t *testing.T) {
	direct, _ := testenv.StartEverythingServer(t, true)
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no endpoint", []string{"bench"}, exitUsage},
		{"stdio without command", []string{"bench", "--stdio"}, exitUsage},
		{"stray arguments", []string{"bench", "--url", direct, "x"}, exitUsage},
		{"cold start without config", []string{"bench", "--cold-start"}, exitUsage},
		{"two modes", []string{"bench", "--url", direct, "--hold", "3", "--duration", "5s"}, exitUsage},
		{"args not an object", []string{"bench", "--url", direct, "--args", "[1]"}, exitUsage},
		{"hold without pid", []string{"bench", "--url", direct, "--hold", "3"}, exitUsage},
		{"nothing listening", []string{"bench", "--url", "http://127.0.0.1:1/mcp", "--calls", "1"}, exitFindings},
		{"failing calls", []string{"bench", "--url", direct, "--tool", "test_error_handling", "--calls", "2", "--warmup", "0"}, exitFindings},
		{"ok", []string{"bench", "--url", direct, "--calls", "2"}, exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}
