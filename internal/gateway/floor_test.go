package gateway

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
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
	reportAddedLatency(b, benchSession(b, up.URL, "2025-11-25"), benchSession(b, px.URL, "2025-11-25"), "direct", "proxied")
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
