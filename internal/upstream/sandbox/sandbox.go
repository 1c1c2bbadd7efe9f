// Package sandbox confines the stdio MCP servers the gateway starts (upstream stage ⑥, Linux).
//
// A Profile describes the confinement; Profile.Prepare rewrites an *exec.Cmd before Start so that:
//   - the child gets a scrubbed environment: only SafeEnv names (PATH, HOME, LANG, …) and Profile.PassEnv
//     from the gateway's environment, plus the server's declared env — never the gateway's whole
//     environment, which may hold cloud credentials or the gateway's own keys;
//   - a network namespace without interfaces is used when Profile.NoNetwork is set;
//   - the command runs through a re-exec shim (the current binary, via /proc/self/exe) that sets resource
//     limits, PR_SET_NO_NEW_PRIVS and the Landlock file system rules, then execve's the real program.
//
// The shim is the init function of this package: any binary that links it (mcpwarden, its test binaries)
// answers to argv[1] == ShimArg. Kernel features that are missing (Landlock, network namespaces) are
// detected, reported as warnings by Prepare and skipped, unless Profile.Strict asks for an error instead.
// Prepare is pure with respect to the gateway process: it changes nothing but the Cmd.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// ShimArg is argv[1] of the re-exec shim. It is not a user-facing command.
const ShimArg = "__mcpwarden-sandbox-exec"

// SafeEnv are the gateway environment variables a sandboxed child receives by default: what npx, uvx,
// node and python need to find programs, caches, locale and a temp directory. Secrets never belong here.
// XDG directories and CA bundle paths are included so that runtimes find their caches and the same trusted
// certificates as the gateway (corporate TLS proxies).
var SafeEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
	"LC_MESSAGES", "TZ", "TMPDIR", "TERM", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS"}

// SystemReadOnly are the paths a Landlock-confined child may always read and execute (programs, shared
// libraries, the dynamic loader, /etc for DNS/TLS/users, /proc for runtimes that inspect themselves).
var SystemReadOnly = []string{"/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/proc", "/sys"}

// SystemReadWrite are device files a Landlock-confined child may always read and write.
var SystemReadWrite = []string{"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/tty"}

// Limits are resource limits for the child (soft = hard). Zero leaves the gateway's limit in place; a value
// above the gateway's hard limit is lowered to it (an unprivileged process cannot raise a hard limit).
type Limits struct {
	// AddressSpace is RLIMIT_AS in bytes. Keep it generous or zero for node (V8 reserves a lot of virtual memory).
	AddressSpace uint64 `json:"as,omitempty"`
	// CPUSeconds is RLIMIT_CPU: total CPU time after which the kernel kills the child.
	CPUSeconds uint64 `json:"cpu,omitempty"`
	// OpenFiles is RLIMIT_NOFILE.
	OpenFiles uint64 `json:"nofile,omitempty"`
	// Processes is RLIMIT_NPROC. Linux counts it per user, not per server: set it above the number of
	// processes the user already runs. Not enforced for root.
	Processes uint64 `json:"nproc,omitempty"`
}

// DefaultLimits are the limits of Default: 4096 open files; address space, CPU and processes unchanged
// (long-lived node/python servers legitimately accumulate CPU time and reserve large address spaces).
// Core dumps are always disabled in a sandbox (RLIMIT_CORE=0): a core file would hold injected secrets.
var DefaultLimits = Limits{OpenFiles: 4096}

// Profile is a stdio server's confinement. The zero value scrubs the environment, disables core dumps and
// sets no_new_privs, and nothing else.
type Profile struct {
	// InheritEnv passes the gateway's whole environment to the child (the unsandboxed behaviour). Insecure:
	// anything the gateway holds (cloud keys, MCPWARDEN_* secrets) reaches the server.
	InheritEnv bool
	// PassEnv are further names copied from the gateway's environment, besides SafeEnv (e.g. HTTPS_PROXY).
	PassEnv []string
	// Limits are resource limits.
	Limits Limits
	// NoNetwork runs the child in a new network namespace with no interface up: it cannot reach any host,
	// loopback included. Needs root or unprivileged user namespaces.
	NoNetwork bool
	// ReadOnly and ReadWrite, when either is non-empty, turn on Landlock: the child may then read (and
	// execute) only ReadOnly, ReadWrite and SystemReadOnly paths and its own program file, and write only
	// ReadWrite and SystemReadWrite paths. Paths must be absolute; missing ones are skipped.
	ReadOnly  []string
	ReadWrite []string
	// Strict makes Prepare fail, instead of warning and degrading, when the kernel lacks a feature the
	// profile asks for.
	Strict bool
}

// Landlock reports whether the profile asks for Landlock rules.
func (p *Profile) Landlock() bool { return len(p.ReadOnly) > 0 || len(p.ReadWrite) > 0 }

// String describes the profile for logs.
func (p *Profile) String() string {
	var b strings.Builder
	if p.InheritEnv {
		b.WriteString("env=inherit")
	} else {
		b.WriteString("env=scrubbed")
		if len(p.PassEnv) > 0 {
			fmt.Fprintf(&b, "+%s", strings.Join(p.PassEnv, ","))
		}
	}
	fmt.Fprintf(&b, " no_new_privs core=0 nofile=%s nproc=%s as=%s cpu=%s", lim(p.Limits.OpenFiles),
		lim(p.Limits.Processes), lim(p.Limits.AddressSpace), lim(p.Limits.CPUSeconds))
	if p.NoNetwork {
		b.WriteString(" network=none")
	} else {
		b.WriteString(" network=host")
	}
	if p.Landlock() {
		fmt.Fprintf(&b, " landlock(ro=%s rw=%s)", strings.Join(p.ReadOnly, ":"), strings.Join(p.ReadWrite, ":"))
	} else {
		b.WriteString(" fs=unrestricted")
	}
	return b.String()
}

func lim(v uint64) string {
	if v == 0 {
		return "inherit"
	}
	return fmt.Sprint(v)
}

// Applied tells what Prepare actually applied.
type Applied struct {
	// Profile is the description of what is enforced (features that degraded are left out).
	Profile string
	// Warnings name each requested feature the kernel lacks and that was therefore skipped.
	Warnings []string
}

// Kernel probes, replaceable in tests to simulate a kernel without the feature.
var (
	probeLandlock = LandlockABI
	probeNetNS    = setNetNS
)

// spec is what the shim receives in argv[2].
type spec struct {
	Path      string   `json:"path"`
	Limits    Limits   `json:"limits"`
	ReadOnly  []string `json:"ro,omitempty"`
	ReadWrite []string `json:"rw,omitempty"`
	ABI       int      `json:"abi,omitempty"` // Landlock ABI; 0 = no Landlock
}

// Prepare rewrites cmd (created by exec.Command, not started) to run under the profile. env is the
// server's declared environment (and gateway-injected secrets); it is added after the scrubbed base.
func (p *Profile) Prepare(cmd *exec.Cmd, env map[string]string) (Applied, error) {
	if cmd.Process != nil {
		return Applied{}, errors.New("sandbox: command already started")
	}
	if cmd.Err != nil {
		return Applied{}, cmd.Err
	}
	for _, d := range append(append([]string{}, p.ReadOnly...), p.ReadWrite...) {
		if !filepath.IsAbs(d) {
			return Applied{}, fmt.Errorf("sandbox: path %q is not absolute; write allowed paths as absolute paths", d)
		}
	}
	eff := *p
	var warns []string
	if !shimSupported {
		cmd.Env = buildEnv(os.Environ(), p, env)
		return Applied{Profile: "env-only", Warnings: []string{"process confinement (rlimits, no_new_privs, Landlock, network namespace) is implemented only on Linux: only the environment is scrubbed"}}, nil
	}
	sp := spec{Path: cmd.Path, Limits: p.Limits}
	if p.Landlock() {
		abi := probeLandlock()
		if abi < 1 {
			if p.Strict {
				return Applied{}, errors.New("sandbox: the kernel does not support Landlock (needs Linux 5.13+ with CONFIG_SECURITY_LANDLOCK and landlock in the lsm= list); remove the file system rules or set strict: false")
			}
			warns = append(warns, "Landlock is not supported by this kernel (needs Linux 5.13+ with landlock enabled): the file system is NOT restricted")
			eff.ReadOnly, eff.ReadWrite = nil, nil
		} else {
			sp.ABI = abi
			// The program itself (just the file) stays executable wherever PATH found it.
			sp.ReadOnly = append(append(append([]string{}, SystemReadOnly...), p.ReadOnly...), cmd.Path)
			sp.ReadWrite = append(append([]string{}, SystemReadWrite...), p.ReadWrite...)
		}
	}
	attr := cmd.SysProcAttr
	if attr == nil {
		attr = &syscall.SysProcAttr{}
		cmd.SysProcAttr = attr
	}
	if p.NoNetwork {
		if !probeNetNS(attr) {
			if p.Strict {
				return Applied{}, errors.New("sandbox: network namespaces are unavailable (not root and unprivileged user namespaces are disabled); run as root, enable kernel.unprivileged_userns_clone, or drop network: none")
			}
			warns = append(warns, "network namespaces are unavailable (not root, unprivileged user namespaces disabled): the network is NOT isolated")
			eff.NoNetwork = false
		}
	}
	js, err := json.Marshal(sp)
	if err != nil {
		return Applied{}, fmt.Errorf("sandbox: %w", err)
	}
	cmd.Env = buildEnv(os.Environ(), p, env)
	argv0 := cmd.Path
	if len(cmd.Args) > 0 {
		argv0 = cmd.Args[0]
	}
	args := []string{argv0, ShimArg, string(js), "--"}
	if len(cmd.Args) > 0 {
		args = append(args, cmd.Args...)
	} else {
		args = append(args, cmd.Path)
	}
	cmd.Path = "/proc/self/exe" // the running binary, even if its file was replaced by an upgrade
	cmd.Args = args
	return Applied{Profile: eff.String(), Warnings: warns}, nil
}

// buildEnv returns the child's environment: base filtered by the profile, then declared (sorted, so the
// result is deterministic). A declared variable overrides an inherited one of the same name.
func buildEnv(base []string, p *Profile, declared map[string]string) []string {
	keep := map[string]bool{}
	for _, k := range SafeEnv {
		keep[k] = true
	}
	for _, k := range p.PassEnv {
		keep[k] = true
	}
	var out []string
	for _, kv := range base {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || hasKey(declared, k) {
			continue
		}
		if p.InheritEnv || keep[k] {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(declared))
	for k := range declared {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+declared[k])
	}
	return out
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }
