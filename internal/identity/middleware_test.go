package identity_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/identity/identitytest"
)

const resource = "https://mcp.example.com"

type fixture struct {
	is    *identitytest.Issuer
	keys  *identity.JWKS
	auth  *identity.Authenticator
	store *identity.FileAPIKeyStore
	srv   *httptest.Server
	// seen is the principal and Authorization header the protected handler last saw.
	seen     *identity.Principal
	seenAuth string
}

func newFixture(t *testing.T, minRefetch time.Duration, required ...string) *fixture {
	t.Helper()
	f := &fixture{is: identitytest.NewIssuer(t)}
	f.keys = identity.NewJWKS(identity.JWKSOptions{Issuer: f.is.URL, MinRefetch: minRefetch})
	jv, err := identity.NewJWTValidator(identity.JWTOptions{Issuer: f.is.URL, Keys: f.keys,
		Claims: identity.ClaimMapping{Groups: []string{"groups", "realm_access.roles"}}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := identity.NewIntrospector(identity.IntrospectionOptions{URL: f.is.URL + "/introspect",
		ClientID: f.is.ClientID, ClientSecret: f.is.ClientSecret, Issuer: f.is.URL})
	if err != nil {
		t.Fatal(err)
	}
	f.store, err = identity.NewFileAPIKeyStore(filepath.Join(t.TempDir(), "apikeys.json"))
	if err != nil {
		t.Fatal(err)
	}
	f.auth, err = identity.NewAuthenticator(identity.AuthOptions{
		Resource: resource, RequiredScopes: required, AuthorizationServers: []string{f.is.URL},
		JWT: jv, Introspection: in, APIKeys: f.store, Endpoints: []string{"github"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.seen, _ = identity.FromContext(r.Context())
		f.seenAuth = r.Header.Get("Authorization")
		_, _ = io.WriteString(w, "ok")
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp/github", f.auth.Middleware(protected))
	mux.Handle("/mcp", f.auth.Middleware(protected))
	f.srv = httptest.NewServer(f.auth.Wrap(mux))
	t.Cleanup(f.srv.Close)
	return f
}

type result struct {
	Status    int
	Challenge string
}

func (f *fixture) call(t *testing.T, path, token string) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader("{}"))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return result{resp.StatusCode, resp.Header.Get("WWW-Authenticate")}
}

func invalidToken(desc string) string {
	return `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp/github", ` +
		`error="invalid_token", error_description="` + desc + `"`
}

func TestJWTValidation(t *testing.T) {
	f := newFixture(t, time.Hour)
	aud := resource + "/mcp/github"
	good := f.is.Claims("alice", aud, "mcp:tools")
	with := func(k string, v any) map[string]any {
		c := f.is.Claims("alice", aud, "mcp:tools")
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := time.Now()
	tests := []struct {
		name  string
		token string
		want  result
	}{
		{"valid, endpoint audience", f.is.Token(good), result{200, ""}},
		{"valid, gateway audience", f.is.Token(with("aud", resource)), result{200, ""}},
		{"valid, audience list", f.is.Token(with("aud", []string{"other", aud})), result{200, ""}},
		{"no token", "", result{401, `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp/github"`}},
		{"expired", f.is.Token(with("exp", now.Add(-5*time.Minute).Unix())),
			result{401, invalidToken("the token expired at " + time.Unix(now.Add(-5*time.Minute).Unix(), 0).UTC().Format(time.RFC3339))}},
		{"expired within skew", f.is.Token(with("exp", now.Add(-20*time.Second).Unix())), result{200, ""}},
		{"no exp", f.is.Token(with("exp", nil)), result{401, invalidToken("the token has no exp claim")}},
		{"not yet valid", f.is.Token(with("nbf", now.Add(10*time.Minute).Unix())), result{401, invalidToken("the token is not valid yet (nbf)")}},
		{"issued in the future", f.is.Token(with("iat", now.Add(10*time.Minute).Unix())), result{401, invalidToken("the token was issued in the future (iat)")}},
		{"wrong audience", f.is.Token(with("aud", "https://other.example.com")),
			result{401, invalidToken(`audience ['https://other.example.com'] does not include this resource (https://mcp.example.com, https://mcp.example.com/, https://mcp.example.com/mcp/github)`)}},
		{"another endpoint's audience", f.is.Token(with("aud", resource+"/mcp/other")),
			result{401, invalidToken(`audience ['https://mcp.example.com/mcp/other'] does not include this resource (https://mcp.example.com, https://mcp.example.com/, https://mcp.example.com/mcp/github)`)}},
		{"wrong issuer", f.is.Token(with("iss", "https://evil.example.com")), result{401, invalidToken(`issuer 'https://evil.example.com' is not the configured issuer`)}},
		{"alg none", identitytest.UnsignedToken("k1", good), result{401, invalidToken(`signing algorithm 'none' is not accepted`)}},
		{"HS256 keyed with the public key", f.is.HS256WithPublicKey(good), result{401, invalidToken(`signing algorithm 'HS256' is not accepted`)}},
		{"unknown kid", f.is.TokenWithUnpublishedKey("k-evil", good), result{401, invalidToken(`signed with an unknown key (kid 'k-evil')`)}},
		{"tampered payload", identitytest.Tamper(f.is.Token(good)), result{401, invalidToken("signature verification failed")}},
		{"no subject", f.is.Token(with("sub", nil)), result{401, invalidToken(`the token has no 'sub' claim to identify its subject`)}},
		{"garbage", "abc.def.ghi", result{401, invalidToken("not a signed JWT")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.seen = nil
			got := f.call(t, "/mcp/github", tc.token)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if (got.Status == 200) != (f.seen != nil) {
				t.Errorf("status %d but handler saw principal %v", got.Status, f.seen)
			}
		})
	}
}

func TestPrincipalFromToken(t *testing.T) {
	f := newFixture(t, time.Hour)
	c := f.is.Claims("alice", resource, "mcp:tools openid")
	c["name"] = "Alice"
	c["groups"] = []string{"eng", "oncall"}
	c["realm_access"] = map[string]any{"roles": []string{"admin", "eng"}}
	tok := f.is.Token(c)
	if got := f.call(t, "/mcp", tok); got.Status != 200 {
		t.Fatalf("status %d: %s", got.Status, got.Challenge)
	}
	if f.seenAuth != "" {
		t.Errorf("the protected handler saw Authorization %q; the token must be stripped", f.seenAuth)
	}
	got := *f.seen
	got.Claims = nil
	want := identity.Principal{Subject: "alice", Email: "alice@example.com", Name: "Alice",
		Groups: []string{"eng", "oncall", "admin"}, AuthMethod: identity.MethodOIDC, Issuer: f.is.URL,
		Scopes: []string{"mcp:tools", "openid"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("principal (-want +got)\n%s", diff)
	}
	if f.seen.ID() != "oidc:alice@"+f.is.URL {
		t.Errorf("ID = %q", f.seen.ID())
	}
}

func TestInsufficientScope(t *testing.T) {
	f := newFixture(t, time.Hour, "mcp:tools", "mcp:write")
	got := f.call(t, "/mcp/github", f.is.Token(f.is.Claims("alice", resource, "mcp:tools")))
	want := result{403, `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp/github", ` +
		`error="insufficient_scope", error_description="the token lacks scope mcp:write", scope="mcp:tools mcp:write"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if got := f.call(t, "/mcp/github", f.is.Token(f.is.Claims("alice", resource, "mcp:write mcp:tools"))); got.Status != 200 {
		t.Errorf("token with both scopes: %+v", got)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, time.Nanosecond)
	if got := f.call(t, "/mcp", f.is.Token(f.is.Claims("alice", resource, ""))); got.Status != 200 {
		t.Fatalf("before rotation: %+v", got)
	}
	hits := f.is.JWKSHits()
	f.is.Rotate("k2", jose.ES256)
	if got := f.call(t, "/mcp", f.is.Token(f.is.Claims("alice", resource, ""))); got.Status != 200 {
		t.Fatalf("after rotation to an ES256 key: %+v", got)
	}
	if got := f.is.JWKSHits() - hits; got != 1 {
		t.Errorf("rotation caused %d JWKS fetches, want 1", got)
	}
	// Known kids are served from the cache.
	hits = f.is.JWKSHits()
	for range 3 {
		f.call(t, "/mcp", f.is.Token(f.is.Claims("alice", resource, "")))
	}
	if got := f.is.JWKSHits() - hits; got != 0 {
		t.Errorf("cached keys caused %d fetches", got)
	}
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	f := newFixture(t, time.Hour)
	f.call(t, "/mcp", f.is.Token(f.is.Claims("alice", resource, "")))
	hits := f.is.JWKSHits()
	for i := range 5 {
		tok := f.is.TokenWithUnpublishedKey("made-up-"+string(rune('a'+i)), f.is.Claims("alice", resource, ""))
		if got := f.call(t, "/mcp", tok); got.Status != 401 {
			t.Fatalf("unknown kid accepted: %+v", got)
		}
	}
	if got := f.is.JWKSHits() - hits; got != 0 {
		t.Errorf("5 unknown kids within the refetch interval caused %d fetches after the initial one, want 0", got)
	}
}

func TestIntrospection(t *testing.T) {
	f := newFixture(t, time.Hour)
	c := f.is.Claims("bob", resource, "mcp:tools")
	tok := f.is.OpaqueToken(c)
	for range 3 {
		if got := f.call(t, "/mcp", tok); got.Status != 200 {
			t.Fatalf("opaque token: %+v", got)
		}
	}
	if f.seen.Subject != "bob" || f.seen.AuthMethod != identity.MethodOIDC {
		t.Errorf("principal %+v", f.seen)
	}
	if got := f.is.IntrospectionHits(); got != 1 {
		t.Errorf("3 calls caused %d introspections, want 1 (cached)", got)
	}
	if got := f.call(t, "/mcp", "opaque-unknown"); got.Status != 401 || !strings.Contains(got.Challenge, "the token is not active") {
		t.Errorf("inactive token: %+v", got)
	}
	c2 := f.is.Claims("carol", "https://other.example.com", "")
	if got := f.call(t, "/mcp", f.is.OpaqueToken(c2)); got.Status != 401 || !strings.Contains(got.Challenge, "audience") {
		t.Errorf("wrong-audience opaque token: %+v", got)
	}
}

func TestAPIKeys(t *testing.T) {
	f := newFixture(t, time.Hour, "mcp:tools")
	ctx := context.Background()
	key, rec, err := f.store.Create(ctx, "ci-bot", []string{"automation"}, "CI")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "mcpw_") {
		t.Errorf("key %q lacks the prefix", key)
	}
	if got := f.call(t, "/mcp/github", key); got.Status != 200 {
		t.Fatalf("API key refused: %+v", got)
	}
	want := &identity.Principal{Subject: "ci-bot", Groups: []string{"automation"}, AuthMethod: identity.MethodAPIKey,
		Claims: map[string]any{"api_key_id": rec.ID}}
	if diff := cmp.Diff(want, f.seen); diff != "" {
		t.Errorf("principal (-want +got)\n%s", diff)
	}
	list, err := f.store.List(ctx)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil {
		t.Errorf("last use not recorded: %+v %v", list, err)
	}
	// A second store on the same file (the CLI) revokes; the gateway's store sees it on the next request.
	cli, err := identity.NewFileAPIKeyStore(f.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.call(t, "/mcp/github", key); got.Status != 401 || !strings.Contains(got.Challenge, "revoked") {
		t.Errorf("revoked key: %+v", got)
	}
	if got := f.call(t, "/mcp/github", key[:len(key)-1]+"x"); got.Status != 401 {
		t.Errorf("altered key: %+v", got)
	}
	if got := f.call(t, "/mcp/github", "mcpw_short"); got.Status != 401 || !strings.Contains(got.Challenge, "malformed") {
		t.Errorf("malformed key: %+v", got)
	}
}

func TestMetadata(t *testing.T) {
	f := newFixture(t, time.Hour, "mcp:tools")
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	tests := []struct {
		path     string
		status   int
		resource string
	}{
		{"/.well-known/oauth-protected-resource", 200, resource},
		{"/.well-known/oauth-protected-resource/mcp", 200, resource + "/mcp"},
		{"/.well-known/oauth-protected-resource/mcp/github", 200, resource + "/mcp/github"},
		{"/.well-known/oauth-protected-resource/mcp/nope", 404, ""},
	}
	for _, tc := range tests {
		status, m := get(tc.path)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, status, tc.status)
			continue
		}
		if status != 200 {
			continue
		}
		want := map[string]any{"resource": tc.resource, "authorization_servers": []any{f.is.URL},
			"scopes_supported": []any{"mcp:tools"}, "bearer_methods_supported": []any{"header"}}
		delete(m, "resource_name")
		if diff := cmp.Diff(want, m); diff != "" {
			t.Errorf("%s (-want +got)\n%s", tc.path, diff)
		}
	}
}

func TestTokenInQueryRefused(t *testing.T) {
	f := newFixture(t, time.Hour)
	tok := f.is.Token(f.is.Claims("alice", resource, ""))
	resp, err := http.Post(f.srv.URL+"/mcp?access_token="+tok, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}

func TestRefusalReasonIsBounded(t *testing.T) {
	f := newFixture(t, time.Hour)
	c := f.is.Claims("alice", resource, "")
	c["iss"] = strings.Repeat("x\"\r\n", 5000)
	got := f.call(t, "/mcp", f.is.Token(c))
	if got.Status != 401 || len(got.Challenge) > 1000 || strings.ContainsAny(got.Challenge, "\r\n") {
		t.Errorf("status %d, challenge of %d bytes: %.200q", got.Status, len(got.Challenge), got.Challenge)
	}
}

// TestIdPDown: an unreachable IdP gives 503 (not 401: the token may be fine), and is not asked again on
// every request.
func TestIdPDown(t *testing.T) {
	var hits int
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer down.Close()
	now := time.Unix(1_000_000, 0)
	keys := identity.NewJWKS(identity.JWKSOptions{URL: down.URL + "/jwks", Now: func() time.Time { return now }})
	jv, err := identity.NewJWTValidator(identity.JWTOptions{Issuer: "https://idp", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := identity.NewAuthenticator(identity.AuthOptions{Resource: resource, JWT: jv,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	is := identitytest.NewIssuer(t)
	tok := is.Token(is.Claims("alice", resource, ""))
	h := auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("reached the handler") }))
	for range 3 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", rec.Code)
		}
	}
	if hits != 1 {
		t.Errorf("the IdP was asked %d times within the failure backoff, want 1", hits)
	}
	now = now.Add(time.Minute)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	h.ServeHTTP(rec, req)
	if hits != 2 {
		t.Errorf("after the backoff the IdP was asked %d times in all, want 2", hits)
	}
}
