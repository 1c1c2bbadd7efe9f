package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
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
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/testenv"

	_ "modernc.org/sqlite"
)

// envAuditServer makes the test binary a stdio MCP server (see TestMain); envAuditLog names a file where
// it appends the n argument of every count call it receives, before answering.
const (
	envAuditServer = "MCPWARDEN_AUDIT_TEST_SERVER"
	envAuditLog    = "MCPWARDEN_AUDIT_TEST_LOG"
)

func TestMain(m *testing.M) {
	if os.Getenv(envAuditServer) != "" {
		if err := auditTestServer().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, "audit test server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type lookupIn struct {
	Query  string `json:"query"`
	APIKey string `json:"api_key,omitempty"`
}

type countIn struct {
	N int `json:"n"`
}

func auditTestServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "audit-upstream", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "lookup", Description: "Look something up."},
		func(ctx context.Context, req *mcp.CallToolRequest, in lookupIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "found " + in.Query}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "forbidden", Description: "A tool the test policy denies."},
		func(ctx context.Context, req *mcp.CallToolRequest, in lookupIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "should never run"}}}, nil, nil
		})
	var mu sync.Mutex
	var log *os.File
	if p := os.Getenv(envAuditLog); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			panic(err)
		}
		log = f
	}
	mcp.AddTool(s, &mcp.Tool{Name: "count", Description: "Note n in the log."},
		func(ctx context.Context, req *mcp.CallToolRequest, in countIn) (*mcp.CallToolResult, any, error) {
			if log != nil {
				mu.Lock()
				_, err := log.WriteString(strconv.Itoa(in.N) + "\n")
				mu.Unlock()
				if err != nil {
					return nil, nil, err
				}
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strconv.Itoa(in.N)}}}, nil, nil
		})
	return s
}

// upstreamYAML is the servers: entry of the test binary as the "files" stdio server.
func upstreamYAML(logPath string) string {
	env := fmt.Sprintf("{%s: \"1\"", envAuditServer)
	if logPath != "" {
		env += fmt.Sprintf(", %s: %q", envAuditLog, logPath)
	}
	return fmt.Sprintf("servers:\n  - name: files\n    command: [%q]\n    env: %s}\n    timeout: 30s\n", os.Args[0], env+"")
}

// denyHook is the test-only deny hook: a middleware placed after audit that refuses calls of one tool
// with a policy-denied JSON-RPC error.
func denyHook(tool string, next gateway.Middleware) gateway.Middleware {
	return func(h gateway.Handler) gateway.Handler {
		if next != nil {
			h = next(h)
		}
		return func(ctx context.Context, x *gateway.Exchange) (*jsonrpc.Message, error) {
			if x.Msg.Kind == jsonrpc.KindRequest && x.Msg.Method == "tools/call" && x.Msg.Name == tool {
				return jsonrpc.MustDecode(jsonrpc.NewErrorResponse(x.Msg.ID, jsonrpc.CodePolicyDenied, "denied by the test hook", nil)), nil
			}
			return h(ctx, x)
		}
	}
}

// inProcess runs a gateway from the config file in this process (with the deny hook for tool "forbidden")
// and returns its base URL and a stop function that shuts it down and flushes the audit trail.
func inProcess(t *testing.T, cfgPath string) (string, func()) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logOut io.Writer = io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	stages, closeStages, err := gateway.BuildStages(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	stages.Approval = denyHook("forbidden", stages.Approval)
	g, err := gateway.New(cfg, gateway.Options{Logger: log, Stages: stages})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			g.Close(ctx)
			if err := closeStages(); err != nil {
				t.Errorf("closing the stages: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

func connectClient(t *testing.T, url string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "audit-test-client", Version: "0.9"}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// cli runs the built mcpwarden binary and returns stdout, stderr and the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func listJSON(t *testing.T, cfg string, filters ...string) []audit.Entry {
	t.Helper()
	out, errOut, code := cli(t, append([]string{"audit", "list", "--config", cfg, "--json"}, filters...)...)
	if code != 0 {
		t.Fatalf("audit list: exit %d\n%s", code, errOut)
	}
	var entries []audit.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("audit list --json: %v\n%s", err, out)
	}
	return entries
}

const secretKey = "sk-live-0123456789abcdefSECRET"

// TestAuditScriptedSession is the acceptance scenario: a session through the gateway (list, several
// calls, one error, one denied call) appears message by message in `audit list --json` with the
// documented fields, secrets redacted in the store; `audit verify` passes, then fails naming the record
// after a stored record's arguments are edited.
func TestAuditScriptedSession(t *testing.T) {
	for _, storeName := range []string{"sqlite", "postgres"} {
		t.Run(storeName, func(t *testing.T) {
			dataDir := t.TempDir()
			yml := "listen: 127.0.0.1:0\ndata_dir: " + dataDir + "\n" + upstreamYAML("")
			if storeName == "postgres" {
				yml += "audit:\n  store: postgres\n  postgres_dsn: " + testenv.PostgresDSN(t) + "\n"
			}
			cfg := writeConfig(t, yml)
			base, stop := inProcess(t, cfg)
			cs := connectClient(t, base+"/mcp/files")
			ctx := t.Context()
			if _, err := cs.ListTools(ctx, nil); err != nil {
				t.Fatal(err)
			}
			for i, args := range []map[string]any{{"query": "a"}, {"query": "b", "api_key": secretKey}, {"query": "c"}} {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "lookup", Arguments: args})
				if err != nil || res.IsError {
					t.Fatalf("call %d: %v %+v", i, err, res)
				}
			}
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no-such-tool", Arguments: map[string]any{}}); err == nil {
				t.Fatal("calling an unknown tool succeeded")
			}
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "forbidden", Arguments: map[string]any{"query": "x"}})
			if err == nil || !strings.Contains(err.Error(), "denied by the test hook") {
				t.Fatalf("denied call: %v", err)
			}
			_ = cs.Close()
			stop()

			entries := listJSON(t, cfg)
			type row struct{ dir, kind, method, name string }
			var got []row
			reqs := map[string]audit.Entry{}
			for _, e := range entries {
				got = append(got, row{e.Direction[:6], e.Kind, e.Method, e.Name})
				if e.Instance == "" || e.Principal.User == "" || e.Principal.AuthMethod == "" || e.Server != "files" ||
					e.Time.IsZero() || e.Capture != "redacted" || e.Hash == "" || e.Ref == "" {
					t.Errorf("record %d lacks common fields: %+v", e.ID, e)
				}
				if e.Method != "initialize" && e.Kind != "notification" && (e.SessionID == "" || e.Client.Name != "audit-test-client" || e.Era != "legacy") {
					t.Errorf("record %d lacks session fields: %+v", e.ID, e)
				}
				if e.Kind == "request" {
					reqs[e.Ref] = e
					if e.RequestID == "" || e.BytesIn == 0 {
						t.Errorf("request record %d: %+v", e.ID, e)
					}
				}
				if e.Kind == "result" || e.Kind == "error" {
					if _, ok := reqs[e.Parent]; !ok || e.RequestID != reqs[e.Parent].RequestID || e.BytesOut == 0 || e.LatencyMS <= 0 {
						t.Errorf("response record %d is not linked to its request: %+v", e.ID, e)
					}
				}
			}
			want := []row{
				{"client", "request", "initialize", ""}, {"server", "result", "initialize", ""},
				{"client", "notification", "notifications/initialized", ""},
				{"client", "request", "tools/list", ""}, {"server", "result", "tools/list", ""},
				{"client", "request", "tools/call", "lookup"}, {"server", "result", "tools/call", "lookup"},
				{"client", "request", "tools/call", "lookup"}, {"server", "result", "tools/call", "lookup"},
				{"client", "request", "tools/call", "lookup"}, {"server", "result", "tools/call", "lookup"},
				{"client", "request", "tools/call", "no-such-tool"}, {"server", "error", "tools/call", "no-such-tool"},
				{"client", "request", "tools/call", "forbidden"}, {"server", "error", "tools/call", "forbidden"},
			}
			if fmt.Sprint(want) != fmt.Sprint(got) {
				t.Errorf("records:\nwant %v\n got %v", want, got)
			}
			var secretArgs bytes.Buffer
			_ = json.Compact(&secretArgs, entries[7].Arguments)
			if !strings.Contains(secretArgs.String(), `"api_key":"[REDACTED]"`) || !strings.Contains(secretArgs.String(), `"query":"b"`) {
				t.Errorf("arguments with an api_key: stored as %s, want api_key redacted", secretArgs.String())
			}
			if last := entries[len(entries)-1]; last.Error == nil || last.Error.Code != jsonrpc.CodePolicyDenied || last.DecisionAction() != "deny" {
				t.Errorf("denied call record: %+v", last)
			}
			if e := entries[12]; e.Error == nil || e.Error.Code == 0 {
				t.Errorf("error record: %+v", e)
			}
			if storeName == "sqlite" {
				for _, f := range []string{"audit.db", "audit.db-wal"} {
					b, _ := os.ReadFile(filepath.Join(dataDir, f))
					if bytes.Contains(b, []byte(secretKey)) {
						t.Errorf("the secret is stored in %s", f)
					}
				}
			}
			// Filters.
			if n := len(listJSON(t, cfg, "--tool", "lookup", "--method", "tools/call")); n != 6 {
				t.Errorf("--tool lookup: %d records, want 6", n)
			}
			if n := len(listJSON(t, cfg, "--decision", "deny")); n != 1 {
				t.Errorf("--decision deny: %d records, want 1", n)
			}
			if n := len(listJSON(t, cfg, "--session", entries[3].SessionID, "--since", "1h", "--server", "files", "--user", entries[0].Principal.User)); n != len(entries) {
				t.Errorf("--session: %d records, want %d", n, len(entries))
			}

			out, errOut, code := cli(t, "audit", "verify", "--config", cfg)
			if code != 0 || !strings.Contains(out, "OK: 15 records verified") {
				t.Fatalf("verify of an intact trail: exit %d\n%s%s", code, out, errOut)
			}
			out, _, code = cli(t, "audit", "show", "--config", cfg, strconv.FormatInt(entries[7].ID, 10))
			if code != 0 || !strings.Contains(out, "chain status: hash ok, link ok, response: record") {
				t.Errorf("audit show: exit %d\n%s", code, out)
			}
			out, _, code = cli(t, "audit", "export", "--config", cfg, "--format", "jsonl")
			if lines := strings.Count(out, "\n"); code != 0 || lines != 15 {
				t.Errorf("export: exit %d, %d lines", code, lines)
			}
			out, _, code = cli(t, "audit", "tail", "--config", cfg, "-n", "2", "--json")
			if lines := strings.Count(out, "\n"); code != 0 || lines != 2 || !strings.Contains(out, `"forbidden"`) {
				t.Errorf("tail: exit %d\n%s", code, out)
			}

			// An anchor kept outside the database: the tail deleted with its checkpoints passes without it
			// and fails with it.
			anchorOut, errOut, code := cli(t, "audit", "verify", "--config", cfg, "--json")
			anchor := filepath.Join(t.TempDir(), "anchor.json")
			if code != 0 || os.WriteFile(anchor, []byte(anchorOut), 0o600) != nil {
				t.Fatalf("verify --json: exit %d\n%s", code, errOut)
			}
			if out, errOut, code := cli(t, "audit", "verify", "--config", cfg, "--anchor", anchor); code != 0 {
				t.Fatalf("verify --anchor of an intact trail: exit %d\n%s%s", code, out, errOut)
			}
			tamper(t, storeName, cfg, `DELETE FROM audit_records WHERE seq > 13`)
			tamper(t, storeName, cfg, `DELETE FROM audit_checkpoints WHERE seq > 13`)
			if out, errOut, code := cli(t, "audit", "verify", "--config", cfg); code != 0 {
				t.Fatalf("a tail deleted with its checkpoints is beyond the database alone, want exit 0: exit %d\n%s%s", code, out, errOut)
			}
			_, errOut, code = cli(t, "audit", "verify", "--config", cfg, "--anchor", anchor)
			if code != 1 || !strings.Contains(errOut, "truncated") || !strings.Contains(errOut, "records 14–15 were deleted") {
				t.Errorf("verify --anchor after deleting the tail: exit %d\n%s", code, errOut)
			}

			// Tamper: edit the stored arguments of the call with the api_key.
			tamper(t, storeName, cfg, fmt.Sprintf(`UPDATE audit_records SET body = REPLACE(body, '"query":"b"', '"query":"z"') WHERE id = %d`, entries[7].ID))
			_, errOut, code = cli(t, "audit", "verify", "--config", cfg)
			if code != 1 || !strings.Contains(errOut, fmt.Sprintf("record %d ", entries[7].ID)) || !strings.Contains(errOut, "modified") {
				t.Errorf("verify after editing record %d: exit %d\n%s", entries[7].ID, code, errOut)
			}
		})
	}
}

// tamper runs one SQL statement directly against the config's audit store.
func tamper(t *testing.T, storeName, cfgPath, q string) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	driver, dsn := "sqlite", filepath.Join(cfg.DataDir, "audit.db")
	if storeName == "postgres" {
		driver, dsn = "pgx", cfg.Audit.PostgresDSN
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var _ = atomic.Int64{}
var _ = syscall.SIGKILL
