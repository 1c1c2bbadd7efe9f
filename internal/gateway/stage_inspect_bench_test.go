package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

// BenchmarkInspectLatency: the same upstream behind a gateway without stages and one with only the inspect
// stage (pin lookup in SQLite per call, result sanitising); calls alternate. Reports the added per-call
// latency (p50, p99); asserts nothing about time.
//
//	go test -run '^$' -bench InspectLatency -benchtime 2000x ./internal/gateway/
func BenchmarkInspectLatency(b *testing.B) {
	up := httptest.NewServer(newTestHTTPUpstream("up", false))
	b.Cleanup(up.Close)
	_, plain := startGatewayTB(b, httpServerYAML("up", up.URL))
	dir := b.TempDir()
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\ndata_dir: "+dir+"\nservers:\n"+httpServerYAML("up", up.URL)), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ib, err := buildInspect(context.Background(), cfg, nil, log)
	if err != nil {
		b.Fatal(err)
	}
	closePins := ib.Close
	g, err := New(cfg, Options{Logger: log, Stages: Stages{Inspect: ib.Middleware}})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(g.Handler())
	b.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
		_ = closePins()
	})
	reportAddedLatency(b, benchSession(b, plain+"/mcp/up", legacy), benchSession(b, ts.URL+"/mcp/up", legacy), "off", "inspected")
}
