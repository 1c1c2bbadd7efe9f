package loadgen

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/gateway/gatewaytest"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

func TestPickTool(t *testing.T) {
	yes := true
	obj := func(required []string, props map[string]any) any {
		return map[string]any{"type": "object", "required": required, "properties": props}
	}
	str := map[string]any{"type": "string"}
	tests := []struct {
		name    string
		tools   []*mcp.Tool
		want    Call
		wantErr string
	}{
		{
			name: "everything-server picks the simple text tool",
			tools: []*mcp.Tool{
				{Name: "test_error_handling", InputSchema: obj(nil, nil)},
				{Name: "test_image_content", InputSchema: obj(nil, nil)},
				{Name: "test_simple_text", InputSchema: obj(nil, nil)},
				{Name: "test_sampling", InputSchema: obj([]string{"prompt"}, map[string]any{"prompt": str})},
			},
			want: Call{Tool: "test_simple_text"},
		},
		{
			name: "echo with a required string argument is filled in",
			tools: []*mcp.Tool{
				{Name: "add", InputSchema: obj([]string{"a", "b"}, map[string]any{"a": map[string]any{"type": "number"}, "b": map[string]any{"type": "number"}})},
				{Name: "echo", InputSchema: obj([]string{"message"}, map[string]any{"message": str})},
			},
			want: Call{Tool: "echo", Args: json.RawMessage(`{"message":"mcpwarden-bench"}`)},
		},
		{
			name: "read-only annotation wins over names",
			tools: []*mcp.Tool{
				{Name: "ping", InputSchema: obj(nil, nil)},
				{Name: "status", InputSchema: obj(nil, nil), Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
			},
			want: Call{Tool: "status"},
		},
		{
			name: "destructive tools are never chosen",
			tools: []*mcp.Tool{
				{Name: "delete_file", InputSchema: obj([]string{"path"}, map[string]any{"path": str})},
				{Name: "wipe", InputSchema: obj(nil, nil), Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes}},
			},
			wantErr: "no tool looks safe to call repeatedly (tools: delete_file, wipe); choose one with --tool NAME --args JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PickTool(tt.tools)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("PickTool error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PickTool (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", "", false},
		{`{"text":"hi"}`, `{"text":"hi"}`, false},
		{`[1]`, "", true},
		{`null`, "", true},
		{`{"a":`, "", true},
	} {
		got, err := ParseArgs(tc.in)
		if (err != nil) != tc.wantErr || string(got) != tc.want {
			t.Errorf("ParseArgs(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.999, 7 * time.Millisecond},
		{"median of 1..100", ms(hundred...), 0.5, 50 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p999 of 1..100 is the max", ms(hundred...), 0.999, 100 * time.Millisecond},
		{"p0 is the min", ms(hundred...), 0, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ProcStatus
		wantErr bool
	}{
		{"linux", "Name:\tmcpwarden\nVmPeak:\t  900 kB\nVmRSS:\t   24576 kB\nThreads:\t9\n", ProcStatus{RSSBytes: 24576 * 1024, Threads: 9}, false},
		{"no unit", "VmRSS: 10\n", ProcStatus{RSSBytes: 10}, false},
		{"zombie has no VmRSS", "Name:\tx\nState:\tZ (zombie)\nThreads:\t1\n", ProcStatus{}, true},
		{"garbage value", "VmRSS:\tlots kB\n", ProcStatus{}, true},
		{"overflow", "VmRSS:\t9223372036854775807 kB\n", ProcStatus{}, true},
	}
	for _, tt := range tests {
		got, err := ParseProcStatus([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: ParseProcStatus (-want +got):\n%s", tt.name, diff)
		}
	}
	// And the real thing: this test process.
	st, err := ReadProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSBytes <= 0 || st.Threads <= 0 {
		t.Errorf("ReadProcStatus(self) = %+v, want positive RSS and threads", st)
	}
}

func TestParseGoroutines(t *testing.T) {
	tests := []struct {
		in     string
		want   int
		wantOK bool
	}{
		{"# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 42\n", 42, true},
		{`go_goroutines{instance="a"} 7` + "\n", 7, true},
		{"go_goroutines_total 5\ngo_threads 3\n", 0, false},
		{"go_goroutines NaN\n", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseGoroutines([]byte(tt.in))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseGoroutines(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseProcStatus(f *testing.F) {
	f.Add([]byte("VmRSS:\t 1234 kB\nThreads:\t4\n"))
	f.Add([]byte("VmRSS:\n"))
	f.Add([]byte("VmRSS: -1 kB"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseProcStatus(data)
		if err == nil && (st.RSSBytes < 0 || st.Threads < 0) {
			t.Fatalf("negative figures %+v from %q", st, data)
		}
	})
}

func FuzzParseGoroutines(f *testing.F) {
	f.Add([]byte("go_goroutines 42\n"))
	f.Add([]byte("go_goroutines{a=\"}\"} 1e3\n"))
	f.Add([]byte("go_goroutines{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if n, ok := ParseGoroutines(data); ok && n < 0 {
			t.Fatalf("negative goroutines %d from %q", n, data)
		}
	})
}

// everythingBehindGateway starts the go-sdk everything-server (stateful era) and an in-process gateway in
// front of it; it returns the direct endpoint and the gateway's base URL.
func everythingBehindGateway(t *testing.T) (direct string, gw *gatewaytest.Gateway, proc *testenv.Proc) {
	t.Helper()
	direct, proc = testenv.StartEverythingServer(t, false)
	gw = gatewaytest.Start(t, "servers:\n  - name: everything\n    url: "+direct+"\n    timeout: 20s\n")
	return direct, gw, proc
}

func TestRunCompareThroughGateway(t *testing.T) {
	direct, gw, _ := everythingBehindGateway(t)
	ctx := context.Background()

	tests := []struct {
		name         string
		target       string
		version      string
		wantTool     string
		wantBaseTool string
		wantVersion  string
	}{
		// The per-server endpoint is transparent: same tool name; the client asks for the latest version
		// and falls back to what the stateful server speaks.
		{"per-server endpoint", gw.URL + "/mcp/everything", "", "test_simple_text", "test_simple_text", "2025-11-25"},
		// The aggregate endpoint names tools {server}.{tool}; the baseline drops the prefix.
		{"aggregate endpoint", gw.URL + "/mcp", "2025-06-18", "everything.test_simple_text", "test_simple_text", "2025-06-18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Sessions: 3, Calls: 20, Warmup: 2, Rounds: 4, ProtocolVersion: tt.version}
			rep, err := Run(ctx, o, Endpoint{Label: "gateway", URL: tt.target}, &Endpoint{Label: "direct", URL: direct})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Baseline == nil || rep.Compare == nil {
				t.Fatalf("report has no baseline or comparison: %+v", rep)
			}
			type shape struct {
				Label, Tool, Version    string
				Sessions, Calls, Errors int
				Samples                 []string
			}
			got := []shape{}
			for _, s := range []Stats{rep.Target, *rep.Baseline} {
				got = append(got, shape{s.Label, s.Tool, s.ProtocolVersion, s.Sessions, s.Calls, s.Errors, s.ErrorSamples})
			}
			want := []shape{
				{"gateway", tt.wantTool, tt.wantVersion, 3, 60, 0, nil},
				{"direct", tt.wantBaseTool, tt.wantVersion, 3, 60, 0, nil},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			for _, s := range []Stats{rep.Target, *rep.Baseline} {
				if !(s.MinUS > 0 && s.MinUS <= s.P50US && s.P50US <= s.P90US && s.P90US <= s.P99US && s.P99US <= s.P999US && s.P999US <= s.MaxUS) {
					t.Errorf("%s: percentiles out of order: %+v", s.Label, s)
				}
				if s.CallsPerSec <= 0 || s.WallSeconds <= 0 {
					t.Errorf("%s: no throughput: %+v", s.Label, s)
				}
			}
			if rep.Compare.ThroughputPct <= 0 {
				t.Errorf("comparison has no throughput ratio: %+v", rep.Compare)
			}
			var table strings.Builder
			if err := WriteLoad(&table, rep); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"p99.9 µs", "added latency: p50", "% of direct (4 interleaved rounds)"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}
		})
	}
}

func TestRunCountsFailedCalls(t *testing.T) {
	direct, _ := testenv.StartEverythingServer(t, true)
	ctx := context.Background()
	tests := []struct {
		name       string
		tool       string
		wantSample string
	}{
		{"tool error result", "test_error_handling", `tool "test_error_handling" returned an error result:`},
		{"unknown tool", "no_such_tool", "no_such_tool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(ctx, Options{Sessions: 2, Calls: 5, Warmup: 0, Tool: tt.tool}, Endpoint{Label: "direct", URL: direct}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Target.Calls != 10 || rep.Target.Errors != 10 || rep.Target.ProtocolVersion != "2026-07-28" {
				t.Errorf("got %d calls, %d errors, protocol %s; want 10, 10, 2026-07-28", rep.Target.Calls, rep.Target.Errors, rep.Target.ProtocolVersion)
			}
			if len(rep.Target.ErrorSamples) != 1 || !strings.Contains(rep.Target.ErrorSamples[0], tt.wantSample) {
				t.Errorf("error samples %q, want one containing %q", rep.Target.ErrorSamples, tt.wantSample)
			}
		})
	}
	// All warm-up calls failing is a setup error, not a measurement.
	_, err := Run(ctx, Options{Sessions: 1, Calls: 5, Warmup: 2, Tool: "no_such_tool"}, Endpoint{Label: "direct", URL: direct}, nil)
	if err == nil || !strings.Contains(err.Error(), "every warm-up call") {
		t.Errorf("Run with a failing tool and warm-up: error %v, want one about warm-up calls", err)
	}
}

func TestRunStdio(t *testing.T) {
	bin := testenv.EverythingServer(t)
	direct, _ := testenv.StartEverythingServer(t, false)
	rep, err := Run(context.Background(), Options{Sessions: 2, Calls: 10, Warmup: 1, Rounds: 2},
		Endpoint{Label: "stdio", Command: []string{bin}}, &Endpoint{Label: "http", URL: direct})
	if err != nil {
		t.Fatal(err)
	}
	got := []int{rep.Target.Calls, rep.Target.Errors, rep.Baseline.Calls, rep.Baseline.Errors}
	if diff := cmp.Diff([]int{20, 0, 20, 0}, got); diff != "" {
		t.Errorf("calls/errors of stdio and http (-want +got):\n%s", diff)
	}
	if rep.Target.Tool != "test_simple_text" || rep.Target.ProtocolVersion == "" {
		t.Errorf("stdio target: tool %q, protocol %q", rep.Target.Tool, rep.Target.ProtocolVersion)
	}
}

func TestDialErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ep   Endpoint
		want string
	}{
		{Endpoint{Label: "x"}, "give a URL (--url) or a stdio command"},
		{Endpoint{Label: "x", URL: "127.0.0.1:1/mcp"}, "must start with http://"},
		{Endpoint{Label: "x", URL: "http://127.0.0.1:1/mcp"}, `endpoint "x" (http://127.0.0.1:1/mcp): 1 of 1 sessions failed to connect`},
		{Endpoint{Label: "x", Command: []string{"/nonexistent/server"}}, "1 of 1 sessions failed to connect"},
	} {
		_, err := Dial(ctx, tc.ep, 1, "", 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%+v) error = %v, want it to contain %q", tc.ep, err, tc.want)
		}
	}
}

func TestSoakSamplesRSS(t *testing.T) {
	direct, proc := testenv.StartEverythingServer(t, true)
	var lines []SoakSample
	rep, err := Soak(context.Background(), SoakOptions{Endpoint: Endpoint{Label: "direct", URL: direct}, Sessions: 2,
		Duration: 1500 * time.Millisecond, Interval: 500 * time.Millisecond, PID: proc.PID()}, func(s SoakSample) { lines = append(lines, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 2 || len(lines) != len(rep.Samples) {
		t.Fatalf("got %d emitted and %d reported samples, want the same number ≥ 2", len(lines), len(rep.Samples))
	}
	calls := 0
	for _, s := range rep.Samples {
		calls += s.Calls
		if s.RSSBytes <= 0 || s.Threads <= 0 || len(s.SampleErrors) > 0 || s.Errors > 0 {
			t.Errorf("sample %+v: want RSS, threads, no errors", s)
		}
	}
	if calls == 0 || calls != rep.Total.Calls || rep.Total.Errors != 0 {
		t.Errorf("samples add up to %d calls, total says %d (%d errors)", calls, rep.Total.Calls, rep.Total.Errors)
	}
	var out strings.Builder
	if err := WriteSoakSample(&out, rep.Samples[0]); err != nil || !strings.Contains(out.String(), " rss=") {
		t.Errorf("soak line %q (%v) lacks rss=", out.String(), err)
	}
}

func TestSoakRSSGrowth(t *testing.T) {
	tests := []struct {
		name      string
		samples   []SoakSample
		wantBytes int64
		wantPer   float64
	}{
		{"no RSS sampled", []SoakSample{{Calls: 10}, {Calls: 10}}, 0, 0},
		{"one RSS sample", []SoakSample{{Calls: 10, RSSBytes: 100}}, 0, 0},
		{"growth over the calls after the first sample", []SoakSample{{Calls: 10, RSSBytes: 1000}, {Calls: 50, RSSBytes: 1500}, {Calls: 50, RSSBytes: 2000}}, 1000, 10},
		{"shrinking", []SoakSample{{Calls: 10, RSSBytes: 2000}, {Calls: 100, RSSBytes: 1000}}, -1000, -10},
	}
	for _, tt := range tests {
		r := &SoakReport{Samples: tt.samples}
		r.rssGrowth()
		if r.RSSGrowthBytes != tt.wantBytes || r.RSSGrowthPerCall != tt.wantPer {
			t.Errorf("%s: growth %d bytes, %v per call; want %d, %v", tt.name, r.RSSGrowthBytes, r.RSSGrowthPerCall, tt.wantBytes, tt.wantPer)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	tick := time.Second / clockTicks
	tests := []struct {
		name    string
		in      string
		want    ProcCPU
		wantErr bool
	}{
		{"linux", "4242 (mcpwarden) S 1 4242 4242 0 -1 4194560 5134 0 0 0 1234 56 0 0 20 0 9 0 12345 1000000 6000 18446744073709551615\n",
			ProcCPU{User: 1234 * tick, System: 56 * tick}, false},
		{"name with spaces and parentheses", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1\n", ProcCPU{User: 3 * tick, System: 4 * tick}, false},
		{"no name", "7 R 1 2 3", ProcCPU{}, true},
		{"too short", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 3\n", ProcCPU{}, true},
		{"garbage", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 many 4 0\n", ProcCPU{}, true},
	}
	for _, tt := range tests {
		got, err := ParseProcStat([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if got != tt.want {
			t.Errorf("%s: ParseProcStat = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	// And the real thing: this test process, before and after some work.
	before, err := ReadProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := ReadProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.User+after.System <= before.User+before.System {
		t.Errorf("CPU time did not grow over 100 ms of spinning: %+v then %+v", before, after)
	}
}
