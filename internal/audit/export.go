package audit

import (
	"context"
	"encoding/json"
	"io"
)

// Entry is a record as listed and exported: the record's fields plus its row id, its reference and its
// hash. Its JSON field names are stable (docs/audit.md).
type Entry struct {
	ID       int64  `json:"id"`
	Ref      string `json:"ref"`
	Chain    string `json:"chain"`
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	Record
}

// EntryOf returns the listing form of a stored record.
func EntryOf(r *StoredRecord) Entry {
	return Entry{ID: r.ID, Ref: r.Ref(), Chain: r.Chain, Seq: r.Seq, PrevHash: r.PrevHash, Hash: r.Hash, Record: r.Record}
}

// ExportJSONL writes the records matching f to w, one JSON object per line (SIEM-friendly), and returns
// how many it wrote.
func ExportJSONL(ctx context.Context, sink *SQLSink, f Filter, w io.Writer) (int, error) {
	enc := json.NewEncoder(w)
	n := 0
	err := sink.Scan(ctx, f, func(r *StoredRecord) error {
		n++
		return enc.Encode(EntryOf(r))
	})
	return n, err
}

// RecordStatus is the chain status of one record, for `audit show`.
type RecordStatus struct {
	// HashOK says the record's content matches its hash.
	HashOK bool `json:"hash_ok"`
	// LinkOK says the record follows its predecessor (or is the chain's anchored start).
	LinkOK bool `json:"link_ok"`
	// Response is the row id of the response record answering this request (requests only).
	Response int64 `json:"response,omitempty"`
	// Interrupted says this is a request with no response record.
	Interrupted bool `json:"interrupted,omitempty"`
	// Note explains a failed check.
	Note string `json:"note,omitempty"`
}

// Status checks one record: its hash, its link to the previous record in its chain and, for a request,
// whether its response was recorded.
func Status(ctx context.Context, sink *SQLSink, r *StoredRecord) (RecordStatus, error) {
	st := RecordStatus{HashOK: r.DecodeErr == nil && ChainHash(r.cols.chain, r.cols.seq, r.cols.prevHash, r.Body) == r.cols.hash}
	if !st.HashOK {
		st.Note = "the record was modified: its content does not match its hash (run audit verify)"
	}
	var prev *StoredRecord
	err := sink.query(ctx, "SELECT id, "+recordColumns+" FROM audit_records WHERE chain = ? AND seq = ?", []any{r.cols.chain, r.cols.seq - 1},
		func(p *StoredRecord) error { prev = p; return nil })
	if err != nil {
		return st, err
	}
	switch {
	case prev != nil:
		st.LinkOK = prev.cols.hash == r.PrevHash
	case r.cols.seq == 1:
		st.LinkOK = r.PrevHash == ""
	default:
		cps, err := sink.Checkpoints(ctx)
		if err != nil {
			return st, err
		}
		for _, cp := range cps {
			if cp.Kind == CheckpointRetention && cp.Chain == r.cols.chain && cp.Seq == r.cols.seq-1 && cp.Hash == r.PrevHash {
				st.LinkOK = true
			}
		}
	}
	if !st.LinkOK && st.Note == "" {
		st.Note = "the record does not follow its predecessor: records around it were deleted, inserted or changed (run audit verify)"
	}
	if r.Kind == "request" && r.DecodeErr == nil {
		// The response follows its request in the same chain: scan forward on the (chain, seq) index.
		err := sink.query(ctx, "SELECT id, "+recordColumns+" FROM audit_records WHERE chain = ? AND seq > ? AND parent = ? ORDER BY seq LIMIT 1",
			[]any{r.cols.chain, r.cols.seq, r.Ref()},
			func(p *StoredRecord) error { st.Response = p.ID; return nil })
		if err != nil {
			return st, err
		}
		st.Interrupted = st.Response == 0
	}
	return st, nil
}
