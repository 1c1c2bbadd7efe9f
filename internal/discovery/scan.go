package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// DefaultGatewayURL is where `mcpwarden serve` listens by default; URLs under it count as routed.
const DefaultGatewayURL = "http://127.0.0.1:8740"

// Options configures Scan. The zero value scans the current user's home for the running OS.
type Options struct {
	// OS selects the path layout: linux, darwin or windows. Default runtime.GOOS.
	OS string
	// Home is the user's home folder (a fake tree in tests). Default os.UserHomeDir.
	Home string
	// Root prefixes absolute system paths (/etc, /Library, C:\ProgramData, project paths recorded by
	// clients). Default "/".
	Root string
	// Getenv reads client-specific variables (CLAUDE_CONFIG_DIR, CODEX_HOME, OPENCODE_CONFIG,
	// XDG_CONFIG_HOME). Nil means no variables are set.
	Getenv func(string) string
	// ProjectRoots are searched for project files (.mcp.json, .cursor/mcp.json, …). Default: Home.
	ProjectRoots []string
	// MaxDepth bounds the project search below each root. Default 4.
	MaxDepth int
	// MaxDirs bounds the number of directories the project search reads in total. Default 20000.
	MaxDirs int
	// Gateways are base URLs of mcpwarden gateways (e.g. http://127.0.0.1:8740); a server URL at /mcp or
	// /mcp/{name} under one of them is routed. Default: DefaultGatewayURL.
	Gateways []string
	// Clients restricts the scan to these client IDs; empty means all.
	Clients []string
	// Host is copied into the inventory.
	Host Host
}

func (o *Options) checkAndSetDefaults() error {
	if o.OS == "" {
		o.OS = runtime.GOOS
	}
	switch o.OS {
	case "linux", "darwin", "windows":
	default:
		return fmt.Errorf("unknown OS layout %q: use linux, darwin or windows", o.OS)
	}
	if o.Home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("cannot find the home folder (%v): pass --home DIR", err)
		}
		o.Home = h
	}
	if o.Root == "" {
		o.Root = "/"
	}
	if len(o.ProjectRoots) == 0 {
		o.ProjectRoots = []string{o.Home}
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 4
	}
	if o.MaxDirs <= 0 {
		o.MaxDirs = 20000
	}
	if o.Gateways == nil {
		o.Gateways = []string{DefaultGatewayURL}
	}
	for _, id := range o.Clients {
		if _, ok := ClientByID(id); !ok {
			return fmt.Errorf("unknown client %q: known clients are %s", id, strings.Join(ClientIDs(), ", "))
		}
	}
	if o.Host.OS == "" {
		o.Host.OS = o.OS
	}
	return nil
}

func (o *Options) env() *pathEnv {
	return &pathEnv{os: o.OS, home: o.Home, root: o.Root, getenv: o.Getenv}
}

func (o *Options) selected() []Client {
	all := Clients()
	if len(o.Clients) == 0 {
		return all
	}
	var out []Client
	for _, c := range all {
		for _, id := range o.Clients {
			if cc, _ := ClientByID(id); cc.ID == c.ID {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// Scan reads every known client configuration for the options' machine layout and returns the inventory
// of configured servers with their risk. It fails only on invalid options; unreadable or malformed files
// are listed in Inventory.Errors.
func Scan(ctx context.Context, opts Options) (*Inventory, error) {
	if err := opts.checkAndSetDefaults(); err != nil {
		return nil, err
	}
	inv := &Inventory{SchemaVersion: SchemaVersion, Host: opts.Host, Files: []File{}, Servers: []Server{}}
	seen := map[string]bool{}
	var projectDirs []string
	scanLoc := func(l Location) {
		p := filepath.Clean(l.Path)
		if seen[p] {
			return
		}
		seen[p] = true
		servers, dirs, ok := readLocation(l, &opts, inv)
		if !ok {
			return
		}
		inv.Servers = append(inv.Servers, servers...)
		projectDirs = append(projectDirs, dirs...)
	}
	clients := opts.selected()
	e := opts.env()
	for _, c := range clients {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, l := range c.locations(e) {
			l.Client = c.ID
			scanLoc(l)
		}
	}
	// VS Code remembers opened workspace folders; check them directly.
	if hasClient(clients, "vscode") {
		projectDirs = append(projectDirs, vscodeWorkspaces(e)...)
	}
	dirs, truncated := findProjectDirs(ctx, opts.ProjectRoots, clients, opts.MaxDepth, opts.MaxDirs)
	if truncated {
		inv.Errors = append(inv.Errors, FileError{Path: strings.Join(opts.ProjectRoots, string(os.PathListSeparator)),
			Error: fmt.Sprintf("project search stopped after %d directories: narrow it with --project-root or raise --max-dirs", opts.MaxDirs)})
	}
	projectDirs = append(projectDirs, dirs...)
	for _, dir := range projectDirs {
		for _, c := range clients {
			for _, pf := range c.project {
				scanLoc(Location{Client: c.ID, Path: filepath.Join(dir, filepath.FromSlash(pf.rel)), Scope: ScopeProject,
					Format: pf.format, Dialect: pf.dialect, Project: dir})
			}
		}
	}
	sort.SliceStable(inv.Servers, func(i, j int) bool {
		a, b := inv.Servers[i], inv.Servers[j]
		if a.Client != b.Client {
			return a.Client < b.Client
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Project != b.Project {
			return a.Project < b.Project
		}
		return a.Name < b.Name
	})
	sort.SliceStable(inv.Files, func(i, j int) bool { return inv.Files[i].Path < inv.Files[j].Path })
	return inv, nil
}

func hasClient(cs []Client, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

// readLocation reads one file. ok is false when the file does not exist. It returns the servers and any
// project folders the file names (Claude Code projects.<path>).
func readLocation(l Location, opts *Options, inv *Inventory) (servers []Server, projectDirs []string, ok bool) {
	fail := func(err error) ([]Server, []string, bool) {
		inv.Errors = append(inv.Errors, FileError{Client: l.Client, Path: l.Path, Error: err.Error()})
		inv.Files = append(inv.Files, File{Client: l.Client, Scope: l.Scope, Path: l.Path, Format: l.Format})
		return nil, nil, true
	}
	st, err := os.Stat(l.Path)
	switch {
	case err != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)):
		return nil, nil, false
	case err != nil:
		// Permission denied, a symlink loop, …: the file may hold servers, so say it was not read.
		return fail(err)
	case st.IsDir():
		return fail(errors.New("is a directory, not a configuration file"))
	case !st.Mode().IsRegular():
		// Never open a FIFO or device: opening a FIFO blocks, a device may never end.
		return fail(fmt.Errorf("not a regular file (%s); not read", st.Mode().Type()))
	case st.Size() > maxConfigBytes:
		return fail(fmt.Errorf("file is %d bytes, larger than the %d-byte limit; not read", st.Size(), maxConfigBytes))
	}
	data, err := readLimited(l.Path)
	if err == nil && len(data) > maxConfigBytes {
		err = fmt.Errorf("file is larger than the %d-byte limit; not read", maxConfigBytes)
	}
	var doc map[string]any
	if err == nil {
		doc, err = decodeDocument(l.Format, data)
	}
	if err != nil {
		return fail(err)
	}
	if text, err := decodeText(data); err == nil {
		data = text // lines of servers are looked up in the text
	}
	entries, problems := extractEntries(l.Dialect, doc)
	for _, p := range problems {
		inv.Errors = append(inv.Errors, FileError{Client: l.Client, Path: l.Path, Error: p})
	}
	for _, d := range duplicateKeys(l.Format, data) {
		inv.Errors = append(inv.Errors, FileError{Client: l.Client, Path: l.Path, Error: d})
	}
	names := map[string]int{}
	for _, re := range entries {
		s := buildServer(l, re, data, opts)
		// Two entries with one name in one file (a list-shaped section) must not share an ID.
		if k := re.project + "\x00" + re.name; names[k] > 0 {
			s.ID = serverID(s.ID, strconv.Itoa(names[k]))
			names[k]++
		} else {
			names[k] = 1
		}
		servers = append(servers, s)
	}
	if l.Dialect == dialectClaudeCode {
		projects, _ := doc["projects"].(map[string]any)
		for _, p := range sortedKeys(projects) {
			projectDirs = append(projectDirs, underRoot(opts.Root, p))
		}
	}
	inv.Files = append(inv.Files, File{Client: l.Client, Scope: l.Scope, Path: l.Path, Format: l.Format, Servers: len(servers)})
	return servers, projectDirs, true
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
}

// underRoot maps an absolute path recorded by a client to the scanned machine's root.
func underRoot(root, p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	if len(p) >= 2 && p[1] == ':' { // C:/Users/x → <root>/C/Users/x
		p = "/" + p[:1] + p[2:]
	}
	if root == "/" || root == "" {
		return filepath.Clean(filepath.FromSlash(p))
	}
	return filepath.Join(root, filepath.FromSlash(p))
}

// buildServer turns a raw entry into an inventory entry with analysis and risk.
func buildServer(l Location, re rawEntry, data []byte, opts *Options) Server {
	n := normalize(l.Client, re.obj)
	s := Server{
		Client: l.Client, Scope: l.Scope, File: l.Path, Line: lineOf(data, re.name), Project: l.Project,
		Name: re.name, Disabled: n.disabled, Transport: n.transport, Command: n.command, Args: n.args, URL: redactURL(n.url),
		EnvVars: sortedKeys(n.env), Headers: sortedKeys(n.headers), InlineSecrets: inlineSecrets(n),
		env: n.env, headers: n.headers, rawURL: n.url, rawArgs: n.args,
		urlKey: n.urlKey, pointer: re.pointer, format: l.Format, dialect: l.Dialect,
	}
	if re.project != "" {
		s.Scope, s.Project = ScopeProject, re.project
	}
	if n.transport != TransportStdio {
		s.Command, s.Args = "", nil
	} else {
		s.URL = ""
	}
	s.Args = redactArgs(s.Args, s.InlineSecrets)
	s.Package = analyzePackage(s.Command, n.args, n.url)
	// The package spec comes from the raw arguments: a git URL may carry a token.
	s.Package.Name, s.Package.Version = redactText(s.Package.Name), redactText(s.Package.Version)
	if c := redactText(s.Command); c != s.Command {
		s.Command = c
		s.InlineSecrets = append(s.InlineSecrets, "command")
	}
	switch {
	case n.transport == TransportStdio && isWrap(n.command, n.args):
		s.Routed, s.RoutedVia = true, "wrap"
	case n.transport != TransportStdio && gatewayRoute(n.url, opts.Gateways):
		s.Routed, s.RoutedVia = true, "gateway"
	}
	s.Shadow = !s.Routed
	s.ID = serverID(s.Client, string(s.Scope), machinePath(opts, s.File), machinePath(opts, s.Project), s.Name)
	scoreServer(&s, opts.Home)
	return s
}

// machinePath writes a path as it is on the scanned machine: ~/… under the home folder, /… under the root.
// Server IDs use it so that they do not depend on where a fake tree sits.
func machinePath(opts *Options, p string) string {
	if rel, err := filepath.Rel(opts.Home, p); err == nil && !strings.HasPrefix(rel, "..") && p != "" && filepath.IsAbs(p) {
		return "~/" + filepath.ToSlash(rel)
	}
	if opts.Root != "/" && opts.Root != "" {
		if rel, err := filepath.Rel(opts.Root, p); err == nil && !strings.HasPrefix(rel, "..") && filepath.IsAbs(p) {
			return "/" + filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(p)
}

func serverID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:8])
}

// redactArgs replaces arguments that hold inline secrets with a placeholder.
func redactArgs(args []string, secrets []string) []string {
	if len(args) == 0 {
		return args
	}
	out := append([]string(nil), args...)
	for _, s := range secrets {
		var i int
		if _, err := fmt.Sscanf(s, "arg:%d", &i); err == nil && i >= 0 && i < len(out) {
			if strings.Contains(out[i], "://") && urlHasPassword(out[i]) {
				out[i] = redactURL(out[i])
			} else if k := strings.Index(out[i], "="); k > 0 && strings.HasPrefix(out[i], "-") {
				out[i] = out[i][:k+1] + "[REDACTED]"
			} else {
				out[i] = "[REDACTED]"
			}
		}
	}
	return out
}

// redactText hides literal secrets inside free text shown in the inventory: a URL's password and
// well-known token shapes (ghp_…, sk-…, AKIA…).
func redactText(v string) string {
	if strings.Contains(v, "://") && urlHasPassword(v) {
		v = redactURL(v)
	}
	return tokenPattern.ReplaceAllString(v, "[REDACTED]")
}

// redactURL drops userinfo passwords and the values of query parameters from a URL for display.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i, v := range vs {
				if literalSecret(k, v) {
					vs[i] = "REDACTED"
				}
			}
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// vscodeWorkspaces reads User/workspaceStorage/*/workspace.json for folders VS Code opened.
func vscodeWorkspaces(e *pathEnv) []string {
	matches, _ := filepath.Glob(filepath.Join(e.codeUserDir("Code"), "workspaceStorage", "*", "workspace.json"))
	sort.Strings(matches)
	if len(matches) > 500 {
		matches = matches[:500]
	}
	var out []string
	for _, m := range matches {
		data, err := readLimited(m)
		if err != nil {
			continue
		}
		var ws struct {
			Folder string `json:"folder"`
		}
		if json.Unmarshal(data, &ws) != nil || !strings.HasPrefix(ws.Folder, "file://") {
			continue
		}
		u, err := url.Parse(ws.Folder)
		if err != nil {
			continue
		}
		out = append(out, underRoot(e.root, strings.TrimPrefix(u.Path, "/")))
	}
	return out
}

// skipDirs are never descended into by the project search.
var skipDirs = map[string]bool{
	"node_modules": true, "vendor": true, "dist": true, "build": true, "target": true, "Library": true,
	"AppData": true, "venv": true, "__pycache__": true, "site-packages": true, "go": true, "snap": true,
}

// findProjectDirs searches roots breadth-first for folders holding a project file of one of the clients.
// It reads at most maxDirs directories, descends at most maxDepth levels, never follows symlinks and
// skips hidden folders and dependency/build folders.
func findProjectDirs(ctx context.Context, roots []string, clients []Client, maxDepth, maxDirs int) (dirs []string, truncated bool) {
	markers := map[string]bool{}
	for _, c := range clients {
		for _, pf := range c.project {
			markers[strings.SplitN(pf.rel, "/", 2)[0]] = true
		}
	}
	type item struct {
		dir   string
		depth int
	}
	visited := 0
	seen := map[string]bool{}
	for _, root := range roots {
		queue := []item{{filepath.Clean(root), 0}}
		for len(queue) > 0 {
			if ctx.Err() != nil {
				return dirs, true
			}
			it := queue[0]
			queue = queue[1:]
			if seen[it.dir] {
				continue
			}
			seen[it.dir] = true
			if visited >= maxDirs {
				return dirs, true
			}
			visited++
			entries, err := os.ReadDir(it.dir)
			if err != nil {
				continue
			}
			found := false
			for _, de := range entries {
				name := de.Name()
				if markers[name] {
					found = true
				}
				if it.depth >= maxDepth || !de.IsDir() || de.Type()&fs.ModeSymlink != 0 {
					continue
				}
				if strings.HasPrefix(name, ".") || skipDirs[name] {
					continue
				}
				queue = append(queue, item{filepath.Join(it.dir, name), it.depth + 1})
			}
			if found {
				dirs = append(dirs, it.dir)
			}
		}
	}
	return dirs, false
}

// boundedGlob finds files called name below dir, at most maxDepth levels down and maxCount results.
func boundedGlob(dir, name string, maxDepth, maxCount int) []string {
	var out []string
	var walk func(d string, depth int)
	walk = func(d string, depth int) {
		if len(out) >= maxCount {
			return
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			return
		}
		for _, de := range entries {
			p := filepath.Join(d, de.Name())
			switch {
			case de.Name() == name && de.Type().IsRegular():
				out = append(out, p)
			case de.IsDir() && depth < maxDepth && de.Type()&fs.ModeSymlink == 0:
				walk(p, depth+1)
			}
			if len(out) >= maxCount {
				return
			}
		}
	}
	walk(dir, 0)
	return out
}
