package audit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

// syncSink is a real SQLite sink whose durability step the test controls: Sync blocks while hold is
// set, fails while fail is set, and counts its calls.
type syncSink struct {
	*SQLSink
	mu    sync.Mutex
	syncs int
	fail  error
	hold  chan struct{} // when non-nil, Sync waits until it is closed
}

func (s *syncSink) NeedsSync() bool { return true }

func (s *syncSink) Sync(ctx context.Context) error {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	return s.fail
}

func (s *syncSink) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.syncs }

func newSyncWriter(t *testing.T, s *syncSink, linger time.Duration) *Writer {
	t.Helper()
	w, err := NewWriter(t.Context(), WriterConfig{Sink: s, Chain: "gw", linger: linger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	return w
}

// TestWriterWriteThenDurable: Write returns once the record is in the store, before it is durable; its
// Ticket becomes durable only when a sync that started after the commit ends; Append waits for both.
func TestWriterWriteThenDurable(t *testing.T) {
	hold := make(chan struct{})
	s := &syncSink{SQLSink: backends()[0].open(t), hold: hold}
	w := newSyncWriter(t, s, 0)
	rec := &Record{Kind: "request", Method: "tools/call"}
	tk, err := w.Write(t.Context(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 1 || rec.Hash == "" {
		t.Fatalf("written record has no chain position: seq %d hash %q", rec.Seq, rec.Hash)
	}
	got, err := s.Get(t.Context(), 1)
	if err != nil || got.Method != "tools/call" {
		t.Fatalf("the written record is not readable from the store before the sync: %+v %v", got, err)
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := tk.Durable(short); err == nil {
		t.Fatal("Durable returned while the sync was held")
	}
	appended := make(chan error, 1)
	go func() { appended <- w.Append(t.Context(), &Record{Kind: "request", Method: "second"}) }()
	select {
	case err := <-appended:
		t.Fatalf("Append returned (%v) before its record was synced", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(hold)
	if err := tk.Durable(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	if (Ticket{}).Durable(t.Context()) != nil {
		t.Error("a zero Ticket is not durable")
	}
}

// TestWriterSyncFailure: when the sync fails, the records it should have covered are reported as not
// durable (the gateway withholds their answers) and counted as a failure; later records recover.
func TestWriterSyncFailure(t *testing.T) {
	s := &syncSink{SQLSink: backends()[0].open(t), fail: errors.New("EIO")}
	w := newSyncWriter(t, s, 0)
	tk, err := w.Write(t.Context(), &Record{Kind: "request", Method: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Durable(t.Context()); err == nil || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("Durable after a failed sync: %v", err)
	}
	if w.Stats().Failures == 0 {
		t.Error("the failed sync was not counted")
	}
	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
	if err := w.Append(t.Context(), &Record{Kind: "request", Method: "b"}); err != nil {
		t.Fatalf("a record after the disk recovered: %v", err)
	}
}

// TestWriterSyncsUnwaitedRecords: records nobody waits for (answers, notifications) are synced soon
// anyway, and Close leaves nothing unsynced.
func TestWriterSyncsUnwaitedRecords(t *testing.T) {
	s := &syncSink{SQLSink: backends()[0].open(t)}
	w, err := NewWriter(t.Context(), WriterConfig{Sink: s, Chain: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Enqueue(t.Context(), &Record{Kind: "notification", Method: "notifications/progress"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.count() == 0 {
		t.Fatal("a record nobody waits for was never synced")
	}
	for i := range 5 {
		if err := w.Enqueue(t.Context(), &Record{Kind: "notification", Method: "n", Name: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	w.dur.mu.Lock()
	written, synced := w.dur.written, w.dur.synced
	w.dur.mu.Unlock()
	if written == 0 || synced != written {
		t.Errorf("after Close: %d batches written, %d synced", written, synced)
	}
}

// TestWriterLingersForAWaitedRecord: a record nobody waits for is held back briefly so that the next
// record somebody waits for shares its transaction.
func TestWriterLingersForAWaitedRecord(t *testing.T) {
	s := &syncSink{SQLSink: backends()[0].open(t)}
	w := newSyncWriter(t, s, 10*time.Second)
	if err := w.Enqueue(t.Context(), &Record{Kind: "result", Method: "tools/call"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := w.Append(t.Context(), &Record{Kind: "request", Method: "tools/call"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the waited record sat out the linger (%v)", d)
	}
	if st := w.Stats(); st.Records != 2 || st.Batches != 1 {
		t.Errorf("stats %+v: want the two records in one batch", st)
	}
}

// TestOpenStoreDurability: the SQLite store the gateway writes with (Open) appends audit batches on a handle that
// commits without an fsync and syncs them in groups, while its other tables keep synchronous=FULL;
// audit.sync "normal" and PostgreSQL commit durably (or as asked) with no sync step.
func TestOpenStoreDurability(t *testing.T) {
	for _, tc := range []struct {
		sync      string
		needsSync bool
	}{{"", true}, {"full", true}, {"normal", false}} {
		t.Run("sync="+tc.sync, func(t *testing.T) {
			cfg := &config.Config{DataDir: t.TempDir()}
			cfg.Audit.Sync = tc.sync
			s, err := OpenStore(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.NeedsSync() {
				t.Fatal("a sink opened for reading has a writer's handle")
			}
			if err := s.splitCommits(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			if s.NeedsSync() != tc.needsSync {
				t.Fatalf("NeedsSync = %v", s.NeedsSync())
			}
			var mainSync, appendSync int
			if err := s.DB().QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&mainSync); err != nil {
				t.Fatal(err)
			}
			if err := s.appender().QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&appendSync); err != nil {
				t.Fatal(err)
			}
			wantMain, wantAppend := 2, 1 // FULL for approvals and reads, NORMAL + SyncWAL for audit batches
			if !tc.needsSync {
				wantMain, wantAppend = 1, 1
			}
			if mainSync != wantMain || appendSync != wantAppend {
				t.Errorf("synchronous: main %d, appender %d; want %d, %d", mainSync, appendSync, wantMain, wantAppend)
			}
			signer := testSigner(t)
			w, err := NewWriter(t.Context(), WriterConfig{Sink: s, Chain: "gw", Signer: signer})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := w.Append(t.Context(), &Record{Kind: "request", Method: "tools/call", Name: string(rune('a' + i))}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(t.Context(), s, signer)
			if err != nil || len(rep.Problems) > 0 || rep.Records != 3 {
				t.Fatalf("verify: %+v %v", rep, err)
			}
		})
	}
}
