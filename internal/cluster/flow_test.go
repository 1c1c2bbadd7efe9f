package cluster

import (
	"context"
	"slices"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/inspect/flow"
	"github.com/mcpwarden/mcpwarden/internal/store"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestFlowStateSharedAcrossTrackers: what one replica's Tracker records for a session, another's sees, with
// the events that explain it; a gone database is an error (the flow stage then fails closed).
func TestFlowStateSharedAcrossTrackers(t *testing.T) {
	cfg := &config.Config{Audit: config.Audit{Store: "postgres", PostgresDSN: testenv.PostgresDSN(t)}}
	ctx := context.Background()
	open := func() (*flow.Tracker, func() error) {
		db, err := OpenDB(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return &flow.Tracker{Shared: NewFlowState(db)}, db.Close
	}
	a, _ := open()
	b, closeB := open()
	key := "s:" + t.Name()
	if err := a.RecordContext(ctx, key, "github", []flow.Event{{Label: flow.Tainted, Server: "github", Name: "get_issue", Why: "injection", Ref: "r:1"}},
		[]string{"injection"}); err != nil {
		t.Fatal(err)
	}
	st, err := b.StateContext(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.Labels, flow.Tainted) || !slices.Contains(st.Servers, "github") || !slices.Contains(st.Findings, "injection") {
		t.Fatalf("replica b sees %+v", st)
	}
	if why := b.Explain(key); why != "tainted from github.get_issue (injection; audit r:1)" {
		t.Errorf("explanation on replica b: %q", why)
	}
	// Recording the same again adds nothing new (rows stay few).
	if err := a.RecordContext(ctx, key, "github", []flow.Event{{Label: flow.Tainted, Server: "github", Name: "get_issue"}}, []string{"injection"}); err != nil {
		t.Fatal(err)
	}
	events, _, _, err := NewFlowState(mustDB(t, cfg)).Load(ctx, key)
	if err != nil || len(events) != 1 {
		t.Errorf("stored events = %d, %v; want 1", len(events), err)
	}
	_ = closeB()
	if _, err := b.StateContext(ctx, key); err == nil {
		t.Errorf("a closed database gave no error")
	}
	if err := b.RecordContext(ctx, "s:other", "x", []flow.Event{{Label: flow.Private}}, nil); err == nil {
		t.Errorf("recording on a closed database gave no error")
	}
}

func mustDB(t *testing.T, cfg *config.Config) *store.DB {
	t.Helper()
	db, err := OpenDB(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
