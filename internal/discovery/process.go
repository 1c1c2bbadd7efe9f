package discovery

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// clientProcesses maps program names (comm or argv[0] base, lower case) of MCP clients to client IDs.
var clientProcesses = map[string]string{
	"claude": "claude-code", "claude desktop": "claude-desktop", "cursor": "cursor", "code": "vscode",
	"code-insiders": "vscode", "codium": "vscode", "windsurf": "windsurf", "codex": "codex", "gemini": "gemini-cli",
	"zed": "zed", "zed-editor": "zed", "goose": "goose", "goosed": "goose", "kiro": "kiro", "opencode": "opencode",
	"lm studio": "lm-studio", "lm-studio": "lm-studio", "crush": "crush", "q": "amazon-q", "qchat": "amazon-q",
	"sema4ai-studio": "sema4ai",
}

// clientPackages are npm packages whose node process is an MCP client CLI.
var clientPackages = map[string]string{
	"@anthropic-ai/claude-code": "claude-code", "@google/gemini-cli": "gemini-cli", "@openai/codex": "codex",
	"opencode-ai": "opencode", "@charmland/crush": "crush",
}

// knownServerArg matches arguments that name MCP server packages, images or binaries.
var knownServerArg = regexp.MustCompile(`(?i)(@modelcontextprotocol/|(^|[/@:_\-.])mcp([\-_.]|$)|mcp-server|server-mcp|-mcp-|fastmcp)`)

// notServers are MCP-related tools that are clients or test harnesses, not servers.
var notServers = []string{"@modelcontextprotocol/inspector", "@modelcontextprotocol/conformance", "@modelcontextprotocol/sdk"}

type procInfo struct {
	pid, ppid, uid int
	comm           string
	argv           []string
	stdio          string // "pipe", "other" or "" (unknown)
}

// ProcOptions configures ScanProcesses.
type ProcOptions struct {
	// Root is the proc filesystem. Default /proc.
	Root string
	// Servers are configured servers; a process with the same argv is linked to one by ServerID.
	Servers []Server
}

// ScanProcesses lists running processes that look like MCP servers: children of known MCP clients that
// talk over stdio pipes, processes whose command line names a known MCP package, and processes running a
// configured server's command. Processes of mcpwarden itself are skipped; servers under `mcpwarden wrap`
// are not shadow. An unreadable process is skipped, not an error.
func ScanProcesses(opts ProcOptions) ([]Process, error) {
	root := opts.Root
	if root == "" {
		root = "/proc"
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read process table %s: %w (pass --no-processes to skip the process scan)", root, err)
	}
	procs := map[int]*procInfo{}
	for _, de := range entries {
		pid, err := strconv.Atoi(de.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if p := readProc(root, pid); p != nil {
			procs[pid] = p
		}
	}
	clientOf := func(p *procInfo) string {
		if id := clientProcesses[strings.ToLower(p.comm)]; id != "" {
			return id
		}
		if len(p.argv) > 0 {
			if id := clientProcesses[strings.ToLower(commandBase(p.argv[0]))]; id != "" {
				return id
			}
		}
		for _, a := range p.argv {
			for pkg, id := range clientPackages {
				if strings.Contains(a, pkg) {
					return id
				}
			}
		}
		return ""
	}
	wrapped := func(p *procInfo) bool { // an ancestor is `mcpwarden wrap`
		for i, q := 0, procs[p.ppid]; q != nil && i < 8; i, q = i+1, procs[q.ppid] {
			if len(q.argv) > 0 && isWrap(q.argv[0], q.argv[1:]) {
				return true
			}
		}
		return false
	}
	budget := &readBudget{files: maxContentReads, seen: map[string]string{}}
	self := os.Getpid()
	var out []Process
	for _, pid := range sortedPIDs(procs) {
		p := procs[pid]
		if len(p.argv) == 0 || pid == self || commandBase(p.argv[0]) == "mcpwarden" || clientOf(p) != "" {
			continue
		}
		var client string
		for i, q := 0, procs[p.ppid]; q != nil && i < 3; i, q = i+1, procs[q.ppid] {
			if id := clientOf(q); id != "" {
				client = id
				break
			}
		}
		match := ""
		serverID := ""
		shadow := true
		for _, s := range opts.Servers {
			args := s.rawArgs
			if args == nil {
				args = s.Args
			}
			if s.Transport == TransportStdio && configuredAncestor(procs, p, s.Command, args) {
				// The configured entry carries the finding (routed or shadow); the process is not a
				// server outside the configs.
				match, serverID, shadow = "config", s.ID, false
				break
			}
		}
		if match == "" && !mentionsAny(p.argv, notServers) {
			match = serverProgram(root, p, budget)
		}
		if match == "" && client != "" && p.stdio != "other" && !isHelperProcess(p.argv) {
			match = "client_child"
		}
		if match == "" {
			continue
		}
		argv := redactArgs(p.argv, inlineSecrets(normalized{args: p.argv}))
		out = append(out, Process{PID: p.pid, PPID: p.ppid, UID: p.uid, Command: argv, Client: client, Match: match,
			ServerID: serverID, Shadow: shadow && !wrapped(p)})
	}
	if len(out) > 0 {
		for i := range out {
			out[i].Listen = budget.listening(root)[out[i].PID]
		}
	}
	return out, nil
}

func mentionsAny(argv, needles []string) bool {
	for _, a := range argv {
		for _, n := range needles {
			if strings.Contains(a, n) {
				return true
			}
		}
	}
	return false
}

// isHelperProcess recognises Electron/Chromium helpers and language tooling that clients start but that are
// not MCP servers.
func isHelperProcess(argv []string) bool {
	for _, a := range argv {
		if strings.HasPrefix(a, "--type=") || strings.HasPrefix(a, "--ms-enable-electron") || strings.Contains(a, "crashpad") ||
			strings.Contains(a, "extensionHost") || strings.Contains(a, "language-server") || strings.Contains(a, "tsserver") {
			return true
		}
	}
	return false
}

// configuredAncestor reports whether p, or one of its three nearest ancestors (npx, uvx or a shell that
// started it), runs the configured command.
func configuredAncestor(procs map[int]*procInfo, p *procInfo, command string, args []string) bool {
	for i, q := 0, p; q != nil && i < 4; i, q = i+1, procs[q.ppid] {
		if sameArgv(command, args, q.argv) {
			return true
		}
		if q.ppid == q.pid {
			break
		}
	}
	return false
}

func sameArgv(command string, args []string, argv []string) bool {
	if len(argv) != len(args)+1 || commandBase(argv[0]) != commandBase(command) {
		return false
	}
	for i, a := range args {
		if argv[i+1] != a {
			return false
		}
	}
	return true
}

func sortedPIDs(m map[int]*procInfo) []int {
	out := make([]int, 0, len(m))
	for pid := range m {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// readProc reads one /proc/PID entry; nil when it vanished or is unreadable.
func readProc(root string, pid int) *procInfo {
	dir := filepath.Join(root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil
	}
	p := &procInfo{pid: pid}
	// stat: "PID (comm) S PPID ..."; comm may contain spaces and parentheses.
	open, closeIdx := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || closeIdx < open {
		return nil
	}
	p.comm = string(stat[open+1 : closeIdx])
	fields := strings.Fields(string(stat[closeIdx+1:]))
	if len(fields) >= 2 {
		p.ppid, _ = strconv.Atoi(fields[1])
	}
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		cmd = bytes.TrimRight(cmd, "\x00")
		if len(cmd) > 0 {
			p.argv = strings.Split(string(cmd), "\x00")
		}
	}
	if st, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(st))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					p.uid, _ = strconv.Atoi(f[0])
				}
			}
		}
	}
	in, err0 := os.Readlink(filepath.Join(dir, "fd", "0"))
	outFD, err1 := os.Readlink(filepath.Join(dir, "fd", "1"))
	if err0 == nil && err1 == nil {
		p.stdio = "other"
		isPipe := func(s string) bool { return strings.HasPrefix(s, "pipe:") || strings.HasPrefix(s, "socket:") }
		if isPipe(in) && isPipe(outFD) {
			p.stdio = "pipe"
		}
	}
	return p
}

// Listener is a listening TCP socket of this machine.
type Listener struct {
	// Addr is host:port as the socket is bound (0.0.0.0 and :: for all addresses).
	Addr  string
	Inode uint64
	// PID owns the socket when it could be found (only for processes the caller may inspect).
	PID int
}

// ListeningSockets reads <root>/net/tcp and tcp6 and returns sockets in the LISTEN state.
func ListeningSockets(root string) ([]Listener, error) {
	if root == "" {
		root = "/proc"
	}
	var out []Listener
	found := false
	for _, name := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join(root, "net", name))
		if err != nil {
			continue
		}
		found = true
		ls, err := parseProcNetTCP(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(root, "net", name), err)
		}
		out = append(out, ls...)
	}
	if !found {
		return nil, errors.New("no " + filepath.Join(root, "net", "tcp") + ": listening sockets cannot be listed on this system")
	}
	owners := socketOwners(root, out)
	for i := range out {
		out[i].PID = owners[out[i].Inode]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out, nil
}

// parseProcNetTCP parses the /proc/net/tcp{,6} table format.
func parseProcNetTCP(data []byte) ([]Listener, error) {
	var out []Listener
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 10 {
			continue
		}
		if f[3] != "0A" { // TCP_LISTEN
			continue
		}
		addr, err := decodeHexAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		inode, _ := strconv.ParseUint(f[9], 10, 64)
		if seen[addr] {
			continue
		}
		seen[addr] = true
		out = append(out, Listener{Addr: addr, Inode: inode})
	}
	return out, nil
}

// decodeHexAddr decodes "0100007F:1F90" (IPv4) or a 32-hex-digit IPv6 address with a port. The address is
// stored as 32-bit words in host (little-endian) order.
func decodeHexAddr(s string) (string, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad socket address %q", s)
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", fmt.Errorf("bad socket address %q", s)
	}
	for w := 0; w+4 <= len(raw); w += 4 {
		raw[w], raw[w+1], raw[w+2], raw[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return "", fmt.Errorf("bad socket port %q", s)
	}
	return net.JoinHostPort(net.IP(raw).String(), strconv.Itoa(int(p))), nil
}

// socketOwners maps socket inodes to PIDs by reading /proc/*/fd links (only those the caller may read).
func socketOwners(root string, ls []Listener) map[uint64]int {
	want := map[uint64]bool{}
	for _, l := range ls {
		want[l.Inode] = true
	}
	owners := map[uint64]int{}
	entries, err := os.ReadDir(root)
	if err != nil {
		return owners
	}
	for _, de := range entries {
		pid, err := strconv.Atoi(de.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(root, de.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(root, de.Name(), "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err == nil && want[ino] {
				owners[ino] = pid
			}
		}
	}
	return owners
}

// probeAddr turns a listening address into an address to probe: wildcard binds are probed on loopback.
func probeAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
