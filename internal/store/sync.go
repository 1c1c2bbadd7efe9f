package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SyncWAL makes every transaction committed so far on this SQLite database durable, whichever connection
// (or handle opened with RelaxedSync) committed it: it fsyncs the write-ahead log. A handle with
// RelaxedSync commits without an fsync (synchronous=NORMAL: the commit is in the log, in the operating
// system's cache); calling SyncWAL afterwards gives the commit the durability of synchronous=FULL, and one
// call covers all commits before it — the basis of the audit writer's group commit, which writes a record
// before the call it describes is forwarded and syncs it while the call runs.
//
// A log that does not exist has been checkpointed into the database file and removed, which SQLite does
// with the database file synced; nothing is left to do. When the log is a file not synced before (created
// anew), its directory is synced too, so the file itself survives a power loss. On PostgreSQL SyncWAL does
// nothing: a commit there is durable when it returns unless RelaxedSync asked otherwise.
func (db *DB) SyncWAL() error {
	if db.path == "" {
		return nil
	}
	wal := db.path + "-wal"
	f, err := os.Open(wal)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: open the write-ahead log %s to sync it: %w", wal, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: sync the write-ahead log %s: %w (the disk may be failing)", wal, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: stat the write-ahead log %s: %w", wal, err)
	}
	if last := db.wal.Load(); last == nil || !os.SameFile(*last, fi) {
		if err := SyncDir(filepath.Dir(wal)); err != nil {
			return err
		}
		db.wal.Store(&fi)
	}
	return nil
}

// Path is the SQLite file; empty for PostgreSQL.
func (db *DB) Path() string { return db.path }

// SyncDir fsyncs a directory, making the names of the files created in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: open directory %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync directory %s: %w", dir, err)
	}
	return nil
}
