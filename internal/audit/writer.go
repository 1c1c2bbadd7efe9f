package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
}

// Writer commits records to a Sink in groups: one transaction (one fsync) for everything that arrived
// while the previous commit ran. It owns one goroutine, stopped by Close.
type Writer struct {
	cfg   WriterConfig
	queue chan *entry
	stop  chan struct{}
	done  chan struct{}

	mu     sync.RWMutex // guards closed against Submit racing Close
	closed bool

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
	rec  *Record
	enc  Encoded    // rec encoded and digested by the submitter
	done chan error // nil: nobody waits (the record is retried until written)
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
	w := &Writer{cfg: cfg, queue: make(chan *entry, cfg.QueueSize), stop: make(chan struct{}), done: make(chan struct{}),
		cpTime: time.Now()}
	go w.run()
	return w, nil
}

// Append submits rec and waits until it is committed (or ctx ends, or the store fails). On success rec's
// Chain, Seq, PrevHash and Hash are set. A record whose commit failed is not retried: the caller decides
// (the gateway refuses the call).
func (w *Writer) Append(ctx context.Context, rec *Record) error {
	e := &entry{rec: rec, done: make(chan error, 1)}
	if err := w.submit(ctx, e); err != nil {
		return err
	}
	select {
	case err := <-e.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit record not committed in time: %w", ctx.Err())
	}
}

// Enqueue submits rec without waiting for the commit; it blocks while the queue is full (backpressure)
// until ctx ends. The writer retries the record until it is written or the writer closes.
func (w *Writer) Enqueue(ctx context.Context, rec *Record) error {
	return w.submit(ctx, &entry{rec: rec})
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
	select {
	case w.queue <- e:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit queue full (the store is slow or down): %w", ctx.Err())
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
	if n := len(w.pending); n > 0 {
		return fmt.Errorf("audit writer: %d records could not be written before shutdown (the store is unavailable)", n)
	}
	return nil
}

func (w *Writer) run() {
	defer close(w.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		batch := w.pending
		w.pending = nil
		if len(batch) == 0 {
			select {
			case e := <-w.queue:
				batch = append(batch, e)
			case <-w.stop:
				w.drainAndFinish()
				return
			}
		}
		batch = w.fill(batch)
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

func (w *Writer) drainAndFinish() {
	for attempt := 0; attempt < 3; attempt++ {
		batch := w.fill(w.pending)
		w.pending = nil
		if len(batch) == 0 && attempt > 0 {
			break
		}
		if len(batch) == 0 && w.sinceCP == 0 {
			break
		}
		if w.commit(batch, true) && len(w.queue) == 0 {
			break
		}
	}
	// Anything left in the queue after Close has no one to write it; fail waiters.
	for {
		select {
		case e := <-w.queue:
			if e.done != nil {
				e.done <- ErrClosed
			} else {
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
		for _, e := range batch {
			if e.done != nil {
				e.done <- err
			} else {
				w.pending = append(w.pending, e)
			}
		}
		return false
	}
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
	for _, e := range batch {
		if e.done != nil {
			e.done <- nil
		}
	}
	return true
}
