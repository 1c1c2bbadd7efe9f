//go:build !linux

package sandbox

import "syscall"

const shimSupported = false

// NetNS modes reported by NetNSMode.
const (
	NetNSNone = iota
	NetNSRoot
	NetNSUser
)

// NetNSMode reports NetNSNone: network namespaces exist only on Linux.
func NetNSMode() int { return NetNSNone }

func setNetNS(*syscall.SysProcAttr) bool { return false }

// LandlockABI returns 0: Landlock exists only on Linux.
func LandlockABI() int { return 0 }
