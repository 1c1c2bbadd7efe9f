package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// This file is the protocol half of the gateway as an OAuth client of upstream MCP servers (MCP
// authorization, client side): discovery (RFC 9728 protected resource metadata from the server's
// WWW-Authenticate challenge or well-known URLs, then RFC 8414 / OpenID Connect authorization server
// metadata), RFC 7591 dynamic client registration, PKCE, and the token endpoint requests (authorization
// code, refresh, RFC 8693 token exchange). upstreamoauth.go holds the per-user flow and storage.

// Grant types and token types used at token endpoints.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// upstreamDiscovery is what the gateway learned about an upstream server's authorization.
type upstreamDiscovery struct {
	// Resource is the configured resource indicator; PRMResource the protected resource metadata's
	// resource, exactly as published (sent instead when the configured one is the default).
	Resource, PRMResource string
	// Scopes are the scopes to request when none are configured: the challenge's scope, else the
	// resource's scopes_supported.
	Scopes []string
	AS     *oauthex.AuthServerMeta
}

// discoverUpstream finds the authorization server of the MCP server at serverURL. asOverride skips the
// protected resource metadata. It follows no redirects, and only fetches https URLs (http on loopback).
func discoverUpstream(ctx context.Context, hc *http.Client, serverURL, resource, asOverride string) (*upstreamDiscovery, error) {
	d := &upstreamDiscovery{Resource: resource}
	issuer := asOverride
	legacy := false
	if issuer == "" {
		challenges, err := probeChallenge(ctx, hc, serverURL)
		if err != nil {
			return nil, err
		}
		var prm *oauthex.ProtectedResourceMetadata
		for _, u := range prmURLs(challengeParam(challenges, "resource_metadata"), serverURL) {
			m, err := oauthex.GetProtectedResourceMetadata(ctx, u[0], u[1], hc)
			if err == nil && m != nil {
				prm = m
				break
			}
		}
		if prm != nil {
			if len(prm.AuthorizationServers) == 0 {
				return nil, fmt.Errorf("the protected resource metadata of %s names no authorization server", serverURL)
			}
			issuer = prm.AuthorizationServers[0]
			d.Scopes = prm.ScopesSupported
			d.PRMResource = prm.Resource
		} else {
			// 2025-03-26 fallback: the MCP server's origin is the authorization server.
			u, _ := url.Parse(serverURL)
			issuer = u.Scheme + "://" + u.Host
			legacy = true
		}
		if s := challengeParam(challenges, "scope"); s != "" {
			d.Scopes = strings.Fields(s)
		}
	}
	if err := checkFetchURL(issuer); err != nil {
		return nil, fmt.Errorf("authorization server %s: %w", issuer, err)
	}
	var asm *oauthex.AuthServerMeta
	var err error
	if legacy {
		asm, err = legacyAuthServerMetadata(ctx, hc, issuer)
	} else {
		asm, err = auth.GetAuthServerMetadata(ctx, issuer, hc)
	}
	if err != nil {
		return nil, fmt.Errorf("authorization server metadata of %s: %w", issuer, err)
	}
	if asm == nil {
		if asOverride != "" {
			return nil, fmt.Errorf("authorization server %s publishes no RFC 8414 or OpenID Connect metadata", issuer)
		}
		// 2025-03-26 fallback: default endpoints at the authorization server's base URL. PKCE is assumed.
		base := strings.TrimSuffix(issuer, "/")
		asm = &oauthex.AuthServerMeta{Issuer: issuer, AuthorizationEndpoint: base + "/authorize",
			TokenEndpoint: base + "/token", RegistrationEndpoint: base + "/register",
			CodeChallengeMethodsSupported: []string{"S256"}}
	}
	if !slices.Contains(asm.CodeChallengeMethodsSupported, "S256") {
		return nil, fmt.Errorf("authorization server %s does not support PKCE with S256 (code_challenge_methods_supported), which MCP requires", issuer)
	}
	for _, e := range []string{asm.AuthorizationEndpoint, asm.TokenEndpoint} {
		if err := checkFetchURL(e); err != nil {
			return nil, fmt.Errorf("authorization server %s: endpoint %s: %w", issuer, e, err)
		}
	}
	d.AS = asm
	return d, nil
}

// legacyAuthServerMetadata reads the RFC 8414 metadata at the MCP server's origin for a 2025-03-26 server
// (no protected resource metadata). Such servers predate the issuer check, so the metadata's issuer may
// differ from the origin; instead its authorization and token endpoints must be on that origin. It
// returns nil, nil when there is no metadata (the default endpoints apply).
func legacyAuthServerMetadata(ctx context.Context, hc *http.Client, origin string) (*oauthex.AuthServerMeta, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, stripURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/.well-known/oauth-authorization-server answered HTTP %d", origin, resp.StatusCode)
	}
	var asm oauthex.AuthServerMeta
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&asm); err != nil {
		return nil, fmt.Errorf("%s/.well-known/oauth-authorization-server is not JSON metadata: %v", origin, err)
	}
	for _, e := range []string{asm.AuthorizationEndpoint, asm.TokenEndpoint, asm.RegistrationEndpoint} {
		if e == "" {
			continue
		}
		if u, err := url.Parse(e); err != nil || u.Scheme+"://"+u.Host != origin {
			return nil, fmt.Errorf("the metadata at %s names endpoint %s on another origin, which a server without protected resource metadata may not", origin, e)
		}
	}
	if len(asm.CodeChallengeMethodsSupported) == 0 {
		asm.CodeChallengeMethodsSupported = []string{"S256"} // 2025-03-26 required PKCE without advertising it
	}
	return &asm, nil
}

// probeBodies are the unauthenticated requests discovery sends until one is answered 401: some servers let
// initialize through and challenge only operations.
var probeBodies = []struct{ body, version string }{
	{`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcpwarden","version":"discovery"}}}`, ""},
	{`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, "2026-07-28"},
	{`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`, ""},
}

// probeChallenge sends unauthenticated requests to the server and returns the challenges of the first 401
// (none when it never answers 401).
func probeChallenge(ctx context.Context, hc *http.Client, serverURL string) ([]oauthex.Challenge, error) {
	for _, p := range probeBodies {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, serverURL, strings.NewReader(p.body))
		if err != nil {
			return nil, fmt.Errorf("server url %s: %w", serverURL, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if p.version != "" {
			req.Header.Set("MCP-Protocol-Version", p.version)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("could not reach %s to discover its authorization server: %w", serverURL, stripURLError(err))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			cs, _ := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
			return cs, nil
		}
		if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
			// The initialize opened a session: end it.
			del, _ := http.NewRequestWithContext(ctx, http.MethodDelete, serverURL, nil)
			del.Header.Set("Mcp-Session-Id", sid)
			if r, err := hc.Do(del); err == nil {
				_ = r.Body.Close()
			}
		}
	}
	return nil, nil
}

func challengeParam(cs []oauthex.Challenge, name string) string {
	for _, c := range cs {
		if c.Scheme == "bearer" && c.Params[name] != "" {
			return c.Params[name]
		}
	}
	return ""
}

// prmURLs lists the protected resource metadata URLs to try, each with the resource it must name: the
// challenge's, then the path-inserted and root well-known URLs (RFC 9728 §3.1).
func prmURLs(fromChallenge, serverURL string) [][2]string {
	var out [][2]string
	if fromChallenge != "" {
		out = append(out, [2]string{fromChallenge, serverURL})
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return out
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		out = append(out, [2]string{u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource/" + p, serverURL})
	}
	out = append(out, [2]string{u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource", u.Scheme + "://" + u.Host})
	return out
}

// checkFetchURL refuses URLs the gateway should not send credentials to: anything but https, except http
// on a loopback host (a local authorization server in development).
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return errors.New("must use https (http only on a loopback host)")
}

// noRedirects is a client that does not follow redirects: discovery and token requests go exactly where
// the metadata says, never where a redirect would take credentials.
func noRedirects(hc *http.Client) *http.Client {
	cp := http.Client{Timeout: 30 * time.Second}
	if hc != nil {
		cp = *hc
		if cp.Timeout == 0 {
			cp.Timeout = 30 * time.Second
		}
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// clientRegistration is the gateway's client at one authorization server.
type clientRegistration struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// AuthMethod is the token endpoint authentication method: client_secret_basic, client_secret_post or
	// none.
	AuthMethod string `json:"token_endpoint_auth_method"`
}

// chooseAuthMethod picks how a client with a secret authenticates at the token endpoint.
func chooseAuthMethod(secret string, supported []string) string {
	switch {
	case secret == "":
		return "none"
	case len(supported) == 0 || slices.Contains(supported, "client_secret_basic"):
		return "client_secret_basic"
	case slices.Contains(supported, "client_secret_post"):
		return "client_secret_post"
	}
	return "client_secret_basic"
}

// registerClient performs RFC 7591 dynamic client registration.
func registerClient(ctx context.Context, hc *http.Client, asm *oauthex.AuthServerMeta, redirectURL string, scopes []string) (*clientRegistration, error) {
	if asm.RegistrationEndpoint == "" {
		return nil, fmt.Errorf("authorization server %s does not support dynamic client registration: configure oauth.client_id (register the gateway there with redirect URI %s)", asm.Issuer, redirectURL)
	}
	if err := checkFetchURL(asm.RegistrationEndpoint); err != nil {
		return nil, fmt.Errorf("registration endpoint %s: %w", asm.RegistrationEndpoint, err)
	}
	method := "none"
	if len(asm.TokenEndpointAuthMethodsSupported) > 0 && !slices.Contains(asm.TokenEndpointAuthMethodsSupported, "none") {
		method = chooseAuthMethod("x", asm.TokenEndpointAuthMethodsSupported)
	}
	resp, err := oauthex.RegisterClient(ctx, asm.RegistrationEndpoint, &oauthex.ClientRegistrationMetadata{
		ClientName:              "mcpwarden",
		ApplicationType:         applicationType(redirectURL),
		RedirectURIs:            []string{redirectURL},
		GrantTypes:              []string{grantAuthorizationCode, grantRefreshToken},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: method,
		Scope:                   strings.Join(scopes, " "),
	}, hc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client registration at %s failed: %w", asm.RegistrationEndpoint, err)
	}
	reg := &clientRegistration{ClientID: resp.ClientID, ClientSecret: resp.ClientSecret, AuthMethod: resp.TokenEndpointAuthMethod}
	if reg.AuthMethod == "" {
		reg.AuthMethod = chooseAuthMethod(reg.ClientSecret, asm.TokenEndpointAuthMethodsSupported)
	}
	if reg.ClientSecret == "" {
		reg.AuthMethod = "none"
	}
	return reg, nil
}

// applicationType is the OpenID Connect registration application_type for a redirect URL (SEP-837): a
// gateway on this machine redirects to a loopback address like a native app; otherwise it is a web
// application.
func applicationType(redirectURL string) string {
	if u, err := url.Parse(redirectURL); err == nil && isLoopback(u.Hostname()) {
		return "native"
	}
	return "web"
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkceChallenge is the S256 code challenge of verifier (RFC 7636).
func pkceChallenge(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// tokenResponse is a token endpoint's answer (RFC 6749 §5.1, RFC 8693 §2.2.1).
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	RefreshToken    string `json:"refresh_token"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope"`
	IssuedTokenType string `json:"issued_token_type"`
}

// TokenEndpointError is an OAuth error answer of a token endpoint (RFC 6749 §5.2). It never carries
// the request's credentials.
type TokenEndpointError struct {
	Status      int
	Code        string
	Description string
}

func (e *TokenEndpointError) Error() string {
	s := fmt.Sprintf("token endpoint answered HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Description != "" {
		s += ": " + printable(e.Description, 200)
	}
	return s
}

// printable returns s without control characters, cut at n bytes.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// tokenRequest posts form to the token endpoint, authenticating as reg.
func tokenRequest(ctx context.Context, hc *http.Client, endpoint string, reg clientRegistration, form url.Values) (*tokenResponse, error) {
	switch reg.AuthMethod {
	case "client_secret_post":
		form.Set("client_id", reg.ClientID)
		form.Set("client_secret", reg.ClientSecret)
	case "client_secret_basic":
	default:
		form.Set("client_id", reg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("token endpoint %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if reg.AuthMethod == "client_secret_basic" {
		req.SetBasicAuth(url.QueryEscape(reg.ClientID), url.QueryEscape(reg.ClientSecret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("could not reach the token endpoint %s: %w", endpoint, stripURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &oe)
		return nil, &TokenEndpointError{Status: resp.StatusCode, Code: printable(oe.Error, 64), Description: oe.Description}
	}
	var tr tokenResponse
	if err := json.Unmarshal(bytes.TrimSpace(body), &tr); err != nil || tr.AccessToken == "" {
		return nil, fmt.Errorf("token endpoint %s answered without an access_token", endpoint)
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") && !strings.EqualFold(tr.TokenType, "n_a") {
		return nil, fmt.Errorf("token endpoint %s issued a %q token; only bearer tokens are supported", endpoint, printable(tr.TokenType, 32))
	}
	return &tr, nil
}

// stripURLError drops the URL from a *url.Error (it may carry a query) and keeps the cause.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
