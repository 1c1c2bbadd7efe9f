// Package testenv gives tests the real things they run against: Node 22, the official MCP conformance
// CLIs (two eras), the go-sdk conformance fixture server, the npm reference server-everything, a
// throwaway PostgreSQL, free ports, and child processes that are cleaned up with the test.
//
// Contract: every dependency comes from scripts/setup-deps.sh (paths in .cache/env.sh, exported by
// scripts/test.sh as MCPWARDEN_* variables; when a variable is unset the helpers read .cache/env.sh of the
// enclosing checkout themselves). A missing dependency is a test failure (t.Fatalf naming the command to
// run), never a skip: a skipped conformance run would hide exactly the gap it exists to find.
//
// The helpers are for tests only; nothing outside _test.go files may import this package.
package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Environment variables written to .cache/env.sh by scripts/setup-deps.sh.
const (
	EnvNode                = "MCPWARDEN_NODE"                  // Node ≥ 22 binary
	EnvConformanceLegacy   = "MCPWARDEN_CONFORMANCE_LEGACY"    // CLI entry .js of @modelcontextprotocol/conformance@0.1.16
	EnvConformanceModern   = "MCPWARDEN_CONFORMANCE_MODERN"    // CLI entry .js of @modelcontextprotocol/conformance@0.2.0-alpha.12
	EnvEverythingServer    = "MCPWARDEN_EVERYTHING_SERVER"     // go-sdk v1.8.0 conformance/everything-server binary
	EnvServerEverythingNPM = "MCPWARDEN_SERVER_EVERYTHING_NPM" // entry .js of @modelcontextprotocol/server-everything
	EnvPostgresDSN         = "MCPWARDEN_TEST_POSTGRES_DSN"     // DSN of a PostgreSQL the tests may create databases in
)

// What to run, appended to every "dependency missing" failure.
const (
	howToFix   = "run ./scripts/test.sh, or scripts/setup-deps.sh then source .cache/env.sh"
	howToFixPG = "run ./scripts/test.sh, or export MCPWARDEN_TEST_POSTGRES_DSN=$(scripts/pg-test.sh)"
)

var (
	envFileOnce sync.Once
	envFileVals map[string]string
)

// lookup returns the value of an MCPWARDEN_* variable: the process environment first, then the
// .cache/env.sh of the checkout the test runs in (found by walking up from the working directory).
func lookup(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	envFileOnce.Do(func() { envFileVals = readEnvFile() })
	return envFileVals[name]
}

// readEnvFile parses the `export NAME='value'` lines that scripts/setup-deps.sh writes.
func readEnvFile() map[string]string {
	vals := map[string]string{}
	dir, err := os.Getwd()
	if err != nil {
		return vals
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return vals
		}
		dir = parent
	}
	f, err := os.Open(filepath.Join(dir, ".cache", "env.sh"))
	if err != nil {
		return vals
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		vals[name] = strings.Trim(val, `'"`)
	}
	return vals
}

// requirePath returns the path held by the named variable after checking that it exists.
func requirePath(t testing.TB, name, what string) string {
	t.Helper()
	p := lookup(name)
	if p == "" {
		t.Fatalf("testenv: %s is not set (%s); %s", name, what, howToFix)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: %s=%s (%s) is not usable: %v; %s", name, p, what, err, howToFix)
	}
	return p
}

// NodePath returns the Node.js ≥ 22 binary installed by scripts/setup-deps.sh.
func NodePath(t testing.TB) string {
	t.Helper()
	return requirePath(t, EnvNode, "Node.js 22 binary")
}

// EverythingServer returns the go-sdk v1.8.0 conformance fixture server binary. Run it with
// `-http 127.0.0.1:PORT -stateless=false|true`, or without -http for stdio; StartEverythingServer does the
// HTTP case.
func EverythingServer(t testing.TB) string {
	t.Helper()
	return requirePath(t, EnvEverythingServer, "go-sdk conformance everything-server binary")
}

// ServerEverythingNPM returns the entry script of the npm reference server
// @modelcontextprotocol/server-everything; run it as NodePath(t) ENTRY [stdio|streamableHttp|sse].
func ServerEverythingNPM(t testing.TB) string {
	t.Helper()
	return requirePath(t, EnvServerEverythingNPM, "@modelcontextprotocol/server-everything entry script")
}

// ConformanceCLI returns the entry script of the conformance CLI for suite; run it with NodePath(t).
func ConformanceCLI(t testing.TB, suite Suite) string {
	t.Helper()
	switch suite {
	case SuiteLegacy:
		return requirePath(t, EnvConformanceLegacy, "@modelcontextprotocol/conformance@0.1.16 CLI")
	case SuiteModern:
		return requirePath(t, EnvConformanceModern, "@modelcontextprotocol/conformance@0.2.0-alpha.12 CLI")
	}
	t.Fatalf("testenv: unknown conformance suite %q; use SuiteLegacy or SuiteModern", suite)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process can take it
// before the caller binds it; StartEverythingServer retries for that reason, other callers should too
// when a bind fails.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: no free TCP port on 127.0.0.1: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// addrString is "127.0.0.1:PORT".
func addrString(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// EnvChromium overrides where the browser tests find Chromium (default /usr/bin/chromium, the Debian
// package scripts/setup-deps.sh installs).
const EnvChromium = "MCPWARDEN_CHROMIUM"

// Chromium returns the Chromium binary the dashboard's browser tests drive (headless, through the
// DevTools protocol). A missing browser fails the test; it is never a skip.
func Chromium(t testing.TB) string {
	t.Helper()
	p := lookup(EnvChromium)
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("testenv: Chromium is not installed at %s (the dashboard's browser tests need it); run scripts/setup-deps.sh, "+
			"which installs the Debian packages chromium and chromium-driver, or set %s", p, EnvChromium)
	}
	return p
}
