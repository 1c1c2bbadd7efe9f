package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// startGateway runs an in-process gateway on a loopback port with the given server entries (YAML) and
// returns its base URL.
func startGateway(t *testing.T, servers string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mcpwarden.yaml")
	yml := "listen: 127.0.0.1:0\ndata_dir: " + dir + "\nservers:\n" + servers
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	g, err := gateway.New(cfg, gateway.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		g.Close(ctx)
	})
	return "http://" + ln.Addr().String()
}

// TestThroughGateway runs the official conformance suites through /mcp/{name}: the gateway must be as
// conformant as the server behind it (same counts as TestDirect).
func TestThroughGateway(t *testing.T) {
	t.Parallel()
	bin := testenv.EverythingServer(t)
	tests := []struct {
		name     string
		suite    testenv.Suite
		upstream string // http-stateful | http-stateless | stdio
		args     []string
		want     testenv.Counts
	}{
		{name: "legacy/http", suite: testenv.SuiteLegacy, upstream: "http-stateful", want: testenv.Counts{Passed: 40, Total: 40}},
		{name: "legacy/stdio", suite: testenv.SuiteLegacy, upstream: "stdio", want: testenv.Counts{Passed: 40, Total: 40}},
		{name: "modern/http", suite: testenv.SuiteModern, upstream: "http-stateless", want: testenv.Counts{Passed: 42, Total: 42}},
		{name: "legacy-all/http", suite: testenv.SuiteLegacy, upstream: "http-stateful", args: []string{"--suite", "all"},
			want: testenv.Counts{Passed: 44, Total: 44}},
		{name: "modern-all/http", suite: testenv.SuiteModern, upstream: "http-stateless", args: []string{"--suite", "all"},
			want: testenv.Counts{Passed: 153, Total: 153}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var entry string
			switch tt.upstream {
			case "stdio":
				entry = fmt.Sprintf("  - name: everything\n    command: [%q]\n", bin)
			default:
				url, _ := testenv.StartEverythingServer(t, tt.upstream == "http-stateless")
				entry = fmt.Sprintf("  - name: everything\n    url: %s\n", url)
			}
			base := startGateway(t, entry)
			res := testenv.RunConformance(t, tt.suite, base+"/mcp/everything", tt.args...)
			if diff := cmp.Diff(tt.want, res.Counts); diff != "" {
				t.Errorf("%s suite through the gateway (%s upstream): counts (-want +got):\n%s", tt.suite, tt.upstream, diff)
			}
		})
	}
}
