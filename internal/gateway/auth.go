package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

// HTTPAuth is stage ③ on the HTTP front, built from the config's auth section: who a request is from.
// Pass Middleware and SessionOwner to Options (HTTPMiddleware, SessionOwner), and serve Wrap(g.Handler())
// so the RFC 9728 metadata documents are published next to the endpoints.
type HTTPAuth struct {
	// Middleware authenticates the MCP endpoints; nil in local mode (the principal is the OS user).
	Middleware func(http.Handler) http.Handler
	// SessionOwner binds 2025-era sessions to their principal; nil in local mode.
	SessionOwner func(*http.Request) string
	// Authenticator is the OAuth resource server, when auth is configured (nil otherwise).
	Authenticator *identity.Authenticator
	// APIKeys is the API key store, when auth is configured (nil otherwise).
	APIKeys identity.APIKeyStore
	// Credentials is the per-user credential store, when a server has credentials: (nil otherwise).
	Credentials *identity.CredentialStore
	// UpstreamHeaders injects each caller's credential into requests to servers with credentials:
	// pass it as Options.UpstreamHeaders. Nil when no server has credentials.
	UpstreamHeaders func(server string) func(ctx context.Context) (http.Header, error)
	// UpstreamEnv starts each user's own process of stdio servers with credentials: pass it as
	// Options.UpstreamEnv. Nil when no stdio server has credentials.
	UpstreamEnv func(server string) func(ctx context.Context) (map[string]string, error)
	// UpstreamOAuth is the gateway as OAuth client of the servers with oauth: (nil when none has it). Its
	// base URL defaults to auth.resource; without one, call SetBaseURL once the listen address is known.
	UpstreamOAuth *identity.UpstreamOAuth
	// UpstreamTransport refreshes refused OAuth tokens: pass it as Options.UpstreamTransport.
	UpstreamTransport func(server string, rt http.RoundTripper) http.RoundTripper
}

// Wrap returns h serving, in addition, the protected resource metadata (when auth is configured) and the
// upstream OAuth consent endpoints under /oauth/upstream/ (when a server has oauth:).
func (a *HTTPAuth) Wrap(h http.Handler) http.Handler {
	if a == nil {
		return h
	}
	if a.UpstreamOAuth != nil {
		mux := http.NewServeMux()
		mux.Handle(identity.UpstreamOAuthPath, a.oauthFront(a.UpstreamOAuth))
		mux.Handle("/", h)
		h = mux
	}
	if a.Authenticator == nil {
		return h
	}
	return a.Authenticator.Wrap(h)
}

// oauthFront identifies the user of a consent page the way the MCP endpoints do: a GET of /start without
// a ticket goes through the authentication middleware (or is the local user); ticket links, the consent
// form (bound to its cookie) and the callback (bound to its state and cookie) carry their own proof.
func (a *HTTPAuth) oauthFront(h http.Handler) http.Handler {
	authed := h
	switch {
	case a.Middleware != nil:
		authed = a.Middleware(h)
	default:
		authed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(identity.WithPrincipal(r.Context(), identity.Local())))
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Middleware == nil && !loopbackHost(r.Host) {
			// Local mode: a page served from another name (DNS rebinding) must not drive the consent.
			http.Error(w, "the consent pages of a local gateway are served on localhost only", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/start") && !r.URL.Query().Has("ticket") {
			authed.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// AnonymousSubject is the subject of requests served with auth mode none.
const AnonymousSubject = "anonymous"

// BuildHTTPAuth builds the HTTP authentication front for cfg (after any --listen override):
//   - no auth section: local mode. Allowed only on a loopback listen address; every request is the OS
//     user. On any other address it is an error, so a gateway is never exposed without authentication.
//   - auth mode none: no authentication on any address, an explicit opt-in logged as a warning; requests
//     are the principal {subject: anonymous, auth_method: none}.
//   - auth mode oauth or api_key: bearer tokens (JWT via the issuer's JWKS, opaque via introspection) and
//     mcpw_ API keys from the key file.
//
// It does no network I/O: keys are fetched on the first token.
func BuildHTTPAuth(ctx context.Context, cfg *config.Config, log *slog.Logger) (*HTTPAuth, error) {
	if log == nil {
		log = slog.Default()
	}
	ha, err := buildInboundAuth(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	ha.UpstreamHeaders, ha.Credentials, err = UpstreamCredentials(cfg)
	if err == nil {
		ha.UpstreamEnv = UpstreamEnv(cfg, ha.Credentials)
	}
	if err != nil {
		return nil, err
	}
	if err := ha.upstreamOAuth(cfg, log); err != nil {
		return nil, err
	}
	return ha, nil
}

// upstreamOAuth sets up the OAuth client of the servers with oauth: and routes their upstream headers
// through it.
func (a *HTTPAuth) upstreamOAuth(cfg *config.Config, log *slog.Logger) error {
	var servers []identity.UpstreamOAuthServer
	for _, sc := range cfg.Servers {
		o := sc.OAuth
		if o == nil {
			continue
		}
		s := identity.UpstreamOAuthServer{Name: sc.Name, URL: sc.URL, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			ClientMetadataURL: o.ClientMetadataURL, Scopes: o.Scopes, AuthorizationServer: o.AuthorizationServer, RedirectURL: o.RedirectURL, Resource: o.Resource,
			SendResource: o.SendResource == nil || *o.SendResource}
		if te := o.TokenExchange; te != nil {
			s.TokenExchange, s.ExchangeAudience, s.ExchangeScopes = true, te.Audience, te.Scopes
		}
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		return nil
	}
	store := a.Credentials
	if store == nil {
		var err error
		if store, err = OpenCredentialStore(cfg); err != nil {
			return err
		}
		a.Credentials = store
	}
	base := ""
	if cfg.Auth != nil && cfg.Auth.Resource != "" {
		base = cfg.Auth.Resource
	} else if cfg.Listen != "" {
		base = "http://" + cfg.Listen
	}
	m, err := identity.NewUpstreamOAuth(identity.UpstreamOAuthOptions{Servers: servers, Store: store, BaseURL: base, Logger: log})
	if err != nil {
		return err
	}
	a.UpstreamOAuth, a.UpstreamTransport = m, m.Transport
	credHeaders := a.UpstreamHeaders
	a.UpstreamHeaders = func(server string) func(context.Context) (http.Header, error) {
		var cred func(context.Context) (http.Header, error)
		if credHeaders != nil {
			cred = credHeaders(server)
		}
		if !m.Has(server) {
			return cred
		}
		oauth := m.Headers(server)
		if cred == nil {
			return oauth
		}
		return func(ctx context.Context) (http.Header, error) {
			h, err := oauth(ctx)
			if err != nil {
				return nil, err
			}
			more, err := cred(ctx)
			if err != nil {
				return nil, err
			}
			for k, vs := range more {
				h[k] = vs
			}
			return h, nil
		}
	}
	return nil
}

// OpenCredentialStore opens the per-user credential store of cfg: data_dir/credentials.json, sealed with
// the key in $MCPWARDEN_CREDENTIAL_KEY or else data_dir/credentials.key (created on first use).
func OpenCredentialStore(cfg *config.Config) (*identity.CredentialStore, error) {
	kr, err := identity.LoadKeyring(filepath.Join(cfg.DataDir, identity.CredentialKeyFile), os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("credential store: %w", err)
	}
	return identity.NewCredentialStore(filepath.Join(cfg.DataDir, identity.CredentialStoreFile), kr)
}

// UpstreamCredentials opens the credential store when a server of cfg has credentials: and returns the
// Options.UpstreamHeaders function that injects them (nil, nil, nil when no server has any). `serve` gets it
// through BuildHTTPAuth; `wrap` (whose principal is the local user) calls it directly.
func UpstreamCredentials(cfg *config.Config) (func(server string) func(context.Context) (http.Header, error), *identity.CredentialStore, error) {
	byServer := map[string]*config.Credentials{}
	for _, sc := range cfg.Servers {
		if sc.Credentials != nil {
			byServer[sc.Name] = sc.Credentials
		}
	}
	if len(byServer) == 0 {
		return nil, nil, nil
	}
	store, err := OpenCredentialStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	headers := func(server string) func(context.Context) (http.Header, error) {
		c := byServer[server]
		if c == nil || c.Env != "" {
			return nil
		}
		return CredentialHeaders(store, server, *c)
	}
	return headers, store, nil
}

// UpstreamEnv returns the Options.UpstreamEnv function that starts each user's own process of a stdio
// server with credentials: (their secret in credentials.env), or nil when no stdio server has credentials.
func UpstreamEnv(cfg *config.Config, store *identity.CredentialStore) func(server string) func(context.Context) (map[string]string, error) {
	byServer := map[string]config.Credentials{}
	for _, sc := range cfg.Servers {
		if sc.Credentials != nil && sc.Credentials.Env != "" {
			byServer[sc.Name] = *sc.Credentials
		}
	}
	if len(byServer) == 0 || store == nil {
		return nil
	}
	return func(server string) func(context.Context) (map[string]string, error) {
		c, ok := byServer[server]
		if !ok {
			return nil
		}
		return CredentialEnv(store, server, c)
	}
}

// CredentialEnv returns the environment function that gives a stdio server's process the credential c.Name
// of the principal whose request starts it, as variable c.Env. A caller without one is refused (unless
// c.Optional) with an error telling how to store it; errors never contain the secret.
func CredentialEnv(store *identity.CredentialStore, server string, c config.Credentials) func(context.Context) (map[string]string, error) {
	return func(ctx context.Context) (map[string]string, error) {
		secret, err := callerCredential(ctx, store, server, c)
		if err != nil || secret == nil {
			return nil, err
		}
		if strings.ContainsRune(string(secret), 0) {
			return nil, fmt.Errorf("your %q credential contains a NUL byte and cannot be passed in the environment: store it again", c.Name)
		}
		return map[string]string{c.Env: string(secret)}, nil
	}
}

// callerCredential returns the credential c.Name of the principal in ctx (the OS user when there is none):
// nil without an error when it has none and c.Optional, an error telling how to store one otherwise. Errors
// never contain the secret.
func callerCredential(ctx context.Context, store *identity.CredentialStore, server string, c config.Credentials) ([]byte, error) {
	p, ok := identity.FromContext(ctx)
	if !ok {
		p = identity.Local()
	}
	secret, found, err := store.Get(ctx, p.ID(), c.Name)
	if err != nil {
		return nil, fmt.Errorf("server %q needs your %q credential, but it could not be read: %v", server, c.Name, err)
	}
	if !found {
		if c.Optional {
			return nil, nil
		}
		return nil, fmt.Errorf("server %q needs your own %q credential and none is stored for %s: "+
			"ask an operator to run mcpwarden credentials set --config FILE --user %q %s", server, c.Name, p.ID(), p.ID(), c.Name)
	}
	return secret, nil
}

// CredentialHeaders returns the header function that sends the calling principal's credential c.Name to
// server as c.Header, formatted by c.Format. A caller without one is refused (unless c.Optional) with an
// error telling how to store it; errors never contain the secret.
func CredentialHeaders(store *identity.CredentialStore, server string, c config.Credentials) func(context.Context) (http.Header, error) {
	return func(ctx context.Context) (http.Header, error) {
		secret, err := callerCredential(ctx, store, server, c)
		if err != nil || secret == nil {
			return nil, err
		}
		if strings.ContainsFunc(string(secret), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("your %q credential contains a control character and cannot be sent in a header: store it again", c.Name)
		}
		return http.Header{http.CanonicalHeaderKey(c.Header): {strings.ReplaceAll(c.Format, "{secret}", string(secret))}}, nil
	}
}

func buildInboundAuth(ctx context.Context, cfg *config.Config, log *slog.Logger) (*HTTPAuth, error) {
	_ = ctx
	a := cfg.Auth
	if a == nil {
		if !loopbackListen(cfg.Listen) {
			return nil, fmt.Errorf("listen address %s is reachable from other machines, but no auth: section is configured: "+
				"configure auth (an OIDC issuer, or API keys: auth: {mode: api_key}; see docs/identity.md), listen on "+
				"127.0.0.1, or opt out explicitly with auth: {mode: none}", cfg.Listen)
		}
		return &HTTPAuth{}, nil
	}
	if a.Mode == config.AuthModeNone {
		log.Warn("AUTHENTICATION IS OFF (auth.mode: none): anyone who can reach this gateway can use every configured server as \"anonymous\"",
			"listen", cfg.Listen)
		anon := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p := &identity.Principal{Subject: AnonymousSubject, AuthMethod: config.AuthModeNone,
					Claims: map[string]any{"remote_addr": r.RemoteAddr}}
				next.ServeHTTP(w, r.WithContext(identity.WithPrincipal(r.Context(), p)))
			})
		}
		return &HTTPAuth{Middleware: anon}, nil
	}

	keys, err := identity.NewFileAPIKeyStore(a.APIKeysFile)
	if err != nil {
		return nil, fmt.Errorf("auth.api_keys_file: %w", err)
	}
	claims := identity.ClaimMapping{Subject: a.Claims.Subject, Email: a.Claims.Email, Name: a.Claims.Name, Groups: a.Claims.Groups}
	opts := identity.AuthOptions{
		Resource:       a.Resource,
		Audiences:      a.Audience,
		RequiredScopes: a.RequiredScopes,
		APIKeys:        keys,
		Endpoints:      serverNames(cfg),
		Logger:         log,
	}
	if a.Issuer != "" {
		opts.AuthorizationServers = []string{a.Issuer}
		jwks := identity.NewJWKS(identity.JWKSOptions{URL: a.JWKSURL, Issuer: a.Issuer, MinRefetch: a.JWKSRefetchInterval.D()})
		jv, err := identity.NewJWTValidator(identity.JWTOptions{Issuer: a.Issuer, Keys: jwks, Algorithms: a.Algorithms,
			ClockSkew: a.ClockSkew.D(), Claims: claims})
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		opts.JWT = jv
	}
	if in := a.Introspection; in != nil {
		iv, err := identity.NewIntrospector(identity.IntrospectionOptions{URL: in.URL, ClientID: in.ClientID,
			ClientSecret: in.ClientSecret, Issuer: a.Issuer, CacheTTL: in.CacheTTL.D(), Claims: claims})
		if err != nil {
			return nil, fmt.Errorf("auth.introspection: %w", err)
		}
		opts.Introspection = iv
	}
	auth, err := identity.NewAuthenticator(opts)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &HTTPAuth{Middleware: auth.Middleware, SessionOwner: identity.SessionOwner, Authenticator: auth, APIKeys: keys}, nil
}

// loopbackListen reports whether addr (host:port) only accepts connections from this machine.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// loopbackHost reports whether a Host header names this machine (localhost or a loopback address).
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return loopbackListen(net.JoinHostPort(strings.Trim(host, "[]"), "0"))
}

func serverNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		names[i] = s.Name
	}
	return names
}

// TokenPassthroughHeaders returns the header function of a server with token_passthrough: the calling
// client's own validated OAuth access token is forwarded, but only when its aud claim also names audience
// (a token issued only for the gateway is never replayed). Opaque tokens, API keys and local callers have
// no token to forward and are refused. Errors never contain the token.
func TokenPassthroughHeaders(server, audience string) func(context.Context) (http.Header, error) {
	return func(ctx context.Context) (http.Header, error) {
		tok, ok := identity.InboundToken(ctx)
		if !ok {
			return nil, fmt.Errorf("server %q accepts only the caller's own OAuth access token (token_passthrough), and this request "+
				"has none (API keys and local callers cannot use it)", server)
		}
		if !tokenHasAudience(tok, audience) {
			return nil, fmt.Errorf("server %q accepts only tokens issued for %q too (token_passthrough): ask your identity provider "+
				"for a token whose audience includes it", server, audience)
		}
		return http.Header{"Authorization": {"Bearer " + tok}}, nil
	}
}

// tokenHasAudience reports whether a JWT's aud claim (a string or a list) holds audience. The token's
// signature was checked by the authentication middleware; an opaque token has no readable claims.
func tokenHasAudience(tok, audience string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return false
	}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return one == audience
	}
	var many []string
	return json.Unmarshal(c.Aud, &many) == nil && slices.Contains(many, audience)
}
