package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
)

// startAuditedGateway is startGatewayTB with only the audit stage (SQLite in the test's data_dir).
func startAuditedGateway(tb testing.TB, servers ...string) (string, *audit.Auditor) {
	tb.Helper()
	dir := tb.TempDir()
	yml := "listen: 127.0.0.1:0\ndata_dir: " + dir + "\nservers:\n" + strings.Join(servers, "")
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := audit.Open(context.Background(), cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := New(cfg, Options{Logger: log, Stages: Stages{Audit: AuditStage(a, log)}})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(g.Handler())
	tb.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Close(ctx)
		if err := a.Close(ctx); err != nil {
			tb.Errorf("audit close: %v", err)
		}
	})
	return ts.URL, a
}

// TestAuditServerToClient: a server→client request (sampling, inside a tools/call) and its answer are
// recorded on the server chain, linked to each other and to the client call they belong to.
func TestAuditServerToClient(t *testing.T) {
	url, a := startAuditedGateway(t, stdioServerYAML("s1"))
	rec := &recorder{}
	cs := connect(t, url+"/mcp/s1", legacy, rec)
	text, isErr := callText(t, cs, "sample", map[string]any{"text": "hi"})
	if isErr || text != "model said: HI" {
		t.Fatalf("sample: %q %v", text, isErr)
	}
	_ = cs.Close()
	if err := a.Writer().Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	type row struct{ Dir, Kind, Method, Name, Related string }
	var got []row
	var entries []audit.Entry
	err := a.Sink().Scan(t.Context(), audit.Filter{Method: "sampling/createMessage"}, func(r *audit.StoredRecord) error {
		got = append(got, row{r.Direction, r.Kind, r.Method, r.Name, r.RelatedRequestID})
		entries = append(entries, audit.EntryOf(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"server_to_client", "request", "sampling/createMessage", "", "2"},
		{"client_to_server", "result", "sampling/createMessage", "", "2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sampling records (-want +got):\n%s", diff)
	}
	if entries[1].Parent != entries[0].Ref || !strings.Contains(string(entries[1].Result), "HI") {
		t.Errorf("the answer is not linked to the request: %+v", entries[1])
	}
	rep, err := audit.Verify(t.Context(), a.Sink(), a.Signer())
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	var n int
	_ = a.Sink().Scan(t.Context(), audit.Filter{Tool: "sample"}, func(*audit.StoredRecord) error { n++; return nil })
	if n != 2 {
		t.Errorf("%d records for the sample call, want 2", n)
	}
}

// TestAuditModernEra: stateless 2026-07-28 requests through both endpoints are recorded with their era and
// version, on the aggregate endpoint under the upstream's own tool name.
func TestAuditModernEra(t *testing.T) {
	remote := httptest.NewServer(newTestHTTPUpstream("b", true))
	t.Cleanup(remote.Close)
	url, a := startAuditedGateway(t, httpServerYAML("b", remote.URL))
	for _, ep := range []string{"/mcp/b", "/mcp"} {
		cs := connect(t, url+ep, "", &recorder{})
		tool := "echo"
		if ep == "/mcp" {
			tool = "b.echo"
		}
		if got, _ := callText(t, cs, tool, map[string]any{"text": "m"}); got != "b:m" {
			t.Fatalf("%s %s = %q", ep, tool, got)
		}
		_ = cs.Close()
	}
	if err := a.Writer().Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := a.Sink().Scan(t.Context(), audit.Filter{Method: "tools/call"}, func(r *audit.StoredRecord) error {
		got = append(got, r.Kind+" "+r.Name+" "+r.Era+" "+r.ProtocolVersion)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"request echo modern 2026-07-28", "result echo modern 2026-07-28",
		"request echo modern 2026-07-28", "result echo modern 2026-07-28",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tools/call records (-want +got):\n%s", diff)
	}
}

// TestAuditWithholdsUndurableAnswer: a request's record is kept in the audit journal before the request is
// forwarded, and committed and synced to disk while the upstream works; when the sync fails, the answer is
// withheld with CodeAuditUnavailable (fail closed), and calls succeed again once the disk does. The fault
// is real: the journal's name is pointed at a procfs file, so the journal the writer keeps appending to
// could not be found again after a crash.
func TestAuditWithholdsUndurableAnswer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the fault (an fsync that fails) is made with procfs, which only Linux has")
	}
	url, a := startAuditedGateway(t, stdioServerYAML("s1"))
	cs := connect(t, url+"/mcp/s1", legacy, &recorder{})
	if text, isErr := callText(t, cs, "echo", map[string]any{"text": "first"}); isErr || text != "s1:first" {
		t.Fatalf("echo before the fault: %q %v", text, isErr)
	}
	wal := filepath.Join(filepath.Dir(a.Sink().DB().Path()), audit.JournalFile)
	if err := os.Rename(wal, wal+".kept"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/status", wal); err != nil {
		t.Fatal(err)
	}
	got := call(t, cs, "echo", map[string]any{"text": "second"})
	if err := os.Remove(wal); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(wal+".kept", wal); err != nil {
		t.Fatal(err)
	}
	if got.Code != jsonrpc.CodeAuditUnavailable || !strings.Contains(got.Err, "withheld") {
		t.Fatalf("call whose record could not be synced: %+v; want the answer withheld (code %d)", got, jsonrpc.CodeAuditUnavailable)
	}
	if text, isErr := callText(t, cs, "echo", map[string]any{"text": "third"}); isErr || text != "s1:third" {
		t.Fatalf("echo after the disk recovered: %q %v", text, isErr)
	}
	if err := a.Writer().Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var results []string
	err := a.Sink().Scan(t.Context(), audit.Filter{Tool: "echo"}, func(r *audit.StoredRecord) error {
		if r.Kind != "request" {
			code := int64(0)
			if r.Error != nil {
				code = r.Error.Code
			}
			results = append(results, fmt.Sprint(r.Kind, code))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"result0", fmt.Sprint("error", jsonrpc.CodeAuditUnavailable), "result0"}; !slices.Equal(results, want) {
		t.Errorf("answers recorded %v, want %v (the withheld answer is recorded as such)", results, want)
	}
}
