package testenv

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// startAttempts is how often a server start is retried on a fresh port when the child exits before it
// listens (another process took the port FreePort returned).
const startAttempts = 3

// StartEverythingServer starts the go-sdk v1.8.0 conformance fixture server on a free 127.0.0.1 port,
// waits until it listens, and returns its Streamable HTTP endpoint ("http://127.0.0.1:PORT/mcp"; the
// server answers on any path) and the process. stateless=false serves the 2025 era (initialize,
// Mcp-Session-Id, GET stream: what SuiteLegacy expects); stateless=true serves 2026-07-28 (SuiteModern).
func StartEverythingServer(t testing.TB, stateless bool) (string, *Proc) {
	t.Helper()
	bin := EverythingServer(t)
	return startHTTPServer(t, func(port int) ([]string, []string) {
		return []string{bin, "-http", addrString(port), "-stateless=" + strconv.FormatBool(stateless)}, nil
	})
}

// StartServerEverythingNPM starts the npm reference server @modelcontextprotocol/server-everything in
// Streamable HTTP mode (`PORT=N node ENTRY streamableHttp`; it binds all interfaces) and returns its
// endpoint "http://127.0.0.1:PORT/mcp" and the process. For stdio, run
// []string{NodePath(t), ServerEverythingNPM(t), "stdio"} as the server command instead.
func StartServerEverythingNPM(t testing.TB) (string, *Proc) {
	t.Helper()
	node, entry := NodePath(t), ServerEverythingNPM(t)
	return startHTTPServer(t, func(port int) ([]string, []string) {
		return []string{node, entry, "streamableHttp"}, []string{"PORT=" + strconv.Itoa(port)}
	})
}

// startHTTPServer starts the command built for a free port and waits for it to listen, retrying on a
// new port if the child exits first.
func startHTTPServer(t testing.TB, build func(port int) (argv, env []string)) (string, *Proc) {
	t.Helper()
	var lastErr error
	var last *Proc
	for range startAttempts {
		port := FreePort(t)
		argv, env := build(port)
		p := StartProcess(t, argv, env)
		err := p.waitForPort(addrString(port), PortWait)
		if err == nil {
			return fmt.Sprintf("http://%s/mcp", addrString(port)), p
		}
		lastErr, last = err, p
		if !p.Exited() {
			break // alive but not listening: retrying would not help
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testenv: server did not start: %v\noutput of %s:\n%s", lastErr, last, last.Output())
	return "", nil
}
