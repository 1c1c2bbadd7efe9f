package identity

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// UpstreamOAuthPath is where UpstreamOAuth serves its browser endpoints: PATH{server}/start (the consent
// page) and PATH{server}/callback (the authorization server's redirect).
const UpstreamOAuthPath = "/oauth/upstream/"

// upstreamRegistrationsUser is the credential store "user" under which dynamically registered clients are
// kept (principal ids always have a method prefix such as oidc: or local:, so it cannot collide).
const upstreamRegistrationsUser = "gateway:oauth-clients"

// Lifetimes of the browser flow.
const (
	ticketTTL  = 10 * time.Minute
	consentTTL = 10 * time.Minute
	// expirySkew refreshes a token this long before it expires.
	expirySkew = 30 * time.Second
)

// UpstreamOAuthServer configures the gateway as the OAuth client of one upstream server.
type UpstreamOAuthServer struct {
	// Name is the configured server name; URL its MCP endpoint.
	Name, URL string
	// ClientID and ClientSecret identify the gateway at the authorization server; an empty ClientID means
	// dynamic client registration.
	ClientID, ClientSecret string
	// ClientMetadataURL is the gateway's client id metadata document (an https URL), used as client id
	// when the authorization server supports such documents and no ClientID is configured.
	ClientMetadataURL string
	// Scopes to request; empty: discovered.
	Scopes []string
	// AuthorizationServer overrides discovery (an issuer URL).
	AuthorizationServer string
	// RedirectURL overrides BASE/oauth/upstream/{name}/callback.
	RedirectURL string
	// Resource is the RFC 8707 resource indicator (default URL), sent when SendResource.
	Resource     string
	SendResource bool
	// TokenExchange obtains tokens by RFC 8693 exchange of the caller's inbound access token.
	TokenExchange    bool
	ExchangeAudience string
	ExchangeScopes   []string
}

// UpstreamOAuthOptions configures NewUpstreamOAuth.
type UpstreamOAuthOptions struct {
	Servers []UpstreamOAuthServer
	// Store keeps the users' tokens and the registered clients, encrypted.
	Store *CredentialStore
	// HTTPClient reaches authorization servers and upstream servers for discovery (redirects are never
	// followed). Nil: a client with a 30s timeout.
	HTTPClient *http.Client
	// BaseURL is the gateway's public base URL (consent links, default redirect URLs); SetBaseURL can set
	// it later (after listening).
	BaseURL string
	Logger  *slog.Logger
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// UpstreamOAuth makes the gateway an OAuth 2.1 client of upstream MCP servers on behalf of each user
// (MCP authorization, client side). A user without a token for a server gets an error carrying a consent
// link; the consent page (served by ServeHTTP) shows who is connecting what, is CSRF-protected and cannot
// be framed, and starts an authorization code flow with PKCE (S256) and the RFC 8707 resource; the
// callback stores the tokens encrypted in the credential store under the user's principal id. Headers
// then sends each user's own access token, refreshing it before it expires; Transport refreshes and
// retries once when the server answers 401. Tokens never appear in errors, logs or pages.
type UpstreamOAuth struct {
	store *CredentialStore
	hc    *http.Client
	log   *slog.Logger
	now   func() time.Time
	key   []byte // signs consent tickets

	servers map[string]*oauthServer

	mu        sync.Mutex
	base      string
	sessions  map[string]*consentSession // by cookie value
	flows     map[string]*pendingFlow    // by state
	used      map[string]time.Time       // consumed ticket nonces, until they expire
	owners    map[[32]byte]tokenOwner    // sha256(access token) → whose
	locks     map[string]*sync.Mutex     // per user+server refresh
	exchanged map[[32]byte]cachedToken   // sha256(server, inbound token) → exchanged token
	stepUp    map[string][]string        // user+server → scopes a server asked for (403 insufficient_scope)
}

type oauthServer struct {
	UpstreamOAuthServer
	mu   sync.Mutex
	disc *upstreamDiscovery
}

type consentSession struct {
	user, display, server, csrf string
	expires                     time.Time
}

type pendingFlow struct {
	session, user, server, verifier, redirect string
	issuer, tokenEndpoint, resource           string
	reg                                       clientRegistration
	issParam                                  bool
	expires                                   time.Time
}

type tokenOwner struct{ user, server string }

type cachedToken struct {
	token   string
	expires time.Time
}

// storedToken is what the credential store keeps for a user and server.
type storedToken struct {
	AccessToken   string    `json:"access_token"`
	RefreshToken  string    `json:"refresh_token,omitempty"`
	Expiry        time.Time `json:"expiry,omitzero"`
	Scope         string    `json:"scope,omitempty"`
	Issuer        string    `json:"issuer"`
	TokenEndpoint string    `json:"token_endpoint"`
	ClientID      string    `json:"client_id"`
	Resource      string    `json:"resource,omitempty"`
}

// NewUpstreamOAuth returns the OAuth client for opts.Servers.
func NewUpstreamOAuth(opts UpstreamOAuthOptions) (*UpstreamOAuth, error) {
	if opts.Store == nil {
		return nil, errors.New("upstream oauth: no credential store")
	}
	m := &UpstreamOAuth{store: opts.Store, hc: noRedirects(opts.HTTPClient), log: opts.Logger, now: opts.Now,
		key: []byte(randomString(32)), servers: map[string]*oauthServer{}, base: strings.TrimSuffix(opts.BaseURL, "/"),
		sessions: map[string]*consentSession{}, flows: map[string]*pendingFlow{}, used: map[string]time.Time{},
		owners: map[[32]byte]tokenOwner{}, locks: map[string]*sync.Mutex{}, exchanged: map[[32]byte]cachedToken{},
		stepUp: map[string][]string{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	for _, s := range opts.Servers {
		if s.Resource == "" {
			s.Resource = s.URL
		}
		m.servers[s.Name] = &oauthServer{UpstreamOAuthServer: s}
	}
	return m, nil
}

// SetClock replaces the clock that decides token expiry (tests move it forward instead of sleeping).
func (m *UpstreamOAuth) SetClock(now func() time.Time) { m.now = now }

// SetBaseURL sets the gateway's public base URL (scheme://host:port).
func (m *UpstreamOAuth) SetBaseURL(base string) {
	m.mu.Lock()
	m.base = strings.TrimSuffix(base, "/")
	m.mu.Unlock()
}

func (m *UpstreamOAuth) baseURL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.base
}

// Has reports whether server is configured for OAuth.
func (m *UpstreamOAuth) Has(server string) bool { return m != nil && m.servers[server] != nil }

func tokenName(server string) string { return "oauth:" + server }

func (m *UpstreamOAuth) redirectURL(s *oauthServer) string {
	if s.RedirectURL != "" {
		return s.RedirectURL
	}
	return m.baseURL() + UpstreamOAuthPath + url.PathEscape(s.Name) + "/callback"
}

// AuthorizationRequiredError is the error of a call whose user has no usable token for a server: it
// carries the consent link to open. It contains no secret beyond the single-use, short-lived ticket.
type AuthorizationRequiredError struct {
	Server, User, URL, Reason string
}

func (e *AuthorizationRequiredError) Error() string {
	return fmt.Sprintf("server %q needs your authorization (%s): open %s in a browser to connect your account as %s, then retry",
		e.Server, e.Reason, e.URL, e.User)
}

func (m *UpstreamOAuth) needAuthorization(s *oauthServer, user, reason string) error {
	return &AuthorizationRequiredError{Server: s.Name, User: user, URL: m.ConsentURL(s.Name, user), Reason: reason}
}

// ConsentURL returns the consent link for user and server: BASE/oauth/upstream/{server}/start with a
// signed single-use ticket naming user, valid for 10 minutes.
func (m *UpstreamOAuth) ConsentURL(server, user string) string {
	t := ticket{User: user, Server: server, Expires: m.now().Add(ticketTTL).Unix(), Nonce: randomString(12)}
	raw, _ := json.Marshal(t)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return m.baseURL() + UpstreamOAuthPath + url.PathEscape(server) + "/start?ticket=" + payload + "." + m.sign(payload)
}

type ticket struct {
	User    string `json:"u"`
	Server  string `json:"s"`
	Expires int64  `json:"e"`
	Nonce   string `json:"n"`
}

func (m *UpstreamOAuth) sign(payload string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte("mcpwarden-consent-ticket\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// redeemTicket checks a ticket for server and marks it used.
func (m *UpstreamOAuth) redeemTicket(raw, server string) (string, error) {
	payload, sig, ok := strings.Cut(raw, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(m.sign(payload))) {
		return "", errors.New("the link is not valid (it was altered, or the gateway restarted since it was issued): retry the call to get a new one")
	}
	data, _ := base64.RawURLEncoding.DecodeString(payload)
	var t ticket
	if err := json.Unmarshal(data, &t); err != nil || t.Server != server {
		return "", errors.New("the link is not valid for this server: retry the call to get a new one")
	}
	now := m.now()
	if now.Unix() > t.Expires {
		return "", errors.New("the link expired: retry the call to get a new one")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for n, exp := range m.used {
		if now.After(exp) {
			delete(m.used, n)
		}
	}
	if _, dup := m.used[t.Nonce]; dup {
		return "", errors.New("the link was already used: retry the call to get a new one")
	}
	m.used[t.Nonce] = time.Unix(t.Expires, 0)
	return t.User, nil
}

// Headers returns the header function for server (nil when it has no OAuth): the calling principal's
// access token as Authorization: Bearer, refreshed when it expires. A principal without one gets an
// *AuthorizationRequiredError.
func (m *UpstreamOAuth) Headers(server string) func(context.Context) (http.Header, error) {
	s := m.servers[server]
	if s == nil {
		return nil
	}
	return func(ctx context.Context) (http.Header, error) {
		p, ok := FromContext(ctx)
		if !ok {
			p = Local()
		}
		var tok string
		var err error
		if s.TokenExchange {
			tok, err = m.exchange(ctx, s, p)
		} else {
			tok, err = m.accessToken(ctx, s, p.ID())
		}
		if err != nil {
			return nil, err
		}
		m.remember(tok, p.ID(), s.Name)
		return http.Header{"Authorization": {"Bearer " + tok}}, nil
	}
}

func tokenHash(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// maxOwners bounds the remembered token owners.
const maxOwners = 4096

func (m *UpstreamOAuth) remember(tok, user, server string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.owners) >= maxOwners {
		clear(m.owners)
	}
	m.owners[tokenHash(tok)] = tokenOwner{user: user, server: server}
}

func (m *UpstreamOAuth) owner(tok string) (tokenOwner, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.owners[tokenHash(tok)]
	return o, ok
}

func (m *UpstreamOAuth) lock(user, server string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := user + "\x00" + server
	l := m.locks[k]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[k] = l
	}
	return l
}

func (m *UpstreamOAuth) load(ctx context.Context, s *oauthServer, user string) (*storedToken, error) {
	raw, found, err := m.store.Get(ctx, user, tokenName(s.Name))
	if err != nil {
		return nil, fmt.Errorf("server %q: your stored authorization could not be read: %v", s.Name, err)
	}
	if !found {
		return nil, nil
	}
	var st storedToken
	if err := json.Unmarshal(raw, &st); err != nil || st.AccessToken == "" {
		return nil, nil
	}
	return &st, nil
}

func (m *UpstreamOAuth) save(ctx context.Context, s *oauthServer, user string, st *storedToken) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return m.store.Set(ctx, user, tokenName(s.Name), raw)
}

// accessToken returns user's valid access token for s, refreshing an expired one.
func (m *UpstreamOAuth) accessToken(ctx context.Context, s *oauthServer, user string) (string, error) {
	st, err := m.load(ctx, s, user)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", m.needAuthorization(s, user, "you have not connected your account yet")
	}
	if st.Expiry.IsZero() || m.now().Add(expirySkew).Before(st.Expiry) {
		return st.AccessToken, nil
	}
	return m.refresh(ctx, s, user, st.AccessToken)
}

// refresh replaces user's access token stale (expired, or refused by the server) using the refresh
// token. When another call refreshed it meanwhile, that token is returned. When there is no refresh
// token or the authorization server refuses it, the stored authorization is removed and the user is
// asked to consent again.
func (m *UpstreamOAuth) refresh(ctx context.Context, s *oauthServer, user, stale string) (string, error) {
	l := m.lock(user, s.Name)
	l.Lock()
	defer l.Unlock()
	st, err := m.load(ctx, s, user)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", m.needAuthorization(s, user, "you have not connected your account yet")
	}
	if st.AccessToken != stale {
		return st.AccessToken, nil
	}
	if st.RefreshToken == "" {
		m.forget(ctx, s, user)
		return "", m.needAuthorization(s, user, "your authorization expired and cannot be renewed without you")
	}
	reg, err := m.client(ctx, s, st.Issuer, st.ClientID)
	if err != nil {
		return "", fmt.Errorf("server %q: renewing your authorization: %w", s.Name, err)
	}
	form := url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {st.RefreshToken}}
	if s.SendResource && st.Resource != "" {
		form.Set("resource", st.Resource)
	}
	tr, err := tokenRequest(ctx, m.hc, st.TokenEndpoint, *reg, form)
	if err != nil {
		var te *TokenEndpointError
		if errors.As(err, &te) && te.Status >= 400 && te.Status < 500 {
			m.log.Info("upstream oauth: refresh refused; the user must authorize again", "server", s.Name, "user", user, "error", err)
			m.forget(ctx, s, user)
			return "", m.needAuthorization(s, user, "your authorization expired and renewing it was refused")
		}
		return "", fmt.Errorf("server %q: renewing your authorization failed: %w", s.Name, err)
	}
	next := *st
	next.AccessToken, next.Expiry = tr.AccessToken, m.expiry(tr.ExpiresIn)
	if tr.RefreshToken != "" {
		next.RefreshToken = tr.RefreshToken
	}
	if tr.Scope != "" {
		next.Scope = tr.Scope
	}
	if err := m.save(ctx, s, user, &next); err != nil {
		return "", fmt.Errorf("server %q: storing your renewed authorization: %v", s.Name, err)
	}
	m.log.Info("upstream oauth: token refreshed", "server", s.Name, "user", user)
	return next.AccessToken, nil
}

// forget removes user's authorization for s, and the cached discovery of s: the server may have moved to
// another authorization server, which the next consent then finds.
func (m *UpstreamOAuth) forget(ctx context.Context, s *oauthServer, user string) {
	_ = m.store.Delete(ctx, user, tokenName(s.Name))
	s.mu.Lock()
	s.disc = nil
	s.mu.Unlock()
}

func (m *UpstreamOAuth) expiry(expiresIn int64) time.Time {
	if expiresIn <= 0 {
		return time.Time{}
	}
	return m.now().Add(time.Duration(expiresIn) * time.Second)
}

// discover returns (and caches) the authorization server of s.
func (m *UpstreamOAuth) discover(ctx context.Context, s *oauthServer) (*upstreamDiscovery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disc != nil {
		return s.disc, nil
	}
	d, err := discoverUpstream(ctx, m.hc, s.URL, s.Resource, s.AuthorizationServer)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", s.Name, err)
	}
	s.disc = d
	return d, nil
}

// client returns the gateway's client at issuer: the configured one, or the registration stored for it
// (clientID, when given, must match).
func (m *UpstreamOAuth) client(ctx context.Context, s *oauthServer, issuer, clientID string) (*clientRegistration, error) {
	if s.ClientID != "" {
		var supported []string
		s.mu.Lock()
		if s.disc != nil && s.disc.AS != nil {
			supported = s.disc.AS.TokenEndpointAuthMethodsSupported
		}
		s.mu.Unlock()
		return &clientRegistration{ClientID: s.ClientID, ClientSecret: s.ClientSecret,
			AuthMethod: chooseAuthMethod(s.ClientSecret, supported)}, nil
	}
	if clientID != "" && clientID == s.ClientMetadataURL {
		return &clientRegistration{ClientID: clientID, AuthMethod: "none"}, nil
	}
	raw, found, err := m.store.Get(ctx, upstreamRegistrationsUser, s.Name+" "+issuer)
	if err != nil {
		return nil, fmt.Errorf("reading the client registration: %v", err)
	}
	var reg clientRegistration
	if !found || json.Unmarshal(raw, &reg) != nil || (clientID != "" && reg.ClientID != clientID) {
		return nil, fmt.Errorf("the gateway's registration at %s is gone", issuer)
	}
	return &reg, nil
}

// registration returns the client to use with the discovered authorization server, registering one
// (RFC 7591) the first time when no client_id is configured.
func (m *UpstreamOAuth) registration(ctx context.Context, s *oauthServer, d *upstreamDiscovery) (*clientRegistration, error) {
	if s.ClientID == "" && s.ClientMetadataURL != "" && d.AS.ClientIDMetadataDocumentSupported {
		return &clientRegistration{ClientID: s.ClientMetadataURL, AuthMethod: "none"}, nil
	}
	if reg, err := m.client(ctx, s, d.AS.Issuer, ""); err == nil {
		return reg, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reg, err := registerClient(ctx, m.hc, d.AS, m.redirectURL(s), m.scopes(s, d))
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", s.Name, err)
	}
	raw, _ := json.Marshal(reg)
	if err := m.store.Set(ctx, upstreamRegistrationsUser, s.Name+" "+d.AS.Issuer, raw); err != nil {
		return nil, fmt.Errorf("server %q: storing the client registration: %v", s.Name, err)
	}
	m.log.Info("upstream oauth: registered the gateway as a client", "server", s.Name, "issuer", d.AS.Issuer, "client_id", reg.ClientID)
	return reg, nil
}

// userScopes are the scopes to request for user: the configured or discovered ones, plus those of the
// user's current grant and those a server asked for with 403 insufficient_scope (step-up keeps what
// was granted before).
func (m *UpstreamOAuth) userScopes(ctx context.Context, s *oauthServer, d *upstreamDiscovery, user string) []string {
	out := append([]string(nil), m.scopes(s, d)...)
	add := func(more []string) {
		for _, sc := range more {
			if sc != "" && !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	if st, err := m.load(ctx, s, user); err == nil && st != nil {
		add(strings.Fields(st.Scope))
	}
	m.mu.Lock()
	add(m.stepUp[user+"\x00"+s.Name])
	m.mu.Unlock()
	return out
}

// resource is the RFC 8707 resource indicator to send: the configured one, except that with the default
// (the server's url) the protected resource metadata's resource is sent exactly as published.
func (m *UpstreamOAuth) resource(s *oauthServer, d *upstreamDiscovery) string {
	if s.Resource == s.URL && d.PRMResource != "" {
		return d.PRMResource
	}
	return s.Resource
}

func (m *UpstreamOAuth) scopes(s *oauthServer, d *upstreamDiscovery) []string {
	if len(s.Scopes) > 0 {
		return s.Scopes
	}
	return d.Scopes
}

// exchange returns an upstream token for the caller's inbound access token (RFC 8693), cached until it
// expires.
func (m *UpstreamOAuth) exchange(ctx context.Context, s *oauthServer, p *Principal) (string, error) {
	in, ok := InboundToken(ctx)
	if !ok {
		return "", fmt.Errorf("server %q obtains tokens by token exchange, which needs you to be signed in with an OAuth access token (not an API key or local identity)", s.Name)
	}
	key := sha256.Sum256([]byte(s.Name + "\x00" + in))
	m.mu.Lock()
	c, hit := m.exchanged[key]
	m.mu.Unlock()
	if hit && m.now().Add(expirySkew).Before(c.expires) {
		return c.token, nil
	}
	d, err := m.discover(ctx, s)
	if err != nil {
		return "", err
	}
	reg, err := m.registration(ctx, s, d)
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {grantTokenExchange}, "subject_token": {in},
		"subject_token_type": {tokenTypeAccessToken}, "requested_token_type": {tokenTypeAccessToken}}
	if s.SendResource {
		form.Set("resource", m.resource(s, d))
	}
	if s.ExchangeAudience != "" {
		form.Set("audience", s.ExchangeAudience)
	}
	sc := s.ExchangeScopes
	if len(sc) == 0 {
		sc = m.scopes(s, d)
	}
	if len(sc) > 0 {
		form.Set("scope", strings.Join(sc, " "))
	}
	tr, err := tokenRequest(ctx, m.hc, d.AS.TokenEndpoint, *reg, form)
	if err != nil {
		return "", fmt.Errorf("server %q: exchanging your token at %s failed: %w", s.Name, d.AS.Issuer, err)
	}
	exp := m.expiry(tr.ExpiresIn)
	if exp.IsZero() {
		exp = m.now().Add(5 * time.Minute)
	}
	m.mu.Lock()
	if len(m.exchanged) >= maxOwners {
		clear(m.exchanged)
	}
	m.exchanged[key] = cachedToken{token: tr.AccessToken, expires: exp}
	m.mu.Unlock()
	m.log.Info("upstream oauth: token exchanged", "server", s.Name, "user", p.ID())
	return tr.AccessToken, nil
}

// Transport wraps base (nil: http.DefaultTransport) for server, or returns nil when server has no OAuth
// client: when the server answers 401 to a request
// that carried a user's token, the token is refreshed and the request sent once more; when it cannot
// be, the answer becomes a JSON-RPC error asking the user to authorize again (with the consent link).
func (m *UpstreamOAuth) Transport(server string, base http.RoundTripper) http.RoundTripper {
	s := m.servers[server]
	if s == nil {
		return nil
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &refreshingTransport{m: m, s: s, base: base}
}

type refreshingTransport struct {
	m    *UpstreamOAuth
	s    *oauthServer
	base http.RoundTripper
}

func (t *refreshingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) {
		return resp, err
	}
	scheme, tok, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return resp, nil
	}
	o, ok := t.m.owner(tok)
	if !ok || o.server != t.s.Name {
		return resp, nil
	}
	var scope string
	if resp.StatusCode == http.StatusForbidden {
		cs, _ := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
		if challengeParam(cs, "error") != "insufficient_scope" || t.s.TokenExchange {
			return resp, nil
		}
		scope = challengeParam(cs, "scope")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusForbidden {
		// Step-up: the user must consent to more scope.
		k := o.user + "\x00" + t.s.Name
		t.m.mu.Lock()
		for _, sc := range strings.Fields(scope) {
			if !slices.Contains(t.m.stepUp[k], sc) {
				t.m.stepUp[k] = append(t.m.stepUp[k], sc)
			}
		}
		t.m.mu.Unlock()
		reason := "the server needs more permissions"
		if scope != "" {
			reason += " (scope " + printable(scope, 200) + ")"
		}
		return authErrorResponse(req, t.m.needAuthorization(t.s, o.user, reason)), nil
	}
	var fresh string
	if t.s.TokenExchange {
		t.m.mu.Lock()
		for k, c := range t.m.exchanged {
			if c.token == tok {
				delete(t.m.exchanged, k)
			}
		}
		t.m.mu.Unlock()
		return authErrorResponse(req, fmt.Errorf("server %q refused the token obtained by exchanging yours (HTTP 401): retry, or sign in again", t.s.Name)), nil
	}
	fresh, err = t.m.refresh(req.Context(), t.s, o.user, tok)
	if err != nil {
		return authErrorResponse(req, err), nil
	}
	if req.Body != nil && req.GetBody == nil {
		return authErrorResponse(req, fmt.Errorf("server %q refused your token; it was renewed: retry the call", t.s.Name)), nil
	}
	r2 := req.Clone(req.Context())
	if req.GetBody != nil {
		if r2.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	r2.Header.Set("Authorization", "Bearer "+fresh)
	t.m.remember(fresh, o.user, t.s.Name)
	resp, err = t.base.RoundTrip(r2)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	_ = resp.Body.Close()
	t.m.forget(req.Context(), t.s, o.user)
	return authErrorResponse(req, t.m.needAuthorization(t.s, o.user, "the server refused your renewed token")), nil
}

// authErrorResponse is a 401 whose body is a JSON-RPC error carrying err's message (and the consent link
// as data.authorizationUrl): the upstream connection relays it to the caller as the request's answer.
func authErrorResponse(req *http.Request, err error) *http.Response {
	data := map[string]any{}
	var ae *AuthorizationRequiredError
	if errors.As(err, &ae) {
		data["authorizationUrl"] = ae.URL
		data["server"] = ae.Server
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": -32080, "message": err.Error(), "data": data}})
	return &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}
}

type inboundTokenKey struct{}

// withInboundToken keeps the caller's validated access token in ctx, for RFC 8693 token exchange only.
func withInboundToken(ctx context.Context, tok string) context.Context {
	return context.WithValue(ctx, inboundTokenKey{}, tok)
}

// InboundToken returns the caller's validated OAuth access token (never an API key). It exists for
// RFC 8693 token exchange: the token itself is never forwarded upstream.
func InboundToken(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(inboundTokenKey{}).(string)
	return t, ok && t != ""
}

// ServeHTTP serves the browser endpoints under UpstreamOAuthPath:
//
//	GET  {server}/start?ticket=T   the consent page for the user the ticket names (or, without a
//	                               ticket, for the request's principal)
//	POST {server}/start            the user's decision (CSRF token bound to the consent cookie); allow
//	                               redirects to the authorization server
//	GET  {server}/callback         the authorization server's redirect: state and cookie checked, code
//	                               exchanged with the PKCE verifier, tokens stored
func (m *UpstreamOAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	rest := strings.TrimPrefix(r.URL.Path, UpstreamOAuthPath)
	if rest == ClientMetadataDocument && r.Method == http.MethodGet {
		m.clientMetadata(w)
		return
	}
	name, action, ok := strings.Cut(rest, "/")
	s := m.servers[name]
	if !ok || s == nil || s.TokenExchange {
		m.page(w, http.StatusNotFound, "Unknown server", "No server named "+name+" uses OAuth authorization on this gateway.", nil)
		return
	}
	switch {
	case action == "start" && r.Method == http.MethodGet:
		m.startPage(w, r, s)
	case action == "start" && r.Method == http.MethodPost:
		m.decide(w, r, s)
	case action == "callback" && r.Method == http.MethodGet:
		m.callback(w, r, s)
	default:
		w.Header().Set("Allow", "GET, POST")
		m.page(w, http.StatusMethodNotAllowed, "Method not allowed", "", nil)
	}
}

func (m *UpstreamOAuth) cookieName() string {
	if strings.HasPrefix(m.baseURL(), "https://") {
		return "__Host-mcpwarden-oauth"
	}
	return "mcpwarden-oauth"
}

func (m *UpstreamOAuth) sessionOf(r *http.Request) (string, *consentSession) {
	c, err := r.Cookie(m.cookieName())
	if err != nil || c.Value == "" {
		return "", nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := m.sessions[c.Value]
	if cs == nil || m.now().After(cs.expires) {
		delete(m.sessions, c.Value)
		return "", nil
	}
	return c.Value, cs
}

func (m *UpstreamOAuth) startPage(w http.ResponseWriter, r *http.Request, s *oauthServer) {
	var user, display string
	if t := r.URL.Query().Get("ticket"); t != "" {
		u, err := m.redeemTicket(t, s.Name)
		if err != nil {
			m.page(w, http.StatusForbidden, "Link not valid", err.Error(), nil)
			return
		}
		user, display = u, u
	} else if p, ok := FromContext(r.Context()); ok {
		user, display = p.ID(), p.ID()
		if p.Email != "" {
			display += " (" + p.Email + ")"
		}
	} else {
		m.page(w, http.StatusUnauthorized, "Not signed in", "Open the link from the error message your MCP client showed: it identifies you.", nil)
		return
	}
	d, err := m.discover(r.Context(), s)
	if err != nil {
		m.log.Warn("upstream oauth: discovery failed", "server", s.Name, "error", err)
		m.page(w, http.StatusBadGateway, "Authorization server not found", err.Error(), nil)
		return
	}
	reg, err := m.registration(r.Context(), s, d)
	if err != nil {
		m.log.Warn("upstream oauth: client registration failed", "server", s.Name, "error", err)
		m.page(w, http.StatusBadGateway, "Cannot register with the authorization server", err.Error(), nil)
		return
	}
	sid, csrf := randomString(32), randomString(32)
	now := m.now()
	m.mu.Lock()
	for k, cs := range m.sessions {
		if now.After(cs.expires) {
			delete(m.sessions, k)
		}
	}
	m.sessions[sid] = &consentSession{user: user, display: display, server: s.Name, csrf: csrf, expires: now.Add(consentTTL)}
	m.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: m.cookieName(), Value: sid, Path: "/", HttpOnly: true,
		Secure: strings.HasPrefix(m.baseURL(), "https://"), SameSite: http.SameSiteLaxMode, MaxAge: int(consentTTL / time.Second)})
	m.page(w, http.StatusOK, "Connect "+s.Name, "", &consentView{
		User: display, Server: s.Name, ServerURL: s.URL, Issuer: d.AS.Issuer, ClientID: reg.ClientID,
		Scopes: strings.Join(m.userScopes(r.Context(), s, d, user), " "), Redirect: m.redirectURL(s), CSRF: csrf,
		Action: UpstreamOAuthPath + url.PathEscape(s.Name) + "/start"})
}

func (m *UpstreamOAuth) decide(w http.ResponseWriter, r *http.Request, s *oauthServer) {
	sid, cs := m.sessionOf(r)
	if cs == nil || cs.server != s.Name {
		m.page(w, http.StatusForbidden, "Consent session missing", "Your consent session expired or cookies are blocked: open the link from the error message again.", nil)
		return
	}
	if err := r.ParseForm(); err != nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(cs.csrf)) != 1 {
		m.page(w, http.StatusForbidden, "Request refused", "The form did not come from this consent page (CSRF check failed).", nil)
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		m.mu.Lock()
		delete(m.sessions, sid)
		m.mu.Unlock()
		m.page(w, http.StatusOK, "Cancelled", "Nothing was connected.", nil)
		return
	}
	d, err := m.discover(r.Context(), s)
	if err != nil {
		m.page(w, http.StatusBadGateway, "Authorization server not found", err.Error(), nil)
		return
	}
	reg, err := m.registration(r.Context(), s, d)
	if err != nil {
		m.page(w, http.StatusBadGateway, "Cannot register with the authorization server", err.Error(), nil)
		return
	}
	verifier, state := randomString(32), randomString(32)
	f := &pendingFlow{session: sid, user: cs.user, server: s.Name, verifier: verifier, redirect: m.redirectURL(s),
		issuer: d.AS.Issuer, tokenEndpoint: d.AS.TokenEndpoint, resource: m.resource(s, d), reg: *reg,
		issParam: d.AS.AuthorizationResponseIssParameterSupported, expires: m.now().Add(consentTTL)}
	q := url.Values{"response_type": {"code"}, "client_id": {reg.ClientID}, "redirect_uri": {f.redirect},
		"state": {state}, "code_challenge": {pkceChallenge(verifier)}, "code_challenge_method": {"S256"}}
	if sc := m.userScopes(r.Context(), s, d, cs.user); len(sc) > 0 {
		q.Set("scope", strings.Join(sc, " "))
	}
	if s.SendResource {
		q.Set("resource", f.resource)
	}
	m.mu.Lock()
	for k, pf := range m.flows {
		if m.now().After(pf.expires) {
			delete(m.flows, k)
		}
	}
	m.flows[state] = f
	m.mu.Unlock()
	target := d.AS.AuthorizationEndpoint
	if strings.Contains(target, "?") {
		target += "&" + q.Encode()
	} else {
		target += "?" + q.Encode()
	}
	m.log.Info("upstream oauth: consent given; redirecting to the authorization server", "server", s.Name, "user", cs.user, "issuer", d.AS.Issuer)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (m *UpstreamOAuth) callback(w http.ResponseWriter, r *http.Request, s *oauthServer) {
	q := r.URL.Query()
	state := q.Get("state")
	m.mu.Lock()
	f := m.flows[state]
	if f != nil {
		delete(m.flows, state) // single use, whatever happens next
	}
	m.mu.Unlock()
	if state == "" || f == nil || m.now().After(f.expires) || f.server != s.Name {
		m.log.Warn("upstream oauth: callback with an unknown or expired state refused", "server", s.Name, "remote", r.RemoteAddr)
		m.page(w, http.StatusBadRequest, "Authorization refused", "This authorization response does not belong to a consent given here (unknown or expired state). Start again from the link in the error message.", nil)
		return
	}
	sid, _ := m.sessionOf(r)
	if subtle.ConstantTimeCompare([]byte(sid), []byte(f.session)) != 1 {
		m.log.Warn("upstream oauth: callback from another browser session refused", "server", s.Name, "user", f.user)
		m.page(w, http.StatusBadRequest, "Authorization refused", "This authorization was started in another browser session.", nil)
		return
	}
	if iss := q.Get("iss"); iss != "" || f.issParam {
		if iss != f.issuer {
			m.page(w, http.StatusBadRequest, "Authorization refused", "The response names another authorization server (RFC 9207 iss mismatch).", nil)
			return
		}
	}
	if e := q.Get("error"); e != "" {
		m.page(w, http.StatusBadRequest, "Authorization not granted", "The authorization server answered "+printable(e, 64)+": "+printable(q.Get("error_description"), 200), nil)
		return
	}
	code := q.Get("code")
	if code == "" {
		m.page(w, http.StatusBadRequest, "Authorization refused", "The response carries no code.", nil)
		return
	}
	form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {f.redirect}, "code_verifier": {f.verifier}}
	if s.SendResource {
		form.Set("resource", f.resource)
	}
	tr, err := tokenRequest(r.Context(), m.hc, f.tokenEndpoint, f.reg, form)
	if err != nil {
		m.log.Warn("upstream oauth: code exchange failed", "server", s.Name, "user", f.user, "error", err)
		m.page(w, http.StatusBadGateway, "Authorization failed", "Exchanging the code failed: "+err.Error(), nil)
		return
	}
	st := &storedToken{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, Expiry: m.expiry(tr.ExpiresIn),
		Scope: tr.Scope, Issuer: f.issuer, TokenEndpoint: f.tokenEndpoint, ClientID: f.reg.ClientID}
	if s.SendResource {
		st.Resource = f.resource
	}
	if err := m.save(r.Context(), s, f.user, st); err != nil {
		m.page(w, http.StatusInternalServerError, "Authorization failed", "Storing the tokens failed: "+err.Error(), nil)
		return
	}
	m.mu.Lock()
	delete(m.sessions, sid)
	delete(m.stepUp, f.user+"\x00"+s.Name)
	m.mu.Unlock()
	m.log.Info("upstream oauth: account connected", "server", s.Name, "user", f.user, "issuer", f.issuer)
	m.page(w, http.StatusOK, "Connected", "Your account is connected to "+s.Name+" for "+f.user+". You can close this page and retry the call.", nil)
}

// ClientMetadataDocument is the name, under UpstreamOAuthPath, of the gateway's OAuth client id metadata
// document: authorization servers that support such documents fetch it from the client id URL.
const ClientMetadataDocument = "client-metadata.json"

// clientMetadata serves the client id metadata document: the client id is its own URL, the redirect
// URIs are every server's callback.
func (m *UpstreamOAuth) clientMetadata(w http.ResponseWriter) {
	var redirects []string
	for _, s := range m.servers {
		if !s.TokenExchange {
			redirects = append(redirects, m.redirectURL(s))
		}
	}
	slices.Sort(redirects)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"client_id":                  m.baseURL() + UpstreamOAuthPath + ClientMetadataDocument,
		"client_name":                "mcpwarden",
		"redirect_uris":              redirects,
		"grant_types":                []string{grantAuthorizationCode, grantRefreshToken},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
}

type consentView struct {
	User, Server, ServerURL, Issuer, ClientID, Scopes, Redirect, CSRF, Action string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>mcpwarden: {{.Title}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto}th{text-align:left;padding-right:1em}code{word-break:break-all}</style></head>
<body><h1>{{.Title}}</h1>{{if .Text}}<p>{{.Text}}</p>{{end}}
{{with .Consent}}<p>The mcpwarden gateway asks to act on <b>{{.Server}}</b> as <b>{{.User}}</b>.
Allowing it sends you to the authorization server below; the tokens it issues are stored encrypted by the
gateway and used only for your calls to this server.</p>
<table>
<tr><th>Gateway user</th><td><code>{{.User}}</code></td></tr>
<tr><th>Server</th><td>{{.Server}} (<code>{{.ServerURL}}</code>)</td></tr>
<tr><th>Authorization server</th><td><code>{{.Issuer}}</code></td></tr>
<tr><th>Client id</th><td><code>{{.ClientID}}</code></td></tr>
<tr><th>Scopes</th><td><code>{{if .Scopes}}{{.Scopes}}{{else}}(none requested){{end}}</code></td></tr>
<tr><th>Redirect URI</th><td><code>{{.Redirect}}</code></td></tr>
</table>
<p>If you did not just try to use {{.Server}} through your MCP client, deny.</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>{{end}}
</body></html>
`))

func (m *UpstreamOAuth) page(w http.ResponseWriter, status int, title, text string, consent *consentView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, map[string]any{"Title": title, "Text": text, "Consent": consent})
}
