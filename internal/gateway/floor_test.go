package gateway

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"
)

// BenchmarkFloorReverseProxy: the cost of one plain HTTP hop (stdlib ReverseProxy) — the floor for any
// HTTP→HTTP gateway on this machine.
func BenchmarkFloorReverseProxy(b *testing.B) {
	up := httptest.NewServer(newTestHTTPUpstream("up", false))
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	px := httptest.NewServer(rp)
	b.Cleanup(px.Close)
	dcs, pcs := benchSession(b, up.URL, "2025-11-25"), benchSession(b, px.URL, "2025-11-25")
	for range 50 {
		benchCall(b, dcs)
		benchCall(b, pcs)
	}
	dd := make([]time.Duration, 0, b.N)
	pd := make([]time.Duration, 0, b.N)
	for range b.N {
		dd = append(dd, benchCall(b, dcs))
		pd = append(pd, benchCall(b, pcs))
	}
	b.ReportMetric(us(percentile(pd, 0.5)-percentile(dd, 0.5)), "added-p50-µs")
	b.ReportMetric(us(percentile(pd, 0.99)-percentile(dd, 0.99)), "added-p99-µs")
}

func BenchmarkFloorReverseProxyThroughput(b *testing.B) {
	const sessions = 16
	up := httptest.NewServer(newTestHTTPUpstream("up", false))
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	px := httptest.NewServer(rp)
	b.Cleanup(px.Close)
	reportThroughput(b, sessions, up.URL, px.URL)
}
