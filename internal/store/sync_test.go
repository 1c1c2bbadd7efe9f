package store

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSyncWAL: a handle with RelaxedSync commits into the write-ahead log without an fsync, and SyncWAL
// forces the log to disk (a log that is gone was checkpointed: nothing to do); a log that cannot be
// synced is an error that names it. PostgreSQL handles have nothing to sync.
func TestSyncWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(t.Context(), Options{Path: path, RelaxedSync: true}, testMigrations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), "INSERT INTO t (a) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no write-ahead log after a commit: %v", err)
	}
	if err := db.SyncWAL(); err != nil {
		t.Fatal(err)
	}
	if db.wal.Load() == nil {
		t.Error("the synced log was not remembered (its directory would be synced on every call)")
	}
	if err := db.SyncWAL(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The last connection checkpointed and removed the log.
	if err := db.SyncWAL(); err != nil {
		t.Errorf("SyncWAL without a log: %v", err)
	}
	if err := (&DB{Dialect: Postgres}).SyncWAL(); err != nil {
		t.Errorf("SyncWAL on PostgreSQL: %v", err)
	}
	if runtime.GOOS == "linux" {
		// procfs files cannot be fsynced: a log that cannot be made durable must be reported.
		if err := os.Symlink("/proc/self/status", path+"-wal"); err != nil {
			t.Fatal(err)
		}
		err := db.SyncWAL()
		if err == nil || !strings.Contains(err.Error(), "s.db-wal") {
			t.Errorf("SyncWAL on a log that cannot be synced: %v", err)
		}
	}
}
