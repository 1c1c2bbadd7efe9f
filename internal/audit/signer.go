package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Checkpoint seals a chain up to Seq: it states that the record at Seq has hash Hash, signed with the
// gateway's Ed25519 key. Verify uses checkpoints to detect a truncated tail and to anchor a chain whose
// older records retention removed.
type Checkpoint struct {
	// Kind is CheckpointSeal (written by the gateway as records arrive) or CheckpointRetention (written by
	// retention before it deletes the records up to Seq: only such a checkpoint may anchor a chain's start).
	Kind      string
	Chain     string
	Seq       int64
	Hash      string
	Time      time.Time
	KeyID     string
	Signature string // base64 Ed25519 signature over checkpointMessage
}

// Checkpoint kinds.
const (
	CheckpointSeal      = "seal"
	CheckpointRetention = "retention"
)

func checkpointMessage(kind, chain string, seq int64, hash string, t time.Time) []byte {
	return []byte("mcpwarden-audit-checkpoint-v1\n" + kind + "\n" + chain + "\n" + strconv.FormatInt(seq, 10) + "\n" + hash + "\n" +
		strconv.FormatInt(t.UnixNano(), 10))
}

// Signer signs checkpoints.
type Signer struct {
	key   ed25519.PrivateKey
	keyID string
}

// LoadSigner reads the signing key at path; unlike LoadOrCreateSigner it never creates one.
func LoadSigner(path string) (*Signer, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("audit: signing key %s: %w (checkpoints cannot be checked without the gateway's key; "+
			"point audit.signing_key at it)", path, err)
	}
	return LoadOrCreateSigner(path)
}

// LoadOrCreateSigner reads the Ed25519 private key (PEM "PRIVATE KEY" block holding the 32-byte seed)
// from path, creating it (mode 0600) when it does not exist.
func LoadOrCreateSigner(path string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("audit: generate signing key: %w", gerr)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("audit: create %s: %w", filepath.Dir(path), err)
		}
		data := pem.EncodeToMemory(&pem.Block{Type: "MCPWARDEN AUDIT ED25519 SEED", Bytes: priv.Seed()})
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateSigner(path) // another process created it first
		}
		if err != nil {
			return nil, fmt.Errorf("audit: create signing key %s: %w (check data_dir permissions)", path, err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: write signing key %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return newSigner(priv), nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read signing key %s: %w", path, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || len(blk.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit: %s is not an mcpwarden audit signing key (a PEM block holding a 32-byte Ed25519 seed); "+
			"restore it from backup, or point audit.signing_key at the right file", path)
	}
	return newSigner(ed25519.NewKeyFromSeed(blk.Bytes)), nil
}

func newSigner(priv ed25519.PrivateKey) *Signer {
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return &Signer{key: priv, keyID: hex.EncodeToString(sum[:8])}
}

// KeyID identifies the signer's public key.
func (s *Signer) KeyID() string { return s.keyID }

// Sign returns a signed checkpoint of the given kind.
func (s *Signer) Sign(kind, chain string, seq int64, hash string, t time.Time) Checkpoint {
	t = time.Unix(0, t.UnixNano()).UTC()
	sig := ed25519.Sign(s.key, checkpointMessage(kind, chain, seq, hash, t))
	return Checkpoint{Kind: kind, Chain: chain, Seq: seq, Hash: hash, Time: t, KeyID: s.keyID, Signature: base64.StdEncoding.EncodeToString(sig)}
}

// Check reports whether cp carries a valid signature by this signer's key.
func (s *Signer) Check(cp Checkpoint) bool {
	sig, err := base64.StdEncoding.DecodeString(cp.Signature)
	if err != nil {
		return false
	}
	return cp.KeyID == s.keyID && ed25519.Verify(s.key.Public().(ed25519.PublicKey), checkpointMessage(cp.Kind, cp.Chain, cp.Seq, cp.Hash, cp.Time), sig)
}
