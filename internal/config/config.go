// Package config loads and validates mcpwarden's YAML configuration.
//
// Load is strict: an unknown key, a value of the wrong type or an invalid value is an error that names the
// file, the line and the key, and says what to do. A Config returned without error has every default
// applied (CheckAndSetDefaults) and is safe to start a gateway from.
package config

import "time"

// Config is the whole configuration file.
type Config struct {
	// Listen is the address `mcpwarden serve` binds, host:port. Default 127.0.0.1:8740. Binding a
	// non-loopback address is allowed but must be explicit.
	Listen string `yaml:"listen"`
	// DataDir holds the embedded database, keys and pins. Default: $XDG_DATA_HOME/mcpwarden
	// (~/.local/share/mcpwarden). Relative paths are relative to the config file's directory.
	DataDir string `yaml:"data_dir"`
	// Servers are the upstream MCP servers, each reachable at /mcp/{name}.
	Servers []Server `yaml:"servers"`
	// HTTP tunes the HTTP front.
	HTTP HTTP `yaml:"http"`
	// Log configures the gateway's own log (not the audit trail).
	Log Log `yaml:"log"`
	// Policy is kept as raw YAML until the policy stage parses it (inline rules or a file path).
	Policy any `yaml:"policy"`

	// Path is the file the config was loaded from (not a YAML key).
	Path string `yaml:"-"`
}

// Server is one upstream MCP server.
type Server struct {
	// Name is the server's name: the path segment in /mcp/{name} and the namespace prefix on /mcp.
	// 1–64 characters from [A-Za-z0-9_-]; unique.
	Name string `yaml:"name"`
	// Transport is "stdio", "http" (Streamable HTTP, either era) or "sse" (legacy HTTP+SSE, 2024-11-05).
	// Inferred when empty: stdio when Command is set, http when URL is set.
	Transport string `yaml:"transport"`

	// Command is the argv of a stdio server (no shell is involved).
	Command []string `yaml:"command"`
	// Env adds variables to the stdio server's environment.
	Env map[string]string `yaml:"env"`
	// Cwd is the stdio server's working directory (relative to the config file's directory).
	Cwd string `yaml:"cwd"`
	// Start is "lazy" (default: start on first use) or "eager" (start at gateway start, for the
	// shared/stateless process).
	Start string `yaml:"start"`

	// URL is the endpoint of an http or sse server.
	URL string `yaml:"url"`
	// Headers are added to every request to an http or sse server (e.g. a service token).
	Headers map[string]string `yaml:"headers"`

	// Timeout bounds one request to this server (no answer in time → the call gets a JSON-RPC error).
	// Default 60s. Progress notifications from the server reset it.
	Timeout Duration `yaml:"timeout"`
	// Restart controls restarts of a stdio server that exited.
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
	// AllowedOrigins lists extra Origin values accepted besides loopback origins (DNS-rebinding defence).
	// Requests with any other Origin get 403.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts lists extra Host header values accepted besides loopback names and the listen address.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// MaxMessageBytes caps one JSON-RPC message from a client or an upstream. Default 4 MiB.
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

// Duration is a time.Duration written as a Go duration string in YAML ("30s", "5m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
