package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/store"
)

// DBFile is the SQLite audit database's file name inside data_dir.
const DBFile = "audit.db"

// hmacKeyFile holds the key of capture: hashed, inside data_dir.
const hmacKeyFile = "audit-hmac.key"

// OpenStore opens the configured audit store (SQLite in data_dir, or PostgreSQL) with the audit schema.
func OpenStore(ctx context.Context, cfg *config.Config) (*SQLSink, error) {
	opts := store.Options{Dialect: store.SQLite, Path: filepath.Join(cfg.DataDir, DBFile)}
	if cfg.Audit.Store == "postgres" {
		opts = store.Options{Dialect: store.Postgres, DSN: cfg.Audit.PostgresDSN}
	}
	opts.RelaxedSync = cfg.Audit.Sync == "normal"
	db, err := store.Open(ctx, opts, Migrations)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	sink := NewSQLSink(db)
	// Records a gateway journaled but did not commit before it stopped abruptly belong in the store before
	// anybody reads it (unless that gateway runs again and holds its journal).
	if err := recoverOrphan(ctx, sink); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	return sink, nil
}

// splitCommits gives a SQLite sink that commits durably (audit.sync full) its durable group commit in two
// steps: the writer's own handle commits a batch into the write-ahead log without an fsync (the record has
// reached the store and survives a crash of the gateway), and Sync forces the log to disk while the calls
// run, one fsync for every batch before it. The other tables in the file (approvals) keep committing with
// synchronous=FULL. Only a sink that writes needs it: readers (the CLI, the dashboard) do not open it.
func (s *SQLSink) splitCommits(ctx context.Context, cfg *config.Config) error {
	if s.db.Dialect != store.SQLite || cfg.Audit.Sync == "normal" || s.w != nil {
		return nil
	}
	w, err := store.Open(ctx, store.Options{Dialect: store.SQLite, Path: s.db.Path(), RelaxedSync: true, MaxOpenConns: 2}, nil)
	if err != nil {
		return fmt.Errorf("audit: open the writer's handle: %w", err)
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	for _, st := range s.stmts {
		// Prepared on the other handle (a recovery of the journal commits before the split): AppendBatch
		// now commits on w, and a statement cannot cross handles.
		_ = st.Close()
	}
	s.stmts = nil
	s.w = w
	return nil
}

// Auditor is the audit stage's engine: it turns messages into records (capture, redaction, principal,
// instance) and writes them through a Writer. Create it with Open; Close it after the gateway stops.
type Auditor struct {
	sink     *SQLSink
	writer   *Writer
	signer   *Signer
	capture  Capturer
	instance string
	princ    Principal
	failOpen bool
	timeout  time.Duration
	log      *slog.Logger

	otlp          *OTLPExporter
	stopRetention chan struct{}
	retentionDone sync.WaitGroup
	closeOnce     sync.Once
	closeErr      error
}

// Open opens the store and the signing key from cfg and starts the writer.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Auditor, error) {
	if log == nil {
		log = slog.Default()
	}
	sink, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := sink.splitCommits(ctx, cfg); err != nil {
		_ = sink.Close()
		return nil, err
	}
	a, err := New(ctx, sink, cfg, log)
	if err != nil {
		_ = sink.Close()
		return nil, err
	}
	return a, nil
}

// SetRedactor plugs a detector-based redactor into the capture of payloads (see Capturer.Redact). Call it
// before the first record.
func (a *Auditor) SetRedactor(f func(s string) (string, bool)) { a.capture.Redact = f }

// New builds an Auditor on an open sink (Close closes the sink's database).
func New(ctx context.Context, sink *SQLSink, cfg *config.Config, log *slog.Logger) (*Auditor, error) {
	ac := cfg.Audit
	signer, err := LoadOrCreateSigner(ac.SigningKey)
	if err != nil {
		return nil, err
	}
	a := &Auditor{
		sink: sink, signer: signer, failOpen: ac.FailOpen, timeout: ac.WriteTimeout.D(), log: log,
		instance: ac.Instance, princ: LocalPrincipal(), stopRetention: make(chan struct{}),
		capture: Capturer{Mode: ac.Capture, MaxBytes: int(ac.MaxValueBytes)},
	}
	if a.timeout <= 0 {
		a.timeout = 5 * time.Second
	}
	if a.instance == "" {
		a.instance = DefaultInstance()
	}
	if a.capture.Mode == CaptureHashed {
		key, err := loadOrCreateHMACKey(filepath.Join(cfg.DataDir, hmacKeyFile))
		if err != nil {
			return nil, err
		}
		a.capture.HMACKey = key
	}
	wc := WriterConfig{Sink: sink, Chain: a.instance, Signer: signer, CheckpointInterval: ac.CheckpointInterval.D(), Logger: log}
	if o := ac.OTLP; o.Endpoint != "" {
		oc := OTLPConfig{Endpoint: o.Endpoint, Headers: o.Headers, Logger: log, Instance: a.instance}
		for _, s := range o.Signals {
			oc.Logs = oc.Logs || s == "logs"
			oc.Traces = oc.Traces || s == "traces"
		}
		a.otlp = NewOTLPExporter(oc)
		wc.OnCommit = a.otlp.Offer
	}
	// The journal lets a request's record be kept before the call is forwarded without waiting for its
	// SQLite commit (see journal); it first commits what a gateway that stopped abruptly left in it.
	if wc.journal, err = journalFor(ctx, a.instance, sink, ac.Sync != "normal", log); err != nil {
		if a.otlp != nil {
			a.otlp.Close()
		}
		return nil, err
	}
	a.writer, err = NewWriter(ctx, wc)
	if err != nil {
		if a.otlp != nil {
			a.otlp.Close()
		}
		if wc.journal != nil {
			_ = wc.journal.close()
		}
		return nil, err
	}
	if ac.RetentionDays > 0 {
		a.retentionDone.Add(1)
		go a.retain(time.Duration(ac.RetentionDays) * 24 * time.Hour)
	}
	return a, nil
}

// DefaultInstance is the default instance name: the host name (or "gateway" when it is unknown), reduced
// to the characters an instance name allows.
func DefaultInstance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "gateway"
	}
	h = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return r
		}
		return '-'
	}, h)
	if len(h) > 64 {
		h = h[:64]
	}
	return h
}

// LocalPrincipal is the principal until the identity stage lands: the OS user running the gateway.
func LocalPrincipal() Principal {
	p := Principal{User: "unknown", AuthMethod: "local_os_user"}
	u, err := user.Current()
	if err != nil {
		return p
	}
	p.User = u.Username
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := user.LookupGroupId(id); err == nil {
				p.Groups = append(p.Groups, g.Name)
			} else {
				p.Groups = append(p.Groups, id)
			}
		}
	}
	return p
}

func loadOrCreateHMACKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) < 32 {
			return nil, fmt.Errorf("audit: %s is not a hex HMAC key of at least 32 bytes; restore it or delete it to start a new one "+
				"(hashes made with different keys do not correlate)", path)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("audit: read %s: %w", path, err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("audit: create %s: %w", path, err)
	}
	return key, nil
}

// Sink returns the store the auditor writes to (for queries).
func (a *Auditor) Sink() *SQLSink { return a.sink }

// Signer returns the checkpoint signer.
func (a *Auditor) Signer() *Signer { return a.signer }

// OTLP returns the OTLP exporter, or nil when none is configured.
func (a *Auditor) OTLP() *OTLPExporter { return a.otlp }

// Writer returns the auditor's writer.
func (a *Auditor) Writer() *Writer { return a.writer }

// FailOpen reports whether calls go ahead when their record cannot be written.
func (a *Auditor) FailOpen() bool { return a.failOpen }

// Capturer returns the payload capture settings.
func (a *Auditor) Capturer() *Capturer { return &a.capture }

// Fill sets the fields every record shares (time, instance, principal, capture mode) when they are empty.
func (a *Auditor) Fill(r *Record) {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	r.Instance = a.instance
	if r.Principal.User == "" {
		r.Principal = a.princ
	}
	r.Capture = a.capture.mode()
}

// Commit writes r and waits for the commit, bounded by the configured write timeout even when ctx is
// cancelled (a client that disconnects cannot erase its own trail).
func (a *Auditor) Commit(ctx context.Context, r *Record) error {
	a.Fill(r)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	return a.writer.Append(wctx, r)
}

// Write writes r and waits until a crash of the gateway cannot lose it (in the journal, or committed),
// not until it is committed and durable: Ticket.Committed and Ticket.Durable wait for that (see
// Writer.Write). The waits are bounded by the configured write timeout, as in Commit.
func (a *Auditor) Write(ctx context.Context, r *Record) (Ticket, error) {
	a.Fill(r)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	return a.writer.Write(wctx, r)
}

// Durable waits until t's record is durable, bounded by the configured write timeout even when ctx is
// cancelled.
func (a *Auditor) Durable(ctx context.Context, t Ticket) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	return t.Durable(wctx)
}

// Committed waits until t's record is committed to the store (its chain position set), bounded by the
// configured write timeout even when ctx is cancelled.
func (a *Auditor) Committed(ctx context.Context, t Ticket) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	return t.Committed(wctx)
}

// Queue writes r without waiting for the commit; it blocks (backpressure) while the writer's queue is full.
func (a *Auditor) Queue(ctx context.Context, r *Record) error {
	a.Fill(r)
	return a.writer.Enqueue(context.WithoutCancel(ctx), r)
}

// QueueAnswer is Queue for the record of an answer to the request recorded by req (Write's Ticket): its
// Parent becomes that record's chain position, without waiting for the request's commit
// (Writer.EnqueueAnswer).
func (a *Auditor) QueueAnswer(ctx context.Context, r *Record, req Ticket) error {
	a.Fill(r)
	return a.writer.EnqueueAnswer(context.WithoutCancel(ctx), r, req)
}

func (a *Auditor) retain(age time.Duration) {
	defer a.retentionDone.Done()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		n, err := a.sink.Prune(ctx, time.Now().Add(-age), a.signer)
		cancel()
		if err != nil {
			a.log.Warn("audit retention failed; will retry", "err", err)
		} else if n > 0 {
			a.log.Info("audit retention removed old records", "records", n)
		}
		select {
		case <-t.C:
		case <-a.stopRetention:
			return
		}
	}
}

// Close flushes queued records, seals the chain with a checkpoint and closes the store.
func (a *Auditor) Close(ctx context.Context) error {
	a.closeOnce.Do(func() {
		close(a.stopRetention)
		a.retentionDone.Wait()
		err := a.writer.Close(ctx)
		if a.otlp != nil {
			a.otlp.Close()
		}
		a.closeErr = errors.Join(err, a.sink.Close())
	})
	return a.closeErr
}
