package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// PostgresDSN returns the DSN of a fresh, empty database created for this test in the server named by
// MCPWARDEN_TEST_POSTGRES_DSN (scripts/test.sh starts a private one with scripts/pg-test.sh). The
// database is dropped when the test ends. It uses the psql client, so the package under test needs no
// particular driver. The DSN is URL-form: postgres://USER@HOST:PORT/DB?sslmode=disable.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := lookup(EnvPostgresDSN)
	if base == "" {
		t.Fatalf("testenv: %s is not set (PostgreSQL for tests); %s", EnvPostgresDSN, howToFixPG)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("testenv: %s=%q is not a postgres:// URL (err %v); set it to one, e.g. the output of scripts/pg-test.sh",
			EnvPostgresDSN, base, err)
	}
	psql := psqlPath(t)

	name := databaseName(t.Name())
	if out, err := runPSQL(psql, base, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create test database %s via %s: %v\n%s\n(is the server in %s running? %s)",
			name, redactDSN(base), err, out, EnvPostgresDSN, howToFixPG)
	}
	t.Cleanup(func() {
		if out, err := runPSQL(psql, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop test database %s: %v\n%s", name, err, out)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// psqlPath finds the psql client: PATH first, then Debian's versioned directories.
func psqlPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	if len(matches) > 0 {
		sort.Strings(matches)
		return matches[len(matches)-1]
	}
	t.Fatalf("testenv: psql not found on PATH or in /usr/lib/postgresql/*/bin; install postgresql-client " +
		"(apt-get install -y postgresql-client) or run ./scripts/test.sh")
	return ""
}

func runPSQL(psql, dsn, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql).CombinedOutput()
	return string(out), err
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName makes a unique, valid, unquoted PostgreSQL identifier (≤ 63 bytes) from a test name.
func databaseName(testName string) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	suffix := "_" + hex.EncodeToString(r[:])
	stem := nonIdent.ReplaceAllString(strings.ToLower(testName), "_")
	stem = "t_" + strings.Trim(stem, "_")
	if max := 63 - len(suffix); len(stem) > max {
		stem = stem[:max]
	}
	return stem + suffix
}

// redactDSN drops a password from a DSN before it goes into a message.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
