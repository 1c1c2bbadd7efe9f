package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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

// CredentialKeyEnv holds the credential store's key (base64 of 32 random bytes) when the key is not kept
// in a file. CredentialOldKeysEnv lists previous keys (comma-separated) still needed to read records that
// were not rotated yet.
const (
	CredentialKeyEnv     = "MCPWARDEN_CREDENTIAL_KEY"
	CredentialOldKeysEnv = "MCPWARDEN_CREDENTIAL_OLD_KEYS"
	// CredentialKeyFile and CredentialStoreFile are the default file names inside data_dir.
	CredentialKeyFile   = "credentials.key"
	CredentialStoreFile = "credentials.json"
)

// Keyring holds the AES-256 keys of a credential store, by key id (a fingerprint of the key). New records
// are sealed with the current key; older keys only open records sealed before a rotation.
type Keyring struct {
	current string
	keys    map[string][]byte
	// file is where the keyring lives ("" when it came from the environment).
	file string
}

type keyringFile struct {
	Version int               `json:"version"`
	Current string            `json:"current"`
	Keys    map[string]string `json:"keys"`
}

func keyID(key []byte) string {
	h := sha256.Sum256(append([]byte("mcpwarden-credential-key:"), key...))
	return hex.EncodeToString(h[:6])
}

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != 32 {
		return nil, errors.New("a credential key must be the base64 encoding of 32 random bytes (e.g. openssl rand -base64 32)")
	}
	return k, nil
}

// LoadKeyring returns the keyring from the environment (CredentialKeyEnv, read through getenv) when set,
// else from the key file at path, which is created (mode 0600) with a new random key on first use.
func LoadKeyring(path string, getenv func(string) string) (*Keyring, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(CredentialKeyEnv); v != "" {
		k, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", CredentialKeyEnv, err)
		}
		kr := &Keyring{current: keyID(k), keys: map[string][]byte{keyID(k): k}}
		for i, old := range strings.Split(getenv(CredentialOldKeysEnv), ",") {
			if strings.TrimSpace(old) == "" {
				continue
			}
			ok, err := decodeKey(old)
			if err != nil {
				return nil, fmt.Errorf("%s item %d: %w", CredentialOldKeysEnv, i+1, err)
			}
			kr.keys[keyID(ok)] = ok
		}
		return kr, nil
	}
	kr, err := readKeyring(path)
	if errors.Is(err, os.ErrNotExist) {
		kr = &Keyring{keys: map[string][]byte{}, file: path}
		if _, err := kr.addKey(); err != nil {
			return nil, err
		}
		return kr, nil
	}
	return kr, err
}

func readKeyring(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("credential key file %s is readable by other users (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	var f keyringFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("credential key file %s is not a version 1 keyring: restore it from a backup (without it the stored credentials cannot be read)", path)
	}
	kr := &Keyring{current: f.Current, keys: map[string][]byte{}, file: path}
	for id, s := range f.Keys {
		k, err := decodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("credential key file %s, key %s: %w", path, id, err)
		}
		kr.keys[id] = k
	}
	if kr.keys[kr.current] == nil {
		return nil, fmt.Errorf("credential key file %s names current key %q, which it does not hold", path, kr.current)
	}
	return kr, nil
}

// addKey generates a key, makes it current and saves the keyring file.
func (kr *Keyring) addKey() (string, error) {
	if kr.file == "" {
		return "", fmt.Errorf("the credential key comes from %s: to rotate, set a new key there and list the old one in %s", CredentialKeyEnv, CredentialOldKeysEnv)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	id := keyID(k)
	kr.keys[id] = k
	kr.current = id
	return id, kr.save()
}

func (kr *Keyring) save() error {
	f := keyringFile{Version: 1, Current: kr.current, Keys: map[string]string{}}
	for id, k := range kr.keys {
		f.Keys[id] = base64.StdEncoding.EncodeToString(k)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kr.file), 0o700); err != nil {
		return err
	}
	if err := WriteFileAtomic(kr.file, append(data, '\n')); err != nil {
		return fmt.Errorf("credential key file %s: %w", kr.file, err)
	}
	return nil
}

// Current returns the id of the key new records are sealed with.
func (kr *Keyring) Current() string { return kr.current }

func (kr *Keyring) aead(id string) (cipher.AEAD, error) {
	k := kr.keys[id]
	if k == nil {
		return nil, fmt.Errorf("no credential key %q in the keyring (was the key file replaced, or %s changed without listing the old key in %s?)", id, CredentialKeyEnv, CredentialOldKeysEnv)
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// CredentialInfo describes a stored secret without revealing it.
type CredentialInfo struct {
	User      string    `json:"user"`
	Name      string    `json:"name"`
	KeyID     string    `json:"key_id"`
	UpdatedAt time.Time `json:"updated_at"`
}

type credentialRecord struct {
	CredentialInfo
	Nonce      string `json:"nonce"`
	Ciphertext string `json:"ciphertext"`
}

type credentialFile struct {
	Version int                `json:"version"`
	Records []credentialRecord `json:"records"`
}

// CredentialStore keeps per-user secrets (upstream tokens) encrypted with AES-256-GCM in a JSON file (mode
// 0600, replaced atomically). Each record is bound to its user and name (they are the additional
// authenticated data), so a record moved to another user's slot fails to open. Secrets are returned only
// by Get; nothing else (errors, List) contains them.
type CredentialStore struct {
	path string
	kr   *Keyring
	now  func() time.Time

	mu sync.Mutex
}

// NewCredentialStore opens the store at path (created on the first Set) with keyring kr.
func NewCredentialStore(path string, kr *Keyring) (*CredentialStore, error) {
	if kr == nil {
		return nil, errors.New("credential store: nil keyring")
	}
	return &CredentialStore{path: path, kr: kr, now: time.Now}, nil
}

func (s *CredentialStore) read() (credentialFile, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return credentialFile{Version: 1}, nil
	}
	if err != nil {
		return credentialFile{}, fmt.Errorf("credential store %s: %w", s.path, err)
	}
	var f credentialFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != 1 {
		return credentialFile{}, fmt.Errorf("credential store %s is not a version 1 store: restore it from a backup", s.path)
	}
	return f, nil
}

func (s *CredentialStore) update(change func(f *credentialFile) error) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return fmt.Errorf("credential store %s: lock: %w", s.path, err)
	}
	defer unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	if err := change(&f); err != nil {
		return err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.path, append(data, '\n'))
}

func aad(user, name string) []byte { return []byte("mcpwarden-credential\x00" + user + "\x00" + name) }

func (s *CredentialStore) seal(user, name string, secret []byte) (credentialRecord, error) {
	id := s.kr.current
	a, err := s.kr.aead(id)
	if err != nil {
		return credentialRecord{}, err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return credentialRecord{}, err
	}
	ct := a.Seal(nil, nonce, secret, aad(user, name))
	return credentialRecord{
		CredentialInfo: CredentialInfo{User: user, Name: name, KeyID: id, UpdatedAt: s.now().UTC().Truncate(time.Second)},
		Nonce:          base64.StdEncoding.EncodeToString(nonce),
		Ciphertext:     base64.StdEncoding.EncodeToString(ct),
	}, nil
}

func (s *CredentialStore) open(r credentialRecord) ([]byte, error) {
	if s.kr.keys[r.KeyID] == nil && s.kr.file != "" {
		// Another process (mcpwarden credentials rotate) may have rotated the key file.
		if nk, err := readKeyring(s.kr.file); err == nil {
			*s.kr = *nk
		}
	}
	a, err := s.kr.aead(r.KeyID)
	if err != nil {
		return nil, err
	}
	nonce, err1 := base64.StdEncoding.DecodeString(r.Nonce)
	ct, err2 := base64.StdEncoding.DecodeString(r.Ciphertext)
	if err1 != nil || err2 != nil || len(nonce) != a.NonceSize() {
		return nil, fmt.Errorf("credential %q of %s is corrupt", r.Name, r.User)
	}
	pt, err := a.Open(nil, nonce, ct, aad(r.User, r.Name))
	if err != nil {
		return nil, fmt.Errorf("credential %q of %s failed authentication (tampered, or sealed with another key)", r.Name, r.User)
	}
	return pt, nil
}

// Set stores secret as user's credential name, replacing any previous one.
func (s *CredentialStore) Set(_ context.Context, user, name string, secret []byte) error {
	if user == "" || name == "" {
		return errors.New("a credential needs a user and a name")
	}
	if len(secret) == 0 {
		return errors.New("the secret is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.seal(user, name, secret)
	if err != nil {
		return err
	}
	return s.update(func(f *credentialFile) error {
		f.Records = slices.DeleteFunc(f.Records, func(r credentialRecord) bool { return r.User == user && r.Name == name })
		f.Records = append(f.Records, rec)
		return nil
	})
}

// Get returns user's credential name; ok is false when there is none.
func (s *CredentialStore) Get(_ context.Context, user, name string) (secret []byte, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return nil, false, err
	}
	for _, r := range f.Records {
		if r.User == user && r.Name == name {
			pt, err := s.open(r)
			if err != nil {
				return nil, false, err
			}
			return pt, true, nil
		}
	}
	return nil, false, nil
}

// Delete removes user's credential name; deleting a missing one is an error naming it.
func (s *CredentialStore) Delete(_ context.Context, user, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.update(func(f *credentialFile) error {
		n := len(f.Records)
		f.Records = slices.DeleteFunc(f.Records, func(r credentialRecord) bool { return r.User == user && r.Name == name })
		if len(f.Records) == n {
			return fmt.Errorf("no credential %q stored for %s", name, user)
		}
		return nil
	})
}

// List describes the stored credentials (of user, or of everyone when user is "").
func (s *CredentialStore) List(_ context.Context, user string) ([]CredentialInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	var out []CredentialInfo
	for _, r := range f.Records {
		if user == "" || r.User == user {
			out = append(out, r.CredentialInfo)
		}
	}
	return out, nil
}

// Rotate seals every record with the current key. With newKey (file keyrings only) it first generates a
// new current key; keys no record needs any more are then dropped from the key file. It returns how many
// records were re-encrypted.
func (s *CredentialStore) Rotate(_ context.Context, newKey bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if newKey {
		if _, err := s.kr.addKey(); err != nil {
			return 0, err
		}
	}
	n := 0
	err := s.update(func(f *credentialFile) error {
		for i, r := range f.Records {
			if r.KeyID == s.kr.current {
				continue
			}
			pt, err := s.open(r)
			if err != nil {
				return err
			}
			rec, err := s.seal(r.User, r.Name, pt)
			if err != nil {
				return err
			}
			rec.UpdatedAt = r.UpdatedAt
			f.Records[i] = rec
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if s.kr.file != "" && len(s.kr.keys) > 1 {
		for id := range s.kr.keys {
			if id != s.kr.current {
				delete(s.kr.keys, id)
			}
		}
		if err := s.kr.save(); err != nil {
			return n, err
		}
	}
	return n, nil
}
