package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/config"
)

// TestDefaultConfigAsksBeforeDropTable: with no approval: section at all, the shipped policy's ask parks a
// DROP TABLE for a human (it is not refused), and an approval releases it to the upstream.
func TestDefaultConfigAsksBeforeDropTable(t *testing.T) {
	dir := t.TempDir()
	yml := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nservers:\n  - name: poldb\n    command: [%q]\n    env: {MCPWARDEN_TEST_SERVER: poldb}\n", dir, os.Args[0])
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stages, closeStages, err := BuildStages(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Logger: log, Stages: stages})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
		ts.Close()
		_ = closeStages()
	})
	base := ts.URL
	cs := connect(t, base+"/mcp/poldb", legacy, &recorder{})
	done := make(chan outcome, 1)
	go func() { done <- call(t, cs, "sql", map[string]any{"query": "DROP TABLE users"}) }()

	st, err := approval.OpenStore(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var pending []*approval.Approval
	for deadline := time.Now().Add(20 * time.Second); len(pending) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("DROP TABLE was not parked as a pending approval")
		}
		select {
		case o := <-done:
			t.Fatalf("the call ended before anyone decided: %+v", o)
		default:
		}
		if pending, err = st.List(t.Context(), approval.StatusPending); err != nil {
			t.Fatal(err)
		}
	}
	if pending[0].Call.Tool != "sql" {
		t.Fatalf("pending approval is for %q", pending[0].Call.Tool)
	}
	if _, _, err := st.Decide(t.Context(), pending[0].ID, approval.Decision{Approve: true, By: approval.Approver{ID: "local:dba@test", User: "dba"}}); err != nil {
		t.Fatal(err)
	}
	if o := <-done; o.Text != "ran: DROP TABLE users" {
		t.Errorf("after approval: %+v, want the upstream's result", o)
	}
}
