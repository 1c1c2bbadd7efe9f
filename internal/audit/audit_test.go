package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/store"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// backend opens a fresh, empty audit store.
type backend struct {
	name string
	open func(t *testing.T) *SQLSink
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t *testing.T) *SQLSink {
			return openSink(t, store.Options{Dialect: store.SQLite, Path: filepath.Join(t.TempDir(), DBFile)})
		}},
		{"postgres", func(t *testing.T) *SQLSink {
			return openSink(t, store.Options{Dialect: store.Postgres, DSN: testenv.PostgresDSN(t)})
		}},
	}
}

func openSink(t *testing.T, opts store.Options) *SQLSink {
	t.Helper()
	db, err := store.Open(t.Context(), opts, Migrations)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return NewSQLSink(db)
}

func testSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := LoadOrCreateSigner(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeCalls writes n calls (a request and its result each; the last request has no result, as after a
// crash) through a Writer that checkpoints every 10 records, and closes it (a final checkpoint). Record
// times start at base and advance a minute per call.
func writeCalls(t *testing.T, sink *SQLSink, signer *Signer, chain string, n int, base time.Time) {
	t.Helper()
	w, err := NewWriter(t.Context(), WriterConfig{Sink: sink, Chain: chain, Signer: signer, CheckpointEvery: 10})
	if err != nil {
		t.Error(err)
		return
	}
	defer func() {
		if err := w.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}()
	for i := 1; i <= n; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		req := &Record{Time: at, Kind: "request", Direction: "client_to_server", Server: "fs", Method: "tools/call", Name: "write",
			RequestID: fmt.Sprint(i), Arguments: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Principal: Principal{User: "alice", AuthMethod: "local_os_user"}}
		if err := w.Append(t.Context(), req); err != nil {
			t.Error(err)
			return
		}
		if i == n {
			break
		}
		res := &Record{Time: at, Kind: "result", Direction: "server_to_client", Server: "fs", Method: "tools/call", Name: "write",
			RequestID: fmt.Sprint(i), Parent: req.Ref(), Result: json.RawMessage(`{"content":[]}`)}
		if err := w.Enqueue(t.Context(), res); err != nil {
			t.Error(err)
			return
		}
	}
}

func exec(t *testing.T, sink *SQLSink, q string, args ...any) {
	t.Helper()
	if _, err := sink.DB().ExecContext(t.Context(), sink.DB().Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// swap exchanges the contents (every column but the row id) of records a and b.
func swap(t *testing.T, sink *SQLSink, a, b int64) {
	t.Helper()
	ra, _ := sink.Get(t.Context(), a)
	rb, _ := sink.Get(t.Context(), b)
	if ra == nil || rb == nil {
		t.Fatalf("records %d and %d must exist", a, b)
	}
	set := "UPDATE audit_records SET chain=?, seq=?, time_ns=?, kind=?, direction=?, session_id=?, server=?, method=?, name=?, user_name=?, decision=?, parent=?, prev_hash=?, hash=?, body=? WHERE id=?"
	exec(t, sink, "UPDATE audit_records SET seq = -1 WHERE id = ?", a)
	exec(t, sink, set, append(recordArgs(&ra.Record, ra.Body), b)...)
	exec(t, sink, set, append(recordArgs(&rb.Record, rb.Body), a)...)
}

func TestVerifyDetectsTampering(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				tamper func(t *testing.T, s *SQLSink)
				want   Problem // Message checked for the record it names
				names  string
			}{
				{"intact", func(*testing.T, *SQLSink) {}, Problem{}, ""},
				{"edited arguments", func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_records SET body = REPLACE(body, '"n":3', '"n":4') WHERE id = 5`)
				}, Problem{Kind: ProblemModified, RecordID: 5, Chain: "gw", Seq: 5}, "record 5 "},
				{"edited column", func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_records SET user_name = 'mallory' WHERE id = 9`)
				}, Problem{Kind: ProblemModified, RecordID: 9, Chain: "gw", Seq: 9}, "record 9 "},
				{"deleted record", func(t *testing.T, s *SQLSink) {
					exec(t, s, `DELETE FROM audit_records WHERE id = 7`)
				}, Problem{Kind: ProblemDeleted, RecordID: 8, Chain: "gw", Seq: 7}, "seq 7 missing"},
				{"swapped records", func(t *testing.T, s *SQLSink) { swap(t, s, 3, 4) },
					Problem{Kind: ProblemReordered, RecordID: 3, Chain: "gw", Seq: 4}, "record 3 "},
				{"inserted record", func(t *testing.T, s *SQLSink) {
					r, _ := s.Get(t.Context(), 6)
					exec(t, s, `UPDATE audit_records SET seq = seq + 100 WHERE seq >= 6`)
					exec(t, s, `UPDATE audit_records SET seq = seq - 99 WHERE seq >= 106`)
					r.Record.Arguments = json.RawMessage(`{"n":999}`)
					body, _ := r.Record.Body()
					r.Record.Hash = ChainHash(r.Chain, r.Seq, r.PrevHash, body)
					exec(t, s, "INSERT INTO audit_records ("+recordColumns+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", recordArgs(&r.Record, body)...)
				}, Problem{Kind: ProblemModified, RecordID: 6, Chain: "gw", Seq: 7}, "record 6 "},
				{"truncated tail", func(t *testing.T, s *SQLSink) {
					exec(t, s, `DELETE FROM audit_records WHERE seq > 15`)
				}, Problem{Kind: ProblemTruncated, Chain: "gw", Seq: 16}, "record 15 "},
				{"forged checkpoint", func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_checkpoints SET seq = 30 WHERE seq = 19`)
				}, Problem{Kind: ProblemForged, Chain: "gw", Seq: 30}, "seq 30"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					sink, signer := be.open(t), testSigner(t)
					writeCalls(t, sink, signer, "gw", 10, base) // 19 records, checkpoints at 10 and 19
					tc.tamper(t, sink)
					rep, err := Verify(t.Context(), sink, signer)
					if err != nil {
						t.Fatal(err)
					}
					if tc.want.Kind == "" {
						if !rep.OK || rep.Records != 19 || len(rep.Interrupted) != 1 || rep.Interrupted[0].RecordID != 19 {
							t.Fatalf("intact trail: %+v", rep)
						}
						return
					}
					if rep.OK || len(rep.Problems) == 0 {
						t.Fatalf("verify passed after tampering: %+v", rep)
					}
					got := rep.Problems[0]
					if !strings.Contains(got.Message, tc.names) {
						t.Errorf("first problem %q does not name %q", got.Message, tc.names)
					}
					got.Message = ""
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("first problem (-want +got):\n%s\nall: %+v", diff, rep.Problems)
					}
				})
			}
		})
	}
}

func TestRetentionKeepsChainVerifiable(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			sink, signer := be.open(t), testSigner(t)
			writeCalls(t, sink, signer, "gw", 10, base)
			n, err := sink.Prune(t.Context(), base.Add(5*time.Minute+time.Second), signer) // calls 1–5: 10 records
			if err != nil {
				t.Fatal(err)
			}
			if n != 10 {
				t.Errorf("pruned %d records, want 10", n)
			}
			rep, err := Verify(t.Context(), sink, signer)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK || len(rep.Chains) != 1 || !rep.Chains[0].Anchored || rep.Chains[0].FirstSeq != 11 {
				t.Fatalf("after retention: %+v", rep)
			}
			// The writer continues the chain after a restart.
			writeCalls(t, sink, signer, "gw", 2, base.Add(time.Hour))
			if rep, _ := Verify(t.Context(), sink, signer); !rep.OK || rep.Records != 12 {
				t.Fatalf("after restart: %+v", rep)
			}
			// Deleting the first remaining record is still caught.
			exec(t, sink, "DELETE FROM audit_records WHERE seq = 11")
			rep, err = Verify(t.Context(), sink, signer)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.Problems[0].Kind != ProblemDeleted {
				t.Fatalf("deleting the anchored first record went unnoticed: %+v", rep)
			}
			// Retention that removes everything leaves a verifiable (empty) chain; deleting everything
			// without retention does not.
			if _, err := sink.Prune(t.Context(), time.Now().Add(time.Hour), signer); err != nil {
				t.Fatal(err)
			}
			if rep, _ := Verify(t.Context(), sink, signer); !rep.OK || rep.Records != 0 || len(rep.Chains) != 1 {
				t.Fatalf("after pruning everything: %+v", rep)
			}
			writeCalls(t, sink, signer, "gw", 1, time.Now())
			exec(t, sink, "DELETE FROM audit_records")
			if rep, _ := Verify(t.Context(), sink, signer); rep.OK || rep.Problems[0].Kind != ProblemTruncated {
				t.Fatalf("deleting every record went unnoticed: %+v", rep)
			}
		})
	}
}

// TestWriterConcurrentChains: two writers (two gateway replicas) share one store; both chains verify.
func TestWriterConcurrentChains(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			sink, signer := be.open(t), testSigner(t)
			done := make(chan struct{}, 2)
			for _, chain := range []string{"gw-a", "gw-b"} {
				go func() {
					defer func() { done <- struct{}{} }()
					writeCalls(t, sink, signer, chain, 30, time.Now())
				}()
			}
			<-done
			<-done
			rep, err := Verify(t.Context(), sink, signer)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK || len(rep.Chains) != 2 || rep.Records != 118 {
				t.Fatalf("two replicas: %+v", rep)
			}
		})
	}
}

func TestExportJSONL(t *testing.T) {
	sink, signer := backends()[0].open(t), testSigner(t)
	writeCalls(t, sink, signer, "gw", 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var b strings.Builder
	n, err := ExportJSONL(t.Context(), sink, Filter{Method: "tools/call"}, &b)
	if err != nil || n != 5 {
		t.Fatalf("export: %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range first {
		keys = append(keys, k)
	}
	for _, k := range []string{"id", "ref", "hash", "chain", "seq", "prev_hash", "time", "kind", "direction", "server", "method", "name", "arguments", "principal", "capture"} {
		if _, ok := first[k]; !ok {
			t.Errorf("exported object lacks %q (has %v)", k, keys)
		}
	}
}

func TestStatus(t *testing.T) {
	sink, signer := backends()[0].open(t), testSigner(t)
	writeCalls(t, sink, signer, "gw", 2, time.Now())
	ctx := context.Background()
	for _, tc := range []struct {
		id   int64
		want RecordStatus
	}{
		{1, RecordStatus{HashOK: true, LinkOK: true, Response: 2}},
		{2, RecordStatus{HashOK: true, LinkOK: true}},
		{3, RecordStatus{HashOK: true, LinkOK: true, Interrupted: true}},
	} {
		r, err := sink.Get(ctx, tc.id)
		if err != nil || r == nil {
			t.Fatalf("get %d: %v", tc.id, err)
		}
		got, err := Status(ctx, sink, r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("record %d status (-want +got):\n%s", tc.id, diff)
		}
	}
}

// FuzzVerifyStoredBody: whatever bytes an attacker writes into a stored record's body, Verify neither
// panics nor passes (unless the bytes are the original ones).
func FuzzVerifyStoredBody(f *testing.F) {
	db, err := store.Open(context.Background(), store.Options{Dialect: store.SQLite, Path: filepath.Join(f.TempDir(), DBFile)}, Migrations)
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	sink := NewSQLSink(db)
	signer, err := LoadOrCreateSigner(filepath.Join(f.TempDir(), "k"))
	if err != nil {
		f.Fatal(err)
	}
	w, err := NewWriter(context.Background(), WriterConfig{Sink: sink, Chain: "gw", Signer: signer})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if err := w.Append(context.Background(), &Record{Kind: "request", Method: "tools/call", Name: fmt.Sprint("t", i)}); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		f.Fatal(err)
	}
	orig, err := sink.Get(context.Background(), 2)
	if err != nil || orig == nil {
		f.Fatal("record 2 missing", err)
	}
	f.Add(string(orig.Body))
	f.Add(`{"chain":"gw","seq":2}`)
	f.Add(`{}`)
	f.Add(`not json`)
	f.Add(`{"time":"2026-01-01T00:00:00Z","kind":"request","method":"tools/call","name":"t1","capture":"","principal":{"user":"","auth_method":""},"client":{}}`)
	f.Fuzz(func(t *testing.T, body string) {
		if _, err := db.Exec("UPDATE audit_records SET body = ? WHERE id = 2", body); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(context.Background(), sink, signer)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK != (body == string(orig.Body)) {
			t.Fatalf("body %q: verify OK = %v", body, rep.OK)
		}
	})
}
