package gateway

import (
	"net/http/httptest"
	"testing"
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
	for _, mode := range []string{"full", "normal"} {
		b.Run("sync="+mode, func(b *testing.B) {
			audited, _ := startAuditedGateway(b, httpServerYAML("up", up.URL), "audit: {sync: "+mode+"}\n")
			reportAddedLatency(b, benchSession(b, plain+"/mcp/up", legacy), benchSession(b, audited+"/mcp/up", legacy), "off", "audited")
		})
	}
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
