package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// rewrite replaces record id's body with edit(body) and recomputes its hash and those of every later record
// in its chain, as an attacker who knows the algorithm (but not the signing key) would.
func rewrite(t *testing.T, s *SQLSink, id int64, edit func(r *Record)) {
	t.Helper()
	first, _ := s.Get(t.Context(), id)
	if first == nil {
		t.Fatalf("record %d must exist", id)
	}
	var recs []*StoredRecord
	if err := s.query(t.Context(), "SELECT id, "+recordColumns+" FROM audit_records WHERE chain = ? AND seq >= ? ORDER BY seq", []any{first.Chain, first.Seq},
		func(r *StoredRecord) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	prev := first.PrevHash
	for i, r := range recs {
		if i == 0 {
			edit(&r.Record)
		}
		c := r.Record
		body, err := c.Body()
		if err != nil {
			t.Fatal(err)
		}
		c.Chain, c.Seq, c.PrevHash = r.Chain, r.Seq, prev
		c.Hash = ChainHash(c.Chain, c.Seq, prev, body)
		prev = c.Hash
		exec(t, s, "UPDATE audit_records SET chain=?, seq=?, time_ns=?, kind=?, direction=?, session_id=?, server=?, method=?, name=?, user_name=?, decision=?, parent=?, prev_hash=?, hash=?, body=? WHERE id=?",
			append(recordArgs(&c, body), r.ID)...)
	}
}

func verifyProblems(t *testing.T, s *SQLSink, signer *Signer, anchors []Anchor) *Report {
	t.Helper()
	rep, err := VerifyWith(t.Context(), s, signer, VerifyOptions{Anchors: anchors})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyTamperCatalogue(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				// anchored: verify against the heads of a previous run (an external anchor); without it the
				// attack is one the database alone cannot reveal.
				anchored bool
				tamper   func(t *testing.T, s *SQLSink)
				kind     string
				names    string
			}{
				{"finding edited", false, func(t *testing.T, s *SQLSink) {
					rewriteBodyOnly(t, s, 4, func(r *Record) { r.Findings = []Finding{{Detector: "secrets", Severity: "low"}} })
				}, ProblemModified, "record 4 "},
				{"timestamp column", false, func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_records SET time_ns = time_ns + 1 WHERE id = 6`)
				}, ProblemModified, "record 6 "},
				{"decision column", false, func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_records SET decision = 'allow' WHERE id = 3`)
				}, ProblemModified, "record 3 "},
				{"stored hash only", false, func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_records SET hash = '00' || SUBSTR(hash, 3) WHERE id = 12`)
				}, ProblemModified, "record 12 "},
				{"re-encoded body", false, func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_records SET body = REPLACE(body, '{"time"', '{ "time"') WHERE id = 2`)
				}, ProblemModified, "record 2 "},
				{"moved to another chain", false, func(t *testing.T, s *SQLSink) {
					exec(t, s, `UPDATE audit_records SET chain = 'other', seq = 1, prev_hash = '' WHERE id = 19`)
				}, ProblemTruncated, "seq 19"},
				{"rewritten and rehashed, sealed", false, func(t *testing.T, s *SQLSink) {
					rewrite(t, s, 5, func(r *Record) { r.Principal.User = "mallory" })
				}, ProblemModified, "record 11 "},
				{"rewritten, rehashed, later checkpoints deleted", true, func(t *testing.T, s *SQLSink) {
					rewrite(t, s, 12, func(r *Record) { r.Principal.User = "mallory" })
					exec(t, s, `DELETE FROM audit_checkpoints WHERE seq >= 12`)
				}, ProblemModified, "record 19 "},
				{"tail and its checkpoints deleted", true, func(t *testing.T, s *SQLSink) {
					exec(t, s, `DELETE FROM audit_records WHERE seq > 12`)
					exec(t, s, `DELETE FROM audit_checkpoints WHERE seq > 12`)
				}, ProblemTruncated, "seq 19"},
				{"everything deleted", true, func(t *testing.T, s *SQLSink) {
					exec(t, s, `DELETE FROM audit_records`)
					exec(t, s, `DELETE FROM audit_checkpoints`)
				}, ProblemTruncated, "seq 19"},
				{"everything deleted, fresh chain", true, func(t *testing.T, s *SQLSink) {
					exec(t, s, `DELETE FROM audit_records`)
					exec(t, s, `DELETE FROM audit_checkpoints`)
					w, err := NewWriter(t.Context(), WriterConfig{Sink: s, Chain: "gw"})
					if err != nil {
						t.Fatal(err)
					}
					for range 25 {
						if err := w.Append(t.Context(), &Record{Time: base, Kind: "notification", Direction: "server_to_client", Method: "x"}); err != nil {
							t.Fatal(err)
						}
					}
					if err := w.Close(t.Context()); err != nil {
						t.Fatal(err)
					}
				}, ProblemModified, "record "},
			} {
				t.Run(tc.name, func(t *testing.T) {
					sink, signer := be.open(t), testSigner(t)
					writeCalls(t, sink, signer, "gw", 10, base) // 19 records, checkpoints at 11 and 19
					before := verifyProblems(t, sink, signer, nil)
					if !before.OK {
						t.Fatalf("honest trail: %+v", before)
					}
					var anchors []Anchor
					if tc.anchored {
						anchors = before.Anchors()
					}
					tc.tamper(t, sink)
					rep := verifyProblems(t, sink, signer, anchors)
					if rep.OK || len(rep.Problems) == 0 {
						t.Fatalf("verify passed after tampering: %+v", rep)
					}
					got := rep.Problems[0]
					if got.Kind != tc.kind || !strings.Contains(got.Message, tc.names) {
						t.Errorf("first problem %s %q, want %s naming %q; all: %+v", got.Kind, got.Message, tc.kind, tc.names, rep.Problems)
					}
				})
			}
		})
	}
}

// rewriteBodyOnly edits one record's body and keeps its columns and hash.
func rewriteBodyOnly(t *testing.T, s *SQLSink, id int64, edit func(r *Record)) {
	t.Helper()
	r, _ := s.Get(t.Context(), id)
	edit(&r.Record)
	body, err := r.Record.Body()
	if err != nil {
		t.Fatal(err)
	}
	exec(t, s, `UPDATE audit_records SET body = ? WHERE id = ?`, string(body), id)
}

var _ = json.Marshal

// An honest trail verifies against the anchors of an earlier run after it grew, after a restart, and after
// retention removed the anchored records.
func TestVerifyAnchorsHonestTrail(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			sink, signer := be.open(t), testSigner(t)
			writeCalls(t, sink, signer, "gw", 5, base)
			writeCalls(t, sink, signer, "gw2", 3, base)
			first := verifyProblems(t, sink, signer, nil)
			if !first.OK || len(first.Anchors()) != 2 || first.Chains[0].SealedSeq != first.Chains[0].LastSeq {
				t.Fatalf("honest trail: %+v", first)
			}
			writeCalls(t, sink, signer, "gw", 5, base.Add(time.Hour)) // a restart: a new writer extends the chain
			if rep := verifyProblems(t, sink, signer, first.Anchors()); !rep.OK {
				t.Fatalf("grown trail against earlier anchors: %+v", rep.Problems)
			}
			if _, err := sink.Prune(t.Context(), base.Add(30*time.Minute), signer); err != nil {
				t.Fatal(err)
			}
			if rep := verifyProblems(t, sink, signer, first.Anchors()); !rep.OK {
				t.Fatalf("pruned trail against anchors in the pruned part: %+v", rep.Problems)
			}
		})
	}
}
