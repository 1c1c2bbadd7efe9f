package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestAuditCrashKill9: 10,000 calls from 8 concurrent clients through `mcpwarden serve`; the gateway is
// killed with SIGKILL mid-run and restarted, and the clients carry on. Afterwards every call the upstream
// saw has a committed request record, and `audit verify` passes, reporting the calls cut off by the crash
// as interrupted.
func TestAuditCrashKill9(t *testing.T) {
	const (
		clients        = 8
		callsPerClient = 1250
		killAfter      = 4000
	)
	bin := binary(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	logPath := filepath.Join(dir, "upstream-calls.log")
	cfg := writeConfig(t, "listen: "+addr+"\ndata_dir: "+filepath.Join(dir, "data")+"\n"+upstreamYAML(logPath))
	start := func() *testenv.Proc {
		p := testenv.StartProcess(t, []string{bin, "serve", "--config", cfg}, nil)
		p.WaitForPort(t, addr)
		return p
	}
	gw := start()

	var done atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- crashClient(ctx, "http://"+addr+"/mcp/files", c, callsPerClient, &done)
		}()
	}
	for done.Load() < killAfter && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(gw.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-gw.Done()
	killedAt := done.Load()
	gw = start()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := gw.Stop(); err != nil { // graceful: flushes the trail
		t.Fatalf("gateway stop: %v\n%s", err, gw.Output())
	}
	t.Logf("killed after %d completed calls; %d calls completed in all", killedAt, done.Load())

	seen := map[int]bool{}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatalf("upstream log line %q", sc.Text())
		}
		seen[n] = true
	}
	f.Close()
	if len(seen) != clients*callsPerClient {
		t.Errorf("the upstream saw %d distinct calls, want %d", len(seen), clients*callsPerClient)
	}

	out, errOut, code := cli(t, "audit", "export", "--config", cfg, "--format", "jsonl", "--method", "tools/call")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	recorded := map[int]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("export line: %v: %s", err, line)
		}
		if e.Kind != "request" {
			continue
		}
		var in countIn
		if err := json.Unmarshal(e.Arguments, &in); err != nil {
			t.Fatalf("record %d arguments %s: %v", e.ID, e.Arguments, err)
		}
		recorded[in.N] = true
	}
	missing := 0
	for n := range seen {
		if !recorded[n] {
			missing++
			if missing <= 5 {
				t.Errorf("call n=%d reached the upstream but has no request record", n)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d calls reached the upstream without a request record", missing)
	}

	out, errOut, code = cli(t, "audit", "verify", "--config", cfg, "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s%s", err, out, errOut)
	}
	if code != 0 || !rep.OK {
		t.Fatalf("verify after the crash: exit %d, problems %+v\n%s", code, rep.Problems, errOut)
	}
	t.Logf("verify: %d records, %d interrupted", rep.Records, len(rep.Interrupted))
	for _, in := range rep.Interrupted {
		if in.Method != "tools/call" && in.Method != "initialize" && in.Method != "tools/list" {
			t.Errorf("unexpected interrupted request: %+v", in)
		}
	}
}

// crashClient makes n calls of tool count with distinct values, reconnecting (and retrying the call)
// whenever the gateway is unreachable.
func crashClient(ctx context.Context, url string, client, n int, done *atomic.Int64) error {
	c := mcp.NewClient(&mcp.Implementation{Name: "crash-client", Version: "1"}, nil)
	var cs *mcp.ClientSession
	defer func() {
		if cs != nil {
			_ = cs.Close()
		}
	}()
	for i := 0; i < n; {
		if ctx.Err() != nil {
			return fmt.Errorf("client %d: gave up at call %d: %w", client, i, ctx.Err())
		}
		if cs == nil {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s, err := c.Connect(cctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
			cancel()
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			cs = s
		}
		v := client*100000 + i
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "count", Arguments: map[string]any{"n": v}})
		cancel()
		if err != nil {
			_ = cs.Close()
			cs = nil
			continue // the gateway went away: reconnect and retry this call
		}
		if res.IsError {
			return fmt.Errorf("client %d call %d: tool error %+v", client, i, res.Content)
		}
		done.Add(1)
		i++
	}
	return nil
}
