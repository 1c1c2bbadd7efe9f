//go:build unix

package audit

import (
	"errors"
	"os"
	"syscall"
)

// lockJournal takes an exclusive, non-blocking lock on the journal (released when f is closed).
func lockJournal(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errJournalLocked
	}
	return err
}
