package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const shimSupported = true

func init() {
	if len(os.Args) > 1 && os.Args[1] == ShimArg {
		err := shim(os.Args[2:])
		fmt.Fprintf(os.Stderr, "mcpwarden sandbox: %v\n", err)
		os.Exit(126)
	}
}

// NetNS modes reported by NetNSMode.
const (
	NetNSNone = iota // cannot create network namespaces
	NetNSRoot        // CLONE_NEWNET directly (privileged)
	NetNSUser        // CLONE_NEWUSER|CLONE_NEWNET (unprivileged user namespaces)
)

// NetNSMode reports how this process can give a child its own network namespace.
func NetNSMode() int {
	if os.Geteuid() == 0 {
		return NetNSRoot
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return NetNSNone
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return NetNSNone
	}
	if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && strings.TrimSpace(string(b)) == "1" {
		return NetNSNone
	}
	return NetNSUser
}

func setNetNS(attr *syscall.SysProcAttr) bool {
	switch NetNSMode() {
	case NetNSRoot:
		attr.Cloneflags |= syscall.CLONE_NEWNET
	case NetNSUser:
		attr.Cloneflags |= syscall.CLONE_NEWNET | syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	default:
		return false
	}
	return true
}

// LandlockABI returns the kernel's Landlock ABI version, or 0 when Landlock is unsupported or disabled.
func LandlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

const (
	llRead     = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	llFileOnly = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
)

func handledFS(abi int) uint64 {
	h := uint64(unix.LANDLOCK_ACCESS_FS_MAKE_SYM<<1 - 1) // ABI 1: EXECUTE … MAKE_SYM
	if abi >= 2 {
		h |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		h |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		h |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return h
}

// shim runs in the re-executed child: argv is [specJSON, "--", argv...]. It returns only on failure.
func shim(argv []string) error {
	if len(argv) < 3 || argv[1] != "--" {
		return fmt.Errorf("usage: %s SPEC -- COMMAND [ARGS...] (internal; started by the gateway)", ShimArg)
	}
	var sp spec
	if err := json.Unmarshal([]byte(argv[0]), &sp); err != nil {
		return fmt.Errorf("bad spec: %w", err)
	}
	// prctl and Landlock act on the calling thread; execve must come from the same thread.
	runtime.LockOSThread()
	limits := []struct {
		res int
		v   uint64
	}{{unix.RLIMIT_CORE, 0}, {unix.RLIMIT_AS, sp.Limits.AddressSpace}, {unix.RLIMIT_CPU, sp.Limits.CPUSeconds},
		{unix.RLIMIT_NOFILE, sp.Limits.OpenFiles}, {unix.RLIMIT_NPROC, sp.Limits.Processes}}
	for i, l := range limits {
		if l.v == 0 && i > 0 {
			continue
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(l.res, &cur); err != nil {
			return fmt.Errorf("getrlimit(%d): %w", l.res, err)
		}
		v := l.v
		if v > cur.Max {
			v = cur.Max
		}
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("setrlimit(%d, %d): %w", l.res, v, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if sp.ABI > 0 {
		if err := landlock(sp); err != nil {
			return err
		}
	}
	return fmt.Errorf("exec %s: %w", sp.Path, syscall.Exec(sp.Path, argv[2:], os.Environ()))
}

func landlock(sp spec) error {
	handled := handledFS(sp.ABI)
	attr := unix.LandlockRulesetAttr{Handled_access_fs: handled}
	// Pass only the size the oldest kernels know (handled_access_fs); later fields stay unused.
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), 8, 0)
	if errno != 0 {
		return fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	add := func(path string, access uint64) error {
		pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			if os.IsNotExist(err) {
				return nil // system paths differ between distributions
			}
			return fmt.Errorf("landlock: open %s: %w", path, err)
		}
		defer unix.Close(pfd)
		var st unix.Stat_t
		if err := unix.Fstat(pfd, &st); err != nil {
			return fmt.Errorf("landlock: stat %s: %w", path, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			access &= llFileOnly
		}
		pb := unix.LandlockPathBeneathAttr{Allowed_access: access & handled, Parent_fd: int32(pfd)}
		if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, unix.LANDLOCK_RULE_PATH_BENEATH,
			uintptr(unsafe.Pointer(&pb)), 0, 0, 0); errno != 0 {
			return fmt.Errorf("landlock_add_rule %s: %w", path, errno)
		}
		return nil
	}
	for _, p := range sp.ReadOnly {
		if err := add(p, llRead); err != nil {
			return err
		}
	}
	for _, p := range sp.ReadWrite {
		if err := add(p, handled); err != nil {
			return err
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return nil
}
