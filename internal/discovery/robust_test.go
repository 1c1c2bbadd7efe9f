package discovery

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// writeTree writes files (slash-separated paths relative to dir) and returns dir.
func writeTree(t *testing.T, dir string, files map[string][]byte) string {
	t.Helper()
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func utf16Bytes(s string, bigEndian, bom bool) []byte {
	var out []byte
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xfeff}, units...)
	}
	for _, u := range units {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

func scanHome(t *testing.T, home string) (*Inventory, map[string]Server, map[string]string) {
	t.Helper()
	inv, err := Scan(context.Background(), Options{OS: "linux", Home: home, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Server{}
	for _, s := range inv.Servers {
		by[s.Client+"/"+s.Name] = s
	}
	errs := map[string]string{}
	for _, e := range inv.Errors {
		rel, _ := filepath.Rel(home, e.Path)
		errs[filepath.ToSlash(rel)] += e.Error + "\n"
	}
	return inv, by, errs
}

// TestEncodingsAndSyntax: files as Windows editors and humans write them are read, not rejected.
func TestEncodingsAndSyntax(t *testing.T) {
	entry := `{"mcpServers": {"enc": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory@1.0.0"]}}}`
	home := writeTree(t, t.TempDir(), map[string][]byte{
		".cursor/mcp.json":                          append([]byte("\xef\xbb\xbf"), []byte(strings.ReplaceAll(entry, " ", "\r\n"))...),
		".codeium/windsurf/mcp_config.json":         utf16Bytes(entry, false, true),
		".kiro/settings/mcp.json":                   utf16Bytes(entry, true, true),
		".lmstudio/mcp.json":                        utf16Bytes(entry, false, false), // no BOM
		".config/Claude/claude_desktop_config.json": []byte("// user config\n{\"mcpServers\": {/* c */ \"enc\": {\"command\": \"uvx\", \"args\": [\"mcp-server-time\",],},},}\n"),
		".codex/config.toml":                        append([]byte("\xef\xbb\xbf"), []byte("[mcp_servers.enc]\r\ncommand = \"npx\"\r\n")...),
		".config/goose/config.yaml":                 append([]byte("\xef\xbb\xbf"), []byte("extensions:\r\n  enc:\r\n    type: stdio\r\n    cmd: npx\r\n")...),
		".gemini/settings.json":                     {},
		".aws/amazonq/mcp.json":                     []byte(" \n\t"),
	})
	inv, by, errs := scanHome(t, home)
	if len(errs) > 0 {
		t.Errorf("errors: %v", errs)
	}
	for _, k := range []string{"cursor/enc", "windsurf/enc", "kiro/enc", "lm-studio/enc", "claude-desktop/enc", "codex/enc", "goose/enc"} {
		if _, ok := by[k]; !ok {
			t.Errorf("%s not found; servers: %v", k, inv.Servers)
		}
	}
	if s := by["cursor/enc"]; s.Line != 2 {
		t.Errorf("line of a server in a BOM/CRLF file = %d, want 2", s.Line)
	}
}

// TestDeepNestingDoesNotCrash: the JSON and TOML parsers recurse per level; a few MB of brackets used to
// overflow the stack and kill the whole scan (a fatal error, not a panic).
func TestDeepNestingDoesNotCrash(t *testing.T) {
	n := 3 << 20
	home := writeTree(t, t.TempDir(), map[string][]byte{
		".cursor/mcp.json":        []byte(`{"mcpServers": {}, "x": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}"),
		".codex/config.toml":      []byte("a = " + strings.Repeat("[", n) + strings.Repeat("]", n)),
		".continue/config.yaml":   []byte("a: " + strings.Repeat("[", n) + strings.Repeat("]", n)),
		".kiro/settings/mcp.json": []byte(`{"mcpServers": {"ok": {"command": "x", "args": ["[[[[", "]]]]"]}}} // ]]]]`),
	})
	_, by, errs := scanHome(t, home)
	for _, f := range []string{".cursor/mcp.json", ".codex/config.toml", ".continue/config.yaml"} {
		if errs[f] == "" {
			t.Errorf("%s: no error reported", f)
		}
	}
	if !strings.Contains(errs[".cursor/mcp.json"], "line 1: arrays/objects nested more than 1000") {
		t.Errorf("error = %q", errs[".cursor/mcp.json"])
	}
	if _, ok := by["kiro/ok"]; !ok {
		t.Errorf("brackets inside strings and comments counted as nesting: %q", errs[".kiro/settings/mcp.json"])
	}
	// Brackets in strings do not hide real nesting.
	deep := `{"a": ` + strings.Repeat(`["]", `, 2000) + strings.Repeat("]", 2000) + "}"
	if checkNesting(formatJSON, []byte(deep)) == nil {
		t.Error("nesting behind string brackets not caught")
	}
	deepTOML := "a = " + strings.Repeat(`['''], ''', `, 2000) + strings.Repeat("]", 2000)
	if checkNesting(formatTOML, []byte(deepTOML)) == nil {
		t.Error("TOML nesting behind literal-string brackets not caught")
	}
}

// TestBadFilesKeepTheRest: every bad file gets its own error naming what is wrong, and the good files'
// servers are all still reported.
func TestBadFilesKeepTheRest(t *testing.T) {
	home := writeTree(t, t.TempDir(), map[string][]byte{
		".cursor/mcp.json":                  []byte(`{"mcpServers": {"good": {"command": "npx", "args": ["-y", "pkg"]}}}`),
		".codeium/windsurf/mcp_config.json": []byte("{\n  \"mcpServers\": {\n    \"x\": {\"command\": \"npx\"\n  }\n"),
		".kiro/settings/mcp.json":           []byte(`{"mcpServers": [{"name": "listed", "command": "uvx", "args": ["pkg"]}, "junk"]}`),
		".gemini/settings.json":             []byte(`{"mcpServers": {"str": "npx -y evil", "num": 5, "ok": {"httpUrl": "https://x.example/mcp"}}}`),
		".lmstudio/mcp.json":                []byte("{\"mcpServers\": {\n\"dup\": {\"command\": \"evil\"},\n\"dup\": {\"command\": \"benign\"}}}"),
		".continue/config.yaml":             []byte("mcpServers:\n  - name: same\n    command: npx\n  - name: same\n    command: uvx\n"),
		".aws/amazonq/mcp.json":             []byte(`{"mcpServers": "npx"}`),
		".codex/config.toml":                []byte("[mcp_servers.a]\ncommand = \"x\"\n[mcp_servers.a]\ncommand = \"y\"\n"),
		".config/goose/config.yaml":         []byte("extensions:\n  e: cmd\n"),
		".config/zed/settings.json":         []byte(`["not an object"]`),
	})
	if err := os.MkdirAll(filepath.Join(home, ".sema4ai", "sema4ai-studio", "mcp_servers.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".config", "crush"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("crush.json", filepath.Join(home, ".config", "crush", "crush.json")); err != nil {
		t.Skip("no symlinks:", err)
	}
	big := filepath.Join(home, ".config", "opencode", "opencode.json")
	if err := os.MkdirAll(filepath.Dir(big), 0o755); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Create(big); err != nil {
		t.Fatal(err)
	} else {
		_ = f.Truncate(maxConfigBytes + 1) // sparse: nothing is written
		f.Close()
	}
	inv, by, errs := scanHome(t, home)
	want := map[string]string{
		".codeium/windsurf/mcp_config.json":        "invalid JSON: hujson: line 5",
		".kiro/settings/mcp.json":                  "mcpServers[1]: server entry is a string",
		".gemini/settings.json":                    `mcpServers.str: server entry is a string, not an object`,
		".lmstudio/mcp.json":                       `line 3: key "dup" appears more than once in mcpServers`,
		".aws/amazonq/mcp.json":                    "mcpServers: is a string, not an object of servers",
		".codex/config.toml":                       "invalid TOML",
		".config/goose/config.yaml":                "extensions.e: extension entry is a string",
		".config/zed/settings.json":                "top level is not a JSON object",
		".sema4ai/sema4ai-studio/mcp_servers.json": "is a directory",
		".config/crush/crush.json":                 "too many levels of symbolic links",
		".config/opencode/opencode.json":           "larger than the",
	}
	for f, w := range want {
		if !strings.Contains(errs[f], w) {
			t.Errorf("%s: error %q, want it to contain %q", f, errs[f], w)
		}
	}
	if !strings.Contains(errs[".gemini/settings.json"], "mcpServers.num: server entry is a number") {
		t.Errorf("gemini errors: %q", errs[".gemini/settings.json"])
	}
	for _, k := range []string{"cursor/good", "kiro/listed", "gemini-cli/ok", "lm-studio/dup", "continue/same"} {
		if _, ok := by[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	if by["lm-studio/dup"].Command != "benign" {
		t.Errorf("duplicate key: got %q, want the last definition (what the client runs)", by["lm-studio/dup"].Command)
	}
	ids := map[string]bool{}
	for _, s := range inv.Servers {
		if ids[s.ID] {
			t.Errorf("duplicate server id %s (%s/%s)", s.ID, s.Client, s.Name)
		}
		ids[s.ID] = true
	}
	var files int
	for _, f := range inv.Files {
		if f.Path == big {
			files++
		}
	}
	if files != 1 {
		t.Errorf("the oversized file should be listed once under files, got %d", files)
	}
}

// TestEntryShapes: remote spellings, disabled servers, one-string commands, Docker and placeholders.
func TestEntryShapes(t *testing.T) {
	home := writeTree(t, t.TempDir(), map[string][]byte{
		".cursor/mcp.json": []byte(`{"mcpServers": {
			"off": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@1.0.0", "/tmp"], "disabled": true},
			"surl": {"serverUrl": "https://a.example/mcp"},
			"sse": {"type": "sse", "url": "https://b.example/events"},
			"sh": {"type": "streamable-http", "url": "https://c.example/mcp"},
			"oneline": {"command": "npx -y @acme/mcp-thing@2.1.0 --token ghp_abcdefghijklmnopqrstuvwxyz0123"},
			"dock": {"command": "docker", "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123"}},
			"uv": {"command": "uvx", "args": ["mcp-server-fetch==2025.1.1"]},
			"ph": {"url": "https://d.example/mcp", "headers": {"Authorization": "Bearer ${input:tok}"}, "env": {"K": "${env:API_KEY}"}},
			"gitpkg": {"command": "npx", "args": ["-y", "git+https://bob:ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/o/r"]},
			"tokcmd": {"command": "/usr/bin/env", "args": []}
		}}`),
	})
	inv, by, errs := scanHome(t, home)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if s := by["cursor/off"]; !s.Disabled || s.Package.Name != "@modelcontextprotocol/server-filesystem" {
		t.Errorf("disabled server: %+v", s)
	}
	for name, tr := range map[string]string{"surl": TransportHTTP, "sse": TransportSSE, "sh": TransportHTTP, "ph": TransportHTTP} {
		if got := by["cursor/"+name].Transport; got != tr {
			t.Errorf("%s: transport %q, want %q", name, got, tr)
		}
	}
	if s := by["cursor/oneline"]; s.Command != "npx" || s.Package.Name != "@acme/mcp-thing" || s.Package.Pin != "exact" || len(s.InlineSecrets) == 0 {
		t.Errorf("one-string command: %+v", s)
	}
	if s := by["cursor/dock"]; s.Package.Ecosystem != "docker" || s.Package.Name != "ghcr.io/github/github-mcp-server" || len(s.InlineSecrets) != 1 {
		t.Errorf("docker: %+v", s)
	}
	if s := by["cursor/uv"]; s.Package.Ecosystem != "pypi" || !s.Package.Pinned {
		t.Errorf("uvx: %+v", s.Package)
	}
	if s := by["cursor/ph"]; len(s.InlineSecrets) != 0 {
		t.Errorf("placeholders flagged as secrets: %v", s.InlineSecrets)
	}
	if s := by["cursor/gitpkg"]; len(s.InlineSecrets) == 0 {
		t.Errorf("git URL token not flagged: %+v", s)
	}
	var buf bytes.Buffer
	if err := inv.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("ghp_abcdefghij")) {
		t.Errorf("a secret leaked into the JSON inventory:\n%s", buf.String())
	}
	buf.Reset()
	if err := inv.WriteSARIF(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("ghp_abcdefghij")) {
		t.Error("a secret leaked into SARIF")
	}
}

// TestWindowsEnvAndExtraPaths: a redirected %APPDATA% / %LOCALAPPDATA%, Continue's mcpServers/*.json and
// Windsurf Next are read.
func TestWindowsEnvAndExtraPaths(t *testing.T) {
	entry := []byte(`{"mcpServers": {"s": {"command": "npx", "args": ["-y", "pkg"]}}}`)
	home := writeTree(t, t.TempDir(), map[string][]byte{
		".continue/mcpServers/from-claude.json":  entry,
		".codeium/windsurf-next/mcp_config.json": entry,
	})
	roaming := writeTree(t, t.TempDir(), map[string][]byte{"Claude/claude_desktop_config.json": entry})
	local := writeTree(t, t.TempDir(), map[string][]byte{"crush/crush.json": []byte(`{"mcp": {"s": {"type": "stdio", "command": "uvx"}}}`)})
	env := map[string]string{"APPDATA": roaming, "LOCALAPPDATA": local}
	inv, err := Scan(context.Background(), Options{OS: "windows", Home: home, Root: t.TempDir(), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range inv.Servers {
		got[s.Client] = true
	}
	for _, c := range []string{"claude-desktop", "crush", "continue", "windsurf"} {
		if !got[c] {
			t.Errorf("%s not found (errors %v)", c, inv.Errors)
		}
	}
}
