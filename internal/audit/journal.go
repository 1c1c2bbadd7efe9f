package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/store"
)

// JournalFile is the audit journal's file name inside data_dir (SQLite audit store only).
const JournalFile = "audit.journal"

// The journal in front of a SQLite audit store.
//
// A request's record must be kept before the request is forwarded, so that no crash of the gateway can
// lose the trail of a call that ran. Committing it to SQLite first put a transaction (a writer lock, the
// chain head's lookup, the INSERT, the log writes) in front of every call. Instead the record is appended
// to this file with one write — from then on a crash of the gateway cannot lose it — and the journal is
// forced to disk (fsync) while the upstream works; a call's answer is released once its record is durable
// there. The writer commits records to SQLite a few milliseconds later, several calls' in one transaction
// (commitDelay).
//
// The journal only ever holds records not yet known durable in SQLite: when everything appended has been
// committed, the database's log is forced to disk and the journal is emptied (at most journalResetAt bytes
// are kept; and at Close). A gateway that stopped without committing leaves records in it; the next writer
// to open the data directory commits those missing from the store (matched by their exact bytes) into the
// chain the journal names, before serving.
//
// One process at a time uses a journal (an exclusive flock): another gateway process on the same data
// directory commits before forwarding, as without a journal.
//
// Layout: a header line ("mcpwarden audit journal 3"), the journal's epoch (16 hex digits) and the chain's
// name on a line each, then frames of a 4-byte big-endian length (never 0), a 4-byte CRC-32C of the epoch's
// 8 bytes followed by the frame's payload, and the payload: a record's encoded body (Encoded.Body, a JSON
// object), or, for the record of an answer whose request record was not yet committed when the answer
// was journaled, the byte 'c', the 4-byte big-endian index of the request's frame in the same epoch (0 for
// the first frame), and the answer's body without its parent: the parent's chain position is set when the
// two are committed (see Writer.EnqueueAnswer). Version 2 journals (no 'c' frames) are read too. The file is kept allocated
// (zero-filled ahead of the frames, and not shrunk when emptied), so the fsync that makes a frame durable
// writes the frame, not the file's new size: that made the sync about a quarter faster here. Emptying the
// journal writes a new epoch into the header (synced before any new frame), which makes every older frame
// invalid. The journal ends at the first frame that is zero, torn (a crash inside a write), or of an older
// epoch.
type journal struct {
	path  string
	chain string
	sync  bool // fsync the journal for durability (audit.sync: full)
	log   *slog.Logger

	mu          sync.Mutex
	f           *os.File
	fi          os.FileInfo // f's identity, to notice the journal being replaced or removed
	hdr         int64       // header size: frames start here
	end         int64       // file offset after the last frame
	alloc       int64       // the file's size: zero-filled beyond end
	epoch       [8]byte     // the header's epoch, which every frame's checksum covers
	total       uint64      // bytes ever appended (frames): the journal's logical position, for durability
	gen         uint64      // the epoch's number in this process (a frame index means something within it)
	frames      uint32      // frames appended in this epoch
	outstanding int         // frames appended and neither committed in the store nor abandoned
	broken      error       // a failed write left the file's tail unknown: further appends are refused
	// draining holds appends back once the journal reached journalResetAt, until the writer committed
	// what it holds and emptied it (a pause of about one commit and one sync); cond signals its end.
	draining bool
	cond     *sync.Cond
	onDrain  func() // called (under mu) when appends start waiting for the journal to be emptied
	buf      []byte
}

const journalMagic = "mcpwarden audit journal 3\n"

// journalMagicV2 is the header of the journals of the version before answers' frames (read, not written).
const journalMagicV2 = "mcpwarden audit journal 2\n"

// childFrame starts the payload of a frame whose record's parent is another frame (see journal).
const childFrame = 'c'

// errParentGone: the parent's frame belongs to an emptied epoch (so the parent is committed).
var errParentGone = errors.New("audit journal: the parent record's frame is no longer in the journal")

// journalGrowth is how much zero-filled space the journal gains when a frame would pass its end.
const journalGrowth = 1 << 20

// journalResetAt is how large the journal may grow before it is emptied once all it holds is committed.
const journalResetAt = 4 << 20

// journalMax bounds the journal while the store does not accept commits: beyond it, records are refused
// (and with them the calls they describe) instead of filling the disk.
const journalMax = 256 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// journalLockWait is how many 10 ms waits a writer gives another holder of the journal's lock.
const journalLockWait = 20

// errJournalLocked: another process holds the journal.
var errJournalLocked = errors.New("the audit journal is in use by another process")

// openJournal opens (creating it when needed) the journal in dir for a writer of chain on sink, after
// committing into the store whatever a previous writer left in it. It returns nil, nil when another
// process holds the journal or the platform has no file locks: the writer then commits before forwarding.
func openJournal(ctx context.Context, dir, chain string, sink *SQLSink, durable bool, log *slog.Logger) (*journal, error) {
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	// A reader of the store (an audit command) holds the lock for a moment while it recovers; a running
	// gateway holds it for good: wait briefly before doing without.
	err = lockJournal(f)
	for wait := 0; errors.Is(err, errJournalLocked) && wait < journalLockWait; wait++ {
		time.Sleep(10 * time.Millisecond)
		err = lockJournal(f)
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, errJournalLocked) || errors.Is(err, errors.ErrUnsupported) {
			log.Info("audit: the journal is in use by another gateway process (or file locks are unavailable); this one commits each request's record before forwarding it",
				"journal", path)
			return nil, nil
		}
		return nil, fmt.Errorf("audit journal: lock %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("audit journal: stat %s: %w", path, err)
	}
	j := &journal{path: path, chain: chain, sync: durable, log: log, f: f, fi: fi}
	j.cond = sync.NewCond(&j.mu)
	if err := j.recover(ctx, sink); err != nil {
		_ = f.Close()
		return nil, err
	}
	return j, nil
}

// recoverOrphan commits what a journal nobody uses holds (a gateway stopped abruptly and was not started
// again) into the store, and empties it: readers of the store (audit verify, tail, export) then see those
// records too. A journal in use by a running gateway is left to it.
func recoverOrphan(ctx context.Context, sink *SQLSink) error {
	if sink.DB().Dialect != store.SQLite || sink.DB().Path() == "" {
		return nil
	}
	path := filepath.Join(filepath.Dir(sink.DB().Path()), JournalFile)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, os.ErrPermission) {
		// A reader without write access (an auditor's account) still reads the store.
		slog.Default().Warn("audit: the journal cannot be opened for writing; records a stopped gateway left in it are not in the store until a gateway starts on this data directory",
			"journal", path, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit journal: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() <= int64(len(journalMagic)) {
		return err // no frames: nothing to do
	}
	if err := lockJournal(f); err != nil {
		if errors.Is(err, errJournalLocked) || errors.Is(err, errors.ErrUnsupported) {
			return nil
		}
		return fmt.Errorf("audit journal: lock %s: %w", path, err)
	}
	j := &journal{path: path, log: slog.Default(), f: f}
	n, err := j.replay(ctx, sink)
	if err != nil {
		return err
	}
	if n > 0 {
		// The next writer writes its own header.
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("audit journal: empty %s: %w", path, err)
		}
	}
	return nil
}

// recover commits what the journal holds and is missing from the store, then empties the journal for chain.
func (j *journal) recover(ctx context.Context, sink *SQLSink) error {
	if _, err := j.replay(ctx, sink); err != nil {
		return err
	}
	fi, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("audit journal: stat %s: %w", j.path, err)
	}
	j.alloc = fi.Size()
	if err := j.newEpoch(); err != nil {
		return err
	}
	return store.SyncDir(filepath.Dir(j.path))
}

// newEpoch empties the journal: a new epoch in the header, synced, invalidates every frame in the file.
// If the header could not be written and synced, what the file holds is unknown: the journal is broken
// (appends are refused) until the gateway restarts.
func (j *journal) newEpoch() error {
	var epoch [8]byte
	if _, err := rand.Read(epoch[:]); err != nil {
		return fmt.Errorf("audit journal: epoch: %w", err)
	}
	hdr := []byte(journalMagic + hex.EncodeToString(epoch[:]) + "\n" + j.chain + "\n")
	_, err := j.f.WriteAt(hdr, 0)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		err = fmt.Errorf("audit journal: write the header of %s: %w", j.path, err)
		j.broken = fmt.Errorf("%w; the journal's state is unknown: restart the gateway once the disk is fixed", err)
		return err
	}
	j.epoch = epoch
	j.gen++
	j.frames = 0
	j.hdr, j.end = int64(len(hdr)), int64(len(hdr))
	j.alloc = max(j.alloc, j.end)
	return nil
}

// replay commits the records in the journal that the store is missing, and makes them durable. It returns
// how many records the journal held.
func (j *journal) replay(ctx context.Context, sink *SQLSink) (int, error) {
	data, err := io.ReadAll(j.f)
	if err != nil {
		return 0, fmt.Errorf("audit journal: read %s: %w", j.path, err)
	}
	if len(data) == 0 {
		return 0, nil
	}
	chain, frames, err := parseJournal(data)
	if err != nil {
		return 0, fmt.Errorf("audit journal %s: %w; it is not a journal this version can read: move it aside to start, and keep it for investigation", j.path, err)
	}
	if len(frames) == 0 {
		return 0, nil
	}
	n, err := recoverRecords(ctx, sink, chain, frames)
	if err != nil {
		return 0, fmt.Errorf("audit journal %s: committing the %d records a previous gateway left: %w", j.path, len(frames), err)
	}
	if err := sink.Sync(ctx); err != nil {
		return 0, fmt.Errorf("audit journal %s: %w", j.path, err)
	}
	if n > 0 {
		j.log.Warn("audit: committed records the previous gateway process had journaled but not stored (it stopped abruptly)",
			"records", n, "chain", chain, "journal", j.path)
	}
	return len(frames), nil
}

// journalFrame is one record read back from a journal.
type journalFrame struct {
	body []byte // the record's body (for a child frame, without its parent)
	// parent is the index of the frame of the record's parent, whose chain position becomes the record's
	// Parent when they are committed; -1: the body is complete.
	parent int
}

// parseJournal splits a journal into its chain and the frames of its epoch (up to the first frame that is
// zero, torn or older).
func parseJournal(data []byte) (chain string, frames []journalFrame, err error) {
	var rest []byte
	switch {
	case bytes.HasPrefix(data, []byte(journalMagic)):
		rest = data[len(journalMagic):]
	case bytes.HasPrefix(data, []byte(journalMagicV2)):
		rest = data[len(journalMagicV2):]
	default:
		return "", nil, errors.New("no journal header")
	}
	line := func() ([]byte, bool) {
		nl := bytes.IndexByte(rest, '\n')
		if nl <= 0 {
			return nil, false
		}
		l := rest[:nl]
		rest = rest[nl+1:]
		return l, true
	}
	var epoch [8]byte
	if l, ok := line(); !ok || len(l) != 16 {
		return "", nil, errors.New("no epoch in the header")
	} else if _, err := hex.Decode(epoch[:], l); err != nil {
		return "", nil, fmt.Errorf("the header's epoch: %w", err)
	}
	l, ok := line()
	if !ok {
		return "", nil, errors.New("no chain name in the header")
	}
	chain = string(l)
	for len(rest) >= 8 {
		n := binary.BigEndian.Uint32(rest)
		if n == 0 || uint64(n) > uint64(len(rest)-8) || frameCRC(epoch, rest[8:8+n]) != binary.BigEndian.Uint32(rest[4:]) {
			break
		}
		f := journalFrame{body: rest[8 : 8+n], parent: -1}
		if f.body[0] == childFrame {
			if len(f.body) < 5 {
				break
			}
			f.parent, f.body = int(binary.BigEndian.Uint32(f.body[1:])), f.body[5:]
		}
		frames, rest = append(frames, f), rest[8+n:]
	}
	return chain, frames, nil
}

// frameCRC is a frame's checksum: CRC-32C of the epoch, then the payload (given in parts: a child frame's
// prefix and its body).
func frameCRC(epoch [8]byte, payload ...[]byte) uint32 {
	crc := crc32.Checksum(epoch[:], crcTable)
	for _, p := range payload {
		crc = crc32.Update(crc, crcTable, p)
	}
	return crc
}

// recoverRecords commits into chain the frames' records not already stored (compared byte for byte
// through their digests, among the chain's records from the earliest journaled time on). A child frame's
// record gets its parent's chain position first: the stored one's, or the one its parent gets now. It
// returns how many records it added.
func recoverRecords(ctx context.Context, sink *SQLSink, chain string, frames []journalFrame) (int, error) {
	recs := make([]*Record, len(frames))
	var since int64
	for i, f := range frames {
		var r Record
		if err := json.Unmarshal(f.body, &r); err != nil {
			return 0, fmt.Errorf("frame %d is not a record: %w", i+1, err)
		}
		if t := r.Time.UnixNano(); i == 0 || t < since {
			since = t
		}
		recs[i] = &r
	}
	db := sink.DB()
	rows, err := db.QueryContext(ctx, db.Rebind("SELECT seq, body FROM audit_records WHERE chain = ? AND time_ns >= ?"), chain, since)
	if err != nil {
		return 0, fmt.Errorf("read the stored records: %w", err)
	}
	stored := make(map[[32]byte]int64) // digest → seq
	for rows.Next() {
		var seq int64
		var body string
		if err := rows.Scan(&seq, &body); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("read the stored records: %w", err)
		}
		stored[sha256.Sum256([]byte(body))] = seq
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("read the stored records: %w", err)
	}
	// same maps a record to the one recovered for the same bytes earlier in the journal (one record).
	same := make(map[[32]byte]*Record)
	var missing []Encoded
	for i, f := range frames {
		r := recs[i]
		var parent *Record // a parent not stored yet: its position is set by AppendBatch
		if f.parent >= 0 {
			if f.parent >= i {
				// Cannot happen (a parent's frame precedes its answer's): keep the record, without the link.
				slog.Default().Warn("audit journal: an answer's frame names a parent that does not precede it; recovered without its parent", "frame", i+1)
			} else if p := recs[f.parent]; p.Seq > 0 {
				r.Parent = p.Ref()
			} else {
				parent = p
			}
		}
		if parent != nil {
			// Its parent is not stored, so neither is it (an answer is committed after its request).
			missing = append(missing, Encoded{Rec: r, Parent: parent})
			continue
		}
		e := Encoded{Rec: r, Body: f.body, Digest: sha256.Sum256(f.body)} // exactly the journaled bytes
		if f.parent >= 0 {
			var err error
			if e, err = Encode(r); err != nil {
				return 0, fmt.Errorf("frame %d: %w", i+1, err)
			}
		}
		if seq, ok := stored[e.Digest]; ok {
			r.Chain, r.Seq = chain, seq
			continue
		}
		if first := same[e.Digest]; first != nil {
			recs[i] = first
			continue
		}
		same[e.Digest] = r
		missing = append(missing, e)
	}
	if len(missing) == 0 {
		return 0, nil
	}
	if err := sink.AppendBatch(ctx, chain, missing, nil); err != nil {
		return 0, err
	}
	return len(missing), nil
}

// append writes one frame for body; it returns the journal's logical position after it (the durability
// mark of the record), and the epoch's number and the frame's index in it (which an answer's frame may
// name as its parent: appendChild). Nothing is appended once a write failed.
func (j *journal) append(body []byte) (pos, gen uint64, idx uint32, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.appendLocked(nil, body)
}

// appendChild writes the frame of body, the record of an answer without its parent, naming the frame
// (gen, idx) of its parent. It fails with errParentGone when that frame's epoch was emptied (the parent is
// then committed: the caller completes the record and appends it whole).
func (j *journal) appendChild(body []byte, gen uint64, idx uint32) (pos, cgen uint64, cidx uint32, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.draining && j.f != nil {
		j.cond.Wait()
	}
	if gen != j.gen || idx >= j.frames {
		return 0, 0, 0, errParentGone
	}
	var prefix [5]byte
	prefix[0] = childFrame
	binary.BigEndian.PutUint32(prefix[1:], idx)
	return j.appendLocked(prefix[:], body)
}

func (j *journal) appendLocked(prefix, body []byte) (uint64, uint64, uint32, error) {
	for j.draining && j.f != nil {
		j.cond.Wait()
	}
	if j.broken != nil {
		return 0, 0, 0, j.broken
	}
	if j.f == nil {
		return 0, 0, 0, ErrClosed
	}
	payload := int64(len(prefix) + len(body))
	size := 8 + payload
	if j.end+size > journalMax {
		return 0, 0, 0, fmt.Errorf("audit journal %s is full (%d MiB of records the store has not accepted yet): the audit store does not accept commits", j.path, journalMax>>20)
	}
	if j.end+size > j.alloc {
		// Zero-fill ahead, so that the frames' syncs do not also write a new file size.
		grow := max(journalGrowth, j.end+size-j.alloc)
		if _, err := j.f.WriteAt(make([]byte, grow), j.alloc); err != nil {
			return 0, 0, 0, fmt.Errorf("audit journal: extend %s: %w", j.path, err)
		}
		j.alloc += grow
	}
	crc := frameCRC(j.epoch, prefix, body)
	j.buf = binary.BigEndian.AppendUint32(j.buf[:0], uint32(payload))
	j.buf = binary.BigEndian.AppendUint32(j.buf, crc)
	j.buf = append(j.buf, prefix...)
	j.buf = append(j.buf, body...)
	if _, err := j.f.WriteAt(j.buf, j.end); err != nil {
		err = fmt.Errorf("audit journal: write %s: %w", j.path, err)
		// A partial frame must not stay in front of the next ones (it is overwritten by the next one; make
		// sure it reads as the end meanwhile).
		if _, terr := j.f.WriteAt(make([]byte, 8), j.end); terr != nil {
			j.broken = fmt.Errorf("%w; the journal could not be repaired (%v): restart the gateway once the disk is fixed", err, terr)
		}
		return 0, 0, 0, err
	}
	if cap(j.buf) > 64<<10 {
		j.buf = nil
	}
	j.end += size
	j.total += uint64(size)
	j.outstanding++
	idx := j.frames
	j.frames++
	if j.end-j.hdr >= journalResetAt && !j.draining {
		j.draining = true
		if j.onDrain != nil {
			j.onDrain()
		}
	}
	return j.total, j.gen, idx, nil
}

// done notes that n appended frames were committed to the store, or will never be (abandoned).
func (j *journal) done(n int) {
	j.mu.Lock()
	j.outstanding -= n
	j.mu.Unlock()
}

// undrain lets appends go on without emptying the journal first (the store does not accept commits: the
// journal keeps the records meanwhile, up to journalMax).
func (j *journal) undrain() {
	j.mu.Lock()
	j.draining = false
	j.cond.Broadcast()
	j.mu.Unlock()
}

// NeedsSync implements Syncer: the journal is forced to disk for durability unless audit.sync is normal.
func (j *journal) NeedsSync() bool { return j.sync }

// Sync implements Syncer: everything appended so far is durable when it returns. A journal that is no
// longer at its path (removed, replaced) fails too: what it holds could not be recovered after a crash.
func (j *journal) Sync(context.Context) error {
	j.mu.Lock()
	f := j.f
	j.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit journal: sync %s: %w (the disk may be failing)", j.path, err)
	}
	if fi, err := os.Stat(j.path); err != nil || !os.SameFile(fi, j.fi) {
		return fmt.Errorf("audit journal %s was removed or replaced while in use (%v): records kept in it could not be recovered after a crash; restart the gateway", j.path, err)
	}
	return nil
}

// reset empties the journal when everything in it is committed in the store and its frames take at least
// least bytes: it makes the store's commits durable first (sink.Sync). It reports the logical position
// up to which records are now durable through the store (0: not reset).
func (j *journal) reset(ctx context.Context, sink Syncer, least int64) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil || j.outstanding != 0 || j.end-j.hdr < max(least, 1) {
		return 0, nil
	}
	defer func() {
		j.draining = false
		j.cond.Broadcast()
	}()
	if err := sink.Sync(ctx); err != nil {
		return 0, err
	}
	if j.alloc > 4*journalResetAt {
		// It grew while the store was down: give the space back, keeping the usual allocation.
		keep := int64(journalResetAt + journalGrowth)
		if err := j.f.Truncate(keep); err == nil {
			j.alloc = keep
		}
	}
	if err := j.newEpoch(); err != nil {
		// Harmless for the records (they are durable in the store, and a later recovery skips them), but
		// the journal was not emptied: say so. Frames keep being appended after the old ones.
		return 0, err
	}
	return j.total, nil
}

// close releases the journal (and its lock).
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	j.cond.Broadcast()
	return err
}

// journalFor opens the journal of a writing Auditor on sink, when the store is SQLite.
// The journal sits next to the database file.
func journalFor(ctx context.Context, chain string, sink *SQLSink, durable bool, log *slog.Logger) (*journal, error) {
	if sink.DB().Dialect != store.SQLite || sink.DB().Path() == "" {
		return nil, nil
	}
	return openJournal(ctx, filepath.Dir(sink.DB().Path()), chain, sink, durable, log)
}
