// Package identitytest runs a real OpenID Connect issuer for tests: an httptest server publishing
// /.well-known/openid-configuration and a JWKS, minting access tokens signed with real RSA or EC keys,
// rotating keys, and answering RFC 7662 introspection for opaque tokens it issued. It logs users in with the
// authorization code flow (PKCE S256, auto-consent) for OpenID Connect clients that use its own ClientID
// (LogIn), and is an OAuth 2.1 authorization server for upstream servers (authserver.go): authorize, token
// (PKCE, refresh, RFC 8707 resource, RFC 8693 exchange) and RFC 7591 registration, with a clock tests move
// forward.
package identitytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is a test authorization server.
type Issuer struct {
	*httptest.Server
	// URL is the issuer identifier (the server's base URL).
	URL string
	// ClientID and ClientSecret authenticate introspection requests.
	ClientID, ClientSecret string

	t  testing.TB
	mu sync.Mutex
	// keys are published; signing is the current one.
	keys      []jose.JSONWebKey
	signer    jose.JSONWebKey
	jwksHits  int
	opaque    map[string]map[string]any
	introHits int
	// as holds the authorization server state (authserver.go).
	as authServer
	// login is who /authorize logs in for the OIDC client ClientID: the claims of the ID token it leads to
	// (iss, aud, exp, iat and nonce are added). Nil: /authorize answers access_denied.
	login map[string]any
	codes map[string]codeGrant
}

// codeGrant is an OIDC login's authorization code waiting to be exchanged.
type codeGrant struct {
	clientID, redirectURI, nonce, challenge string
	claims                                  map[string]any
}

// NewIssuer starts an issuer with one RSA key (kid "k1"); it stops at test cleanup.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{t: t, ClientID: "mcpwarden", ClientSecret: "s3cret-introspection", opaque: map[string]map[string]any{},
		codes: map[string]codeGrant{}}
	is.Rotate("k1", jose.RS256)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", is.metadata)
	mux.HandleFunc("/.well-known/oauth-authorization-server", is.metadata)
	is.as.init()
	mux.HandleFunc("/authorize", is.authorize)
	mux.HandleFunc("/token", is.token)
	mux.HandleFunc("/register", is.register)
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.jwksHits++
		set := jose.JSONWebKeySet{}
		for _, k := range is.keys {
			set.Keys = append(set.Keys, k.Public())
		}
		is.mu.Unlock()
		writeJSON(w, set)
	})
	mux.HandleFunc("/introspect", is.introspect)
	is.Server = httptest.NewServer(mux)
	is.URL = is.Server.URL
	t.Cleanup(is.Server.Close)
	return is
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Rotate adds a new signing key with kid and alg (RS256 or ES256) and signs with it from now on; the old
// keys stay published.
func (is *Issuer) Rotate(kid string, alg jose.SignatureAlgorithm) {
	var key crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		is.t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(alg), Use: "sig"}
	is.mu.Lock()
	is.keys = append(is.keys, jwk)
	is.signer = jwk
	is.mu.Unlock()
}

// JWKSHits returns how many times the JWKS was fetched.
func (is *Issuer) JWKSHits() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.jwksHits
}

// IntrospectionHits returns how many introspection requests were answered.
func (is *Issuer) IntrospectionHits() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.introHits
}

// Claims returns standard claims for subject: iss = the issuer, aud, iat now, exp in an hour, and
// scope.
func (is *Issuer) Claims(subject, audience, scope string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "sub": subject, "aud": audience, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "scope": scope, "email": subject + "@example.com",
	}
}

// Token signs claims with the current key.
func (is *Issuer) Token(claims map[string]any) string {
	is.mu.Lock()
	k := is.signer
	is.mu.Unlock()
	return is.sign(k, claims)
}

func (is *Issuer) sign(k jose.JSONWebKey, claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		is.t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		is.t.Fatal(err)
	}
	return tok
}

// TokenWithUnpublishedKey signs claims with a fresh key (kid) that the JWKS does not publish.
func (is *Issuer) TokenWithUnpublishedKey(kid string, claims map[string]any) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		is.t.Fatal(err)
	}
	return is.sign(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.RS256)}, claims)
}

// UnsignedToken builds an `alg: none` token for claims, the way an attacker would.
func UnsignedToken(kid string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "."
}

// HS256WithPublicKey signs claims with HMAC-SHA256 keyed by the issuer's published RSA public key (the
// key-confusion attack).
func (is *Issuer) HS256WithPublicKey(claims map[string]any) string {
	is.mu.Lock()
	k := is.signer
	is.mu.Unlock()
	pub, err := json.Marshal(k.Public())
	if err != nil {
		is.t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pub},
		(&jose.SignerOptions{}).WithHeader("kid", k.KeyID))
	if err != nil {
		is.t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		is.t.Fatal(err)
	}
	return tok
}

// Tamper flips the signature's last character class, keeping the token well-formed.
func Tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	claims["sub"] = "mallory"
	b, _ := json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// OpaqueToken registers claims under a random opaque token (for introspection) and returns it.
func (is *Issuer) OpaqueToken(claims map[string]any) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "opaque-" + base64.RawURLEncoding.EncodeToString(b)
	is.mu.Lock()
	is.opaque[tok] = claims
	is.mu.Unlock()
	return tok
}

// RevokeOpaque makes an opaque token inactive.
func (is *Issuer) RevokeOpaque(tok string) {
	is.mu.Lock()
	delete(is.opaque, tok)
	is.mu.Unlock()
}

func (is *Issuer) introspect(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != is.ClientID || secret != is.ClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	is.mu.Lock()
	is.introHits++
	claims, found := is.opaque[r.PostForm.Get("token")]
	is.mu.Unlock()
	if !found {
		writeJSON(w, map[string]any{"active": false})
		return
	}
	out := map[string]any{"active": true}
	for k, v := range claims {
		out[k] = v
	}
	writeJSON(w, out)
}

// LogIn makes /authorize log in the user with these claims (e.g. sub, email, groups) without asking.
func (is *Issuer) LogIn(claims map[string]any) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.login = claims
}

// loginAuthorize implements the authorization endpoint of the OIDC login (client ClientID): it requires PKCE S256 and redirects
// back to redirect_uri with a one-time code and the state.
func (is *Issuer) loginAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	if q.Get("response_type") != "code" || redirect == "" || q.Get("client_id") == "" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	is.mu.Lock()
	login := is.login
	code := ""
	if login != nil {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		code = base64.RawURLEncoding.EncodeToString(b)
		is.codes[code] = codeGrant{clientID: q.Get("client_id"), redirectURI: redirect, nonce: q.Get("nonce"),
			challenge: q.Get("code_challenge"), claims: login}
	}
	is.mu.Unlock()
	if login == nil {
		http.Redirect(w, r, redirect+sep+"error=access_denied&state="+q.Get("state"), http.StatusFound)
		return
	}
	http.Redirect(w, r, redirect+sep+"code="+code+"&state="+q.Get("state"), http.StatusFound)
}

// loginToken exchanges a login code for an ID token (and an access token), checking the client, the redirect URI
// and the PKCE verifier.
func (is *Issuer) loginToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	is.mu.Lock()
	g, ok := is.codes[r.PostForm.Get("code")]
	delete(is.codes, r.PostForm.Get("code"))
	is.mu.Unlock()
	id, secret, basic := r.BasicAuth()
	if !basic {
		id = r.PostForm.Get("client_id")
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !ok:
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	case id != g.clientID || (basic && id == is.ClientID && secret != is.ClientSecret):
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	now := time.Now()
	claims := map[string]any{"iss": is.URL, "aud": g.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	for k, v := range g.claims {
		claims[k] = v
	}
	writeJSON(w, map[string]any{"access_token": is.Token(is.Claims(claimString(g.claims, "sub"), g.clientID, "openid")),
		"token_type": "Bearer", "expires_in": 300, "id_token": is.Token(claims)})
}

func claimString(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
