// Package store opens mcpwarden's databases — an embedded SQLite file in data_dir (CGO-free driver, WAL) or
// a shared PostgreSQL server (pgx) — and brings their schema up to date with ordered, idempotent migrations.
//
// Both back ends get the same tables; the few dialect differences (auto-increment keys, placeholders) are
// handled here so that consumers write one query with "?" placeholders and call DB.Rebind.
//
// Contract: Open returns a DB whose schema is at the newest version, or an error that says which migration
// failed and why. A DB is safe for concurrent use; several gateway replicas may share one PostgreSQL
// database (migrations run under an advisory lock).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect names a database back end.
type Dialect string

const (
	// SQLite is the embedded default (modernc.org/sqlite, no CGO).
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL through pgx.
	Postgres Dialect = "postgres"
)

// Options says which database to open.
type Options struct {
	// Dialect selects the back end. Default SQLite.
	Dialect Dialect
	// Path is the SQLite file (created with its directory when missing). SQLite only.
	Path string
	// DSN is the PostgreSQL connection string (postgres://…). Postgres only.
	DSN string
	// RelaxedSync trades power-loss durability for latency: SQLite runs synchronous=NORMAL (a commit survives
	// a crash of the gateway process, not of the machine) and PostgreSQL synchronous_commit=off. Default
	// false: a commit is on disk when it returns.
	RelaxedSync bool
	// ConnMaxLifetime recycles connections after this long, so a store that changed under the gateway
	// (a file made read-only, a server restarted) is reopened. Default 2s for SQLite, 5m for Postgres.
	ConnMaxLifetime time.Duration
	// MaxOpenConns bounds the pool. Default 8.
	MaxOpenConns int
}

// DB is an open, migrated database.
type DB struct {
	*sql.DB
	// Dialect is the back end.
	Dialect Dialect

	path string                      // the SQLite file; empty for PostgreSQL
	wal  atomic.Pointer[os.FileInfo] // the write-ahead log SyncWAL last synced (see SyncWAL)
}

// Migration is one schema step. SQL holds the statements per dialect, run in one transaction.
type Migration struct {
	// Version orders the migrations; versions start at 1 and never change once released.
	Version int
	// Name says what the step does.
	Name string
	// SQLite and Postgres are the statements for each back end.
	SQLite, Postgres []string
}

// Open opens (creating when needed) the database and applies migrations in order. Each migration runs once:
// applied versions are remembered in the schema_migrations table.
func Open(ctx context.Context, opts Options, migrations []Migration) (*DB, error) {
	var (
		db  *sql.DB
		err error
	)
	switch opts.Dialect {
	case SQLite, "":
		opts.Dialect = SQLite
		if opts.Path == "" {
			return nil, errors.New("store: no SQLite path given (set data_dir in the config)")
		}
		if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
			return nil, fmt.Errorf("store: create the directory for %s: %w (check data_dir and its permissions)", opts.Path, err)
		}
		if err := createSQLite(ctx, opts.Path); err != nil {
			return nil, err
		}
		// WAL lets readers (audit list, the dashboard) run while the gateway writes; synchronous=FULL makes a
		// commit durable once it returns; busy_timeout makes concurrent CLI readers wait rather than fail.
		sync := "FULL"
		if opts.RelaxedSync {
			sync = "NORMAL"
		}
		dsn := "file:" + opts.Path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
		db, err = sql.Open("sqlite", dsn)
		if opts.ConnMaxLifetime == 0 {
			opts.ConnMaxLifetime = 2 * time.Second
		}
	case Postgres:
		if opts.DSN == "" {
			return nil, errors.New("store: no PostgreSQL DSN given (set audit.postgres_dsn, e.g. postgres://user@host/db)")
		}
		dsn := opts.DSN
		if opts.RelaxedSync {
			dsn = withParam(dsn, "synchronous_commit", "off")
		}
		db, err = sql.Open("pgx", dsn)
		if opts.ConnMaxLifetime == 0 {
			opts.ConnMaxLifetime = 5 * time.Minute
		}
	default:
		return nil, fmt.Errorf("store: unknown database %q (use sqlite or postgres)", opts.Dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", opts.Dialect, err)
	}
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 8
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	out := &DB{DB: db, Dialect: opts.Dialect}
	if opts.Dialect == SQLite {
		out.path = opts.Path
	}
	if err := out.migrate(ctx, migrations); err != nil {
		_ = db.Close()
		return nil, err
	}
	return out, nil
}

// sqlitePageSize is the page size of new SQLite files. A commit writes every page it changed to the
// write-ahead log and checksums it; a call's audit record changes about five pages (the table and its
// indexes), so at low load — one or a few records per commit, the common case — 4 KiB pages write and
// checksum a quarter of what 16 KiB pages did (BenchmarkDefaultLatency: added p50 about 10 % lower), and
// large batches at high load were no slower (BenchmarkDefaultThroughput). Existing files keep theirs.
const sqlitePageSize = 4096

// createSQLite creates a missing SQLite file with sqlitePageSize pages in WAL mode. (The driver applies
// _pragma settings in alphabetical order, so page_size would come after journal_mode, too late.)
func createSQLite(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	defer db.Close()
	for _, q := range []string{"PRAGMA page_size = " + strconv.Itoa(sqlitePageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: create %s: %s: %w (check data_dir and its permissions)", path, q, err)
		}
	}
	return nil
}

// Rebind turns "?" placeholders into the dialect's form ($1, $2, … for PostgreSQL).
func (db *DB) Rebind(q string) string {
	if db.Dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// pgMigrationLock is the advisory lock key that serialises migrations between replicas.
const pgMigrationLock = 0x6d6370776172 // "mcpwar"

func (db *DB) migrate(ctx context.Context, migrations []Migration) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connect to %s: %w (is the database reachable and the file writable?)", db.Dialect, err)
	}
	defer conn.Close()
	if db.Dialect == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", pgMigrationLock); err != nil {
			return fmt.Errorf("store: lock for migrations: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", pgMigrationLock)
		}()
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_migrations in %s: %w (is the database writable?)", db.Dialect, err)
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("store: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("store: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		stmts := m.SQLite
		if db.Dialect == Postgres {
			stmts = m.Postgres
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.Version, m.Name, err)
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("store: migration %d (%s) on %s: %w", m.Version, m.Name, db.Dialect, err)
			}
		}
		if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: record migration %d: %w", m.Version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: commit migration %d (%s): %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// withParam adds a runtime parameter to a PostgreSQL DSN (URL or key=value form); pgx sends unknown
// parameters to the server as session settings.
func withParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&" + key + "=" + value
		}
		return dsn + "?" + key + "=" + value
	}
	return dsn + " " + key + "=" + value
}
