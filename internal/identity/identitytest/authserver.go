package identitytest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// This file makes the Issuer a real OAuth 2.1 authorization server for the gateway's upstream OAuth
// client: an authorize endpoint that approves at once (as the user named by the "as_user" cookie, else
// "user"), a token endpoint that checks PKCE (S256), the redirect URI, the RFC 8707 resource and client
// authentication, issues opaque access tokens and rotating refresh tokens, and performs RFC 8693 token
// exchange of its own JWTs; and RFC 7591 dynamic client registration. Its clock can be moved forward
// (Advance) so token expiry is tested without sleeping.

// Client is a registered OAuth client.
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// AccessInfo describes an access token the issuer handed out.
type AccessInfo struct {
	Token, Subject, ClientID, Resource, Scope string
	Expires                                   time.Time
}

type authCode struct {
	client, redirect, challenge, resource, scope, subject string
	expires                                               time.Time
}

type refreshGrant struct {
	client, resource, scope, subject string
}

type authServer struct {
	mu      sync.Mutex
	offset  time.Duration
	clients map[string]*Client
	codes   map[string]*authCode
	refresh map[string]*refreshGrant
	access  map[string]*AccessInfo
	grants  map[string]int
	regs    int
	// AccessTTL is the lifetime of access tokens (default one hour).
	accessTTL time.Duration
	// resources, when set, are the only RFC 8707 resources accepted (and a resource is required).
	resources []string
	noDCR     bool
	lastAuth  url.Values
}

func (a *authServer) init() {
	a.clients = map[string]*Client{}
	a.codes = map[string]*authCode{}
	a.refresh = map[string]*refreshGrant{}
	a.access = map[string]*AccessInfo{}
	a.grants = map[string]int{}
	a.accessTTL = time.Hour
}

func random(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Now is the issuer's clock: real time moved forward by Advance.
func (is *Issuer) Now() time.Time {
	is.as.mu.Lock()
	defer is.as.mu.Unlock()
	return time.Now().Add(is.as.offset)
}

// Advance moves the issuer's clock forward by d.
func (is *Issuer) Advance(d time.Duration) {
	is.as.mu.Lock()
	is.as.offset += d
	is.as.mu.Unlock()
}

// AddClient registers a client (a pre-registered one, as an operator would).
func (is *Issuer) AddClient(c Client) {
	is.as.mu.Lock()
	is.as.clients[c.ID] = &c
	is.as.mu.Unlock()
}

// SetAccessTTL sets the lifetime of access tokens issued from now on.
func (is *Issuer) SetAccessTTL(d time.Duration) {
	is.as.mu.Lock()
	is.as.accessTTL = d
	is.as.mu.Unlock()
}

// RequireResource makes the authorization server accept only these RFC 8707 resources, and require one.
func (is *Issuer) RequireResource(resources ...string) {
	is.as.mu.Lock()
	is.as.resources = resources
	is.as.mu.Unlock()
}

// DisableRegistration removes dynamic client registration from the metadata.
func (is *Issuer) DisableRegistration() {
	is.as.mu.Lock()
	is.as.noDCR = true
	is.as.mu.Unlock()
}

// Grants returns how many tokens were issued per grant type.
func (is *Issuer) Grants(grantType string) int {
	is.as.mu.Lock()
	defer is.as.mu.Unlock()
	return is.as.grants[grantType]
}

// Registrations returns how many clients registered dynamically.
func (is *Issuer) Registrations() int {
	is.as.mu.Lock()
	defer is.as.mu.Unlock()
	return is.as.regs
}

// LastAuthorize returns the query of the last authorization request.
func (is *Issuer) LastAuthorize() url.Values {
	is.as.mu.Lock()
	defer is.as.mu.Unlock()
	return is.as.lastAuth
}

// RevokeAccess makes an access token unknown (the resource server refuses it).
func (is *Issuer) RevokeAccess(token string) {
	is.as.mu.Lock()
	delete(is.as.access, token)
	is.as.mu.Unlock()
}

// RevokeRefreshTokens makes every refresh token unknown (refresh gets invalid_grant).
func (is *Issuer) RevokeRefreshTokens() {
	is.as.mu.Lock()
	clear(is.as.refresh)
	is.as.mu.Unlock()
}

// Access returns what the issuer knows of an access token it issued, checking its expiry against the
// issuer's clock; ok is false for unknown or expired tokens.
func (is *Issuer) Access(token string) (AccessInfo, bool) {
	now := is.Now()
	is.as.mu.Lock()
	defer is.as.mu.Unlock()
	ai := is.as.access[token]
	if ai == nil || !now.Before(ai.Expires) {
		return AccessInfo{}, false
	}
	return *ai, true
}

func (is *Issuer) metadata(w http.ResponseWriter, r *http.Request) {
	md := map[string]any{
		"issuer":                                         is.URL,
		"jwks_uri":                                       is.URL + "/jwks",
		"introspection_endpoint":                         is.URL + "/introspect",
		"authorization_endpoint":                         is.URL + "/authorize",
		"token_endpoint":                                 is.URL + "/token",
		"response_types_supported":                       []string{"code"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"authorization_response_iss_parameter_supported": true,
	}
	is.as.mu.Lock()
	if !is.as.noDCR {
		md["registration_endpoint"] = is.URL + "/register"
	}
	is.as.mu.Unlock()
	writeJSON(w, md)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// checkResource validates an RFC 8707 resource parameter against the configured ones.
func (a *authServer) checkResource(res string) bool {
	if len(a.resources) == 0 {
		return true
	}
	return slices.Contains(a.resources, res)
}

func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") == is.ClientID {
		is.loginAuthorize(w, r) // OpenID Connect login of the issuer's own client (issuer.go)
		return
	}
	now := is.Now()
	a := &is.as
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastAuth = q
	c := a.clients[q.Get("client_id")]
	if c == nil || !slices.Contains(c.RedirectURIs, q.Get("redirect_uri")) {
		// Never redirect to an unregistered URI.
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(q.Get("redirect_uri"))
	reply := func(v url.Values) {
		v.Set("state", q.Get("state"))
		v.Set("iss", is.URL)
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		reply(url.Values{"error": {"unsupported_response_type"}})
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		reply(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE with S256 is required"}})
		return
	case !a.checkResource(q.Get("resource")):
		reply(url.Values{"error": {"invalid_target"}, "error_description": {"unknown resource"}})
		return
	}
	subject := "user"
	if ck, err := r.Cookie("as_user"); err == nil && ck.Value != "" {
		subject = ck.Value
	}
	code := random("code-")
	a.codes[code] = &authCode{client: c.ID, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
		resource: q.Get("resource"), scope: q.Get("scope"), subject: subject, expires: now.Add(time.Minute)}
	reply(url.Values{"code": {code}})
}

// clientAuth authenticates the token request's client (basic, post or none for public clients).
func (a *authServer) clientAuth(r *http.Request) *Client {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c := a.clients[id]
	if c == nil || c.Secret != secret {
		return nil
	}
	return c
}

func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return
	}
	is.mu.Lock()
	_, login := is.codes[r.PostForm.Get("code")]
	is.mu.Unlock()
	if login && r.PostForm.Get("grant_type") == "authorization_code" {
		is.loginToken(w, r) // a code of the OIDC login (issuer.go)
		return
	}
	now := is.Now()
	a := &is.as
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clientAuth(r)
	if c == nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	f := r.PostForm
	var subject, resource, scope string
	refresh := true
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code":
		code := a.codes[f.Get("code")]
		delete(a.codes, f.Get("code"))
		if code == nil || now.After(code.expires) || code.client != c.ID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or expired code")
			return
		}
		if f.Get("redirect_uri") != code.redirect {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
			return
		}
		h := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(h[:]) != code.challenge {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		if f.Get("resource") != code.resource {
			oauthError(w, http.StatusBadRequest, "invalid_target", "resource differs from the authorization request")
			return
		}
		subject, resource, scope = code.subject, code.resource, code.scope
	case "refresh_token":
		g := a.refresh[f.Get("refresh_token")]
		if g == nil || g.client != c.ID {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
		if res := f.Get("resource"); res != "" && res != g.resource {
			oauthError(w, http.StatusBadRequest, "invalid_target", "resource differs from the grant")
			return
		}
		delete(a.refresh, f.Get("refresh_token")) // rotation
		subject, resource, scope = g.subject, g.resource, g.scope
	case "urn:ietf:params:oauth:grant-type:token-exchange":
		if f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "subject_token_type must be an access token")
			return
		}
		sub, ok := is.verifyJWT(f.Get("subject_token"), now)
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "subject_token is not valid")
			return
		}
		if !a.checkResource(f.Get("resource")) {
			oauthError(w, http.StatusBadRequest, "invalid_target", "unknown resource")
			return
		}
		subject, resource, scope, refresh = sub, f.Get("resource"), f.Get("scope"), false
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	a.grants[f.Get("grant_type")]++
	at := random("at-")
	a.access[at] = &AccessInfo{Token: at, Subject: subject, ClientID: c.ID, Resource: resource, Scope: scope, Expires: now.Add(a.accessTTL)}
	out := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(a.accessTTL / time.Second), "scope": scope}
	if refresh {
		rt := random("rt-")
		a.refresh[rt] = &refreshGrant{client: c.ID, resource: resource, scope: scope, subject: subject}
		out["refresh_token"] = rt
	} else {
		out["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, out)
}

// verifyJWT checks a token signed by this issuer (any of its published keys) and returns its subject.
func (is *Issuer) verifyJWT(tok string, now time.Time) (string, bool) {
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return "", false
	}
	is.mu.Lock()
	keys := append([]jose.JSONWebKey(nil), is.keys...)
	is.mu.Unlock()
	for _, k := range keys {
		var c jwt.Claims
		if parsed.Claims(k.Public().Key, &c) != nil {
			continue
		}
		if c.Issuer != is.URL || c.Validate(jwt.Expected{Time: now}) != nil {
			return "", false
		}
		return c.Subject, true
	}
	return "", false
}

func (is *Issuer) register(w http.ResponseWriter, r *http.Request) {
	a := &is.as
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.noDCR || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var md struct {
		RedirectURIs []string `json:"redirect_uris"`
		AuthMethod   string   `json:"token_endpoint_auth_method"`
		ClientName   string   `json:"client_name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&md); err != nil || len(md.RedirectURIs) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "redirect_uris required")
		return
	}
	for _, u := range md.RedirectURIs {
		if pu, err := url.Parse(u); err != nil || !strings.HasPrefix(pu.Scheme, "http") {
			oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", u)
			return
		}
	}
	c := &Client{ID: random("client-"), RedirectURIs: md.RedirectURIs}
	method := md.AuthMethod
	if method == "" {
		method = "client_secret_basic"
	}
	if method != "none" {
		c.Secret = random("secret-")
	}
	a.clients[c.ID] = c
	a.regs++
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"client_id": c.ID, "client_secret": c.Secret,
		"redirect_uris": c.RedirectURIs, "token_endpoint_auth_method": method, "client_name": md.ClientName})
}
