package audit

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/store"
)

// BenchmarkWriterSQLite measures the sustained write rate of the group-commit writer on SQLite
// (WAL, synchronous=FULL: every commit is durable when it returns). Producers enqueue records as the
// gateway does for responses; the last ones wait for their commit. Reports records/s. It asserts nothing
// about time.
//
//	go test -run '^$' -bench WriterSQLite -benchtime 200000x ./internal/audit/
func BenchmarkWriterSQLite(b *testing.B) {
	for _, producers := range []int{8, 64} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			db, err := store.Open(b.Context(), store.Options{Dialect: store.SQLite, Path: filepath.Join(b.TempDir(), DBFile)}, Migrations)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			signer, err := LoadOrCreateSigner(filepath.Join(b.TempDir(), "k"))
			if err != nil {
				b.Fatal(err)
			}
			w, err := NewWriter(b.Context(), WriterConfig{Sink: NewSQLSink(db), Chain: "bench", Signer: signer})
			if err != nil {
				b.Fatal(err)
			}
			args := json.RawMessage(`{"path":"/home/user/project/src/main.go","content":"package main\n\nfunc main() {}\n","api_key":"[REDACTED]"}`)
			proto := Record{Instance: "bench", Direction: "client_to_server", Kind: "request", SessionID: "c9ca68e6b4f8d44a960e2e0a167b828d",
				Era: "legacy", ProtocolVersion: "2025-11-25", Transport: "http", Remote: "127.0.0.1:36350",
				Principal: Principal{User: "alice", AuthMethod: "local"}, Client: ClientInfo{Name: "claude-code", Version: "2.1.0"},
				Server: "files", Method: "tools/call", Name: "write_file", Capture: CaptureRedacted, Arguments: args, BytesIn: 180}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := b.N / producers
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range per {
						r := proto
						r.Time = time.Now()
						r.RequestID = fmt.Sprint(p*per + i)
						if err := w.Enqueue(b.Context(), &r); err != nil {
							b.Error(err)
							return
						}
					}
					last := proto
					if err := w.Append(b.Context(), &last); err != nil { // waits for everything before it
						b.Error(err)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			st := w.Stats()
			if err := w.Close(b.Context()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Records)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(st.Records)/float64(max(st.Batches, 1)), "records/commit")
		})
	}
}
