package transport

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
)

// Several gateway replicas behind a load balancer serve one 2025-era session without sticky routing: the
// session id itself carries what a replica needs to take the session over (the endpoint, the owner binding
// and the client's initialize parameters), sealed with AES-256-GCM under a key every replica shares. A
// replica that receives a request for a session it does not hold opens the id, checks it, and adopts the
// session: it creates local state and lets the backend re-create its upstream sessions lazily by replaying
// the client's handshake (Adopter). Nothing is looked up per request; opening a sealed id happens once per
// replica and session.
//
// What stays per replica: open GET streams and the event history a Last-Event-ID resumption replays (a
// resumption must reach the replica that served the stream), and server→client requests in flight (their
// answers must reach the replica that asked).

// sealedPrefix starts every sealed session id (version 1 of the format).
const sealedPrefix = "w1."

// sealInfo is the HKDF info string: keys derived for anything else never open session ids.
const sealInfo = "mcpwarden session id seal v1"

// SessionSeal seals and opens session ids with a key shared by the replicas. It is safe for concurrent use.
type SessionSeal struct {
	aead cipher.AEAD
}

// NewSessionSeal derives the sealing key from secret (at least 16 bytes; a random 32-byte value is best).
// Every replica of a cluster must be given the same secret.
func NewSessionSeal(secret []byte) (*SessionSeal, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("cluster session key is %d bytes; use at least 16 (e.g. `openssl rand -base64 32`)", len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SessionSeal{aead: aead}, nil
}

// sealedSession is what a sealed session id carries.
type sealedSession struct {
	Endpoint string          `json:"e"`
	Owner    string          `json:"o,omitempty"`
	Created  int64           `json:"t"` // unix seconds
	Init     json.RawMessage `json:"i"` // the client's initialize params (protocolVersion, capabilities, clientInfo)
}

// seal returns the session id for st: "w1." + base64url(nonce ‖ ciphertext). The random nonce makes every id
// unique.
func (s *SessionSeal) seal(st sealedSession) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, plain, []byte(sealedPrefix))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// open returns what id carries; false when id is not a session id this key sealed.
func (s *SessionSeal) open(id string) (sealedSession, bool) {
	var st sealedSession
	rest, ok := strings.CutPrefix(id, sealedPrefix)
	if !ok || len(rest) > maxSealedID {
		return st, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return st, false
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(sealedPrefix))
	if err != nil || json.Unmarshal(plain, &st) != nil {
		return st, false
	}
	return st, true
}

// SessionLabel is the session id the rest of the gateway sees (session.Info.ID: audit records, grants, limits
// by session) for a sealed Mcp-Session-Id: "w1-" and 32 hex digits of its SHA-256, the same on every replica,
// instead of the ~300-character wire id.
func SessionLabel(wireID string) string {
	h := sha256.Sum256([]byte(wireID))
	return "w1-" + hex.EncodeToString(h[:16])
}

// ClusterOptions makes the front one replica of several that share their 2025-era sessions.
type ClusterOptions struct {
	// Seal seals session ids (required).
	Seal *SessionSeal
	// Revoke records, for every replica, that the client ended session id (DELETE) so that none adopts it
	// again. Nil: a DELETE ends the session on the replica that received it only.
	Revoke func(ctx context.Context, id string) error
	// Revoked reports whether session id was ended on some replica; an error refuses the adoption (fail
	// closed). Nil: nothing is revoked.
	Revoked func(ctx context.Context, id string) (bool, error)
}

// Adopter is implemented by a Backend that can serve a 2025-era session initialized on another replica. init
// is the client's initialize request as it was sealed in the session id (the handshake is over: the backend
// must not answer it, only replay it to the upstream sessions it opens).
type Adopter interface {
	Adopt(ctx context.Context, info *session.Info, sink Sink, init *jsonrpc.Message) (Session, error)
}

// sealID returns the sealed id of a new session initialized by msg on behalf of r.
func (h *endpointHandler) sealID(r *http.Request, msg *jsonrpc.Message) (string, error) {
	var p struct {
		ProtocolVersion string          `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities,omitempty"`
		ClientInfo      json.RawMessage `json:"clientInfo,omitempty"`
	}
	if err := json.Unmarshal(msg.Params, &p); err != nil {
		return "", fmt.Errorf("initialize params: %w", err)
	}
	init, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	id, err := h.front.opts.Cluster.Seal.seal(sealedSession{Endpoint: h.endpoint, Owner: h.front.owner(r), Created: time.Now().Unix(), Init: init})
	if err == nil && len(id) > maxSealedID {
		return "", fmt.Errorf("the client's capabilities and info make a session id of %d bytes, more than the %d a cluster session id may have", len(id), maxSealedID)
	}
	return id, err
}

// maxSealedID bounds a sealed session id (HTTP servers commonly accept 8 KiB of headers in all).
const maxSealedID = 6144

// errNotAdoptable is a session id no replica sealed, for another endpoint or owner, or revoked.
var errNotAdoptable = errors.New("session not found or expired; start a new session with initialize")

// openSealed checks that id is a session of this endpoint and of r's owner, sealed by the cluster.
func (h *endpointHandler) openSealed(r *http.Request, id string) (sealedSession, bool) {
	c := h.front.opts.Cluster
	if c == nil {
		return sealedSession{}, false
	}
	st, ok := c.Seal.open(id)
	if !ok || st.Endpoint != h.endpoint || st.Owner != h.front.owner(r) {
		return sealedSession{}, false
	}
	return st, true
}

// adopt creates local state for a session another replica initialized. It returns nil and an error when the
// id cannot be adopted (the error says whether it is the gateway's fault: errNotAdoptable is the client's).
func (h *endpointHandler) adopt(r *http.Request, id string) (*httpSession, error) {
	f := h.front
	st, ok := h.openSealed(r, id)
	if !ok {
		return nil, errNotAdoptable
	}
	ad, ok := h.backend.(Adopter)
	if !ok {
		return nil, errNotAdoptable
	}
	if rev := f.opts.Cluster.Revoked; rev != nil {
		gone, err := rev(r.Context(), id)
		if err != nil {
			return nil, fmt.Errorf("cannot check whether the session was ended on another replica: %w", err)
		}
		if gone {
			return nil, errNotAdoptable
		}
	}
	if n := f.SessionCount(); n >= f.opts.MaxSessions {
		return nil, fmt.Errorf("the gateway holds its maximum of %d sessions", f.opts.MaxSessions)
	}
	initReq, err := jsonrpc.NewRequest(jsonrpc.ID(`0`), "initialize", st.Init)
	if err != nil {
		return nil, errNotAdoptable
	}
	info := session.New(session.TransportHTTP, h.endpoint, r.RemoteAddr, false)
	info.ID = SessionLabel(id)
	info.Created = time.Unix(st.Created, 0)
	s := newHTTPSession(f, info)
	s.owner = st.Owner
	sess, err := ad.Adopt(r.Context(), info, s, jsonrpc.MustDecode(initReq))
	if err != nil {
		return nil, err
	}
	s.backend = sess
	f.mu.Lock()
	if f.closed || f.draining {
		f.mu.Unlock()
		sess.Close()
		return nil, errors.New("the gateway is shutting down")
	}
	if prev := f.sessions[id]; prev != nil {
		// A concurrent request adopted it first.
		f.mu.Unlock()
		s.close()
		return prev, nil
	}
	f.sessions[id] = s
	f.mu.Unlock()
	f.opts.Logger.Info("session adopted from another replica", "session", info.ID, "endpoint", h.endpoint, "created", info.Created)
	return s, nil
}

// EndSessions ends the local state of every session whose id matches (another replica ended them).
func (f *HTTPFront) EndSessions(match func(id string) bool) {
	var ended []*httpSession
	f.mu.Lock()
	for id, s := range f.sessions {
		if match(id) {
			ended = append(ended, s)
			delete(f.sessions, id)
		}
	}
	f.mu.Unlock()
	for _, s := range ended {
		s.close()
	}
}
