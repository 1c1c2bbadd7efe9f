package pin

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/store"
)

// Mode is the pinning mode (config pinning.mode).
type Mode string

const (
	// TOFU pins an item the first time it is seen (trust on first use); a later change is quarantined.
	TOFU Mode = "tofu"
	// Strict quarantines every item that has no approved pin, including new ones.
	Strict Mode = "strict"
	// Off pins nothing; only items the poisoning scan flags are quarantined.
	Off Mode = "off"
)

// ApprovedByTOFU is Pin.ApprovedBy of a pin taken on first use rather than by a person.
const ApprovedByTOFU = "tofu"

// Migrations is the pin schema. Versions 7001+ (stage ⑦) never collide with the audit schema's, which
// shares the database and its schema_migrations table.
var Migrations = []store.Migration{{
	Version: 7001,
	Name:    "inspect: tool pins",
	SQLite: []string{`CREATE TABLE inspect_pins (
		server TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
		approved_hash TEXT NOT NULL, approved_def TEXT NOT NULL, approved_by TEXT NOT NULL, approved_at TEXT NOT NULL,
		pending_hash TEXT NOT NULL, pending_def TEXT NOT NULL, pending_reason TEXT NOT NULL, pending_at TEXT NOT NULL,
		PRIMARY KEY (server, kind, name))`},
	Postgres: []string{`CREATE TABLE inspect_pins (
		server TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
		approved_hash TEXT NOT NULL, approved_def TEXT NOT NULL, approved_by TEXT NOT NULL, approved_at TEXT NOT NULL,
		pending_hash TEXT NOT NULL, pending_def TEXT NOT NULL, pending_reason TEXT NOT NULL, pending_at TEXT NOT NULL,
		PRIMARY KEY (server, kind, name))`},
}}

// DBFile is the SQLite file pins live in inside data_dir. It is not audit.db: SQLite shares one file
// descriptor per file among the connections of a process, so a second connection pool on audit.db would
// keep the audit writer's descriptor alive and hide a store that became read-only from it. With
// PostgreSQL, pins share the audit database (audit.postgres_dsn) and its schema_migrations table.
const DBFile = "pins.db"

// Pin is the stored state of one item.
type Pin struct {
	Server, Kind, Name string
	// ApprovedHash and ApprovedDef are the approved definition ("" when none was ever approved).
	ApprovedHash string `json:"approved_hash"`
	ApprovedDef  string `json:"approved_definition,omitempty"`
	// ApprovedBy is "tofu" (first use) or the person who approved it; ApprovedAt is RFC 3339.
	ApprovedBy string `json:"approved_by,omitempty"`
	ApprovedAt string `json:"approved_at,omitempty"`
	// PendingHash and PendingDef are a definition seen since and not approved ("" when none).
	PendingHash   string `json:"pending_hash,omitempty"`
	PendingDef    string `json:"pending_definition,omitempty"`
	PendingReason string `json:"pending_reason,omitempty"`
	PendingAt     string `json:"pending_at,omitempty"`
	// NoDefinitions marks a pin read by State: ApprovedDef and PendingDef were not read.
	NoDefinitions bool `json:"-"`
}

// Quarantined reports whether the item is withheld from clients: a definition awaits approval.
func (p *Pin) Quarantined() bool { return p.PendingHash != "" || p.ApprovedHash == "" }

// State describes the pin for people: "approved", "quarantined (changed)" or "quarantined (never approved)".
func (p *Pin) State() string {
	switch {
	case p.ApprovedHash == "":
		return "quarantined (never approved)"
	case p.PendingHash != "":
		return "quarantined (changed)"
	}
	return "approved"
}

// Store holds pins in a database shared with the audit trail.
type Store struct {
	db  *store.DB
	now func() time.Time

	// get is Get's query, prepared once (it runs several times per tools/call); nil when preparing
	// failed, and Get then runs the query unprepared.
	getOnce sync.Once
	get     *sql.Stmt
	// state is State's query, prepared once likewise.
	stateOnce sync.Once
	state     *sql.Stmt
	// cache keeps State's answers on SQLite (see cache.go); nil on PostgreSQL.
	cache *stateCache
}

// Open opens the pin store of cfg: data_dir/pins.db, or audit.postgres_dsn when audit.store is postgres.
func Open(ctx context.Context, cfg *config.Config) (*Store, error) {
	opts := store.Options{Dialect: store.SQLite, Path: filepath.Join(cfg.DataDir, DBFile)}
	if cfg.Audit.Store == "postgres" {
		opts = store.Options{Dialect: store.Postgres, DSN: cfg.Audit.PostgresDSN}
	}
	db, err := store.Open(ctx, opts, Migrations)
	if err != nil {
		return nil, fmt.Errorf("pin store: %w", err)
	}
	return New(db), nil
}

// New returns a store on db, which must have been opened with Migrations.
func New(db *store.DB) *Store {
	s := &Store{db: db, now: time.Now}
	if db.Dialect == store.SQLite {
		s.cache = newStateCache(db.Path())
	}
	return s
}

// Close closes the database.
func (s *Store) Close() error {
	s.getOnce.Do(func() {}) // no statement is prepared after this
	s.stateOnce.Do(func() {})
	if s.cache != nil {
		s.cache.close()
	}
	if s.get != nil {
		_ = s.get.Close()
	}
	if s.state != nil {
		_ = s.state.Close()
	}
	return s.db.Close()
}

// Observation is an item as a list shows it now, with the poisoning verdict about it.
type Observation struct {
	Item
	// Poisoned, when not empty, says why the poisoning scan flagged the item (it is quarantined unless a
	// person approved exactly this definition).
	Poisoned string
	// Conflict, when not empty, says why the item is ambiguous as listed (e.g. one name listed twice with
	// different definitions): like Poisoned, it is quarantined with this reason unless a person approved
	// exactly this definition, whatever the mode.
	Conflict string
}

// flagged is the reason the observation must not be approved on first use ("" for none).
func (o Observation) flagged() string {
	if o.Poisoned != "" {
		return "poisoning scan: " + o.Poisoned
	}
	return o.Conflict
}

// Verdict is the outcome of checking one observation.
type Verdict struct {
	Item Item
	// Quarantined items must be withheld from the client and calls to them refused.
	Quarantined bool
	// Reason says why (empty when not quarantined).
	Reason string
	// Pinned is true when this check created the item's first pin (TOFU).
	Pinned bool
}

const cols = "server, kind, name, approved_hash, approved_def, approved_by, approved_at, pending_hash, pending_def, pending_reason, pending_at"

func scanPin(sc interface{ Scan(...any) error }) (*Pin, error) {
	p := &Pin{}
	err := sc.Scan(&p.Server, &p.Kind, &p.Name, &p.ApprovedHash, &p.ApprovedDef, &p.ApprovedBy, &p.ApprovedAt,
		&p.PendingHash, &p.PendingDef, &p.PendingReason, &p.PendingAt)
	return p, err
}

// Check compares what a list shows for server with the stored pins and records what changed, in one
// transaction. Items already known to be in the state the observation implies cause no write.
func (s *Store) Check(ctx context.Context, server string, mode Mode, obs []Observation) ([]Verdict, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("pin store: %w", err)
	}
	wrote := false // beginWrite was called: endWrite once the transaction is over
	willWrite := func() {
		if !wrote {
			wrote = true
			s.cache.beginWrite()
		}
	}
	defer func() {
		_ = tx.Rollback()
		if wrote {
			s.cache.endWrite()
		}
	}()
	rows, err := tx.QueryContext(ctx, s.db.Rebind("SELECT "+cols+" FROM inspect_pins WHERE server = ?"), server)
	if err != nil {
		return nil, fmt.Errorf("pin store: read pins of %q: %w", server, err)
	}
	known := map[[2]string]*Pin{}
	for rows.Next() {
		p, err := scanPin(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("pin store: read pins of %q: %w", server, err)
		}
		known[[2]string{p.Kind, p.Name}] = p
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("pin store: read pins of %q: %w", server, err)
	}
	rows.Close()
	now := s.now().UTC().Format(time.RFC3339)
	out := make([]Verdict, len(obs))
	for i, o := range obs {
		v := Verdict{Item: o.Item}
		p := known[[2]string{o.Kind, o.Name}]
		var write *Pin
		switch {
		case p == nil:
			np := &Pin{Server: server, Kind: o.Kind, Name: o.Name}
			switch {
			case o.flagged() != "":
				np.PendingHash, np.PendingDef, np.PendingReason, np.PendingAt = o.Hash, string(o.Definition), o.flagged(), now
			case mode == Strict:
				np.PendingHash, np.PendingDef, np.PendingReason, np.PendingAt = o.Hash, string(o.Definition), "new item (pinning mode strict requires approval)", now
			case mode == TOFU:
				np.ApprovedHash, np.ApprovedDef, np.ApprovedBy, np.ApprovedAt = o.Hash, string(o.Definition), ApprovedByTOFU, now
				v.Pinned = true
			default: // off: nothing to remember
				np = nil
			}
			if np != nil {
				if testHookBeforeInsert != nil {
					testHookBeforeInsert()
				}
				willWrite()
				res, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO inspect_pins ("+cols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "+
					"ON CONFLICT (server, kind, name) DO NOTHING"),
					np.Server, np.Kind, np.Name, np.ApprovedHash, np.ApprovedDef, np.ApprovedBy, np.ApprovedAt,
					np.PendingHash, np.PendingDef, np.PendingReason, np.PendingAt)
				if err != nil {
					return nil, fmt.Errorf("pin store: pin %s %q of %q: %w", o.Kind, o.Name, server, err)
				}
				if n, _ := res.RowsAffected(); n == 0 {
					// Another replica pinned the item at the same moment: its pin stands; ours is only
					// good if it is the same definition.
					other, err := scanPin(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+cols+" FROM inspect_pins WHERE server = ? AND kind = ? AND name = ?"), server, o.Kind, o.Name))
					if err != nil {
						return nil, fmt.Errorf("pin store: read %s %q of %q: %w", o.Kind, o.Name, server, err)
					}
					np = other
					if other.ApprovedHash != o.Hash && !other.Quarantined() {
						v.Quarantined, v.Reason = true, "definition differs from the one another gateway replica pinned at the same moment"
					}
					v.Pinned = false
				}
				known[[2]string{o.Kind, o.Name}] = np
				p = np
			}
		case o.Hash == p.ApprovedHash && (o.flagged() == "" || p.ApprovedBy != ApprovedByTOFU):
			// The approved definition (a person may approve a definition the scanner flags).
			if p.PendingHash != "" {
				c := *p
				c.PendingHash, c.PendingDef, c.PendingReason, c.PendingAt = "", "", "", ""
				write = &c
			}
		case o.flagged() == "" && p.ApprovedDef != "" && sameRespelled(p.ApprovedDef, o.Hash):
			// The approved definition, pinned under an older canonical form (e.g. before numbers were
			// spelled by value): the same definition, so the pin takes the new spelling, still approved.
			c := *p
			c.ApprovedHash, c.ApprovedDef = o.Hash, string(o.Definition)
			if p.PendingHash == o.Hash || p.PendingHash != "" && sameRespelled(p.PendingDef, o.Hash) {
				c.PendingHash, c.PendingDef, c.PendingReason, c.PendingAt = "", "", "", ""
			}
			write = &c
		case mode == Off && o.flagged() == "":
			if p.PendingHash != "" || p.ApprovedHash != o.Hash {
				c := *p
				c.PendingHash, c.PendingDef, c.PendingReason, c.PendingAt = "", "", "", ""
				c.ApprovedHash, c.ApprovedDef, c.ApprovedBy, c.ApprovedAt = o.Hash, string(o.Definition), ApprovedByTOFU, now
				write = &c
			}
		default:
			reason := "definition changed since it was approved"
			switch {
			case o.flagged() != "":
				reason = o.flagged()
			case p.ApprovedHash == "" && mode == Strict:
				reason = "new item (pinning mode strict requires approval)"
			}
			if p.PendingHash != o.Hash || p.PendingReason != reason {
				c := *p
				c.PendingHash, c.PendingDef, c.PendingReason, c.PendingAt = o.Hash, string(o.Definition), reason, now
				write = &c
			}
		}
		if write != nil {
			willWrite()
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE inspect_pins SET approved_hash = ?, approved_def = ?, approved_by = ?,
				approved_at = ?, pending_hash = ?, pending_def = ?, pending_reason = ?, pending_at = ? WHERE server = ? AND kind = ? AND name = ?`),
				write.ApprovedHash, write.ApprovedDef, write.ApprovedBy, write.ApprovedAt, write.PendingHash, write.PendingDef,
				write.PendingReason, write.PendingAt, server, o.Kind, o.Name); err != nil {
				return nil, fmt.Errorf("pin store: update %s %q of %q: %w", o.Kind, o.Name, server, err)
			}
			known[[2]string{o.Kind, o.Name}] = write
			p = write
		}
		if p != nil && p.Quarantined() {
			v.Quarantined, v.Reason = true, p.PendingReason
			if v.Reason == "" {
				v.Reason = "never approved"
			}
		}
		out[i] = v
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("pin store: commit: %w", err)
	}
	return out, nil
}

// sameRespelled reports whether the stored canonical definition def, canonicalised again, hashes to hash:
// a pin written by an older version of Canonical that means the same definition as the one seen now.
func sameRespelled(def, hash string) bool {
	c, err := Canonical([]byte(def))
	if err != nil {
		return false
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]) == hash
}

// testHookBeforeInsert, when set by a test, runs between reading the pins and inserting a first pin (to
// stage a concurrent insert by another replica).
var testHookBeforeInsert func()

// Get returns the pin of one item, or nil when the item was never seen.
func (s *Store) Get(ctx context.Context, server, kind, name string) (*Pin, error) {
	q := s.db.Rebind("SELECT " + cols + " FROM inspect_pins WHERE server = ? AND kind = ? AND name = ?")
	s.getOnce.Do(func() {
		if st, err := s.db.PrepareContext(context.WithoutCancel(ctx), q); err == nil {
			s.get = st
		}
	})
	var row *sql.Row
	if s.get != nil {
		row = s.get.QueryRowContext(ctx, server, kind, name)
	} else {
		row = s.db.QueryRowContext(ctx, q, server, kind, name)
	}
	p, err := scanPin(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pin store: read %s %q of %q: %w", kind, name, server, err)
	}
	return p, nil
}

// stateCols are the columns State reads: all but the stored definitions.
const stateCols = "server, kind, name, approved_hash, '', approved_by, approved_at, pending_hash, '', pending_reason, pending_at"

// State returns the pin of one item without its stored definitions (NoDefinitions is set), or nil when the
// item was never seen: what a call's checks need (state, hashes, reason), without copying definitions of
// kilobytes on every call. On SQLite, answers are cached while pins.db and its write-ahead log are
// unchanged (see cache.go): a change by another process is seen by the next call all the same. The caller
// owns the returned Pin.
func (s *Store) State(ctx context.Context, server, kind, name string) (*Pin, error) {
	if s.cache != nil {
		return s.cachedState(ctx, server, kind, name)
	}
	return s.readState(ctx, server, kind, name)
}

// stateStmt is State's query prepared once; nil when preparing failed.
func (s *Store) stateStmt(ctx context.Context) *sql.Stmt {
	s.stateOnce.Do(func() {
		if st, err := s.db.PrepareContext(context.WithoutCancel(ctx), s.db.Rebind("SELECT "+stateCols+" FROM inspect_pins WHERE server = ? AND kind = ? AND name = ?")); err == nil {
			s.state = st
		}
	})
	return s.state
}

// readState reads the state of one item from the database.
func (s *Store) readState(ctx context.Context, server, kind, name string) (*Pin, error) {
	st := s.stateStmt(ctx)
	if st == nil {
		p, err := s.Get(ctx, server, kind, name)
		if p != nil {
			p.ApprovedDef, p.PendingDef, p.NoDefinitions = "", "", true
		}
		return p, err
	}
	p, err := scanState(st.QueryRowContext(ctx, server, kind, name))
	if err != nil {
		return nil, fmt.Errorf("pin store: read %s %q of %q: %w", kind, name, server, err)
	}
	return p, nil
}

// scanState scans a row of stateCols: nil for no row.
func scanState(row *sql.Row) (*Pin, error) {
	p, err := scanPin(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.NoDefinitions = true
	return p, nil
}

// List returns the pins of server (all servers when empty), sorted by server, kind and name.
func (s *Store) List(ctx context.Context, server string) ([]Pin, error) {
	q, args := "SELECT "+cols+" FROM inspect_pins", []any{}
	if server != "" {
		q, args = q+" WHERE server = ?", append(args, server)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+" ORDER BY server, kind, name"), args...)
	if err != nil {
		return nil, fmt.Errorf("pin store: list: %w", err)
	}
	defer rows.Close()
	var out []Pin
	for rows.Next() {
		p, err := scanPin(rows)
		if err != nil {
			return nil, fmt.Errorf("pin store: list: %w", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pin store: list: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out, nil
}

// ErrNothingPending is returned by Approve for an item with no definition awaiting approval.
var ErrNothingPending = errors.New("nothing to approve")

// Approve accepts the pending definition of one item as its pin, recording who approved it. It fails with
// ErrNothingPending when the item has none and with an error naming the item when it was never seen.
// hash, when not empty, must equal the pending hash (so a definition that changed again after the
// operator reviewed it is not approved unseen).
func (s *Store) Approve(ctx context.Context, server, kind, name, hash, by string) (*Pin, error) {
	p, err := s.Get(ctx, server, kind, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("pin store: no %s %q on server %q has been seen (run `mcpwarden pins list` to see what is pinned)", kind, name, server)
	}
	if p.PendingHash == "" {
		return nil, fmt.Errorf("%s %q on server %q: %w (its current definition is already approved)", kind, name, server, ErrNothingPending)
	}
	if hash != "" && hash != p.PendingHash {
		return nil, fmt.Errorf("%s %q on server %q changed again since you reviewed it (pending %s): run `mcpwarden pins diff` again", kind, name, server, short(p.PendingHash))
	}
	s.cache.beginWrite()
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE inspect_pins SET approved_hash = pending_hash, approved_def = pending_def,
		approved_by = ?, approved_at = ?, pending_hash = '', pending_def = '', pending_reason = '', pending_at = ''
		WHERE server = ? AND kind = ? AND name = ? AND pending_hash = ?`),
		by, s.now().UTC().Format(time.RFC3339), server, kind, name, p.PendingHash)
	s.cache.endWrite()
	if err != nil {
		return nil, fmt.Errorf("pin store: approve %s %q of %q: %w", kind, name, server, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, fmt.Errorf("%s %q on server %q changed while approving: run `mcpwarden pins diff` again", kind, name, server)
	}
	return s.Get(ctx, server, kind, name)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
