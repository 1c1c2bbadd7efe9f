// Package session is stage ② of the data path: what the gateway knows about one client session — its id,
// protocol era and negotiated version, the client's name and capabilities — shared by every later stage.
//
// A 2025-era session lives from `initialize` until DELETE, idle expiry or disconnect. In the 2026-07-28 era
// there are no sessions: each request is its own short-lived Info with Era Modern, carrying the version and
// client capabilities from the request's _meta.
package session

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
)

// Era is the protocol generation a message belongs to.
type Era uint8

const (
	// EraUnknown: not decided yet (before initialize).
	EraUnknown Era = iota
	// EraLegacy: 2024-11-05 … 2025-11-25 (initialize handshake, sessions).
	EraLegacy
	// EraModern: 2026-07-28 and later (stateless, per-request _meta).
	EraModern
)

func (e Era) String() string {
	switch e {
	case EraLegacy:
		return "legacy"
	case EraModern:
		return "modern"
	}
	return "unknown"
}

// LegacyVersions are the protocol versions of the session-based era, oldest first.
var LegacyVersions = []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}

// IsLegacyVersion reports whether v is a version of the session-based era.
func IsLegacyVersion(v string) bool {
	for _, l := range LegacyVersions {
		if v == l {
			return true
		}
	}
	return false
}

// EraOf classifies a protocol version string ("" → EraUnknown).
func EraOf(version string) Era {
	switch {
	case version == "":
		return EraUnknown
	case IsLegacyVersion(version):
		return EraLegacy
	default:
		return EraModern
	}
}

// Transport names the client-facing transport.
type Transport string

const (
	// TransportHTTP is Streamable HTTP.
	TransportHTTP Transport = "http"
	// TransportStdio is the `wrap` front.
	TransportStdio Transport = "stdio"
)

// Info describes one client session. Fields set at creation are immutable; the mutable ones are guarded and
// read through methods.
type Info struct {
	// ID is the gateway's session id ("" for a stateless 2026 request).
	ID string
	// Transport is how the client reached the gateway.
	Transport Transport
	// Endpoint is the server name for /mcp/{name}, or "" for the aggregate endpoint /mcp.
	Endpoint string
	// Remote is the client's address (HTTP) or "stdio".
	Remote string
	// Created is when the session began.
	Created time.Time

	mu           sync.RWMutex
	era          Era
	version      string
	clientName   string
	clientVer    string
	capabilities json.RawMessage
}

// New returns an Info with a fresh random id (when withID) for the given endpoint.
func New(transport Transport, endpoint, remote string, withID bool) *Info {
	in := &Info{Transport: transport, Endpoint: endpoint, Remote: remote, Created: time.Now()}
	if withID {
		in.ID = NewID()
	}
	return in
}

// NewID returns a random session id: 32 hex characters (128 bits), visible ASCII as the spec requires.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SetInitialize records what the client said in `initialize` (2025 era) or in a request's _meta (2026 era).
func (in *Info) SetInitialize(era Era, version, clientName, clientVersion string, caps json.RawMessage) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.era, in.version, in.clientName, in.clientVer = era, version, clientName, clientVersion
	if caps != nil {
		in.capabilities = append(json.RawMessage(nil), caps...)
	}
}

// SetVersion records the negotiated protocol version (from the initialize result).
func (in *Info) SetVersion(v string) {
	in.mu.Lock()
	in.version = v
	if e := EraOf(v); e != EraUnknown {
		in.era = e
	}
	in.mu.Unlock()
}

// Era returns the session's protocol era.
func (in *Info) Era() Era { in.mu.RLock(); defer in.mu.RUnlock(); return in.era }

// Version returns the negotiated (or requested) protocol version.
func (in *Info) Version() string { in.mu.RLock(); defer in.mu.RUnlock(); return in.version }

// Client returns the client's implementation name and version as it declared them.
func (in *Info) Client() (name, version string) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.clientName, in.clientVer
}

// Capabilities returns the client's declared capabilities (raw JSON, nil when unknown).
func (in *Info) Capabilities() json.RawMessage {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.capabilities
}

// HasCapability reports whether the client declared the top-level capability name (e.g. "sampling").
func (in *Info) HasCapability(name string) bool {
	caps := in.Capabilities()
	if len(caps) == 0 {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(caps, &m) != nil {
		return false
	}
	_, ok := m[name]
	return ok
}
