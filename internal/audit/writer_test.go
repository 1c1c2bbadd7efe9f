package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// flakySink wraps a real sink and fails every write while down is set.
type flakySink struct {
	*SQLSink
	mu   sync.Mutex
	down bool
}

func (f *flakySink) AppendBatch(ctx context.Context, chain string, recs []Encoded, seal func(int64, string) *Checkpoint) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return errors.New("store unavailable")
	}
	return f.SQLSink.AppendBatch(ctx, chain, recs, seal)
}

func (f *flakySink) set(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

// TestWriterFailureAndRecovery: while the sink fails, Append reports the error (the gateway refuses the
// call) and queued records are kept; when the sink recovers they are written, in order, and the chain
// verifies.
func TestWriterFailureAndRecovery(t *testing.T) {
	real := backends()[0].open(t)
	sink := &flakySink{SQLSink: real}
	signer := testSigner(t)
	w, err := NewWriter(t.Context(), WriterConfig{Sink: sink, Chain: "gw", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(t.Context(), &Record{Kind: "request", Method: "a"}); err != nil {
		t.Fatal(err)
	}
	sink.set(true)
	if err := w.Append(t.Context(), &Record{Kind: "request", Method: "refused"}); err == nil {
		t.Fatal("Append succeeded while the store was down")
	}
	for range 3 {
		if err := w.Enqueue(t.Context(), &Record{Kind: "result", Method: "kept"}); err != nil {
			t.Fatal(err)
		}
	}
	sink.set(false)
	if err := w.Append(t.Context(), &Record{Kind: "request", Method: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var methods []string
	_ = real.Scan(t.Context(), Filter{}, func(r *StoredRecord) error { methods = append(methods, r.Method); return nil })
	if len(methods) != 5 || methods[0] != "a" || methods[4] != "b" {
		t.Errorf("stored %v, want a, kept×3, b", methods)
	}
	if rep, err := Verify(t.Context(), real, signer); err != nil || !rep.OK {
		t.Errorf("verify: %v %+v", err, rep)
	}
}

// TestWriterCloseWritesWholeQueue: records queued faster than the writer commits them are all written by
// Close, however many batches they fill (shutdown used to write three batches and drop the rest).
func TestWriterCloseWritesWholeQueue(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			sink, signer := be.open(t), testSigner(t)
			slow := &slowSink{SQLSink: sink, release: make(chan struct{})}
			w, err := NewWriter(t.Context(), WriterConfig{Sink: slow, Chain: "gw", Signer: signer, MaxBatch: 8, QueueSize: 1000})
			if err != nil {
				t.Fatal(err)
			}
			const n = 500
			for i := range n {
				if err := w.Enqueue(t.Context(), &Record{Kind: "notification", Method: fmt.Sprint(i)}); err != nil {
					t.Fatal(err)
				}
			}
			closed := make(chan error, 1)
			go func() { closed <- w.Close(t.Context()) }()
			close(slow.release) // the store accepts writes only once Close has begun
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			rep, err := Verify(t.Context(), sink, signer)
			if err != nil || !rep.OK || rep.Records != n {
				t.Fatalf("after Close: %d records stored (want %d), verify %v %+v", rep.Records, n, err, rep)
			}
		})
	}
}

// slowSink holds every write until release is closed.
type slowSink struct {
	*SQLSink
	release chan struct{}
}

func (s *slowSink) AppendBatch(ctx context.Context, chain string, recs []Encoded, seal func(int64, string) *Checkpoint) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.SQLSink.AppendBatch(ctx, chain, recs, seal)
}

// TestWritersShareAChain: two writers (a `serve` and a `wrap` process on one data_dir, or replicas with
// the same instance name) extend one chain concurrently; it stays a single verifiable chain.
func TestWritersShareAChain(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			sink, signer := be.open(t), testSigner(t)
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					writeCalls(t, sink, signer, "shared", 40, time.Now())
				}()
			}
			wg.Wait()
			rep, err := Verify(t.Context(), sink, signer)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK || len(rep.Chains) != 1 || rep.Records != 158 || len(rep.Interrupted) != 2 {
				t.Fatalf("shared chain: %+v", rep)
			}
		})
	}
}

// TestWriterBackpressure: with a tiny queue and a stalled store, Enqueue blocks (nothing is dropped) until
// its context ends.
func TestWriterBackpressure(t *testing.T) {
	sink := &flakySink{SQLSink: backends()[0].open(t), down: true}
	w, err := NewWriter(t.Context(), WriterConfig{Sink: sink, Chain: "gw", QueueSize: 1, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var blocked error
	for i := 0; i < 100 && blocked == nil; i++ {
		blocked = w.Enqueue(ctx, &Record{Kind: "notification"})
	}
	if blocked == nil {
		t.Fatal("Enqueue never blocked on a full queue")
	}
	sink.set(false)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPHandler(t *testing.T) {
	sink, signer := backends()[0].open(t), testSigner(t)
	writeCalls(t, sink, signer, "gw", 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(http.StripPrefix("/api/audit", HTTPHandler(sink, signer)))
	defer srv.Close()
	for _, tc := range []struct {
		path   string
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"/api/audit/records?method=tools/call&limit=2", 200, func(t *testing.T, b []byte) {
			var es []Entry
			if err := json.Unmarshal(b, &es); err != nil || len(es) != 2 || es[0].ID != 1 || es[0].Name != "write" {
				t.Errorf("records: %v %s", err, b)
			}
		}},
		{"/api/audit/records?after_id=4", 200, func(t *testing.T, b []byte) {
			var es []Entry
			if err := json.Unmarshal(b, &es); err != nil || len(es) != 1 || es[0].ID != 5 {
				t.Errorf("after_id: %v %s", err, b)
			}
		}},
		{"/api/audit/records/1", 200, func(t *testing.T, b []byte) {
			var v struct {
				ID          int64        `json:"id"`
				ChainStatus RecordStatus `json:"chain_status"`
			}
			if err := json.Unmarshal(b, &v); err != nil || v.ID != 1 || !v.ChainStatus.HashOK || v.ChainStatus.Response != 2 {
				t.Errorf("record: %v %s", err, b)
			}
		}},
		{"/api/audit/verify", 200, func(t *testing.T, b []byte) {
			var rep Report
			if err := json.Unmarshal(b, &rep); err != nil || !rep.OK || rep.Records != 5 {
				t.Errorf("verify: %v %s", err, b)
			}
		}},
		{"/api/audit/records/99", 404, nil},
		{"/api/audit/records/x", 400, nil},
		{"/api/audit/records?since=yesterday", 400, nil},
		{"/api/audit/records?limit=-1", 400, nil},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d: %s", tc.path, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.check != nil {
			tc.check(t, body)
		}
	}
}
