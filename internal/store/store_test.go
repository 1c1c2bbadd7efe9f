package store

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct {
		d        Dialect
		in, want string
	}{
		{SQLite, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = ? AND c = ?"},
		{Postgres, "SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{Postgres, "VALUES (?,?),(?,?)", "VALUES ($1,$2),($3,$4)"},
	} {
		got := (&DB{Dialect: tc.d}).Rebind(tc.in)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Rebind(%s, %q) (-want +got):\n%s", tc.d, tc.in, diff)
		}
	}
}

var testMigrations = []Migration{
	{Version: 1, Name: "t", SQLite: []string{"CREATE TABLE t (a INTEGER)"}, Postgres: []string{"CREATE TABLE t (a BIGINT)"}},
	{Version: 2, Name: "u", SQLite: []string{"ALTER TABLE t ADD COLUMN b TEXT"}, Postgres: []string{"ALTER TABLE t ADD COLUMN b TEXT"}},
}

// TestMigrationsRunOnce: opening twice applies each migration once; a later version is applied on top.
func TestMigrationsRunOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) Options
	}{
		{"sqlite", func(t *testing.T) Options {
			return Options{Dialect: SQLite, Path: filepath.Join(t.TempDir(), "sub", "x.db")}
		}},
		{"postgres", func(t *testing.T) Options { return Options{Dialect: Postgres, DSN: testenv.PostgresDSN(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts(t)
			for i, ms := range [][]Migration{testMigrations[:1], testMigrations[:1], testMigrations} {
				db, err := Open(t.Context(), opts, ms)
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
				var n int
				if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != len(ms) {
					t.Errorf("open %d: %d migrations recorded, want %d", i, n, len(ms))
				}
				_ = db.Close()
			}
		})
	}
}

// TestSQLiteSettings: the pragmas that make commits durable and writes efficient are in effect.
func TestSQLiteSettings(t *testing.T) {
	db, err := Open(t.Context(), Options{Dialect: SQLite, Path: filepath.Join(t.TempDir(), "x.db")}, testMigrations)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]string{}
	for _, p := range []string{"journal_mode", "synchronous", "page_size", "busy_timeout"} {
		var v string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+p).Scan(&v); err != nil {
			t.Fatal(err)
		}
		got[p] = v
	}
	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "page_size": "4096", "busy_timeout": "10000"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pragmas (-want +got):\n%s", diff)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, opts := range []Options{{Dialect: SQLite}, {Dialect: Postgres}, {Dialect: "mysql"}} {
		if _, err := Open(t.Context(), opts, nil); err == nil {
			t.Errorf("Open(%+v) succeeded", opts)
		}
	}
}

func TestRelaxedSync(t *testing.T) {
	for _, tc := range []struct {
		relaxed bool
		want    int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{false, 2}, {true, 1}} {
		db, err := Open(t.Context(), Options{Dialect: SQLite, Path: filepath.Join(t.TempDir(), "s.db"), RelaxedSync: tc.relaxed}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := db.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
		if got != tc.want {
			t.Errorf("RelaxedSync=%v: synchronous=%d, want %d", tc.relaxed, got, tc.want)
		}
	}
	if got := withParam("postgres://u@h/db?sslmode=disable", "synchronous_commit", "off"); got != "postgres://u@h/db?sslmode=disable&synchronous_commit=off" {
		t.Errorf("withParam URL: %q", got)
	}
	if got := withParam("host=h dbname=db", "synchronous_commit", "off"); got != "host=h dbname=db synchronous_commit=off" {
		t.Errorf("withParam key=value: %q", got)
	}
}
