package pin

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The state cache keeps what State read, per item, for as long as pins.db and pins.db-wal are provably
// unchanged, so that a tools/call costs two stat calls and a map lookup instead of an SQLite read
// transaction (its WAL locks are fcntl calls). SQLite only: on PostgreSQL every State queries the server.
//
// Why a cached answer is never stale. An entry is kept only when all of this holds for its fill:
//
//  1. T = time.Now(), then S = stat(pins.db), stat(pins.db-wal), both regular files, taken BEFORE the read.
//  2. Both mtimes in S are at least quietMargin older than T and have a non-zero nanosecond part.
//  3. The read runs in a transaction that holds SQLite's write lock (BEGIN IMMEDIATE, not waiting for it:
//     when another connection holds it the value is not kept). In WAL mode a writer holds that lock from
//     before it writes its first frame to the -wal file until after it has published its commit in the
//     shared-memory index, and BEGIN IMMEDIATE succeeds only on the newest published snapshot. So every
//     transaction that had written anything to the files by S (or at all before the lock) is either
//     committed and in what was read, or gone (rolled back); none is "written but not yet visible".
//     Stat alone cannot tell: a commit's frames are in the -wal file (size and mtime already changed)
//     before it is visible to readers, and with synchronous=FULL the log's fsync comes in between, which
//     on a busy disk can outlast any margin. A plain read then could keep the old value under a stamp
//     that already includes the new frames.
//  4. No write through this Store began or ended during the read (writing, gen).
//
// A hit requires the current stat to equal S exactly: device, inode, size and mtime (ns) of both files.
// A commit C missing from the entry must, by 3, have begun after the lock was taken, i.e. after S, and a
// commit in WAL mode always writes the -wal file (frames appended, or after a checkpoint the log restarted
// at offset 0 — same size, same inode, possibly; the write still sets mtime). The kernel sets mtime from a
// coarse clock, at most one tick (≤ 10 ms at HZ=100) behind the real time of C's write, which is after T;
// so C's mtime is > T − tick > T − quietMargin ≥ S's mtime: they differ, and no later write moves mtime
// back to S's value (mtimes follow the wall clock). The same holds for anything else that changes what a
// read returns: a checkpoint rewrites pins.db, a new -wal (deleted by the last connection's close,
// created again by the next) is written after T, a file renamed over pins.db is another inode.
// Consequences and corners:
//   - A write in the same clock tick as a fill's stat is why the margin exists: had it come just before S,
//     S's mtime is not old enough (2) and nothing is kept; just after, its mtime differs (above). (Linux
//     6.13+ gives a file modified after its mtime was queried a fine-grained mtime on ext4, xfs, btrfs and
//     tmpfs — multigrain timestamps — so there this race cannot happen at all; the margin is for older
//     kernels and other filesystems.)
//   - A filesystem with coarse timestamps (1 s or 2 s: ext3, FAT; their mtimes have no nanoseconds) never
//     passes 2: no caching there. A missing -wal (all connections closed), a path that is not a regular
//     file, a stat error, an mtime in the future (fails 2): read through, nothing kept.
//   - Wall-clock steps: a step back could let a later write get an mtime at or before S's. Each epoch
//     remembers the wall-minus-monotonic offset at its start; a hit whose offset moved by more than
//     maxClockStep drops the epoch. A step smaller than that leaves C's mtime > T − tick − maxClockStep,
//     still above S's (maxClockStep + tick + the slack for reading both clocks < quietMargin).
//   - Not covered: a file written back with the inode, size and nanosecond mtime it had (cp -p of a copy
//     onto the live file: SQLite itself does not survive that), and a commit whose writer was killed after
//     writing it and before publishing it, which SQLite drops or, if a later recovery of the index finds
//     it, shows without touching either file (the cache shows it after the next write).
//
// Writes through this Store (Check, Approve) also drop the cache when they end, so this process sees its
// own writes on the next State whatever the files say, and a fill that overlapped such a write is not
// kept (4). The cost after any write: for quietMargin, reads go through SQLite uncached.
const (
	// quietMargin is how long both files must have been unmodified before a read is kept: well above a
	// kernel clock tick (1–10 ms), which is how far behind real time a file's mtime can be, plus
	// maxClockStep and room for time.Now's two clock readings being apart under load.
	quietMargin = 100 * time.Millisecond
	// maxClockStep is the largest change of the wall clock against the monotonic one that keeps an epoch.
	maxClockStep = 25 * time.Millisecond
	// maxCachedPins bounds the entries of an epoch (clients may call names that do not exist); a full
	// epoch starts over. maxCachedKey bounds the length of a cached item's server, kind and name together.
	maxCachedPins = 4096
	maxCachedKey  = 1024
	// keeperLife is how long the cache holds one connection before taking another (see holdConn): below
	// the store's connection lifetime (2 s), so that the connections it holds are recycled all the same.
	keeperLife = time.Second
)

type itemKey struct{ server, kind, name string }

// fileID is what a stat says about one file, compared whole.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64 // Unix nanoseconds
}

// fileStamp is the stat of pins.db and pins.db-wal.
type fileStamp struct{ db, wal fileID }

// quiet reports whether both files were last modified at least quietMargin before now, with an mtime of
// nanosecond resolution.
func (f fileStamp) quiet(now time.Time) bool {
	limit := now.Add(-quietMargin).UnixNano()
	for _, id := range [2]fileID{f.db, f.wal} {
		if id.mtime > limit || id.mtime%int64(time.Second) == 0 {
			return false
		}
	}
	return true
}

// cacheEpoch holds entries read while the files had one stamp.
type cacheEpoch struct {
	files  fileStamp
	offset time.Duration // clockOffset when the epoch began: clock steps since are detected
	n      int           // entries (under stateCache.mu)
	pins   sync.Map      // itemKey → *Pin (nil: never seen); stored values are never modified
}

// clockBase is the reference of clockOffset.
var clockBase = time.Now()

// clockOffset is how far the wall clock moved against the monotonic one between clockBase and now: it
// changes only when the wall clock is stepped (NTP slews both clocks alike).
func clockOffset(now time.Time) time.Duration {
	return now.Round(0).Sub(clockBase.Round(0)) - now.Sub(clockBase)
}

func (e *cacheEpoch) stepped(now time.Time) bool {
	d := clockOffset(now) - e.offset
	return d > maxClockStep || d < -maxClockStep
}

// stateCache is State's cache; nil when the store cannot have one (PostgreSQL, a platform without stat
// identities).
type stateCache struct {
	db, wal string // paths

	mu      sync.Mutex // serialises changes of cur and gen
	cur     atomic.Pointer[cacheEpoch]
	gen     atomic.Uint64 // bumped by every write's end
	writing atomic.Int64  // writes through this Store in progress

	keepMu   sync.Mutex // guards keepConn and closed
	keepConn *sql.Conn
	closed   bool
	keepDue  atomic.Int64 // when to replace keepConn: time since clockBase (monotonic), ns
}

func newStateCache(path string) *stateCache {
	if path == "" || !statSupported {
		return nil
	}
	return &stateCache{db: path, wal: path + "-wal"}
}

// stamp stats both files; ok is false when either cannot be used.
func (c *stateCache) stamp() (fileStamp, bool) {
	db, ok := statFile(c.db)
	if !ok {
		return fileStamp{}, false
	}
	wal, ok := statFile(c.wal)
	return fileStamp{db: db, wal: wal}, ok
}

// lookup returns the cached state of k; hit is false when there is none valid for files at now.
func (c *stateCache) lookup(now time.Time, files fileStamp, k itemKey) (p *Pin, hit bool) {
	e := c.cur.Load()
	if e == nil || e.files != files || e.stepped(now) {
		return nil, false
	}
	v, ok := e.pins.Load(k)
	if !ok {
		return nil, false
	}
	if cp := v.(*Pin); cp != nil {
		out := *cp
		return &out, true
	}
	return nil, true
}

// fillStart says whether a read starting now may be kept, and the generation keep must still see.
func (c *stateCache) fillStart() (gen uint64, ok bool) {
	if c.writing.Load() != 0 {
		return 0, false
	}
	return c.gen.Load(), true
}

// keep stores p (nil: never seen) for k, read under the conditions the comment above lists with the stamp
// files taken at now, unless a write through this Store began or ended since fillStart returned gen.
func (c *stateCache) keep(gen uint64, now time.Time, files fileStamp, k itemKey, p *Pin) {
	if len(k.server)+len(k.kind)+len(k.name) > maxCachedKey {
		return
	}
	var v *Pin
	if p != nil {
		cp := *p
		v = &cp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen || c.writing.Load() != 0 {
		return
	}
	e := c.cur.Load()
	if e == nil || e.files != files || e.stepped(now) || e.n >= maxCachedPins {
		e = &cacheEpoch{files: files, offset: clockOffset(now)}
		c.cur.Store(e)
	}
	if _, loaded := e.pins.Swap(k, v); !loaded {
		e.n++
	}
}

// beginWrite and endWrite bracket every write through the Store; endWrite, called once the write has
// committed or rolled back, drops all entries.
func (c *stateCache) beginWrite() {
	if c != nil {
		c.writing.Add(1)
	}
}

func (c *stateCache) endWrite() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.cur.Store(nil)
	c.gen.Add(1)
	c.mu.Unlock()
	c.writing.Add(-1)
}

// testHookFillRead, when set by a test, runs after a read meant for the cache and before it is kept.
var testHookFillRead func()

// cachedState is State on SQLite with the cache.
func (s *Store) cachedState(ctx context.Context, server, kind, name string) (*Pin, error) {
	c := s.cache
	k := itemKey{server, kind, name}
	now := time.Now()
	s.holdConn(ctx, now)
	files, ok := c.stamp()
	if ok {
		if p, hit := c.lookup(now, files, k); hit {
			return p, nil
		}
	}
	if !ok || !files.quiet(now) {
		return s.readState(ctx, server, kind, name)
	}
	gen, ok := c.fillStart()
	if !ok {
		return s.readState(ctx, server, kind, name)
	}
	p, ok := s.readLatest(ctx, server, kind, name)
	if !ok {
		return s.readState(ctx, server, kind, name)
	}
	if testHookFillRead != nil {
		testHookFillRead()
	}
	c.keep(gen, now, files, k, p)
	return p, nil
}

// holdConn keeps one connection of the store open. The store's pool closes a connection 2 s after it was
// opened, and while State answers from the cache nothing else uses the pool: it would drain, and SQLite's
// last connection to close checkpoints pins.db and deletes its log — no log, no cache, and after the next
// read opens it again the files are new, so reads go through for quietMargin, every 2–3 s. The held
// connection is replaced every keeperLife, the new one taken before the old is given back.
func (s *Store) holdConn(ctx context.Context, now time.Time) {
	c := s.cache
	if now.Sub(clockBase) < time.Duration(c.keepDue.Load()) || !c.keepMu.TryLock() {
		return
	}
	defer c.keepMu.Unlock()
	if c.closed {
		return
	}
	c.keepDue.Store(int64(now.Sub(clockBase) + keeperLife))
	if st := s.db.Stats(); st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections-1 {
		return // no waiting for a connection here; tried again after keeperLife
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return // reads go on without the cache when the log is gone; tried again after keeperLife
	}
	if c.keepConn != nil {
		_ = c.keepConn.Close()
	}
	c.keepConn = conn
}

// close gives back the held connection; none is taken after.
func (c *stateCache) close() {
	c.keepMu.Lock()
	defer c.keepMu.Unlock()
	c.closed = true
	if c.keepConn != nil {
		_ = c.keepConn.Close()
		c.keepConn = nil
	}
}

// readLatest reads the state of one item in a transaction holding SQLite's write lock (BEGIN IMMEDIATE:
// the store's connections use _txlock=immediate) without waiting for the lock: ok is false when another
// connection holds it or anything failed, and the caller then reads without the cache. The transaction
// writes nothing, so the files keep their stamp.
func (s *Store) readLatest(ctx context.Context, server, kind, name string) (p *Pin, ok bool) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false
	}
	defer conn.Close()
	var timeout int64
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		return nil, false
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return nil, false
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+strconv.FormatInt(timeout, 10)); err != nil {
			// Not given back to the pool without its busy timeout.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, false
	}
	defer func() { _ = tx.Rollback() }()
	st := s.stateStmt(ctx)
	if st == nil {
		return nil, false
	}
	p, err = scanState(tx.StmtContext(ctx, st).QueryRowContext(ctx, server, kind, name))
	if err != nil {
		return nil, false
	}
	return p, true
}
