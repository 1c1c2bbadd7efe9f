package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mcpwarden.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageAndConfigErrorsExit2(t *testing.T) {
	bad := writeConfig(t, "listen: 127.0.0.1:0\nservers:\n  - name: a\n    comand: [x]\n")
	good := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\nservers:\n  - name: a\n    command: [x]\n")
	oauth := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\nservers:\n  - name: a\n    url: http://127.0.0.1:9/mcp\n    oauth: {}\n")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no config flag", []string{"serve"}, exitUsage},
		{"missing file", []string{"serve", "--config", "/nonexistent/mcpwarden.yaml"}, exitUsage},
		{"unknown key", []string{"serve", "--config", bad}, exitUsage},
		{"unknown flag", []string{"serve", "--nope"}, exitUsage},
		{"wrap unknown server", []string{"wrap", "--config", good, "zzz"}, exitUsage},
		{"wrap without server", []string{"wrap", "--config", good}, exitUsage},
		{"wrap of an oauth server", []string{"wrap", "--config", oauth, "a"}, exitUsage},
		{"listen taken", []string{"serve", "--config", good, "--listen", "256.0.0.1:1"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// buildBinary builds mcpwarden once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcpwarden-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "mcpwarden")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// TestServeGracefulShutdown: SIGTERM while a call is in flight lets the call finish, then the process exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	bin := binary(t)
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := writeConfig(t, fmt.Sprintf("listen: %s\ndata_dir: %s\nservers:\n  - name: everything\n    command: [%q]\n",
		addr, t.TempDir(), testenv.EverythingServer(t)))
	p := testenv.StartProcess(t, []string{bin, "serve", "--config", cfg}, nil)
	p.WaitForPort(t, addr)

	progressed := make(chan struct{}, 8)
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
			select {
			case progressed <- struct{}{}:
			default:
			}
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp/everything"},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, p.Output())
	}
	done := make(chan error, 1)
	go func() {
		params := &mcp.CallToolParams{Name: "test_tool_with_progress"}
		params.SetProgressToken("p")
		res, err := cs.CallTool(ctx, params)
		if err == nil && res.IsError {
			err = fmt.Errorf("tool error")
		}
		done <- err
	}()
	select {
	case <-progressed: // the call is in flight inside the gateway
	case err := <-done:
		t.Fatalf("call ended before the first progress: %v", err)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("in-flight call during graceful shutdown: %v\n%s", err, p.Output())
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway did not exit after SIGTERM\n%s", p.Output())
	}
	if out := p.Output(); !strings.Contains(out, "shutting down") {
		t.Errorf("no shutdown log line:\n%s", out)
	}
}
