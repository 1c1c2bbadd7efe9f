package discovery

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailscale/hujson"
)

// FuzzConfigDocument feeds arbitrary bytes through every format and dialect parser: nothing may panic, and a
// document that decodes must yield entries that normalise and score.
func FuzzConfigDocument(f *testing.F) {
	f.Add([]byte(`{"mcpServers": {"a": {"command": "npx", "args": ["-y", "x@1.0.0"], "env": {"TOKEN": "abcdefgh12"}}},}`), uint8(0))
	f.Add([]byte("// c\n{\"projects\": {\"/p\": {\"mcpServers\": {\"b\": {\"url\": \"http://h/mcp?api_key=zzzzzzzzzz\"}}}}}"), uint8(1))
	f.Add([]byte("[mcp_servers.x]\ncommand = \"uvx\"\nargs = [\"a==1\"]\n"), uint8(2))
	f.Add([]byte("mcpServers:\n  - name: s\n    command: npx\n"), uint8(3))
	f.Add([]byte("extensions:\n  g:\n    type: stdio\n    cmd: docker\n    args: [run, -i, img@sha256:00]\n"), uint8(4))
	f.Add([]byte(`{"context_servers": {"z": {"command": {"path": "/bin/x", "args": ["/"]}}}}`), uint8(5))
	formats := []string{formatJSON, formatJSON, formatTOML, formatYAML, formatYAML, formatJSON}
	dialects := []string{dialectMCPServers, dialectClaudeCode, dialectCodex, dialectContinue, dialectGoose, dialectZed,
		dialectVSCodeMCP, dialectVSCodeSettings, dialectOpenCode, dialectCrush}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		format := formats[int(sel)%len(formats)]
		doc, err := decodeDocument(format, data)
		if err != nil {
			return
		}
		for _, d := range dialects {
			for _, re := range firstEntries(extractEntries(d, doc)) {
				s := buildServer(Location{Client: "cursor", Path: "/f", Format: format, Dialect: d}, re, data, &Options{Home: "/home/u", Root: "/"})
				if s.Risk.Score < 0 || s.Risk.Score > 100 || s.Risk.Level == "" {
					t.Fatalf("bad risk %+v", s.Risk)
				}
			}
		}
	})
}

func FuzzParseProcNetTCP(f *testing.F) {
	f.Add([]byte("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1\n"))
	f.Add([]byte("h\n 0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 77\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := parseProcNetTCP(data)
		if err != nil {
			return
		}
		for _, l := range ls {
			if !strings.Contains(l.Addr, ":") {
				t.Fatalf("address without port: %q", l.Addr)
			}
		}
	})
}

func FuzzParseTargets(f *testing.F) {
	f.Add("127.0.0.1:8000-8100")
	f.Add("[::1]:3000,localhost:1-2")
	f.Add("h:0-65536")
	f.Fuzz(func(t *testing.T, spec string) {
		ts, err := ParseTargets(spec, 64)
		if err == nil && (len(ts) == 0 || len(ts) > 64) {
			t.Fatalf("ParseTargets(%q) = %d targets", spec, len(ts))
		}
	})
}

// FuzzEnrollRewrite checks that rewriting any parsable JSONC server entry yields a document that parses.
func FuzzEnrollRewrite(f *testing.F) {
	f.Add([]byte("{\n  // c\n  \"mcpServers\": {\"a\": {\"command\": \"npx\", \"env\": {\"K\": \"v\"},},\n \"b\": {\"url\": \"https://x/sse\", \"type\": \"sse\"}}\n}"))
	f.Add([]byte("{\"mcpServers\":{\"a/b~c\":{\"command\":\"x\",\"args\":[1,true,null]}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := hujson.Parse(data)
		if err != nil {
			return
		}
		doc, err := decodeDocument(formatJSON, data)
		if err != nil {
			return
		}
		opts := &EnrollOptions{GatewayConfig: "/gw.yaml", GatewayURL: "http://127.0.0.1:8740", Command: "mcpwarden"}
		for _, re := range firstEntries(extractEntries(dialectMCPServers, doc)) {
			v := root.Find(jsonPointer(re.pointer))
			if v == nil {
				continue // e.g. a key with invalid UTF-8: JSON decoding replaced it; planFile reports it
			}
			obj, ok := v.Value.(*hujson.Object)
			if !ok {
				continue
			}
			n := normalize("cursor", re.obj)
			s := &Server{Name: re.name, Transport: n.transport, Command: n.command, urlKey: n.urlKey, dialect: dialectMCPServers}
			entry, err := rewriteEntry(obj, s, sanitizeName(re.name), opts)
			if err != nil {
				continue
			}
			out := append(append(append([]byte{}, data[:v.StartOffset]...), renderObject(entry, lineIndent(data, v.StartOffset), detectIndent(data))...), data[v.EndOffset:]...)
			if _, err := hujson.Parse(out); err != nil {
				t.Fatalf("rewritten document does not parse: %v\n%s", err, out)
			}
		}
	})
}

func FuzzTOMLServerSpan(f *testing.F) {
	f.Add([]byte("[mcp_servers.a]\ncommand = \"x\"\n[mcp_servers.a.env]\nK = \"v\"\n[other]\n"), "a")
	f.Add([]byte("[mcp_servers.'q.r']\n[[arr]]\n"), "q.r")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		start, end, ok := tomlServerSpan(data, name)
		if ok && (start < 0 || end < start || end > len(data)) {
			t.Fatalf("bad span %d..%d of %d", start, end, len(data))
		}
	})
}

// FuzzEnrollTextFormats rewrites every server of arbitrary TOML (Codex) and YAML (Goose, Continue) documents:
// a rewrite must never produce a document that fails to parse.
func FuzzEnrollTextFormats(f *testing.F) {
	f.Add([]byte("[mcp_servers.a]\ncommand = \"npx\"\nargs = [\"x\"]\n[mcp_servers.a.env]\nK = \"v\"\n"), uint8(0))
	f.Add([]byte("extensions:\n  g:\n    type: stdio\n    cmd: npx\n    args: [a]\n  h:\n    type: sse\n    uri: http://x/sse\n"), uint8(1))
	f.Add([]byte("mcpServers:\n  - name: s\n    command: npx\n  - name: t\n    url: http://x\n"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		formats := []string{formatTOML, formatYAML, formatYAML}
		dialects := []string{dialectCodex, dialectGoose, dialectContinue}
		i := int(sel) % 3
		doc, err := decodeDocument(formats[i], data)
		if err != nil {
			return
		}
		file := filepath.Join(t.TempDir(), "cfg")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := &EnrollOptions{GatewayConfig: "/gw.yaml", GatewayURL: "http://127.0.0.1:8740", Command: "mcpwarden"}
		var servers []*Server
		for _, re := range firstEntries(extractEntries(dialects[i], doc)) {
			s := buildServer(Location{Client: "x", Path: file, Format: formats[i], Dialect: dialects[i]}, re, data, &Options{Home: "/h", Root: "/"})
			servers = append(servers, &s)
		}
		plan := planTOMLFile
		if i > 0 {
			plan = planYAMLFile
		}
		_, _, err = plan(file, servers, &gatewayFile{}, opts, &FileChange{})
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatal(err)
		}
	})
}

func firstEntries(entries []rawEntry, _ []string) []rawEntry { return entries }
