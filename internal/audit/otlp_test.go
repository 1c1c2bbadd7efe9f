package audit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

// collector is a fake OpenTelemetry collector: the real one cannot run here. It keeps what it received.
type collector struct {
	mu     sync.Mutex
	bodies map[string][]map[string]any
	header http.Header
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var v map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &v) != nil {
		http.Error(w, "want OTLP JSON", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.bodies[r.URL.Path] = append(c.bodies[r.URL.Path], v)
	c.header = r.Header.Clone()
	c.mu.Unlock()
}

// attrs flattens the attributes of the first log record or span found under path.
func (c *collector) attrs(t *testing.T, path, resourceKey, scopeKey, itemKey string, index int) map[string]string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var items []any
	for _, b := range c.bodies[path] {
		for _, rl := range b[resourceKey].([]any) {
			for _, sl := range rl.(map[string]any)[scopeKey].([]any) {
				items = append(items, sl.(map[string]any)[itemKey].([]any)...)
			}
		}
	}
	if index >= len(items) {
		t.Fatalf("%s: %d items, want more than %d", path, len(items), index)
	}
	out := map[string]string{}
	for _, a := range items[index].(map[string]any)["attributes"].([]any) {
		kv := a.(map[string]any)
		for _, v := range kv["value"].(map[string]any) {
			out[kv["key"].(string)] = v.(string)
		}
	}
	return out
}

func TestOTLPExport(t *testing.T) {
	col := &collector{bodies: map[string][]map[string]any{}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir, Audit: config.Audit{Capture: CaptureRedacted, SigningKey: filepath.Join(dir, "k"),
		Instance: "gw1", OTLP: config.AuditOTLP{Endpoint: srv.URL, Signals: []string{"logs", "traces"}, Headers: map[string]string{"X-Token": "t"}}}}
	a, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := &Record{Kind: "request", Direction: "client_to_server", SessionID: "s1", ProtocolVersion: "2025-11-25", Server: "fs",
		Method: "tools/call", Name: "read_file", RequestID: `"r1"`, Arguments: json.RawMessage(`{"path":"/secret"}`)}
	if err := a.Commit(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	res := &Record{Kind: "error", Direction: "server_to_client", SessionID: "s1", Server: "fs", Method: "tools/call", Name: "read_file",
		RequestID: `"r1"`, Parent: req.Ref(), Error: &ErrorInfo{Code: -32003, Message: "denied"}, Decision: &Decision{Action: "deny", Rule: "r9"},
		LatencyMS: 2.5, Time: time.Now()}
	if err := a.Queue(t.Context(), res); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a.OTLP().Sent() != 2 || a.OTLP().Dropped() != 0 {
		t.Fatalf("sent %d, dropped %d", a.OTLP().Sent(), a.OTLP().Dropped())
	}
	got := col.attrs(t, "/v1/logs", "resourceLogs", "scopeLogs", "logRecords", 0)
	want := map[string]string{
		"mcp.method.name": "tools/call", "mcp.session.id": "s1", "mcp.protocol.version": "2025-11-25", "jsonrpc.request.id": "r1",
		"gen_ai.tool.name": "read_file", "gen_ai.operation.name": "execute_tool", "mcpwarden.record.ref": "gw1:1",
		"mcpwarden.direction": "client_to_server", "mcpwarden.kind": "request", "mcpwarden.server": "fs",
		"enduser.id": LocalPrincipal().User, "mcpwarden.auth_method": "local_os_user",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log attributes (-want +got):\n%s", diff)
	}
	span := col.attrs(t, "/v1/traces", "resourceSpans", "scopeSpans", "spans", 0)
	for k, v := range map[string]string{"gen_ai.tool.name": "read_file", "mcpwarden.decision": "deny", "mcpwarden.decision.rule": "r9", "error.type": "-32003", "rpc.jsonrpc.error_code": "-32003"} {
		if span[k] != v {
			t.Errorf("span attribute %s = %q, want %q (all: %v)", k, span[k], v, span)
		}
	}
	if col.header.Get("X-Token") != "t" {
		t.Error("configured header not sent")
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	raw, _ := json.Marshal(col.bodies)
	if strings.Contains(string(raw), "/secret") {
		t.Error("arguments were exported")
	}
}
