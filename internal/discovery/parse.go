package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/BurntSushi/toml"
	"github.com/tailscale/hujson"
	"gopkg.in/yaml.v3"
)

// maxConfigBytes bounds one configuration file; ~/.claude.json can grow large with history, so be generous.
const maxConfigBytes = 32 << 20

// rawEntry is one server entry as written in a configuration file.
type rawEntry struct {
	name    string
	project string         // per-project section (Claude Code projects.<path>)
	obj     map[string]any // the entry
	pointer []string       // path of the entry inside a JSON document (for enrolment)
}

// decodeDocument parses a configuration file of the given format into generic values. JSON tolerates
// comments and trailing commas. An empty or whitespace-only file is an empty document.
func decodeDocument(format string, data []byte) (map[string]any, error) {
	data, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	if format == formatJSON || format == formatTOML {
		// The JSON and TOML parsers recurse once per level without a limit of their own: a few MB of
		// brackets would overflow the stack, which kills the process (not recoverable).
		if err := checkNesting(format, data); err != nil {
			return nil, err
		}
	}
	doc := map[string]any{}
	switch format {
	case formatJSON:
		std, err := standardizeJSON(data)
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		var v any
		if err := json.Unmarshal(std, &v); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("invalid config: the top level is not a JSON object")
		}
		return m, nil
	case formatTOML:
		if _, err := toml.Decode(string(data), &doc); err != nil {
			return nil, fmt.Errorf("invalid TOML: %w", err)
		}
		return doc, nil
	case formatYAML:
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
		if v == nil {
			return doc, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("invalid config: the top level is not a YAML mapping")
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown config format %q", format)
}

// extractEntries finds the server entries of a document written in a client dialect. problems describe
// entries or sections of an unexpected type (what and where); they are reported as file errors while the
// rest of the file is still used.
func extractEntries(dialect string, doc map[string]any) (out []rawEntry, problems []string) {
	fromMap := func(m any, project string, prefix ...string) {
		where := strings.Join(prefix, ".")
		switch mm := m.(type) {
		case nil:
			return
		case map[string]any:
			for _, name := range sortedKeys(mm) {
				obj, ok := mm[name].(map[string]any)
				if !ok {
					if mm[name] != nil {
						problems = append(problems, fmt.Sprintf("%s.%s: server entry is %s, not an object; skipped", where, name, typeName(mm[name])))
					}
					continue
				}
				out = append(out, rawEntry{name: name, project: project, obj: obj, pointer: append(append([]string{}, prefix...), name)})
			}
		case []any:
			// Not the client's documented shape, but a list of {name, command, ...} entries still
			// describes servers: report them rather than hide them.
			problems = append(problems, fmt.Sprintf("%s: is a list, the client expects an object keyed by server name", where))
			for i, item := range mm {
				obj, ok := item.(map[string]any)
				if !ok {
					problems = append(problems, fmt.Sprintf("%s[%d]: server entry is %s, not an object; skipped", where, i, typeName(item)))
					continue
				}
				name := str(obj["name"])
				if name == "" {
					name = "server-" + strconv.Itoa(i)
				}
				out = append(out, rawEntry{name: name, project: project, obj: obj, pointer: append(append([]string{}, prefix...), strconv.Itoa(i))})
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: is %s, not an object of servers; skipped", where, typeName(m)))
		}
	}
	switch dialect {
	case dialectMCPServers:
		fromMap(doc["mcpServers"], "", "mcpServers")
	case dialectClaudeCode:
		fromMap(doc["mcpServers"], "", "mcpServers")
		projects, _ := doc["projects"].(map[string]any)
		for _, p := range sortedKeys(projects) {
			pm, _ := projects[p].(map[string]any)
			fromMap(pm["mcpServers"], p, "projects", p, "mcpServers")
		}
	case dialectVSCodeMCP:
		fromMap(doc["servers"], "", "servers")
	case dialectVSCodeSettings:
		if mcp, ok := doc["mcp"].(map[string]any); ok {
			fromMap(mcp["servers"], "", "mcp", "servers")
		}
		fromMap(doc["mcp.servers"], "", "mcp.servers")
	case dialectZed:
		fromMap(doc["context_servers"], "", "context_servers")
	case dialectGoose:
		exts, _ := doc["extensions"].(map[string]any)
		for _, name := range sortedKeys(exts) {
			obj, ok := exts[name].(map[string]any)
			if !ok {
				if exts[name] != nil {
					problems = append(problems, fmt.Sprintf("extensions.%s: extension entry is %s, not a mapping; skipped", name, typeName(exts[name])))
				}
				continue
			}
			switch str(obj["type"]) {
			case "builtin", "platform", "frontend", "inline_python":
				continue // run inside goose, not an MCP server process or endpoint
			}
			out = append(out, rawEntry{name: name, obj: obj, pointer: []string{"extensions", name}})
		}
	case dialectOpenCode, dialectCrush:
		fromMap(doc["mcp"], "", "mcp")
	case dialectCodex:
		fromMap(doc["mcp_servers"], "", "mcp_servers")
	case dialectContinue:
		switch v := doc["mcpServers"].(type) {
		case []any:
			for i, item := range v {
				obj, ok := item.(map[string]any)
				if !ok {
					problems = append(problems, fmt.Sprintf("mcpServers[%d]: server entry is %s, not a mapping; skipped", i, typeName(item)))
					continue
				}
				name := str(obj["name"])
				if name == "" {
					name = "server-" + strconv.Itoa(i)
				}
				out = append(out, rawEntry{name: name, obj: obj, pointer: []string{"mcpServers", strconv.Itoa(i)}})
			}
		case map[string]any:
			fromMap(v, "", "mcpServers")
		case nil:
		default:
			problems = append(problems, fmt.Sprintf("mcpServers: is %s, not a list of servers; skipped", typeName(v)))
		}
		if exp, ok := doc["experimental"].(map[string]any); ok {
			list, _ := exp["modelContextProtocolServers"].([]any)
			for i, item := range list {
				obj, ok := item.(map[string]any)
				if !ok {
					continue
				}
				flat := map[string]any{}
				if tr, ok := obj["transport"].(map[string]any); ok {
					for k, v := range tr {
						flat[k] = v
					}
				}
				name := str(obj["name"])
				if name == "" {
					name = "server-" + strconv.Itoa(i)
				}
				out = append(out, rawEntry{name: name, obj: flat, pointer: []string{"experimental", "modelContextProtocolServers", strconv.Itoa(i)}})
			}
		}
	}
	return out, problems
}

// typeName names the type of a decoded value for error messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a number"
	}
}

// normalized is an entry reduced to what discovery reasons about.
type normalized struct {
	transport string
	command   string
	args      []string
	url       string
	urlKey    string // the key that held the URL
	env       map[string]string
	headers   map[string]string
	disabled  bool
}

// normalize reads an entry in any client's spelling.
func normalize(client string, obj map[string]any) normalized {
	var n normalized
	switch c := obj["command"].(type) {
	case string:
		n.command = c
	case []any:
		argv := strList(c)
		if len(argv) > 0 {
			n.command, n.args = argv[0], argv[1:]
		}
	case map[string]any: // Zed legacy {"command": {"path", "args", "env"}}
		n.command = str(c["path"])
		n.args = strList(c["args"])
		n.env = strMap(c["env"])
	}
	if n.command == "" {
		n.command = str(obj["cmd"]) // Goose
	}
	if a := strList(obj["args"]); len(a) > 0 {
		n.args = append(n.args, a...)
	}
	if len(n.args) == 0 && strings.ContainsAny(n.command, " \t") && !looksLikePath(n.command) {
		// "npx -y pkg" written as one string: clients run it through a shell or split it.
		f := strings.Fields(n.command)
		n.command, n.args = f[0], f[1:]
	}
	for _, k := range []string{"env", "envs", "environment"} {
		if m := strMap(obj[k]); len(m) > 0 {
			if n.env == nil {
				n.env = map[string]string{}
			}
			for kk, vv := range m {
				n.env[kk] = vv
			}
		}
	}
	for _, k := range []string{"url", "serverUrl", "httpUrl", "uri"} {
		if u := str(obj[k]); u != "" {
			n.url, n.urlKey = u, k
			break
		}
	}
	for _, k := range []string{"headers", "http_headers", "requestInit"} {
		m := strMap(obj[k])
		if k == "requestInit" {
			if ri, ok := obj[k].(map[string]any); ok {
				m = strMap(ri["headers"])
			}
		}
		if len(m) > 0 {
			n.headers = m
			break
		}
	}
	typ := strings.ToLower(str(obj["type"]))
	if typ == "" {
		typ = strings.ToLower(str(obj["transport"]))
	}
	switch {
	case typ == "sse":
		n.transport = TransportSSE
	case strings.Contains(typ, "http") || typ == "remote":
		n.transport = TransportHTTP
	case n.url != "" && n.command == "":
		n.transport = TransportHTTP
		if client == "gemini-cli" && n.urlKey == "url" {
			n.transport = TransportSSE // Gemini CLI: url is SSE, httpUrl is Streamable HTTP
		}
		if strings.HasSuffix(strings.TrimRight(n.url, "/"), "/sse") {
			n.transport = TransportSSE
		}
	default:
		n.transport = TransportStdio
	}
	if b, ok := obj["disabled"].(bool); ok && b {
		n.disabled = true
	}
	if b, ok := obj["enabled"].(bool); ok && !b {
		n.disabled = true
	}
	return n
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "~") || (len(s) > 2 && s[1] == ':' && (s[2] == '\\' || s[2] == '/'))
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	case map[string]any, []any:
		return ""
	default:
		return fmt.Sprint(t)
	}
}

func strList(v any) []string {
	switch t := v.(type) {
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			out = append(out, str(x))
		}
		return out
	case []string:
		return t
	}
	return nil
}

func strMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = str(x)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lineOf returns the 1-based line of the first occurrence of a server name as a key, 0 when not found.
func lineOf(data []byte, name string) int {
	for _, needle := range []string{strconv.Quote(name), "[mcp_servers." + name + "]", "mcp_servers." + name, name + ":", "name: " + name} {
		if i := bytes.Index(data, []byte(needle)); i >= 0 {
			return bytes.Count(data[:i], []byte("\n")) + 1
		}
	}
	return 0
}

// maxNesting bounds how deeply arrays and objects may nest in a JSON or TOML configuration file.
const maxNesting = 1000

// decodeText returns a file's text as UTF-8: a UTF-8 byte order mark is dropped and UTF-16 (as Windows
// editors and PowerShell write it, with a byte order mark, or without one when the text starts with an
// ASCII character) is converted.
func decodeText(data []byte) ([]byte, error) {
	var bigEndian bool
	switch {
	case bytes.HasPrefix(data, utf8BOM):
		return data[3:], nil
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		data = data[2:]
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		data, bigEndian = data[2:], true
	case len(data) >= 2 && data[0] != 0 && data[0] < 0x80 && data[1] == 0:
	case len(data) >= 2 && data[0] == 0 && data[1] != 0 && data[1] < 0x80:
		bigEndian = true
	default:
		return data, nil
	}
	if len(data)%2 != 0 {
		return nil, errors.New("invalid UTF-16 text: odd number of bytes")
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		if bigEndian {
			units[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		} else {
			units[i] = uint16(data[2*i+1])<<8 | uint16(data[2*i])
		}
	}
	return []byte(string(utf16.Decode(units))), nil
}

// checkNesting fails when arrays, objects or inline tables nest deeper than maxNesting. It skips strings
// and comments as JSON (with comments) and TOML spell them.
func checkNesting(format string, data []byte) error {
	depth, line := 0, 1
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			line++
		case c == '[' || c == '{':
			if depth++; depth > maxNesting {
				return fmt.Errorf("line %d: arrays/objects nested more than %d levels deep; not parsed", line, maxNesting)
			}
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		case c == '"' || (c == '\'' && format == formatTOML):
			quote := string(c)
			if bytes.HasPrefix(data[i:], []byte(quote+quote+quote)) && format == formatTOML {
				quote += quote + quote
			}
			j := i + len(quote)
			for j < len(data) && !bytes.HasPrefix(data[j:], []byte(quote)) {
				if data[j] == '\\' && c == '"' {
					j++
				} else if data[j] == '\n' {
					if len(quote) == 1 {
						break // unterminated; the parser reports it
					}
					line++
				}
				j++
			}
			if j < len(data) && data[j] == '\n' {
				i = j - 1
				continue
			}
			i = j + len(quote) - 1
		case c == '#' && format == formatTOML, c == '/' && format == formatJSON && i+1 < len(data) && data[i+1] == '/':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case c == '/' && format == formatJSON && i+1 < len(data) && data[i+1] == '*':
			end := bytes.Index(data[i+2:], []byte("*/"))
			if end < 0 {
				return nil // unterminated comment: the parser reports it
			}
			line += bytes.Count(data[i:i+2+end], []byte("\n"))
			i += 2 + end + 1
		}
	}
	return nil
}

// duplicateKeys lists keys written twice in one JSON object (what and on which line). Clients keep the
// last one, and so does discovery; the earlier definition is invisible unless it is pointed out.
func duplicateKeys(format string, data []byte) []string {
	if format != formatJSON {
		return nil // YAML and TOML parsers reject duplicate keys themselves
	}
	std, err := standardizeJSON(data) // keeps byte offsets: comments become spaces
	if err != nil || len(std) < len(data) {
		return nil
	}
	type frame struct {
		object bool
		name   string
		keys   map[string]bool
		expect bool // an object expecting a key next
	}
	dec := json.NewDecoder(bytes.NewReader(std))
	var stack []*frame
	var out []string
	path := func() string {
		var parts []string
		for _, f := range stack[:len(stack)-1] {
			if f.object {
				parts = append(parts, f.name)
			} else {
				parts = append(parts, "[]")
			}
		}
		return strings.Join(parts, ".")
	}
	for len(out) < 20 {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if k, ok := tok.(string); ok {
				top.expect = false
				if top.keys[k] {
					where := path()
					if where == "" {
						where = "the top level"
					}
					line := bytes.Count(data[:dec.InputOffset()], []byte("\n")) + 1
					out = append(out, fmt.Sprintf("line %d: key %q appears more than once in %s; the last definition is used", line, k, where))
				}
				top.keys[k] = true
				top.name = k
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
	return out
}

// standardizeJSON turns JSON with comments and trailing commas into standard JSON of the same length. A
// file may end in a // comment without a newline, which hujson rejects: it is retried with one added.
func standardizeJSON(data []byte) ([]byte, error) {
	std, err := hujson.Standardize(bytes.Clone(data))
	if err != nil {
		if std2, err2 := hujson.Standardize(append(bytes.Clone(data), '\n')); err2 == nil {
			return std2, nil
		}
	}
	return std, err
}
