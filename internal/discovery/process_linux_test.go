//go:build linux

package discovery

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// procStart starts a real process; argv[0] may differ from the executable (as exec -a does). With pipe,
// stdin and stdout are pipes (a stdio server); otherwise stdin is /dev/null. It is killed at cleanup.
func procStart(t *testing.T, path string, argv []string, env []string, dir string, pipe bool) *exec.Cmd {
	t.Helper()
	cmd := &exec.Cmd{Path: path, Args: argv, Env: append(os.Environ(), env...), Dir: dir}
	var in io.WriteCloser
	if pipe {
		var err error
		if in, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if _, err = cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if in != nil {
			in.Close()
		}
		_ = cmd.Wait()
	})
	return cmd
}

// idle starts the test binary in idle mode under the given argv (what a sleeping process shows in /proc).
func idle(t *testing.T, argv ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return procStart(t, exe, argv, []string{serverEnv + "=idle"}, "", false)
}

// scanFor scans until every pid is in /proc with its final argv (exec done), then returns the processes
// found, by PID.
func scanFor(t *testing.T, opts ProcOptions, cmds ...*exec.Cmd) map[int]Process {
	t.Helper()
	var got map[int]Process
	t0 := time.Now()
	waitFor(t, "the processes' argv in /proc", func() bool {
		for _, c := range cmds {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Process.Pid))
			first, _, _ := strings.Cut(string(b), "\x00")
			if err != nil || commandBase(first) != commandBase(c.Args[0]) {
				if time.Since(t0) > 3*time.Second {
					t.Logf("waiting for %q: %q %v", c.Args, b, err)
				}
				return false
			}
		}
		return true
	})
	// The script and module checks see the process only after the interpreter started; scan until stable.
	procs, err := ScanProcesses(opts)
	if err != nil {
		t.Fatal(err)
	}
	got = map[int]Process{}
	for _, p := range procs {
		got[p.PID] = p
	}
	return got
}

func TestScanProcessesRealServers(t *testing.T) {
	node, npm := testenv.NodePath(t), testenv.ServerEverythingNPM(t)
	goServer := testenv.EverythingServer(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is not on PATH: scripts/setup-deps.sh installs it (Debian package python3)")
	}
	// A stub Python MCP SDK so `import` works without the real package.
	pyDir := t.TempDir()
	writeTree(t, pyDir, map[string][]byte{
		"mcp/__init__.py":           []byte("ClientSession = object\n"),
		"mcp/server/__init__.py":    nil,
		"mcp/server/fastmcp.py":     []byte("import time\nclass FastMCP:\n    def __init__(self, name): pass\n    def run(self): time.sleep(60)\n"),
		"fastmcp/__init__.py":       []byte("from mcp.server.fastmcp import FastMCP\n"),
		"app/weather_server.py":     []byte("from mcp.server.fastmcp import FastMCP\nFastMCP('weather').run()\n"),
		"app/tools.py":              []byte("import fastmcp\nfastmcp.FastMCP('t').run()\n"),
		"app/build.js":              []byte("setTimeout(() => {}, 60000)\n"),
		"app/client.py":             []byte("from mcp import ClientSession\nimport time\ntime.sleep(60)\n"),
		"app/node_modules/.keep":    nil,
		"app/my_tool/__init__.py":   nil,
		"app/my_tool/__main__.py":   []byte("import time\ntime.sleep(60)\n"),
		"app/readme-for-mcp.txt":    nil,
		"app/venv/bin/placeholder":  nil,
		"app/mcp.json":              []byte("{}"),
		"app/notes/mcp-server.md":   nil,
		"app/node_modules/x/a.json": nil,
	})
	app := filepath.Join(pyDir, "app")
	pyEnv := []string{"PYTHONPATH=" + pyDir}
	port := freePort(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", port)

	servers := map[string]*exec.Cmd{
		"node real install":  procStart(t, node, []string{"node", npm, "stdio"}, nil, "", true),
		"npx argv":           idle(t, "npx", "-y", "@modelcontextprotocol/server-filesystem", "/tmp"),
		"python -c fastmcp":  procStart(t, python, []string{"python3", "-c", "from mcp.server.fastmcp import FastMCP; FastMCP('x').run()"}, pyEnv, app, false),
		"python script":      procStart(t, python, []string{"python3", "weather_server.py"}, pyEnv, app, true),
		"python fastmcp":     procStart(t, python, []string{"python3", filepath.Join(app, "tools.py")}, pyEnv, "", false),
		"uvx argv":           idle(t, "uvx", "mcp-server-fetch"),
		"uvx --from":         idle(t, "uvx", "--from", "git+https://github.com/x/mcp-server-time", "time-server"),
		"python -m":          idle(t, "python", "-m", "mcp_server_git", "--repository", "/src"),
		"go stdio":           procStart(t, goServer, []string{goServer}, nil, "", true),
		"go http":            procStart(t, goServer, []string{goServer, "-http", httpAddr}, nil, "", false),
		"docker catalog":     idle(t, "docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "mcp/github"),
		"docker ghcr":        idle(t, "docker", "run", "-i", "--rm", "ghcr.io/github/github-mcp-server"),
		"sh -c npx":          idle(t, "sh", "-c", "npx -y @modelcontextprotocol/server-memory"),
		"venv console entry": idle(t, filepath.Join(app, "venv/bin/mcp-server-sqlite"), "--db-path", "/tmp/x.db"),
	}
	notServers := map[string]*exec.Cmd{
		"grep":           idle(t, "grep", "-r", "mcp", "."),
		"grep server":    idle(t, "grep", "mcp-server", "notes.txt"),
		"vim":            idle(t, "vim", "mcp.json"),
		"less":           idle(t, "less", "/var/log/mcp-server.log"),
		"node build.js":  procStart(t, node, []string{"node", "build.js"}, nil, app, false),
		"python client":  procStart(t, python, []string{"python3", "client.py"}, pyEnv, app, false),
		"python -m tool": procStart(t, python, []string{"python3", "-m", "my_tool"}, pyEnv, app, false),
		"npm install":    idle(t, "npm", "install", "@modelcontextprotocol/sdk"),
		"inspector":      idle(t, "npx", "@modelcontextprotocol/inspector", "node", "build/index.js"),
		"git clone":      idle(t, "git", "clone", "https://github.com/x/mcp-server-foo"),
		"docker ps":      idle(t, "docker", "ps", "--filter", "ancestor=mcp/github"),
		"docker volume":  idle(t, "docker", "run", "--rm", "-v", "/srv/mcp-data:/data", "alpine"),
	}
	var all []*exec.Cmd
	for _, c := range servers {
		all = append(all, c)
	}
	for _, c := range notServers {
		all = append(all, c)
	}
	waitFor(t, "the go HTTP server to listen", func() bool {
		c, err := net.Dial("tcp", httpAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	start := time.Now()
	got := scanFor(t, ProcOptions{}, all...)
	t.Logf("scan of %d processes took %v", len(got), time.Since(start))

	wantMatch := map[string]string{
		"node real install": "known_package", "npx argv": "known_package", "python -c fastmcp": "sdk",
		"python script": "sdk", "python fastmcp": "sdk", "uvx argv": "known_package", "uvx --from": "known_package",
		"python -m": "known_package", "go stdio": "sdk", "go http": "sdk", "docker catalog": "known_package",
		"docker ghcr": "known_package", "sh -c npx": "known_package", "venv console entry": "known_package",
	}
	for name, c := range servers {
		p, ok := got[c.Process.Pid]
		if !ok {
			t.Errorf("%s (%q): not found", name, c.Args)
			continue
		}
		if p.Match != wantMatch[name] || !p.Shadow || p.UID != os.Getuid() || p.PPID != os.Getpid() {
			t.Errorf("%s: %+v, want match %s, shadow, our uid and pid as parent", name, p, wantMatch[name])
		}
	}
	if p := got[servers["go http"].Process.Pid]; len(p.Listen) != 1 || p.Listen[0] != httpAddr {
		t.Errorf("go http server listens on %v, want [%s]", p.Listen, httpAddr)
	}
	if p := got[servers["go stdio"].Process.Pid]; len(p.Listen) != 0 {
		t.Errorf("go stdio server listens on %v", p.Listen)
	}
	for name, c := range notServers {
		if p, ok := got[c.Process.Pid]; ok {
			t.Errorf("%s (%q) reported as a server: %+v", name, c.Args, p)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestScanProcessesConfiguredIsNotShadow: a running server that is in a client config (directly, or as the
// child of the configured npx/shell) is tied to the config entry and is not a shadow process.
func TestScanProcessesConfiguredIsNotShadow(t *testing.T) {
	sh, err := exec.LookPath("bash") // exec -a
	if err != nil {
		t.Skip("no bash")
	}
	exe, _ := os.Executable()
	direct := idle(t, "uvx", "mcp-server-fetch")
	// A fake npx (sh under npx's name) that runs the package's server as its child, as npx does.
	parent := procStart(t, sh, []string{"npx", "-c", `(exec -a node "$0" dist/index.js); exit $?`, exe, "-y", "@modelcontextprotocol/server-filesystem", "/tmp"},
		[]string{serverEnv + "=idle"}, "", false)
	servers := []Server{
		{ID: "fetch", Transport: TransportStdio, Command: "uvx", Args: []string{"mcp-server-fetch"}},
		{ID: "fs", Transport: TransportStdio, Command: "npx", Args: []string{"-c", `(exec -a node "$0" dist/index.js); exit $?`, exe, "-y", "@modelcontextprotocol/server-filesystem", "/tmp"}},
	}
	var child Process
	waitFor(t, "the fake npx child", func() bool {
		procs, err := ScanProcesses(ProcOptions{Servers: servers})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if p.PPID == parent.Process.Pid {
				child = p
				return true
			}
		}
		return false
	})
	if p, err := os.FindProcess(child.PID); err == nil {
		t.Cleanup(func() { _ = p.Kill() })
	}
	got := scanFor(t, ProcOptions{Servers: servers}, direct, parent)
	if p := got[direct.Process.Pid]; p.Match != "config" || p.ServerID != "fetch" || p.Shadow {
		t.Errorf("configured uvx server: %+v, want config/fetch not shadow", p)
	}
	if p := got[parent.Process.Pid]; p.Match != "config" || p.ServerID != "fs" || p.Shadow {
		t.Errorf("configured npx: %+v, want config/fs not shadow", p)
	}
	if child.Match != "config" || child.ServerID != "fs" || child.Shadow {
		t.Errorf("child of the configured npx: %+v, want config/fs not shadow", child)
	}
	// Without the configs, both are shadow.
	got = scanFor(t, ProcOptions{}, direct)
	if p := got[direct.Process.Pid]; p.Match != "known_package" || !p.Shadow {
		t.Errorf("unconfigured uvx server: %+v", p)
	}
}

// TestScanProcessesRedactsSecrets: secrets in a server's argv are redacted and its environment is never
// read into the report.
func TestScanProcessesRedactsSecrets(t *testing.T) {
	const ghp = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
	exe, _ := os.Executable()
	cmds := []*exec.Cmd{
		procStart(t, exe, []string{"mcp-server-github", "--token", ghp}, []string{serverEnv + "=idle", "GITHUB_TOKEN=" + ghp}, "", false),
		procStart(t, exe, []string{"mcp-server-github", "--api-key=s3cr3t-value-123"}, []string{serverEnv + "=idle"}, "", false),
		procStart(t, exe, []string{"mcp-server-postgres", "postgresql://app:hunter2pass@db:5432/app"}, []string{serverEnv + "=idle"}, "", false),
		procStart(t, exe, []string{"sh", "-c", "npx -y @modelcontextprotocol/server-github --token " + ghp}, []string{serverEnv + "=idle"}, "", false),
		procStart(t, exe, []string{"python3", "-c", "from fastmcp import FastMCP; KEY='" + ghp + "'"}, []string{serverEnv + "=idle"}, "", false),
	}
	got := scanFor(t, ProcOptions{}, cmds...)
	for _, c := range cmds {
		p, ok := got[c.Process.Pid]
		if !ok {
			t.Errorf("%q not found", c.Args[0])
			continue
		}
		b, _ := json.Marshal(p)
		for _, secret := range []string{ghp, "s3cr3t-value-123", "hunter2pass"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("report leaks %s: %s", secret, b)
			}
		}
	}
}

// TestScanProcessesBrokenProcEntries: entries that cannot be read (other users' processes, processes that
// exit mid-scan, odd contents) are skipped without failing the scan.
func TestScanProcessesBrokenProcEntries(t *testing.T) {
	root := writeTree(t, t.TempDir(), map[string][]byte{
		"10/stat":    []byte("10 (npx) S 1 10 10 0"),
		"10/cmdline": []byte("npx\x00-y\x00@modelcontextprotocol/server-memory\x00"),
		"11/stat":    []byte("11 (x) S 1"), // no cmdline (exited)
		"12/stat":    []byte("garbage"),
		"13/cmdline": []byte("uvx\x00mcp-server-fetch\x00"), // no stat (unreadable)
		"14/stat":    []byte("14 (a) b) (c) S 10 14"),       // parentheses in comm
		"14/cmdline": []byte("mcp-server-x\x00"),
		"self/stat":  []byte("1 (init) S 0"),
		"net/tcp":    []byte("garbage\n"),
	})
	if err := os.Mkdir(filepath.Join(root, "15"), 0); err != nil { // unreadable directory
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "16", "stat"), 0o755); err != nil { // stat is a directory
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent", filepath.Join(root, "10", "exe")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent", filepath.Join(root, "10", "cwd")); err != nil {
		t.Fatal(err)
	}
	procs, err := ScanProcesses(ProcOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range procs {
		pids = append(pids, p.PID)
	}
	if fmt.Sprint(pids) != "[10 14]" {
		t.Errorf("found %v (%+v), want [10 14]", pids, procs)
	}
	if _, err := ScanProcesses(ProcOptions{Root: filepath.Join(root, "missing")}); err == nil {
		t.Error("a missing process table is not an error")
	}
}
