package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/store"
)

// Sink is where the writer commits records.
type Sink interface {
	// AppendBatch places the records at the end of chain and stores them atomically (all or nothing): it
	// reads the chain's head inside its transaction, sets each record's Chain, Seq, PrevHash and Hash, and,
	// when seal returns a checkpoint for the new head, stores it too. Writers in other processes may extend
	// the same chain: the transaction serialises them.
	AppendBatch(ctx context.Context, chain string, recs []Encoded, seal func(seq int64, hash string) *Checkpoint) error
}

// Syncer is a Sink whose AppendBatch may return before the batch is durable (written to the store, not
// yet forced to disk). Sync makes every batch appended before it durable; the Writer calls it in a
// goroutine of its own, so that one sync covers the batches of many calls (group commit).
type Syncer interface {
	// NeedsSync reports whether AppendBatch leaves batches to Sync (false: each is durable on return).
	NeedsSync() bool
	Sync(ctx context.Context) error
}

// Encoded is a record with its body and the body's SHA-256, computed by the submitter.
type Encoded struct {
	Rec    *Record
	Body   []byte
	Digest [32]byte
	// Parent, when set, is the record whose chain position becomes Rec.Parent when this record is
	// appended: it precedes this one in the same batch, or was committed before. Body and Digest are then
	// computed by AppendBatch.
	Parent *Record
	// args are the INSERT arguments, without the chain position (filled in by AppendBatch).
	args []any
}

// Encode encodes r for a Sink (r's chain position must be unset).
func Encode(r *Record) (Encoded, error) {
	body, err := r.Body()
	if err != nil {
		return Encoded{}, err
	}
	return Encoded{Rec: r, Body: body, Digest: sha256.Sum256(body), args: recordArgs(r, body)}, nil
}

// Migrations is the audit schema, the same for SQLite and PostgreSQL.
var Migrations = []store.Migration{{
	Version: 1,
	Name:    "audit records and checkpoints",
	SQLite: []string{
		`CREATE TABLE audit_records (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			chain TEXT NOT NULL, seq INTEGER NOT NULL, time_ns INTEGER NOT NULL,
			kind TEXT NOT NULL, direction TEXT NOT NULL, session_id TEXT NOT NULL, server TEXT NOT NULL,
			method TEXT NOT NULL, name TEXT NOT NULL, user_name TEXT NOT NULL, decision TEXT NOT NULL,
			parent TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL)`,
		`CREATE UNIQUE INDEX audit_records_chain_seq ON audit_records (chain, seq)`,
		`CREATE INDEX audit_records_time ON audit_records (time_ns)`,
		`CREATE TABLE audit_checkpoints (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			kind TEXT NOT NULL, chain TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, time_ns INTEGER NOT NULL,
			key_id TEXT NOT NULL, signature TEXT NOT NULL)`,
		`CREATE INDEX audit_checkpoints_chain ON audit_checkpoints (chain, seq)`,
	},
	Postgres: []string{
		`CREATE TABLE audit_records (
			id BIGSERIAL PRIMARY KEY,
			chain TEXT NOT NULL, seq BIGINT NOT NULL, time_ns BIGINT NOT NULL,
			kind TEXT NOT NULL, direction TEXT NOT NULL, session_id TEXT NOT NULL, server TEXT NOT NULL,
			method TEXT NOT NULL, name TEXT NOT NULL, user_name TEXT NOT NULL, decision TEXT NOT NULL,
			parent TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL)`,
		`CREATE UNIQUE INDEX audit_records_chain_seq ON audit_records (chain, seq)`,
		`CREATE INDEX audit_records_time ON audit_records (time_ns)`,
		`CREATE TABLE audit_checkpoints (
			id BIGSERIAL PRIMARY KEY,
			kind TEXT NOT NULL, chain TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, time_ns BIGINT NOT NULL,
			key_id TEXT NOT NULL, signature TEXT NOT NULL)`,
		`CREATE INDEX audit_checkpoints_chain ON audit_checkpoints (chain, seq)`,
	},
}}

// SQLSink stores records in SQLite or PostgreSQL.
type SQLSink struct {
	db *store.DB
	// w, when set, is a second handle on db's SQLite file that commits without an fsync
	// (synchronous=NORMAL), used for AppendBatch only; Sync makes its commits durable (store.DB.SyncWAL).
	// Nil: AppendBatch commits on db, durable when it returns.
	w *store.DB

	// stmts are the statements every commit runs (the chain's head, INSERTs of a few records), prepared
	// once on the database and bound to each transaction (Tx.StmtContext reuses the connection's
	// prepared form): parsing them again for every commit was a tenth of the writer's time.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// maxPreparedInsert is the largest multi-row INSERT kept prepared besides the rowsPerInsert one: small
// batches (a few calls waiting on one commit) are the common case at low load.
const maxPreparedInsert = 16

// txStmt returns query q bound to tx, prepared once on the database; nil when it cannot be prepared (the
// caller then runs q unprepared, and any real problem surfaces there).
func (s *SQLSink) txStmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	s.stmtMu.Lock()
	st, ok := s.stmts[q]
	if !ok {
		var err error
		if st, err = s.appender().PrepareContext(ctx, q); err != nil {
			s.stmtMu.Unlock()
			return nil
		}
		if s.stmts == nil {
			s.stmts = map[string]*sql.Stmt{}
		}
		s.stmts[q] = st
	}
	s.stmtMu.Unlock()
	return tx.StmtContext(ctx, st)
}

// NewSQLSink returns a sink on db, which must have been opened with Migrations.
func NewSQLSink(db *store.DB) *SQLSink { return &SQLSink{db: db} }

// DB returns the underlying database.
func (s *SQLSink) DB() *store.DB { return s.db }

// appender is the handle AppendBatch commits on.
func (s *SQLSink) appender() *store.DB {
	if s.w != nil {
		return s.w
	}
	return s.db
}

// NeedsSync implements Syncer: a sink with a handle that commits without an fsync needs Sync for
// durability.
func (s *SQLSink) NeedsSync() bool { return s.w != nil }

// Sync implements Syncer: it makes every batch appended so far durable.
func (s *SQLSink) Sync(context.Context) error {
	if s.w == nil {
		return nil
	}
	return s.w.SyncWAL()
}

// Close closes the sink's database handles.
func (s *SQLSink) Close() error {
	var err error
	if s.w != nil {
		err = s.w.Close()
	}
	return errors.Join(err, s.db.Close())
}

const recordColumns = "chain, seq, time_ns, kind, direction, session_id, server, method, name, user_name, decision, parent, prev_hash, hash, body"

// rowsPerInsert bounds one multi-row INSERT (15 columns each, well under both back ends' parameter limits).
const rowsPerInsert = 200

// AppendBatch implements Sink.
func (s *SQLSink) AppendBatch(ctx context.Context, chain string, recs []Encoded, seal func(int64, string) *Checkpoint) error {
	db := s.appender()
	tx, err := db.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE (_txlock), so the head cannot move under us
	if err != nil {
		return fmt.Errorf("audit store (%s): begin: %w", db.Dialect, err)
	}
	defer func() { _ = tx.Rollback() }()
	if db.Dialect == store.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "mcpwarden-audit-chain:"+chain); err != nil {
			return fmt.Errorf("audit store (%s): lock chain %q: %w", db.Dialect, chain, err)
		}
	}
	seq, prev, err := head(ctx, db, tx, chain, s.txStmt(ctx, tx, db.Rebind(headQuery)))
	if err != nil {
		return err
	}
	for i := range recs {
		e := &recs[i]
		seq++
		r := e.Rec
		if e.Parent != nil {
			if e.Parent.Seq <= 0 {
				return fmt.Errorf("audit store (%s): a record's parent has no chain position (it was not appended before it)", db.Dialect)
			}
			r.Parent = e.Parent.Ref()
			enc, err := Encode(r)
			if err != nil {
				return fmt.Errorf("audit store (%s): %w", db.Dialect, err)
			}
			e.Body, e.Digest, e.args = enc.Body, enc.Digest, enc.args
		}
		r.Chain, r.Seq, r.PrevHash = chain, seq, prev
		r.Hash = chainHash(chain, seq, prev, e.Digest)
		prev = r.Hash
	}
	var chainArg any = chain
	var full *sql.Stmt // the rowsPerInsert-row INSERT, prepared once per batch
	for start := 0; start < len(recs); start += rowsPerInsert {
		end := min(start+rowsPerInsert, len(recs))
		args := make([]any, 0, (end-start)*15)
		for i := start; i < end; i++ {
			e := &recs[i]
			if e.args == nil {
				e.args = recordArgs(e.Rec, e.Body)
			}
			n := len(args)
			args = append(args, e.args...)
			args[n+argChain], args[n+argSeq], args[n+argPrev], args[n+argHash] = chainArg, e.Rec.Seq, e.Rec.PrevHash, e.Rec.Hash
		}
		var err error
		if end-start == rowsPerInsert {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, db.Rebind(insertRecords(rowsPerInsert))); err != nil {
					return fmt.Errorf("audit store (%s): prepare insert: %w", db.Dialect, err)
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		} else if q := db.Rebind(insertRecords(end - start)); end-start <= maxPreparedInsert {
			if st := s.txStmt(ctx, tx, q); st != nil {
				_, err = st.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, q, args...)
			}
		} else {
			_, err = tx.ExecContext(ctx, q, args...)
		}
		if err != nil {
			return fmt.Errorf("audit store (%s): insert %d records: %w", db.Dialect, end-start, err)
		}
	}
	if seal != nil && seq > 0 {
		if cp := seal(seq, prev); cp != nil {
			if err := insertCheckpoint(ctx, db, tx, cp); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit store (%s): commit: %w", db.Dialect, err)
	}
	return nil
}

// insertRecords is an INSERT of n records.
func insertRecords(n int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO audit_records (" + recordColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return q.String()
}

func insertCheckpoint(ctx context.Context, db *store.DB, tx *sql.Tx, cp *Checkpoint) error {
	_, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO audit_checkpoints (kind, chain, seq, hash, time_ns, key_id, signature) VALUES (?,?,?,?,?,?,?)"),
		cp.Kind, cp.Chain, cp.Seq, cp.Hash, cp.Time.UnixNano(), cp.KeyID, cp.Signature)
	if err != nil {
		return fmt.Errorf("audit store (%s): insert checkpoint: %w", db.Dialect, err)
	}
	return nil
}

// indexed are the columns derived from a record's body (Verify checks they still match it).
type indexed struct {
	chain                string
	seq, timeNS          int64
	kind, direction      string
	session, server      string
	method, name, user   string
	decision, parent     string
	prevHash, hash, body string
}

func indexOf(r *Record) indexed {
	return indexed{
		chain: r.Chain, seq: r.Seq, timeNS: r.Time.UnixNano(), kind: r.Kind, direction: r.Direction,
		session: r.SessionID, server: r.Server, method: r.Method, name: r.Name, user: r.Principal.User,
		decision: r.DecisionAction(), parent: r.Parent, prevHash: r.PrevHash, hash: r.Hash,
	}
}

// Positions of the chain-position columns in recordArgs.
const argChain, argSeq, argPrev, argHash = 0, 1, 12, 13

func recordArgs(r *Record, body []byte) []any {
	x := indexOf(r)
	return []any{x.chain, x.seq, x.timeNS, x.kind, x.direction, x.session, x.server, x.method, x.name, x.user,
		x.decision, x.parent, x.prevHash, x.hash, string(body)}
}

// head returns the last seq and hash of chain (0, "" for a new chain) inside tx.
const headQuery = "SELECT seq, hash FROM audit_records WHERE chain = ? ORDER BY seq DESC LIMIT 1"

// head returns the last sequence number and hash of chain; prepared, when not nil, is headQuery bound to tx.
func head(ctx context.Context, db *store.DB, tx *sql.Tx, chain string, prepared *sql.Stmt) (int64, string, error) {
	var seq int64
	var hash string
	var row *sql.Row
	if prepared != nil {
		row = prepared.QueryRowContext(ctx, chain)
	} else {
		row = tx.QueryRowContext(ctx, db.Rebind(headQuery), chain)
	}
	err := row.Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		// A chain whose records were all removed by retention continues from its last checkpoint.
		err = tx.QueryRowContext(ctx, db.Rebind("SELECT seq, hash FROM audit_checkpoints WHERE chain = ? ORDER BY seq DESC LIMIT 1"), chain).Scan(&seq, &hash)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, "", nil
		}
	}
	if err != nil {
		return 0, "", fmt.Errorf("audit store (%s): read the head of chain %q: %w", db.Dialect, chain, err)
	}
	return seq, hash, nil
}

// StoredRecord is a record as read back from the store, with what Verify needs to check it.
type StoredRecord struct {
	Record
	// Body is the stored body text.
	Body []byte
	// cols are the stored indexed columns.
	cols indexed
	// DecodeErr is set when the body is not a valid record.
	DecodeErr error
}

func scanRecord(rows *sql.Rows) (*StoredRecord, error) {
	var sr StoredRecord
	var x indexed
	if err := rows.Scan(&sr.ID, &x.chain, &x.seq, &x.timeNS, &x.kind, &x.direction, &x.session, &x.server, &x.method,
		&x.name, &x.user, &x.decision, &x.parent, &x.prevHash, &x.hash, &x.body); err != nil {
		return nil, err
	}
	sr.cols = x
	sr.Body = []byte(x.body)
	if err := json.Unmarshal(sr.Body, &sr.Record); err != nil {
		sr.DecodeErr = err
	}
	if sr.Chain != "" || sr.Seq != 0 || sr.PrevHash != "" {
		sr.DecodeErr = errors.New("the body carries a chain position")
	}
	sr.Chain, sr.Seq, sr.PrevHash, sr.Hash = x.chain, x.seq, x.prevHash, x.hash
	return &sr, nil
}

// Filter selects records for List and Export. Zero fields match everything.
type Filter struct {
	Since, Until time.Time
	User         string
	Server       string
	Tool         string // the name of a tools/call (also matches prompt and resource names)
	Method       string
	Decision     string
	Session      string
	// AfterID returns only records with a larger row id (for tail -f).
	AfterID int64
	// Limit caps the number of records (0 = no cap); Desc orders newest first.
	Limit int
	Desc  bool
}

// Scan calls fn for each record matching f, in row-id order (or reverse with f.Desc).
func (s *SQLSink) Scan(ctx context.Context, f Filter, fn func(*StoredRecord) error) error {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if !f.Since.IsZero() {
		add("time_ns >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("time_ns < ?", f.Until.UnixNano())
	}
	if f.User != "" {
		add("user_name = ?", f.User)
	}
	if f.Server != "" {
		add("server = ?", f.Server)
	}
	if f.Tool != "" {
		add("name = ?", f.Tool)
	}
	if f.Method != "" {
		add("method = ?", f.Method)
	}
	if f.Decision != "" {
		add("decision = ?", f.Decision)
	}
	if f.Session != "" {
		add("session_id = ?", f.Session)
	}
	if f.AfterID > 0 {
		add("id > ?", f.AfterID)
	}
	q := "SELECT id, " + recordColumns + " FROM audit_records"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Desc {
		q += " ORDER BY id DESC"
	} else {
		q += " ORDER BY id"
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return s.query(ctx, q, args, fn)
}

func (s *SQLSink) query(ctx context.Context, q string, args []any, fn func(*StoredRecord) error) error {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return fmt.Errorf("audit store (%s): query: %w", s.db.Dialect, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return fmt.Errorf("audit store (%s): read record: %w", s.db.Dialect, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit store (%s): read records: %w", s.db.Dialect, err)
	}
	return nil
}

// Get returns the record with row id id, or nil when there is none.
func (s *SQLSink) Get(ctx context.Context, id int64) (*StoredRecord, error) {
	var out *StoredRecord
	err := s.query(ctx, "SELECT id, "+recordColumns+" FROM audit_records WHERE id = ?", []any{id}, func(r *StoredRecord) error {
		out = r
		return nil
	})
	return out, err
}

// Checkpoints returns every checkpoint, by chain and seq.
func (s *SQLSink) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT kind, chain, seq, hash, time_ns, key_id, signature FROM audit_checkpoints ORDER BY chain, seq, id")
	if err != nil {
		return nil, fmt.Errorf("audit store (%s): read checkpoints: %w", s.db.Dialect, err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var cp Checkpoint
		var ns int64
		if err := rows.Scan(&cp.Kind, &cp.Chain, &cp.Seq, &cp.Hash, &ns, &cp.KeyID, &cp.Signature); err != nil {
			return nil, fmt.Errorf("audit store (%s): read checkpoint: %w", s.db.Dialect, err)
		}
		cp.Time = time.Unix(0, ns).UTC()
		out = append(out, cp)
	}
	return out, rows.Err()
}

// Prune deletes the records older than before, chain by chain, after sealing each chain's last deleted
// record with a signed checkpoint so the remaining records stay verifiable. It returns how many records
// it deleted.
func (s *SQLSink) Prune(ctx context.Context, before time.Time, signer *Signer) (int64, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT chain, MAX(seq) FROM audit_records WHERE time_ns < ? GROUP BY chain"), before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("audit store (%s): find records to prune: %w", s.db.Dialect, err)
	}
	type cut struct {
		chain string
		seq   int64
	}
	var cuts []cut
	for rows.Next() {
		var c cut
		if err := rows.Scan(&c.chain, &c.seq); err != nil {
			rows.Close()
			return 0, err
		}
		cuts = append(cuts, c)
	}
	rows.Close()
	var total int64
	for _, c := range cuts {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return total, err
		}
		var hash string
		if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT hash FROM audit_records WHERE chain = ? AND seq = ?"), c.chain, c.seq).Scan(&hash); err != nil {
			_ = tx.Rollback()
			return total, fmt.Errorf("audit store (%s): read chain %q seq %d: %w", s.db.Dialect, c.chain, c.seq, err)
		}
		cp := signer.Sign(CheckpointRetention, c.chain, c.seq, hash, time.Now())
		if err := insertCheckpoint(ctx, s.db, tx, &cp); err != nil {
			_ = tx.Rollback()
			return total, err
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM audit_records WHERE chain = ? AND seq <= ?"), c.chain, c.seq)
		if err != nil {
			_ = tx.Rollback()
			return total, fmt.Errorf("audit store (%s): prune chain %q: %w", s.db.Dialect, c.chain, err)
		}
		// Checkpoints older than the new seal are no longer needed to verify what remains.
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM audit_checkpoints WHERE chain = ? AND seq < ?"), c.chain, c.seq); err != nil {
			_ = tx.Rollback()
			return total, err
		}
		if err := tx.Commit(); err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

var _ Sink = (*SQLSink)(nil)
