package config

import (
	"encoding/hex"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of the inspect stage's settings (applied when their section is present).
const (
	DefaultPinningMode      = PinningTOFU
	DefaultScanQuarantineAt = "high"
)

// inspect validates pinning:, scan:, allowlist: and servers[].pin, and fills the defaults of the sections
// that are present.
func (k *checker) inspect(c *Config) {
	if p := c.Pinning; p != nil {
		if p.Mode == "" {
			p.Mode = DefaultPinningMode
		}
		k.enum("pinning.mode", p.Mode, "pinning mode", PinningTOFU, PinningStrict, PinningOff)
	}
	if s := c.Scan; s != nil {
		if s.QuarantineAt == "" {
			s.QuarantineAt = DefaultScanQuarantineAt
		}
		k.enum("scan.quarantine_at", s.QuarantineAt, "severity", "info", "low", "medium", "high", "critical", "off")
		t := true
		if s.SanitizeDescriptions == nil {
			s.SanitizeDescriptions = &t
		}
		if s.SanitizeResults == nil {
			s.SanitizeResults = &t
		}
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		path := indexPath("servers", i)
		if s.Pin != nil {
			if s.Command == nil {
				k.errorf(path+".pin", "is only for stdio servers (with command:): remove it, or pin the remote server's tools with pinning:")
			}
			h := strings.ToLower(s.Pin.SHA256)
			if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
				k.errorf(path+".pin.sha256", "is not a SHA-256 (64 hex digits): compute it with `sha256sum $(command -v %s)`", firstArg(s.Command))
			} else {
				s.Pin.SHA256 = h
			}
		}
		if c.Allowlist != nil && c.Allowlist.RequirePinned && s.Command != nil {
			if msg := UnpinnedCommand(s.Command, s.Pin); msg != "" {
				k.errorf(path+".command", "%s", msg)
			}
		}
	}
}

func firstArg(argv []string) string {
	if len(argv) == 0 {
		return "PROGRAM"
	}
	return argv[0]
}

var (
	npmExact    = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*@v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	pipExact    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[0-9][0-9A-Za-z.!+_-]*$`)
	dockerImage = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
)

// UnpinnedCommand says why a stdio server's argv is not pinned under allowlist.require_pinned, or returns
// "" when it is: npx/npm exec/pnpm dlx/bunx run an exact package version (pkg@1.2.3), uvx/pipx run a
// pkg==1.2.3, docker/podman run an image by @sha256: digest; any other program needs pin.sha256 (which is
// checked against the file when the server starts).
func UnpinnedCommand(argv []string, pin *ServerPin) string {
	if len(argv) == 0 {
		return ""
	}
	prog := strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	args := argv[1:]
	switch prog {
	case "npx", "bunx", "pnpx":
		return pinnedPackage(prog, args, npmExact, "pkg@1.2.3", "npx -y @scope/server@1.2.3")
	case "npm", "pnpm", "yarn", "bun":
		if len(args) > 0 && (args[0] == "exec" || args[0] == "dlx" || args[0] == "x") {
			return pinnedPackage(prog+" "+args[0], args[1:], npmExact, "pkg@1.2.3", prog+" "+args[0]+" @scope/server@1.2.3")
		}
	case "uvx", "pipx":
		a := args
		if prog == "pipx" && len(a) > 0 && a[0] == "run" {
			a = a[1:]
		}
		return pinnedPackage(prog, a, pipExact, "pkg==1.2.3", "uvx mcp-server-x==1.2.3")
	case "docker", "podman":
		if len(args) > 0 && args[0] == "run" {
			for _, a := range args[1:] {
				if strings.HasPrefix(a, "-") || strings.Contains(a, "=") && !strings.Contains(a, "/") && !strings.Contains(a, ":") {
					continue
				}
				if dockerImage.MatchString(a) {
					return ""
				}
			}
			return prog + " run does not name its image by digest: write the image as name@sha256:<digest> " +
				"(get it with `" + prog + " inspect --format '{{index .RepoDigests 0}}' IMAGE`)"
		}
	}
	if pin != nil && pin.SHA256 != "" {
		return ""
	}
	return "runs " + argv[0] + ", which is not pinned (allowlist.require_pinned is on): add pin: {sha256: <hex>} to this " +
		"server with the program's hash (`sha256sum $(command -v " + argv[0] + ")`), or run a package at an exact version"
}

// CommandPackage returns the package a package-runner command line runs, with the runner's ecosystem:
// "npm:@scope/server@1.2.3" (npx, bunx, pnpx, npm/pnpm/yarn/bun exec|dlx|x), "pypi:server==1.2.3" (uvx,
// pipx run), "image:name@sha256:…" (docker/podman run with an image by digest); "" for any other program
// or when no package argument is found. Versions are returned as written, exact or not.
func CommandPackage(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	prog := strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	args := argv[1:]
	switch prog {
	case "npx", "bunx", "pnpx":
		return prefixed("npm:", packageArg(args))
	case "npm", "pnpm", "yarn", "bun":
		if len(args) > 0 && (args[0] == "exec" || args[0] == "dlx" || args[0] == "x") {
			return prefixed("npm:", packageArg(args[1:]))
		}
	case "uvx", "pipx":
		if prog == "pipx" && len(args) > 0 && args[0] == "run" {
			args = args[1:]
		}
		return prefixed("pypi:", packageArg(args))
	case "docker", "podman":
		if len(args) > 0 && args[0] == "run" {
			for _, a := range args[1:] {
				if dockerImage.MatchString(a) {
					return "image:" + a
				}
			}
		}
	}
	return ""
}

// packageArg is the package argument of a runner's arguments: the value of --package/-p/--from, else the
// first argument that is not a flag.
func packageArg(args []string) string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--package" || a == "-p" || a == "--from":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case !strings.HasPrefix(a, "-"):
			return a
		}
	}
	return ""
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// pinnedPackage finds the package argument of a package runner (the first argument that is not a flag)
// and checks it is an exact version.
func pinnedPackage(runner string, args []string, exact *regexp.Regexp, form, example string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--package" || a == "-p" || a == "--from" {
			if i+1 < len(args) && exact.MatchString(args[i+1]) {
				return ""
			}
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		if exact.MatchString(a) {
			return ""
		}
		name := a
		if i := strings.LastIndexAny(a, "@=<>~^!"); i > 0 {
			name = strings.TrimRight(a[:i], "@=<>~^!")
		}
		want := name + "@1.2.3"
		if strings.Contains(form, "==") {
			want = name + "==1.2.3"
		}
		return runner + " runs " + a + " without an exact version (allowlist.require_pinned is on): write it as " +
			form + " with the version you reviewed, e.g. " + want + " (command: [" + strings.ReplaceAll(example, " ", ", ") + "])"
	}
	return runner + " names no package (allowlist.require_pinned is on): write the package as " + form
}

// Defaults of the data-flow guards (dataflow:), filled in whether or not the section is present.
const (
	DefaultDataFlowSecrets   = "redact"
	DefaultDataFlowPII       = "redact"
	DefaultDataFlowInjection = "taint"
	DefaultDataFlowArguments = "allow"
	DefaultPIIConfidence     = "high"
)

var labelWord = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// dataflow validates dataflow: and the servers' labels, and fills the defaults (the section is created
// when absent: the guards are on by default).
func (k *checker) dataflow(c *Config) {
	if c.DataFlow == nil {
		c.DataFlow = &DataFlow{}
	}
	f := c.DataFlow
	if f.Mode == "" {
		f.Mode = "enforce"
	}
	k.enum("dataflow.mode", f.Mode, "mode", "enforce", "monitor")
	if f.PIIConfidence == "" {
		f.PIIConfidence = DefaultPIIConfidence
	}
	k.enum("dataflow.pii_confidence", f.PIIConfidence, "confidence", "low", "medium", "high")
	if f.Heuristics == nil {
		t := true
		f.Heuristics = &t
	}
	fill := func(dst *string, def string) {
		if *dst == "" {
			*dst = def
		}
	}
	fill(&f.Secrets, DefaultDataFlowSecrets)
	fill(&f.PII, DefaultDataFlowPII)
	fill(&f.Injection, DefaultDataFlowInjection)
	fill(&f.Arguments, DefaultDataFlowArguments)
	check := func(path string, r *DataFlowRules) {
		if r.Secrets != "" {
			k.enum(path+"secrets", r.Secrets, "action", "allow", "redact", "block", "ask")
		}
		if r.PII != "" {
			k.enum(path+"pii", r.PII, "action", "allow", "redact", "block", "ask")
		}
		if r.Injection != "" {
			k.enum(path+"injection", r.Injection, "action", "allow", "taint", "block")
		}
		if r.Arguments != "" {
			k.enum(path+"arguments", r.Arguments, "action", "allow", "redact", "block")
		}
	}
	check("dataflow.", &f.DataFlowRules)
	for i := range f.Overrides {
		o := &f.Overrides[i]
		p := indexPath("dataflow.overrides", i)
		if len(o.Servers) == 0 && len(o.Tools) == 0 {
			k.errorf(p, "selects nothing: give servers: and/or tools: (glob patterns), or move its actions to dataflow: itself")
		}
		for j, pat := range append(append([]string{}, o.Servers...), o.Tools...) {
			if _, err := filepath.Match(pat, ""); err != nil {
				k.errorf(p, "pattern %d %q is not a valid glob: %v", j+1, pat, err)
			}
		}
		check(p+".", &o.DataFlowRules)
	}
	if cl := f.Classifier; cl != nil {
		if cl.URL == "" {
			k.errorf("dataflow.classifier.url", "is required: the classifier's HTTP endpoint (POST {\"text\": ...})")
		} else {
			k.url(cl.URL, "dataflow.classifier.url")
		}
		if cl.Fail == "" {
			cl.Fail = "closed"
		}
		k.enum("dataflow.classifier.fail", cl.Fail, "fail mode", "closed", "open")
		if cl.Timeout == 0 {
			cl.Timeout = Duration(2 * time.Second)
		}
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		path := indexPath("servers", i)
		for _, l := range s.Labels {
			if !labelWord.MatchString(l) {
				k.errorf(path+".labels", "label %q is not a lower-case word: use private, untrusted, sink, destructive or a word of your own", l)
			}
		}
		for _, tool := range slices.Sorted(maps.Keys(s.ToolLabels)) {
			for _, l := range s.ToolLabels[tool] {
				if !labelWord.MatchString(l) {
					k.errorf(path+".tool_labels."+tool, "label %q is not a lower-case word: use private, untrusted, sink, destructive or a word of your own", l)
				}
			}
		}
	}
}
