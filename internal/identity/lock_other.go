//go:build !unix

package identity

// lockFile is a no-op where flock is unavailable: writers in one process are still serialised by the
// store's mutex, and every write replaces the file atomically.
func lockFile(string) (func(), error) { return func() {}, nil }
