package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpwarden/mcpwarden/internal/identity/identitytest"
)

// oauthUpstream is a go-sdk MCP server that requires bearer tokens issued by an identitytest
// authorization server for its own resource, publishes RFC 9728 metadata, and records which upstream
// account (the token's subject) and which token every tool call carried.
type oauthUpstream struct {
	url string // the MCP endpoint: BASE/mcp
	as  *identitytest.Issuer

	mu     sync.Mutex
	calls  []string // subject of each tools/call
	tokens []string // every Authorization header received
}

func startOAuthUpstream(t *testing.T, as *identitytest.Issuer) *oauthUpstream {
	t.Helper()
	u := &oauthUpstream{as: as}
	srv := mcp.NewServer(&mcp.Implementation{Name: "oauth-up", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "the upstream account of the caller"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			sub := req.Extra.TokenInfo.UserID
			u.mu.Lock()
			u.calls = append(u.calls, sub)
			u.mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "upstream account " + sub}}}, nil, nil
		})
	mux := http.NewServeMux()
	verify := func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		ai, ok := as.Access(token)
		if !ok || ai.Resource != u.url {
			return nil, auth.ErrInvalidToken
		}
		// The issuer's (fake) clock decided validity; the go-sdk checks Expiration against real time.
		return &auth.TokenInfo{UserID: ai.Subject, Scopes: strings.Fields(ai.Scope), Expiration: time.Now().Add(time.Hour)}, nil
	}
	ts := httptest.NewUnstartedServer(mux)
	base := "http://" + ts.Listener.Addr().String()
	u.url = base + "/mcp"
	prmPath := "/.well-known/oauth-protected-resource/mcp"
	mux.Handle(prmPath, auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource: u.url, AuthorizationServers: []string{as.URL}, ScopesSupported: []string{"repo"}}))
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.tokens = append(u.tokens, r.Header.Get("Authorization"))
		u.mu.Unlock()
		auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: base + prmPath})(h).ServeHTTP(w, r)
	}))
	ts.Start()
	t.Cleanup(ts.Close)
	return u
}

func (u *oauthUpstream) seen() (calls, tokens []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.calls...), append([]string(nil), u.tokens...)
}

type oauthEnv struct {
	in   *identitytest.Issuer // the gateway's own identity provider (users' inbound tokens)
	as   *identitytest.Issuer // the upstream server's authorization server
	up   *oauthUpstream
	url  string // gateway base URL
	auth *HTTPAuth
	logs *bytes.Buffer
	dir  string // data_dir: credential store, audit database
}

var logMu sync.Mutex

type lockedWriter struct{ b *bytes.Buffer }

func (w lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.b.Write(p)
}

func (env *oauthEnv) logText() string {
	logMu.Lock()
	defer logMu.Unlock()
	return env.logs.String()
}

// startOAuthGateway runs a gateway with OAuth inbound auth in front of an upstream that requires its own
// OAuth tokens. oauthYAML is the server's oauth: block; preRegister adds client gw/gw-s3cret at the
// upstream's authorization server with the gateway's callback.
func startOAuthGateway(t *testing.T, oauthYAML string, preRegister bool, extraYAML ...string) *oauthEnv {
	t.Helper()
	env := &oauthEnv{in: identitytest.NewIssuer(t), as: identitytest.NewIssuer(t), logs: &bytes.Buffer{}}
	env.up = startOAuthUpstream(t, env.as)
	env.as.RequireResource(env.up.url)
	cfg, dir := loadTestConfig(t, "auth:\n  resource: "+authResource+"\n  issuer: "+env.in.URL+"\n"+strings.Join(extraYAML, "")+
		"servers:\n"+httpServerYAML("gh", env.up.url)+"    oauth: "+oauthYAML+"\n")
	env.dir = dir
	log := slog.New(slog.NewTextHandler(lockedWriter{env.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ha, err := BuildHTTPAuth(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ha.UpstreamOAuth.SetClock(env.as.Now)
	stages, closeStages, err := BuildStages(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeStages() })
	g, err := New(cfg, Options{Logger: log, Stages: stages, HTTPMiddleware: ha.Middleware, SessionOwner: ha.SessionOwner,
		UpstreamHeaders: ha.UpstreamHeaders, UpstreamTransport: ha.UpstreamTransport})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(ha.Wrap(g.Handler()))
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
		if t.Failed() {
			t.Logf("gateway log:\n%s", env.logText())
		}
	})
	ha.UpstreamOAuth.SetBaseURL(ts.URL)
	if preRegister {
		env.as.AddClient(identitytest.Client{ID: "gw", Secret: "gw-s3cret-value", RedirectURIs: []string{ts.URL + "/oauth/upstream/gh/callback"}})
	}
	env.url, env.auth = ts.URL, ha
	return env
}

func (env *oauthEnv) userToken(sub string) string {
	return env.in.Token(env.in.Claims(sub, authResource+"/mcp/gh", "mcp:tools"))
}

// call connects as the inbound user and calls whoami; it returns the text, or the error.
func (env *oauthEnv) call(t *testing.T, inbound string) (string, error) {
	t.Helper()
	cs, err := connectAs(t, env.url+"/mcp/gh", inbound, legacy)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	if err != nil {
		return "", err
	}
	if res.IsError {
		return "", fmt.Errorf("tool error: %v", res.Content)
	}
	return res.Content[0].(*mcp.TextContent).Text, nil
}

var consentURLRE = regexp.MustCompile(`http://[^\s"']+/oauth/upstream/gh/start\?ticket=[A-Za-z0-9_.-]+`)

// browser is a user's web browser: a cookie jar, following redirects, logged in at the upstream's
// authorization server as asUser.
type browser struct {
	c *http.Client
}

func newBrowser(t *testing.T, env *oauthEnv, asUser string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	asURL, _ := url.Parse(env.as.URL)
	jar.SetCookies(asURL, []*http.Cookie{{Name: "as_user", Value: asUser, Path: "/authorize"}})
	return &browser{c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browser) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consent opens the consent link, checks the page, and allows; it returns the final page.
func (b *browser) consent(t *testing.T, env *oauthEnv, link string) (*http.Response, string) {
	t.Helper()
	resp, page := b.get(t, link)
	if resp.StatusCode != 200 {
		t.Fatalf("consent page: HTTP %d: %s", resp.StatusCode, page)
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("consent page has no CSRF field:\n%s", page)
	}
	resp, err := b.c.PostForm(env.url+"/oauth/upstream/gh/start", url.Values{"csrf": {m[1]}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// connect runs the whole first-use flow for inbound user sub as upstream account asUser.
func (env *oauthEnv) connect(t *testing.T, sub, asUser string) {
	t.Helper()
	_, err := env.call(t, env.userToken(sub))
	if err == nil {
		t.Fatalf("%s: call without an upstream token succeeded", sub)
	}
	link := consentURLRE.FindString(err.Error())
	if link == "" {
		t.Fatalf("%s: the error carries no consent link: %v", sub, err)
	}
	resp, page := newBrowser(t, env, asUser).consent(t, env, link)
	if resp.StatusCode != 200 || !strings.Contains(page, "Connected") {
		t.Fatalf("%s: flow ended with HTTP %d: %s", sub, resp.StatusCode, page)
	}
}

func TestUpstreamOAuthTwoUsersOwnTokens(t *testing.T) {
	env := startOAuthGateway(t, "{client_id: gw, client_secret: gw-s3cret-value, scopes: [repo]}", true)
	env.connect(t, "alice", "alice-gh")
	env.connect(t, "bob", "bob-gh")

	for _, tc := range []struct{ sub, want string }{
		{"alice", "upstream account alice-gh"}, {"bob", "upstream account bob-gh"}, {"alice", "upstream account alice-gh"},
	} {
		got, err := env.call(t, env.userToken(tc.sub))
		if err != nil || got != tc.want {
			t.Fatalf("%s's call = %q, %v; want %q", tc.sub, got, err, tc.want)
		}
	}
	calls, tokens := env.up.seen()
	if want := []string{"alice-gh", "bob-gh", "alice-gh"}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("upstream calls by account = %v, want %v", calls, want)
	}
	// The authorization request carried PKCE S256, the resource and the scopes.
	q := env.as.LastAuthorize()
	if q.Get("code_challenge_method") != "S256" || q.Get("resource") != env.up.url || q.Get("scope") != "repo" || q.Get("client_id") != "gw" {
		t.Errorf("authorization request = %v", q)
	}
	// Inbound tokens are never forwarded: every Authorization the upstream saw is an AS-issued token.
	for _, h := range tokens {
		if h != "" && !strings.HasPrefix(h, "Bearer at-") {
			t.Errorf("upstream received Authorization %q, which the upstream's authorization server did not issue", h)
		}
	}
	// Tokens are stored encrypted, per user.
	infos, err := env.auth.Credentials.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	for _, in := range infos {
		if in.Name == "oauth:gh" {
			users[in.User] = true
		}
	}
	if !users["oidc:alice@"+env.in.URL] || !users["oidc:bob@"+env.in.URL] || len(users) != 2 {
		t.Errorf("stored oauth:gh credentials for %v", users)
	}
}

func TestUpstreamOAuthUserCannotUseAnothersToken(t *testing.T) {
	env := startOAuthGateway(t, "{client_id: gw, client_secret: gw-s3cret-value}", true)
	env.connect(t, "alice", "alice-gh")
	// Bob has not connected: he gets the consent error, and nothing of Alice's reaches the upstream for him.
	_, before := env.up.seen()
	_, err := env.call(t, env.userToken("bob"))
	if err == nil || !strings.Contains(err.Error(), "needs your authorization") || !strings.Contains(err.Error(), "oidc:bob@") {
		t.Fatalf("bob's call: %v; want the consent error naming bob", err)
	}
	if link := consentURLRE.FindString(err.Error()); link == "" {
		t.Fatalf("bob's error has no consent link: %v", err)
	}
	if _, after := env.up.seen(); len(after) != len(before) {
		t.Errorf("bob's refused call still sent %d request(s) upstream: %v", len(after)-len(before), after[len(before):])
	}
	// A ticket for Bob cannot be redeemed for another server or twice.
	_, err = env.call(t, env.userToken("bob"))
	link := consentURLRE.FindString(err.Error())
	b := newBrowser(t, env, "bob-gh")
	if resp, _ := b.get(t, strings.Replace(link, "/gh/start", "/other/start", 1)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("ticket on another server path: HTTP %d", resp.StatusCode)
	}
	if resp, _ := b.get(t, link); resp.StatusCode != 200 {
		t.Fatalf("first use of the ticket: HTTP %d", resp.StatusCode)
	}
	if resp, page := b.get(t, link); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "already used") {
		t.Errorf("second use of the ticket: HTTP %d %s", resp.StatusCode, page)
	}
	// A ticket altered to name Alice is refused.
	payload, _, _ := strings.Cut(strings.SplitN(link, "ticket=", 2)[1], ".")
	forged := strings.Replace(link, payload, payload+"x", 1)
	if resp, _ := b.get(t, forged); resp.StatusCode != http.StatusForbidden {
		t.Errorf("altered ticket: HTTP %d", resp.StatusCode)
	}
}

func TestUpstreamOAuthRefresh(t *testing.T) {
	env := startOAuthGateway(t, "{client_id: gw, client_secret: gw-s3cret-value}", true)
	env.connect(t, "alice", "alice-gh")
	alice := env.userToken("alice")
	if got, err := env.call(t, alice); err != nil || got != "upstream account alice-gh" {
		t.Fatalf("call = %q, %v", got, err)
	}

	// The access token expires (the clocks move two hours): the gateway refreshes before sending.
	env.as.Advance(2 * time.Hour)
	alice = env.userToken("alice") // the inbound token is minted at real time; keep it fresh
	if got, err := env.call(t, alice); err != nil || got != "upstream account alice-gh" {
		t.Fatalf("call after expiry = %q, %v", got, err)
	}
	if n := env.as.Grants("refresh_token"); n != 1 {
		t.Errorf("refreshes after expiry = %d, want 1", n)
	}

	// The server refuses a still-unexpired token (revoked): 401, refresh, one retry.
	_, tokens := env.up.seen()
	env.as.RevokeAccess(strings.TrimPrefix(tokens[len(tokens)-1], "Bearer "))
	if got, err := env.call(t, alice); err != nil || got != "upstream account alice-gh" {
		t.Fatalf("call after revocation = %q, %v", got, err)
	}
	if n := env.as.Grants("refresh_token"); n != 2 {
		t.Errorf("refreshes after a 401 = %d, want 2", n)
	}

	// The refresh token is revoked too: the user is asked to consent again.
	env.as.RevokeRefreshTokens()
	env.as.Advance(2 * time.Hour)
	_, err := env.call(t, env.userToken("alice"))
	if err == nil || !strings.Contains(err.Error(), "renewing it was refused") || consentURLRE.FindString(err.Error()) == "" {
		t.Fatalf("call with a refused refresh: %v; want a re-consent error with a link", err)
	}
	env.connect(t, "alice", "alice-gh")
	if got, err := env.call(t, env.userToken("alice")); err != nil || got != "upstream account alice-gh" {
		t.Fatalf("call after re-consent = %q, %v", got, err)
	}
}

func TestUpstreamOAuthConsentPageProtections(t *testing.T) {
	env := startOAuthGateway(t, "{client_id: gw, client_secret: gw-s3cret-value}", true)
	_, err := env.call(t, env.userToken("alice"))
	link := consentURLRE.FindString(fmt.Sprint(err))
	if link == "" {
		t.Fatalf("no consent link in %v", err)
	}
	b := newBrowser(t, env, "alice-gh")
	resp, page := b.get(t, link)
	if resp.StatusCode != 200 {
		t.Fatalf("consent page: HTTP %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q, want frame-ancestors 'none'", csp)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
		t.Errorf("X-Frame-Options = %q", xfo)
	}
	for _, want := range []string{"oidc:alice@", "gh", env.as.URL, "gw", env.url + "/oauth/upstream/gh/callback"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page does not show %q", want)
		}
	}
	// The form must carry the CSRF token bound to the cookie.
	resp, err = b.c.PostForm(env.url+"/oauth/upstream/gh/start", url.Values{"csrf": {"wrong"}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("consent POST with a wrong CSRF token: HTTP %d, want 403", resp.StatusCode)
	}
	csrf := csrfRE.FindStringSubmatch(page)[1]
	other := newBrowser(t, env, "mallory-gh") // no consent cookie
	resp, err = other.c.PostForm(env.url+"/oauth/upstream/gh/start", url.Values{"csrf": {csrf}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("consent POST from a browser without the cookie: HTTP %d, want 403", resp.StatusCode)
	}

	// Callbacks with a missing or made-up state are refused, and nothing is stored.
	for _, q := range []string{"?code=x", "?code=x&state=made-up"} {
		resp, page := b.get(t, env.url+"/oauth/upstream/gh/callback"+q)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "unknown or expired state") {
			t.Errorf("callback%s: HTTP %d %s", q, resp.StatusCode, page)
		}
	}
	// A real state replayed into another browser (the attacker's) is refused: the state is bound to the
	// consent cookie. Stop the victim's browser before the callback to capture the state.
	noFollow := *b.c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = noFollow.PostForm(env.url+"/oauth/upstream/gh/start", url.Values{"csrf": {csrf}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent POST: HTTP %d, want 303 to the authorization server", resp.StatusCode)
	}
	authz, _ := url.Parse(resp.Header.Get("Location"))
	resp, err = noFollow.Get(authz.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, env.url+"/oauth/upstream/gh/callback?") {
		t.Fatalf("authorization server redirected to %q", cb)
	}
	if resp, page := other.get(t, cb); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "another browser session") {
		t.Errorf("callback in another browser: HTTP %d %s", resp.StatusCode, page)
	}
	// The state was single-use: even the right browser cannot complete it now.
	if resp, _ := b.get(t, cb); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed callback: HTTP %d, want 400", resp.StatusCode)
	}
	if _, err := env.call(t, env.userToken("alice")); err == nil {
		t.Error("a refused callback still connected the account")
	}
	// A start page without a ticket needs the gateway's own authentication.
	if resp, _ := other.get(t, env.url+"/oauth/upstream/gh/start"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("start without ticket or token: HTTP %d, want 401", resp.StatusCode)
	}
}

func TestUpstreamOAuthDynamicRegistration(t *testing.T) {
	env := startOAuthGateway(t, "{}", false)
	env.connect(t, "alice", "alice-gh")
	env.connect(t, "bob", "bob-gh")
	if n := env.as.Registrations(); n != 1 {
		t.Errorf("dynamic registrations = %d, want 1 (stored and reused)", n)
	}
	if got, err := env.call(t, env.userToken("bob")); err != nil || got != "upstream account bob-gh" {
		t.Fatalf("bob = %q, %v", got, err)
	}
	// Discovered scopes (the resource's scopes_supported) were requested.
	if q := env.as.LastAuthorize(); q.Get("scope") != "repo" || !strings.HasPrefix(q.Get("client_id"), "client-") {
		t.Errorf("authorization request = %v", q)
	}
}

func TestUpstreamOAuthTokenExchange(t *testing.T) {
	// The upstream trusts the same issuer as the gateway: the gateway exchanges each caller's token.
	env := &oauthEnv{in: identitytest.NewIssuer(t), logs: &bytes.Buffer{}}
	env.as = env.in
	env.up = startOAuthUpstream(t, env.as)
	env.as.AddClient(identitytest.Client{ID: "gw", Secret: "gw-s3cret-value"})
	cfg, _ := loadTestConfig(t, "auth:\n  resource: "+authResource+"\n  issuer: "+env.in.URL+"\n"+
		"servers:\n"+httpServerYAML("gh", env.up.url)+"    oauth: {client_id: gw, client_secret: gw-s3cret-value, token_exchange: {scopes: [repo]}}\n")
	log := slog.New(slog.NewTextHandler(lockedWriter{env.logs}, nil))
	ha, err := BuildHTTPAuth(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Logger: log, HTTPMiddleware: ha.Middleware, SessionOwner: ha.SessionOwner,
		UpstreamHeaders: ha.UpstreamHeaders, UpstreamTransport: ha.UpstreamTransport})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(ha.Wrap(g.Handler()))
	t.Cleanup(func() { ts.Close(); g.Close(context.Background()) })
	env.url = ts.URL
	alice, bob := env.userToken("alice"), env.userToken("bob")
	for _, tc := range []struct{ tok, want string }{{alice, "alice"}, {bob, "bob"}, {alice, "alice"}} {
		if got, err := env.call(t, tc.tok); err != nil || got != "upstream account "+tc.want {
			t.Fatalf("call = %q, %v; want %s", got, err, tc.want)
		}
	}
	_, tokens := env.up.seen()
	for _, h := range tokens {
		if h == "Bearer "+alice || h == "Bearer "+bob {
			t.Fatal("an inbound token was forwarded upstream")
		}
	}
	if n := env.as.Grants("urn:ietf:params:oauth:grant-type:token-exchange"); n != 2 {
		t.Errorf("token exchanges = %d, want 2 (one per user, then cached)", n)
	}
}

var secretRE = regexp.MustCompile(`\b(at|rt|code|secret)-[A-Za-z0-9_-]{16,}`)

func TestUpstreamOAuthSecretsNeverLogged(t *testing.T) {
	// Dynamic registration (a client secret is issued too), and an audit trail that keeps everything.
	env := startOAuthGateway(t, "{}", false, "audit: {capture: full}\n")
	env.connect(t, "alice", "alice-gh")
	env.as.Advance(2 * time.Hour)
	if _, err := env.call(t, env.userToken("alice")); err != nil {
		t.Fatal(err)
	}
	env.as.RevokeRefreshTokens()
	env.as.Advance(2 * time.Hour)
	_, err := env.call(t, env.userToken("alice"))
	if err == nil {
		t.Fatal("want a re-consent error")
	}
	if m := secretRE.FindString(err.Error()); m != "" {
		t.Errorf("the error to the client contains a token or secret: %q", m)
	}
	logs := env.logText()
	if m := secretRE.FindString(logs); m != "" {
		t.Errorf("the gateway log contains a token or secret: %q", m)
	}
	if !strings.Contains(logs, "token refreshed") || !strings.Contains(logs, "account connected") {
		t.Errorf("the log lacks the flow's events:\n%s", logs)
	}
	var stored bytes.Buffer
	infos, _ := env.auth.Credentials.List(t.Context(), "")
	fmt.Fprint(&stored, infos)
	if m := secretRE.FindString(stored.String()); m != "" {
		t.Errorf("credential listing shows %q", m)
	}
	// No file the gateway wrote (credential store, audit database and its WAL) holds a token in clear.
	var files int
	err = filepath.WalkDir(env.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if m := secretRE.Find(data); m != nil {
			t.Errorf("%s contains %q in clear", filepath.Base(path), m)
		}
		return nil
	})
	if err != nil || files < 3 {
		t.Errorf("scanned %d files of the data dir: %v", files, err)
	}
}

func TestUpstreamOAuthConcurrentRefreshOnce(t *testing.T) {
	env := startOAuthGateway(t, "{client_id: gw, client_secret: gw-s3cret-value}", true)
	env.connect(t, "alice", "alice-gh")
	env.as.Advance(2 * time.Hour)
	alice := env.userToken("alice")
	// Refresh tokens rotate at this authorization server: a second refresh with the old one would be
	// refused and log the user out. Concurrent calls must share one refresh.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			if got, err := env.call(t, alice); err != nil || got != "upstream account alice-gh" {
				errs <- fmt.Errorf("call = %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := env.as.Grants("refresh_token"); n != 1 {
		t.Errorf("refreshes = %d, want 1", n)
	}
}
