package discovery

import "encoding/json"

// SchemaVersion is the version of the inventory JSON document. It changes only when a field changes meaning
// or disappears; new fields may be added without changing it.
const SchemaVersion = 1

// Scope says where a configuration applies.
type Scope string

// Scopes of a configuration file.
const (
	ScopeUser    Scope = "user"    // the user's own client settings
	ScopeProject Scope = "project" // a file inside a project / workspace folder, or a per-project section
	ScopeManaged Scope = "managed" // a system-wide file placed by an administrator or MDM
)

// Transport values of a Server.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
	TransportSSE   = "sse"
)

// Inventory is the result of a discovery run. Its JSON form is documented in docs/discovery.md and is what
// `mcpwarden discover --json` prints and `--report` sends.
type Inventory struct {
	SchemaVersion int    `json:"schema_version"`
	ReportID      string `json:"report_id,omitempty"`
	GeneratedAt   string `json:"generated_at,omitempty"`
	Host          Host   `json:"host"`
	// Files lists every configuration file that was found and read (or failed to read).
	Files []File `json:"files"`
	// Servers are the configured servers, sorted by client, scope, file and name.
	Servers []Server `json:"servers"`
	// Processes are running processes that look like MCP servers.
	Processes []Process `json:"processes,omitempty"`
	// Endpoints are network endpoints that answered an MCP probe.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Errors are files that could not be read or parsed; they do not stop the scan.
	Errors []FileError `json:"errors,omitempty"`
}

// Host identifies the machine and user a scan ran for.
type Host struct {
	Hostname string `json:"hostname"`
	User     string `json:"user"`
	OS       string `json:"os"`
}

// File is one configuration file that was found.
type File struct {
	Client  string `json:"client"`
	Scope   Scope  `json:"scope"`
	Path    string `json:"path"`
	Format  string `json:"format"`
	Servers int    `json:"servers"`
}

// FileError is a configuration file that exists but could not be read or parsed.
type FileError struct {
	Client string `json:"client"`
	Path   string `json:"path"`
	Error  string `json:"error"`
}

// Server is one configured MCP server.
type Server struct {
	// ID is a stable identifier: a hash of client, scope, file, project and name.
	ID     string `json:"id"`
	Client string `json:"client"`
	Scope  Scope  `json:"scope"`
	File   string `json:"file"`
	// Line is the 1-based line of the server's name in File, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Project is the project folder for per-project sections (Claude Code `projects.<path>`).
	Project  string `json:"project,omitempty"`
	Name     string `json:"name"`
	Disabled bool   `json:"disabled,omitempty"`
	// Transport is stdio, http or sse.
	Transport string   `json:"transport"`
	Command   string   `json:"command,omitempty"`
	Args      []string `json:"args,omitempty"`
	URL       string   `json:"url,omitempty"`
	// EnvVars are the names of the environment variables the config sets (never their values).
	EnvVars []string `json:"env_vars,omitempty"`
	// Headers are the names of the HTTP headers the config sets (never their values).
	Headers []string `json:"headers,omitempty"`
	// InlineSecrets name where a literal secret sits in the config: env:NAME, header:NAME or arg:N.
	InlineSecrets []string `json:"inline_secrets,omitempty"`
	Package       Package  `json:"package"`
	// Routed is true when the server goes through mcpwarden; RoutedVia says how ("wrap" or "gateway").
	Routed    bool   `json:"routed"`
	RoutedVia string `json:"routed_via,omitempty"`
	// Shadow is true when the server does not go through mcpwarden.
	Shadow bool `json:"shadow"`
	// Tools are filled by --connect.
	Tools        []Tool        `json:"tools,omitempty"`
	ToolFindings []ToolFinding `json:"tool_findings,omitempty"`
	ConnectError string        `json:"connect_error,omitempty"`
	Risk         Risk          `json:"risk"`

	// env and headers keep the raw values for enrolment and --connect; never serialised.
	env     map[string]string
	headers map[string]string
	rawURL  string
	rawArgs []string
	urlKey  string   // the entry key that held the URL
	pointer []string // where the entry sits in a JSON document
	format  string
	dialect string
}

// Package describes what a server runs and how well it is pinned.
type Package struct {
	// Ecosystem is npm, pypi, docker, git, binary, local (a script run by an interpreter) or remote (a URL).
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name,omitempty"`
	Version   string `json:"version,omitempty"`
	// Pin is exact, digest, range, tag, latest, none or n/a.
	Pin string `json:"pin"`
	// Pinned is true for an exact version or a content digest.
	Pinned bool `json:"pinned"`
	// Publisher is the known publisher of the package, empty when unknown.
	Publisher string `json:"publisher,omitempty"`
}

// Tool is one tool a server listed (--connect).
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
}

// ToolFinding is what a ToolScanner reported about a tool.
type ToolFinding struct {
	Tool     string `json:"tool"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"` // low, medium, high, critical
	Message  string `json:"message"`
}

// Risk is a 0–100 score with a level and the reasons that make it up.
type Risk struct {
	Score   int      `json:"score"`
	Level   string   `json:"level"` // low, medium, high, critical
	Reasons []Reason `json:"reasons,omitempty"`
}

// Reason is one contribution to a risk score; Code is stable and used as the SARIF rule id.
type Reason struct {
	Code    string `json:"code"`
	Points  int    `json:"points"`
	Message string `json:"message"`
}

// Process is a running process that looks like an MCP server.
type Process struct {
	PID     int      `json:"pid"`
	PPID    int      `json:"ppid"`
	UID     int      `json:"uid"`
	Command []string `json:"command"`
	// Client is the MCP client that launched it, when an ancestor process is a known client.
	Client string `json:"client,omitempty"`
	// Match says why the process was taken for an MCP server: config, known_package, sdk or client_child.
	Match string `json:"match"`
	// ServerID is the inventory entry with the same command line (or run by an ancestor with it).
	ServerID string `json:"server_id,omitempty"`
	// Listen are the TCP addresses the process listens on (an HTTP server), when readable.
	Listen []string `json:"listen,omitempty"`
	// Shadow is true unless the process is a configured server (the inventory entry carries the finding)
	// or runs under `mcpwarden wrap`.
	Shadow bool `json:"shadow"`
}

// Endpoint is a network endpoint that answered an MCP probe.
type Endpoint struct {
	Address string `json:"address"`
	URL     string `json:"url"`
	// Transport is http (Streamable HTTP) or sse (legacy HTTP+SSE).
	Transport string `json:"transport"`
	// Era is legacy (initialize) or stateless (server/discover), empty when not determined (e.g. auth).
	Era             string `json:"era,omitempty"`
	ServerName      string `json:"server_name,omitempty"`
	ServerVersion   string `json:"server_version,omitempty"`
	ProtocolVersion string `json:"protocol_version,omitempty"`
	// AuthRequired is true when the endpoint answered 401 or publishes protected-resource metadata.
	AuthRequired bool `json:"auth_required,omitempty"`
	// Source is probe (a --probe target) or socket (a local listening socket).
	Source string `json:"source"`
	PID    int    `json:"pid,omitempty"`
	// Routed is true when the endpoint is a configured mcpwarden gateway.
	Routed bool `json:"routed"`
	Shadow bool `json:"shadow"`
}
