package fleet

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // CGO-free SQLite driver "sqlite"
)

// SQLiteStore is a FleetStore in one SQLite file (WAL mode). It keeps every report (history per host and
// user), the change events between consecutive reports, and the latest servers of each host+user.
type SQLiteStore struct {
	db *sql.DB
}

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS fleet_reports (
	report_id   TEXT PRIMARY KEY,
	host        TEXT NOT NULL,
	user        TEXT NOT NULL,
	principal   TEXT NOT NULL,
	received_at TEXT NOT NULL,
	inventory   BLOB NOT NULL,
	result      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS fleet_reports_host ON fleet_reports(host, user, received_at);
CREATE TABLE IF NOT EXISTS fleet_hosts (
	host    TEXT NOT NULL,
	user    TEXT NOT NULL,
	summary BLOB NOT NULL,
	PRIMARY KEY (host, user)
);
CREATE TABLE IF NOT EXISTS fleet_servers (
	host      TEXT NOT NULL,
	user      TEXT NOT NULL,
	server_id TEXT NOT NULL,
	shadow    INTEGER NOT NULL,
	record    BLOB NOT NULL,
	PRIMARY KEY (host, user, server_id)
);
CREATE TABLE IF NOT EXISTS fleet_changes (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	report_id TEXT NOT NULL,
	host      TEXT NOT NULL,
	user      TEXT NOT NULL,
	server_id TEXT NOT NULL,
	kind      TEXT NOT NULL, -- new, changed, removed
	shadow    INTEGER NOT NULL,
	at        TEXT NOT NULL
);
`

// NewSQLiteStore opens (creating if needed) the fleet database at path.
func NewSQLiteStore(ctx context.Context, path string) (*SQLiteStore, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open fleet database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create fleet schema in %s: %w (is the file a SQLite database you may write?)", path, err)
	}
	return &SQLiteStore{db: db}, nil
}

// Close closes the database.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// SaveReport implements FleetStore in one transaction.
func (s *SQLiteStore) SaveReport(ctx context.Context, rep StoredReport) (SaveResult, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return SaveResult{}, err
	}
	defer tx.Rollback()
	var prevResult []byte
	err = tx.QueryRowContext(ctx, `SELECT result FROM fleet_reports WHERE report_id = ?`, rep.ReportID).Scan(&prevResult)
	if err == nil {
		var r SaveResult
		if err := json.Unmarshal(prevResult, &r); err != nil {
			return SaveResult{}, fmt.Errorf("stored result of report %q: %w", rep.ReportID, err)
		}
		r.Duplicate = true
		return r, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return SaveResult{}, err
	}
	var summary HostSummary
	var prev map[string]ServerRecord
	var sumBytes []byte
	err = tx.QueryRowContext(ctx, `SELECT summary FROM fleet_hosts WHERE host = ? AND user = ?`, rep.Host, rep.User).Scan(&sumBytes)
	switch {
	case err == nil:
		if err := json.Unmarshal(sumBytes, &summary); err != nil {
			return SaveResult{}, err
		}
		prev = map[string]ServerRecord{}
		rows, err := tx.QueryContext(ctx, `SELECT record FROM fleet_servers WHERE host = ? AND user = ?`, rep.Host, rep.User)
		if err != nil {
			return SaveResult{}, err
		}
		for rows.Next() {
			var b []byte
			var r ServerRecord
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return SaveResult{}, err
			}
			if err := json.Unmarshal(b, &r); err != nil {
				rows.Close()
				return SaveResult{}, err
			}
			prev[r.ServerID] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return SaveResult{}, err
		}
	case errors.Is(err, sql.ErrNoRows):
		summary = HostSummary{Host: rep.Host, User: rep.User}
	default:
		return SaveResult{}, err
	}
	next, res := apply(prev, rep)
	at := rep.ReceivedAt.UTC().Format(time.RFC3339Nano)
	if _, err := tx.ExecContext(ctx, `DELETE FROM fleet_servers WHERE host = ? AND user = ?`, rep.Host, rep.User); err != nil {
		return SaveResult{}, err
	}
	for _, r := range next {
		b, _ := json.Marshal(r)
		if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_servers(host, user, server_id, shadow, record) VALUES (?, ?, ?, ?, ?)`,
			rep.Host, rep.User, r.ServerID, r.Shadow, b); err != nil {
			return SaveResult{}, err
		}
	}
	for kind, list := range map[string][]ServerRecord{"new": res.New, "changed": res.Changed, "removed": res.Removed} {
		for _, r := range list {
			if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_changes(report_id, host, user, server_id, kind, shadow, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				rep.ReportID, rep.Host, rep.User, r.ServerID, kind, r.Shadow, at); err != nil {
				return SaveResult{}, err
			}
		}
	}
	summary.OS, summary.LastReportID, summary.LastSeen = rep.OS, rep.ReportID, rep.ReceivedAt
	summary.Reports++
	summarize(&summary, next)
	sb, _ := json.Marshal(summary)
	if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_hosts(host, user, summary) VALUES (?, ?, ?)
		ON CONFLICT(host, user) DO UPDATE SET summary = excluded.summary`, rep.Host, rep.User, sb); err != nil {
		return SaveResult{}, err
	}
	inv, _ := json.Marshal(rep.Inventory)
	rb, _ := json.Marshal(res)
	if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_reports(report_id, host, user, principal, received_at, inventory, result) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		rep.ReportID, rep.Host, rep.User, rep.Principal, at, inv, rb); err != nil {
		return SaveResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return SaveResult{}, err
	}
	return res, nil
}

// Hosts implements FleetStore.
func (s *SQLiteStore) Hosts(ctx context.Context) ([]HostSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT summary FROM fleet_hosts ORDER BY host, user`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []HostSummary{}
	for rows.Next() {
		var b []byte
		var h HostSummary
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Servers implements FleetStore.
func (s *SQLiteStore) Servers(ctx context.Context, f ServerFilter) ([]ServerRecord, error) {
	q := `SELECT record FROM fleet_servers`
	var args []any
	if f.ShadowOnly {
		q += ` WHERE shadow = 1`
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []ServerRecord
	for rows.Next() {
		var b []byte
		var r ServerRecord
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return filterRecords(all, f), nil
}

var _ FleetStore = (*SQLiteStore)(nil)
