package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned for records submitted after the writer closed.
var ErrClosed = errors.New("audit writer is closed")

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Sink stores the records. Required.
	Sink Sink
	// Chain is the chain this writer extends (one per gateway instance). Required.
	Chain string
	// Signer seals the chain with checkpoints. Nil: no checkpoints.
	Signer *Signer
	// QueueSize bounds records waiting to be written; a full queue blocks submitters (backpressure).
	// Default 32768.
	QueueSize int
	// MaxBatch bounds the records committed in one transaction. Default 8192.
	MaxBatch int
	// CheckpointEvery writes a checkpoint after this many records. Default 1000.
	CheckpointEvery int64
	// CheckpointInterval writes a checkpoint at least this often while records arrive. Default 1m.
	CheckpointInterval time.Duration
	// Logger reports write failures. Default slog.Default().
	Logger *slog.Logger
	// OnCommit, when set, is called in the writer's goroutine with each committed batch (secondary sinks
	// such as the OTLP exporter). It must not block and must not modify the records.
	OnCommit func(recs []*Record)

	// journal, when set, receives every record before it is queued (see journal): Write returns once the
	// record is in the journal, and its Ticket waits for the commit and the journal's sync.
	journal *journal

	linger      time.Duration // tests: replaces lingerDelay
	commitDelay time.Duration // tests: replaces commitDelay
}

// Writer commits records to a Sink in groups: one transaction for everything that arrived while the
// previous commit ran. It owns one goroutine, stopped by Close. When the sink is a Syncer that needs it, a
// second goroutine makes committed batches durable: at once when somebody waits for that (Ticket.Durable),
// otherwise within syncDelay; one sync covers every batch committed before it.
type Writer struct {
	cfg   WriterConfig
	queue chan *entry
	stop  chan struct{}
	done  chan struct{}
	// urgent (capacity 1) tells the writer that somebody waits for a commit (Ticket.Committed).
	urgent chan struct{}

	syncer   Syncer        // nil: every committed batch is durable
	dur      durability    // committed and durable batch counts, and who waits
	syncDone chan struct{} // closed when the sync goroutine ended

	mu     sync.RWMutex // guards closed against Submit racing Close
	closed bool

	failing atomic.Bool // the last commit failed

	// Owned by the run goroutine.
	sinceCP int64     // records written since the last checkpoint
	cpTime  time.Time // when the last checkpoint was written
	pending []*entry  // queued records whose batch failed: retried first

	statsMu sync.Mutex
	stats   WriterStats
}

// WriterStats counts what the writer did.
type WriterStats struct {
	Records, Batches, Failures, Checkpoints int64
}

type entry struct {
	rec *Record
	enc Encoded // rec encoded and digested by the submitter
	// fin is closed when the record's commit succeeded or failed (err), the first time; nil: nobody waits
	// (the record is retried until written).
	fin      chan struct{}
	err      error
	finished bool   // owned by the writer's goroutine
	n        uint64 // the number of the commit that wrote rec (set before fin is closed)
	jpos     uint64 // with a journal: its logical position after the record (the durability mark)
	jgen     uint64 // with a journal: the epoch and index of the record's frame (see journal.appendChild)
	jidx     uint32
	// parent, for the record of an answer, is its request's entry when that was not committed yet at
	// submission: the request's chain position becomes rec.Parent when the two are committed.
	parent *entry
}

// committed reports whether e's record is in the store (its chain position is final).
func (e *entry) committed() bool {
	select {
	case <-e.fin:
		return e.err == nil
	default:
		return false
	}
}

// finish reports the outcome of e's first commit attempt to whoever waits for it.
func (e *entry) finish(err error) {
	if e.fin == nil || e.finished {
		return
	}
	e.err, e.finished = err, true
	close(e.fin)
}

// syncDelay bounds how long a committed batch that nobody waits for stays without a sync: such batches
// (response and notification records) are usually covered by the sync a waiting call asks for next.
const syncDelay = 10 * time.Millisecond

// durability counts what was written and what is durable: batches committed to a sink that needs syncs,
// or, with a journal, bytes appended to the journal. Position n is durable once synced >= n.
type durability struct {
	mu      sync.Mutex
	written uint64 // batches committed (or journal bytes appended)
	synced  uint64 // known durable
	waiters []durableWaiter
	kick    chan struct{} // capacity 1: somebody waits for a sync
	more    chan struct{} // capacity 1: a batch was committed
}

type durableWaiter struct {
	n  uint64
	ch chan error
}

// Ticket is a record written by Writer.Write. Committed waits until it is in the store, Durable until
// it is also durable.
type Ticket struct {
	w *Writer
	e *entry // with a journal: the record, whose commit may still be running
	n uint64
}

// Committed waits until the ticket's record is committed to the store (its chain position is set), or ctx
// ends, or the commit failed. Without a journal, Write returned after the commit. A zero Ticket is
// committed.
func (t Ticket) Committed(ctx context.Context) error {
	if t.e == nil {
		return nil
	}
	select {
	case <-t.e.fin:
		return t.e.err
	default:
	}
	if t.w != nil {
		// Somebody needs the chain position now: the writer stops waiting for company (see commitDelay).
		t.w.hurry()
	}
	select {
	case <-t.e.fin:
		return t.e.err
	case <-ctx.Done():
		return fmt.Errorf("audit record not committed in time: %w", ctx.Err())
	}
}

// Durable waits until the ticket's record is durable (forced to disk), or ctx ends, or the commit or the
// sync failed. With a journal, a record is durable once its journal frame is synced: its commit to the
// store may still be waiting for company (a crash cannot lose it; the next start commits it). Without,
// it is durable once committed and synced. A zero Ticket is durable.
func (t Ticket) Durable(ctx context.Context) error {
	if t.w == nil || t.w.cfg.journal == nil {
		if err := t.Committed(ctx); err != nil {
			return err
		}
	}
	if t.w == nil || t.w.syncer == nil {
		return nil
	}
	d := &t.w.dur
	d.mu.Lock()
	if d.synced >= t.n {
		d.mu.Unlock()
		return nil
	}
	ch := make(chan error, 1)
	d.waiters = append(d.waiters, durableWaiter{n: t.n, ch: ch})
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-ch:
		return err
	case <-t.w.syncDone:
		// Closed: the last sync settled every waiter it could; this one registered too late for it.
		select {
		case err := <-ch:
			return err
		default:
		}
		d.mu.Lock()
		ok := d.synced >= t.n
		d.mu.Unlock()
		if ok {
			return nil
		}
		return fmt.Errorf("audit record not made durable: %w", ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("audit record not made durable in time: %w", ctx.Err())
	}
}

// NewWriter starts a writer extending cfg.Chain.
func NewWriter(_ context.Context, cfg WriterConfig) (*Writer, error) {
	if cfg.Sink == nil || cfg.Chain == "" {
		return nil, errors.New("audit: a writer needs a sink and a chain name")
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 32768
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 8192
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 1000
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.linger <= 0 {
		cfg.linger = lingerDelay
	}
	if cfg.commitDelay <= 0 {
		cfg.commitDelay = commitDelay
	}
	w := &Writer{cfg: cfg, queue: make(chan *entry, cfg.QueueSize), stop: make(chan struct{}), done: make(chan struct{}),
		urgent: make(chan struct{}, 1), cpTime: time.Now(), syncDone: make(chan struct{})}
	w.dur.kick, w.dur.more = make(chan struct{}, 1), make(chan struct{}, 1)
	if j := cfg.journal; j != nil {
		j.onDrain = w.hurry
		if j.NeedsSync() {
			w.syncer = j
			go w.syncLoop()
		} else {
			close(w.syncDone)
		}
	} else if sy, ok := cfg.Sink.(Syncer); ok && sy.NeedsSync() {
		w.syncer = sy
		go w.syncLoop()
	} else {
		close(w.syncDone)
	}
	go w.run()
	return w, nil
}

// Append submits rec and waits until it is committed and durable (or ctx ends, or the store fails). On
// success rec's Chain, Seq, PrevHash and Hash are set. A record whose commit failed is not retried: the
// caller decides (the gateway refuses the call).
func (w *Writer) Append(ctx context.Context, rec *Record) error {
	t, err := w.Write(ctx, rec)
	if err != nil {
		return err
	}
	if err := t.Committed(ctx); err != nil {
		return err
	}
	return t.Durable(ctx)
}

// Write submits rec and returns once a crash of the gateway cannot lose it: with a journal, when it is
// appended there (the commit runs on: Ticket.Committed); without, when it is committed to the sink. That
// may be before it is durable: its Ticket says when a power loss would not lose it either. Without a
// journal, like Append, a record whose commit failed is not retried; a journaled record is retried until
// committed (it may describe a call that ran), and its Ticket reports the first failure.
func (w *Writer) Write(ctx context.Context, rec *Record) (Ticket, error) {
	e := &entry{rec: rec, fin: make(chan struct{})}
	if err := w.submit(ctx, e); err != nil {
		return Ticket{}, err
	}
	if w.cfg.journal != nil {
		t := Ticket{w: w, e: e, n: e.jpos}
		if w.failing.Load() {
			// The store refused the last commit: wait for this one, so that while the store is down a call
			// is refused before it is forwarded (the record stays in the journal and is committed later).
			if err := t.Committed(ctx); err != nil {
				return Ticket{}, err
			}
		}
		return t, nil
	}
	select {
	case <-e.fin:
		if e.err != nil {
			return Ticket{}, e.err
		}
		return Ticket{w: w, e: e, n: e.n}, nil
	case <-ctx.Done():
		return Ticket{}, fmt.Errorf("audit record not committed in time: %w", ctx.Err())
	}
}

// Enqueue submits rec without waiting for the commit; it blocks while the queue is full (backpressure)
// until ctx ends. The writer retries the record until it is written or the writer closes.
func (w *Writer) Enqueue(ctx context.Context, rec *Record) error {
	return w.submit(ctx, &entry{rec: rec})
}

// EnqueueAnswer is Enqueue for the record of an answer to the request recorded by req (a Ticket of this
// writer): rec.Parent becomes req's chain position ("chain:seq"). The request's commit is not waited for:
// when it is still running, the two are linked when they are committed (and in the journal, the answer's
// frame names the request's). A zero req (the request was not recorded) leaves rec.Parent as it is.
func (w *Writer) EnqueueAnswer(ctx context.Context, rec *Record, req Ticket) error {
	e := &entry{rec: rec}
	if p := req.e; p != nil && req.w == w {
		if p.committed() {
			rec.Parent = p.rec.Ref()
		} else {
			e.parent = p
		}
	}
	return w.submit(ctx, e)
}

func (w *Writer) submit(ctx context.Context, e *entry) error {
	// Encode here, in the submitter's goroutine: the writer's own work stays hashing and inserting.
	var err error
	if e.enc, err = Encode(e.rec); err != nil {
		return fmt.Errorf("audit record cannot be encoded: %w", err)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	j := w.cfg.journal
	if p := e.parent; p != nil {
		e.enc.Parent = p.rec
		if j != nil {
			e.jpos, e.jgen, e.jidx, err = j.appendChild(e.enc.Body, p.jgen, p.jidx)
			if errors.Is(err, errParentGone) {
				// The request's frame was emptied from the journal, so it is committed by now (the journal
				// is emptied only when everything in it is; its lock orders that commit before this read):
				// complete the record and journal it whole.
				if p.rec.Seq <= 0 {
					return errors.New("audit: the request record of an answer left the journal without a chain position")
				}
				e.rec.Parent, e.parent = p.rec.Ref(), nil
				if e.enc, err = Encode(e.rec); err != nil {
					return fmt.Errorf("audit record cannot be encoded: %w", err)
				}
				e.jpos, e.jgen, e.jidx, err = j.append(e.enc.Body)
			}
			if err != nil {
				return err
			}
			w.noteWritten(e.jpos, false)
		}
	} else if j != nil {
		if e.jpos, e.jgen, e.jidx, err = j.append(e.enc.Body); err != nil {
			return err
		}
		w.noteWritten(e.jpos, e.fin != nil)
	}
	select {
	case w.queue <- e:
		return nil
	case <-ctx.Done():
		if j != nil {
			// Never queued: the caller refuses the call it describes, which is not forwarded.
			j.done(1)
		}
		return fmt.Errorf("audit queue full (the store is slow or down): %w", ctx.Err())
	}
}

// noteWritten records that the journal reached position pos and asks for a sync: at once when somebody
// will wait for it (the sync runs while the call does), otherwise within syncDelay.
func (w *Writer) noteWritten(pos uint64, waited bool) {
	d := &w.dur
	d.mu.Lock()
	d.written = max(d.written, pos)
	if w.syncer == nil {
		d.synced = d.written
	}
	d.mu.Unlock()
	if w.syncer == nil {
		return
	}
	ch := d.more
	if waited {
		ch = d.kick
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// hurry tells the writer to commit what it gathered now.
func (w *Writer) hurry() {
	select {
	case w.urgent <- struct{}{}:
	default:
	}
}

// Stats returns counters.
func (w *Writer) Stats() WriterStats {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	return w.stats
}

// Queued returns the number of records waiting in the queue.
func (w *Writer) Queued() int { return len(w.queue) }

// Close writes what is queued, seals the chain with a final checkpoint, and stops the writer. Records
// still unwritten when ctx ends are reported in the error.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	close(w.stop)
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		return fmt.Errorf("audit writer: %w while flushing", ctx.Err())
	}
	select {
	case <-w.syncDone:
	case <-ctx.Done():
		return fmt.Errorf("audit writer: %w while syncing", ctx.Err())
	}
	if j := w.cfg.journal; j != nil {
		n := len(w.pending)
		var err error
		if n == 0 {
			err = w.resetJournal(ctx, 0)
		}
		err = errors.Join(err, j.close())
		if n > 0 {
			return errors.Join(fmt.Errorf("audit writer: %d records could not be committed before shutdown (the store is unavailable); they stay in the journal %s and are committed when the gateway starts again", n, j.path), err)
		}
		return err
	}
	if n := len(w.pending); n > 0 {
		return fmt.Errorf("audit writer: %d records could not be written before shutdown (the store is unavailable)", n)
	}
	return nil
}

// resetJournal empties the journal when all it holds (at least least bytes) is committed, and settles
// the waiters of what the store's sync made durable.
func (w *Writer) resetJournal(ctx context.Context, least int64) error {
	var sy Syncer = noSync{}
	if s, ok := w.cfg.Sink.(Syncer); ok {
		sy = s
	}
	pos, err := w.cfg.journal.reset(ctx, sy, least)
	if err != nil {
		w.cfg.Logger.Warn("audit journal: could not be emptied; it is retried", "err", err)
		return err
	}
	if pos > 0 && w.syncer != nil {
		w.settle(pos, nil)
	}
	return nil
}

// noSync is the Syncer of a sink whose commits are durable when they return.
type noSync struct{}

func (noSync) NeedsSync() bool            { return false }
func (noSync) Sync(context.Context) error { return nil }

func (w *Writer) run() {
	defer close(w.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		batch := w.pending
		w.pending = nil
		if len(batch) == 0 {
			if w.cfg.journal != nil {
				// Idle: everything is committed, so the journal can be emptied.
				_ = w.resetJournal(context.Background(), journalResetAt)
			}
			select {
			case e := <-w.queue:
				batch = append(batch, e)
			case <-w.stop:
				w.drainAndFinish()
				return
			}
		}
		batch = w.fill(batch)
		if w.cfg.journal != nil {
			// The records are kept in the journal and their calls wait for its sync, not for this commit:
			// gather what arrives for a moment, so that one transaction writes the records of several calls.
			var stopped bool
			if batch, stopped = w.collect(batch, w.cfg.commitDelay, false); stopped {
				w.pending = batch
				w.drainAndFinish()
				return
			}
		} else if !waited(batch) {
			// Nobody waits for these records (answers, notifications): give a record somebody waits for
			// (the next call's request) a moment to join them, so that one transaction writes both and that
			// call does not queue behind a commit of records it does not need.
			var stopped bool
			if batch, stopped = w.collect(batch, w.cfg.linger, true); stopped {
				w.pending = batch
				w.drainAndFinish()
				return
			}
		}
		if !w.commit(batch, false) {
			// Wait a little before retrying the records nobody waits for; new records still get through.
			retry.Reset(100 * time.Millisecond)
			select {
			case <-retry.C:
			case <-w.stop:
				w.drainAndFinish()
				return
			}
		}
	}
}

// lingerDelay bounds how long records nobody waits for are held back for company (see Writer.collect).
const lingerDelay = 2 * time.Millisecond

// commitDelay is how long, with a journal, the writer gathers records before committing them (see
// Writer.collect). Calls wait for the journal's sync, not for the commit; a transaction costs the gateway
// ≈ 100–150 µs of CPU whether it writes one record or twenty, so at a few hundred calls per second one
// commit per few milliseconds writes the records of several calls for the price of one. It is also how
// late `audit tail` may see a record.
const commitDelay = 5 * time.Millisecond

// waited reports whether somebody waits for a record of batch.
func waited(batch []*entry) bool {
	for _, e := range batch {
		if e.fin != nil {
			return true
		}
	}
	return false
}

// collect adds to batch what arrives within d, returning early when the batch is full, when somebody asks
// for a commit (Ticket.Committed, a journal that must be emptied: urgent), or, with untilWaited, when a
// record somebody waits for arrives; stopped reports that the writer is closing. With a journal the writer
// gathers every batch this way for commitDelay; without, it holds back only records nobody waits for, for
// lingerDelay, to give the next call's request a moment to join them.
func (w *Writer) collect(batch []*entry, d time.Duration, untilWaited bool) (_ []*entry, stopped bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	for len(batch) < w.cfg.MaxBatch {
		select {
		case e := <-w.queue:
			batch = append(batch, e)
			if untilWaited && e.fin != nil {
				return w.fill(batch), false
			}
		case <-w.urgent:
			return w.fill(batch), false
		case <-t.C:
			return w.fill(batch), false
		case <-w.stop:
			return batch, true
		}
	}
	return batch, false
}

// fill adds whatever is queued, up to MaxBatch.
func (w *Writer) fill(batch []*entry) []*entry {
	for len(batch) < w.cfg.MaxBatch {
		select {
		case e := <-w.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// drainAndFinish writes everything queued, batch by batch, and seals the chain. Only failed commits count
// toward its three attempts: a queue holding many batches at shutdown is written whole.
func (w *Writer) drainAndFinish() {
	for failures := 0; failures < 3; {
		batch := w.fill(w.pending)
		w.pending = nil
		if len(batch) == 0 && w.sinceCP == 0 {
			break
		}
		if !w.commit(batch, true) {
			failures++
			continue
		}
		if len(w.queue) == 0 {
			break
		}
	}
	// Anything left in the queue after Close has no one to write it; fail waiters.
	for {
		select {
		case e := <-w.queue:
			e.finish(ErrClosed)
			if e.fin == nil || w.cfg.journal != nil {
				w.pending = append(w.pending, e)
			}
		default:
			return
		}
	}
}

// commit chains and writes batch in one transaction. It reports success; on failure waiters get the
// error and unwaited records are kept for retry.
func (w *Writer) commit(batch []*entry, final bool) bool {
	if len(batch) == 0 && !(final && w.sinceCP > 0) {
		return true
	}
	encs := make([]Encoded, len(batch))
	recs := make([]*Record, len(batch))
	for i, e := range batch {
		encs[i], recs[i] = e.enc, e.rec
	}
	n := w.sinceCP + int64(len(batch))
	var sealed bool
	seal := func(seq int64, hash string) *Checkpoint {
		if w.cfg.Signer == nil || n == 0 || !(final || n >= w.cfg.CheckpointEvery || time.Since(w.cpTime) >= w.cfg.CheckpointInterval) {
			return nil
		}
		sealed = true
		cp := w.cfg.Signer.Sign(CheckpointSeal, w.cfg.Chain, seq, hash, time.Now())
		return &cp
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := w.cfg.Sink.AppendBatch(ctx, w.cfg.Chain, encs, seal)
	cancel()
	if err != nil {
		w.statsMu.Lock()
		w.stats.Failures++
		w.statsMu.Unlock()
		w.cfg.Logger.Warn("audit write failed; calls are refused until the store accepts writes again", "err", err, "records", len(recs))
		w.failing.Store(true)
		if j := w.cfg.journal; j != nil {
			j.undrain()
		}
		for _, e := range batch {
			e.finish(err)
			if e.fin == nil || w.cfg.journal != nil {
				// A journaled record may describe a call that ran: it is retried like the unwaited ones.
				w.pending = append(w.pending, e)
			}
		}
		return false
	}
	w.failing.Store(false)
	w.sinceCP = n
	if sealed {
		w.sinceCP, w.cpTime = 0, time.Now()
	}
	w.statsMu.Lock()
	w.stats.Records += int64(len(recs))
	w.stats.Batches++
	if sealed {
		w.stats.Checkpoints++
	}
	w.statsMu.Unlock()
	if w.cfg.OnCommit != nil && len(recs) > 0 {
		w.cfg.OnCommit(recs)
	}
	if j := w.cfg.journal; j != nil {
		j.done(len(batch))
		for _, e := range batch {
			e.finish(nil)
		}
		_ = w.resetJournal(context.Background(), journalResetAt)
		return true
	}
	d := &w.dur
	d.mu.Lock()
	d.written++
	cn := d.written
	if w.syncer == nil {
		d.synced = cn
	}
	d.mu.Unlock()
	if w.syncer != nil {
		// A record somebody waits for is synced at once: its caller (the gateway's audit stage) goes on
		// with the call and asks for durability only at its end, so the sync runs meanwhile.
		ch := d.more
		if waited(batch) {
			ch = d.kick
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	for _, e := range batch {
		e.n = cn
		e.finish(nil)
	}
	return true
}

// syncLoop makes committed batches durable: at once for a waiting Ticket, within syncDelay otherwise. It
// ends after the writer's goroutine, with a last sync of what it committed.
func (w *Writer) syncLoop() {
	defer close(w.syncDone)
	d := &w.dur
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	for {
		select {
		case <-d.kick:
		case <-d.more:
			delay.Reset(syncDelay)
			select {
			case <-delay.C:
			case <-d.kick:
				delay.Stop()
			case <-w.done:
				delay.Stop()
			}
		case <-w.done:
			w.syncNow()
			return
		}
		w.syncNow()
	}
}

// syncNow syncs the sink and settles the waiters of every batch committed before it.
func (w *Writer) syncNow() {
	d := &w.dur
	d.mu.Lock()
	target := d.written
	if target == d.synced {
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := w.syncer.Sync(ctx)
	cancel()
	if err != nil {
		w.statsMu.Lock()
		w.stats.Failures++
		w.statsMu.Unlock()
		w.cfg.Logger.Error("audit store: committed records could not be made durable; the calls waiting for them are refused", "err", err)
	}
	w.settle(target, err)
}

// settle notes that everything up to target is durable (err nil) or could not be made so, and answers
// the waiters up to target.
func (w *Writer) settle(target uint64, err error) {
	d := &w.dur
	d.mu.Lock()
	if err == nil {
		d.synced = max(d.synced, target)
	}
	kept := d.waiters[:0]
	for _, wt := range d.waiters {
		if wt.n <= target {
			wt.ch <- err
			continue
		}
		kept = append(kept, wt)
	}
	clear(d.waiters[len(kept):])
	d.waiters = kept
	d.mu.Unlock()
}
