package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// ProgramSHA256 returns the hex SHA-256 of the file at path.
func ProgramSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PinMismatchError is returned when a stdio server's program no longer has the SHA-256 its
// servers[].pin.sha256 names: the gateway refuses to start it.
type PinMismatchError struct {
	Server, Path, Want, Got string
}

func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("server %q: %s has SHA-256 %s, but pin.sha256 is %s: the program changed since it was pinned; "+
		"refusing to start it. If the new program is trusted, set pin.sha256: %s", e.Server, e.Path, e.Got, e.Want, e.Got)
}

// refusedStart is what a client learns of a PinMismatchError at a (re)start: no file path of the gateway
// host (the log line has it).
type refusedStart struct{ *PinMismatchError }

func (e refusedStart) Error() string {
	return fmt.Sprintf("its program has SHA-256 %s, but pin.sha256 is %s: the program changed since it was pinned, so mcpwarden "+
		"refuses to start it (the gateway's log names the file). If the new program is trusted, an operator sets pin.sha256: %s",
		e.Got, e.Want, e.Got)
}

func (e refusedStart) Unwrap() error { return e.PinMismatchError }

// checkProgramPin hashes the program about to be started and compares it with the pin.
func checkProgramPin(server, path, want string) error {
	got, err := ProgramSHA256(path)
	if err != nil {
		return fmt.Errorf("cannot read %s to check its pin.sha256 (refusing to start it): %w", path, err)
	}
	if got != want {
		return &PinMismatchError{Server: server, Path: path, Want: want, Got: got}
	}
	return nil
}
