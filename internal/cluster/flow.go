package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/inspect/flow"
	"github.com/mcpwarden/mcpwarden/internal/store"
)

// FlowState is a flow.Shared in PostgreSQL: every replica adds what entered a session (labels with the
// events that brought them, servers, findings) and reads the union back, so the data-flow rules see the
// same session state whichever replica serves a call. Only what is new to the adding replica is written,
// so a session holds a few rows per distinct label, server and finding. Rows older than Keep are deleted.
type FlowState struct {
	db *store.DB
	// Timeout bounds one Load or Add. Default 2s.
	Timeout time.Duration
	// Keep is how long a session's state is kept after it was written. Default 24h (flow.Tracker's TTL).
	Keep time.Duration

	lastSweep atomic.Int64
}

// NewFlowState returns a FlowState on db, which must have been opened with Migrations.
func NewFlowState(db *store.DB) *FlowState {
	return &FlowState{db: db, Timeout: 2 * time.Second, Keep: 24 * time.Hour}
}

var _ flow.Shared = (*FlowState)(nil)

// Row kinds of cluster_flow_events.
const (
	flowLabel   = "label"
	flowServer  = "server"
	flowFinding = "finding"
)

// Load implements flow.Shared.
func (f *FlowState) Load(ctx context.Context, key string) ([]flow.Event, []string, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	rows, err := f.db.QueryContext(ctx, `SELECT kind, value, event FROM cluster_flow_events WHERE session_hash = $1 ORDER BY id`, IDHash(key))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("data-flow state (PostgreSQL): %w", err)
	}
	defer rows.Close()
	var events []flow.Event
	var servers, findings []string
	for rows.Next() {
		var kind, value string
		var ev []byte
		if err := rows.Scan(&kind, &value, &ev); err != nil {
			return nil, nil, nil, fmt.Errorf("data-flow state (PostgreSQL): %w", err)
		}
		switch kind {
		case flowLabel:
			var e flow.Event
			if json.Unmarshal(ev, &e) == nil {
				events = append(events, e)
			}
		case flowServer:
			servers = append(servers, value)
		case flowFinding:
			findings = append(findings, value)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("data-flow state (PostgreSQL): %w", err)
	}
	return events, servers, findings, nil
}

// Add implements flow.Shared.
func (f *FlowState) Add(ctx context.Context, key string, events []flow.Event, servers, findings []string) error {
	if len(events)+len(servers)+len(findings) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("data-flow state (PostgreSQL): %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	h, now := IDHash(key), time.Now().UnixNano()
	insert := func(kind, value string, ev any) error {
		var doc any // NULL
		if ev != nil {
			b, _ := json.Marshal(ev)
			doc = string(b)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO cluster_flow_events (session_hash, at_ns, kind, value, event) VALUES ($1, $2, $3, $4, $5)`,
			h, now, kind, value, doc)
		return err
	}
	for _, e := range events {
		if err := insert(flowLabel, e.Label, e); err != nil {
			return fmt.Errorf("data-flow state (PostgreSQL): %w", err)
		}
	}
	for _, s := range servers {
		if err := insert(flowServer, s, nil); err != nil {
			return fmt.Errorf("data-flow state (PostgreSQL): %w", err)
		}
	}
	for _, s := range findings {
		if err := insert(flowFinding, s, nil); err != nil {
			return fmt.Errorf("data-flow state (PostgreSQL): %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("data-flow state (PostgreSQL): %w", err)
	}
	if last := f.lastSweep.Load(); now-last > int64(time.Minute) && f.lastSweep.CompareAndSwap(last, now) {
		_, _ = f.db.ExecContext(ctx, `DELETE FROM cluster_flow_events WHERE at_ns < $1`, now-int64(f.Keep))
	}
	return nil
}
