//go:build linux

package sandbox

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDegrade simulates a kernel without Landlock and without network namespaces: Prepare warns, naming
// each missing feature, and leaves it out of the applied profile; with Strict it refuses instead.
func TestDegrade(t *testing.T) {
	oldL, oldN := probeLandlock, probeNetNS
	t.Cleanup(func() { probeLandlock, probeNetNS = oldL, oldN })
	probeLandlock = func() int { return 0 }
	probeNetNS = func(*syscall.SysProcAttr) bool { return false }

	p := Profile{NoNetwork: true, ReadOnly: []string{"/srv"}}
	cmd := exec.Command("/bin/true")
	got, err := p.Prepare(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Applied{
		Profile: "env=scrubbed no_new_privs core=0 nofile=inherit nproc=inherit as=inherit cpu=inherit network=host fs=unrestricted",
		Warnings: []string{
			"Landlock is not supported by this kernel (needs Linux 5.13+ with landlock enabled): the file system is NOT restricted",
			"network namespaces are unavailable (not root, unprivileged user namespaces disabled): the network is NOT isolated",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if cmd.SysProcAttr.Cloneflags != 0 || strings.Contains(cmd.Args[2], `"abi"`) {
		t.Errorf("degraded features still requested: cloneflags %#x, spec %s", cmd.SysProcAttr.Cloneflags, cmd.Args[2])
	}

	for _, p := range []Profile{{ReadOnly: []string{"/srv"}, Strict: true}, {NoNetwork: true, Strict: true}} {
		if _, err := p.Prepare(exec.Command("/bin/true"), nil); err == nil || !strings.Contains(err.Error(), "sandbox:") {
			t.Errorf("strict %+v: got %v, want an error naming the missing feature", p, err)
		}
	}
}

func TestHandledFS(t *testing.T) {
	for abi, want := range map[int]uint64{1: 0x1fff, 2: 0x3fff, 3: 0x7fff, 4: 0x7fff, 5: 0xffff, 7: 0xffff} {
		if got := handledFS(abi); got != want {
			t.Errorf("handledFS(%d) = %#x, want %#x", abi, got, want)
		}
	}
}
