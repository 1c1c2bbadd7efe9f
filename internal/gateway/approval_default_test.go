package gateway

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
)

// TestDefaultConfigAsksBeforeDropTable: with no approval: section at all, the shipped policy's ask parks a
// DROP TABLE for a human (it is not refused), and an approval releases it to the upstream.
func TestDefaultConfigAsksBeforeDropTable(t *testing.T) {
	g := startStaged(t, fmt.Sprintf("servers:\n  - name: poldb\n    command: [%q]\n    env: {MCPWARDEN_TEST_SERVER: poldb}\n", os.Args[0]), nil)
	cfg, base := g.Config, g.URL
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
