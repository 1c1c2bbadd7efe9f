//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package pin

// statSupported is false: State reads every time (no file identity to rely on here).
const statSupported = false

func statFile(string) (fileID, bool) { return fileID{}, false }
