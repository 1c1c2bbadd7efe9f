package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// APIKeyPrefix starts every gateway API key, so secret scanners and the gateway recognise one.
const APIKeyPrefix = "mcpw_"

// APIKey is a stored API key: its hash, never the key itself.
type APIKey struct {
	// ID is the key's public identifier (also embedded in the key), used to list and revoke it.
	ID string `json:"id"`
	// Hash is the hex SHA-256 of the whole key.
	Hash string `json:"hash"`
	// Subject and Groups are the principal the key acts as.
	Subject string   `json:"subject"`
	Groups  []string `json:"groups,omitempty"`
	// Description says what the key is for.
	Description string     `json:"description,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// Principal returns the principal the key acts as.
func (k *APIKey) Principal() *Principal {
	return &Principal{Subject: k.Subject, Groups: slices.Clone(k.Groups), AuthMethod: MethodAPIKey,
		Claims: map[string]any{"api_key_id": k.ID}}
}

// APIKeyStore keeps API keys. The file store below is the embedded default; a database store can replace
// it behind this interface.
type APIKeyStore interface {
	// Create makes a key for subject and returns the key (shown once, never stored) and its record.
	Create(ctx context.Context, subject string, groups []string, description string) (string, APIKey, error)
	// List returns every key record, revoked ones included, oldest first.
	List(ctx context.Context) ([]APIKey, error)
	// Revoke revokes the key with id; revoking a revoked key is not an error.
	Revoke(ctx context.Context, id string) error
	// Authenticate returns the principal of key, recording its use; a *TokenError when the key is
	// unknown, malformed or revoked.
	Authenticate(ctx context.Context, key string) (*Principal, error)
}

// FileAPIKeyStore keeps API keys in a JSON file (mode 0600, replaced atomically). Several processes (the
// gateway and the `apikey` CLI) may use one file: every change re-reads it under a lock file, and the
// gateway re-reads it when it changed, so a revocation takes effect on the next request.
type FileAPIKeyStore struct {
	path string
	now  func() time.Time

	mu       sync.Mutex
	keys     []APIKey
	loadedAt fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

type apiKeyFile struct {
	Version int      `json:"version"`
	Keys    []APIKey `json:"keys"`
}

// lastUsedGranularity is how stale a persisted last-used time may get before a use rewrites it.
const lastUsedGranularity = time.Minute

// NewFileAPIKeyStore opens (without creating) the key file at path.
func NewFileAPIKeyStore(path string) (*FileAPIKeyStore, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("API key file %q must be an absolute path", path)
	}
	s := &FileAPIKeyStore{path: path, now: time.Now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the key file's path.
func (s *FileAPIKeyStore) Path() string { return s.path }

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}, nil
}

// reloadLocked re-reads the file when it changed since the last read.
func (s *FileAPIKeyStore) reloadLocked() error {
	st, err := stamp(s.path)
	if err != nil {
		return fmt.Errorf("API key file %s: %w", s.path, err)
	}
	if st == s.loadedAt && (s.keys != nil || !st.ok) {
		return nil
	}
	keys, err := readKeyFile(s.path)
	if err != nil {
		return err
	}
	s.keys, s.loadedAt = keys, st
	return nil
}

func readKeyFile(path string) ([]APIKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return []APIKey{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("API key file %s: %w", path, err)
	}
	var f apiKeyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("API key file %s is corrupt (%v): restore it from a backup, or move it away and create new keys", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("API key file %s has version %d; this mcpwarden reads version 1", path, f.Version)
	}
	if f.Keys == nil {
		f.Keys = []APIKey{}
	}
	return f.Keys, nil
}

// update applies change to the file's current content under the lock file and writes the result.
func (s *FileAPIKeyStore) update(change func(keys []APIKey) ([]APIKey, error)) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("API key file %s: %w", s.path, err)
	}
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return fmt.Errorf("API key file %s: lock: %w", s.path, err)
	}
	defer unlock()
	keys, err := readKeyFile(s.path)
	if err != nil {
		return err
	}
	keys, err = change(keys)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(apiKeyFile{Version: 1, Keys: keys}, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("API key file %s: %w", s.path, err)
	}
	s.keys = keys
	s.loadedAt, _ = stamp(s.path)
	return nil
}

// WriteFileAtomic writes data to path with mode 0600 through a temporary file and a rename, so a reader
// sees the old content or the new, never a mix.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToLower(keyEncoding.EncodeToString(b)), nil
}

func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Create implements APIKeyStore.
func (s *FileAPIKeyStore) Create(_ context.Context, subject string, groups []string, description string) (string, APIKey, error) {
	if strings.TrimSpace(subject) == "" {
		return "", APIKey{}, errors.New("an API key needs a subject (the user or service it acts as)")
	}
	id, err := randomToken(8) // 13 characters
	if err != nil {
		return "", APIKey{}, err
	}
	secret, err := randomToken(32) // 256 bits
	if err != nil {
		return "", APIKey{}, err
	}
	key := APIKeyPrefix + id + "_" + secret
	rec := APIKey{ID: id, Hash: hashKey(key), Subject: subject, Groups: groups, Description: description,
		CreatedAt: s.now().UTC().Truncate(time.Second)}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.update(func(keys []APIKey) ([]APIKey, error) { return append(keys, rec), nil })
	if err != nil {
		return "", APIKey{}, err
	}
	return key, rec, nil
}

// List implements APIKeyStore.
func (s *FileAPIKeyStore) List(context.Context) ([]APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(); err != nil {
		return nil, err
	}
	return slices.Clone(s.keys), nil
}

// Revoke implements APIKeyStore.
func (s *FileAPIKeyStore) Revoke(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.update(func(keys []APIKey) ([]APIKey, error) {
		for i := range keys {
			if keys[i].ID == id {
				if keys[i].RevokedAt == nil {
					t := s.now().UTC().Truncate(time.Second)
					keys[i].RevokedAt = &t
				}
				return keys, nil
			}
		}
		return nil, fmt.Errorf("no API key with id %q (see mcpwarden apikey list)", id)
	})
}

// parseAPIKey splits a key into its id, reporting whether it has the gateway's format.
func parseAPIKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	return id, ok && len(id) == 13 && len(secret) == 52
}

// Authenticate implements APIKeyStore.
func (s *FileAPIKeyStore) Authenticate(_ context.Context, key string) (*Principal, error) {
	id, ok := parseAPIKey(key)
	if !ok {
		return nil, invalid("malformed API key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	want := hashKey(key)
	for i := range s.keys {
		k := &s.keys[i]
		if k.ID != id {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(k.Hash), []byte(want)) != 1 {
			return nil, invalid("unknown API key")
		}
		if k.RevokedAt != nil {
			return nil, invalid("the API key %s was revoked", k.ID)
		}
		now := s.now().UTC()
		if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= lastUsedGranularity {
			s.recordUseLocked(k.ID, now.Truncate(time.Second))
		}
		return k.Principal(), nil
	}
	return nil, invalid("unknown API key")
}

// recordUseLocked persists a key's last use; failing to is not worth refusing the request.
func (s *FileAPIKeyStore) recordUseLocked(id string, at time.Time) {
	_ = s.update(func(keys []APIKey) ([]APIKey, error) {
		for i := range keys {
			if keys[i].ID == id && (keys[i].LastUsedAt == nil || keys[i].LastUsedAt.Before(at)) {
				keys[i].LastUsedAt = &at
			}
		}
		return keys, nil
	})
}

var _ APIKeyStore = (*FileAPIKeyStore)(nil)
