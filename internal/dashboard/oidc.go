package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

// oidcCookie holds the id of a login in progress. SameSite=Lax, not Strict: the issuer's redirect back to
// the callback is a cross-site navigation, which would not carry a Strict cookie.
const oidcCookie = "__Host-mcpwarden-oidc"

// oidcFlowTTL is how long a user has to log in at the issuer.
const oidcFlowTTL = 10 * time.Minute

// oidcLogin is single sign-on against auth.issuer: the authorization code flow with PKCE (S256), a nonce
// bound to the ID token, and the ID token checked like the gateway checks access tokens (signature by the
// issuer's JWKS, issuer, audience = client id, expiry).
type oidcLogin struct {
	cfg       *config.DashboardOIDC
	issuer    string
	redirect  string
	validator *identity.JWTValidator
	client    *http.Client
	now       func() time.Time

	mu       sync.Mutex
	authURL  string
	tokenURL string
	flows    map[string]*oidcFlow // by sessionKey(cookie value)
}

type oidcFlow struct {
	state, nonce, verifier, next string
	expires                      time.Time
}

func newOIDCLogin(cfg *config.Config, now func() time.Time) (*oidcLogin, error) {
	a := cfg.Auth
	claims := identity.ClaimMapping{Subject: a.Claims.Subject, Email: a.Claims.Email, Name: a.Claims.Name, Groups: a.Claims.Groups}
	jwks := identity.NewJWKS(identity.JWKSOptions{URL: a.JWKSURL, Issuer: a.Issuer, MinRefetch: a.JWKSRefetchInterval.D()})
	v, err := identity.NewJWTValidator(identity.JWTOptions{Issuer: a.Issuer, Keys: jwks, Algorithms: a.Algorithms,
		ClockSkew: a.ClockSkew.D(), Claims: claims, Now: now})
	if err != nil {
		return nil, fmt.Errorf("dashboard: OIDC login: %w", err)
	}
	return &oidcLogin{cfg: cfg.Dashboard.OIDC, issuer: a.Issuer, redirect: cfg.DashboardURL() + "oidc/callback", validator: v,
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now:    now, flows: map[string]*oidcFlow{}}, nil
}

// endpoints reads the issuer's authorization and token endpoints from its discovery document (once).
func (o *oidcLogin) endpoints(ctx context.Context) (string, string, error) {
	o.mu.Lock()
	authURL, tokenURL := o.authURL, o.tokenURL
	o.mu.Unlock()
	if authURL != "" {
		return authURL, tokenURL, nil
	}
	doc := strings.TrimSuffix(o.issuer, "/") + "/.well-known/openid-configuration"
	var meta struct {
		Issuer string `json:"issuer"`
		Auth   string `json:"authorization_endpoint"`
		Token  string `json:"token_endpoint"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("OIDC discovery at %s: %w", doc, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("OIDC discovery at %s: %s", doc, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return "", "", fmt.Errorf("OIDC discovery at %s: %w", doc, err)
	}
	if strings.TrimSuffix(meta.Issuer, "/") != strings.TrimSuffix(o.issuer, "/") {
		return "", "", fmt.Errorf("OIDC discovery at %s names issuer %q, not %q", doc, meta.Issuer, o.issuer)
	}
	for _, u := range []string{meta.Auth, meta.Token} {
		if err := identity.CheckFetchURL(u); err != nil {
			return "", "", fmt.Errorf("OIDC discovery at %s: %w", doc, err)
		}
	}
	o.mu.Lock()
	o.authURL, o.tokenURL = meta.Auth, meta.Token
	o.mu.Unlock()
	return meta.Auth, meta.Token, nil
}

// start begins a login: it remembers state, nonce and the PKCE verifier under a fresh cookie and sends the
// browser to the issuer.
func (d *Dashboard) oidcStart(w http.ResponseWriter, r *http.Request) {
	o := d.oidc
	authURL, _, err := o.endpoints(r.Context())
	if err != nil {
		d.log.Warn("dashboard: OIDC login unavailable", "err", err)
		d.render(w, r, http.StatusBadGateway, "error", "Single sign-on unavailable", "The identity provider could not be reached: "+err.Error())
		return
	}
	f := &oidcFlow{state: randomToken(24), nonce: randomToken(24), verifier: randomToken(48),
		next: safeNext(r.URL.Query().Get("next")), expires: d.now().Add(oidcFlowTTL)}
	id := randomToken(32)
	o.mu.Lock()
	for k, v := range o.flows {
		if d.now().After(v.expires) {
			delete(o.flows, k)
		}
	}
	o.flows[sessionKey(id)] = f
	o.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: id, Path: "/", MaxAge: int(oidcFlowTTL / time.Second), Secure: true,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	sum := sha256.Sum256([]byte(f.verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {o.cfg.ClientID}, "redirect_uri": {o.redirect},
		"scope": {strings.Join(o.cfg.Scopes, " ")}, "state": {f.state}, "nonce": {f.nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	sep := "?"
	if strings.Contains(authURL, "?") {
		sep = "&"
	}
	http.Redirect(w, r, authURL+sep+q.Encode(), http.StatusSeeOther)
}

// callback finishes a login: it checks the state, exchanges the code, validates the ID token and its
// nonce, checks the user is allowed, and starts a session.
func (d *Dashboard) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := d.oidc
	refuse := func(code int, msg string, err error) {
		d.log.Warn("dashboard: OIDC login refused", "reason", msg, "err", err, "remote", clientKey(r))
		d.render(w, r, code, "error", "Login refused", msg+" Start again from /ui/login.")
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		refuse(http.StatusBadRequest, "This login was not started here, or took longer than 10 minutes.", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	o.mu.Lock()
	f := o.flows[sessionKey(c.Value)]
	delete(o.flows, sessionKey(c.Value)) // one use
	o.mu.Unlock()
	q := r.URL.Query()
	switch {
	case f == nil || d.now().After(f.expires):
		refuse(http.StatusBadRequest, "This login expired or was already used.", nil)
		return
	case !tokenEqual(q.Get("state"), f.state):
		refuse(http.StatusForbidden, "The identity provider's answer does not belong to this login (state mismatch).", nil)
		return
	case q.Get("error") != "":
		refuse(http.StatusForbidden, "The identity provider refused the login: "+q.Get("error")+".", nil)
		return
	case q.Get("code") == "":
		refuse(http.StatusBadRequest, "The identity provider sent no authorization code.", nil)
		return
	}
	idToken, err := o.exchange(r.Context(), q.Get("code"), f.verifier)
	if err != nil {
		refuse(http.StatusBadGateway, "The code could not be exchanged for an ID token.", err)
		return
	}
	p, err := o.validator.Validate(r.Context(), idToken, []string{o.cfg.ClientID})
	if err != nil {
		refuse(http.StatusForbidden, "The ID token is not valid.", err)
		return
	}
	if nonce, _ := p.Claims["nonce"].(string); !tokenEqual(nonce, f.nonce) {
		refuse(http.StatusForbidden, "The ID token was not issued for this login (nonce mismatch).", nil)
		return
	}
	if !o.allowed(p) {
		refuse(http.StatusForbidden, fmt.Sprintf("%s may not use this dashboard (not in dashboard.oidc.allowed_groups or allowed_users).", p.Subject), nil)
		return
	}
	p.Claims = nil // the session needs who, not the whole token
	id := d.sessions.create(p)
	setCookie(w, sessionCookie, id, int(d.cfg.Dashboard.SessionTTL.D()/time.Second))
	d.log.Info("dashboard: login", "principal", p.ID(), "method", "oidc", "remote", clientKey(r))
	// The session cookie is SameSite=Strict, and this request came from the issuer's site: browsers that
	// count the whole redirect chain (Chromium behind a flag, others by default) would treat a redirect as
	// cross-site and leave the cookie behind. A page of our own that moves on is a same-site navigation.
	d.render(w, r, http.StatusOK, "continue", "Logged in", f.next)
}

func (o *oidcLogin) allowed(p *identity.Principal) bool {
	if slices.Contains(o.cfg.AllowedUsers, p.Subject) || (p.Email != "" && slices.Contains(o.cfg.AllowedUsers, p.Email)) {
		return true
	}
	for _, g := range p.Groups {
		if slices.Contains(o.cfg.AllowedGroups, g) {
			return true
		}
	}
	return false
}

// exchange redeems the authorization code at the token endpoint and returns the ID token.
func (o *oidcLogin) exchange(ctx context.Context, code, verifier string) (string, error) {
	_, tokenURL, err := o.endpoints(ctx)
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {o.redirect}, "code_verifier": {verifier}}
	if o.cfg.ClientSecret == "" {
		form.Set("client_id", o.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if o.cfg.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(o.cfg.ClientID), url.QueryEscape(o.cfg.ClientSecret))
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("token endpoint: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || body.IDToken == "" {
		return "", fmt.Errorf("token endpoint: %s %s", resp.Status, body.Error)
	}
	return body.IDToken, nil
}
