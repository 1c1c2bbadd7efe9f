//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package pin

import "golang.org/x/sys/unix"

// statSupported: stat gives device, inode and a nanosecond mtime here, which the state cache relies on.
const statSupported = true

// statFile stats path without allocating a FileInfo; ok is false unless it is a regular file.
func statFile(path string) (fileID, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, mtime: st.Mtim.Nano()}, true
}
