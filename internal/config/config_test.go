package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mapLookup(env map[string]string) lookupFunc {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// The example from the package contract: position, path and suggestion, inspectable as data.
func TestParseErrorIsInspectable(t *testing.T) {
	data := []byte(`servers:
  - name: everything
    command: [srv]

  - name: files
    transport: stdio
    comand: [npx, -y, server-filesystem]
    timeout: abc
`)
	c, err := parse(data, "quickstart.yaml", mapLookup(map[string]string{"HOME": "/home/u"}))
	if c != nil {
		t.Errorf("got a Config alongside an error: %+v", c)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is %T, want *ValidationError", err, err)
	}
	want := &ValidationError{File: "quickstart.yaml", Errors: []FieldError{
		{Line: 7, Col: 5, Path: "servers[1]", Msg: `unknown key "comand" (did you mean "command"?)`},
		{Line: 8, Col: 14, Path: "servers[1].timeout", Msg: `"abc" is not a duration (write e.g. 30s or 5m)`},
	}}
	if diff := cmp.Diff(want, ve); diff != "" {
		t.Errorf("ValidationError mismatch (-want +got):\n%s", diff)
	}
	wantText := `quickstart.yaml:7:5: servers[1]: unknown key "comand" (did you mean "command"?)
quickstart.yaml:8:14: servers[1].timeout: "abc" is not a duration (write e.g. 30s or 5m)`
	if diff := cmp.Diff(wantText, err.Error()); diff != "" {
		t.Errorf("error text mismatch (-want +got):\n%s", diff)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line != 7 {
		t.Fatalf("errors.As(*FieldError) = %+v, want the first problem (line 7)", fe)
	}
	if got, want := fe.Error(), `7:5: servers[1]: unknown key "comand" (did you mean "command"?)`; got != want {
		t.Errorf("FieldError.Error() = %q, want %q", got, want)
	}
}

// Problems sort by line and column; those without a position (or only a line) keep a stable order, the
// position-less ones last; exact duplicates go.
func TestValidationErrorFormat(t *testing.T) {
	errs := sortFieldErrors([]FieldError{
		{Path: "servers", Msg: "no servers"},
		{Line: 3, Col: 2, Path: "b", Msg: "second"},
		{Line: 1, Msg: "syntax"},
		{Line: 3, Col: 2, Path: "b", Msg: "second"},
		{Path: "data_dir", Msg: "no home"},
		{Line: 3, Col: 1, Path: "a", Msg: "first on line 3"},
	})
	ve := &ValidationError{File: "f.yaml", Errors: errs}
	want := `f.yaml:1: syntax
f.yaml:3:1: a: first on line 3
f.yaml:3:2: b: second
f.yaml: data_dir: no home
f.yaml: servers: no servers`
	if diff := cmp.Diff(want, ve.Error()); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	ve.File = ""
	if got, want := ve.Errors[0].format(""), "1: syntax"; got != want {
		t.Errorf("without a file: %q, want %q", got, want)
	}
	if got, want := ve.Errors[3].format(""), "data_dir: no home"; got != want {
		t.Errorf("without a file or position: %q, want %q", got, want)
	}
}

// Env and header values, and URLs that may hold credentials, never appear in an error message.
func TestErrorsNeverQuoteSecrets(t *testing.T) {
	const secret = "s3cr3t"
	env := mapLookup(map[string]string{
		"HOME":       "/home/u",
		"WITH_NL":    "Bearer " + secret + "\r\nX-Evil: 1",
		"WITH_NUL":   secret + "\x00",
		"SECRET_VAR": secret,
	})
	tests := []struct {
		name, yaml, wantPath string
	}{
		{"header with line break from env", `headers: {Authorization: "${WITH_NL}"}`, "servers[0].headers.Authorization"},
		{"header with line break inline", `headers: {Authorization: "` + secret + `\n"}`, "servers[0].headers.Authorization"},
		{"header with unset var", `headers: {Authorization: "Bearer ` + secret + `${UNSET}"}`, "servers[0].headers.Authorization"},
		{"header unterminated ref", `headers: {X-Key: "` + secret + `${OPEN"}`, "servers[0].headers.X-Key"},
		{"header invalid ref", `headers: {X-Key: "${` + secret + `-x}"}`, "servers[0].headers.X-Key"},
		{"header managed", `headers: {Mcp-Session-Id: "` + secret + `"}`, "servers[0].headers.Mcp-Session-Id"},
		{"url with credentials", `url: "https://admin:` + secret + `@example.com/mcp"`, "servers[0].url"},
		{"url with credentials that does not parse", `url: "https://admin:` + secret + `@exa mple.com/mcp"`, "servers[0].url"},
		{"url with credentials and a var", `url: "https://admin:` + secret + `@example.com/${X}"`, "servers[0].url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "servers:\n  - name: a\n    " + tt.yaml + "\n"
			if !strings.Contains(tt.yaml, "url:") {
				data += "    url: https://example.com/mcp\n"
			}
			c, err := parse([]byte(data), "c.yaml", env)
			if err == nil {
				t.Fatalf("accepted %q: %+v", data, c)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes a secret value:\n%v", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Errors[0].Path != tt.wantPath {
				t.Errorf("error %q, want one at path %s", err, tt.wantPath)
			}
		})
	}
	t.Run("stdio env with NUL", func(t *testing.T) {
		data := "servers:\n  - name: a\n    command: [srv]\n    env: {TOKEN: \"${WITH_NUL}\"}\n"
		_, err := parse([]byte(data), "c.yaml", env)
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "servers[0].env.TOKEN") {
			t.Errorf("got %v, want an error naming servers[0].env.TOKEN without the value", err)
		}
	})
}

// Parse reads ${VAR} from the real process environment.
func TestParseExpandsFromProcessEnvironment(t *testing.T) {
	t.Setenv("MCPWARDEN_TEST_TOKEN", "tok-123")
	data := []byte(`data_dir: /var/lib/mcpwarden
servers:
  - name: remote
    url: https://example.com/mcp
    headers: {Authorization: "Bearer ${MCPWARDEN_TEST_TOKEN}"}
  - name: local
    command: [srv]
    env: {TOKEN: "${MCPWARDEN_TEST_TOKEN}", LITERAL: "$${MCPWARDEN_TEST_TOKEN}"}
`)
	c, err := Parse(data, "/etc/mcpwarden/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Servers[0].Headers["Authorization"], "Bearer tok-123"; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	wantEnv := map[string]string{"TOKEN": "tok-123", "LITERAL": "${MCPWARDEN_TEST_TOKEN}"}
	if diff := cmp.Diff(wantEnv, c.Servers[1].Env); diff != "" {
		t.Errorf("env mismatch (-want +got):\n%s", diff)
	}
}

// Every default, on a Config built in code.
func TestCheckAndSetDefaults(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	t.Setenv("XDG_DATA_HOME", "")
	c := &Config{
		Path: "/srv/mw/config.yaml",
		Servers: []Server{
			{Name: "local", Command: []string{"srv"}, Cwd: "work"},
			{Name: "remote", URL: "https://example.com/mcp"},
		},
	}
	if err := c.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	defaults := func(s Server) Server {
		s.Start = "lazy"
		s.Timeout = Duration(60 * time.Second)
		s.Restart = Restart{InitialBackoff: Duration(100 * time.Millisecond), MaxBackoff: Duration(30 * time.Second)}
		return s
	}
	want := &Config{
		Path:    "/srv/mw/config.yaml",
		Listen:  "127.0.0.1:8740",
		DataDir: "/home/alice/.local/share/mcpwarden",
		Servers: []Server{
			defaults(Server{Name: "local", Transport: "stdio", Command: []string{"srv"}, Cwd: "/srv/mw/work",
				Sandbox: &Sandbox{Enabled: new(true), Env: "scrubbed", Network: "host", Limits: SandboxLimits{OpenFiles: 4096}}}),
			defaults(Server{Name: "remote", Transport: "http", URL: "https://example.com/mcp"}),
		},
		HTTP: HTTP{
			MaxMessageBytes:    4 << 20,
			ReadHeaderTimeout:  Duration(10 * time.Second),
			ShutdownTimeout:    Duration(30 * time.Second),
			SessionIdleTimeout: Duration(30 * time.Minute),
			MaxSessions:        10_000,
		},
		Log: Log{Level: "info", Format: "text"},
		Audit: Audit{
			Enabled: new(true), Store: "sqlite", Capture: "redacted", MaxValueBytes: 64 << 10,
			WriteTimeout: Duration(5 * time.Second), CheckpointInterval: Duration(time.Minute),
			SigningKey: "/home/alice/.local/share/mcpwarden/audit-signing.key",
		},
		Approval: &Approval{Enabled: new(true), Timeout: Duration(2 * time.Minute), DefaultOnTimeout: "deny",
			PendingTTL: Duration(24 * time.Hour)},
		DataFlow: &DataFlow{Mode: "enforce", PIIConfidence: "high", Heuristics: new(true),
			DataFlowRules: DataFlowRules{Secrets: "redact", PII: "redact", Injection: "taint", Arguments: "allow"}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}

	// Idempotent: a second call changes nothing.
	again := cloneConfig(c)
	if err := again.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, again); diff != "" {
		t.Errorf("second CheckAndSetDefaults changed the config (-first +second):\n%s", diff)
	}

	t.Run("XDG_DATA_HOME", func(t *testing.T) {
		t.Setenv("XDG_DATA_HOME", "/xdg")
		c := &Config{Servers: []Server{{Name: "a", Command: []string{"srv"}}}}
		if err := c.CheckAndSetDefaults(); err != nil {
			t.Fatal(err)
		}
		if c.DataDir != "/xdg/mcpwarden" {
			t.Errorf("DataDir = %q, want /xdg/mcpwarden", c.DataDir)
		}
	})
	t.Run("relative paths without Path use the current directory", func(t *testing.T) {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		c := &Config{DataDir: "state", Servers: []Server{{Name: "a", Command: []string{"srv"}}}}
		if err := c.CheckAndSetDefaults(); err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(wd, "state"); c.DataDir != want {
			t.Errorf("DataDir = %q, want %q", c.DataDir, want)
		}
	})
}

// Errors from CheckAndSetDefaults leave the Config untouched and name paths without positions; values
// that YAML cannot express (negative durations) are caught too.
func TestCheckAndSetDefaultsErrors(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "no servers",
			cfg:  Config{},
			want: `servers: no servers configured: add at least one under servers:, e.g. servers: [{name: everything, command: [npx, -y, @modelcontextprotocol/server-everything]}] (see examples/quickstart.yaml)`,
		},
		{
			name: "negative values",
			cfg: Config{
				Path: "cfg.yaml",
				HTTP: HTTP{MaxMessageBytes: -1, ShutdownTimeout: Duration(-time.Second)},
				Servers: []Server{{Name: "a", Command: []string{"srv"}, Timeout: Duration(-time.Second),
					Restart: Restart{MaxBackoff: Duration(-time.Millisecond)}}},
			},
			want: `cfg.yaml: http.max_message_bytes: must be greater than 0 (write e.g. 4MiB), or leave it out for the default
cfg.yaml: http.shutdown_timeout: -1s is negative: use a positive duration (e.g. 30s), or leave it out for the default
cfg.yaml: servers[0].restart.initial_backoff: 100ms is longer than max_backoff (-1ms): make it shorter, or raise max_backoff
cfg.yaml: servers[0].restart.max_backoff: -1ms is negative: use a positive duration (e.g. 30s), or leave it out for the default
cfg.yaml: servers[0].timeout: -1s is negative: use a positive duration (e.g. 1m0s), or leave it out for the default`,
		},
		{
			name: "too large message limit",
			cfg:  Config{HTTP: HTTP{MaxMessageBytes: 2 << 30}, Servers: []Server{{Name: "a", Command: []string{"srv"}}}},
			want: `http.max_message_bytes: 2147483648 is more than the 1GiB limit`,
		},
		{
			name: "empty command slice and NUL in argv",
			cfg:  Config{Servers: []Server{{Name: "a", Command: []string{}}, {Name: "b", Command: []string{"srv", "a\x00b"}}}},
			want: `servers[0].command: is empty: list the program and its arguments, e.g. command: [npx, -y, @modelcontextprotocol/server-everything]
servers[1].command[1]: contains a NUL byte, which no program can receive: remove it`,
		},
		{
			name: "env key invalid",
			cfg:  Config{Servers: []Server{{Name: "a", Command: []string{"srv"}, Env: map[string]string{"A-B": "x"}}}},
			want: `servers[0].env.A-B: "A-B" is not a valid environment variable name: use letters, digits and _, not starting with a digit`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			before := tt.cfg
			before.Servers = append([]Server(nil), tt.cfg.Servers...)
			err := c.CheckAndSetDefaults()
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, c); diff != "" {
				t.Errorf("a failed CheckAndSetDefaults changed the Config (-before +after):\n%s", diff)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			for _, fe := range ve.Errors {
				if fe.Line != 0 || fe.Col != 0 {
					t.Errorf("error %+v has a position, but a Config built in code has none", fe)
				}
			}
		})
	}
}

// Warnings are replaced on every call, not accumulated.
func TestWarningsAreReplaced(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	c := &Config{Listen: "0.0.0.0:9000", Servers: []Server{{Name: "a", Command: []string{"srv"}}}}
	for range 2 {
		if err := c.CheckAndSetDefaults(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"listen: 0.0.0.0:9000 is not a loopback address, so other machines can reach the gateway: " +
		"make sure that is intended and that clients authenticate, or use 127.0.0.1:9000"}
	if diff := cmp.Diff(want, c.Warnings); diff != "" {
		t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
	}
}

// Load reads a real file; relative paths resolve against the file's directory.
func TestLoad(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	dir := t.TempDir()
	path := filepath.Join(dir, "mcpwarden.yaml")
	data := "data_dir: state\nservers:\n  - name: a\n    command: [srv]\n    cwd: ../work\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.DataDir, filepath.Join(dir, "state"); got != want {
		t.Errorf("DataDir = %q, want %q", got, want)
	}
	if got, want := c.Servers[0].Cwd, filepath.Join(filepath.Dir(dir), "work"); got != want {
		t.Errorf("Cwd = %q, want %q", got, want)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load(missing) = %v, want an fs.ErrNotExist naming the file", err)
	}
}

func TestExpandVars(t *testing.T) {
	env := mapLookup(map[string]string{"A": "1", "B": "two", "EMPTY": ""})
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "1"},
		{in: "x${A}y${B}z", want: "x1ytwoz"},
		{in: "${EMPTY}", want: ""},
		{in: "$${A}", want: "${A}"},
		{in: "$$${A}", want: "$${A}"}, // only "$${" is special: "$" then a literal "${A}"
		{in: "$A $ {A} $", want: "$A $ {A} $"},
		{in: "${A}}", want: "1}"},
		{in: "${UNSET}", wantErr: "environment variable UNSET is not set: export it before starting mcpwarden (or write $${ for a literal \"${\")"},
		{in: "${U1}${U2}${U1}", wantErr: "environment variables U1, U2 are not set: export them before starting mcpwarden (or write $${ for a literal \"${\")"},
		{in: "${A", wantErr: `"${" is not closed by "}": write ${NAME}, or $${ for a literal "${"`},
		{in: "${A B}", wantErr: `a ${...} reference does not hold a variable name (letters, digits and _, not starting with a digit): write ${NAME}, or $${ for a literal "${"`},
		{in: "${9}", wantErr: `a ${...} reference does not hold a variable name (letters, digits and _, not starting with a digit): write ${NAME}, or $${ for a literal "${"`},
		{in: "${A:-x}", wantErr: `a ${...} reference does not hold a variable name (letters, digits and _, not starting with a digit): write ${NAME}, or $${ for a literal "${"`},
	}
	for _, tt := range tests {
		got, msg := expandVars(tt.in, env)
		if got != tt.want || msg != tt.wantErr {
			t.Errorf("expandVars(%q) = %q, %q; want %q, %q", tt.in, got, msg, tt.want, tt.wantErr)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"command", "cwd", "env", "headers", "name", "restart", "start", "timeout", "transport", "url"}
	tests := []struct{ in, want string }{
		{"comand", "command"},
		{"Command", "command"},
		{"evn", "env"},
		{"timout", "timeout"},
		{"ur", "url"},
		{"tranport", "transport"},
		{"restart_policy", ""},
		{"x", ""},
		{"zzzzzzzz", ""},
	}
	for _, tt := range tests {
		if got := closest(tt.in, known); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	b, err := json.Marshal(struct{ T Duration }{Duration(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"T":"1m30s"}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	var v struct{ T Duration }
	if err := json.Unmarshal(b, &v); err != nil || v.T.D() != 90*time.Second {
		t.Errorf("round trip = %v, %v; want 1m30s", v.T, err)
	}
	if err := json.Unmarshal([]byte(`{"T":"abc"}`), &v); err == nil || !strings.Contains(err.Error(), `"abc" is not a duration`) {
		t.Errorf("Unmarshal(abc) error = %v, want a duration error", err)
	}
}

// Aliases and merge keys cannot make a small file expand into a huge walk: nested merges are expanded
// once per mapping, and repeated aliases draw on a budget proportional to the file's size.
func TestAliasExpansionIsBounded(t *testing.T) {
	env := mapLookup(map[string]string{"HOME": "/h"})

	// 40 levels of <<: [*prev, *prev] would be 2^40 entries if each merge were walked again.
	var b strings.Builder
	b.WriteString("x-0: &a0 {k0: v}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "x-%d: &a%d {<<: [*a%d, *a%d], k%d: v}\n", i, i, i-1, i-1, i)
	}
	b.WriteString("servers:\n  - <<: *a39\n    name: a\n    command: [x]\n")
	_, err := parse([]byte(b.String()), "c.yaml", env)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 40 {
		t.Errorf("merge chain: got %v, want 40 unknown-key errors (k0…k39), one each", err)
	}

	// 3000 aliases of a server with a 2000-argument command: 6 million entries from 18 kB.
	data := "x-s: &s\n  name: a\n  command: [" + strings.Repeat("x, ", 2000) + "x]\nservers: [" +
		strings.Repeat("*s, ", 3000) + "*s]\n"
	_, err = parse([]byte(data), "c.yaml", env)
	want := "c.yaml:3:12: the file expands into too many entries through YAML aliases: write the config out without them"
	if err == nil || err.Error() != want {
		t.Errorf("alias fan-out: got %v, want %q", err, want)
	}
}

// TestMetricsSection covers the metrics: section's validation beyond the golden archives: which listen
// addresses and paths are accepted, warned about or refused, and that a refused section leaves the Config
// as it was.
func TestMetricsSection(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	tests := []struct {
		name, listen, path string
		pprof              bool
		wantPath           string // after defaults, when accepted
		wantWarn, wantErr  string // substrings; "" for none
	}{
		{name: "loopback, default path", listen: "127.0.0.1:9741", wantPath: "/metrics"},
		{name: "localhost", listen: "localhost:9741", wantPath: "/metrics"},
		{name: "ipv6 loopback", listen: "[::1]:9741", wantPath: "/metrics"},
		{name: "port 0 picks a free port", listen: "127.0.0.1:0", wantPath: "/metrics"},
		{name: "root path", listen: "127.0.0.1:9741", path: "/", wantPath: "/"},
		{name: "nested path", listen: "127.0.0.1:9741", path: "/ops/metrics.v1", wantPath: "/ops/metrics.v1"},
		{name: "lan address is a warning", listen: "192.0.2.10:9741", wantPath: "/metrics", wantWarn: "metrics.listen: 192.0.2.10:9741 is not a loopback address"},
		{name: "host name is a warning", listen: "metrics.internal:9741", wantPath: "/metrics", wantWarn: "no authentication"},
		{name: "missing listen", path: "/metrics", wantErr: "metrics.listen: is required in the metrics section"},
		{name: "no port", listen: "127.0.0.1", wantErr: `metrics.listen: "127.0.0.1" is not host:port`},
		{name: "port out of range", listen: "127.0.0.1:70000", wantErr: "has no valid port"},
		{name: "bad host", listen: "bad_host!:9741", wantErr: `"bad_host!" is not a valid host`},
		{name: "the gateway's own address", listen: "127.0.0.1:8740", wantErr: "is the port of the gateway's listen address"},
		{name: "the gateway's port on every interface", listen: ":8740", wantErr: "is the port of the gateway's listen address"},
		{name: "relative path", listen: "127.0.0.1:9741", path: "metrics", wantErr: `metrics.path: "metrics" is not a URL path`},
		{name: "trailing slash", listen: "127.0.0.1:9741", path: "/metrics/", wantErr: "metrics.path"},
		{name: "dot segment", listen: "127.0.0.1:9741", path: "/a/../metrics", wantErr: "metrics.path"},
		{name: "query", listen: "127.0.0.1:9741", path: "/metrics?x=1", wantErr: "metrics.path"},
		{name: "mux pattern syntax", listen: "127.0.0.1:9741", path: "/{name}", wantErr: "metrics.path"},
		{name: "method in pattern", listen: "127.0.0.1:9741", path: "GET /metrics", wantErr: "metrics.path"},
		{name: "pprof on loopback", listen: "127.0.0.1:9741", pprof: true, wantPath: "/metrics"},
		{name: "pprof on a lan address", listen: "192.0.2.10:9741", pprof: true, wantErr: "metrics.pprof: profiles are served only on a loopback"},
		{name: "pprof on every interface", listen: ":9741", pprof: true, wantErr: "metrics.pprof"},
		{name: "path under pprof's", listen: "127.0.0.1:9741", path: "/debug/pprof/metrics", pprof: true, wantErr: "is where pprof serves"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Servers: []Server{{Name: "a", Command: []string{"srv"}}}, Metrics: &Metrics{Listen: tt.listen, Path: tt.path, Pprof: tt.pprof}}
			before := *c.Metrics
			err := c.CheckAndSetDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if *c.Metrics != before {
					t.Errorf("a refused metrics section was changed: %+v, was %+v", *c.Metrics, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.Metrics.Path != tt.wantPath || c.Metrics.Listen != tt.listen {
				t.Errorf("metrics %+v, want listen %q path %q", *c.Metrics, tt.listen, tt.wantPath)
			}
			warns := strings.Join(c.Warnings, "\n")
			if tt.wantWarn == "" && strings.Contains(warns, "metrics") || tt.wantWarn != "" && !strings.Contains(warns, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", c.Warnings, tt.wantWarn)
			}
		})
	}
}
