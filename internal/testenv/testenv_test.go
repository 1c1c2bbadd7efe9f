package testenv

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestFreePortIsBindable(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", addrString(port))
	if err != nil {
		t.Fatalf("FreePort returned %d, but binding it failed: %v", port, err)
	}
	l.Close()
}

func TestDatabaseName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]+_[0-9a-f]{8}$`)
	for _, name := range []string{
		"TestX",
		"TestAudit/Postgres sink/case #1",
		strings.Repeat("TestVeryLong", 20),
	} {
		got := databaseName(name)
		if !valid.MatchString(got) || len(got) > 63 {
			t.Errorf("databaseName(%q) = %q: not a valid ≤63-byte unquoted identifier", name, got)
		}
	}
	if a, b := databaseName("TestX"), databaseName("TestX"); a == b {
		t.Errorf("databaseName is not unique across calls")
	}
}

func TestStartProcessCapturesOutputAndStops(t *testing.T) {
	p := StartProcess(t, []string{"sh", "-c", `echo "hello $GREETING"; echo oops >&2; exec sleep 600`}, []string{"GREETING=world"})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), "oops") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.Output(); !strings.Contains(got, "hello world\n") || !strings.Contains(got, "oops\n") {
		t.Fatalf("Output() = %q, want stdout and stderr with the extra env applied", got)
	}
	if p.Exited() {
		t.Fatalf("process exited early; output %q", p.Output())
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop() = %v, want nil for a process ended by Stop's signal", err)
	}
	if !p.Exited() {
		t.Errorf("Exited() = false after Stop")
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop() = %v, want nil", err)
	}
}

func TestStartProcessReportsExitStatus(t *testing.T) {
	p := StartProcess(t, []string{"sh", "-c", "exit 3"}, nil)
	<-p.Done()
	var ee *exec.ExitError
	if err := p.Stop(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("Stop() = %v, want exit status 3", err)
	}
	if err := p.waitForPort(addrString(FreePort(t)), time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("waitForPort on an exited process = %v, want an error saying it exited", err)
	}
}

func TestPostgresDSN(t *testing.T) {
	psql := psqlPath(t)
	var name string
	t.Run("fresh database", func(t *testing.T) {
		dsn := PostgresDSN(t)
		out, err := runPSQL(psql, dsn, "CREATE TABLE t (x int); INSERT INTO t VALUES (7);")
		if err != nil {
			t.Fatalf("using %s: %v\n%s", dsn, err, out)
		}
		row, err := exec.Command(psql, "-X", "-At", "-d", dsn, "-c", "SELECT current_database() || ' ' || sum(x) FROM t").CombinedOutput()
		if err != nil {
			t.Fatalf("query: %v\n%s", err, row)
		}
		name, _, _ = strings.Cut(strings.TrimSpace(string(row)), " ")
		if !strings.HasPrefix(name, "t_testpostgresdsn_fresh_database_") || !strings.HasSuffix(strings.TrimSpace(string(row)), " 7") {
			t.Fatalf("got %q, want a per-test database holding the row", row)
		}
	})
	// The subtest's cleanup dropped its database.
	out, err := exec.Command(psql, "-X", "-At", "-d", lookup(EnvPostgresDSN), "-c",
		"SELECT count(*) FROM pg_database WHERE datname = '"+name+"'").CombinedOutput()
	if err != nil {
		t.Fatalf("query: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "0" {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

// TestServerEverythingNPM drives the npm reference server over stdio and Streamable HTTP with a real
// go-sdk client. A client that declares sampling and elicitation sees the conditional tools too.
func TestServerEverythingNPM(t *testing.T) {
	t.Parallel()
	wantTools := []string{
		"echo", "trigger-long-running-operation", "toggle-subscriber-updates", // always
		"trigger-sampling-request", "trigger-elicitation-request", // need client capabilities
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "testenv", Version: "0"}, &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "hi"}}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
	})
	url, _ := StartServerEverythingNPM(t)
	transports := map[string]func() mcp.Transport{
		"stdio": func() mcp.Transport {
			// server-everything does not exit on stdin EOF; do not wait the default 5s before SIGTERM.
			return &mcp.CommandTransport{Command: exec.Command(NodePath(t), ServerEverythingNPM(t), "stdio"),
				TerminateDuration: 200 * time.Millisecond}
		},
		"streamableHttp": func() mcp.Transport { return &mcp.StreamableClientTransport{Endpoint: url} },
	}
	for name, tr := range transports {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cs, err := client.Connect(ctx, tr(), nil)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			// The conditional tools are registered after notifications/initialized and announced with
			// tools/list_changed, so list until they are there (bounded).
			var got []string
			for attempt := 0; ; attempt++ {
				got = got[:0]
				for tool, err := range cs.Tools(ctx, nil) {
					if err != nil {
						t.Fatalf("tools/list: %v", err)
					}
					got = append(got, tool.Name)
				}
				if !slices.ContainsFunc(wantTools, func(w string) bool { return !slices.Contains(got, w) }) || attempt == 50 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			for _, w := range wantTools {
				if !slices.Contains(got, w) {
					t.Errorf("tool %q missing from tools/list: %v", w, got)
				}
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "ping"}})
			if err != nil {
				t.Fatalf("tools/call echo: %v", err)
			}
			if diff := cmp.Diff([]mcp.Content{&mcp.TextContent{Text: "Echo: ping"}}, res.Content); diff != "" {
				t.Errorf("echo result (-want +got):\n%s", diff)
			}
		})
	}
}
