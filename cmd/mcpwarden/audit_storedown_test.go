package main

import (
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestAuditStoreUnavailable: while the audit store cannot be written (PostgreSQL unreachable, the SQLite
// file read-only) calls are refused with a clear JSON-RPC error and the gateway keeps serving; once the
// store is back, calls go through again without a restart, and the trail verifies (with SQLite, including
// the records the journal kept meanwhile).
func TestAuditStoreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns the audit: config section and the functions that take the store away and back.
		setup func(t *testing.T, dataDir string) (yml string, down, up func())
	}{
		{"sqlite read-only", func(t *testing.T, dataDir string) (string, func(), func()) {
			db := filepath.Join(dataDir, "audit.db")
			return "", func() { setReadOnly(t, db, true) }, func() { setReadOnly(t, db, false) }
		}},
		{"postgres stopped", func(t *testing.T, _ string) (string, func(), func()) {
			u, err := url.Parse(testenv.PostgresDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			p := newTCPProxy(t, u.Host)
			u.Host = p.addr
			return "audit:\n  store: postgres\n  postgres_dsn: " + u.String() + "\n  write_timeout: 2s\n", p.down, p.up
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			audit, down, up := tc.setup(t, dataDir)
			cfg := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+dataDir+"\n"+upstreamYAML("")+audit)
			base, stop := inProcess(t, cfg)
			cs := connectClient(t, base+"/mcp/files")
			call := func() error {
				_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "lookup", Arguments: map[string]any{"query": "q"}})
				return err
			}
			if err := call(); err != nil {
				t.Fatalf("call with the store up: %v", err)
			}
			down()
			var refusal error
			waitFor(t, "a call to be refused while the store is down", func() bool {
				refusal = call()
				// With SQLite, the call whose commit finds the store down was kept in the audit journal and
				// forwarded: its answer is withheld. The calls after it are refused before forwarding.
				return refusal != nil && !strings.Contains(refusal.Error(), "withheld the answer")
			})
			if msg := refusal.Error(); !strings.Contains(msg, "could not be recorded in the audit trail") || !strings.Contains(msg, "nothing was forwarded") {
				t.Errorf("refusal does not say why: %v", refusal)
			}
			up()
			waitFor(t, "calls to go through again once the store is back", func() bool { return call() == nil })
			_ = cs.Close()
			stop()
			out, errOut, code := cli(t, "audit", "verify", "--config", cfg)
			if code != 0 {
				t.Errorf("verify after the outage: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setReadOnly makes the file unwritable: chmod for ordinary users, the immutable attribute for root
// (whom permissions do not stop).
func setReadOnly(t *testing.T, path string, ro bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		mode := os.FileMode(0o600)
		if ro {
			mode = 0o400
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return
	}
	flag := "-i"
	if ro {
		flag = "+i"
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
	}
	if out, err := exec.Command("chattr", flag, path).CombinedOutput(); err != nil {
		t.Fatalf("chattr %s %s: %v\n%s (the test needs chattr from e2fsprogs and a file system with the immutable attribute)", flag, path, err, out)
	}
}

// tcpProxy forwards a loopback port to target; down closes the listener and every connection (the
// server looks stopped), up listens again on the same port.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

func (p *tcpProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			for _, pair := range [][2]net.Conn{{c, s}, {s, c}} {
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					_, _ = io.Copy(pair[0], pair[1])
					pair[0].Close()
					pair[1].Close()
				}()
			}
		}
	}()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			p.t.Errorf("proxy close: %v", err)
		}
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// TestAuditTailFollowAndPrune: `audit tail -f` prints records as calls happen; `audit prune` removes old
// records and the rest still verifies.
func TestAuditTailFollowAndPrune(t *testing.T) {
	cfg := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\n"+upstreamYAML(""))
	base, stop := inProcess(t, cfg)
	cs := connectClient(t, base+"/mcp/files")
	tail := testenv.StartProcess(t, []string{binary(t), "audit", "tail", "--config", cfg, "-f", "--json", "--interval", "50ms"}, nil)
	waitFor(t, "tail to print the session's first records", func() bool { return strings.Contains(tail.Output(), `"initialize"`) })
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "lookup", Arguments: map[string]any{"query": "followed"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tail -f to print the new call", func() bool { return strings.Contains(tail.Output(), `"followed"`) })
	if err := tail.Stop(); err != nil {
		t.Errorf("tail -f did not stop cleanly: %v", err)
	}
	_ = cs.Close()
	stop()

	out, errOut, code := cli(t, "audit", "prune", "--config", cfg, "--older-than", "0s")
	if code != 0 || !strings.Contains(out, "pruned") {
		t.Fatalf("prune: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, "audit", "verify", "--config", cfg)
	if code != 0 {
		t.Errorf("verify after prune: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := cli(t, "audit", "prune", "--config", cfg); code != 2 {
		t.Errorf("prune without --older-than: exit %d, want 2\n%s", code, errOut)
	}
}
