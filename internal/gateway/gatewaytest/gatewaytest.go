// Package gatewaytest starts real, in-process mcpwarden gateways for tests in other packages, the way
// net/http/httptest starts servers: a config written to a temporary file, loaded and validated like the
// user's would be, served on a loopback port, shut down at test cleanup.
package gatewaytest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
)

// Gateway is a running test gateway.
type Gateway struct {
	*gateway.Gateway
	// URL is the base URL, e.g. "http://127.0.0.1:41234"; endpoints are URL+"/mcp" and URL+"/mcp/{name}".
	URL string
	// Config is the loaded config.
	Config *config.Config
}

// Start writes "listen/data_dir" plus extra (YAML, e.g. a servers: block) to a config file, loads it, builds
// the gateway with the stages and the authentication (auth:) the config asks for, and serves it until the
// test ends. Logs go to t.Log when the test runs with -v.
func Start(t testing.TB, extra string) *Gateway {
	t.Helper()
	dir := t.TempDir()
	yml := "listen: 127.0.0.1:0\ndata_dir: " + dir + "\n" + strings.TrimLeft(extra, "\n")
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("test config: %v\n%s", err, yml)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	auth, err := gateway.BuildHTTPAuth(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("auth: %v", err)
	}
	stages, closeStages, err := gateway.BuildStages(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("stages: %v", err)
	}
	g, err := gateway.New(cfg, gateway.Options{Logger: log, Stages: stages,
		HTTPMiddleware: auth.Middleware, SessionOwner: auth.SessionOwner, UpstreamHeaders: auth.UpstreamHeaders,
		UpstreamEnv: auth.UpstreamEnv})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: auth.Wrap(g.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		g.Close(ctx)
		_ = closeStages()
	})
	return &Gateway{Gateway: g, URL: "http://" + ln.Addr().String(), Config: cfg}
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
