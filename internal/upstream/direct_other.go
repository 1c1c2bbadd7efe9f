//go:build !unix

package upstream

const peekSupported = false

func peekReady(uintptr) bool { return true }
