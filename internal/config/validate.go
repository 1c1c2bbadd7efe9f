package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by CheckAndSetDefaults to fields left empty.
const (
	DefaultListen             = "127.0.0.1:8740"
	DefaultMaxMessageBytes    = 4 << 20
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultSessionIdleTimeout = 30 * time.Minute
	// DefaultMaxSessions caps live 2025-era client sessions (http.max_sessions).
	DefaultMaxSessions        = 10_000
	DefaultServerTimeout      = 60 * time.Second
	DefaultInitialBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff         = 30 * time.Second
	DefaultStart              = "lazy"
	DefaultLogLevel           = "info"
	DefaultLogFormat          = "text"
	DefaultAuditStore         = "sqlite"
	DefaultAuditCapture       = "redacted"
	DefaultAuditMaxValueBytes = 64 << 10
	DefaultAuditWriteTimeout  = 5 * time.Second
	DefaultAuditCheckpoint    = time.Minute
	// AuditSigningKeyFile is the default checkpoint signing key's file name inside data_dir.
	AuditSigningKeyFile = "audit-signing.key"
)

// Values of Server.Transport and Server.Start.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
	TransportSSE   = "sse"
	StartLazy      = "lazy"
	StartEager     = "eager"
)

// MaxNameLen is the longest server name.
const MaxNameLen = 64

// CheckAndSetDefaults validates c and fills every field left empty with its default (each default is
// documented on its field): listen, data_dir, http limits, log settings, and per server the transport
// (inferred from command or url), start, timeout and restart backoffs. Relative data_dir and cwd paths
// become absolute, resolved against the directory of c.Path (the current directory when Path is empty);
// Warnings is replaced by the warnings for c. Calling it again on its result changes nothing.
//
// It does not expand ${VAR} (Parse does that while reading the file). On error c is left unchanged and
// the error is a *ValidationError listing every problem by key path (with no line numbers: use Parse for
// those).
func (c *Config) CheckAndSetDefaults() error {
	cp := *c
	cp.Servers = slices.Clone(c.Servers)
	probs, warns := cp.check(os.LookupEnv)
	if len(probs) > 0 {
		errs := make([]FieldError, len(probs))
		for i, p := range probs {
			errs[i] = FieldError{Path: p.path, Msg: p.msg}
		}
		return &ValidationError{File: c.Path, Errors: sortFieldErrors(errs)}
	}
	cp.Warnings = nil
	for _, w := range warns {
		fe := FieldError{Path: w.path, Msg: w.msg}
		cp.Warnings = append(cp.Warnings, fe.format(c.Path))
	}
	*c = cp
	return nil
}

// problem is one validation finding at a key path; key marks findings about the key itself (an invalid
// env or header name) rather than its value.
type problem struct {
	path, msg string
	key       bool
}

type checker struct {
	probs, warns []problem
}

func (k *checker) errorf(path, format string, args ...any) {
	k.probs = append(k.probs, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

func (k *checker) keyErrorf(path, format string, args ...any) {
	k.probs = append(k.probs, problem{path: path, msg: fmt.Sprintf(format, args...), key: true})
}

// check validates c and sets defaults in place, reading HOME and XDG_DATA_HOME through lookup.
func (c *Config) check(lookup lookupFunc) (probs, warns []problem) {
	k := &checker{}
	base := ""
	if c.Path != "" {
		base = filepath.Dir(c.Path)
	}

	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	k.listen(c.Listen)

	if c.DataDir == "" {
		switch xdg, _ := lookup("XDG_DATA_HOME"); {
		case filepath.IsAbs(xdg):
			c.DataDir = filepath.Join(xdg, "mcpwarden")
		case homeDir(lookup) != "":
			c.DataDir = filepath.Join(homeDir(lookup), ".local", "share", "mcpwarden")
		default:
			k.errorf("data_dir", "not set, and neither XDG_DATA_HOME nor HOME is set to find the default: "+
				"set data_dir to a directory mcpwarden may write to")
		}
	} else if p, msg := resolvePath(c.DataDir, base, lookup); msg != "" {
		k.errorf("data_dir", "%s", msg)
	} else {
		c.DataDir = p
	}

	if len(c.Servers) == 0 {
		k.errorf("servers", "no servers configured: add at least one under servers:, e.g. "+
			"servers: [{name: everything, command: [npx, -y, @modelcontextprotocol/server-everything]}] "+
			"(see examples/quickstart.yaml)")
	}
	byName := map[string]int{}
	for i := range c.Servers {
		path := indexPath("servers", i)
		k.server(&c.Servers[i], path, base, lookup)
		name := c.Servers[i].Name
		if !validName(name) {
			continue
		}
		lower := strings.ToLower(name)
		if j, dup := byName[lower]; dup {
			if c.Servers[j].Name == name {
				k.errorf(path+".name", "%q is already the name of servers[%d]: server names must be unique", name, j)
			} else {
				k.errorf(path+".name", "%q differs from %q (servers[%d]) only in case: server names must be "+
					"unique ignoring case, because they become URL paths and tool-name prefixes", name,
					c.Servers[j].Name, j)
			}
			continue
		}
		byName[lower] = i
	}

	k.sandboxes(c, base, lookup)
	k.http(&c.HTTP)
	k.audit(&c.Audit, c.DataDir, base, lookup)
	if cl := c.Cluster; cl != nil {
		switch {
		case cl.SessionKey == "" && cl.SessionKeyFile == "":
			k.errorf("cluster.session_key_file", "is required in a cluster (or cluster.session_key): every replica needs the same "+
				"secret to seal session ids; create one with `openssl rand -base64 32 > session.key`")
		case cl.SessionKey != "" && cl.SessionKeyFile != "":
			k.errorf("cluster.session_key", "and cluster.session_key_file are both set: keep one")
		case cl.SessionKeyFile != "":
			if p, msg := resolvePath(cl.SessionKeyFile, base, lookup); msg != "" {
				k.errorf("cluster.session_key_file", "%s", msg)
			} else {
				cl.SessionKeyFile = p
			}
		}
	}
	if c.Approval == nil {
		// Approvals are on by default: the shipped policy asks before destructive calls, and an ask with
		// nobody to ask would only refuse. `approval: {enabled: false}` turns them off.
		c.Approval = &Approval{}
	}
	{
		k.approval(c.Approval)
	}
	k.inspect(c)
	k.dataflow(c)
	if c.Dashboard != nil {
		k.dashboard(c.Dashboard, c.Auth)
	}
	if c.Metrics != nil {
		m := *c.Metrics // defaults go into a copy: a Config that fails validation stays as it was
		c.Metrics = &m
		k.metrics(c.Metrics, c.Listen)
	}
	for i := range c.Servers {
		if c.Servers[i].TokenPassthrough != nil && (c.Auth == nil || c.Auth.Mode == AuthModeNone || c.Auth.Mode == AuthModeAPIKey) {
			k.errorf(indexPath("servers", i)+".token_passthrough", "needs auth in oauth mode: only a client's OAuth access token can be forwarded")
		}
	}
	if c.Auth != nil {
		k.auth(c.Auth, c.DataDir, base, lookup)
		if c.Auth.Mode == AuthModeOAuth || c.Auth.Mode == AuthModeAPIKey {
			// Clients authenticate, which is what the non-loopback listen warning asks for.
			k.warns = slices.DeleteFunc(k.warns, func(w problem) bool { return w.path == "listen" })
		}
	}

	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	k.enum("log.level", c.Log.Level, "log level", "debug", "info", "warn", "error")
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	k.enum("log.format", c.Log.Format, "log format", "text", "json")
	return k.probs, k.warns
}

func (k *checker) enum(path, v, what string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		k.errorf(path, "unknown %s %q: use %s", what, v, orList(allowed))
	}
}

// orList renders ["a","b","c"] as "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func homeDir(lookup lookupFunc) string {
	if h, _ := lookup("HOME"); h != "" {
		return h
	}
	if runtime.GOOS == "windows" {
		h, _ := lookup("USERPROFILE")
		return h
	}
	return ""
}

// resolvePath makes p absolute: "~" and "~/..." are under the home directory, other relative paths are
// under base (the config file's directory; the current directory when base is empty).
func resolvePath(p, base string, lookup lookupFunc) (string, string) {
	if strings.ContainsRune(p, 0) {
		return "", "the path contains a NUL byte: remove it"
	}
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		home := homeDir(lookup)
		if home == "" {
			return "", `starts with "~" but HOME is not set: write the full path`
		}
		return filepath.Join(home, p[1:]), ""
	}
	if strings.HasPrefix(p, "~") {
		return "", `"~user" paths are not supported: write the full path`
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Sprintf("cannot make the path absolute (%v): write an absolute path", err)
	}
	return abs, ""
}

// listen checks a host:port address and warns when it is reachable from other machines.
func (k *checker) listen(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		k.errorf("listen", "%q is not host:port (write e.g. 127.0.0.1:8740)", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port != strconv.Itoa(n) {
		k.errorf("listen", "%q has no valid port: use a number from 0 to 65535 (0 picks a free port), "+
			"e.g. 127.0.0.1:8740", addr)
		return
	}
	switch ip, err := netip.ParseAddr(host); {
	case host == "":
		k.warns = append(k.warns, problem{path: "listen", msg: fmt.Sprintf("%q listens on every network "+
			"interface, so other machines can reach the gateway: make sure that is intended and that "+
			"clients authenticate, or use 127.0.0.1%s", addr, addr)})
	case err == nil && ip.Zone() == "" && ip.IsLoopback():
	case err == nil:
		k.warns = append(k.warns, problem{path: "listen", msg: fmt.Sprintf("%s is not a loopback address, "+
			"so other machines can reach the gateway: make sure that is intended and that clients "+
			"authenticate, or use 127.0.0.1:%s", addr, port)})
	case strings.EqualFold(host, "localhost"):
	case validHostname(host):
		k.warns = append(k.warns, problem{path: "listen", msg: fmt.Sprintf("%s is not a loopback address, "+
			"so other machines may reach the gateway: make sure that is intended and that clients "+
			"authenticate, or use 127.0.0.1:%s", addr, port)})
	default:
		k.errorf("listen", "%q is not a valid host: use an IP address or a host name, e.g. 127.0.0.1:8740", host)
	}
}

// validPort reports whether port is a decimal port number from 1 to 65535; an empty port is valid when
// optional is true.
func validPort(port string, optional bool) bool {
	if port == "" {
		return optional
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535 && port == strconv.Itoa(n)
}

// validHostname reports whether h is a DNS name: dot-separated labels of letters, digits and hyphens.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// validName reports whether s is a server name: 1–64 characters from [A-Za-z0-9_-].
func validName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func (k *checker) server(s *Server, path, base string, lookup lookupFunc) {
	switch {
	case s.Name == "":
		k.errorf(path+".name", "missing: give the server a name of letters, digits, _ or - "+
			"(it becomes the URL path /mcp/NAME), e.g. name: files")
	case !validName(s.Name):
		k.errorf(path+".name", "%q is not a valid server name: use 1–%d letters, digits, _ or - "+
			"(it becomes the URL path /mcp/NAME)", s.Name, MaxNameLen)
	}

	hasCmd, hasURL := s.Command != nil, s.URL != ""
	switch {
	case hasCmd && hasURL:
		k.errorf(path, "has both command and url: keep command for a local (stdio) server or url for a remote "+
			"(http/sse) one")
	case !hasCmd && !hasURL:
		k.errorf(path, "has neither command nor url: add command: [program, args...] for a local (stdio) "+
			"server, or url: https://... for a remote (http/sse) one")
	}

	switch s.Transport {
	case "":
		if hasCmd {
			s.Transport = TransportStdio
		} else if hasURL {
			s.Transport = TransportHTTP
		}
	case TransportStdio:
		if hasURL && !hasCmd {
			k.errorf(path+".transport", "stdio needs command, not url: use transport: http (or sse) for a url, "+
				"or leave transport out")
		}
	case TransportHTTP, TransportSSE:
		if hasCmd && !hasURL {
			k.errorf(path+".transport", "%s needs url, not command: use transport: stdio for a command, "+
				"or leave transport out", s.Transport)
		}
	default:
		hint := ""
		switch lower := strings.ToLower(s.Transport); lower {
		case TransportStdio, TransportHTTP, TransportSSE:
			hint = fmt.Sprintf(" (in lower case: %s)", lower)
		case "streamable-http", "streamable_http", "streamablehttp", "streamable", "https":
			hint = ` (Streamable HTTP is "http")`
		}
		k.errorf(path+".transport", "unknown transport %q: use stdio, http or sse%s", s.Transport, hint)
	}
	known := slices.Contains([]string{TransportStdio, TransportHTTP, TransportSSE}, s.Transport)
	stdio := s.Transport == TransportStdio || !known && hasCmd

	if hasCmd {
		switch {
		case len(s.Command) == 0:
			k.errorf(path+".command", "is empty: list the program and its arguments, e.g. command: [npx, -y, "+
				"@modelcontextprotocol/server-everything]")
		case s.Command[0] == "":
			k.errorf(path+".command[0]", "the program name is empty: the first item is the program to run")
		}
		for i, arg := range s.Command {
			if strings.ContainsRune(arg, 0) {
				k.errorf(indexPath(path+".command", i), "contains a NUL byte, which no program can receive: remove it")
			}
		}
	}

	if len(s.Env) > 0 && !stdio {
		k.errorf(path+".env", "env applies only to stdio servers (started with command): "+
			"for an http or sse server, send credentials in headers")
	}
	for _, name := range sortedKeys(s.Env) {
		p := keyPath(path+".env", name)
		if !isVarName(name) {
			k.keyErrorf(p, "%q is not a valid environment variable name: use letters, digits and _, "+
				"not starting with a digit", name)
		}
		if strings.ContainsRune(s.Env[name], 0) {
			k.errorf(p, "the value contains a NUL byte, which no program can receive: check it "+
				"(and any ${VAR} it uses)")
		}
	}

	if s.Cwd != "" {
		if !stdio {
			k.errorf(path+".cwd", "cwd applies only to stdio servers (started with command): remove it")
		} else if p, msg := resolvePath(s.Cwd, base, lookup); msg != "" {
			k.errorf(path+".cwd", "%s", msg)
		} else {
			s.Cwd = p
		}
	}

	if s.Start == "" {
		s.Start = DefaultStart
	}
	k.enum(path+".start", s.Start, "start mode", StartLazy, StartEager)

	if hasURL {
		k.url(s.URL, path+".url")
	}

	if len(s.Headers) > 0 && s.Transport == TransportStdio {
		k.errorf(path+".headers", "headers apply only to http and sse servers (reached by url): "+
			"for a stdio server, pass credentials in env")
	}
	canonical := map[string]string{}
	for _, name := range sortedKeys(s.Headers) {
		p := keyPath(path+".headers", name)
		switch {
		case !isToken(name):
			k.keyErrorf(p, "%q is not a valid HTTP header name: use letters, digits and !#$%%&'*+-.^_`|~", name)
			continue
		case slices.Contains(managedHeaders, strings.ToLower(name)):
			k.keyErrorf(p, "header %q is set by the gateway itself: remove it", name)
		}
		if prev, dup := canonical[strings.ToLower(name)]; dup {
			k.keyErrorf(p, "header %q repeats %q (header names ignore case): keep one", name, prev)
		}
		canonical[strings.ToLower(name)] = name
		if strings.ContainsFunc(s.Headers[name], func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			k.errorf(p, "the value contains a line break or another control character, which would corrupt "+
				"the HTTP request: check it (and any ${VAR} it uses)")
		}
	}

	if s.Credentials != nil {
		k.credentials(s.Credentials, path+".credentials", s.Transport == TransportStdio, s.Headers, s.Env)
	}
	if tp := s.TokenPassthrough; tp != nil {
		p := path + ".token_passthrough"
		switch {
		case s.Transport == TransportStdio:
			k.errorf(p, "is for http and sse servers (a stdio server has no request headers)")
		case tp.Audience == "":
			k.errorf(p+".audience", "is required: the audience (the upstream's resource URI) the client's token must also be "+
				"issued for; without the check any token for this gateway would be replayed to the server")
		case s.Credentials != nil || s.OAuth != nil:
			k.errorf(p, "cannot be combined with credentials or oauth: choose one way to authenticate to this server")
		}
		for name := range s.Headers {
			if strings.EqualFold(name, "Authorization") {
				k.errorf(p, "headers also sets Authorization: the client's token would be mixed with a shared one; remove it from headers")
			}
		}
		k.warns = append(k.warns, problem{path: p, msg: "forwards each client's own access token to this server (token " +
			"passthrough, which the MCP authorization spec forbids: the server then acts with a token not issued to the " +
			"gateway, and the gateway cannot tell what it does with it). Prefer credentials or oauth; keep this only for " +
			"a server that accepts tokens whose audience includes " + strconv.Quote(tp.Audience)})
	}
	if s.OAuth != nil {
		k.upstreamOAuth(s, path+".oauth")
	}

	k.positive(path+".timeout", &s.Timeout, DefaultServerTimeout)
	k.positive(path+".restart.initial_backoff", &s.Restart.InitialBackoff, DefaultInitialBackoff)
	k.positive(path+".restart.max_backoff", &s.Restart.MaxBackoff, DefaultMaxBackoff)
	if s.Restart.InitialBackoff > s.Restart.MaxBackoff {
		k.errorf(path+".restart.initial_backoff", "%s is longer than max_backoff (%s): make it shorter, "+
			"or raise max_backoff", s.Restart.InitialBackoff, s.Restart.MaxBackoff)
	}
}

// managedHeaders are headers the gateway sets on upstream requests itself (lower case).
var managedHeaders = []string{
	"host", "content-length", "content-type", "transfer-encoding", "connection", "accept",
	"mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id",
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for name := range m {
		keys = append(keys, name)
	}
	slices.Sort(keys)
	return keys
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// url checks an upstream URL. Messages never quote the URL, which may hold credentials.
func (k *checker) url(raw, path string) {
	const example = "e.g. https://mcp.example.com/mcp"
	if strings.Contains(raw, "${") {
		k.errorf(path, "${VAR} is expanded only in env and headers values: write the URL literally and "+
			"put secrets in headers")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		reason := err.Error()
		if ue, ok := err.(*url.Error); ok {
			reason = ue.Err.Error()
		}
		if strings.Contains(raw, "@") {
			reason = "it cannot be parsed"
		}
		k.errorf(path, "not a valid URL (%s): write an absolute http:// or https:// URL, %s", reason, example)
		return
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		k.errorf(path, "must start with http:// or https://, %s", example)
	case u.User != nil:
		k.errorf(path, "contains user:password: put credentials in headers instead, e.g. "+
			"headers: {Authorization: \"Bearer ${TOKEN}\"}, so they come from the environment")
	case u.Host == "" || u.Hostname() == "":
		k.errorf(path, "has no host: write an absolute URL, %s", example)
	case !validPort(u.Port(), true):
		k.errorf(path, "has an invalid port: use a number from 1 to 65535, %s", example)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		k.errorf(path, "has a #fragment, which is never sent to the server: remove it")
	}
}

func (k *checker) positive(path string, d *Duration, def time.Duration) {
	switch {
	case *d == 0:
		*d = Duration(def)
	case *d < 0:
		k.errorf(path, "%s is negative: use a positive duration (e.g. %s), or leave it out for the default", *d, Duration(def))
	}
}

// Approval defaults.
const (
	DefaultApprovalTimeout    = 2 * time.Minute
	DefaultApprovalOnTimeout  = "deny"
	DefaultApprovalPendingTTL = 24 * time.Hour
)

func (k *checker) approval(a *Approval) {
	if a.Enabled == nil {
		on := true
		a.Enabled = &on
	}
	k.positive("approval.timeout", &a.Timeout, DefaultApprovalTimeout)
	k.positive("approval.pending_ttl", &a.PendingTTL, DefaultApprovalPendingTTL)
	if a.DefaultOnTimeout == "" {
		a.DefaultOnTimeout = DefaultApprovalOnTimeout
	}
	k.enum("approval.default_on_timeout", a.DefaultOnTimeout, "timeout outcome", "deny", "allow")
	if a.Webhook != nil {
		if a.Webhook.URL == "" {
			k.errorf("approval.webhook.url", "missing: write the URL to notify, e.g. https://hooks.slack.com/services/...")
		} else {
			k.url(a.Webhook.URL, "approval.webhook.url")
		}
	}
	seen := map[string]bool{}
	for i, r := range a.Rules {
		p := fmt.Sprintf("approval.rules[%d]", i)
		if seen[r.Rule] {
			k.errorf(p+".rule", "rule %q appears twice: merge the two entries", r.Rule)
		}
		seen[r.Rule] = true
		if r.Timeout < 0 {
			k.errorf(p+".timeout", "%s is negative: use a positive duration (e.g. 5m), or leave it out for approval.timeout", r.Timeout)
		}
		if r.FourEyes && r.SelfApprove {
			k.errorf(p+".self_approve", "four_eyes needs an approver other than the caller, so self_approve cannot be true: remove one of them")
		}
		for j, g := range r.Approvers {
			if strings.TrimSpace(g) == "" {
				k.errorf(fmt.Sprintf("%s.approvers[%d]", p, j), "empty group name: write a group, e.g. approvers: [dba]")
			}
		}
	}
}

// DefaultMetricsPath is where the metrics are served when metrics.path is empty.
const DefaultMetricsPath = "/metrics"

// metrics validates the metrics section; listen is the gateway's own (defaulted) listen address.
func (k *checker) metrics(m *Metrics, listen string) {
	if m.Path == "" {
		m.Path = DefaultMetricsPath
	}
	if m.Path != DefaultMetricsPath && !validMetricsPath(m.Path) {
		k.errorf("metrics.path", "%q is not a URL path: write one starting with / from letters, digits and . _ ~ - "+
			"(no query, no trailing /), e.g. %s", m.Path, DefaultMetricsPath)
	}
	if m.Listen == "" {
		k.errorf("metrics.listen", "is required in the metrics section: write the address of the metrics listener, "+
			"apart from listen, e.g. 127.0.0.1:9741 (or remove the metrics section to serve none)")
		return
	}
	host, port, err := net.SplitHostPort(m.Listen)
	if err != nil {
		k.errorf("metrics.listen", "%q is not host:port (write e.g. 127.0.0.1:9741)", m.Listen)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port != strconv.Itoa(n) {
		k.errorf("metrics.listen", "%q has no valid port: use a number from 0 to 65535 (0 picks a free port), e.g. 127.0.0.1:9741", m.Listen)
		return
	}
	if lh, lp, err := net.SplitHostPort(listen); err == nil && port != "0" && port == lp && (host == lh || wildcardHost(host) || wildcardHost(lh)) {
		k.errorf("metrics.listen", "%q is the port of the gateway's listen address %q: give the metrics a port of their own, e.g. 127.0.0.1:9741",
			m.Listen, listen)
		return
	}
	warn := func() {
		k.warns = append(k.warns, problem{path: "metrics.listen", msg: fmt.Sprintf("%s is not a loopback address, so other "+
			"machines can read the gateway's metrics (the endpoint has no authentication; they name the configured servers "+
			"and count their traffic): make sure that is intended, or use 127.0.0.1:%s", m.Listen, port)})
	}
	switch ip, err := netip.ParseAddr(host); {
	case err == nil && ip.Zone() == "" && ip.IsLoopback(), strings.EqualFold(host, "localhost"):
	case host == "", err == nil, validHostname(host):
		if m.Pprof {
			k.errorf("metrics.pprof", "profiles are served only on a loopback metrics.listen (they show the gateway's "+
				"internals and cost CPU on demand), and %s is not one: use 127.0.0.1:%s, or set pprof: false", m.Listen, port)
			return
		}
		warn()
	default:
		k.errorf("metrics.listen", "%q is not a valid host: use an IP address or a host name, e.g. 127.0.0.1:9741", host)
	}
	if m.Pprof && strings.HasPrefix(m.Path+"/", "/debug/pprof/") {
		k.errorf("metrics.path", "%q is where pprof serves its profiles (metrics.pprof): choose another path, e.g. %s", m.Path, DefaultMetricsPath)
	}
}

// wildcardHost reports whether a listen host binds every interface.
func wildcardHost(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }

// validMetricsPath reports whether p is a clean absolute URL path of unreserved characters (so it is also a
// literal http.ServeMux pattern).
func validMetricsPath(p string) bool {
	if !strings.HasPrefix(p, "/") || (len(p) > 1 && strings.HasSuffix(p, "/")) || strings.Contains(p, "//") || len(p) > 256 {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c == '/' || c == '.' || c == '_' || c == '~' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// Dashboard defaults and limits.
const (
	DefaultDashboardSessionTTL = 8 * time.Hour
	MinDashboardTokenLen       = 16
)

func (k *checker) dashboard(d *Dashboard, auth *Auth) {
	if d.Enabled == nil {
		on := true
		d.Enabled = &on
	}
	k.positive("dashboard.session_ttl", &d.SessionTTL, DefaultDashboardSessionTTL)
	if d.AdminToken != "" && len(d.AdminToken) < MinDashboardTokenLen {
		// The value is a secret: the message gives its length rule, never the value.
		k.errorf("dashboard.admin_token", "is shorter than %d characters: use a long random secret (e.g. `openssl rand -hex 24`), "+
			"or leave it out to have one generated into data_dir/%s", MinDashboardTokenLen, DashboardTokenFile)
	}
	if d.URL != "" {
		k.url(d.URL, "dashboard.url")
	}
	if o := d.OIDC; o != nil {
		if auth == nil || auth.Issuer == "" {
			k.errorf("dashboard.oidc", "needs auth.issuer: the dashboard logs in against the provider the gateway's identity config uses")
		}
		if o.ClientID == "" {
			k.errorf("dashboard.oidc.client_id", "missing: register the dashboard as a client at the issuer (redirect URI: the dashboard's URL + oidc/callback) and write its id here")
		}
		if len(o.AllowedGroups) == 0 && len(o.AllowedUsers) == 0 {
			k.errorf("dashboard.oidc", "name who may log in with allowed_groups or allowed_users: otherwise anyone the issuer knows could approve calls")
		}
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"openid", "email", "profile"}
		} else if !slices.Contains(o.Scopes, "openid") {
			k.errorf("dashboard.oidc.scopes", "must include openid (the login needs an ID token)")
		}
	}
}

func (k *checker) audit(a *Audit, dataDir, base string, lookup lookupFunc) {
	if a.Enabled == nil {
		on := true
		a.Enabled = &on
	}
	if a.Store == "" {
		a.Store = DefaultAuditStore
	}
	k.enum("audit.store", a.Store, "audit store", "sqlite", "postgres")
	switch {
	case a.Store == "postgres" && a.PostgresDSN == "" && *a.Enabled:
		k.errorf("audit.postgres_dsn", "is required with store: postgres: write e.g. postgres://mcpwarden@db.internal/mcpwarden "+
			"(put the password in an environment variable: ${PGPASSWORD})")
	case a.Store != "postgres" && a.PostgresDSN != "":
		k.errorf("audit.postgres_dsn", "is set but audit.store is %q: add store: postgres, or remove postgres_dsn", a.Store)
	case a.PostgresDSN != "":
		if u, err := url.Parse(a.PostgresDSN); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			k.errorf("audit.postgres_dsn", "is not a postgres:// URL: write e.g. postgres://user@host:5432/db?sslmode=require")
		}
	}
	if a.Capture == "" {
		a.Capture = DefaultAuditCapture
	}
	k.enum("audit.capture", a.Capture, "capture mode", "full", "redacted", "hashed", "none")
	if a.Sync != "" { // "" means full
		k.enum("audit.sync", a.Sync, "sync mode", "full", "normal")
	}
	switch {
	case a.MaxValueBytes == 0:
		a.MaxValueBytes = DefaultAuditMaxValueBytes
	case a.MaxValueBytes < 0:
		k.errorf("audit.max_value_bytes", "must be greater than 0 (write e.g. 64KiB), or leave it out for the default")
	}
	if a.RetentionDays < 0 {
		k.errorf("audit.retention_days", "is negative: write a number of days, or 0 to keep everything")
	}
	k.positive("audit.write_timeout", &a.WriteTimeout, DefaultAuditWriteTimeout)
	k.positive("audit.checkpoint_interval", &a.CheckpointInterval, DefaultAuditCheckpoint)
	if a.Instance != "" && !validName(a.Instance) {
		k.errorf("audit.instance", "%q is not a valid instance name: use 1–64 characters from A-Z, a-z, 0-9, _ and -", a.Instance)
	}
	if o := &a.OTLP; o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			k.errorf("audit.otlp.endpoint", "%q is not an http(s) URL: write the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318", o.Endpoint)
		}
		if len(o.Signals) == 0 {
			o.Signals = []string{"logs"}
		}
		for i, s := range o.Signals {
			k.enum(indexPath("audit.otlp.signals", i), s, "OTLP signal", "logs", "traces")
		}
	} else if len(a.OTLP.Signals) > 0 || len(a.OTLP.Headers) > 0 {
		k.errorf("audit.otlp.endpoint", "is required when audit.otlp has signals or headers: write the collector's address, e.g. http://127.0.0.1:4318")
	}
	switch {
	case a.SigningKey == "" && dataDir != "":
		a.SigningKey = filepath.Join(dataDir, AuditSigningKeyFile)
	case a.SigningKey != "":
		if p, msg := resolvePath(a.SigningKey, base, lookup); msg != "" {
			k.errorf("audit.signing_key", "%s", msg)
		} else {
			a.SigningKey = p
		}
	}
}

func (k *checker) http(h *HTTP) {
	switch {
	case h.MaxMessageBytes == 0:
		h.MaxMessageBytes = DefaultMaxMessageBytes
	case h.MaxMessageBytes < 0:
		k.errorf("http.max_message_bytes", "must be greater than 0 (write e.g. 4MiB), or leave it out for the default")
	case h.MaxMessageBytes > maxMessageLimit:
		k.errorf("http.max_message_bytes", "%d is more than the 1GiB limit", h.MaxMessageBytes)
	}
	if h.MaxSessions == 0 {
		h.MaxSessions = DefaultMaxSessions
	}
	k.positive("http.read_header_timeout", &h.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	k.positive("http.shutdown_timeout", &h.ShutdownTimeout, DefaultShutdownTimeout)
	k.positive("http.session_idle_timeout", &h.SessionIdleTimeout, DefaultSessionIdleTimeout)

	for i, o := range h.AllowedOrigins {
		path := indexPath("http.allowed_origins", i)
		if o == "*" || o == "null" {
			k.errorf(path, "%q would let any web page reach the gateway (defeating the DNS-rebinding "+
				"defence): list each origin, e.g. https://agent.example.com", o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(o, "#") {
			k.errorf(path, "%q is not an origin: write scheme://host[:port] with nothing after it, "+
				"e.g. https://agent.example.com", o)
		}
	}
	for i, host := range h.AllowedHosts {
		path := indexPath("http.allowed_hosts", i)
		if host == "*" {
			k.errorf(path, `"*" would accept any Host header (defeating the DNS-rebinding defence): `+
				"list each host, e.g. mcp.example.com")
			continue
		}
		name := host
		if hp, port, err := net.SplitHostPort(host); err == nil {
			name = hp
			if !validPort(port, false) {
				name = ""
			}
		}
		if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err != nil && !validHostname(name) {
			k.errorf(path, "%q is not a host or host:port: write e.g. mcp.example.com or mcp.example.com:8443", host)
		}
	}
}

// Defaults of the auth section and of servers[].credentials.
const (
	DefaultAuthClockSkew       = 60 * time.Second
	DefaultJWKSRefetchInterval = 30 * time.Second
	DefaultIntrospectionTTL    = 60 * time.Second
	// APIKeysFile is the default API key file's name inside data_dir.
	APIKeysFile             = "apikeys.json"
	DefaultCredentialHeader = "Authorization"
	DefaultCredentialFormat = "Bearer {secret}"
)

// authAlgorithms are the JWS algorithms auth.algorithms may list: asymmetric ones only.
var authAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func (k *checker) auth(a *Auth, dataDir, base string, lookup lookupFunc) {
	if a.Mode == "" {
		a.Mode = AuthModeAPIKey
		if a.Issuer != "" || a.Introspection != nil {
			a.Mode = AuthModeOAuth
		}
	}
	k.enum("auth.mode", a.Mode, "auth mode", AuthModeOAuth, AuthModeAPIKey, AuthModeNone)
	if a.Mode == AuthModeNone {
		if a.Issuer != "" || a.Introspection != nil || a.JWKSURL != "" || len(a.RequiredScopes) > 0 {
			k.errorf("auth.mode", "none turns authentication off, but issuer, jwks_url, introspection or "+
				"required_scopes is set: remove them, or choose mode: oauth")
		}
		return
	}
	if a.Resource != "" {
		k.authResource(a.Resource)
	} else if a.Mode == AuthModeOAuth {
		k.errorf("auth.resource", "is required in oauth mode: write the gateway's public base URL as clients "+
			"reach it, e.g. resource: https://mcp.example.com (tokens' audience is checked against it)")
	}
	if a.Mode == AuthModeOAuth && a.Issuer == "" && a.Introspection == nil {
		k.errorf("auth.issuer", "oauth mode needs issuer (for JWT access tokens) or introspection (for opaque ones)")
	}
	if a.Mode == AuthModeAPIKey && (a.Issuer != "" || a.Introspection != nil) {
		k.errorf("auth.mode", "api_key mode accepts only API keys, but issuer or introspection is set: use mode: oauth")
	}
	if a.Issuer != "" {
		k.fetchURL("auth.issuer", a.Issuer, true)
	}
	if a.JWKSURL != "" {
		k.fetchURL("auth.jwks_url", a.JWKSURL, false)
		if a.Issuer == "" {
			k.errorf("auth.issuer", "is required with jwks_url: tokens' iss must match the issuer exactly")
		}
	}
	for i, alg := range a.Algorithms {
		if !slices.Contains(authAlgorithms, alg) {
			k.errorf(indexPath("auth.algorithms", i), "%q is not accepted: use %s (none and HS* are never accepted: "+
				"a shared-secret algorithm checked with a public key is a forgery)", alg, orList(authAlgorithms))
		}
	}
	for i, s := range a.RequiredScopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			k.errorf(indexPath("auth.required_scopes", i), "%q is not a scope: one word without spaces or quotes", s)
		}
	}
	k.positive("auth.clock_skew", &a.ClockSkew, DefaultAuthClockSkew)
	if a.ClockSkew.D() > 5*time.Minute {
		k.errorf("auth.clock_skew", "%s is too lenient for expiry checks: use at most 5m", a.ClockSkew)
	}
	k.positive("auth.jwks_refetch_interval", &a.JWKSRefetchInterval, DefaultJWKSRefetchInterval)
	if a.Claims.Subject == "" {
		a.Claims.Subject = "sub"
	}
	if a.Claims.Email == "" {
		a.Claims.Email = "email"
	}
	if a.Claims.Name == "" {
		a.Claims.Name = "name"
	}
	if a.Claims.Groups == nil {
		a.Claims.Groups = []string{"groups", "roles"}
	}
	if in := a.Introspection; in != nil {
		if in.URL == "" {
			k.errorf("auth.introspection.url", "is required: write the authorization server's RFC 7662 endpoint")
		} else {
			k.fetchURL("auth.introspection.url", in.URL, false)
		}
		if in.ClientID == "" {
			k.errorf("auth.introspection.client_id", "is required: introspection endpoints authenticate the caller")
		}
		k.positive("auth.introspection.cache_ttl", &in.CacheTTL, DefaultIntrospectionTTL)
	}
	switch {
	case a.APIKeysFile == "" && dataDir != "":
		a.APIKeysFile = filepath.Join(dataDir, APIKeysFile)
	case a.APIKeysFile != "":
		if p, msg := resolvePath(a.APIKeysFile, base, lookup); msg != "" {
			k.errorf("auth.api_keys_file", "%s", msg)
		} else {
			a.APIKeysFile = p
		}
	}
}

// authResource checks auth.resource: an origin, https unless on a loopback host.
func (k *checker) authResource(raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		k.errorf("auth.resource", "must be the gateway's public base URL, e.g. https://mcp.example.com")
	case u.Scheme == "http" && !isLoopbackName(u.Hostname()):
		k.errorf("auth.resource", "must use https (http only on a loopback host): tokens must not cross the network in clear")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		k.errorf("auth.resource", "must be scheme://host[:port] only, with no path, query or user info "+
			"(the endpoints are its /mcp paths)")
	}
}

// fetchURL checks a URL the gateway fetches keys or token information from: https, or http on a loopback
// host. issuer identifiers may have a path but no query or fragment.
func (k *checker) fetchURL(path, raw string, issuer bool) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		k.errorf(path, "must be an absolute https:// URL")
	case u.Scheme == "http" && !isLoopbackName(u.Hostname()):
		k.errorf(path, "must use https (http only on a loopback host, for a local IdP)")
	case u.User != nil:
		k.errorf(path, "must not contain user:password")
	case issuer && (u.RawQuery != "" || u.Fragment != ""):
		k.errorf(path, "an issuer identifier has no query or fragment")
	}
}

func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func validSecretName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func (k *checker) credentials(c *Credentials, path string, stdio bool, headers, env map[string]string) {
	if !validSecretName(c.Name) {
		k.errorf(path+".name", "%q is not a secret name: use 1–64 letters, digits, _, - or .", c.Name)
	}
	if stdio {
		// A stdio server gets the secret in its environment: one process per user.
		switch {
		case c.Env == "":
			k.errorf(path+".env", "is required for a stdio server: name the environment variable that carries each user's "+
				"secret (e.g. env: GITHUB_TOKEN); each user then gets a process of their own")
		case !isVarName(c.Env):
			k.errorf(path+".env", "%q is not an environment variable name: use [A-Za-z_][A-Za-z0-9_]*", c.Env)
		}
		if c.Header != "" || c.Format != "" {
			k.errorf(path, "header and format are for http and sse servers; a stdio server gets the secret in env")
		}
		if _, dup := env[c.Env]; dup && c.Env != "" {
			k.errorf(path+".env", "%q is also set in the server's env: the per-user secret would be mixed with a shared one; remove it from env", c.Env)
		}
		return
	}
	if c.Env != "" {
		k.errorf(path+".env", "is for stdio servers; an http or sse server gets the secret in a header (header, format)")
	}
	if c.Header == "" {
		c.Header = DefaultCredentialHeader
	}
	switch {
	case !isToken(c.Header):
		k.errorf(path+".header", "%q is not a valid HTTP header name", c.Header)
	case slices.Contains(managedHeaders, strings.ToLower(c.Header)):
		k.errorf(path+".header", "header %q is set by the gateway itself: choose another", c.Header)
	}
	for name := range headers {
		if strings.EqualFold(name, c.Header) {
			k.errorf(path+".header", "%q is also set in headers: the per-user secret would be mixed with a "+
				"shared one; remove it from headers", c.Header)
		}
	}
	if c.Format == "" {
		c.Format = DefaultCredentialFormat
	}
	if !strings.Contains(c.Format, "{secret}") {
		k.errorf(path+".format", "%q does not contain {secret}: write e.g. \"Bearer {secret}\"", c.Format)
	}
	if strings.ContainsFunc(c.Format, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		k.errorf(path+".format", "contains a line break or another control character")
	}
}

// upstreamOAuth checks servers[].oauth and fills its defaults.
func (k *checker) upstreamOAuth(s *Server, path string) {
	o := s.OAuth
	if s.Transport == TransportStdio {
		k.errorf(path, "oauth applies only to http and sse servers (reached by url); stdio servers take "+
			"credentials from their environment")
		return
	}
	for name := range s.Headers {
		if strings.EqualFold(name, "Authorization") {
			k.errorf(path, "headers also sets Authorization: the per-user OAuth token would be mixed with a "+
				"shared one; remove it from headers")
		}
	}
	if s.Credentials != nil && strings.EqualFold(s.Credentials.Header, "Authorization") {
		k.errorf(path, "credentials also sends Authorization: use either credentials or oauth for this server")
	}
	if o.ClientSecret != "" && o.ClientID == "" {
		k.errorf(path+".client_secret", "is set without client_id: set the client_id it belongs to")
	}
	if o.AuthorizationServer != "" {
		k.fetchURL(path+".authorization_server", o.AuthorizationServer, true)
	}
	if o.ClientMetadataURL != "" {
		if u, err := url.Parse(o.ClientMetadataURL); err != nil || u.Scheme != "https" || u.Host == "" || len(u.Path) <= 1 {
			k.errorf(path+".client_metadata_url", "must be an https URL with a path (the client id metadata document), e.g. https://mcp.example.com/oauth/upstream/client-metadata.json")
		}
	}
	if o.RedirectURL != "" {
		k.fetchURL(path+".redirect_url", o.RedirectURL, false)
	}
	if o.Resource == "" {
		o.Resource = s.URL
	} else if u, err := url.Parse(o.Resource); err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" {
		k.errorf(path+".resource", "must be an absolute URI without a fragment (RFC 8707), e.g. %s", s.URL)
	}
	if o.SendResource == nil {
		t := true
		o.SendResource = &t
	}
	for i, sc := range append(append([]string(nil), o.Scopes...), tokenExchangeScopes(o)...) {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			k.errorf(path+".scopes", "scope %d (%q) is empty or contains a space, quote or backslash", i+1, sc)
		}
	}
}

func tokenExchangeScopes(o *UpstreamOAuth) []string {
	if o.TokenExchange == nil {
		return nil
	}
	return o.TokenExchange.Scopes
}
