package approval

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/store"
)

// DBFile is the SQLite database the approvals share with the audit trail, inside data_dir.
const DBFile = "audit.db"

// Migrations is the approval schema, the same for SQLite and PostgreSQL. Its versions start at 101 so that
// they never collide with the audit schema's in the shared schema_migrations table.
var Migrations = []store.Migration{{
	Version: 101,
	Name:    "approvals, grants and grant uses",
	SQLite: []string{
		`CREATE TABLE approvals (
			id TEXT PRIMARY KEY, status TEXT NOT NULL, created_ns INTEGER NOT NULL, expires_ns INTEGER NOT NULL,
			server TEXT NOT NULL, tool TEXT NOT NULL, principal TEXT NOT NULL, user_name TEXT NOT NULL,
			rule TEXT NOT NULL, call TEXT NOT NULL, require TEXT NOT NULL,
			decided_by TEXT NOT NULL DEFAULT '', decided_ns INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
			scope TEXT NOT NULL DEFAULT '', grant_id TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX approvals_status ON approvals (status, created_ns)`,
		`CREATE TABLE approval_grants (
			id TEXT PRIMARY KEY, approval_id TEXT NOT NULL, scope TEXT NOT NULL, server TEXT NOT NULL, tool TEXT NOT NULL,
			args_hash TEXT NOT NULL, session_id TEXT NOT NULL, principal TEXT NOT NULL,
			created_ns INTEGER NOT NULL, expires_ns INTEGER NOT NULL, granted_by TEXT NOT NULL, uses INTEGER NOT NULL DEFAULT 0,
			revoked_by TEXT NOT NULL DEFAULT '', revoked_ns INTEGER NOT NULL DEFAULT 0)`,
		`CREATE INDEX approval_grants_lookup ON approval_grants (server, tool, expires_ns)`,
		`CREATE TABLE approval_grant_uses (
			id INTEGER PRIMARY KEY AUTOINCREMENT, grant_id TEXT NOT NULL, time_ns INTEGER NOT NULL,
			principal TEXT NOT NULL, session_id TEXT NOT NULL, server TEXT NOT NULL, tool TEXT NOT NULL, args_hash TEXT NOT NULL)`,
		`CREATE INDEX approval_grant_uses_grant ON approval_grant_uses (grant_id)`,
	},
	Postgres: []string{
		`CREATE TABLE approvals (
			id TEXT PRIMARY KEY, status TEXT NOT NULL, created_ns BIGINT NOT NULL, expires_ns BIGINT NOT NULL,
			server TEXT NOT NULL, tool TEXT NOT NULL, principal TEXT NOT NULL, user_name TEXT NOT NULL,
			rule TEXT NOT NULL, call TEXT NOT NULL, require TEXT NOT NULL,
			decided_by TEXT NOT NULL DEFAULT '', decided_ns BIGINT NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',
			scope TEXT NOT NULL DEFAULT '', grant_id TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX approvals_status ON approvals (status, created_ns)`,
		`CREATE TABLE approval_grants (
			id TEXT PRIMARY KEY, approval_id TEXT NOT NULL, scope TEXT NOT NULL, server TEXT NOT NULL, tool TEXT NOT NULL,
			args_hash TEXT NOT NULL, session_id TEXT NOT NULL, principal TEXT NOT NULL,
			created_ns BIGINT NOT NULL, expires_ns BIGINT NOT NULL, granted_by TEXT NOT NULL, uses BIGINT NOT NULL DEFAULT 0,
			revoked_by TEXT NOT NULL DEFAULT '', revoked_ns BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX approval_grants_lookup ON approval_grants (server, tool, expires_ns)`,
		`CREATE TABLE approval_grant_uses (
			id BIGSERIAL PRIMARY KEY, grant_id TEXT NOT NULL, time_ns BIGINT NOT NULL,
			principal TEXT NOT NULL, session_id TEXT NOT NULL, server TEXT NOT NULL, tool TEXT NOT NULL, args_hash TEXT NOT NULL)`,
		`CREATE INDEX approval_grant_uses_grant ON approval_grant_uses (grant_id)`,
	},
}, {
	Version:  102,
	Name:     "grants bound to the action approved",
	SQLite:   []string{`ALTER TABLE approval_grants ADD COLUMN action TEXT NOT NULL DEFAULT ''`},
	Postgres: []string{`ALTER TABLE approval_grants ADD COLUMN action TEXT NOT NULL DEFAULT ''`},
}}

// ErrNotFound is returned for an unknown approval or grant id.
var ErrNotFound = errors.New("not found")

// Store keeps approvals and grants in the database.
type Store struct {
	db    *store.DB
	clock Clock
}

// OpenStore opens the gateway's database (the audit store of cfg: SQLite data_dir/audit.db, or PostgreSQL)
// with the approval schema. clock nil means the system clock.
func OpenStore(ctx context.Context, cfg *config.Config, clock Clock) (*Store, error) {
	opts := store.Options{Dialect: store.SQLite, Path: filepath.Join(cfg.DataDir, DBFile)}
	if cfg.Audit.Store == "postgres" {
		opts = store.Options{Dialect: store.Postgres, DSN: cfg.Audit.PostgresDSN}
	}
	db, err := store.Open(ctx, opts, Migrations)
	if err != nil {
		return nil, fmt.Errorf("approval: %w", err)
	}
	return NewStore(db, clock), nil
}

// NewStore returns a Store on db, which must have been opened with Migrations. clock nil: system clock.
func NewStore(db *store.DB, clock Clock) *Store {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Store{db: db, clock: clock}
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.clock.Now() }

// Create stores a new pending approval for call; it can be approved until ttl has passed.
func (s *Store) Create(ctx context.Context, call Call, req Requirement, ttl time.Duration) (*Approval, error) {
	now := s.clock.Now().UTC()
	a := &Approval{ID: newID("apr-"), Status: StatusPending, Created: now, Expires: now.Add(ttl), Call: call, Require: req}
	cb, err := json.Marshal(a.Call)
	if err != nil {
		return nil, err
	}
	rb, err := json.Marshal(a.Require)
	if err != nil {
		return nil, err
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO approvals (id, status, created_ns, expires_ns, server, tool, principal, user_name, rule, call, require)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, string(a.Status), now.UnixNano(), a.Expires.UnixNano(), call.Server, call.Tool, call.Principal, call.User, call.Rule, string(cb), string(rb))
	if err != nil {
		return nil, fmt.Errorf("approval store (%s): store the pending approval: %w (check the database)", s.db.Dialect, err)
	}
	return a, nil
}

const approvalColumns = "id, status, created_ns, expires_ns, call, require, decided_by, decided_ns, reason, scope, grant_id"

type scanner interface{ Scan(...any) error }

func scanApproval(r scanner) (*Approval, error) {
	var a Approval
	var status, call, req, scope string
	var created, expires, decided int64
	if err := r.Scan(&a.ID, &status, &created, &expires, &call, &req, &a.DecidedBy, &decided, &a.Reason, &scope, &a.GrantID); err != nil {
		return nil, err
	}
	a.Status, a.Scope = Status(status), Scope(scope)
	a.Created, a.Expires = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	if decided != 0 {
		a.DecidedAt = time.Unix(0, decided).UTC()
	}
	if err := json.Unmarshal([]byte(call), &a.Call); err != nil {
		return nil, fmt.Errorf("approval %s: stored call is corrupt: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(req), &a.Require); err != nil {
		return nil, fmt.Errorf("approval %s: stored requirement is corrupt: %w", a.ID, err)
	}
	return &a, nil
}

// Get returns one approval, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Approval, error) {
	return s.get(ctx, s.db, id)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (s *Store) get(ctx context.Context, q querier, id string) (*Approval, error) {
	a, err := scanApproval(q.QueryRowContext(ctx, s.db.Rebind("SELECT "+approvalColumns+" FROM approvals WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("approval %q: %w (list them with `mcpwarden approvals list`)", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("approval store: read %s: %w", id, err)
	}
	return a, nil
}

// List returns approvals, newest first: only those with status when it is set, and for StatusPending only
// those that can still be approved.
func (s *Store) List(ctx context.Context, status Status) ([]*Approval, error) {
	q := "SELECT " + approvalColumns + " FROM approvals"
	var args []any
	if status != "" {
		q += " WHERE status = ?"
		args = append(args, string(status))
		if status == StatusPending {
			q += " AND expires_ns > ?"
			args = append(args, s.clock.Now().UnixNano())
		}
	}
	q += " ORDER BY created_ns DESC LIMIT 1000"
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("approval store: list: %w", err)
	}
	defer rows.Close()
	var out []*Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Decide records an approver's decision on a pending approval, once: a second decision, a decision after
// the approval expired, a four-eyes violation or an approver outside the required groups is refused with a
// *RefusedError. Approving creates the grant (scope d.Scope, lifetime d.TTL) in the same transaction.
func (s *Store) Decide(ctx context.Context, id string, d Decision) (*Approval, *Grant, error) {
	if d.Approve {
		if d.Scope == "" {
			d.Scope = ScopeOnce
		}
		if _, err := ParseScope(string(d.Scope)); err != nil {
			return nil, nil, &RefusedError{err.Error()}
		}
		if d.TTL <= 0 {
			d.TTL = DefaultTTL(d.Scope)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("approval store: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	a, err := s.get(ctx, tx, id)
	if err != nil {
		return nil, nil, err
	}
	now := s.clock.Now().UTC()
	if a.Status != StatusPending {
		return a, nil, &RefusedError{fmt.Sprintf("approval %s was already %s by %s", a.ID, a.Status, a.DecidedBy)}
	}
	if !now.Before(a.Expires) {
		return a, nil, &RefusedError{fmt.Sprintf("approval %s expired at %s; the agent must make the call again", a.ID, a.Expires.Format(time.RFC3339))}
	}
	if err := a.check(d.By); err != nil {
		return a, nil, err
	}
	var g *Grant
	a.Status, a.DecidedBy, a.DecidedAt, a.Reason = StatusDenied, d.By.ID, now, d.Reason
	if d.Approve {
		a.Status, a.Scope = StatusApproved, d.Scope
		g = &Grant{ID: newID("grt-"), ApprovalID: a.ID, Scope: d.Scope, Server: a.Call.Server, Tool: a.Call.Tool,
			Principal: a.Call.Principal, Created: now, Expires: now.Add(d.TTL), GrantedBy: d.By.ID, Action: a.Call.Action()}
		switch d.Scope {
		case ScopeOnce, ScopeArgs:
			g.ArgsHash = a.Call.ArgsHash()
		case ScopeSession:
			g.SessionID = a.Call.SessionID
		}
		a.GrantID = g.ID
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO approval_grants (id, approval_id, scope, server, tool, args_hash, session_id, principal, created_ns, expires_ns, granted_by, action)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), g.ID, g.ApprovalID, string(g.Scope), g.Server, g.Tool, g.ArgsHash, g.SessionID, g.Principal,
			g.Created.UnixNano(), g.Expires.UnixNano(), g.GrantedBy, g.Action); err != nil {
			return nil, nil, fmt.Errorf("approval store: store the grant: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE approvals SET status = ?, decided_by = ?, decided_ns = ?, reason = ?, scope = ?, grant_id = ?
		WHERE id = ? AND status = ?`), string(a.Status), a.DecidedBy, now.UnixNano(), a.Reason, string(a.Scope), a.GrantID, a.ID, string(StatusPending))
	if err != nil {
		return nil, nil, fmt.Errorf("approval store: record the decision: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, nil, &RefusedError{fmt.Sprintf("approval %s was decided by someone else meanwhile", a.ID)}
	}
	if s.db.Dialect == store.Postgres {
		// Delivered at commit: wakes the parked call in whichever gateway replica holds it.
		if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", notifyChannel, a.ID); err != nil {
			return nil, nil, fmt.Errorf("approval store: notify the decision: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("approval store: commit the decision: %w", err)
	}
	return a, g, nil
}

const grantColumns = "id, approval_id, scope, server, tool, args_hash, session_id, principal, created_ns, expires_ns, granted_by, uses, revoked_by, revoked_ns, action"

func scanGrant(r scanner) (*Grant, error) {
	var g Grant
	var scope string
	var created, expires, revoked int64
	if err := r.Scan(&g.ID, &g.ApprovalID, &scope, &g.Server, &g.Tool, &g.ArgsHash, &g.SessionID, &g.Principal,
		&created, &expires, &g.GrantedBy, &g.Uses, &g.RevokedBy, &revoked, &g.Action); err != nil {
		return nil, err
	}
	g.Scope = Scope(scope)
	g.Created, g.Expires = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	if revoked != 0 {
		g.RevokedAt = time.Unix(0, revoked).UTC()
	}
	return &g, nil
}

// FindGrant returns an active grant that covers call, narrowest scope first, or nil.
func (s *Store) FindGrant(ctx context.Context, call Call) (*Grant, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+grantColumns+` FROM approval_grants
		WHERE server = ? AND tool = ? AND expires_ns > ? AND revoked_ns = 0`), call.Server, call.Tool, s.clock.Now().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("approval store: look up grants: %w", err)
	}
	defer rows.Close()
	hash := call.ArgsHash()
	var best *Grant
	rank := func(sc Scope) int {
		for i, x := range Scopes {
			if x == sc {
				return i
			}
		}
		return len(Scopes)
	}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		if !g.covers(call, hash) {
			continue
		}
		if best == nil || rank(g.Scope) < rank(best.Scope) {
			best = g
		}
	}
	return best, rows.Err()
}

func (g *Grant) covers(call Call, hash string) bool {
	action := g.Action
	if action == "" {
		action = "tools/call" // grants stored before grants named their action were made for tool calls
	}
	if action != call.Action() {
		return false
	}
	switch g.Scope {
	case ScopeOnce:
		return g.Uses == 0 && g.Principal == call.Principal && g.ArgsHash == hash
	case ScopeArgs:
		return g.Principal == call.Principal && g.ArgsHash == hash
	case ScopeSession:
		return g.SessionID != "" && g.SessionID == call.SessionID && g.Principal == call.Principal
	case ScopeUser:
		return g.Principal == call.Principal
	}
	return false
}

// UseGrant records one use of g by call. It reports false when the grant can no longer be used (a once
// grant used meanwhile, revoked or expired), in which case the call must ask again.
func (s *Store) UseGrant(ctx context.Context, g *Grant, call Call) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("approval store: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := s.clock.Now().UnixNano()
	q := "UPDATE approval_grants SET uses = uses + 1 WHERE id = ? AND revoked_ns = 0 AND expires_ns > ?"
	if g.Scope == ScopeOnce {
		q += " AND uses = 0"
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(q), g.ID, now)
	if err != nil {
		return false, fmt.Errorf("approval store: use grant %s: %w", g.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO approval_grant_uses (grant_id, time_ns, principal, session_id, server, tool, args_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), g.ID, now, call.Principal, call.SessionID, call.Server, call.Tool, call.ArgsHash()); err != nil {
		return false, fmt.Errorf("approval store: record the use of grant %s: %w", g.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("approval store: commit the use of grant %s: %w", g.ID, err)
	}
	g.Uses++
	return true, nil
}

// Grants lists grants, newest first; all of them when all is set, else only active ones.
func (s *Store) Grants(ctx context.Context, all bool) ([]*Grant, error) {
	q := "SELECT " + grantColumns + " FROM approval_grants"
	var args []any
	if !all {
		q += " WHERE revoked_ns = 0 AND expires_ns > ? AND NOT (scope = 'once' AND uses > 0)"
		args = append(args, s.clock.Now().UnixNano())
	}
	q += " ORDER BY created_ns DESC LIMIT 1000"
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("approval store: list grants: %w", err)
	}
	defer rows.Close()
	var out []*Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// Revoke ends a grant now. Revoking an unknown or already revoked grant is an error.
func (s *Store) Revoke(ctx context.Context, id, by string) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind("UPDATE approval_grants SET revoked_by = ?, revoked_ns = ? WHERE id = ? AND revoked_ns = 0"),
		by, s.clock.Now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("approval store: revoke %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("grant %q: %w or already revoked (list them with `mcpwarden approvals grants`)", id, ErrNotFound)
	}
	return nil
}

func (s *Store) grantByID(ctx context.Context, id string) (*Grant, error) {
	g, err := scanGrant(s.db.QueryRowContext(ctx, s.db.Rebind("SELECT "+grantColumns+" FROM approval_grants WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant %q: %w", id, ErrNotFound)
	}
	return g, err
}
