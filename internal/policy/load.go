package policy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultPolicy returns the source of the shipped default policy (reads allowed, destructive actions ask,
// known-dangerous actions denied).
func DefaultPolicy() []byte { return bytes.Clone(defaultYAML) }

// Error is one problem in a policy: where it is and what is wrong.
type Error struct {
	File string
	Line int
	Rule string // the rule's id, when the problem is inside a rule
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Rule != "" {
		b.WriteString("rule " + strconv.Quote(e.Rule) + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a policy, in file order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Source says where a policy comes from, resolved from the config's policy: value.
type Source struct {
	// File is the policy file, when the rules live in a file of their own ("" when inline or default).
	File string
	// Name is how errors refer to the source: the file, "config.yaml (policy)" or "default policy".
	Name string
	// Body is the YAML document (for an inline policy, the config's policy: mapping re-serialised with
	// its original line numbers preserved where the config file could be re-read).
	Body []byte
	// node is the parsed document, when it came from the config file itself.
	node *yaml.Node
	// Mode overrides the document's mode when set inline next to file:.
	Mode Mode
	// configPath is the config file an inline policy was read from (re-read on reload).
	configPath string
}

// WatchPath is the file whose changes mean the policy may have changed ("" for the shipped default).
func (s *Source) WatchPath() string {
	if s.File != "" {
		return s.File
	}
	return s.configPath
}

// SourceFromConfig resolves the config's policy: value. It is absent (nil) → the shipped default policy;
// a string → a policy file (relative to the config's directory); a mapping → an inline policy, which may
// name a file (file: PATH, with mode: beside it to override the file's mode).
func SourceFromConfig(cfg *config.Config) (*Source, error) {
	base := "."
	if cfg.Path != "" {
		base = filepath.Dir(cfg.Path)
	}
	switch v := cfg.Policy.(type) {
	case nil:
		return &Source{Name: "default policy", Body: DefaultPolicy()}, nil
	case string:
		return &Source{File: resolve(base, v), Name: resolve(base, v)}, nil
	case map[string]any:
		src := &Source{Name: "config (policy)"}
		if f, ok := v["file"]; ok {
			fs, ok := f.(string)
			if !ok || fs == "" {
				return nil, fmt.Errorf("%s: policy.file must be a path to a policy file", cfgName(cfg))
			}
			for k := range v {
				if k != "file" && k != "mode" {
					return nil, fmt.Errorf("%s: policy.%s cannot be combined with policy.file: put it in %s", cfgName(cfg), k, fs)
				}
			}
			src.File, src.Name = resolve(base, fs), resolve(base, fs)
			if m, ok := v["mode"].(string); ok {
				src.Mode = Mode(m)
				if src.Mode != Enforce && src.Mode != Monitor {
					return nil, fmt.Errorf("%s: policy.mode %q is not valid: use enforce or monitor", cfgName(cfg), m)
				}
			}
			return src, nil
		}
		if cfg.Path != "" {
			if n := policyNode(cfg.Path); n != nil {
				src.Name, src.node, src.configPath = cfg.Path, n, cfg.Path
				return src, nil
			}
		}
		b, err := yaml.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: policy: %w", cfgName(cfg), err)
		}
		src.Body = b
		return src, nil
	default:
		return nil, fmt.Errorf("%s: policy must be a mapping (mode, default, rules, …) or a path to a policy file", cfgName(cfg))
	}
}

func cfgName(cfg *config.Config) string {
	if cfg.Path == "" {
		return "config"
	}
	return cfg.Path
}

func resolve(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return filepath.Join(base, p)
}

// policyNode re-reads the config file and returns its policy: value node, so errors carry the config's
// own line numbers.
func policyNode(path string) *yaml.Node {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "policy" {
			return m.Content[i+1]
		}
	}
	return nil
}

// Load reads (for a file source) and compiles the policy.
func Load(src *Source, opts Options) (*Policy, error) {
	if src.configPath != "" {
		n := policyNode(src.configPath)
		if n == nil {
			return nil, fmt.Errorf("%s: the policy: key is gone or the file is not valid YAML; fix the config file", src.configPath)
		}
		src.node = n
	}
	if src.File != "" {
		b, err := os.ReadFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("reading policy file: %w (fix the path in the config's policy: key)", err)
		}
		src.Body = b
	}
	return compileSource(src, opts)
}

// Compile compiles a policy document given as YAML bytes; name is used in error messages.
func Compile(name string, body []byte, opts Options) (*Policy, error) {
	return compileSource(&Source{Name: name, Body: body}, opts)
}

func compileSource(src *Source, opts Options) (*Policy, error) {
	var node *yaml.Node
	sum := sha256.New()
	if src.node != nil {
		node = src.node
		b, _ := yaml.Marshal(node)
		sum.Write(b)
	} else {
		sum.Write(src.Body)
		var doc yaml.Node
		if err := yaml.Unmarshal(src.Body, &doc); err != nil {
			return nil, Errors{yamlErr(src.Name, err)}
		}
		if len(doc.Content) == 0 {
			return nil, Errors{{File: src.Name, Msg: "the policy is empty: write at least `default: allow` or a rules: list"}}
		}
		node = doc.Content[0]
	}
	p := &parser{file: src.Name}
	doc := p.document(node)
	if src.Mode != "" {
		doc.Mode = src.Mode
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	if doc.Extends == "default" {
		// The default's rules are compiled once, with this policy's: parsed here, not compiled twice.
		def, err := defaultRules()
		if err != nil {
			return nil, fmt.Errorf("shipped default policy: %w", err)
		}
		doc.Rules = append(doc.Rules, def...)
	}
	pol, errs := compile(doc, opts)
	if len(errs) > 0 {
		return nil, errs
	}
	pol.Version = hex.EncodeToString(sum.Sum(nil))[:12]
	pol.Source = src.Name
	return pol, nil
}

// defaultRules parses the shipped default policy's rules; the policy that extends it compiles them with
// its own (errors in them name the "default policy").
func defaultRules() ([]*ruleSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(defaultYAML, &doc); err != nil {
		return nil, Errors{yamlErr("default policy", err)}
	}
	p := &parser{file: "default policy"}
	d := p.document(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return d.Rules, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlErr(file string, err error) *Error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: n, Msg: m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// document is a parsed, not yet compiled policy.
type document struct {
	Mode     Mode
	Default  Effect
	Extends  string
	External *External
	Rules    []*ruleSpec
}

// ruleSpec is one rule as written.
type ruleSpec struct {
	file, id    string
	line        int
	Description string
	Effect      Effect
	Message     string

	Users, Groups, Auth, Clients, Servers, Methods []string
	Tools, Prompts, Resources, Labels, Findings    []string
	Annotations                                    map[string]bool
	When                                           string
	whenLine                                       int
	Redact                                         []string
	LimitCount                                     int
	LimitPer                                       time.Duration
	LimitBy                                        []string
}

type parser struct {
	file string
	errs Errors
}

func (p *parser) errorf(n *yaml.Node, rule, format string, a ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Rule: rule, Msg: fmt.Sprintf(format, a...)})
}

func (p *parser) document(n *yaml.Node) *document {
	d := &document{Mode: Enforce, Default: Allow}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "", "the policy must be a mapping with keys mode, default, extends, external and rules")
		return d
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, "", "key %q is given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "mode":
			d.Mode = Mode(p.str(v, ""))
			if d.Mode != Enforce && d.Mode != Monitor {
				p.errorf(v, "", "mode %q is not valid: use enforce or monitor", v.Value)
			}
		case "default":
			d.Default = Effect(p.str(v, ""))
			if d.Default != Allow && d.Default != Deny && d.Default != Ask {
				p.errorf(v, "", "default %q is not valid: use allow, deny or ask", v.Value)
			}
		case "extends":
			d.Extends = p.str(v, "")
			if d.Extends != "default" && d.Extends != "" {
				p.errorf(v, "", "extends %q is not valid: the only policy that can be extended is \"default\" (the shipped one)", v.Value)
			}
		case "external":
			d.External = p.external(v)
		case "rules":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "", "rules must be a list")
				continue
			}
			for j, rn := range v.Content {
				d.Rules = append(d.Rules, p.rule(rn, j))
			}
		default:
			p.errorf(k, "", "unknown key %q (known: mode, default, extends, external, rules)", k.Value)
		}
	}
	if !seen["rules"] && !seen["default"] && d.Extends == "" {
		// A policy that only sets the mode means: the shipped default, in that mode.
		d.Extends = "default"
	}
	ids := map[string]int{}
	for _, r := range d.Rules {
		if prev, dup := ids[r.id]; dup {
			p.errs = append(p.errs, &Error{File: p.file, Line: r.line, Rule: r.id, Msg: fmt.Sprintf("id is already used by the rule at line %d; rule ids must be unique", prev)})
		}
		ids[r.id] = r.line
	}
	return d
}

func (p *parser) str(n *yaml.Node, rule string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, rule, "expected a string")
		return ""
	}
	return n.Value
}

func (p *parser) list(n *yaml.Node, rule string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, rule, "expected a string or a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, p.str(c, rule))
	}
	return out
}

var ruleKeys = "id, description, effect, message, users, groups, auth, clients, servers, methods, tools, prompts, resources, annotations, labels, findings, when, redact, limit"

func (p *parser) rule(n *yaml.Node, idx int) *ruleSpec {
	r := &ruleSpec{file: p.file, line: n.Line, id: "#" + strconv.Itoa(idx+1)}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "", "rule %d must be a mapping (keys: %s)", idx+1, ruleKeys)
		return r
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "id" {
			r.id = p.str(n.Content[i+1], "")
		}
	}
	seen := map[string]bool{}
	var limitNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, r.id, "key %q is given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "id":
		case "description":
			r.Description = p.str(v, r.id)
		case "effect":
			r.Effect = Effect(p.str(v, r.id))
			switch r.Effect {
			case Allow, Deny, Ask, Redact, Limit:
			default:
				p.errorf(v, r.id, "effect %q is not valid: use allow, deny, ask, redact or limit", v.Value)
			}
		case "message":
			r.Message = p.str(v, r.id)
		case "users":
			r.Users = p.list(v, r.id)
		case "groups":
			r.Groups = p.list(v, r.id)
		case "auth":
			r.Auth = p.list(v, r.id)
		case "clients":
			r.Clients = p.list(v, r.id)
		case "servers":
			r.Servers = p.list(v, r.id)
		case "methods":
			r.Methods = p.list(v, r.id)
		case "tools":
			r.Tools = p.list(v, r.id)
		case "prompts":
			r.Prompts = p.list(v, r.id)
		case "resources":
			r.Resources = p.list(v, r.id)
		case "labels":
			r.Labels = p.list(v, r.id)
		case "findings":
			r.Findings = p.list(v, r.id)
		case "annotations":
			if v.Kind != yaml.MappingNode {
				p.errorf(v, r.id, "annotations must be a mapping of hint names to true/false, e.g. {readOnlyHint: true}")
				continue
			}
			r.Annotations = map[string]bool{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				b, err := strconv.ParseBool(v.Content[j+1].Value)
				if err != nil || v.Content[j+1].Kind != yaml.ScalarNode {
					p.errorf(v.Content[j+1], r.id, "annotations.%s must be true or false", v.Content[j].Value)
				}
				r.Annotations[v.Content[j].Value] = b
			}
		case "when":
			r.When, r.whenLine = p.str(v, r.id), v.Line
		case "redact":
			r.Redact = p.list(v, r.id)
		case "limit":
			limitNode = v
			p.limit(v, r)
		default:
			p.errorf(k, r.id, "unknown key %q (known: %s)", k.Value, ruleKeys)
		}
	}
	switch {
	case !seen["effect"]:
		p.errorf(n, r.id, "effect is required (allow, deny, ask, redact or limit)")
	case r.Effect == Redact && len(r.Redact) == 0:
		p.errorf(n, r.id, "effect redact needs redact: a list of regular expressions to remove from results")
	case r.Effect != Redact && len(r.Redact) > 0:
		p.errorf(n, r.id, "redact: is only valid with effect: redact")
	case r.Effect == Limit && limitNode == nil:
		p.errorf(n, r.id, "effect limit needs limit: {count: N, per: DURATION}")
	case r.Effect != Limit && limitNode != nil:
		p.errorf(limitNode, r.id, "limit: is only valid with effect: limit")
	}
	return r
}

func (p *parser) limit(n *yaml.Node, r *ruleSpec) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, r.id, "limit must be a mapping {count: N, per: DURATION, by: [principal, server, tool]}")
		return
	}
	r.LimitBy = []string{"principal", "server", "tool"}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "count":
			c, err := strconv.Atoi(v.Value)
			if err != nil || c < 1 {
				p.errorf(v, r.id, "limit.count must be a whole number ≥ 1")
			}
			r.LimitCount = c
		case "per":
			d, err := time.ParseDuration(v.Value)
			if err != nil || d <= 0 {
				p.errorf(v, r.id, "limit.per %q is not a positive duration such as 1m, 1h or 24h", v.Value)
			}
			r.LimitPer = d
		case "by":
			r.LimitBy = p.list(v, r.id)
			for _, b := range r.LimitBy {
				if b != "principal" && b != "server" && b != "tool" && b != "session" {
					p.errorf(v, r.id, "limit.by %q is not valid: use principal, server, tool or session", b)
				}
			}
		default:
			p.errorf(k, r.id, "unknown key limit.%s (known: count, per, by)", k.Value)
		}
	}
	if r.LimitCount == 0 || r.LimitPer == 0 {
		p.errorf(n, r.id, "limit needs both count and per, e.g. {count: 100, per: 1h}")
	}
}

// External configures an external decision point consulted for calls after the rules (see docs/policy.md).
type External struct {
	// Kind is "opa" (OPA's REST data API: POST {"input": …}, answer {"result": …}) or "webhook" (POST
	// {"input": …}, answer {"effect", "message", "rule"}).
	Kind string
	// URL is the endpoint, e.g. http://127.0.0.1:8181/v1/data/mcpwarden/decision.
	URL string
	// Timeout bounds one consultation (default 1s).
	Timeout time.Duration
	// OnError is the effect when the decision point fails or times out (default deny: fail closed).
	OnError Effect
	// Headers are added to each request (e.g. an Authorization token).
	Headers map[string]string
}

func (p *parser) external(n *yaml.Node) *External {
	e := &External{Kind: "opa", Timeout: time.Second, OnError: Deny}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "", "external must be a mapping {kind: opa|webhook, url: URL, timeout: 1s, on_error: deny}")
		return e
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "kind":
			e.Kind = p.str(v, "")
			if e.Kind != "opa" && e.Kind != "webhook" {
				p.errorf(v, "", "external.kind %q is not valid: use opa or webhook", v.Value)
			}
		case "url":
			e.URL = p.str(v, "")
			if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.errorf(v, "", "external.url %q is not an http(s) URL", v.Value)
			}
		case "timeout":
			d, err := time.ParseDuration(v.Value)
			if err != nil || d <= 0 {
				p.errorf(v, "", "external.timeout %q is not a positive duration such as 500ms or 2s", v.Value)
			}
			e.Timeout = d
		case "on_error":
			e.OnError = Effect(p.str(v, ""))
			if e.OnError != Allow && e.OnError != Deny && e.OnError != Ask {
				p.errorf(v, "", "external.on_error %q is not valid: use deny (fail closed, the default), ask or allow", v.Value)
			}
		case "headers":
			if v.Kind != yaml.MappingNode {
				p.errorf(v, "", "external.headers must be a mapping of header names to values")
				continue
			}
			e.Headers = map[string]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				e.Headers[v.Content[j].Value] = os.ExpandEnv(v.Content[j+1].Value)
			}
		default:
			p.errorf(k, "", "unknown key external.%s (known: kind, url, timeout, on_error, headers)", k.Value)
		}
	}
	if e.URL == "" {
		p.errorf(n, "", "external needs url:")
	}
	return e
}
