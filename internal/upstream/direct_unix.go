//go:build unix

package upstream

import "syscall"

const peekSupported = true

// peekReady reports whether the socket fd has data to read, has ended or has failed: a read would not
// block. Used with syscall.RawConn.Read, which waits for readability and asks again when it reports false.
func peekReady(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}
