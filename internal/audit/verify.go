package audit

import (
	"context"
	"fmt"
	"sort"
	"strconv"
)

// Problem kinds reported by Verify.
const (
	ProblemModified  = "modified"
	ProblemDeleted   = "deleted"
	ProblemInserted  = "inserted"
	ProblemReordered = "reordered"
	ProblemTruncated = "truncated"
	ProblemForged    = "forged_checkpoint"
)

// Problem is one integrity failure.
type Problem struct {
	// Kind is one of the Problem* constants.
	Kind string `json:"kind"`
	// RecordID is the row id of the record where the failure shows (0 when the record is gone).
	RecordID int64 `json:"record_id,omitempty"`
	// Chain and Seq locate the failure in its chain.
	Chain string `json:"chain"`
	Seq   int64  `json:"seq"`
	// Message says what is wrong, naming the record.
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Message }

// Interrupted is a request whose response record is missing: the gateway stopped (or the store failed)
// after the request was recorded and, possibly, forwarded. Not tampering, but reported.
type Interrupted struct {
	RecordID  int64  `json:"record_id"`
	Ref       string `json:"ref"`
	Method    string `json:"method"`
	Name      string `json:"name,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Server    string `json:"server,omitempty"`
}

// ChainStatus summarises one chain.
type ChainStatus struct {
	Chain       string `json:"chain"`
	Records     int64  `json:"records"`
	FirstSeq    int64  `json:"first_seq"`
	LastSeq     int64  `json:"last_seq"`
	Checkpoints int    `json:"checkpoints"`
	// Anchored says the chain's first record is anchored by a signed checkpoint (after retention).
	Anchored bool `json:"anchored,omitempty"`
	// HeadHash is the hash of the chain's last record: with LastSeq, an anchor to keep outside the database
	// (see Anchor). Empty when the chain has no records left.
	HeadHash string `json:"head_hash,omitempty"`
	// SealedSeq is the highest seq a valid signed checkpoint covers (0: none). Records after it are only
	// protected by the hash links, which someone who can write the database can recompute.
	SealedSeq int64 `json:"sealed_seq"`
}

// Anchor is a chain head seen earlier (by a previous verify), kept outside the database. Verify checks the
// chain still holds the record at Seq with hash Hash: that detects what the database alone cannot — a
// truncated tail whose checkpoints were deleted too, records after the last checkpoint rewritten and
// rehashed, a chain deleted whole or restarted.
type Anchor struct {
	Chain string `json:"chain"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
}

// VerifyOptions are Verify's optional inputs.
type VerifyOptions struct {
	// Anchors are chain heads recorded earlier outside the database (Report.Anchors of a previous run).
	Anchors []Anchor
}

// Anchors returns the chain heads of rep, to keep outside the database and give to a later Verify.
func (rep *Report) Anchors() []Anchor {
	var out []Anchor
	for _, c := range rep.Chains {
		if c.Records > 0 && c.HeadHash != "" {
			out = append(out, Anchor{Chain: c.Chain, Seq: c.LastSeq, Hash: c.HeadHash})
		}
	}
	return out
}

// Report is the result of Verify.
type Report struct {
	OK          bool          `json:"ok"`
	Records     int64         `json:"records"`
	Chains      []ChainStatus `json:"chains"`
	Problems    []Problem     `json:"problems,omitempty"`
	Interrupted []Interrupted `json:"interrupted,omitempty"`
}

// maxProblems bounds a report (the first problem is what matters; the rest help the investigation).
const maxProblems = 100

// Verify checks every chain in the store: each record's hash against its body, its columns against its
// body, the links between consecutive records, the signed checkpoints, and the ids' order. It reports
// problems in store order (the first one is the first bad record) and the requests left without a
// response (interrupted). A Go error means the store could not be read.
func Verify(ctx context.Context, sink *SQLSink, signer *Signer) (*Report, error) {
	return VerifyWith(ctx, sink, signer, VerifyOptions{})
}

// VerifyWith is Verify with options: with anchors, it also reports a chain that no longer reaches a head
// seen earlier (truncated) or holds another record there (modified).
func VerifyWith(ctx context.Context, sink *SQLSink, signer *Signer, opts VerifyOptions) (*Report, error) {
	anchors := map[string][]Anchor{}
	for _, a := range opts.Anchors {
		anchors[a.Chain] = append(anchors[a.Chain], a)
	}
	cps, err := sink.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	byChain := map[string][]Checkpoint{}
	for _, cp := range cps {
		if signer == nil || !signer.Check(cp) {
			rep.add(Problem{Kind: ProblemForged, Chain: cp.Chain, Seq: cp.Seq,
				Message: fmt.Sprintf("checkpoint for chain %q at seq %d has no valid signature by this gateway's key: it was forged or altered "+
					"(or audit.signing_key points at a different key)", cp.Chain, cp.Seq)})
			continue
		}
		byChain[cp.Chain] = append(byChain[cp.Chain], cp)
	}

	type pending struct {
		id                          int64
		method, name, session, srvr string
	}
	requests := map[string]pending{}

	var (
		cur      *ChainStatus
		expect   int64
		prevHash string
		prevID   int64
		prevDesc string
		cpAt     map[int64]string
		anchorAt map[int64]string
	)
	finish := func() {
		if cur == nil {
			return
		}
		for _, cp := range byChain[cur.Chain] {
			if cp.Seq > cur.LastSeq {
				rep.add(Problem{Kind: ProblemTruncated, Chain: cur.Chain, Seq: cur.LastSeq + 1,
					Message: fmt.Sprintf("chain %q was truncated: records after %s are missing, but a signed checkpoint says the chain reached seq %d",
						cur.Chain, prevDesc, cp.Seq)})
				break
			}
		}
		for _, a := range anchors[cur.Chain] {
			if a.Seq > cur.LastSeq {
				rep.add(Problem{Kind: ProblemTruncated, Chain: cur.Chain, Seq: cur.LastSeq + 1,
					Message: fmt.Sprintf("chain %q was truncated: it ends at %s, but an earlier verify (anchor) saw it reach seq %d: "+
						"records %s were deleted (with the checkpoints that sealed them)", cur.Chain, prevDesc, a.Seq, seqRange(cur.LastSeq+1, a.Seq))})
			}
		}
		delete(anchors, cur.Chain)
		cur.HeadHash = prevHash
		rep.Chains = append(rep.Chains, *cur)
		delete(byChain, cur.Chain)
	}
	err = sink.query(ctx, "SELECT id, "+recordColumns+" FROM audit_records ORDER BY chain, seq, id", nil, func(r *StoredRecord) error {
		rep.Records++
		chain := r.cols.chain
		if cur == nil || cur.Chain != chain {
			finish()
			cur = &ChainStatus{Chain: chain, FirstSeq: r.cols.seq, Checkpoints: len(byChain[chain])}
			cpAt, anchorAt = map[int64]string{}, map[int64]string{}
			for _, cp := range byChain[chain] {
				cpAt[cp.Seq] = cp.Hash
				if cp.Kind == CheckpointRetention {
					anchorAt[cp.Seq] = cp.Hash
				}
			}
			expect, prevHash, prevID, prevDesc = 1, "", 0, "the chain's start"
			if r.cols.seq > 1 {
				if h, ok := anchorAt[r.cols.seq-1]; ok && h == r.PrevHash {
					cur.Anchored = true
					cur.SealedSeq = r.cols.seq - 1
					expect, prevHash = r.cols.seq, h
				} else {
					rep.add(Problem{Kind: ProblemDeleted, RecordID: r.ID, Chain: chain, Seq: 1,
						Message: fmt.Sprintf("chain %q starts at seq %d (record %d) and no signed retention checkpoint anchors it there: records 1–%d were deleted",
							chain, r.cols.seq, r.ID, r.cols.seq-1)})
					expect, prevHash = r.cols.seq, r.PrevHash
				}
			}
		}
		cur.LastSeq = r.cols.seq
		cur.Records++
		desc := fmt.Sprintf("record %d (chain %q seq %d)", r.ID, chain, r.cols.seq)
		switch {
		case r.DecodeErr != nil:
			rep.add(Problem{Kind: ProblemModified, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
				Message: desc + " was modified: its body is not a valid record (" + r.DecodeErr.Error() + ")"})
		case ChainHash(chain, r.cols.seq, r.cols.prevHash, r.Body) != r.cols.hash:
			rep.add(Problem{Kind: ProblemModified, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
				Message: desc + " was modified: its content or position no longer matches its hash"})
		case indexOf(&r.Record).withHash(r.cols.hash) != r.cols.withoutBody():
			rep.add(Problem{Kind: ProblemModified, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
				Message: desc + " was modified: its indexed columns (time, server, method, name, user, decision …) differ from its hashed content"})
		case r.cols.seq > expect:
			rep.add(Problem{Kind: ProblemDeleted, RecordID: r.ID, Chain: chain, Seq: expect,
				Message: fmt.Sprintf("%s: seq %s missing before it (after %s): deleted", desc, seqRange(expect, r.cols.seq-1), prevDesc)})
		case r.cols.seq < expect:
			rep.add(Problem{Kind: ProblemInserted, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
				Message: fmt.Sprintf("%s was inserted: seq %d already exists in the chain", desc, r.cols.seq)})
		case r.PrevHash != prevHash:
			rep.add(Problem{Kind: ProblemInserted, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
				Message: fmt.Sprintf("%s does not follow %s: it was inserted, or its predecessor was rewritten", desc, prevDesc)})
		case r.ID < prevID:
			rep.add(Problem{Kind: ProblemReordered, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
				Message: fmt.Sprintf("%s was reordered: its row id is lower than its predecessor's (%s)", desc, prevDesc)})
		}
		if h, ok := cpAt[r.cols.seq]; ok {
			if h != r.cols.hash {
				rep.add(Problem{Kind: ProblemModified, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
					Message: fmt.Sprintf("%s differs from the record a signed checkpoint sealed at this seq: it, or %s, was rewritten and the chain rehashed",
						desc, sealedSince(cur.SealedSeq))})
			} else {
				cur.SealedSeq = r.cols.seq
			}
		}
		for _, a := range anchors[chain] {
			if a.Seq == r.cols.seq && a.Hash != r.cols.hash {
				rep.add(Problem{Kind: ProblemModified, RecordID: r.ID, Chain: chain, Seq: r.cols.seq,
					Message: fmt.Sprintf("%s differs from the record an earlier verify (anchor) saw at this seq: it, or %s, "+
						"was rewritten and the chain rehashed, or the chain was deleted and restarted", desc, sealedSince(cur.SealedSeq))})
			}
		}
		expect, prevHash, prevID, prevDesc = r.cols.seq+1, r.cols.hash, r.ID, desc

		if r.DecodeErr == nil {
			// A response always follows its request in the same chain (the request is committed first), so
			// only unanswered requests need remembering.
			switch {
			case r.Kind == "request":
				requests[r.Ref()] = pending{id: r.ID, method: r.Method, name: r.Name, session: r.SessionID, srvr: r.Server}
			case r.Parent != "":
				delete(requests, r.Parent)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	finish()
	// Chains whose every record is gone: fine after retention (their last checkpoint is the seal), a
	// truncation otherwise, which cannot be told apart here; report the chain so an operator sees it.
	rest := make([]string, 0, len(byChain))
	for c := range byChain {
		rest = append(rest, c)
	}
	sort.Strings(rest)
	for _, c := range rest {
		cps := byChain[c]
		last := cps[len(cps)-1]
		var anchor int64 = -1 // the last retention checkpoint: retention removed everything up to it
		for _, cp := range cps {
			if cp.Kind == CheckpointRetention {
				anchor = max(anchor, cp.Seq)
			}
		}
		rep.Chains = append(rep.Chains, ChainStatus{Chain: c, FirstSeq: last.Seq + 1, LastSeq: last.Seq, Checkpoints: len(cps), Anchored: anchor >= 0, SealedSeq: last.Seq})
		for _, a := range anchors[c] {
			if a.Seq > anchor {
				rep.add(Problem{Kind: ProblemTruncated, Chain: c, Seq: max(anchor, 0) + 1,
					Message: fmt.Sprintf("chain %q has no records left, but an earlier verify (anchor) saw it reach seq %d and retention removed records only up to seq %d: records were deleted",
						c, a.Seq, max(anchor, 0))})
			}
		}
		delete(anchors, c)
		if anchor < last.Seq {
			rep.add(Problem{Kind: ProblemTruncated, Chain: c, Seq: max(anchor, 0) + 1,
				Message: fmt.Sprintf("chain %q has no records left, but a signed checkpoint says it reached seq %d: records were deleted", c, last.Seq)})
		}
	}
	// Anchored chains with no record and no checkpoint left: deleted whole.
	gone := make([]string, 0, len(anchors))
	for c := range anchors {
		gone = append(gone, c)
	}
	sort.Strings(gone)
	for _, c := range gone {
		top := int64(0)
		for _, a := range anchors[c] {
			top = max(top, a.Seq)
		}
		rep.add(Problem{Kind: ProblemTruncated, Chain: c, Seq: 1,
			Message: fmt.Sprintf("chain %q is gone (no records, no checkpoints), but an earlier verify (anchor) saw it reach seq %d: it was deleted", c, top)})
	}
	for ref, p := range requests {
		rep.Interrupted = append(rep.Interrupted, Interrupted{RecordID: p.id, Ref: ref, Method: p.method, Name: p.name, SessionID: p.session, Server: p.srvr})
	}
	sort.Slice(rep.Interrupted, func(i, j int) bool { return rep.Interrupted[i].RecordID < rep.Interrupted[j].RecordID })
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

func (rep *Report) add(p Problem) {
	if len(rep.Problems) < maxProblems {
		rep.Problems = append(rep.Problems, p)
	}
}

// sealedSince names the records a rewrite may have started at: those after the last seq a valid checkpoint
// still seals.
func sealedSince(sealed int64) string {
	if sealed == 0 {
		return "a record before it"
	}
	return fmt.Sprintf("a record after seq %d (the last one a valid signed checkpoint seals)", sealed)
}

func seqRange(a, b int64) string {
	if a == b {
		return strconv.FormatInt(a, 10)
	}
	return strconv.FormatInt(a, 10) + "–" + strconv.FormatInt(b, 10)
}

func (x indexed) withHash(h string) indexed { x.hash = h; return x }
func (x indexed) withoutBody() indexed      { x.body = ""; return x }
