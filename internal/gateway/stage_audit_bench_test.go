package gateway

import (
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkAuditLatency: the same upstream behind two gateways, one without stages and one with only the
// audit stage (SQLite, durable group commit); calls alternate between them. Reports the per-call latency
// auditing adds (p50, p99). It reports figures and asserts nothing about time.
//
//	go test -run '^$' -bench AuditLatency -benchtime 2000x ./internal/gateway/
func BenchmarkAuditLatency(b *testing.B) {
	up := httptest.NewServer(newTestHTTPUpstream("up", false))
	b.Cleanup(up.Close)
	_, plain := startGatewayTB(b, httpServerYAML("up", up.URL))
	audited, _ := startAuditedGateway(b, httpServerYAML("up", up.URL))
	pcs, acs := benchSession(b, plain+"/mcp/up", legacy), benchSession(b, audited+"/mcp/up", legacy)
	for range 50 {
		benchCall(b, pcs)
		benchCall(b, acs)
	}
	pd := make([]time.Duration, 0, b.N)
	ad := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		pd = append(pd, benchCall(b, pcs))
		ad = append(ad, benchCall(b, acs))
	}
	b.StopTimer()
	b.ReportMetric(us(percentile(pd, 0.5)), "off-p50-µs")
	b.ReportMetric(us(percentile(ad, 0.5)), "audited-p50-µs")
	b.ReportMetric(us(percentile(ad, 0.5)-percentile(pd, 0.5)), "added-p50-µs")
	b.ReportMetric(us(percentile(ad, 0.99)-percentile(pd, 0.99)), "added-p99-µs")
}

// BenchmarkAuditThroughput: 16 concurrent sessions through the audited gateway; reports calls/s (each call
// is two records, the request committed before forwarding).
func BenchmarkAuditThroughput(b *testing.B) {
	up := httptest.NewServer(newTestHTTPUpstream("up", false))
	b.Cleanup(up.Close)
	_, plain := startGatewayTB(b, httpServerYAML("up", up.URL))
	audited, _ := startAuditedGateway(b, httpServerYAML("up", up.URL))
	reportThroughput(b, 16, plain+"/mcp/up", audited+"/mcp/up")
}
