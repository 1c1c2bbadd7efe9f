package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

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
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	doc := map[string]any{}
	switch format {
	case formatJSON:
		std, err := hujson.Standardize(bytes.Clone(data))
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

// extractEntries finds the server entries of a document written in a client dialect.
func extractEntries(dialect string, doc map[string]any) []rawEntry {
	var out []rawEntry
	fromMap := func(m any, project string, prefix ...string) {
		mm, _ := m.(map[string]any)
		for _, name := range sortedKeys(mm) {
			obj, ok := mm[name].(map[string]any)
			if !ok {
				continue
			}
			out = append(out, rawEntry{name: name, project: project, obj: obj, pointer: append(append([]string{}, prefix...), name)})
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
	return out
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
