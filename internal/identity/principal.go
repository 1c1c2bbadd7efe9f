// Package identity is stage ③ of the data path: who a message is for. It defines the Principal every later
// stage (policy, approval, audit) reads, and how it travels in a context.
//
// Local modes (`wrap`, or a loopback gateway without authentication) use the OS user and host, marked with
// AuthMethod "local" so nobody mistakes it for an authenticated identity.
//
// On the HTTP front, Authenticator makes the gateway an OAuth 2.1 resource server (MCP authorization): its
// Middleware validates bearer tokens — JWTs against the issuer's cached JWKS (JWTValidator, JWKS), opaque
// tokens by RFC 7662 introspection (Introspector), mcpw_ API keys (APIKeyStore) — puts the Principal in the
// request context (WithPrincipal) and strips the token, so it is never forwarded; refusals are 401/403 with
// an RFC 6750 challenge naming the RFC 9728 metadata it publishes. CredentialStore keeps per-user upstream
// secrets encrypted with AES-256-GCM. UpstreamOAuth is the other direction: the gateway as each user's
// OAuth client of upstream servers (discovery, registration, consent with PKCE, tokens in the
// CredentialStore, refresh, RFC 8693 exchange). Secrets and tokens never appear in errors or logs.
package identity

import (
	"context"
	"os"
	"os/user"
	"sync"
)

// Auth methods.
const (
	// MethodLocal: no authentication; the principal is the OS user running the gateway.
	MethodLocal = "local"
	// MethodOIDC: a validated OAuth 2.1 / OIDC access token.
	MethodOIDC = "oidc"
	// MethodAPIKey: a gateway API key.
	MethodAPIKey = "api_key"
)

// Principal is the person or machine a message is for.
type Principal struct {
	// Subject is the stable user id (the token's sub, the API key's owner, or the OS user name).
	Subject string `json:"subject"`
	// Email and Name are informational.
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	// Groups are groups/roles from the token or the key's configuration.
	Groups []string `json:"groups,omitempty"`
	// AuthMethod is how the principal was established (MethodLocal, MethodOIDC, MethodAPIKey).
	AuthMethod string `json:"auth_method"`
	// Issuer is the token issuer (OIDC) or "" .
	Issuer string `json:"issuer,omitempty"`
	// Scopes granted to the token.
	Scopes []string `json:"scopes,omitempty"`
	// Host is the machine, for local principals.
	Host string `json:"host,omitempty"`
	// Claims holds extra token claims policy may match on.
	Claims map[string]any `json:"claims,omitempty"`
}

// ID returns a string that identifies the principal across auth methods, e.g. "oidc:alice@issuer".
func (p *Principal) ID() string {
	if p == nil {
		return ""
	}
	switch p.AuthMethod {
	case MethodLocal:
		return "local:" + p.Subject + "@" + p.Host
	case MethodOIDC:
		return "oidc:" + p.Subject + "@" + p.Issuer
	default:
		return p.AuthMethod + ":" + p.Subject
	}
}

var (
	localOnce sync.Once
	local     *Principal
)

// Local returns the principal of the OS user running the gateway (computed once).
func Local() *Principal {
	localOnce.Do(func() {
		name := "unknown"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		host, _ := os.Hostname()
		local = &Principal{Subject: name, Name: name, AuthMethod: MethodLocal, Host: host}
	})
	return local
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}
