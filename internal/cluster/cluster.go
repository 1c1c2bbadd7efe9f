// Package cluster holds what several gateway replicas behind a load balancer share beyond the audit,
// approval and pin stores: the key that seals 2025-era session ids (so any replica can serve any session,
// see transport.ClusterOptions), the list of sessions a client ended (so no replica takes one over again),
// and the rate-limit counters that make policy limits global (see Counter).
//
// The shared state lives in the PostgreSQL database of audit.postgres_dsn; with the SQLite store there is
// nothing to share, and sessions are sealed but revocations stay local.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/store"
	"github.com/mcpwarden/mcpwarden/internal/transport"
)

// Migrations is the cluster schema (PostgreSQL only; versions from 8001 so that they never collide with
// the other schemas in the shared schema_migrations table).
var Migrations = []store.Migration{{
	Version: 8001,
	Name:    "cluster: ended sessions and shared rate-limit counters",
	SQLite:  nil, // nothing is shared through an embedded database
	Postgres: []string{
		`CREATE TABLE cluster_ended_sessions (id_hash TEXT PRIMARY KEY, ended_ns BIGINT NOT NULL)`,
		`CREATE INDEX cluster_ended_sessions_time ON cluster_ended_sessions (ended_ns)`,
		`CREATE TABLE cluster_rate_counters (
			key TEXT NOT NULL, window_ns BIGINT NOT NULL, expires_ns BIGINT NOT NULL, count BIGINT NOT NULL,
			PRIMARY KEY (key, window_ns))`,
		`CREATE INDEX cluster_rate_counters_expiry ON cluster_rate_counters (expires_ns)`,
	},
}, {
	Version: 8002,
	Name:    "cluster: data-flow state of sessions",
	SQLite:  nil,
	Postgres: []string{
		`CREATE TABLE cluster_flow_events (
			id BIGSERIAL PRIMARY KEY, session_hash TEXT NOT NULL, at_ns BIGINT NOT NULL,
			kind TEXT NOT NULL, value TEXT NOT NULL, event JSONB)`,
		`CREATE INDEX cluster_flow_events_session ON cluster_flow_events (session_hash, id)`,
		`CREATE INDEX cluster_flow_events_time ON cluster_flow_events (at_ns)`,
	},
}}

// notifyChannel announces ended sessions (payload: the id's hash) to every replica.
const notifyChannel = "mcpwarden_sessions"

// endedKeep is how long an ended session is remembered: longer than any session is worth adopting.
const endedKeep = 30 * 24 * time.Hour

// OpenDB opens the shared database of cfg (nil, nil when the store is not PostgreSQL).
func OpenDB(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	if cfg.Audit.Store != "postgres" {
		return nil, nil
	}
	db, err := store.Open(ctx, store.Options{Dialect: store.Postgres, DSN: cfg.Audit.PostgresDSN}, Migrations)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return db, nil
}

// SessionSecret reads the session key of cfg.Cluster (nil when there is no cluster section).
func SessionSecret(cfg *config.Config) ([]byte, error) {
	c := cfg.Cluster
	if c == nil {
		return nil, nil
	}
	if c.SessionKey != "" {
		return []byte(strings.TrimSpace(c.SessionKey)), nil
	}
	b, err := os.ReadFile(c.SessionKeyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.session_key_file: %w (create it with `openssl rand -base64 32`, the same on every replica)", err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// Sessions is the session side of a cluster: sealing, and ended sessions shared through the database.
type Sessions struct {
	opts *transport.ClusterOptions
	db   *store.DB
	own  bool // db was opened here
	log  *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

// OpenSessions returns the cluster sessions of cfg, or nil when cfg has no cluster section. With a
// PostgreSQL store, a DELETE on one replica is recorded there and announced to the others.
func OpenSessions(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Sessions, error) {
	secret, err := SessionSecret(cfg)
	if err != nil || secret == nil {
		return nil, err
	}
	seal, err := transport.NewSessionSeal(secret)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	s := &Sessions{opts: &transport.ClusterOptions{Seal: seal}, log: log}
	db, err := OpenDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if db == nil {
		log.Warn("cluster without a PostgreSQL store: a session ended (DELETE) on one replica can still be adopted by another; use audit.store: postgres")
		return s, nil
	}
	s.db, s.own = db, true
	s.opts.Revoke = s.revoke
	s.opts.Revoked = s.revoked
	return s, nil
}

// Options returns the transport's view of the cluster.
func (s *Sessions) Options() *transport.ClusterOptions { return s.opts }

// IDHash is what the database keeps of a session id.
func IDHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:16])
}

func (s *Sessions) revoke(ctx context.Context, id string) error {
	now := time.Now()
	h := IDHash(id)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO cluster_ended_sessions (id_hash, ended_ns) VALUES ($1, $2) ON CONFLICT (id_hash) DO NOTHING`,
		h, now.UnixNano()); err != nil {
		return fmt.Errorf("record the ended session in PostgreSQL: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, h); err != nil {
		s.log.Warn("cluster: could not announce an ended session; other replicas end it at their idle timeout", "err", err)
	}
	// Old entries go: a session that old has long expired wherever it lived.
	_, _ = s.db.ExecContext(ctx, `DELETE FROM cluster_ended_sessions WHERE ended_ns < $1`, now.Add(-endedKeep).UnixNano())
	return nil
}

func (s *Sessions) revoked(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cluster_ended_sessions WHERE id_hash = $1`, IDHash(id)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read ended sessions from PostgreSQL: %w", err)
	}
	return n > 0, nil
}

// Listen calls end with the hash of every session another replica ended (LISTEN/NOTIFY), until Close.
// Without a database it does nothing.
func (s *Sessions) Listen(end func(idHash string)) {
	if s == nil || s.db == nil || s.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.db.Listen(ctx, notifyChannel, nil, end, func(err error) {
			s.log.Debug("cluster: LISTEN connection lost; sessions ended elsewhere stay open here until it is back or they idle out", "err", err)
		})
	}()
}

// Close stops listening and closes the database.
func (s *Sessions) Close() error {
	if s == nil {
		return nil
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	if s.own && s.db != nil {
		return s.db.Close()
	}
	return nil
}
