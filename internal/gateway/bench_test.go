package gateway

import (
	"context"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Benchmarks compare a go-sdk client calling a go-sdk Streamable HTTP server directly with the same client
// calling it through the gateway's /mcp/{name} endpoint, measured interleaved in the same run so machine noise
// hits both alike. They report figures; they assert nothing about time.
//
//	go test -run '^$' -bench 'Proxy' -benchtime 3000x ./internal/gateway/

func benchSetup(b *testing.B, stateless bool) (direct, proxied string) {
	b.Helper()
	up := httptest.NewServer(newTestHTTPUpstream("up", stateless))
	b.Cleanup(up.Close)
	_, base := startGatewayTB(b, httpServerYAML("up", up.URL))
	return up.URL, base + "/mcp/up"
}

func benchSession(b *testing.B, url, version string) *mcp.ClientSession {
	b.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		b.Fatalf("connect %s: %v", url, err)
	}
	b.Cleanup(func() { _ = cs.Close() })
	return cs
}

func benchCall(b *testing.B, cs *mcp.ClientSession) time.Duration {
	start := time.Now()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}})
	d := time.Since(start)
	if err != nil || res.IsError {
		b.Fatalf("call: %v %+v", err, res)
	}
	return d
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkProxyLatency: one session each, calls alternate direct / proxied; reports p50/p99 of both and the
// difference (the gateway's added latency).
func BenchmarkProxyLatency(b *testing.B) {
	for _, era := range []struct {
		name, version string
		stateless     bool
	}{{"2025-11-25", "2025-11-25", false}, {"2026-07-28", "", true}} {
		b.Run(era.name, func(b *testing.B) {
			direct, proxied := benchSetup(b, era.stateless)
			reportAddedLatency(b, benchSession(b, direct, era.version), benchSession(b, proxied, era.version), "direct", "proxied")
		})
	}
}

// reportAddedLatency warms both sessions, then calls them alternately b.N times and reports the p50 of each
// and what the second adds to the first at p50 and p99.
func reportAddedLatency(b *testing.B, base, other *mcp.ClientSession, baseLabel, otherLabel string) {
	b.Helper()
	for range 50 {
		benchCall(b, base)
		benchCall(b, other)
	}
	bd := make([]time.Duration, 0, b.N)
	od := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		bd = append(bd, benchCall(b, base))
		od = append(od, benchCall(b, other))
	}
	b.StopTimer()
	b.ReportMetric(us(percentile(bd, 0.5)), baseLabel+"-p50-µs")
	b.ReportMetric(us(percentile(od, 0.5)), otherLabel+"-p50-µs")
	b.ReportMetric(us(percentile(od, 0.5)-percentile(bd, 0.5)), "added-p50-µs")
	b.ReportMetric(us(percentile(od, 0.99)-percentile(bd, 0.99)), "added-p99-µs")
}

// BenchmarkProxyThroughput: 16 concurrent sessions; rounds alternate direct and proxied; reports calls/s of
// each and the ratio proxied/direct.
func BenchmarkProxyThroughput(b *testing.B) {
	direct, proxied := benchSetup(b, false)
	reportThroughput(b, 16, direct, proxied)
}

// reportThroughput runs interleaved rounds of concurrent calls on `sessions` sessions to each endpoint and
// reports calls/s of both and the ratio.
func reportThroughput(b *testing.B, sessions int, direct, proxied string) {
	mk := func(url string) []*mcp.ClientSession {
		out := make([]*mcp.ClientSession, sessions)
		for i := range out {
			out[i] = benchSession(b, url, "2025-11-25")
		}
		return out
	}
	ds, ps := mk(direct), mk(proxied)
	run := func(css []*mcp.ClientSession, perSession int) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for _, cs := range css {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perSession {
					benchCall(b, cs)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	run(ds, 10)
	run(ps, 10)
	per := max(1, b.N/sessions)
	var dt, pt time.Duration
	b.ResetTimer()
	for range 4 { // interleaved rounds
		dt += run(ds, per/4+1)
		pt += run(ps, per/4+1)
	}
	b.StopTimer()
	calls := float64(4 * sessions * (per/4 + 1))
	dRate, pRate := calls/dt.Seconds(), calls/pt.Seconds()
	b.ReportMetric(dRate, "direct-calls/s")
	b.ReportMetric(pRate, "proxied-calls/s")
	b.ReportMetric(100*pRate/dRate, "%-of-direct")
}
