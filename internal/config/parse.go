package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML config file at path and returns it with every default applied (see Parse).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w (pass the path of a YAML config file with --config; "+
			"examples/quickstart.yaml is a starting point)", err)
	}
	return Parse(data, path)
}

// Parse decodes a YAML config, expands ${VAR} in env and header values from the process environment, and
// runs CheckAndSetDefaults. path names the file in error messages and is the base for relative paths.
//
// On any problem it returns nil and a *ValidationError listing every problem found, each with its line,
// column and key path; a Config is returned only when it is valid and complete.
func Parse(data []byte, path string) (*Config, error) {
	return parse(data, path, os.LookupEnv)
}

// position is a 1-based line and column in the config file.
type position struct{ line, col int }

// decoder walks a yaml.Node tree into a Config, collecting every problem instead of stopping at the first.
type decoder struct {
	lookup lookupFunc
	errs   []FieldError
	// pos and keyPos record, for each key path decoded, where its value and its key are.
	pos, keyPos map[string]position
	// quiet holds paths where a decode error was reported: a validation problem at the same path would
	// only repeat it (a misspelt "comand" also leaves the server without a command). quietTree holds
	// paths whose whole value was unusable (not a mapping, or empty): problems under them are dropped too.
	quiet, quietTree map[string]bool
	// merged caches the expanded pairs of mappings used as merge sources, so nested merges of merges
	// cost their size once rather than doubling per level.
	merged map[*yaml.Node][]pair
	// budget bounds the entries visited, aliases included, so a small file cannot expand into a huge
	// walk; exhausted is set once it runs out.
	budget    int
	exhausted bool
}

// spend takes n entries from the budget and reports whether decoding may go on.
func (d *decoder) spend(n int, at *yaml.Node) bool {
	if d.exhausted {
		return false
	}
	d.budget -= n
	if d.budget < 0 {
		d.exhausted = true
		d.errs = append(d.errs, FieldError{Line: at.Line, Col: at.Column,
			Msg: "the file expands into too many entries through YAML aliases: write the config out without them"})
		d.quietTree[""] = true
		return false
	}
	return true
}

func parse(data []byte, path string, lookup lookupFunc) (*Config, error) {
	root, fe := parseYAML(data)
	if fe != nil {
		return nil, &ValidationError{File: path, Errors: []FieldError{*fe}}
	}
	d := &decoder{
		lookup: lookup,
		pos:    map[string]position{"": {1, 1}},
		keyPos: map[string]position{},
		quiet:  map[string]bool{},

		quietTree: map[string]bool{},
		merged:    map[*yaml.Node][]pair{},
		budget:    100_000 + 10*len(data),
	}
	c := &Config{Path: path}
	if root != nil {
		d.pos[""] = position{root.Line, root.Column}
		d.config(root, c)
	}
	probs, warns := c.check(lookup)
	for _, p := range probs {
		if d.silenced(p.path) {
			continue
		}
		d.errs = append(d.errs, d.locate(p))
	}
	if len(d.errs) > 0 {
		return nil, &ValidationError{File: path, Errors: sortFieldErrors(d.errs)}
	}
	c.Warnings = nil
	for _, w := range warns {
		fe := d.locate(w)
		c.Warnings = append(c.Warnings, fe.format(path))
	}
	return c, nil
}

// silenced reports whether a validation problem at path would only repeat a decode error.
func (d *decoder) silenced(path string) bool {
	if d.quiet[path] || d.quietTree[path] || d.quietTree[""] {
		return true
	}
	// Every enclosing path is a prefix of path ending before a "." or "["; a cut inside a quoted key
	// gives a string that is no path, and so is never in quietTree.
	for i := 0; i < len(path); i++ {
		if (path[i] == '.' || path[i] == '[') && d.quietTree[path[:i]] {
			return true
		}
	}
	return false
}

// locate turns a validation problem into a FieldError at the position of its path, or of the nearest
// enclosing path that has one (a missing name is reported where its server starts).
func (d *decoder) locate(p problem) FieldError {
	at, ok := position{}, false
	if p.key {
		at, ok = d.keyPos[p.path]
	}
	if !ok {
		at, ok = d.pos[p.path]
	}
	// Enclosing paths are prefixes ending before a "." or "["; a cut inside a quoted key is no path.
	for i := len(p.path) - 1; i >= 0 && !ok; i-- {
		if p.path[i] == '.' || p.path[i] == '[' {
			at, ok = d.pos[p.path[:i]]
		}
	}
	if !ok {
		at = d.pos[""]
	}
	return FieldError{Line: at.line, Col: at.col, Path: p.path, Msg: p.msg}
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data as exactly one YAML document and returns its top node (nil for an empty file).
func parseYAML(data []byte) (root *yaml.Node, fe *FieldError) {
	defer func() {
		// yaml.v3 has had panics on hostile input; a config error is the right answer to any of them.
		if r := recover(); r != nil {
			root, fe = nil, &FieldError{Msg: fmt.Sprintf("invalid YAML: the parser failed (%v)", r)}
		}
	}()
	syntax := func(err error) *FieldError {
		msg := err.Error()
		if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			// yaml.v3 reports some syntax errors one line early, so say "near".
			return &FieldError{Line: line, Msg: "invalid YAML near this line: " + m[2]}
		}
		return &FieldError{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntax(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntax(err)
	default:
		return nil, &FieldError{Line: next.Line, Col: next.Column,
			Msg: "the file holds more than one YAML document (a second ---): keep the config in one"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// errorf records a decode problem at node n for path.
func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.quiet[path] = true
}

// record remembers where path's key (nil for a list item) and value are.
func (d *decoder) record(path string, key, value *yaml.Node) {
	if key != nil {
		d.keyPos[path] = position{key.Line, key.Column}
	}
	d.pos[path] = position{value.Line, value.Column}
}

// resolve follows aliases to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch resolve(n).Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	default:
		return "an empty value"
	}
}

// keyPath is the path of key inside parent: parent.key, or parent["key"] when key is not a plain word.
func keyPath(parent, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	switch {
	case !plain:
		return parent + "[" + strconv.Quote(key) + "]"
	case parent == "":
		return key
	default:
		return parent + "." + key
	}
}

func indexPath(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// pair is one key: value entry of a mapping.
type pair struct {
	name       string
	key, value *yaml.Node
}

// pairs returns the entries of mapping node m, with YAML merge keys (<<: *anchor) expanded: keys written
// in m win over merged ones, and earlier merged mappings win over later ones. It reports keys that are not
// plain scalars and keys written twice.
func (d *decoder) pairs(m *yaml.Node, path string) []pair {
	if !d.spend(len(m.Content)/2+1, m) {
		return nil
	}
	var own, merged []pair
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		rk := resolve(k)
		if rk.Kind != yaml.ScalarNode {
			d.errorf(k, path, "a key must be a plain word, not %s", kindName(k))
			continue
		}
		if rk.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(v, path)...)
			continue
		}
		if prev, dup := first[rk.Value]; dup {
			d.errorf(k, keyPath(path, rk.Value), "key %q is written twice (first at line %d): keep one",
				rk.Value, prev.Line)
			continue
		}
		first[rk.Value] = k
		own = append(own, pair{rk.Value, k, v})
	}
	for _, p := range merged {
		if _, ok := first[p.name]; !ok {
			first[p.name] = p.key
			own = append(own, p)
		}
	}
	return own
}

func (d *decoder) mergeSources(v *yaml.Node, path string) []pair {
	rv := resolve(v)
	switch rv.Kind {
	case yaml.MappingNode:
		return d.mergeSource(rv, path)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range rv.Content {
			if ri := resolve(item); ri.Kind == yaml.MappingNode {
				out = append(out, d.mergeSource(ri, path)...)
			} else {
				d.errorf(item, path, "a merge key (<<) takes mappings, not %s", kindName(item))
			}
		}
		return out
	default:
		d.errorf(v, path, "a merge key (<<) takes a mapping or a list of mappings, not %s", kindName(v))
		return nil
	}
}

// extensionPrefix starts top-level keys that mcpwarden ignores, so a file can define YAML anchors there
// (x-common: &common {timeout: 5m}) and merge them into servers (<<: *common).
const extensionPrefix = "x-"

func (d *decoder) mergeSource(m *yaml.Node, path string) []pair {
	if ps, ok := d.merged[m]; ok {
		return ps
	}
	ps := d.pairs(m, path)
	d.merged[m] = ps
	return ps
}

// field decodes the value of one known key; path is the key's own path.
type field struct {
	name   string
	decode func(v *yaml.Node, path string)
}

// object decodes mapping n at path through fields, reporting unknown keys. A null value leaves a field
// unset.
func (d *decoder) object(n *yaml.Node, path string, fields []field) {
	m := resolve(n)
	if m.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of keys (%s), not %s", fieldNames(fields), kindName(n))
		d.quietTree[path] = true
		return
	}
	for _, p := range d.pairs(m, path) {
		i := sort.Search(len(fields), func(i int) bool { return fields[i].name >= p.name })
		child := keyPath(path, p.name)
		if path == "" && strings.HasPrefix(p.name, extensionPrefix) {
			continue // a place for YAML anchors, like docker compose's x- keys
		}
		if i == len(fields) || fields[i].name != p.name {
			d.unknownKey(p.key, path, p.name, fields)
			continue
		}
		d.record(child, p.key, p.value)
		if isNull(p.value) {
			continue
		}
		fields[i].decode(p.value, child)
	}
}

func fieldNames(fields []field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// keyHints maps keys people write from habit (other MCP clients' configs, other gateways) to advice.
var keyHints = map[string]struct{ key, advice string }{
	"args":        {"command", `mcpwarden takes the whole argv in command, e.g. command: [npx, -y, some-server]`},
	"argv":        {"command", ""},
	"cmd":         {"command", ""},
	"environment": {"env", ""},
	"endpoint":    {"url", ""},
	"type":        {"transport", ""},
	"address":     {"listen", ""},
	"addr":        {"listen", ""},
	"header":      {"headers", ""},
	"workdir":     {"cwd", ""},
	"working_dir": {"cwd", ""},
	"dir":         {"cwd", ""},
	"mcpServers":  {"servers", `servers is a list; each entry has a name and a command or url`},
	"server":      {"servers", ""},
}

func (d *decoder) unknownKey(k *yaml.Node, path, name string, fields []field) {
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.name
	}
	if h, ok := keyHints[name]; ok && slices.Contains(known, h.key) {
		d.quiet[keyPath(path, h.key)] = true
		if h.advice != "" {
			d.errorf(k, path, "unknown key %q (did you mean %q? %s)", name, h.key, h.advice)
		} else {
			d.errorf(k, path, "unknown key %q (did you mean %q?)", name, h.key)
		}
		return
	}
	if s := closest(name, known); s != "" {
		d.quiet[keyPath(path, s)] = true
		d.errorf(k, path, "unknown key %q (did you mean %q?)", name, s)
		return
	}
	d.errorf(k, path, "unknown key %q (known keys here: %s)", name, strings.Join(known, ", "))
}

// closest returns the known key nearest to name: the same word ignoring case and -/_, or one within an
// edit distance of a third of name's length (at least 1, at most 3); "" if none is that close.
func closest(name string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	n := norm(name)
	best, bestDist := "", max(1, min(3, len(name)/3))+1
	for _, k := range known {
		if norm(k) == n {
			return k
		}
		if dist := editDistance(n, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the edit distance between a and b in bytes, counting insertions, deletions,
// substitutions and swaps of two neighbours (optimal string alignment).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	dist := make([][]int, len(a)+1)
	for i := range dist {
		dist[i] = make([]int, len(b)+1)
		dist[i][0] = i
	}
	for j := range dist[0] {
		dist[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			dist[i][j] = min(dist[i-1][j]+1, dist[i][j-1]+1, dist[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				dist[i][j] = min(dist[i][j], dist[i-2][j-2]+1)
			}
		}
	}
	return dist[len(a)][len(b)]
}

// str decodes a scalar as text. Numbers and booleans are taken as written (name: 2024 is "2024").
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	s := resolve(n)
	if s.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be a single value, not %s", kindName(n))
		return "", false
	}
	if tag := s.ShortTag(); !strings.HasPrefix(tag, "!!") || tag == "!!binary" {
		d.errorf(n, path, "the YAML tag %s is not supported here: remove it", tag)
		return "", false
	}
	return s.Value, true
}

func (d *decoder) setStr(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if v, ok := d.str(n, path); ok {
			*dst = v
		}
	}
}

// setBool decodes a boolean into dst.
func (d *decoder) setBool(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if b, ok := d.boolean(n, path); ok {
			*dst = b
		}
	}
}

// setBoolPtr decodes a boolean into *dst, leaving nil for "not set".
func (d *decoder) setBoolPtr(dst **bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if b, ok := d.boolean(n, path); ok {
			*dst = &b
		}
	}
}

// setExpanded decodes a string with ${VAR} replaced from the environment (for values that are secrets and
// belong in the environment rather than the file); an unset variable is an error naming the key.
func (d *decoder) setExpanded(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		raw, ok := d.str(n, path)
		if !ok {
			return
		}
		v, msg := expandVars(raw, d.lookup)
		if msg != "" {
			d.errorf(n, path, "%s", msg)
			return
		}
		*dst = v
	}
}

// duration decodes a Go duration string that must be greater than zero.
func (d *decoder) duration(dst *Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.str(n, path)
		if !ok {
			return
		}
		if resolve(n).ShortTag() != "!!str" {
			d.errorf(n, path, "%q is not a duration: give it a unit (write e.g. 30s or 5m)", v)
			return
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			d.errorf(n, path, "%q is not a duration (write e.g. 30s or 5m)", v)
			return
		}
		if dur <= 0 {
			d.errorf(n, path, "must be greater than 0 (write e.g. 30s), or leave it out for the default")
			return
		}
		*dst = Duration(dur)
	}
}

// maxMessageLimit is the largest accepted http.max_message_bytes.
const maxMessageLimit = 1 << 30

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// size decodes a byte count: a whole number, or a number with a unit (4MiB).
// whole decodes a whole number of at least least into dst; anything else is reported as the value
// followed by problem.
func (d *decoder) whole(dst *int, least int, problem string) func(*yaml.Node, string) {
	return func(v *yaml.Node, p string) {
		s, ok := d.str(v, p)
		if !ok {
			return
		}
		x, err := strconv.Atoi(s)
		if err != nil || resolve(v).ShortTag() != "!!int" || x < least {
			d.errorf(v, p, "%q "+problem, s)
			return
		}
		*dst = x
	}
}

func (d *decoder) size(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		v, ok := d.str(n, path)
		if !ok {
			return
		}
		bad := func() { d.errorf(n, path, "%q is not a size: write a number of bytes or e.g. 512KiB or 4MiB", v) }
		num, mult := strings.TrimSpace(v), int64(1)
		if resolve(n).ShortTag() != "!!int" {
			for _, u := range sizeUnits {
				if strings.HasSuffix(num, u.suffix) {
					num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
					break
				}
			}
		}
		x, err := strconv.ParseInt(strings.ReplaceAll(num, "_", ""), 10, 64)
		if err != nil {
			bad()
			return
		}
		if x <= 0 {
			d.errorf(n, path, "must be greater than 0 (write e.g. 4MiB), or leave it out for the default")
			return
		}
		if x > maxMessageLimit/mult {
			d.errorf(n, path, "%q is more than the 1GiB limit", v)
			return
		}
		*dst = x * mult
	}
}

// strings decodes a list of scalars. An empty list gives an empty, non-nil slice.
func (d *decoder) strings(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		seq := resolve(n)
		if seq.Kind != yaml.SequenceNode {
			d.errorf(n, path, "must be a list, e.g. [a, b], not %s", kindName(n))
			return
		}
		if !d.spend(len(seq.Content)+1, seq) {
			return
		}
		out := make([]string, 0, len(seq.Content))
		for i, item := range seq.Content {
			p := indexPath(path, i)
			d.record(p, nil, item)
			if isNull(item) {
				d.errorf(item, p, `the list item is empty: write a value, or "" for an empty string`)
				continue
			}
			if v, ok := d.str(item, p); ok {
				out = append(out, v)
			}
		}
		*dst = out
	}
}

// secretMap decodes env or headers: a mapping of names to values, with ${VAR} expanded in values. Values
// are never quoted in a message. An empty mapping gives nil.
func (d *decoder) secretMap(dst *map[string]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		m := resolve(n)
		if m.Kind != yaml.MappingNode {
			d.errorf(n, path, "must be a mapping of NAME: value, not %s", kindName(n))
			return
		}
		out := map[string]string{}
		for _, p := range d.pairs(m, path) {
			child := keyPath(path, p.name)
			d.record(child, p.key, p.value)
			if isNull(p.value) {
				d.errorf(p.value, child, `has no value: write one, or "" for an empty value`)
				continue
			}
			if rv := resolve(p.value); rv.Kind != yaml.ScalarNode {
				d.errorf(p.value, child, "must be a single value, not %s", kindName(p.value))
				continue
			}
			raw, ok := d.str(p.value, child)
			if !ok {
				continue
			}
			v, msg := expandVars(raw, d.lookup)
			if msg != "" {
				d.errorf(p.value, child, "%s", msg)
				continue
			}
			out[p.name] = v
		}
		if len(out) > 0 {
			*dst = out
		}
	}
}

func (d *decoder) config(n *yaml.Node, c *Config) {
	d.object(n, "", []field{
		{"allowlist", func(v *yaml.Node, p string) {
			c.Allowlist = &Allowlist{}
			d.object(v, p, []field{
				{"require_pinned", d.setBool(&c.Allowlist.RequirePinned)},
			})
		}},
		{"approval", func(v *yaml.Node, p string) {
			c.Approval = &Approval{}
			d.approval(v, p, c.Approval)
		}},
		{"audit", func(v *yaml.Node, p string) { d.audit(v, p, &c.Audit) }},
		{"auth", func(v *yaml.Node, p string) {
			c.Auth = &Auth{}
			d.auth(v, p, c.Auth)
		}},
		{"cluster", func(v *yaml.Node, p string) {
			c.Cluster = &Cluster{}
			d.object(v, p, []field{
				{"session_key", d.setExpanded(&c.Cluster.SessionKey)},
				{"session_key_file", d.setStr(&c.Cluster.SessionKeyFile)},
			})
		}},
		{"dashboard", func(v *yaml.Node, p string) {
			c.Dashboard = &Dashboard{}
			d.object(v, p, []field{
				{"admin_token", d.setExpanded(&c.Dashboard.AdminToken)},
				{"enabled", d.setBoolPtr(&c.Dashboard.Enabled)},
				{"oidc", func(v *yaml.Node, p string) {
					o := &DashboardOIDC{}
					c.Dashboard.OIDC = o
					d.object(v, p, []field{
						{"allowed_groups", d.strings(&o.AllowedGroups)},
						{"allowed_users", d.strings(&o.AllowedUsers)},
						{"client_id", d.setStr(&o.ClientID)},
						{"client_secret", d.setExpanded(&o.ClientSecret)},
						{"scopes", d.strings(&o.Scopes)},
					})
				}},
				{"session_ttl", d.duration(&c.Dashboard.SessionTTL)},
				{"url", d.setStr(&c.Dashboard.URL)},
			})
		}},
		{"data_dir", d.setStr(&c.DataDir)},
		{"dataflow", func(v *yaml.Node, p string) {
			c.DataFlow = &DataFlow{}
			d.dataflow(v, p, c.DataFlow)
		}},
		{"http", func(v *yaml.Node, p string) { d.http(v, p, &c.HTTP) }},
		{"listen", d.setStr(&c.Listen)},
		{"log", func(v *yaml.Node, p string) {
			d.object(v, p, []field{
				{"format", d.setStr(&c.Log.Format)},
				{"level", d.setStr(&c.Log.Level)},
			})
		}},
		{"metrics", func(v *yaml.Node, p string) {
			c.Metrics = &Metrics{}
			d.object(v, p, []field{
				{"listen", d.setStr(&c.Metrics.Listen)},
				{"path", d.setStr(&c.Metrics.Path)},
				{"pprof", d.setBool(&c.Metrics.Pprof)},
			})
		}},
		{"pinning", func(v *yaml.Node, p string) {
			c.Pinning = &Pinning{}
			d.object(v, p, []field{{"mode", d.setStr(&c.Pinning.Mode)}})
		}},
		{"policy", func(v *yaml.Node, p string) { d.policy(v, p, &c.Policy) }},
		{"sandbox", func(v *yaml.Node, p string) {
			c.Sandbox = &Sandbox{}
			d.sandbox(v, p, c.Sandbox)
		}},
		{"scan", func(v *yaml.Node, p string) {
			c.Scan = &Scan{}
			d.object(v, p, []field{
				{"quarantine_at", d.setStr(&c.Scan.QuarantineAt)},
				{"sanitize_descriptions", d.setBoolPtr(&c.Scan.SanitizeDescriptions)},
				{"sanitize_results", d.setBoolPtr(&c.Scan.SanitizeResults)},
			})
		}},
		{"servers", func(v *yaml.Node, p string) { d.servers(v, p, &c.Servers) }},
	})
}

func (d *decoder) dataflow(n *yaml.Node, path string, f *DataFlow) {
	rules := func(r *DataFlowRules) []field {
		return []field{
			{"arguments", d.setStr(&r.Arguments)},
			{"injection", d.setStr(&r.Injection)},
			{"pii", d.setStr(&r.PII)},
			{"secrets", d.setStr(&r.Secrets)},
		}
	}
	fields := append(rules(&f.DataFlowRules),
		field{"classifier", func(v *yaml.Node, p string) {
			f.Classifier = &Classifier{}
			d.object(v, p, []field{
				{"fail", d.setStr(&f.Classifier.Fail)},
				{"timeout", d.duration(&f.Classifier.Timeout)},
				{"url", d.setExpanded(&f.Classifier.URL)},
			})
		}},
		field{"heuristics", d.setBoolPtr(&f.Heuristics)},
		field{"mode", d.setStr(&f.Mode)},
		field{"overrides", func(v *yaml.Node, p string) {
			seq := resolve(v)
			if seq.Kind != yaml.SequenceNode {
				d.errorf(v, p, "must be a list of overrides (each item like \"- servers: [db]\"), not %s", kindName(v))
				return
			}
			if !d.spend(len(seq.Content)+1, seq) {
				return
			}
			f.Overrides = make([]DataFlowOverride, len(seq.Content))
			for i, item := range seq.Content {
				o := &f.Overrides[i]
				ip := indexPath(p, i)
				d.record(ip, nil, item)
				d.object(item, ip, append(rules(&o.DataFlowRules),
					field{"servers", d.strings(&o.Servers)},
					field{"tools", d.strings(&o.Tools)}))
			}
		}},
		field{"pii_confidence", d.setStr(&f.PIIConfidence)},
	)
	sort.Slice(fields, func(i, j int) bool { return fields[i].name < fields[j].name })
	d.object(n, path, fields)
}

// stringLists decodes a mapping of names to lists of strings (tool_labels).
func (d *decoder) stringLists(dst *map[string][]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		m := resolve(n)
		if m.Kind != yaml.MappingNode {
			d.errorf(n, path, "must be a mapping of NAME: [item, ...], not %s", kindName(n))
			return
		}
		out := map[string][]string{}
		for _, p := range d.pairs(m, path) {
			child := keyPath(path, p.name)
			d.record(child, p.key, p.value)
			var list []string
			d.strings(&list)(p.value, child)
			out[p.name] = list
		}
		if len(out) > 0 {
			*dst = out
		}
	}
}

func (d *decoder) approval(n *yaml.Node, path string, a *Approval) {
	d.object(n, path, []field{
		{"default_on_timeout", d.setStr(&a.DefaultOnTimeout)},
		{"enabled", d.setBoolPtr(&a.Enabled)},
		{"pending_ttl", d.duration(&a.PendingTTL)},
		{"rules", func(v *yaml.Node, p string) {
			seq := resolve(v)
			if seq.Kind != yaml.SequenceNode {
				d.errorf(v, p, "must be a list of rules (each item starts with \"- rule: RULE_ID\"), not %s", kindName(v))
				return
			}
			if !d.spend(len(seq.Content)+1, seq) {
				return
			}
			a.Rules = make([]ApprovalRule, len(seq.Content))
			for i, item := range seq.Content {
				r := &a.Rules[i]
				ip := indexPath(p, i)
				d.record(ip, nil, item)
				d.object(item, ip, []field{
					{"approvers", d.strings(&r.Approvers)},
					{"four_eyes", d.setBool(&r.FourEyes)},
					{"rule", d.setStr(&r.Rule)},
					{"self_approve", d.setBool(&r.SelfApprove)},
					{"timeout", d.duration(&r.Timeout)},
				})
			}
		}},
		{"timeout", d.duration(&a.Timeout)},
		{"webhook", func(v *yaml.Node, p string) {
			a.Webhook = &ApprovalWebhook{}
			d.object(v, p, []field{
				{"secret", d.setExpanded(&a.Webhook.Secret)},
				{"url", d.setExpanded(&a.Webhook.URL)}, // a Slack webhook URL is itself a secret
			})
		}},
	})
}

func (d *decoder) audit(n *yaml.Node, path string, a *Audit) {
	d.object(n, path, []field{
		{"capture", d.setStr(&a.Capture)},
		{"checkpoint_interval", d.duration(&a.CheckpointInterval)},
		{"enabled", d.setBoolPtr(&a.Enabled)},
		{"fail_open", d.setBool(&a.FailOpen)},
		{"instance", d.setStr(&a.Instance)},
		{"max_value_bytes", d.size(&a.MaxValueBytes)},
		{"otlp", func(v *yaml.Node, p string) {
			d.object(v, p, []field{
				{"endpoint", d.setStr(&a.OTLP.Endpoint)},
				{"headers", d.secretMap(&a.OTLP.Headers)},
				{"signals", d.strings(&a.OTLP.Signals)},
			})
		}},
		{"postgres_dsn", d.setExpanded(&a.PostgresDSN)},
		{"retention_days", d.whole(&a.RetentionDays, 0, "is not a number of days: write a whole number such as 90, or 0 to keep everything")},
		{"signing_key", d.setStr(&a.SigningKey)},
		{"store", d.setStr(&a.Store)},
		{"sync", d.setStr(&a.Sync)},
		{"write_timeout", d.duration(&a.WriteTimeout)},
	})
}

func (d *decoder) auth(n *yaml.Node, path string, a *Auth) {
	d.object(n, path, []field{
		{"algorithms", d.strings(&a.Algorithms)},
		{"api_keys_file", d.setStr(&a.APIKeysFile)},
		{"audience", d.strings(&a.Audience)},
		{"claims", func(v *yaml.Node, p string) {
			d.object(v, p, []field{
				{"email", d.setStr(&a.Claims.Email)},
				{"groups", d.strings(&a.Claims.Groups)},
				{"name", d.setStr(&a.Claims.Name)},
				{"subject", d.setStr(&a.Claims.Subject)},
			})
		}},
		{"clock_skew", d.duration(&a.ClockSkew)},
		{"introspection", func(v *yaml.Node, p string) {
			in := &Introspection{}
			a.Introspection = in
			d.object(v, p, []field{
				{"cache_ttl", d.duration(&in.CacheTTL)},
				{"client_id", d.setStr(&in.ClientID)},
				{"client_secret", d.setExpanded(&in.ClientSecret)},
				{"url", d.setStr(&in.URL)},
			})
		}},
		{"issuer", d.setStr(&a.Issuer)},
		{"jwks_refetch_interval", d.duration(&a.JWKSRefetchInterval)},
		{"jwks_url", d.setStr(&a.JWKSURL)},
		{"mode", d.setStr(&a.Mode)},
		{"required_scopes", d.strings(&a.RequiredScopes)},
		{"resource", d.setStr(&a.Resource)},
	})
}

// boolean decodes true or false (YAML 1.2 spelling only: yes/no/on/off are rejected as ambiguous).
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return false, false
	}
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	d.errorf(n, path, "%q is not true or false", s)
	return false, false
}

func (d *decoder) http(n *yaml.Node, path string, h *HTTP) {
	d.object(n, path, []field{
		{"allowed_hosts", d.strings(&h.AllowedHosts)},
		{"allowed_origins", d.strings(&h.AllowedOrigins)},
		{"max_message_bytes", d.size(&h.MaxMessageBytes)},
		{"max_sessions", d.whole(&h.MaxSessions, 1, "is not a number of sessions: write a whole number of at least 1, such as 20000")},
		{"read_header_timeout", d.duration(&h.ReadHeaderTimeout)},
		{"session_idle_timeout", d.duration(&h.SessionIdleTimeout)},
		{"shutdown_timeout", d.duration(&h.ShutdownTimeout)},
	})
}

func (d *decoder) servers(n *yaml.Node, path string, dst *[]Server) {
	seq := resolve(n)
	if seq.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list of servers (each item starts with \"- name: ...\"), not %s", kindName(n))
		return
	}
	if !d.spend(len(seq.Content)+1, seq) {
		return
	}
	out := make([]Server, len(seq.Content))
	for i, item := range seq.Content {
		p := indexPath(path, i)
		d.record(p, nil, item)
		if isNull(item) {
			d.errorf(item, p, "the list item is empty: each server needs a name and a command or url")
			d.quietTree[p] = true
			continue
		}
		s := &out[i]
		d.object(item, p, []field{
			{"command", func(v *yaml.Node, p string) {
				if rv := resolve(v); rv.Kind == yaml.ScalarNode {
					d.errorf(v, p, "must be a list of arguments, e.g. command: [npx, -y, some-server]; "+
						"no shell is involved, so a single string is not split into words")
					return
				}
				d.strings(&s.Command)(v, p)
			}},
			{"credentials", func(v *yaml.Node, p string) {
				s.Credentials = &Credentials{}
				d.object(v, p, []field{
					{"env", d.setStr(&s.Credentials.Env)},
					{"format", d.setStr(&s.Credentials.Format)},
					{"header", d.setStr(&s.Credentials.Header)},
					{"name", d.setStr(&s.Credentials.Name)},
					{"optional", d.setBool(&s.Credentials.Optional)},
				})
			}},
			{"cwd", d.setStr(&s.Cwd)},
			{"env", d.secretMap(&s.Env)},
			{"headers", d.secretMap(&s.Headers)},
			{"labels", d.strings(&s.Labels)},
			{"name", d.setStr(&s.Name)},
			{"oauth", func(v *yaml.Node, p string) {
				s.OAuth = &UpstreamOAuth{}
				o := s.OAuth
				d.object(v, p, []field{
					{"authorization_server", d.setStr(&o.AuthorizationServer)},
					{"client_id", d.setExpanded(&o.ClientID)},
					{"client_metadata_url", d.setStr(&o.ClientMetadataURL)},
					{"client_secret", d.setExpanded(&o.ClientSecret)},
					{"redirect_url", d.setStr(&o.RedirectURL)},
					{"resource", d.setStr(&o.Resource)},
					{"scopes", d.strings(&o.Scopes)},
					{"send_resource", d.setBoolPtr(&o.SendResource)},
					{"token_exchange", func(v *yaml.Node, p string) {
						o.TokenExchange = &TokenExchange{}
						d.object(v, p, []field{
							{"audience", d.setStr(&o.TokenExchange.Audience)},
							{"scopes", d.strings(&o.TokenExchange.Scopes)},
						})
					}},
				})
			}},
			{"pin", func(v *yaml.Node, p string) {
				s.Pin = &ServerPin{}
				d.object(v, p, []field{{"sha256", d.setStr(&s.Pin.SHA256)}})
			}},
			{"restart", func(v *yaml.Node, p string) {
				d.object(v, p, []field{
					{"initial_backoff", d.duration(&s.Restart.InitialBackoff)},
					{"max_backoff", d.duration(&s.Restart.MaxBackoff)},
				})
			}},
			{"sandbox", func(v *yaml.Node, p string) {
				s.Sandbox = &Sandbox{}
				d.sandbox(v, p, s.Sandbox)
			}},
			{"start", d.setStr(&s.Start)},
			{"timeout", d.duration(&s.Timeout)},
			{"token_passthrough", func(v *yaml.Node, p string) {
				s.TokenPassthrough = &TokenPassthrough{}
				d.object(v, p, []field{{"audience", d.setStr(&s.TokenPassthrough.Audience)}})
			}},
			{"tool_labels", d.stringLists(&s.ToolLabels)},
			{"transport", d.setStr(&s.Transport)},
			{"trusted", d.setBool(&s.Trusted)},
			{"url", d.setStr(&s.URL)},
		})
	}
	*dst = out
}

var yamlErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// policy keeps whatever YAML value is written, decoded into plain Go values.
func (d *decoder) policy(n *yaml.Node, path string, dst *any) {
	var v any
	err := n.Decode(&v)
	var te *yaml.TypeError
	switch {
	case err == nil:
		*dst = v
	case errors.As(err, &te):
		for _, e := range te.Errors {
			fe := FieldError{Line: n.Line, Col: n.Column, Path: path, Msg: e}
			if m := yamlErrLine.FindStringSubmatch(e); m != nil {
				fe.Line, _ = strconv.Atoi(m[1])
				fe.Col, fe.Msg = 0, m[2]
			}
			d.errs = append(d.errs, fe)
		}
	default:
		d.errorf(n, path, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
}
