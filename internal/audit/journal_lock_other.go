//go:build !unix

package audit

import (
	"errors"
	"os"
)

// lockJournal: without file locks, two processes could write the same journal, so none is used.
func lockJournal(*os.File) error { return errors.ErrUnsupported }
