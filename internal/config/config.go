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
	"strings"
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
	// Audit configures the audit trail: where records are stored, what they capture, and what happens when
	// they cannot be written.
	Audit Audit `yaml:"audit"`
	// Policy is kept as raw YAML until the policy stage parses it (inline rules or a file path): whatever
	// YAML value is written here, decoded into Go values (map[string]any, []any, string, int, float64,
	// bool, nil). Nil when absent. The config package does not validate it.
	Policy any `yaml:"policy"`
	// Auth turns on authentication of HTTP clients (see docs/identity.md). Nil when absent: the gateway then
	// serves only loopback clients, as the local OS user, and refuses to start on another address.
	Auth *Auth `yaml:"auth,omitempty"`
	// Approval turns on human approval of calls the policy marks "ask" (see docs/approval.md): such a call is
	// parked until an approver decides, instead of being refused. Nil when absent: ask decisions are refused.
	Approval *Approval `yaml:"approval,omitempty"`
	// Dashboard turns on the web dashboard `serve` publishes at /ui/ (see docs/dashboard.md). Nil when
	// absent: no dashboard.
	Dashboard *Dashboard `yaml:"dashboard,omitempty"`
	// Metrics turns on the Prometheus metrics endpoint `serve` publishes on a listener of its own (see
	// docs/deploy.md#metrics). Nil when absent: no metrics are served.
	Metrics *Metrics `yaml:"metrics,omitempty"`

	// Pinning configures tool pinning: trust on first use of every tool, prompt, resource template and
	// server instructions (see docs/pinning.md). Nil when absent: mode tofu.
	Pinning *Pinning `yaml:"pinning,omitempty"`
	// Scan configures the runtime poisoning scan and the sanitising of what servers send (see
	// docs/poisoning.md). Nil when absent: quarantine at high, sanitise descriptions and results.
	Scan *Scan `yaml:"scan,omitempty"`
	// DataFlow configures the data-flow guards: secret/PII/injection detectors on arguments and results, and
	// the session labels policy reads (see docs/dataflow.md). Nil when absent: the defaults (redact secrets
	// and high-confidence PII in results, taint sessions on injections, label tools by heuristics).
	DataFlow *DataFlow `yaml:"dataflow,omitempty"`
	// Allowlist restricts which stdio servers may be launched (see docs/pinning.md). Nil when absent: any.
	Allowlist *Allowlist `yaml:"allowlist,omitempty"`
	// Cluster makes this gateway one replica of several behind a load balancer, sharing 2025-era sessions
	// (see docs/deploy.md). Nil when absent: sessions live on this instance only.
	Cluster *Cluster `yaml:"cluster,omitempty"`
	// Sandbox is the default confinement of stdio servers (see docs/sandbox.md). Nil when absent: each
	// stdio server gets the default sandbox (scrubbed environment, no_new_privs, open_files 4096).
	Sandbox *Sandbox `yaml:"sandbox,omitempty"`

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

	// Trusted declares the server trustworthy: only then do its tool annotations (readOnlyHint,
	// destructiveHint, …) lower the risk policy sees — MCP hints are untrusted by default. Default false.
	Trusted bool `yaml:"trusted,omitempty"`

	// Timeout bounds one request to this server (no answer in time → the call gets a JSON-RPC error).
	// Default 60s. Progress notifications from the server reset it.
	Timeout Duration `yaml:"timeout"`
	// Restart controls restarts of a stdio server that exited (defaults are filled for every server;
	// http and sse servers do not restart processes).
	Restart Restart `yaml:"restart"`
	// Pin pins the program of a stdio server by its SHA-256 (stdio only). Nil: not pinned by hash (see
	// allowlist.require_pinned for what else counts as pinned).
	Pin *ServerPin `yaml:"pin,omitempty"`
	// Credentials injects the calling user's own secret from the gateway's encrypted credential store
	// into every request to this http or sse server (see docs/identity.md). Nil: none.
	Credentials *Credentials `yaml:"credentials,omitempty"`
	// Labels are data-flow labels of every tool, resource and prompt of this server (private, untrusted,
	// sink, destructive, or a word of your own; see docs/dataflow.md).
	Labels []string `yaml:"labels,omitempty"`
	// ToolLabels gives named tools their labels (in addition to Labels); a tool named here gets no
	// heuristic labels.
	ToolLabels map[string][]string `yaml:"tool_labels,omitempty"`
	// TokenPassthrough forwards the calling client's own access token to this http or sse server — the
	// "token passthrough" the MCP authorization spec forbids, allowed here only as an explicit opt-in that
	// checks the token is also meant for the server (its aud holds Audience). Config loading warns about it.
	// Nil (default): the client's token never leaves the gateway.
	TokenPassthrough *TokenPassthrough `yaml:"token_passthrough,omitempty"`
	// OAuth makes the gateway an OAuth 2.1 client of this http or sse server on behalf of each user:
	// every user authorizes once in the browser, and their own access token is sent (see
	// docs/identity.md). Nil: none.
	OAuth *UpstreamOAuth `yaml:"oauth,omitempty"`
	// Sandbox confines this stdio server, replacing the top-level sandbox (stdio only; see
	// docs/sandbox.md). Always set for stdio servers after CheckAndSetDefaults.
	Sandbox *Sandbox `yaml:"sandbox,omitempty"`
}

// DataFlow configures the data-flow guards (inspect stage ⑦ and the session labels policy ④ reads).
type DataFlow struct {
	// Mode is "enforce" (default) or "monitor": detectors and labels are recorded (audit, logs) and would-be
	// redactions, blocks and lethal-trifecta flows are reported, but nothing is changed or refused by them.
	Mode string `yaml:"mode"`
	// DataFlowRules are the default actions; Overrides change them for some servers and tools.
	DataFlowRules `yaml:",inline"`
	// PIIConfidence is the lowest confidence of a PII finding that is acted on: low, medium or high
	// (default high: checksum- or structure-validated — cards, IBANs, private keys, JWTs).
	PIIConfidence string `yaml:"pii_confidence"`
	// Heuristics labels tools by their names (default true); configured labels and annotations always apply.
	Heuristics *bool `yaml:"heuristics,omitempty"`
	// Classifier is an optional external prompt-injection classifier.
	Classifier *Classifier `yaml:"classifier,omitempty"`
	// Overrides change the actions for matching servers and tools; the first matching entry wins.
	Overrides []DataFlowOverride `yaml:"overrides,omitempty"`
}

// DataFlowRules are the actions of the data-flow detectors ("" keeps the default / inherited value).
type DataFlowRules struct {
	// Secrets in results: allow, redact (default), block or ask (a human releases the result).
	Secrets string `yaml:"secrets"`
	// PII in results: allow, redact (default), block or ask.
	PII string `yaml:"pii"`
	// Injection in results, resources and prompts: allow, taint (default: the session is tainted) or block.
	Injection string `yaml:"injection"`
	// Arguments: secrets and PII in call arguments: allow (default: recorded, policy decides on the
	// findings), redact or block.
	Arguments string `yaml:"arguments"`
}

// DataFlowOverride changes the data-flow actions for some servers and tools.
type DataFlowOverride struct {
	// Servers and Tools select what the override applies to (glob patterns; empty means any).
	Servers       []string `yaml:"servers"`
	Tools         []string `yaml:"tools"`
	DataFlowRules `yaml:",inline"`
}

// Classifier is an external prompt-injection classifier called over HTTP (see docs/detectors.md).
type Classifier struct {
	// URL receives POST {"text": ...} and answers {"score": 0..1} (or {"label": "INJECTION"}).
	URL string `yaml:"url"`
	// Timeout bounds one call (default 2s).
	Timeout Duration `yaml:"timeout"`
	// Fail is "closed" (default: a failed call counts as an injection) or "open".
	Fail string `yaml:"fail"`
}

// Values of Pinning.Mode.
const (
	PinningTOFU   = "tofu"
	PinningStrict = "strict"
	PinningOff    = "off"
)

// Pinning configures tool pinning (inspect stage ⑦).
type Pinning struct {
	// Mode is "tofu" (default: pin each item the first time it is seen; quarantine it when its definition
	// changes until `mcpwarden pins approve`), "strict" (also quarantine items never approved) or "off".
	Mode string `yaml:"mode"`
}

// Scan configures the runtime poisoning scan and sanitising (inspect stage ⑦).
type Scan struct {
	// QuarantineAt is the lowest finding severity that quarantines an item: info, low, medium, high
	// (default) or critical; "off" never quarantines (findings are still recorded).
	QuarantineAt string `yaml:"quarantine_at"`
	// SanitizeDescriptions strips terminal escapes, control and invisible characters from list results
	// (descriptions, schemas). Default true.
	SanitizeDescriptions *bool `yaml:"sanitize_descriptions,omitempty"`
	// SanitizeResults strips them from tool results and other responses passed to the client. Default true.
	SanitizeResults *bool `yaml:"sanitize_results,omitempty"`
}

// Allowlist restricts what stdio servers may be launched.
type Allowlist struct {
	// RequirePinned refuses every stdio server whose command is not pinned: npx/npm packages with an exact
	// version (pkg@1.2.3), uvx/pip with ==, docker images by @sha256: digest, other programs by
	// servers[].pin.sha256.
	RequirePinned bool `yaml:"require_pinned"`
}

// ServerPin pins what a stdio server runs.
type ServerPin struct {
	// SHA256 is the hex SHA-256 of the program (command[0] as found in PATH); a program whose hash differs
	// is not started.
	SHA256 string `yaml:"sha256"`
}

// Credentials says which per-user secret a remote server gets, and how.
type Credentials struct {
	// Name is the secret's name in the credential store (mcpwarden credentials set --user U NAME).
	// Required; 1–64 characters from [A-Za-z0-9_.-].
	Name string `yaml:"name"`
	// Header is the request header that carries it. Default Authorization.
	Header string `yaml:"header"`
	// Format is the header value, with {secret} standing for the secret. Default "Bearer {secret}".
	Format string `yaml:"format"`
	// Optional forwards requests of users who have no such secret without the header (default false:
	// their calls are refused with an error telling them to store one).
	Optional bool `yaml:"optional"`
	// Env is, for a stdio server, the environment variable that carries the secret: each user then gets
	// a process of their own, started with their secret (Header and Format are for http and sse servers).
	Env string `yaml:"env,omitempty"`
}

// TokenPassthrough is the opt-in to forward the client's token to one server (see Server.TokenPassthrough).
type TokenPassthrough struct {
	// Audience must be among the token's aud claim values, or the call is refused (required).
	Audience string `yaml:"audience"`
}

// UpstreamOAuth configures the gateway as an OAuth client of one upstream server (MCP authorization):
// authorization code with PKCE per user, tokens kept in the encrypted credential store.
type UpstreamOAuth struct {
	// ClientID is the gateway's client id at the server's authorization server. Empty: register one with
	// RFC 7591 dynamic client registration (when the authorization server supports it).
	ClientID string `yaml:"client_id"`
	// ClientSecret authenticates the client at the token endpoint (${VAR} is expanded). Empty: a public
	// client.
	ClientSecret string `yaml:"client_secret"`
	// ClientMetadataURL is the https URL of the gateway's OAuth client id metadata document, used as its
	// client id at authorization servers that support such documents (when client_id is empty). The
	// gateway serves one at BASE/oauth/upstream/client-metadata.json. Empty: not used.
	ClientMetadataURL string `yaml:"client_metadata_url"`
	// Scopes are requested at authorization. Empty: the server's scopes_supported from its protected
	// resource metadata (or its WWW-Authenticate scope), else none.
	Scopes []string `yaml:"scopes"`
	// AuthorizationServer is the issuer to use, skipping RFC 9728 discovery. Empty: discovered.
	AuthorizationServer string `yaml:"authorization_server"`
	// RedirectURL is the callback registered at the authorization server. Empty: the gateway's own
	// BASE/oauth/upstream/{server}/callback (BASE is auth.resource, else http://LISTEN).
	RedirectURL string `yaml:"redirect_url"`
	// Resource is the RFC 8707 resource indicator. Empty: the server's url.
	Resource string `yaml:"resource"`
	// SendResource sends Resource in the authorization and token requests (default true; Microsoft
	// Entra ID rejects the parameter: set false there).
	SendResource *bool `yaml:"send_resource,omitempty"`
	// TokenExchange, when set, obtains each caller's upstream token by RFC 8693 token exchange of their
	// inbound access token instead of a browser authorization.
	TokenExchange *TokenExchange `yaml:"token_exchange,omitempty"`
}

// TokenExchange configures RFC 8693 token exchange for an upstream server.
type TokenExchange struct {
	// Audience is the audience parameter. Empty: not sent (the resource parameter identifies the server).
	Audience string `yaml:"audience"`
	// Scopes are requested. Empty: the oauth scopes.
	Scopes []string `yaml:"scopes"`
}

// Values of Auth.Mode.
const (
	AuthModeOAuth  = "oauth"
	AuthModeAPIKey = "api_key"
	AuthModeNone   = "none"
)

// Auth configures inbound authentication: the gateway as an OAuth 2.1 resource server (MCP authorization),
// plus gateway API keys for machine clients.
type Auth struct {
	// Mode is "oauth" (access tokens from Issuer, and API keys), "api_key" (API keys only) or "none" (no
	// authentication at all, even on a non-loopback address: an explicit, logged opt-in). Default: oauth
	// when issuer or introspection is set, else api_key.
	Mode string `yaml:"mode"`
	// Resource is the gateway's public base URL as clients reach it, e.g. https://mcp.example.com (https,
	// or http on a loopback host; no path). Endpoint resource URIs are Resource + /mcp/{server}; tokens
	// must carry one of them (or Resource) as audience. Required in oauth mode.
	Resource string `yaml:"resource"`
	// Issuer is the authorization server's issuer identifier; tokens' iss must equal it exactly. Its
	// OpenID Connect discovery document names the JWKS unless JWKSURL is set.
	Issuer string `yaml:"issuer"`
	// JWKSURL is the issuer's key set (https, or http on a loopback host). Default: discovered.
	JWKSURL string `yaml:"jwks_url"`
	// Audience, when set, replaces the accepted audiences (for IdPs that cannot put the resource URI in
	// aud, e.g. an Entra ID application ID URI api://...).
	Audience []string `yaml:"audience"`
	// RequiredScopes must all be granted to a token, or the request gets 403 insufficient_scope.
	RequiredScopes []string `yaml:"required_scopes"`
	// Algorithms allowed for token signatures. Default: RS256/384/512, PS256/384/512, ES256/384/512,
	// EdDSA. "none" and HS* are never accepted.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is the leeway for exp, nbf and iat. Default 60s.
	ClockSkew Duration `yaml:"clock_skew"`
	// JWKSRefetchInterval is the least time between two JWKS fetches caused by an unknown key id. Default 30s.
	JWKSRefetchInterval Duration `yaml:"jwks_refetch_interval"`
	// Claims names the token claims the principal is built from.
	Claims AuthClaims `yaml:"claims"`
	// Introspection validates opaque access tokens with RFC 7662 introspection. Nil: only JWTs.
	Introspection *Introspection `yaml:"introspection,omitempty"`
	// APIKeysFile holds the hashed API keys. Default data_dir/apikeys.json.
	APIKeysFile string `yaml:"api_keys_file"`
}

// AuthClaims names the claims of a principal. Dotted names reach into nested objects
// (realm_access.roles).
type AuthClaims struct {
	// Subject is the stable user id claim. Default sub.
	Subject string `yaml:"subject"`
	// Email claim. Default email.
	Email string `yaml:"email"`
	// Name claim. Default name.
	Name string `yaml:"name"`
	// Groups are the claims whose values (a string or list) become the principal's groups. Default
	// [groups, roles].
	Groups []string `yaml:"groups"`
}

// Introspection configures RFC 7662 token introspection.
type Introspection struct {
	// URL is the introspection endpoint (https, or http on a loopback host).
	URL string `yaml:"url"`
	// ClientID and ClientSecret authenticate the gateway to it. ${VAR} in client_secret is replaced from
	// the environment at load time.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// CacheTTL is how long an active result is reused. Default 60s.
	CacheTTL Duration `yaml:"cache_ttl"`
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
	// MaxSessions caps live 2025-era client sessions; an initialize beyond it gets 503 with an error that
	// says so. Default 10000.
	MaxSessions int `yaml:"max_sessions"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ShutdownTimeout is how long graceful shutdown lets in-flight calls finish. Default 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// SessionIdleTimeout ends a 2025-era client session (and its stdio process) after this long without
	// traffic. Default 30m.
	SessionIdleTimeout Duration `yaml:"session_idle_timeout"`
}

// Cluster configures several replicas that share sessions (see docs/deploy.md). Exactly one of
// SessionKeyFile and SessionKey is required.
type Cluster struct {
	// SessionKeyFile holds the secret (at least 16 bytes; surrounding whitespace is ignored) from which the
	// replicas derive the key that seals session ids. Every replica must read the same secret.
	SessionKeyFile string `yaml:"session_key_file"`
	// SessionKey is the same secret given inline, normally as ${ENV_VAR}.
	SessionKey string `yaml:"session_key"`
}

// Audit configures the audit trail (stage ⑧, see docs/audit.md).
type Audit struct {
	// Enabled turns the audit trail on (default true). With false no record is written and nothing is
	// refused for want of one.
	Enabled *bool `yaml:"enabled"`
	// Store is "sqlite" (default: data_dir/audit.db) or "postgres" (PostgresDSN, shared by replicas).
	Store string `yaml:"store"`
	// PostgresDSN is the PostgreSQL connection string, e.g. postgres://mcpwarden@db.internal/mcpwarden
	// (store: postgres only). ${VAR} is replaced from the environment at load time, so the password can
	// live there.
	PostgresDSN string `yaml:"postgres_dsn"`
	// Instance names this gateway instance: its records form one hash chain. Default: the host name.
	// Gateways sharing a store may share a name (their appends are serialised) or use distinct ones
	// (one chain each, no contention).
	Instance string `yaml:"instance"`
	// Capture says what records keep of arguments, results and error data: "redacted" (default: secrets
	// replaced by [REDACTED]), "full", "hashed" (keyed HMAC-SHA256 of every value) or "none".
	Capture string `yaml:"capture"`
	// MaxValueBytes caps one stored payload (arguments or result); a larger one is replaced by its size
	// and SHA-256. Default 64KiB. A number of bytes or a size with a unit.
	MaxValueBytes int64 `yaml:"max_value_bytes"`
	// Sync is "full" (default: a request record is in the store before the call is forwarded and on disk,
	// even across a power loss, before its answer goes back) or "normal" (SQLite synchronous=NORMAL /
	// PostgreSQL synchronous_commit=off: the record survives a crash of the gateway but not of the machine,
	// and the call waits less).
	Sync string `yaml:"sync,omitempty"`
	// FailOpen forwards calls even when their record cannot be written (default false: such calls are
	// refused with a JSON-RPC error). Only for deployments that value availability over the trail.
	FailOpen bool `yaml:"fail_open"`
	// WriteTimeout bounds the wait for a request record's commit before the call is refused. Default 5s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// SigningKey is the Ed25519 key that signs checkpoints. Default data_dir/audit-signing.key (created
	// when missing). Relative paths are relative to the config file's directory.
	SigningKey string `yaml:"signing_key"`
	// CheckpointInterval is how often, at most, the chain is sealed with a signed checkpoint while
	// records arrive (one is also written every 1000 records and at shutdown). Default 1m.
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	// RetentionDays deletes records older than this many days (checked hourly), keeping the rest verifiable
	// from a signed checkpoint. Default 0: keep everything.
	RetentionDays int `yaml:"retention_days"`
	// OTLP also sends every committed record to an OpenTelemetry collector (metadata only: never arguments
	// or results), following the GenAI MCP semantic conventions. Off unless otlp.endpoint is set.
	OTLP AuditOTLP `yaml:"otlp,omitempty"`
}

// AuditOTLP configures the OTLP/HTTP (JSON) exporter of the audit trail.
type AuditOTLP struct {
	// Endpoint is the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (records go to
	// /v1/logs and /v1/traces under it).
	Endpoint string `yaml:"endpoint"`
	// Signals lists what to send: logs (one log record per audit record) and/or traces (one span per
	// request and its response). Default [logs] when Endpoint is set.
	Signals []string `yaml:"signals"`
	// Headers are added to every export request (e.g. an API key); ${VAR} is replaced from the environment.
	Headers map[string]string `yaml:"headers"`
}

// Approval configures the approval stage (⑤, see docs/approval.md).
type Approval struct {
	// Enabled turns the stage on (default true when the approval: section is present).
	Enabled *bool `yaml:"enabled"`
	// Timeout is how long a parked call waits for a decision. Default 2m.
	Timeout Duration `yaml:"timeout"`
	// DefaultOnTimeout is what happens to a call nobody decided in time: "deny" (default: the agent gets an
	// error naming the approval, which stays approvable for a retry) or "allow" (forward it anyway).
	DefaultOnTimeout string `yaml:"default_on_timeout"`
	// PendingTTL is how long an undecided approval can still be approved after its call timed out (the
	// agent then retries the identical call, which passes through the grant). Default 24h.
	PendingTTL Duration `yaml:"pending_ttl"`
	// Rules tighten the approval of calls asked by particular policy rules (four-eyes, approver groups,
	// their own timeout, in-band self-approval).
	Rules []ApprovalRule `yaml:"rules"`
	// Webhook, when set, is notified of every new pending approval.
	Webhook *ApprovalWebhook `yaml:"webhook,omitempty"`
}

// Dashboard configures the web dashboard (served by `mcpwarden serve` at /ui/).
type Dashboard struct {
	// Enabled turns the dashboard on (default true when the dashboard: section is present).
	Enabled *bool `yaml:"enabled"`
	// AdminToken is the secret of the local admin login (at least 16 characters). ${VAR} is replaced from
	// the environment. Empty: the gateway generates one at start into data_dir/dashboard-token (mode 0600)
	// and logs where it is, never the token itself.
	AdminToken string `yaml:"admin_token"`
	// SessionTTL is how long a dashboard login lasts. Default 8h.
	SessionTTL Duration `yaml:"session_ttl"`
	// URL is the dashboard's address as approvers reach it (e.g. https://mcp.example.com/ui/), used for
	// links in approval webhook messages and as the base of the OIDC redirect URI. Default: http://{listen}/ui/.
	URL string `yaml:"url"`
	// OIDC adds single sign-on against auth.issuer (the provider the gateway's identity config uses):
	// the authorization code flow with PKCE. Nil: admin token only.
	OIDC *DashboardOIDC `yaml:"oidc,omitempty"`
}

// Metrics configures the Prometheus metrics endpoint (served by `mcpwarden serve`).
type Metrics struct {
	// Listen is the address of the metrics listener, host:port, apart from the gateway's listen address.
	// Required in the section. Port 0 picks a free port (serve logs the address). A non-loopback address is
	// allowed with a warning: the endpoint has no authentication.
	Listen string `yaml:"listen"`
	// Path is where the metrics are served. Default /metrics.
	Path string `yaml:"path"`
	// Pprof also serves Go's runtime profiles (net/http/pprof) at /debug/pprof/ on the metrics listener, for
	// profiling the gateway in place (`go tool pprof http://ADDR/debug/pprof/profile`). Default false; only
	// with a loopback listen address.
	Pprof bool `yaml:"pprof"`
}

// DashboardOIDC is the dashboard's OpenID Connect client registration at auth.issuer.
type DashboardOIDC struct {
	// ClientID is the dashboard's client id at the issuer. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is its secret, sent with HTTP Basic to the token endpoint (${VAR} is expanded). Empty:
	// a public client (PKCE only).
	ClientSecret string `yaml:"client_secret"`
	// Scopes are requested at login. Default [openid, email, profile].
	Scopes []string `yaml:"scopes"`
	// AllowedGroups and AllowedUsers say who may log in: members of any of the groups (auth.claims.groups),
	// or users whose subject or email is listed. At least one entry is required: anyone the issuer knows
	// could otherwise approve calls.
	AllowedGroups []string `yaml:"allowed_groups"`
	AllowedUsers  []string `yaml:"allowed_users"`
}

// DashboardURL is the dashboard's base URL as approvers reach it, ending in "/": dashboard.url, else
// http://{listen}/ui/. Empty when the dashboard is off.
func (c *Config) DashboardURL() string {
	d := c.Dashboard
	if d == nil || (d.Enabled != nil && !*d.Enabled) {
		return ""
	}
	if d.URL != "" {
		return strings.TrimSuffix(d.URL, "/") + "/"
	}
	return "http://" + c.Listen + "/ui/"
}

// DashboardTokenFile is the generated admin token's file inside data_dir.
const DashboardTokenFile = "dashboard-token"

// ApprovalWebhook posts a Slack-compatible JSON message for every parked call.
type ApprovalWebhook struct {
	// URL receives the POST (an http:// or https:// URL, e.g. a Slack incoming webhook). ${VAR} is replaced
	// from the environment (such URLs are secrets).
	URL string `yaml:"url"`
	// Secret signs the body: the X-Mcpwarden-Signature header is "sha256=" and the hex HMAC-SHA256 of
	// the timestamp header, ".", and the body. ${VAR} is replaced from the environment. Optional.
	Secret string `yaml:"secret"`
}

// ApprovalRule is the approval requirement of one policy rule's ask decisions.
type ApprovalRule struct {
	// Rule is the policy rule id (e.g. default-ask-destructive); "" applies to the policy's default effect.
	Rule string `yaml:"rule"`
	// FourEyes requires an approver other than the caller.
	FourEyes bool `yaml:"four_eyes"`
	// Approvers limits who may decide to members of these groups (any one of them). Empty: anyone.
	Approvers []string `yaml:"approvers"`
	// Timeout replaces approval.timeout for these calls.
	Timeout Duration `yaml:"timeout"`
	// SelfApprove lets the calling client approve in-band (an MCP elicitation to the caller). Default false.
	// Ignored when FourEyes is set; with Approvers, only a caller in one of those groups may.
	SelfApprove bool `yaml:"self_approve"`
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
