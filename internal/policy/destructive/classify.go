// Package destructive classifies a tools/call as destructive, writing or
// read-only for the policy stage (④). It is pure: no I/O, no clock, no
// globals that change; the same input always gives the same Facts.
//
// Classify reads the tool's name (verbs such as delete, drop, force), its MCP
// annotations (recorded raw, and as effective values that honour hints only
// from trusted servers), and its arguments: every string at any depth,
// including JSON encoded inside strings, is given a role (sql, shell, path,
// url, method) from configuration overrides, the input schema (property names,
// descriptions, formats), the tool's own name, or the value itself, and then
// read by the matching classifier:
//
//   - SQL: a dialect-aware tokenizer (Postgres and MySQL readings, merged when
//     they disagree) and statement splitter; per statement a kind and flags
//     such as drop, delete_without_where, write_in_cte, copy_program.
//   - Shell: parsed with mvdan.cc/sh/v3/syntax; every command in the AST is
//     examined after unwrapping sudo/env/xargs/find -exec/bash -c/eval and
//     decoding of quoting tricks; findings have a kind, a category and the
//     offending text.
//   - Paths: normalised, checked against configured roots and sensitive
//     locations, with the operation (write/delete) taken from the tool verb or
//     the shell command.
//   - URLs: host classified loopback/private/external (IP literal tricks
//     included), HTTP method from a method argument or curl -X.
//
// The result, Facts, is built from plain fields, string lists and nested
// structs so the policy engine can expose it to CEL via Facts.AsMap. Classify
// never panics on any input and never returns an error: what cannot be read
// is reported as parse_error or incomplete facts, which policy treats as
// risky. See docs/destructive.md for what is and is not inspected.
package destructive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Role is what an argument holds.
type Role string

// Argument roles.
const (
	RoleNone   Role = "none" // never inspect (not even by value)
	RoleSQL    Role = "sql"
	RoleShell  Role = "shell"
	RolePath   Role = "path"
	RoleURL    Role = "url"
	RoleMethod Role = "method" // HTTP method
)

// ToolInfo describes the tool being called, as listed by its server.
type ToolInfo struct {
	Name        string
	Description string
	// InputSchema is the tool's inputSchema (JSON Schema), raw.
	InputSchema json.RawMessage
	// Schema is InputSchema already decoded (read only; it is shared), when the caller keeps it; nil:
	// Classify decodes InputSchema itself.
	Schema map[string]any
	// Annotations is the tool's annotations object, raw.
	Annotations json.RawMessage
	// Trusted is set when the server is trusted, so its annotations may lower
	// the risk assessment (MCP: annotations are untrusted hints otherwise).
	Trusted bool
}

// Options configure classification. The zero value is usable.
type Options struct {
	// ToolRoles overrides argument roles per tool: tool name ("*" for every
	// tool) → argument path → role. Paths are dotted with array indexes, as in
	// ArgFacts.Roles ("filter.where", "items[0].cmd"); "[]" matches any index
	// ("items[].cmd"). An override applies to the value and everything below
	// it; RoleNone switches inspection off there.
	ToolRoles map[string]map[string]Role
	// Roots are the directories the tool may touch; paths outside them are
	// flagged. Empty means no root check.
	Roots []string
	// Home replaces a leading "~" in paths; when empty "~" is kept as a marker.
	Home string
	// WorkDir resolves relative paths; when empty the first root is used, and
	// with no roots relative paths stay relative.
	WorkDir string
	// SQLDialect is "postgres", "mysql", or "" to read SQL under both and
	// merge the findings (safest when the server is unknown).
	SQLDialect string
	// InternalDomains are DNS suffixes treated as private (e.g. "corp.example").
	InternalDomains []string
}

func (o *Options) dialects() []sqlDialect {
	switch strings.ToLower(o.SQLDialect) {
	case "postgres", "postgresql", "pg":
		return []sqlDialect{dialectPostgres}
	case "mysql", "mariadb":
		return []sqlDialect{dialectMySQL}
	}
	return []sqlDialect{dialectPostgres, dialectMySQL}
}

// Limits on the work done for one call; past them Facts.Incomplete is set.
const (
	maxStrings    = 10000
	maxJSONDepth  = 64
	maxJSONNested = 4       // JSON inside a string inside JSON …
	maxTextBytes  = 1 << 20 // longer texts are inspected up to this size
)

// Classify classifies one tools/call. args is the call's "arguments" value
// (an object; null or empty means no arguments). It is safe for concurrent
// use. Reasons and findings quote argument text: treat them like the
// arguments themselves when redacting for logs and audit.
func Classify(tool ToolInfo, args json.RawMessage, opts Options) Facts {
	c := &classifier{
		tool:      tool,
		opts:      &opts,
		roles:     map[string]string{},
		roleSrcs:  map[string]string{},
		shell:     newShellAcc(&opts),
		overrides: mergeOverrides(opts.ToolRoles, tool.Name),
	}
	c.facts.Tool = classifyToolName(tool.Name)
	c.facts.Annotations = classifyAnnotations(tool.Annotations, tool.Trusted)
	c.toolCtx = toolContext(tool, c.facts.Tool.Words)
	c.toolCLI = toolCLI(c.facts.Tool.Words)
	c.schemaRoot = tool.Schema
	if c.schemaRoot == nil {
		c.schemaRoot = parseSchema(tool.InputSchema)
	}

	c.facts.Args.Valid = true
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		root, err := parseJSON(trimmed)
		if err != nil || root.kind != 'o' {
			c.facts.Args.Valid = false
			c.incomplete = true
		}
		if root != nil {
			c.visit(root, "", "", c.schemaRoot, true, 0, "")
		}
	}
	c.finish()
	return c.facts
}

type classifier struct {
	tool       ToolInfo
	opts       *Options
	facts      Facts
	toolCtx    Role
	schemaRoot map[string]any
	overrides  map[string]Role

	roles, roleSrcs map[string]string
	sqlRefs         []textRef
	pathRefs        []pathRef
	urlRefs         []urlRef
	methods         []string
	shell           *shellAcc
	sniffedShell    []textRef // shell texts found by value only (kept when they have findings)
	strings         int
	incomplete      bool
	toolCLI         string          // the command-line tool this tool wraps (kubectl, git, redis-cli), or ""
	argFlags        map[string]bool // ArgFacts.Flags
	argReasons      []string
	nosql           []SQLStatement // MongoDB operations found in strings and command documents
}

func mergeOverrides(all map[string]map[string]Role, tool string) map[string]Role {
	out := map[string]Role{}
	for k, v := range all["*"] {
		out[k] = v
	}
	for k, v := range all[tool] {
		out[k] = v
	}
	return out
}

// jnode is a parsed JSON value that keeps object member order and duplicate
// keys (a server may read either duplicate, so both are inspected).
type jnode struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	str  string
	keys []string
	vals []*jnode
}

func parseJSON(b []byte) (*jnode, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	n, err := readJSON(d, 0)
	if err != nil {
		return n, err
	}
	if _, err := d.Token(); err != io.EOF {
		return n, fmt.Errorf("trailing data after JSON value")
	}
	return n, nil
}

func readJSON(d *json.Decoder, depth int) (*jnode, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch v := t.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &jnode{kind: 'o'}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return n, err
				}
				k, _ := kt.(string)
				child, err := readJSON(d, depth+1)
				if child != nil {
					n.keys = append(n.keys, k)
					n.vals = append(n.vals, child)
				}
				if err != nil {
					return n, err
				}
			}
			_, err := d.Token()
			return n, err
		case '[':
			n := &jnode{kind: 'a'}
			for d.More() {
				child, err := readJSON(d, depth+1)
				if child != nil {
					n.vals = append(n.vals, child)
				}
				if err != nil {
					return n, err
				}
			}
			_, err := d.Token()
			return n, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		return &jnode{kind: 's', str: v}, nil
	case json.Number:
		return &jnode{kind: 'n', str: v.String()}, nil
	case bool:
		return &jnode{kind: 'b', str: strconv.FormatBool(v)}, nil
	default:
		return &jnode{kind: 'z'}, nil
	}
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// genericPath replaces array indexes with [] for override matching.
func genericPath(p string) string {
	var b strings.Builder
	skip := false
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '[':
			b.WriteString("[]")
			skip = true
		case p[i] == ']':
			skip = false
		case !skip:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

func (c *classifier) override(p string) (Role, bool) {
	if len(c.overrides) == 0 {
		return "", false
	}
	if r, ok := c.overrides[p]; ok {
		return r, true
	}
	r, ok := c.overrides[genericPath(p)]
	return r, ok
}

// visit walks a JSON value. key is the nearest object key; schema is the
// value's schema (nil when the schema is silent); inherited is a role forced
// by an override on an ancestor.
func (c *classifier) visit(n *jnode, p, key string, schema map[string]any, schemaKnown bool, nested int, inherited Role) {
	if r, ok := c.override(p); ok && p != "" {
		inherited = r
	}
	if inherited == RoleNone {
		return
	}
	switch n.kind {
	case 'o':
		argsIdx := -1
		for i, k := range n.keys {
			lk := strings.ToLower(k)
			if (lk == "args" || lk == "argv" || lk == "arguments") && n.vals[i].kind == 'a' {
				argsIdx = i
			}
		}
		consumed := false
		for i, k := range n.keys {
			c.inspectOption(joinPath(p, k), k, n.vals[i], n)
		}
		for i, k := range n.keys {
			child := n.vals[i]
			cp := joinPath(p, k)
			cs := schemaProp(c.schemaRoot, schema, k)
			if i == argsIdx && consumed {
				continue
			}
			if child.kind == 's' && argsIdx >= 0 && !consumed {
				role, src := c.roleFor(cp, k, cs, schemaKnown && cs != nil, child.str, inherited)
				if role == RoleShell {
					argv := []string{}
					for _, a := range n.vals[argsIdx].vals {
						if a.kind == 's' || a.kind == 'n' {
							argv = append(argv, a.str)
						}
					}
					c.setRole(cp, role, src)
					c.strings++
					c.addShellArgv(child.str, argv, cp)
					consumed = true
					continue
				}
			}
			c.visit(child, cp, k, cs, schemaKnown && cs != nil, nested, inherited)
		}
		// A tool that wraps one CLI (kubectl, git, redis) given only its
		// arguments: {"args": ["delete", "ns", "prod"]}.
		if argsIdx >= 0 && !consumed && c.toolCLI != "" && allStrings(n.vals[argsIdx]) {
			argv := []string{}
			for _, a := range n.vals[argsIdx].vals {
				argv = append(argv, a.str)
			}
			src := joinPath(p, n.keys[argsIdx])
			c.setRole(src, RoleShell, "tool")
			c.addShellArgv(c.toolCLI, argv, src)
			// git_push {"args": ["--force"]}: the subcommand is in the tool's name.
			if sub := c.toolSubcommand(); len(sub) > 0 && len(argv) > 0 && strings.HasPrefix(argv[0], "-") {
				c.addShellArgv(c.toolCLI, append(sub, argv...), src)
			}
		}
	case 'a':
		items := schemaItems(c.schemaRoot, schema)
		// An array of strings under a shell-role key is an argv.
		if allStrings(n) && len(n.vals) > 0 {
			role, src := c.roleFor(p, key, schema, schemaKnown, "", inherited)
			if role == RoleShell {
				argv := make([]string, len(n.vals))
				for i, v := range n.vals {
					argv[i] = v.str
				}
				c.setRole(p, role, src)
				c.strings += len(argv)
				c.shell.analyzeArgvText(argv, p)
				return
			}
		}
		for i, child := range n.vals {
			c.visit(child, p+"["+strconv.Itoa(i)+"]", key, items, schemaKnown && items != nil || schemaKnown && schema != nil && child.kind != 'o', nested, inherited)
		}
	case 's':
		c.visitString(n.str, p, key, schema, schemaKnown, nested, inherited)
	}
}

func allStrings(n *jnode) bool {
	for _, v := range n.vals {
		if v.kind != 's' {
			return false
		}
	}
	return true
}

func (c *classifier) setRole(p string, r Role, src string) {
	if p == "" {
		p = "$"
	}
	c.roles[p] = string(r)
	c.roleSrcs[p] = src
}

func (c *classifier) visitString(s, p, key string, schema map[string]any, schemaKnown bool, nested int, inherited Role) {
	c.strings++
	if c.strings > maxStrings {
		c.incomplete = true
		return
	}
	if len(s) > maxTextBytes {
		c.incomplete = true
		s = s[:maxTextBytes]
	}
	// JSON inside a string: inspect it too (schema is silent there).
	if t := strings.TrimSpace(s); len(t) > 1 && (t[0] == '{' || t[0] == '[') && nested < maxJSONNested && inherited == "" {
		if root, err := parseJSON([]byte(t)); err == nil && (root.kind == 'o' || root.kind == 'a') {
			c.visit(root, p+".~json", key, nil, false, nested+1, "")
			return
		}
	}
	role, src := c.roleFor(p, key, schema, schemaKnown, s, inherited)
	if role == "" {
		return
	}
	if src == "value" && role == RoleShell {
		c.sniffedShell = append(c.sniffedShell, textRef{text: s, source: p})
		return
	}
	c.setRole(p, role, src)
	switch role {
	case RoleSQL:
		c.sqlRefs = append(c.sqlRefs, textRef{text: s, source: p})
	case RoleShell:
		c.shell.analyzeShell(s, p, 0)
		// A CLI wrapper's command given without the program name:
		// kubectl tool, {"command": "delete ns prod"}.
		if c.toolCLI != "" {
			if f := strings.Fields(s); len(f) > 0 && cmdName(f[0]) != c.toolCLI && !strings.HasPrefix(cmdName(f[0]), c.toolCLI) {
				c.shell.analyzeShell(c.toolCLI+" "+s, p, 0)
			}
		}
	case RolePath:
		if s != "" {
			c.pathRefs = append(c.pathRefs, pathRef{raw: s, source: p})
		}
	case RoleURL:
		if s != "" {
			c.urlRefs = append(c.urlRefs, urlRef{raw: s, source: p})
		}
	case RoleMethod:
		c.methods = append(c.methods, strings.ToUpper(strings.TrimSpace(s)))
	}
}

func (c *classifier) addShellArgv(cmd string, args []string, source string) {
	var b strings.Builder
	b.WriteString(cmd)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	c.shell.analyzeShell(b.String(), source, 0)
}

var (
	sqlNameWords    = map[string]bool{"sql": true, "statement": true, "stmt": true, "statements": true, "sqlquery": true}
	shellNameWords  = map[string]bool{"command": true, "cmd": true, "commandline": true, "cmdline": true, "script": true, "shell": true, "bash": true, "commands": true, "argv": true, "program": true, "executable": true, "exe": true}
	pathNameWords   = map[string]bool{"path": true, "file": true, "filename": true, "filepath": true, "dir": true, "directory": true, "folder": true, "dirname": true, "pathname": true, "paths": true, "files": true, "dest": true, "destination": true, "cwd": true, "workdir": true, "dirpath": true, "directories": true}
	weakPathWords   = map[string]bool{"src": true, "source": true, "target": true, "from": true, "to": true, "location": true, "root": true, "output": true, "input": true}
	urlNameWords    = map[string]bool{"url": true, "uri": true, "urls": true, "uris": true, "endpoint": true, "href": true, "link": true, "webhook": true, "baseurl": true, "callback": true}
	methodNameWords = map[string]bool{"method": true, "verb": true}
	genericTextKeys = map[string]bool{"input": true, "text": true, "query": true, "q": true, "code": true, "body": true, "statement": true, "command": true, "cmd": true, "line": true, "script": true, "sql": true, "expression": true}
)

// roleFor decides the role of the value at p. value is "" for arrays.
func (c *classifier) roleFor(p, key string, schema map[string]any, schemaKnown bool, value string, inherited Role) (Role, string) {
	if inherited != "" {
		return inherited, "override"
	}
	if r, ok := c.override(p); ok {
		return r, "override"
	}
	words := splitName(key)
	last := ""
	if len(words) > 0 {
		last = words[len(words)-1]
	}
	if schema != nil {
		if f, _ := schema["format"].(string); f != "" {
			switch strings.ToLower(f) {
			case "uri", "url", "iri", "uri-reference", "iri-reference":
				return RoleURL, "format"
			}
		}
	}
	switch {
	case slices.Contains(words, "sql") || sqlNameWords[last]:
		return RoleSQL, "name"
	case shellNameWords[last]:
		return RoleShell, "name"
	case urlNameWords[last]:
		return RoleURL, "name"
	case pathNameWords[last]:
		return RolePath, "name"
	case methodNameWords[last] && httpMethods[strings.ToUpper(strings.TrimSpace(value))]:
		return RoleMethod, "name"
	case weakPathWords[last] && value != "" && looksLikePath(value):
		return RolePath, "name"
	}
	if schema != nil {
		if d, _ := schema["description"].(string); d != "" {
			dw := splitName(d)
			has := func(w string) bool { return slices.Contains(dw, w) }
			switch {
			case has("sql"):
				return RoleSQL, "description"
			case has("shell") || has("bash") || has("command") && (has("run") || has("execute") || has("executed")):
				return RoleShell, "description"
			case has("url") || has("uri") || has("endpoint"):
				return RoleURL, "description"
			case has("path") || has("directory") || has("folder"):
				return RolePath, "description"
			}
		}
	}
	if c.toolCtx != "" && genericTextKeys[strings.ToLower(key)] && !strings.Contains(p, "[") {
		return c.toolCtx, "tool"
	}
	if value == "" {
		return "", ""
	}
	// The query of a search tool is text to look for, not code to run:
	// search_code {"q": "rm -rf"}.
	if searchVerbs[c.facts.Tool.Verb] && len(c.facts.Tool.DestructiveVerbs) == 0 && len(c.facts.Tool.WriteVerbs) == 0 && searchKeys[strings.ToLower(last)] {
		return "", ""
	}
	switch {
	case looksLikeMongo(value):
		return RoleSQL, "value"
	case looksLikeURL(value) && !schemaKnown:
		return RoleURL, "value"
	case looksLikeSQL(value):
		return RoleSQL, "value"
	case looksLikeShell(value):
		return RoleShell, "value"
	case !schemaKnown && looksLikePath(value):
		return RolePath, "value"
	}
	return "", ""
}

var (
	searchVerbs = map[string]bool{"search": true, "grep": true}
	searchKeys  = map[string]bool{"q": true, "query": true, "search": true, "term": true, "terms": true, "keyword": true,
		"keywords": true, "pattern": true, "regex": true, "text": true, "phrase": true, "question": true, "prompt": true}
)

// cliTools are command-line programs that MCP servers wrap one-to-one; a tool
// named after one (kubectl, run_kubectl, git_command, redis) gets its
// arguments read as that program's argv.
var cliTools = map[string]string{
	"kubectl": "kubectl", "oc": "oc", "helm": "helm", "git": "git", "gh": "gh", "docker": "docker",
	"podman": "podman", "terraform": "terraform", "tofu": "tofu", "pulumi": "pulumi", "aws": "aws",
	"gcloud": "gcloud", "gsutil": "gsutil", "az": "az", "redis": "redis-cli", "psql": "psql",
	"mysql": "mysql", "sqlite3": "sqlite3", "npm": "npm", "systemctl": "systemctl", "heroku": "heroku",
	"vercel": "vercel", "flyctl": "flyctl", "doctl": "doctl", "rclone": "rclone", "s3cmd": "s3cmd",
	"mongosh": "mongosh", "glab": "glab", "apt": "apt", "brew": "brew", "pip": "pip",
}

// toolSubcommand returns the words of the tool's name after the CLI's name
// (git_push → [push]).
func (c *classifier) toolSubcommand() []string {
	words := c.facts.Tool.Words
	for i, w := range words {
		if cliTools[w] == c.toolCLI {
			return slices.Clone(words[i+1:])
		}
	}
	return nil
}

func toolCLI(words []string) string {
	for _, w := range words {
		if c, ok := cliTools[w]; ok {
			return c
		}
	}
	return ""
}

// looksLikeMongo reports whether s calls a destructive MongoDB operation
// (db.users.deleteMany({}), db.dropDatabase()).
func looksLikeMongo(s string) bool {
	return len(s) < 1<<16 && strings.ContainsAny(s, "(:") && len(mongoOps(s)) > 0
}

// forceWords in an option's name ask for a destructive variant of the call
// when the option is true: {"force": true}, {"cascade": true}.
var forceWords = map[string]bool{
	"force": true, "forced": true, "overwrite": true, "purge": true, "cascade": true, "prune": true,
	"wipe": true, "destroy": true, "truncate": true, "bypass": true, "nuke": true, "erase": true,
	"hard": true, "mirror": true, "recreate": true, "replace": true,
}

// deleteOptionWords are verbs that, on a true option, delete what the
// other word names: delete_branch, remove_files, drop_tables.
var (
	deleteOptionVerbs   = map[string]bool{"delete": true, "remove": true, "drop": true, "clear": true, "wipe": true, "destroy": true, "purge": true}
	deleteOptionObjects = map[string]bool{"all": true, "data": true, "branch": true, "branches": true, "files": true, "file": true,
		"tables": true, "table": true, "database": true, "db": true, "volumes": true, "volume": true, "repo": true,
		"repository": true, "history": true, "existing": true, "records": true, "rows": true, "everything": true,
		"source": true, "old": true, "backups": true, "snapshots": true, "users": true, "resources": true,
		"dependents": true, "children": true, "objects": true, "keys": true, "contents": true, "disks": true}
	actionKeys = map[string]bool{"action": true, "actions": true, "operation": true, "op": true, "subcommand": true,
		"mode": true, "method": true, "task": true, "intent": true, "verb": true, "function": true, "fn": true, "procedure": true}
)

// inspectOption looks at one member of an object for what the arguments
// themselves ask: a destructive option set to true, an action whose value is
// a destructive verb, a resource made public, or a MongoDB command document.
func (c *classifier) inspectOption(p, key string, v *jnode, parent *jnode) {
	var words []string
	switch v.kind {
	case 'b':
		words = splitName(key)
	case 's':
		// Only a few keys matter for strings; avoid splitting every key.
		if key == "$out" || key == "drop" || key == "delete" || containsFoldAny(key, "visibility") || actionKeySuffix(key) {
			words = splitName(key)
		}
	}
	switch v.kind {
	case 'b':
		if c.facts.Tool.Read {
			return
		}
		on := v.str == "true"
		force := false
		if on {
			for _, w := range words {
				if forceWords[w] && (w != "hard" || c.facts.Tool.Verb == "reset") && (w != "replace" || len(words) > 1) {
					force = true
				}
			}
			if len(words) >= 2 && deleteOptionVerbs[words[0]] {
				for _, w := range words[1:] {
					if deleteOptionObjects[w] {
						force = true
					}
				}
			}
		}
		if force {
			c.argFlag("force_option", fmt.Sprintf("argument %s=true asks for a destructive variant", p))
		}
		last := ""
		if len(words) > 0 {
			last = words[len(words)-1]
		}
		if (last == "private" && !on || last == "public" && on) && !c.createsResource() {
			c.argFlag("make_public", fmt.Sprintf("argument %s=%s makes a resource public", p, v.str))
		}
	case 's':
		val := strings.TrimSpace(v.str)
		// "force": "true" — a boolean sent as text.
		if strings.EqualFold(val, "true") || strings.EqualFold(val, "yes") {
			c.inspectOption(p, key, &jnode{kind: 'b', str: "true"}, parent)
		}
		last := ""
		if len(words) > 0 {
			last = words[len(words)-1]
		}
		if actionKeys[last] && len(val) > 0 && len(val) <= 64 && !strings.ContainsAny(val, "/\\\n") {
			if vw := splitName(val); len(vw) <= 4 && classifyToolName(val).Destructive {
				c.argFlag("destructive_action", fmt.Sprintf("argument %s=%q names a destructive action", p, shorten(val, 64)))
			}
		}
		if slices.Contains(words, "visibility") && strings.EqualFold(val, "public") && !c.createsResource() {
			c.argFlag("make_public", fmt.Sprintf("argument %s=%q makes a resource public", p, val))
		}
		if key == "$out" {
			c.addNoSQL(p, "drop", "$out replaces collection "+shorten(val, 64))
		}
		if (key == "drop" || key == "delete") && parent != nil && len(parent.keys) > 0 && parent.keys[0] == key && parent.keys[0] != "" && mongoCommandDoc(parent) {
			c.addNoSQL(p, key, key+" "+shorten(val, 64))
		}
	case 'n', 'o':
		if key == "dropDatabase" || key == "dropAllUsersFromDatabase" || key == "dropAllRolesFromDatabase" {
			c.addNoSQL(p, "drop", key)
		}
		if key == "$out" && v.kind == 'o' {
			c.addNoSQL(p, "drop", "$out")
		}
	}
}

// actionKeySuffix reports whether key ends with one of actionKeys (any case).
func actionKeySuffix(key string) bool {
	for k := range actionKeys {
		if len(key) >= len(k) && strings.EqualFold(key[len(key)-len(k):], k) {
			return true
		}
	}
	return false
}

// mongoCommandDoc reports whether o looks like a MongoDB database command
// ({drop: "users"}, {delete: "users", deletes: [...]}).
func mongoCommandDoc(o *jnode) bool {
	if len(o.keys) == 1 {
		return true
	}
	for _, k := range o.keys[1:] {
		switch k {
		case "deletes", "writeConcern", "comment", "$db", "ordered", "let", "lsid", "maxTimeMS":
		default:
			return false
		}
	}
	return true
}

// createsResource reports whether the tool creates something new, where
// choosing public visibility exposes nothing that existed.
func (c *classifier) createsResource() bool {
	switch c.facts.Tool.Verb {
	case "create", "new", "fork", "add", "init", "generate", "make":
		return true
	}
	return false
}

func (c *classifier) argFlag(flag, reason string) {
	if c.argFlags == nil {
		c.argFlags = map[string]bool{}
	}
	c.argFlags[flag] = true
	if !slices.Contains(c.argReasons, reason) {
		c.argReasons = append(c.argReasons, reason)
	}
}

func (c *classifier) addNoSQL(p, op, text string) {
	kind, flag := SQLDDL, FlagDrop
	switch op {
	case "delete":
		kind, flag = SQLDelete, FlagDelete
	case "update_all":
		kind, flag = SQLUpdate, FlagUpdateWithoutWhere
	}
	c.nosql = append(c.nosql, SQLStatement{Kind: kind, Verb: op, Flags: []string{flag}, Write: true, Dialect: "mongodb", Source: p, Text: shorten(text, 200)})
}

// toolContext returns the role that generic arguments (input, text, query)
// of this tool hold, from the tool's name and description.
func toolContext(t ToolInfo, words []string) Role {
	has := func(ws ...string) bool {
		for _, w := range ws {
			if slices.Contains(words, w) {
				return true
			}
		}
		return false
	}
	desc := splitName(t.Description)
	switch {
	case has("sql", "psql", "mysql", "sqlite", "postgres", "postgresql", "mssql", "tsql", "clickhouse", "duckdb", "bigquery", "snowflake"),
		slices.Contains(desc, "sql"):
		return RoleSQL
	case has("shell", "bash", "terminal", "sh", "zsh", "powershell", "cmd") ||
		has("command") && has("run", "exec", "execute") || has("exec", "execute") && len(words) <= 2 && !has("query"):
		return RoleShell
	}
	return ""
}

// ParseSchema decodes a tool's inputSchema for ToolInfo.Schema (nil when it is absent or not an object).
func ParseSchema(raw json.RawMessage) map[string]any { return parseSchema(raw) }

func parseSchema(raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil
	}
	return m
}

// resolveRef follows a local "$ref" (#/$defs/X, #/definitions/X).
func resolveRef(root, s map[string]any) map[string]any {
	for i := 0; i < 8 && s != nil; i++ {
		ref, _ := s["$ref"].(string)
		if ref == "" || !strings.HasPrefix(ref, "#/") {
			return s
		}
		var cur any = root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[part]
		}
		s, _ = cur.(map[string]any)
	}
	return s
}

// schemaProp returns the schema of property key of an object schema.
func schemaProp(root, s map[string]any, key string) map[string]any {
	s = resolveRef(root, s)
	if s == nil {
		return nil
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if ps, ok := props[key].(map[string]any); ok {
			return resolveRef(root, ps)
		}
	}
	for _, comb := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := s[comb].([]any); ok {
			for _, e := range list {
				if em, ok := e.(map[string]any); ok {
					if r := schemaProp(root, em, key); r != nil {
						return r
					}
				}
			}
		}
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		return resolveRef(root, ap)
	}
	return nil
}

func schemaItems(root, s map[string]any) map[string]any {
	s = resolveRef(root, s)
	if s == nil {
		return nil
	}
	if it, ok := s["items"].(map[string]any); ok {
		return resolveRef(root, it)
	}
	if pi, ok := s["prefixItems"].([]any); ok && len(pi) > 0 {
		if m, ok := pi[0].(map[string]any); ok {
			return resolveRef(root, m)
		}
	}
	return nil
}

var annotationHints = []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}

func classifyAnnotations(raw json.RawMessage, trusted bool) AnnotationFacts {
	af := AnnotationFacts{Trusted: trusted, Hints: map[string]bool{}}
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 && json.Unmarshal(raw, &m) == nil && m != nil {
		af.Present = true
		for _, h := range annotationHints {
			var b bool
			if v, ok := m[h]; ok && json.Unmarshal(v, &b) == nil {
				af.Hints[h] = b
			}
		}
		if v, ok := m["title"]; ok {
			_ = json.Unmarshal(v, &af.Title)
		}
	}
	if !trusted {
		af.ReadOnly, af.Destructive, af.Idempotent, af.OpenWorld = false, true, false, true
		return af
	}
	hint := func(name string, def bool) bool {
		if v, ok := af.Hints[name]; ok {
			return v
		}
		return def
	}
	af.ReadOnly = hint("readOnlyHint", false)
	af.Destructive = !af.ReadOnly && hint("destructiveHint", true)
	af.Idempotent = hint("idempotentHint", false)
	af.OpenWorld = hint("openWorldHint", true)
	return af
}

// finish runs the classifiers over the collected references and aggregates.
func (c *classifier) finish() {
	f := &c.facts
	var reasons []string
	reason := func(format string, a ...any) {
		r := fmt.Sprintf(format, a...)
		if !slices.Contains(reasons, r) {
			reasons = append(reasons, r)
		}
	}
	reads, writes := 0, 0

	// Tool name and annotations. A trusted server's readOnlyHint is the operator's word and outranks the
	// guess from the tool's name; what the arguments hold (SQL, shell, paths) still counts below.
	trustedRead := f.Annotations.Trusted && f.Annotations.ReadOnly
	if f.Tool.Destructive && !trustedRead {
		reason("tool name has destructive verb %q", firstOr(f.Tool.DestructiveVerbs, f.Tool.Verb))
	}
	if f.Annotations.Hints["destructiveHint"] && !f.Annotations.Hints["readOnlyHint"] {
		reason("annotation destructiveHint=true")
	}
	if f.Annotations.Trusted && f.Annotations.ReadOnly {
		reads++
	}

	// Shell texts found by value only count when they hold a finding.
	for _, s := range c.sniffedShell {
		tmp := newShellAcc(c.opts)
		tmp.analyzeShell(s.text, s.source, 0)
		if len(tmp.findings) == 0 {
			continue
		}
		c.setRole(s.source, RoleShell, "value")
		c.shell.merge(tmp)
	}
	// SQL run by shell commands (psql -c …) joins the SQL facts.
	c.sqlRefs = append(c.sqlRefs, c.shell.sql...)

	for _, r := range c.argReasons {
		reason("%s", r)
	}
	if len(c.argReasons) > 0 {
		writes++
	}
	c.facts.Args.Flags = sortedKeys(c.argFlags)
	c.finishSQL(reason, &reads, &writes)
	c.finishShell(reason, &reads, &writes)
	// A generic executor verb (run_command, execute_sql) says nothing about
	// the effect when the SQL or shell it runs was classified.
	executor := executorVerbs[f.Tool.Verb] && (f.SQL.Present || f.Shell.Present)
	switch {
	case f.Tool.Read:
		reads++
	case (f.Tool.Destructive || f.Tool.Write && !executor) && !trustedRead:
		writes++
	}
	c.finishPaths(reason, &writes)
	c.finishHTTP(reason, &reads, &writes)

	f.Args.Roles = c.roles
	f.Args.RoleSources = c.roleSrcs
	f.Args.Strings = c.strings
	f.Incomplete = c.incomplete || c.shell.incomplete
	f.Destructive = len(reasons) > 0
	f.Reasons = reasons
	if f.Reasons == nil {
		f.Reasons = []string{}
	}
	f.ReadOnly = !f.Destructive && !f.Incomplete && reads > 0 && writes == 0
}

var executorVerbs = map[string]bool{"run": true, "exec": true, "execute": true, "call": true, "invoke": true, "eval": true, "shell": true, "bash": true}

func firstOr(l []string, def string) string {
	if len(l) > 0 {
		return l[0]
	}
	return def
}

func (c *classifier) finishSQL(reason func(string, ...any), reads, writes *int) {
	s := &c.facts.SQL
	s.Sources, s.Statements, s.Kinds, s.Flags, s.Functions = []string{}, []SQLStatement{}, []string{}, []string{}, []string{}
	// MongoDB operations in strings that hold SQL or were sniffed as such.
	for _, ref := range c.sqlRefs {
		for _, op := range mongoOps(ref.text) {
			c.addNoSQL(ref.source, op, ref.text)
		}
	}
	if len(c.sqlRefs) == 0 && len(c.nosql) == 0 {
		return
	}
	s.Present = true
	kinds, flags, funcs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	allRead := true
	s.ParseError = false
	for _, ref := range c.sqlRefs {
		if !slices.Contains(s.Sources, ref.source) {
			s.Sources = append(s.Sources, ref.source)
		}
		an := analyzeSQL(ref.text, c.opts.dialects())
		if an.parseError {
			s.ParseError = true
			allRead = false
		}
		if an.ambiguous {
			s.Ambiguous = true
		}
		for _, fn := range an.funcs {
			funcs[fn] = true
		}
		if len(an.statements) == 0 {
			allRead = false
		}
		for _, st := range an.statements {
			st.Source = ref.source
			s.Statements = append(s.Statements, st)
			kinds[st.Kind] = true
			if st.Write {
				s.Writes = true
			}
			if st.Write || (st.Kind != SQLSelect && st.Kind != SQLTransaction) {
				allRead = false
			}
			for _, fl := range st.Flags {
				flags[fl] = true
				if destructiveSQLFlags[fl] {
					reason("sql %s in %s: %s", fl, ref.source, st.Text)
				}
			}
		}
	}
	for _, st := range c.nosql {
		if !slices.Contains(s.Sources, st.Source) {
			s.Sources = append(s.Sources, st.Source)
		}
		s.Statements = append(s.Statements, st)
		kinds[st.Kind] = true
		s.Writes = true
		allRead = false
		for _, fl := range st.Flags {
			flags[fl] = true
			reason("mongodb %s in %s: %s", st.Verb, st.Source, st.Text)
		}
	}
	s.Kinds, s.Flags, s.Functions = sortedKeys(kinds), sortedKeys(flags), sortedKeys(funcs)
	s.StatementCount = len(s.Statements)
	if s.Ambiguous {
		// Statements of both readings are listed; count one reading.
		n := 0
		for _, st := range s.Statements {
			if st.Dialect == "postgres" || st.Dialect == "" {
				n++
			}
		}
		s.StatementCount = n
		for _, ref := range c.sqlRefs {
			for _, d := range c.opts.dialects() {
				an := analyzeSQL(ref.text, []sqlDialect{d})
				if len(an.statements) > 1 {
					s.MultiStatement = true
				}
			}
		}
	}
	if s.StatementCount > 1 {
		s.MultiStatement = true
	}
	s.Drop, s.Truncate, s.Delete = flags[FlagDrop], flags[FlagTruncate], flags[FlagDelete]
	s.DeleteWithoutWhere, s.UpdateWithoutWhere = flags[FlagDeleteWithoutWhere], flags[FlagUpdateWithoutWhere]
	s.WriteInCTE, s.SelectInto, s.CopyProgram = flags[FlagWriteInCTE], flags[FlagSelectInto], flags[FlagCopyProgram]
	s.DangerousFunction, s.DynamicSQL = flags[FlagDangerousFunction], flags[FlagDynamicSQL]
	s.ReadOnly = allRead && !s.Writes
	if s.ReadOnly {
		*reads++
	} else {
		*writes++
	}
}

func (acc *shellAcc) merge(o *shellAcc) {
	acc.findings = append(acc.findings, o.findings...)
	for k := range o.commands {
		acc.commands[k] = true
	}
	acc.reads += o.reads
	acc.nonReads += o.nonReads
	acc.parseError = acc.parseError || o.parseError
	acc.incomplete = acc.incomplete || o.incomplete
	acc.sql = append(acc.sql, o.sql...)
	acc.paths = append(acc.paths, o.paths...)
	acc.urls = append(acc.urls, o.urls...)
}

func (c *classifier) finishShell(reason func(string, ...any), reads, writes *int) {
	s := &c.facts.Shell
	acc := c.shell
	s.Sources, s.Commands, s.Findings, s.Kinds = []string{}, []string{}, []ShellFinding{}, []string{}
	for p, r := range c.roles {
		if r == string(RoleShell) {
			s.Sources = append(s.Sources, p)
		}
	}
	slices.Sort(s.Sources)
	if len(s.Sources) == 0 {
		return
	}
	s.Present = true
	s.ParseError = acc.parseError
	s.Commands = sortedKeys(acc.commands)
	kinds := map[string]bool{}
	for _, fd := range acc.findings {
		s.Findings = append(s.Findings, fd)
		kinds[fd.Kind] = true
		if fd.Destructive {
			reason("shell %s in %s: %s", fd.Kind, fd.Source, fd.Command)
		}
		switch fd.Category {
		case CatRmRecursive:
			s.RmRecursive, s.Delete = true, true
		case CatDelete:
			s.Delete = true
		case CatDiskWipe:
			s.DiskWipe = true
		case CatChmodRecursive:
			s.ChmodRecursive = true
		case CatDownloadExec:
			s.DownloadExec = true
		case CatObfuscated:
			s.Obfuscated = true
		case CatGitForcePush:
			s.GitForcePush = true
		case CatGitDestructive:
			s.GitDestructive = true
		case CatInfraDestroy:
			s.InfraDestroy = true
		case CatContainerDelete:
			s.ContainerDelete = true
		case CatOverwrite:
			s.Overwrite = true
		case CatPrivilege:
			s.Privilege = true
		case CatForkBomb:
			s.ForkBomb = true
		case CatPower:
			s.Power = true
		case CatServiceStop:
			s.ServiceStop = true
		case CatFirewall:
			s.Firewall = true
		case CatCrontabRemove:
			s.CrontabRemove = true
		case CatProcessKill:
			s.ProcessKill = true
		case CatAccount:
			s.Account = true
		case CatSQL:
			s.SQL = true
		case CatInlineCode:
			s.InlineCode = true
		case CatWrite:
			s.Write = true
		}
	}
	s.Kinds = sortedKeys(kinds)
	s.ReadOnly = !s.ParseError && acc.reads > 0 && acc.nonReads == 0 && len(acc.findings) == 0
	if s.ReadOnly {
		*reads++
	} else {
		*writes++
	}
}

func (c *classifier) finishPaths(reason func(string, ...any), writes *int) {
	pf := &c.facts.Paths
	pf.Paths, pf.Cleaned = []PathInfo{}, []string{}
	op := ""
	switch {
	case c.facts.Tool.Destructive:
		op = "delete"
	case c.facts.Tool.Write:
		op = "write"
	}
	refs := make([]pathRef, 0, len(c.pathRefs)+len(c.shell.paths))
	for _, r := range c.pathRefs {
		r.op = op
		refs = append(refs, r)
	}
	refs = append(refs, c.shell.paths...)
	for _, r := range refs {
		info := classifyPath(r.raw, c.opts)
		info.Source, info.Op = r.source, r.op
		pf.Present = true
		pf.Paths = append(pf.Paths, info)
		if !slices.Contains(pf.Cleaned, info.Clean) {
			pf.Cleaned = append(pf.Cleaned, info.Clean)
		}
		pf.OutsideRoots = pf.OutsideRoots || info.OutsideRoots
		pf.Sensitive = pf.Sensitive || info.Sensitive
		pf.Traversal = pf.Traversal || info.Traversal
		switch info.Op {
		case "delete":
			pf.Deletes = true
		case "write":
			pf.Writes = true
		}
		if info.Op != "" && (info.Sensitive || info.OutsideRoots && (info.Op == "delete" || !isTempPath(info.Clean))) {
			what := "outside the configured roots"
			if info.Sensitive {
				what = "sensitive (" + info.SensitiveReason + ")"
			}
			reason("path %s %s in %s: %s", info.Op, what, info.Source, info.Clean)
		}
	}
	if pf.Writes || pf.Deletes {
		*writes++
	}
}

func (c *classifier) finishHTTP(reason func(string, ...any), reads, writes *int) {
	h := &c.facts.HTTP
	h.URLs, h.Hosts = []URLInfo{}, []string{}
	for _, m := range c.methods {
		if h.Method == "" && httpMethods[m] {
			h.Method = m
		}
	}
	refs := append(slices.Clip(c.urlRefs), c.shell.urls...)
	if len(refs) == 0 && h.Method == "" {
		return
	}
	h.Present = true
	hosts := map[string]bool{}
	for _, r := range refs {
		u := classifyURL(r.raw, c.opts)
		u.Source = r.source
		h.URLs = append(h.URLs, u)
		if u.Host != "" {
			hosts[u.Host] = true
		}
		h.External = h.External || u.External
		h.Private = h.Private || u.Private
		h.Metadata = h.Metadata || u.Metadata
		m := h.Method
		if r.method != "" {
			m = r.method
			if h.Method == "" {
				h.Method = r.method
			}
		}
		if isWriteMethod(m) && u.External {
			h.ExternalWrite = true
		}
		if m == "DELETE" {
			reason("http DELETE to %s in %s", u.Host, r.source)
		}
	}
	h.Hosts = sortedKeys(hosts)
	h.Write = isWriteMethod(h.Method)
	h.Delete = h.Method == "DELETE"
	if h.Delete && len(refs) == 0 {
		reason("http method DELETE")
	}
	switch {
	case h.Write:
		*writes++
	case h.Method == "GET" || h.Method == "HEAD" || h.Method == "OPTIONS":
		*reads++
	}
}
