package discovery

import (
	"path/filepath"
	"sort"
	"strings"
)

// Formats of configuration files.
const (
	formatJSON = "jsonc" // JSON with comments and trailing commas tolerated
	formatTOML = "toml"
	formatYAML = "yaml"
)

// Dialects: where the servers sit inside a document and how an entry is spelled.
const (
	dialectMCPServers     = "mcpServers"      // {"mcpServers": {name: entry}}
	dialectClaudeCode     = "claude-code"     // mcpServers plus projects.<path>.mcpServers
	dialectVSCodeMCP      = "vscode-mcp"      // {"servers": {name: entry}}
	dialectVSCodeSettings = "vscode-settings" // {"mcp": {"servers": {...}}} or {"mcp.servers": {...}}
	dialectZed            = "zed"             // {"context_servers": {name: entry}}
	dialectContinue       = "continue"        // mcpServers as a list of {name, ...} (YAML or JSON)
	dialectGoose          = "goose"           // extensions: {name: {type, cmd, args, envs, uri}}
	dialectOpenCode       = "opencode"        // {"mcp": {name: {type: local|remote, command: [argv]}}}
	dialectCrush          = "crush"           // {"mcp": {name: {type, command, args, url}}}
	dialectCodex          = "codex"           // [mcp_servers.NAME] in TOML
)

// Client is one MCP client whose configuration discovery reads.
type Client struct {
	// ID is the short name used with --client (e.g. "claude-code").
	ID string
	// Name is the display name.
	Name string
	// locations returns the user and managed files for an OS layout.
	locations func(e *pathEnv) []Location
	// project lists files looked for inside every project folder, relative to it.
	project []projectFile
}

// Location is one place a client keeps a configuration file.
type Location struct {
	Client  string
	Path    string
	Scope   Scope
	Format  string
	Dialect string
	// Project is set for files found inside a project folder.
	Project string
}

type projectFile struct {
	rel     string // slash-separated, relative to the project folder
	format  string
	dialect string
}

// pathEnv resolves the per-OS base directories of a (possibly fake) machine.
type pathEnv struct {
	os     string // linux, darwin or windows
	home   string
	root   string // prefix for absolute system paths (/etc, /Library, C:\ProgramData)
	getenv func(string) string
}

func (e *pathEnv) h(parts ...string) string {
	return filepath.Join(append([]string{e.home}, parts...)...)
}

// sys returns a system-wide path under the root.
func (e *pathEnv) sys(parts ...string) string {
	return filepath.Join(append([]string{e.root}, parts...)...)
}

// appSupport is the per-user application data folder: ~/Library/Application Support (macOS),
// %APPDATA% (Windows) or $XDG_CONFIG_HOME (Linux).
func (e *pathEnv) appSupport(parts ...string) string {
	switch e.os {
	case "darwin":
		return e.h(append([]string{"Library", "Application Support"}, parts...)...)
	case "windows":
		if v := e.env("APPDATA"); v != "" { // a redirected roaming profile
			return filepath.Join(append([]string{v}, parts...)...)
		}
		return e.h(append([]string{"AppData", "Roaming"}, parts...)...)
	default:
		return filepath.Join(append([]string{e.xdgConfig()}, parts...)...)
	}
}

// xdgConfig is $XDG_CONFIG_HOME or ~/.config (also used on macOS by CLI tools that follow XDG).
func (e *pathEnv) xdgConfig(parts ...string) string {
	base := e.h(".config")
	if v := e.env("XDG_CONFIG_HOME"); v != "" && e.os != "windows" {
		base = v
	}
	return filepath.Join(append([]string{base}, parts...)...)
}

func (e *pathEnv) localAppData(parts ...string) string {
	if v := e.env("LOCALAPPDATA"); v != "" {
		return filepath.Join(append([]string{v}, parts...)...)
	}
	return e.h(append([]string{"AppData", "Local"}, parts...)...)
}

func (e *pathEnv) env(name string) string {
	if e.getenv == nil {
		return ""
	}
	return e.getenv(name)
}

// managedDir is the system folder for managed settings of an app: /etc/<linux> (Linux),
// /Library/Application Support/<mac> (macOS), C:\ProgramData\<win> (Windows).
func (e *pathEnv) managedDir(linux, mac, win string, parts ...string) string {
	switch e.os {
	case "darwin":
		return e.sys(append([]string{"Library", "Application Support", mac}, parts...)...)
	case "windows":
		return e.sys(append([]string{"ProgramData", win}, parts...)...)
	default:
		return e.sys(append([]string{"etc", linux}, parts...)...)
	}
}

func loc(path string, scope Scope, format, dialect string) Location {
	return Location{Path: path, Scope: scope, Format: format, Dialect: dialect}
}

// codeUserDirs are the "User" folders of VS Code and Cursor (Cline lives in both).
func (e *pathEnv) codeUserDir(app string) string { return e.appSupport(app, "User") }

// Clients returns the table of known MCP clients, sorted by ID.
func Clients() []Client {
	cs := []Client{
		{ID: "claude-desktop", Name: "Claude Desktop", locations: func(e *pathEnv) []Location {
			if e.os == "linux" {
				return []Location{
					loc(e.xdgConfig("Claude", "claude_desktop_config.json"), ScopeUser, formatJSON, dialectMCPServers),
					loc(e.xdgConfig("claude", "claude_desktop_config.json"), ScopeUser, formatJSON, dialectMCPServers),
				}
			}
			return []Location{loc(e.appSupport("Claude", "claude_desktop_config.json"), ScopeUser, formatJSON, dialectMCPServers)}
		}},
		{ID: "claude-code", Name: "Claude Code", locations: func(e *pathEnv) []Location {
			dir := e.home
			if v := e.env("CLAUDE_CONFIG_DIR"); v != "" {
				dir = v
			}
			ls := []Location{loc(filepath.Join(dir, ".claude.json"), ScopeUser, formatJSON, dialectClaudeCode)}
			if dir != e.home {
				ls = append(ls, loc(e.h(".claude.json"), ScopeUser, formatJSON, dialectClaudeCode))
			}
			for _, p := range boundedGlob(e.h(".claude", "plugins", "cache"), ".mcp.json", 4, 200) {
				ls = append(ls, loc(p, ScopeUser, formatJSON, dialectMCPServers))
			}
			ls = append(ls, loc(e.managedDir("claude-code", "ClaudeCode", "ClaudeCode", "managed-mcp.json"), ScopeManaged, formatJSON, dialectMCPServers))
			return ls
		}, project: []projectFile{{".mcp.json", formatJSON, dialectMCPServers}}},
		{ID: "cursor", Name: "Cursor", locations: func(e *pathEnv) []Location {
			return []Location{loc(e.h(".cursor", "mcp.json"), ScopeUser, formatJSON, dialectMCPServers)}
		}, project: []projectFile{{".cursor/mcp.json", formatJSON, dialectMCPServers}}},
		{ID: "vscode", Name: "VS Code", locations: func(e *pathEnv) []Location {
			u := e.codeUserDir("Code")
			return []Location{
				loc(filepath.Join(u, "mcp.json"), ScopeUser, formatJSON, dialectVSCodeMCP),
				loc(filepath.Join(u, "settings.json"), ScopeUser, formatJSON, dialectVSCodeSettings),
				loc(e.h(".vscode", "mcp.json"), ScopeUser, formatJSON, dialectVSCodeMCP),
			}
		}, project: []projectFile{{".vscode/mcp.json", formatJSON, dialectVSCodeMCP}}},
		{ID: "windsurf", Name: "Windsurf", locations: func(e *pathEnv) []Location {
			return []Location{
				loc(e.h(".codeium", "windsurf", "mcp_config.json"), ScopeUser, formatJSON, dialectMCPServers),
				loc(e.h(".codeium", "windsurf-next", "mcp_config.json"), ScopeUser, formatJSON, dialectMCPServers),
				loc(e.h(".codeium", "mcp_config.json"), ScopeUser, formatJSON, dialectMCPServers),
			}
		}},
		{ID: "cline", Name: "Cline", locations: func(e *pathEnv) []Location {
			var ls []Location
			for _, app := range []string{"Code", "Cursor"} {
				ls = append(ls, loc(filepath.Join(e.codeUserDir(app), "globalStorage", "saoudrizwan.claude-dev", "settings", "cline_mcp_settings.json"), ScopeUser, formatJSON, dialectMCPServers))
			}
			return ls
		}},
		{ID: "gemini-cli", Name: "Gemini CLI", locations: func(e *pathEnv) []Location {
			return []Location{
				loc(e.h(".gemini", "settings.json"), ScopeUser, formatJSON, dialectMCPServers),
				loc(e.h(".gemini", "antigravity", "mcp_config.json"), ScopeUser, formatJSON, dialectMCPServers),
				loc(e.managedDir("gemini-cli", "GeminiCli", "gemini-cli", "settings.json"), ScopeManaged, formatJSON, dialectMCPServers),
			}
		}, project: []projectFile{{".gemini/settings.json", formatJSON, dialectMCPServers}}},
		{ID: "codex", Name: "Codex", locations: func(e *pathEnv) []Location {
			dir := e.h(".codex")
			if v := e.env("CODEX_HOME"); v != "" {
				dir = v
			}
			ls := []Location{loc(filepath.Join(dir, "config.toml"), ScopeUser, formatTOML, dialectCodex)}
			if m, _ := filepath.Glob(filepath.Join(dir, "*.config.toml")); len(m) > 0 {
				sort.Strings(m)
				for _, p := range m {
					ls = append(ls, loc(p, ScopeUser, formatTOML, dialectCodex))
				}
			}
			ls = append(ls,
				loc(e.sys("etc", "codex", "config.toml"), ScopeManaged, formatTOML, dialectCodex),
				loc(e.sys("etc", "codex", "managed_config.toml"), ScopeManaged, formatTOML, dialectCodex),
				loc(e.sys("etc", "codex", "requirements.toml"), ScopeManaged, formatTOML, dialectCodex))
			return ls
		}, project: []projectFile{{".codex/config.toml", formatTOML, dialectCodex}}},
		{ID: "zed", Name: "Zed", locations: func(e *pathEnv) []Location {
			if e.os == "windows" {
				return []Location{loc(e.appSupport("Zed", "settings.json"), ScopeUser, formatJSON, dialectZed)}
			}
			return []Location{loc(e.xdgConfig("zed", "settings.json"), ScopeUser, formatJSON, dialectZed)}
		}, project: []projectFile{{".zed/settings.json", formatJSON, dialectZed}}},
		{ID: "continue", Name: "Continue", locations: func(e *pathEnv) []Location {
			ls := []Location{
				loc(e.h(".continue", "config.yaml"), ScopeUser, formatYAML, dialectContinue),
				loc(e.h(".continue", "config.json"), ScopeUser, formatJSON, dialectContinue),
			}
			// Continue reads every YAML block in mcpServers/, and JSON files copied there from other
			// clients ({"mcpServers": {...}}).
			var m []string
			for _, pat := range []string{"*.yaml", "*.yml", "*.json"} {
				g, _ := filepath.Glob(e.h(".continue", "mcpServers", pat))
				m = append(m, g...)
			}
			sort.Strings(m)
			for _, p := range m {
				format := formatYAML
				if strings.HasSuffix(p, ".json") {
					format = formatJSON
				}
				ls = append(ls, loc(p, ScopeUser, format, dialectContinue))
			}
			return ls
		}},
		{ID: "goose", Name: "Goose", locations: func(e *pathEnv) []Location {
			if e.os == "windows" {
				return []Location{loc(e.appSupport("Block", "goose", "config", "config.yaml"), ScopeUser, formatYAML, dialectGoose)}
			}
			return []Location{loc(e.xdgConfig("goose", "config.yaml"), ScopeUser, formatYAML, dialectGoose)}
		}},
		{ID: "kiro", Name: "Kiro", locations: func(e *pathEnv) []Location {
			return []Location{loc(e.h(".kiro", "settings", "mcp.json"), ScopeUser, formatJSON, dialectMCPServers)}
		}, project: []projectFile{{".kiro/settings/mcp.json", formatJSON, dialectMCPServers}}},
		{ID: "opencode", Name: "OpenCode", locations: func(e *pathEnv) []Location {
			ls := []Location{
				loc(e.xdgConfig("opencode", "opencode.json"), ScopeUser, formatJSON, dialectOpenCode),
				loc(e.xdgConfig("opencode", "opencode.jsonc"), ScopeUser, formatJSON, dialectOpenCode),
			}
			if v := e.env("OPENCODE_CONFIG"); v != "" {
				ls = append(ls, loc(v, ScopeUser, formatJSON, dialectOpenCode))
			}
			return ls
		}, project: []projectFile{{"opencode.json", formatJSON, dialectOpenCode}, {"opencode.jsonc", formatJSON, dialectOpenCode}}},
		{ID: "lm-studio", Name: "LM Studio", locations: func(e *pathEnv) []Location {
			return []Location{
				loc(e.h(".lmstudio", "mcp.json"), ScopeUser, formatJSON, dialectMCPServers),
				loc(e.h(".cache", "lm-studio", "mcp.json"), ScopeUser, formatJSON, dialectMCPServers),
			}
		}},
		{ID: "crush", Name: "Crush", locations: func(e *pathEnv) []Location {
			if e.os == "windows" {
				return []Location{loc(e.localAppData("crush", "crush.json"), ScopeUser, formatJSON, dialectCrush)}
			}
			return []Location{loc(e.xdgConfig("crush", "crush.json"), ScopeUser, formatJSON, dialectCrush)}
		}, project: []projectFile{{"crush.json", formatJSON, dialectCrush}, {".crush.json", formatJSON, dialectCrush}}},
		{ID: "amazon-q", Name: "Amazon Q", locations: func(e *pathEnv) []Location {
			return []Location{
				loc(e.h(".aws", "amazonq", "mcp.json"), ScopeUser, formatJSON, dialectMCPServers),
				loc(e.h(".aws", "amazonq", "agents", "default.json"), ScopeUser, formatJSON, dialectMCPServers),
				loc(e.h(".aws", "amazonq", "agents", "mcp.json"), ScopeUser, formatJSON, dialectMCPServers),
			}
		}, project: []projectFile{{".amazonq/mcp.json", formatJSON, dialectMCPServers}}},
		{ID: "sema4ai", Name: "Sema4.ai", locations: func(e *pathEnv) []Location {
			return []Location{loc(e.h(".sema4ai", "sema4ai-studio", "mcp_servers.json"), ScopeUser, formatJSON, dialectMCPServers)}
		}},
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	return cs
}

// ClientByID returns the client with the given ID (case-insensitive; display names also match).
func ClientByID(id string) (Client, bool) {
	for _, c := range Clients() {
		if strings.EqualFold(c.ID, id) || strings.EqualFold(c.Name, id) {
			return c, true
		}
	}
	return Client{}, false
}

// ClientIDs lists the IDs of all known clients.
func ClientIDs() []string {
	var ids []string
	for _, c := range Clients() {
		ids = append(ids, c.ID)
	}
	return ids
}
