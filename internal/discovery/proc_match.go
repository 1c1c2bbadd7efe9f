package discovery

import (
	"debug/buildinfo"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
)

// A process is matched on what it runs, not on every word of its command line: the program (argv[0]), the
// script or module an interpreter runs, the package a runner (npx, uvx, …) fetches, the image `docker run`
// starts. Data arguments (`grep mcp`, `vim mcp.json`) are never matched.

var (
	// interpreters run a script (first positional argument), -m MODULE, or -c/-e CODE.
	interpreters = regexp.MustCompile(`^(python[0-9.]*|pypy[0-9.]*|node|nodejs|bun|deno|tsx|ts-node|ruby|java|dotnet)$`)
	// runners fetch and run a package named by their first positional argument (after a subcommand).
	runners = map[string][]string{
		"npx": nil, "bunx": nil, "pnpx": nil, "uvx": nil, "pipx": {"run"}, "uv": {"run", "tool"},
		"npm": {"exec", "x"}, "pnpm": {"dlx", "exec"}, "yarn": {"dlx"}, "deno": {"run"}, "bun": {"run", "x"},
	}
	// runnerValueFlags name packages in their value (uvx --from PKG cmd, npx --package PKG cmd).
	runnerValueFlags = map[string]bool{"--from": true, "--with": true, "--package": true, "-p": true}
	containers       = map[string]bool{"docker": true, "podman": true, "nerdctl": true}
	shells           = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "env": true}
	// scriptExt are extensions of data files: a program never has them, so they are not matched as one.
	dataExt = regexp.MustCompile(`(?i)\.(json|jsonc|ya?ml|toml|md|txt|log|ini|cfg|conf|lock|csv)$`)
	// mcpImage matches container images of the Docker MCP catalog (mcp/NAME) and images named like servers.
	mcpImage = regexp.MustCompile(`(?i)^([a-z0-9.\-]+(:[0-9]+)?/)?mcp/[a-z0-9]`)
	// serverImport matches source that imports an MCP server SDK (Python mcp.server / FastMCP, fastmcp,
	// the TypeScript SDK's server modules).
	serverImport = regexp.MustCompile(`(?m)^\s*(from\s+(mcp\.server|fastmcp)\b|import\s+(mcp\.server|fastmcp)\b|from\s+mcp\s+import\s+[^\n]*\b(FastMCP|Server)\b)|['"](@modelcontextprotocol/sdk/server[^'"]*|fastmcp|mcp-framework)['"]`)
	// serverModules are Go modules of MCP server SDKs found in a binary's build information.
	serverModules = []string{"github.com/modelcontextprotocol/go-sdk", "github.com/mark3labs/mcp-go", "github.com/metoro-io/mcp-golang"}
)

const (
	// maxContentReads bounds how many scripts and executables one scan opens.
	maxContentReads = 512
	// maxScriptBytes is how much of a script is read to look for an MCP SDK import.
	maxScriptBytes = 256 << 10
)

// readBudget bounds the files one scan reads and caches results per file.
type readBudget struct {
	files  int
	seen   map[string]string
	listen map[int][]string // listening TCP addresses by PID, read once on first use
}

func (b *readBudget) listening(root string) map[int][]string {
	if b.listen == nil {
		b.listen = map[int][]string{}
		if ls, err := ListeningSockets(root); err == nil {
			for _, l := range ls {
				if l.PID > 0 {
					b.listen[l.PID] = append(b.listen[l.PID], l.Addr)
				}
			}
		}
	}
	return b.listen
}

// serverProgram returns the match of a process from what it runs: known_package when the program, script,
// module, package or image is named like an MCP server; sdk when the script or Go executable it runs uses an
// MCP server SDK; "" otherwise.
func serverProgram(root string, p *procInfo, budget *readBudget) string {
	names, scripts, code := programParts(p.argv, 0)
	for _, n := range names {
		if namedLikeServer(n) {
			return "known_package"
		}
	}
	for _, c := range code {
		if serverImport.MatchString(c) {
			return "sdk"
		}
	}
	for _, s := range scripts {
		if scriptImportsSDK(root, p.pid, s, budget) {
			return "sdk"
		}
	}
	// A Go executable built with a server SDK, serving on stdio pipes or a listening socket (a Go MCP
	// client run from a terminal is neither).
	if (p.stdio == "pipe" || len(budget.listening(root)[p.pid]) > 0) && goServerBinary(root, p.pid, budget) {
		return "sdk"
	}
	return ""
}

// namedLikeServer matches one program-position argument.
func namedLikeServer(a string) bool {
	if a == "" || dataExt.MatchString(a) {
		return false
	}
	if strings.Contains(a, "@modelcontextprotocol/") || mcpImage.MatchString(a) {
		return true
	}
	// A script inside node_modules is named by its package.
	if i := strings.LastIndex(a, "node_modules/"); i >= 0 {
		pkg := strings.SplitN(a[i+len("node_modules/"):], "/", 3)
		name := pkg[0]
		if strings.HasPrefix(name, "@") && len(pkg) > 1 {
			name += "/" + pkg[1]
		}
		if knownServerArg.MatchString(name) {
			return true
		}
	}
	return knownServerArg.MatchString(filepath.Base(a))
}

// programParts splits argv into the names of what it runs (program, script, module, package, image), the
// script files it runs, and inline code (-c, -e). Shell -c commands and `env` prefixes are followed once.
func programParts(argv []string, depth int) (names, scripts, code []string) {
	if len(argv) == 0 {
		return nil, nil, nil
	}
	base := commandBase(argv[0])
	names = append(names, argv[0])
	rest := argv[1:]
	switch {
	case shells[base] && depth == 0:
		for i, a := range rest {
			if base == "env" && (strings.HasPrefix(a, "-") || strings.Contains(a, "=")) {
				continue
			}
			if base == "env" {
				n, s, c := programParts(rest[i:], depth+1)
				return append(names, n...), s, c
			}
			if a == "-c" && i+1 < len(rest) {
				n, s, c := programParts(strings.Fields(rest[i+1]), depth+1)
				return append(names, n...), s, c
			}
		}
	case containers[base]:
		run := false
		for i, a := range rest {
			if !run {
				run = a == "run"
				continue
			}
			if strings.HasPrefix(a, "-") || strings.ContainsAny(a, "=") || (i > 0 && strings.HasPrefix(rest[i-1], "-") && !strings.Contains(rest[i-1], "=") && !isBoolContainerFlag(rest[i-1])) {
				continue
			}
			return append(names, a), nil, nil // the image
		}
	case runners[base] != nil || isRunner(base):
		sub := runners[base]
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			if k, v, ok := strings.Cut(a, "="); ok && runnerValueFlags[k] {
				names = append(names, v)
				continue
			}
			if runnerValueFlags[a] && i+1 < len(rest) {
				names = append(names, rest[i+1])
				i++
				continue
			}
			if strings.HasPrefix(a, "-") {
				continue
			}
			if len(sub) > 0 && contains(sub, a) {
				sub = nil
				continue
			}
			if len(sub) > 0 { // not a package-running subcommand (npm install, uv sync)
				return names, nil, nil
			}
			names = append(names, a)
			if base == "deno" || base == "bun" || base == "uv" {
				scripts = append(scripts, a)
			}
			return names, scripts, nil
		}
	case interpreters.MatchString(base):
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			switch {
			case (a == "-c" || a == "-e" || a == "--eval" || a == "-p" || a == "--print") && i+1 < len(rest):
				return names, nil, []string{rest[i+1]}
			case a == "-m" && i+1 < len(rest):
				return append(names, rest[i+1]), nil, nil
			case a == "-jar" && i+1 < len(rest):
				return append(names, rest[i+1]), nil, nil
			case a == "-r" || a == "--require" || a == "--import" || a == "--loader" || a == "-W" || a == "-X":
				i++
			case strings.HasPrefix(a, "-m") && len(a) > 2: // python -mmodule
				return append(names, a[2:]), nil, nil
			case strings.HasPrefix(a, "-"):
			default:
				return append(names, a), []string{a}, nil
			}
		}
	}
	return names, nil, nil
}

func isRunner(base string) bool {
	_, ok := runners[base]
	return ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isBoolContainerFlag lists `docker run` flags that take no value, so the word after them is the image.
func isBoolContainerFlag(f string) bool {
	switch f {
	case "-i", "-t", "-it", "-ti", "-d", "--rm", "--interactive", "--tty", "--detach", "--init", "--privileged",
		"--read-only", "-P", "--publish-all", "--pull=always", "--pull=never", "--quiet", "-q":
		return true
	}
	return false
}

// scriptImportsSDK reads the start of a script a process runs (resolved against the process's working
// directory) and reports whether it imports an MCP server SDK. Only regular files are read, at most
// maxScriptBytes, at most maxContentReads files per scan.
func scriptImportsSDK(root string, pid int, script string, budget *readBudget) bool {
	if script == "" || dataExt.MatchString(script) {
		return false
	}
	path := script
	if !filepath.IsAbs(path) {
		cwd, err := os.Readlink(filepath.Join(root, strconv.Itoa(pid), "cwd"))
		if err != nil {
			return false
		}
		path = filepath.Join(cwd, path)
	}
	if root != "/proc" && root != "" {
		// A fake proc tree (tests, --proc) names paths of its own machine: read them through the tree's
		// root link when it has one, else not at all.
		if _, err := os.Lstat(filepath.Join(root, strconv.Itoa(pid), "root")); err != nil {
			return false
		}
		path = filepath.Join(root, strconv.Itoa(pid), "root", path)
	} else {
		path = filepath.Join(root, strconv.Itoa(pid), "root", path) // the process's own mount namespace
	}
	if v, ok := budget.seen[path]; ok {
		return v == "sdk"
	}
	if budget.files <= 0 {
		return false
	}
	budget.files--
	budget.seen[path] = ""
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	data, err := io.ReadAll(io.LimitReader(f, maxScriptBytes))
	if err != nil || !serverImport.Match(data) {
		return false
	}
	budget.seen[path] = "sdk"
	return true
}

// goServerBinary reports whether the process's executable is a Go program built with an MCP server SDK
// (from its embedded build information; non-Go executables are rejected after reading their headers).
func goServerBinary(root string, pid int, budget *readBudget) bool {
	exe := filepath.Join(root, strconv.Itoa(pid), "exe")
	target, err := os.Readlink(exe)
	if err != nil {
		return false
	}
	key := "exe:" + target
	if v, ok := budget.seen[key]; ok {
		return v == "sdk"
	}
	if budget.files <= 0 {
		return false
	}
	budget.files--
	budget.seen[key] = ""
	info, err := buildinfo.ReadFile(exe)
	if err != nil {
		return false
	}
	for _, d := range append([]*debug.Module{&info.Main}, info.Deps...) {
		for _, m := range serverModules {
			if d != nil && d.Path == m {
				budget.seen[key] = "sdk"
				return true
			}
		}
	}
	return false
}
