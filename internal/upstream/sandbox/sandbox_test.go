//go:build linux

package sandbox_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/mcpwarden/mcpwarden/internal/upstream/sandbox"
)

// probeArg makes the test binary act as the "server" under test: it tries what a malicious server would.
const probeArg = "__sandbox-probe"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == probeArg {
		probe(os.Args[2:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probeResult is what the probe reports on stdout.
type probeResult struct {
	Read       string // file contents or "error"
	Dial       string // "ok" or "error"
	Env        string // value of the secret variable ("" when absent)
	NoNewPrivs int
	NoFile     uint64
	Core       uint64
}

// probe: argv = FILE ADDR VAR.
func probe(argv []string) {
	var r probeResult
	if b, err := os.ReadFile(argv[0]); err == nil {
		r.Read = string(b)
	} else {
		r.Read = "error"
	}
	if c, err := net.Dial("tcp", argv[1]); err == nil {
		r.Dial = "ok"
		_ = c.Close()
	} else {
		r.Dial = "error"
	}
	r.Env = os.Getenv(argv[2])
	r.NoNewPrivs, _ = unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	var rl unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
	r.NoFile = rl.Cur
	_ = unix.Getrlimit(unix.RLIMIT_CORE, &rl)
	r.Core = rl.Cur
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

// env holds the attack targets: a secret file outside the allowed paths, a loopback listener, a secret variable.
type env struct {
	file, addr string
}

const secretVar = "AWS_SECRET_ACCESS_KEY"

func setup(t *testing.T) env {
	t.Helper()
	// The secret sits in the gateway's own environment, as cloud credentials often do.
	t.Setenv(secretVar, "gateway-secret")
	file := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(file, []byte("file-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return env{file: file, addr: ln.Addr().String()}
}

func run(t *testing.T, e env, p *sandbox.Profile, declared map[string]string) (probeResult, sandbox.Applied) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, probeArg, e.file, e.addr, secretVar)
	var applied sandbox.Applied
	if p != nil {
		applied, err = p.Prepare(cmd, declared)
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe failed: %v\nstderr: %s", err, stderr.String())
	}
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("probe output %q: %v", out, err)
	}
	return r, applied
}

// requireFeatures skips only when detection proves a kernel feature missing.
func requireFeatures(t *testing.T) {
	t.Helper()
	if abi := sandbox.LandlockABI(); abi < 1 {
		t.Skipf("kernel feature missing: Landlock (landlock_create_ruleset reports no ABI on %s)", kernel())
	}
	if sandbox.NetNSMode() == sandbox.NetNSNone {
		t.Skipf("kernel feature missing: network namespaces for this user (not root, unprivileged user namespaces disabled) on %s", kernel())
	}
}

func kernel() string {
	var u unix.Utsname
	_ = unix.Uname(&u)
	return "Linux " + unix.ByteSliceToString(u.Release[:])
}

// TestAcceptance: the same probe reads the file, reaches the listener and sees the secret without the
// sandbox, and fails at all three under the profile — so the test proves the sandbox, not a broken probe.
func TestAcceptance(t *testing.T) {
	e := setup(t)

	free, _ := run(t, e, nil, nil)
	wantFree := probeResult{Read: "file-secret", Dial: "ok", Env: "gateway-secret", NoNewPrivs: 0, NoFile: free.NoFile, Core: free.Core}
	if diff := cmp.Diff(wantFree, free); diff != "" {
		t.Fatalf("unsandboxed probe (-want +got):\n%s", diff)
	}

	requireFeatures(t)
	t.Logf("%s: Landlock ABI %d, network namespace mode %d", kernel(), sandbox.LandlockABI(), sandbox.NetNSMode())
	p := &sandbox.Profile{
		Limits:    sandbox.Limits{OpenFiles: 256},
		NoNetwork: true,
		ReadWrite: []string{t.TempDir()}, // a work directory, not the one holding the secret
		Strict:    true,
	}
	got, applied := run(t, e, p, map[string]string{"DECLARED": "x"})
	want := probeResult{Read: "error", Dial: "error", Env: "", NoNewPrivs: 1, NoFile: 256, Core: 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sandboxed probe (-want +got):\n%s", diff)
	}
	if len(applied.Warnings) != 0 {
		t.Errorf("warnings on a machine with every feature: %v", applied.Warnings)
	}
	for _, s := range []string{"env=scrubbed", "no_new_privs", "nofile=256", "network=none", "landlock(ro= rw=/"} {
		if !strings.Contains(applied.Profile, s) {
			t.Errorf("applied profile %q lacks %q", applied.Profile, s)
		}
	}

	// A path listed read-only becomes readable again: the rules allow, not just deny.
	p.ReadOnly = []string{filepath.Dir(e.file)}
	got, _ = run(t, e, p, nil)
	if got.Read != "file-secret" {
		t.Errorf("file under an allowed read-only path: got %q, want its contents", got.Read)
	}
}

// TestEachFeature turns on one feature at a time, showing each blocks only its own attack.
func TestEachFeature(t *testing.T) {
	e := setup(t)
	requireFeatures(t)
	tests := []struct {
		name string
		p    sandbox.Profile
		want probeResult
	}{
		{"env only", sandbox.Profile{}, probeResult{Read: "file-secret", Dial: "ok", NoNewPrivs: 1}},
		{"network", sandbox.Profile{NoNetwork: true}, probeResult{Read: "file-secret", Dial: "error", NoNewPrivs: 1}},
		{"landlock", sandbox.Profile{ReadOnly: []string{"/nonexistent"}}, probeResult{Read: "error", Dial: "ok", NoNewPrivs: 1}},
		{"inherit env", sandbox.Profile{InheritEnv: true}, probeResult{Read: "file-secret", Dial: "ok", Env: "gateway-secret", NoNewPrivs: 1}},
		{"pass env", sandbox.Profile{PassEnv: []string{secretVar}}, probeResult{Read: "file-secret", Dial: "ok", Env: "gateway-secret", NoNewPrivs: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, e, &tt.p, nil)
			got.NoFile, got.Core = 0, 0
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeclaredEnv: the server's declared env reaches it even when the name is also a gateway secret.
func TestDeclaredEnv(t *testing.T) {
	e := setup(t)
	got, _ := run(t, e, &sandbox.Profile{}, map[string]string{secretVar: "declared-for-this-server"})
	if got.Env != "declared-for-this-server" {
		t.Errorf("declared env: got %q, want %q", got.Env, "declared-for-this-server")
	}
}

func TestBuildEnv(t *testing.T) {
	t.Setenv("MCPWARDEN_CREDENTIAL_KEY", "k")
	t.Setenv("PATH", "/usr/bin")
	t.Setenv("HOME", "/home/u")
	cmd := exec.Command("/bin/true")
	if _, err := (&sandbox.Profile{}).Prepare(cmd, map[string]string{"B": "2", "A": "1"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range cmd.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "HOME" || k == "A" || k == "B" || strings.HasPrefix(k, "MCPWARDEN") {
			got = append(got, kv)
		}
	}
	want := []string{"HOME=/home/u", "PATH=/usr/bin", "A=1", "B=2"}
	if diff := cmp.Diff(want, got, sortOpt); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

var sortOpt = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestPrepareErrors(t *testing.T) {
	cmd := exec.Command("/bin/true")
	_, err := (&sandbox.Profile{ReadOnly: []string{"relative/dir"}}).Prepare(cmd, nil)
	if err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("relative path: got %v, want an error naming it", err)
	}
	cmd = exec.Command("definitely-not-a-program-xyz")
	if _, err := (&sandbox.Profile{}).Prepare(cmd, nil); err == nil {
		t.Error("missing program: got no error")
	}
}

// TestShimErrors: the shim fails closed with exit 126 and a message when it cannot apply the profile.
func TestShimErrors(t *testing.T) {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, sandbox.ShimArg, `{"path":"/nonexistent/prog"}`, "--", "/nonexistent/prog")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 126 || !strings.Contains(string(out), "exec /nonexistent/prog") {
		t.Errorf("got err %v, output %q; want exit 126 naming the program", err, out)
	}
}

func TestProfileString(t *testing.T) {
	p := sandbox.Profile{PassEnv: []string{"HTTPS_PROXY"}, Limits: sandbox.Limits{OpenFiles: 10}, NoNetwork: true, ReadWrite: []string{"/srv"}}
	want := "env=scrubbed+HTTPS_PROXY no_new_privs core=0 nofile=10 nproc=inherit as=inherit cpu=inherit network=none landlock(ro= rw=/srv)"
	if diff := cmp.Diff(want, p.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
