package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Benchmarks with full default protection: every stage BuildStages makes from a config that names only the
// server (audit with durable group commit in SQLite, the shipped default policy, the data-flow detectors,
// approvals, inspect with pins and the poisoning scan), against the same upstream called directly, measured
// interleaved in the same run. These are the figures issue 11's budgets are about. They assert nothing about
// time.
//
//	go test -run '^$' -bench 'Default' -benchtime 3000x -count 5 ./internal/gateway/ | tee new.txt
//	benchstat new.txt
func startDefaultGateway(b *testing.B, upURL string, extra ...string) string {
	b.Helper()
	cfg, _ := loadTestConfig(b, "servers:\n"+httpServerYAML("up", upURL)+strings.Join(extra, ""))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stages, closeStages, err := BuildStages(context.Background(), cfg, log)
	if err != nil {
		b.Fatalf("stages: %v", err)
	}
	g, err := New(cfg, Options{Logger: log, Stages: stages})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(g.Handler())
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Close(ctx)
		ts.Close()
		if err := closeStages(); err != nil {
			b.Errorf("closing stages: %v", err)
		}
	})
	return ts.URL + "/mcp/up"
}

// BenchmarkDefaultLatency: one session each, direct and through the fully protected gateway, alternating.
// The sync=normal case is the same gateway with audit: {sync: normal} (commits not fsynced): the difference
// is what the durable commit of each request record costs. sync=normal/metrics adds the metrics: section
// (request counters and the tools/call histogram on the data path; nothing scrapes): compared with
// sync=normal, it is what the metrics cost.
func BenchmarkDefaultLatency(b *testing.B) {
	for _, era := range []struct {
		name, version string
		stateless     bool
		extra         string
	}{{"2025-11-25", "2025-11-25", false, ""}, {"2026-07-28", "", true, ""}, {"2025-11-25/sync=normal", "2025-11-25", false, "audit: {sync: normal}\n"},
		{"2025-11-25/sync=normal/metrics", "2025-11-25", false, "audit: {sync: normal}\nmetrics: {listen: 127.0.0.1:0}\n"}} {
		b.Run(era.name, func(b *testing.B) {
			up := httptest.NewServer(newTestHTTPUpstream("up", era.stateless))
			b.Cleanup(up.Close)
			proxied := startDefaultGateway(b, up.URL, era.extra)
			reportAddedLatency(b, benchSession(b, up.URL, era.version), benchSession(b, proxied, era.version), "direct", "proxied")
		})
	}
}

// BenchmarkDefaultThroughput: 16 concurrent sessions, direct and through the fully protected gateway, in
// alternating rounds (sync=normal: audit commits not fsynced).
func BenchmarkDefaultThroughput(b *testing.B) {
	for _, c := range []struct{ name, extra string }{{"sync=full", ""}, {"sync=normal", "audit: {sync: normal}\n"}} {
		b.Run(c.name, func(b *testing.B) {
			up := httptest.NewServer(newTestHTTPUpstream("up", false))
			b.Cleanup(up.Close)
			reportThroughput(b, 16, up.URL, startDefaultGateway(b, up.URL, c.extra))
		})
	}
}

// BenchmarkDefaultToolsCount: a server with N tools behind the fully protected gateway; reports the p50 of
// tools/list and of tools/call through the gateway with N = 10, 100, 1000 (issue 11: list cost linear in
// N, call cost independent of it). Lists after the first are of unchanged tools (pins and scans already
// taken).
func BenchmarkDefaultToolsCount(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("tools=%d", n), func(b *testing.B) {
			srv := mcp.NewServer(&mcp.Implementation{Name: "many", Version: "1"}, nil)
			for i := range n {
				mcp.AddTool(srv, &mcp.Tool{Name: fmt.Sprintf("tool_%04d", i),
					Description: fmt.Sprintf("Returns the text it is given, variant %d. Read-only.", i)},
					func(ctx context.Context, req *mcp.CallToolRequest, in struct {
						Text string `json:"text"`
					}) (*mcp.CallToolResult, any, error) {
						return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
					})
			}
			up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
			b.Cleanup(up.Close)
			cs := benchSession(b, startDefaultGateway(b, up.URL), "2025-11-25")
			list := func() time.Duration {
				start := time.Now()
				res, err := cs.ListTools(context.Background(), nil)
				if err != nil || len(res.Tools) != n {
					b.Fatalf("list: %v (%d tools)", err, len(res.Tools))
				}
				return time.Since(start)
			}
			callOne := func() time.Duration {
				start := time.Now()
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "tool_0001", Arguments: map[string]any{"text": "hello"}})
				if err != nil || res.IsError {
					b.Fatalf("call: %v %+v", err, res)
				}
				return time.Since(start)
			}
			list()
			callOne()
			lists, calls := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N { // separate loops: a large list's garbage does not land on the calls
				lists = append(lists, list())
			}
			for range b.N {
				calls = append(calls, callOne())
			}
			b.StopTimer()
			b.ReportMetric(us(percentile(lists, 0.5)), "list-p50-µs")
			b.ReportMetric(us(percentile(calls, 0.5)), "call-p50-µs")
		})
	}
}
