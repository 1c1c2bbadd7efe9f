package discovery

import (
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// commandBase is the lower-case program name of a command, without directory or Windows extension.
func commandBase(command string) string {
	b := strings.ToLower(path.Base(strings.ReplaceAll(command, `\`, "/")))
	for _, ext := range []string{".exe", ".cmd", ".bat", ".ps1"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

var (
	exactSemver = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	gitCommit   = regexp.MustCompile(`#[0-9a-f]{40}$`)
	pypiExact   = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\],]+==[A-Za-z0-9.+!\-]+$`)
)

// npmPublishers maps npm scopes of well-known publishers to their names.
var npmPublishers = map[string]string{
	"@modelcontextprotocol": "Model Context Protocol", "@anthropic-ai": "Anthropic", "@github": "GitHub",
	"@playwright": "Microsoft", "@microsoft": "Microsoft", "@azure": "Microsoft", "@upstash": "Upstash",
	"@notionhq": "Notion", "@stripe": "Stripe", "@cloudflare": "Cloudflare", "@sentry": "Sentry",
	"@supabase": "Supabase", "@browserbasehq": "Browserbase", "@heroku": "Heroku", "@shopify": "Shopify",
	"@google-cloud": "Google", "@googleapis": "Google", "@aws-sdk": "AWS", "@awslabs": "AWS",
	"@mongodb-js": "MongoDB", "@elastic": "Elastic", "@hubspot": "HubSpot", "@atlassian": "Atlassian",
}

var pypiPublishers = map[string]string{
	"mcp-server-fetch": "Model Context Protocol", "mcp-server-git": "Model Context Protocol",
	"mcp-server-time": "Model Context Protocol", "mcp-server-sqlite": "Model Context Protocol",
}

var dockerPublishers = map[string]string{
	"mcp/": "Docker MCP Catalog", "docker.io/mcp/": "Docker MCP Catalog", "ghcr.io/github/": "GitHub",
	"mcr.microsoft.com/": "Microsoft", "public.ecr.aws/awslabs": "AWS",
}

// analyzePackage says what a server runs and how well its version is pinned.
func analyzePackage(command string, args []string, rawURL string) Package {
	if command == "" {
		if rawURL == "" {
			return Package{Ecosystem: "unknown", Pin: "n/a"}
		}
		host := rawURL
		if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
			host = u.Host
		}
		return Package{Ecosystem: "remote", Name: host, Pin: "n/a"}
	}
	base := commandBase(command)
	switch base {
	case "npx", "bunx", "pnpx":
		return npmPackage(args)
	case "npm", "pnpm", "yarn":
		if len(args) > 0 && (args[0] == "exec" || args[0] == "x" || args[0] == "dlx") {
			return npmPackage(args[1:])
		}
	case "uvx", "pipx", "uv":
		a := args
		if base == "pipx" && len(a) > 0 && a[0] == "run" {
			a = a[1:]
		}
		if base == "uv" {
			if len(a) >= 2 && a[0] == "tool" && a[1] == "run" {
				a = a[2:]
			} else {
				break
			}
		}
		return pypiPackage(a)
	case "docker", "podman", "nerdctl":
		return dockerPackage(args)
	case "mcpwarden":
		return Package{Ecosystem: "mcpwarden", Name: "mcpwarden", Pin: "n/a"}
	case "node", "python", "python3", "deno", "bun", "ruby", "java", "dotnet", "go":
		for i := 0; i < len(args); i++ {
			a := args[i]
			if a == "-m" && i+1 < len(args) {
				return Package{Ecosystem: "local", Name: args[i+1], Pin: "n/a"}
			}
			if strings.HasPrefix(a, "npm:") {
				p := npmSpec(strings.TrimPrefix(a, "npm:"))
				return p
			}
			if !strings.HasPrefix(a, "-") && a != "run" {
				return Package{Ecosystem: "local", Name: a, Pin: "n/a"}
			}
		}
		return Package{Ecosystem: "local", Name: base, Pin: "n/a"}
	}
	return Package{Ecosystem: "binary", Name: command, Pin: "n/a"}
}

func npmPackage(args []string) Package {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			continue
		case a == "-p" || a == "--package":
			if i+1 < len(args) {
				return npmSpec(args[i+1])
			}
		case strings.HasPrefix(a, "--package="):
			return npmSpec(strings.TrimPrefix(a, "--package="))
		case strings.HasPrefix(a, "-"):
			continue
		default:
			return npmSpec(a)
		}
	}
	return Package{Ecosystem: "npm", Pin: "none"}
}

// npmSpec parses name[@version] for scoped and unscoped packages, and git/URL specs.
func npmSpec(spec string) Package {
	if strings.HasPrefix(spec, "github:") || strings.HasPrefix(spec, "git+") || strings.HasPrefix(spec, "git:") ||
		strings.HasPrefix(spec, "https://") || strings.HasPrefix(spec, "http://") ||
		(!strings.HasPrefix(spec, "@") && strings.Contains(spec, "/")) {
		p := Package{Ecosystem: "git", Name: spec, Pin: "none"}
		if gitCommit.MatchString(spec) {
			p.Pin, p.Pinned = "digest", true
		}
		return p
	}
	name, version := spec, ""
	if i := strings.LastIndex(spec, "@"); i > 0 {
		name, version = spec[:i], spec[i+1:]
	}
	p := Package{Ecosystem: "npm", Name: name, Version: version}
	switch {
	case version == "":
		p.Pin = "none"
	case exactSemver.MatchString(version):
		p.Pin, p.Pinned = "exact", true
	case version == "latest" || version == "next":
		p.Pin = "latest"
	case strings.ContainsAny(version, "^~*xX<>= |"):
		p.Pin = "range"
	default:
		p.Pin = "tag"
	}
	if strings.HasPrefix(name, "@") {
		if i := strings.Index(name, "/"); i > 0 {
			p.Publisher = npmPublishers[name[:i]]
		}
	}
	return p
}

func pypiPackage(args []string) Package {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--from":
			if i+1 < len(args) {
				return pypiSpec(args[i+1])
			}
		case strings.HasPrefix(a, "--from="):
			return pypiSpec(strings.TrimPrefix(a, "--from="))
		case a == "--with" || a == "-p" || a == "--python" || a == "--index-url" || a == "--index":
			i++
		case strings.HasPrefix(a, "-"):
			continue
		default:
			return pypiSpec(a)
		}
	}
	return Package{Ecosystem: "pypi", Pin: "none"}
}

func pypiSpec(spec string) Package {
	if strings.HasPrefix(spec, "git+") || strings.HasPrefix(spec, "https://") {
		p := Package{Ecosystem: "git", Name: spec, Pin: "none"}
		if regexp.MustCompile(`@[0-9a-f]{40}$`).MatchString(spec) {
			p.Pin, p.Pinned = "digest", true
		}
		return p
	}
	p := Package{Ecosystem: "pypi", Name: spec}
	switch {
	case pypiExact.MatchString(spec):
		i := strings.Index(spec, "==")
		p.Name, p.Version, p.Pin, p.Pinned = spec[:i], spec[i+2:], "exact", true
	case strings.Contains(spec, "@") && exactSemver.MatchString(spec[strings.LastIndex(spec, "@")+1:]):
		i := strings.LastIndex(spec, "@")
		p.Name, p.Version, p.Pin, p.Pinned = spec[:i], spec[i+1:], "exact", true
	case strings.HasSuffix(spec, "@latest"):
		p.Name, p.Version, p.Pin = strings.TrimSuffix(spec, "@latest"), "latest", "latest"
	case strings.ContainsAny(spec, "<>=~!"):
		i := strings.IndexAny(spec, "<>=~!")
		p.Name, p.Version, p.Pin = spec[:i], spec[i:], "range"
	default:
		p.Pin = "none"
	}
	if k := strings.Index(p.Name, "["); k > 0 {
		p.Name = p.Name[:k]
	}
	p.Publisher = pypiPublishers[p.Name]
	if strings.HasPrefix(p.Name, "awslabs.") {
		p.Publisher = "AWS"
	}
	return p
}

// dockerValueFlags are `docker run` flags that take a separate value.
var dockerValueFlags = map[string]bool{
	"-e": true, "--env": true, "--env-file": true, "-v": true, "--volume": true, "--name": true,
	"--network": true, "--net": true, "-p": true, "--publish": true, "--mount": true, "-w": true,
	"--workdir": true, "-u": true, "--user": true, "--entrypoint": true, "-l": true, "--label": true,
	"--platform": true, "--pull": true, "-h": true, "--hostname": true, "--cpus": true, "--memory": true,
	"-m": true, "--add-host": true, "--cap-add": true, "--cap-drop": true, "--device": true,
	"--security-opt": true, "--tmpfs": true, "--ulimit": true, "--gpus": true, "--runtime": true,
	"--log-driver": true, "--restart": true, "--pid": true, "--ipc": true, "--group-add": true,
}

func dockerPackage(args []string) Package {
	i := 0
	for i < len(args) && (args[i] == "container" || strings.HasPrefix(args[i], "-")) {
		i++
	}
	if i >= len(args) || args[i] != "run" {
		return Package{Ecosystem: "docker", Pin: "n/a"}
	}
	for i++; i < len(args); i++ {
		a := args[i]
		if dockerValueFlags[a] {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		return dockerImage(a)
	}
	return Package{Ecosystem: "docker", Pin: "none"}
}

func dockerImage(ref string) Package {
	p := Package{Ecosystem: "docker", Name: ref}
	if i := strings.Index(ref, "@sha256:"); i > 0 {
		p.Name, p.Version, p.Pin, p.Pinned = ref[:i], ref[i+1:], "digest", true
	} else {
		slash := strings.LastIndex(ref, "/")
		if c := strings.LastIndex(ref, ":"); c > slash {
			p.Name, p.Version = ref[:c], ref[c+1:]
		}
		switch p.Version {
		case "", "latest":
			p.Pin = "latest"
		default:
			p.Pin = "tag"
		}
	}
	for prefix, pub := range dockerPublishers {
		if strings.HasPrefix(p.Name, prefix) {
			p.Publisher = pub
		}
	}
	return p
}

var (
	envReference  = regexp.MustCompile(`^\s*(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{env:[^}]*\}|\$env:[A-Za-z_][A-Za-z0-9_]*|\{\{[^}]*\}\}|op://\S+)\s*$`)
	tokenPattern  = regexp.MustCompile(`(ghp_|gho_|ghu_|ghs_|ghr_)[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_\-]{16,}|sk-[A-Za-z0-9_\-]{16,}|sk_live_[A-Za-z0-9]{16,}|rk_live_[A-Za-z0-9]{16,}|xox[abposr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{30,}|hf_[A-Za-z0-9]{20,}|npm_[A-Za-z0-9]{30,}|pypi-[A-Za-z0-9_\-]{30,}|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+`)
	secretName    = regexp.MustCompile(`(?i)(token|secret|passw(or)?d|passwd|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth|(^|[_-])pat($|[_-])|(^|[_-])key$)`)
	secretArgFlag = regexp.MustCompile(`(?i)^--?[a-z0-9-]*(token|secret|password|api-?key|access-?key|auth)[a-z0-9-]*$`)
)

// isReference reports whether a value points at a secret instead of containing it (${VAR}, ${input:x},
// {env:VAR}, op://…).
func isReference(v string) bool {
	return envReference.MatchString(v) || strings.Contains(v, "${")
}

// literalSecret reports whether a value of a key is an inline secret.
func literalSecret(key, value string) bool {
	v := strings.TrimSpace(value)
	if v == "" || isReference(v) {
		return false
	}
	if tokenPattern.MatchString(v) {
		return true
	}
	if strings.EqualFold(key, "authorization") {
		f := strings.Fields(v)
		return len(f) == 2 && !isReference(f[1]) && len(f[1]) >= 8
	}
	return secretName.MatchString(key) && len(v) >= 8 && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false")
}

// inlineSecrets names the places where a server config holds a literal secret.
func inlineSecrets(n normalized) []string {
	var out []string
	for _, k := range sortedKeys(n.env) {
		if literalSecret(k, n.env[k]) {
			out = append(out, "env:"+k)
		}
	}
	for _, k := range sortedKeys(n.headers) {
		if literalSecret(k, n.headers[k]) {
			out = append(out, "header:"+k)
		}
	}
	for i, a := range n.args {
		switch {
		case tokenPattern.MatchString(a):
		case strings.Contains(a, "=") && secretArgFlag.MatchString(a[:strings.Index(a, "=")]) && literalSecret("token", a[strings.Index(a, "=")+1:]):
		case i > 0 && secretArgFlag.MatchString(n.args[i-1]) && literalSecret("token", a):
		case strings.Contains(a, "://") && urlHasPassword(a):
		default:
			continue
		}
		out = append(out, "arg:"+strconv.Itoa(i))
	}
	if u, err := url.Parse(n.url); err == nil && n.url != "" {
		if _, ok := u.User.Password(); ok {
			out = append(out, "url:userinfo")
		}
		for k, vs := range u.Query() {
			for _, v := range vs {
				if literalSecret(k, v) {
					out = append(out, "url:query:"+k)
				}
			}
		}
	}
	return out
}

// urlHasPassword reports whether a URL-shaped argument (e.g. a database DSN) carries a literal password.
func urlHasPassword(a string) bool {
	u, err := url.Parse(a)
	if err != nil || u.User == nil {
		return false
	}
	p, ok := u.User.Password()
	return ok && p != "" && !isReference(p)
}

// isWrap reports whether argv runs a server through `mcpwarden wrap`.
func isWrap(command string, args []string) bool {
	if commandBase(command) != "mcpwarden" {
		return false
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		return a == "wrap"
	}
	return false
}

// isLoopbackHost reports whether host (without port) names this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// canonicalHostPort maps loopback names to one spelling so http://localhost:8740 matches http://127.0.0.1:8740.
func canonicalHostPort(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if isLoopbackHost(host) {
		host = "loopback"
	}
	return strings.ToLower(host) + ":" + port
}

// gatewayRoute reports whether rawURL points at one of the gateways: the aggregate /mcp or a per-server
// /mcp/{name} under a gateway's base URL.
func gatewayRoute(rawURL string, gateways []string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false
	}
	for _, g := range gateways {
		gu, err := url.Parse(g)
		if err != nil || gu.Host == "" {
			continue
		}
		if canonicalHostPort(u) != canonicalHostPort(gu) {
			continue
		}
		base := strings.TrimRight(gu.Path, "/")
		if strings.HasSuffix(base, "/mcp") {
			base = strings.TrimSuffix(base, "/mcp")
		} else if i := strings.Index(base, "/mcp/"); i >= 0 {
			base = base[:i]
		}
		p := strings.TrimRight(u.Path, "/")
		if p == base+"/mcp" || strings.HasPrefix(p, base+"/mcp/") {
			return true
		}
	}
	return false
}
