// Package config loads and validates mcpwarden's YAML configuration.
//
// Load and Parse are strict: an unknown key, a value of the wrong type or an invalid value is an error that
// names the file, the line, the column and the key path, and says what to do. All problems in a file are
// reported together as one *ValidationError (one line each, sorted by position). A Config returned without
// error has every default applied (CheckAndSetDefaults) and is safe to start a gateway from; a bad config
// never yields a Config at all.
//
// ${VAR} references in servers[].env and servers[].headers values are replaced from the gateway's
// environment while parsing (write $${ for a literal "${"), so secrets live in the environment rather than
// in the file. Error messages never contain an env or header value, only its key.
package config

import (
	"fmt"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the address `mcpwarden serve` binds, host:port. Default 127.0.0.1:8740. Port 0 picks a
	// free port (for tests). Binding a non-loopback address is allowed but must be explicit, and adds a
	// warning to Warnings.
	Listen string `yaml:"listen"`
	// DataDir holds the embedded database, keys and pins. Default: $XDG_DATA_HOME/mcpwarden when
	// XDG_DATA_HOME is set to an absolute path, else ~/.local/share/mcpwarden. A leading "~/" means the
	// user's home directory; other relative paths are relative to the config file's directory. Always
	// absolute after CheckAndSetDefaults.
	DataDir string `yaml:"data_dir"`
	// Servers are the upstream MCP servers, each reachable at /mcp/{name}. At least one is required.
	Servers []Server `yaml:"servers"`
	// HTTP tunes the HTTP front.
	HTTP HTTP `yaml:"http"`
	// Log configures the gateway's own log (not the audit trail).
	Log Log `yaml:"log"`
	// Policy is kept as raw YAML until the policy stage parses it (inline rules or a file path): whatever
	// YAML value is written here, decoded into Go values (map[string]any, []any, string, int, float64,
	// bool, nil). Nil when absent. The config package does not validate it.
	Policy any `yaml:"policy"`

	// Path is the file the config was loaded from, as given to Load or Parse (not a YAML key). Relative
	// data_dir and cwd values are resolved against its directory; when empty, against the current
	// directory.
	Path string `yaml:"-"`
	// Warnings are problems that do not stop the gateway but that its operator should see (for example
	// a non-loopback listen address), one message per entry, set by CheckAndSetDefaults. Not a YAML key.
	Warnings []string `yaml:"-"`
}

// Server is one upstream MCP server.
type Server struct {
	// Name is the server's name: the path segment in /mcp/{name} and the namespace prefix on /mcp.
	// Required; 1–64 characters from [A-Za-z0-9_-]; unique, ignoring case.
	Name string `yaml:"name"`
	// Transport is "stdio", "http" (Streamable HTTP, either era) or "sse" (legacy HTTP+SSE, 2024-11-05).
	// Inferred when empty: stdio when Command is set, http when URL is set; "sse" must be written.
	// Always set after CheckAndSetDefaults.
	Transport string `yaml:"transport"`

	// Command is the argv of a stdio server (no shell is involved): a non-empty list whose first element
	// is the program, looked up in PATH. Exactly one of Command and URL is set.
	Command []string `yaml:"command"`
	// Env adds variables to the stdio server's environment (stdio only). Keys are variable names
	// ([A-Za-z_][A-Za-z0-9_]*); ${VAR} in values is replaced from the gateway's environment at load time.
	Env map[string]string `yaml:"env"`
	// Cwd is the stdio server's working directory (stdio only). A leading "~/" means the home directory;
	// other relative paths are relative to the config file's directory. Default: the gateway's own
	// working directory (empty).
	Cwd string `yaml:"cwd"`
	// Start is "lazy" (default: start on first use) or "eager" (start at gateway start, for the
	// shared/stateless process).
	Start string `yaml:"start"`

	// URL is the endpoint of an http or sse server: an absolute http:// or https:// URL with a host and
	// without user:password (put credentials in Headers). Exactly one of Command and URL is set.
	URL string `yaml:"url"`
	// Headers are added to every request to an http or sse server (e.g. a service token); http/sse only.
	// Names are HTTP tokens; ${VAR} in values is replaced from the gateway's environment at load time.
	// Headers the gateway manages itself (Host, Content-Type, Mcp-Session-Id, …) cannot be set.
	Headers map[string]string `yaml:"headers"`

	// Timeout bounds one request to this server (no answer in time → the call gets a JSON-RPC error).
	// Default 60s. Progress notifications from the server reset it.
	Timeout Duration `yaml:"timeout"`
	// Restart controls restarts of a stdio server that exited (defaults are filled for every server;
	// http and sse servers do not restart processes).
	Restart Restart `yaml:"restart"`
}

// Restart is the restart-with-backoff policy for stdio servers.
type Restart struct {
	// InitialBackoff is the first delay before a restart. Default 100ms.
	InitialBackoff Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the doubling delay. Default 30s.
	MaxBackoff Duration `yaml:"max_backoff"`
}

// HTTP tunes the HTTP front.
type HTTP struct {
	// AllowedOrigins lists extra Origin values accepted besides loopback origins (DNS-rebinding defence),
	// each scheme://host[:port] with no path, e.g. https://agent.example.com. Requests with any other
	// Origin get 403.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts lists extra Host header values accepted besides loopback names and the listen address,
	// each host or host:port, e.g. mcp.example.com.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// MaxMessageBytes caps one JSON-RPC message from a client or an upstream. Default 4 MiB (4194304).
	// In YAML either a number of bytes or a size with a unit: 512KiB, 4MiB, 1GiB (at most 1 GiB).
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ShutdownTimeout is how long graceful shutdown lets in-flight calls finish. Default 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// SessionIdleTimeout ends a 2025-era client session (and its stdio process) after this long without
	// traffic. Default 30m.
	SessionIdleTimeout Duration `yaml:"session_idle_timeout"`
}

// Log configures the gateway's operational log.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is text (default) or json.
	Format string `yaml:"format"`
}

// Duration is a time.Duration written as a Go duration string in YAML ("30s", "5m", "1h30m"). A bare number
// is rejected because its unit would be a guess. It marshals back to the same form (also in JSON).
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a Go duration string, so YAML and JSON encodings read "30s", not nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string ("30s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. 30s or 5m)", b)
	}
	*d = Duration(v)
	return nil
}
