package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/identity/identitytest"
	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
)

// authResource is the gateway's public base URL in these tests (loopback http is accepted).
const authResource = "http://localhost:8740"

// principalLog is a test Identity stage that records the principal of every client→server exchange.
type principalLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *principalLog) stage(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) (*jsonrpc.Message, error) {
		if x.Msg.Method == "tools/call" {
			l.mu.Lock()
			l.ids = append(l.ids, x.Principal.ID())
			l.mu.Unlock()
		}
		return next(ctx, x)
	}
}

func (l *principalLog) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

// headerSpy records every Authorization header an upstream received.
type headerSpy struct {
	mu   sync.Mutex
	seen []string
}

func (s *headerSpy) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Header.Get("Authorization"))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (s *headerSpy) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

type authEnv struct {
	is       *identitytest.Issuer
	url      string // gateway base URL
	cfg      *config.Config
	auth     *HTTPAuth
	log      *principalLog
	upstream *headerSpy
}

// startAuthGateway runs a gateway with an auth section pointing at a real test issuer, in front of a real
// Streamable HTTP upstream and a stdio one.
func startAuthGateway(t *testing.T, extraAuth string, upExtra ...string) *authEnv {
	t.Helper()
	env := &authEnv{is: identitytest.NewIssuer(t), log: &principalLog{}, upstream: &headerSpy{}}
	up := httptest.NewServer(env.upstream.wrap(newTestHTTPUpstream("up", false)))
	t.Cleanup(up.Close)
	cfg, _ := loadTestConfig(t, "auth:\n  resource: "+authResource+"\n  issuer: "+env.is.URL+"\n  jwks_refetch_interval: 1ns\n"+
		"  claims: {groups: [realm_access.roles]}\n"+extraAuth+
		"servers:\n"+httpServerYAML("up", up.URL)+strings.Join(upExtra, "")+stdioServerYAML("local"))
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	auth, err := BuildHTTPAuth(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Logger: log, Stages: Stages{Identity: env.log.stage},
		HTTPMiddleware: auth.Middleware, SessionOwner: auth.SessionOwner, UpstreamHeaders: auth.UpstreamHeaders,
		UpstreamEnv: auth.UpstreamEnv})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(auth.Wrap(g.Handler()))
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	env.url, env.cfg, env.auth = ts.URL, cfg, auth
	return env
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func connectAs(t *testing.T, endpoint, token, version string) (*mcp.ClientSession, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tr := &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearer{token}}, MaxRetries: -1}
	cs, err := newClient(&recorder{}).Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, err
}

func (env *authEnv) token(sub string, aud string) string {
	c := env.is.Claims(sub, aud, "mcp:tools")
	c["realm_access"] = map[string]any{"roles": []string{"dev"}}
	return env.is.Token(c)
}

func TestAuthValidTokenReachesUpstream(t *testing.T) {
	env := startAuthGateway(t, "")
	for _, tc := range []struct {
		endpoint, version, aud, tool, want string
	}{
		{"/mcp/up", legacy, authResource + "/mcp/up", "echo", "up:hi"},
		{"/mcp/up", "2026-07-28", authResource, "echo", "up:hi"},
		{"/mcp/local", legacy, authResource + "/mcp/local", "echo", "local:hi"},
		{"/mcp", legacy, authResource + "/mcp", "up.echo", "up:hi"},
	} {
		t.Run(strings.TrimPrefix(tc.endpoint, "/")+"@"+tc.version, func(t *testing.T) {
			tok := env.token("alice", tc.aud)
			cs, err := connectAs(t, env.url+tc.endpoint, tok, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			before := len(env.log.calls())
			if got, _ := callText(t, cs, tc.tool, map[string]any{"text": "hi"}); got != tc.want {
				t.Errorf("call = %q, want %q", got, tc.want)
			}
			calls := env.log.calls()[before:]
			if diff := cmp.Diff([]string{"oidc:alice@" + env.is.URL}, calls); diff != "" {
				t.Errorf("principals seen by the chain (-want +got)\n%s", diff)
			}
			for _, h := range env.upstream.values() {
				if h != "" {
					t.Fatalf("the upstream received Authorization %q; the client's token must never be forwarded", h)
				}
			}
		})
	}
	if len(env.upstream.values()) == 0 {
		t.Fatal("the upstream saw no request")
	}
}

// post sends one JSON-RPC message and returns the status, WWW-Authenticate and session id.
func post(t *testing.T, url, token, session, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", legacy)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Mcp-Session-Id")
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

func TestAuthRefusals(t *testing.T) {
	env := startAuthGateway(t, "  required_scopes: [mcp:tools]\n")
	aud := authResource + "/mcp/up"
	expired := env.is.Claims("alice", aud, "mcp:tools")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	wrongIss := env.is.Claims("alice", aud, "mcp:tools")
	wrongIss["iss"] = "https://evil.example.com"
	good := env.is.Claims("alice", aud, "mcp:tools")
	md := `resource_metadata="` + authResource + `/.well-known/oauth-protected-resource/mcp/up"`
	tests := []struct {
		name   string
		token  string
		status int
		want   string // a part of WWW-Authenticate
	}{
		{"no token", "", 401, "Bearer " + md},
		{"expired", env.is.Token(expired), 401, `error="invalid_token", error_description="the token expired at`},
		{"wrong audience", env.token("alice", "https://other.example.com"), 401, `error_description="audience`},
		{"wrong issuer", env.is.Token(wrongIss), 401, `error_description="issuer 'https://evil.example.com'`},
		{"alg none", identitytest.UnsignedToken("k1", good), 401, `signing algorithm 'none' is not accepted`},
		{"unknown kid", env.is.TokenWithUnpublishedKey("nope", good), 401, `unknown key (kid 'nope')`},
		{"tampered", identitytest.Tamper(env.is.Token(good)), 401, `signature verification failed`},
		{"missing scope", env.is.Token(env.is.Claims("alice", aud, "openid")), 403, `error="insufficient_scope", error_description="the token lacks scope mcp:tools", scope="mcp:tools"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, challenge, _ := post(t, env.url+"/mcp/up", tc.token, "", initBody)
			if status != tc.status || !strings.Contains(challenge, tc.want) || !strings.Contains(challenge, md) {
				t.Errorf("got %d %q, want %d with %q and %q", status, challenge, tc.status, tc.want, md)
			}
		})
	}
	if n := len(env.upstream.values()); n != 0 {
		t.Errorf("refused requests reached the upstream %d times", n)
	}
	// The metadata named in the challenge is served.
	resp, err := http.Get(env.url + "/.well-known/oauth-protected-resource/mcp/up")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"resource":"`+authResource+`/mcp/up"`)) ||
		!bytes.Contains(body, []byte(env.is.URL)) {
		t.Errorf("metadata: %d %s", resp.StatusCode, body)
	}
}

func TestAuthKeyRotation(t *testing.T) {
	env := startAuthGateway(t, "")
	aud := authResource + "/mcp/up"
	if status, _, _ := post(t, env.url+"/mcp/up", env.token("alice", aud), "", initBody); status != 200 {
		t.Fatalf("before rotation: %d", status)
	}
	env.is.Rotate("k2", "ES256")
	if status, ch, _ := post(t, env.url+"/mcp/up", env.token("alice", aud), "", initBody); status != 200 {
		t.Fatalf("token with the rotated key: %d %s", status, ch)
	}
}

func TestAuthSessionBoundToPrincipal(t *testing.T) {
	env := startAuthGateway(t, "")
	aud := authResource + "/mcp/up"
	alice, bob := env.token("alice", aud), env.token("bob", aud)
	status, _, sid := post(t, env.url+"/mcp/up", alice, "", initBody)
	if status != 200 || sid == "" {
		t.Fatalf("initialize: %d, session %q", status, sid)
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if status, _, _ := post(t, env.url+"/mcp/up", bob, sid, list); status != http.StatusNotFound {
		t.Errorf("bob using alice's session: %d, want 404", status)
	}
	if status, _, _ := post(t, env.url+"/mcp/up", alice, sid, list); status != 200 {
		t.Errorf("alice using her session: %d, want 200", status)
	}
}

func TestAuthAPIKeys(t *testing.T) {
	env := startAuthGateway(t, "")
	key, rec, err := env.auth.APIKeys.Create(t.Context(), "ci-bot", []string{"automation"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := connectAs(t, env.url+"/mcp/up", key, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := callText(t, cs, "echo", map[string]any{"text": "k"}); got != "up:k" {
		t.Errorf("call = %q", got)
	}
	if diff := cmp.Diff([]string{"api_key:ci-bot"}, env.log.calls()); diff != "" {
		t.Errorf("principals (-want +got)\n%s", diff)
	}
	if err := env.auth.APIKeys.Revoke(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	if status, ch, _ := post(t, env.url+"/mcp/up", key, "", initBody); status != 401 || !strings.Contains(ch, "revoked") {
		t.Errorf("revoked key: %d %q", status, ch)
	}
}

func TestBuildHTTPAuthLocalModes(t *testing.T) {
	load := func(t *testing.T, listen, auth string) *config.Config {
		dir := t.TempDir()
		cfg, err := config.Parse([]byte("listen: "+listen+"\ndata_dir: "+dir+"\n"+auth+"servers: [{name: a, command: [x]}]\n"),
			filepath.Join(dir, "c.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name, listen, auth string
		wantErr            string
		wantMiddleware     bool
	}{
		{"loopback without auth", "127.0.0.1:0", "", "", false},
		{"localhost without auth", "localhost:0", "", "", false},
		{"ipv6 loopback", "'[::1]:0'", "", "", false},
		{"all interfaces without auth", "0.0.0.0:8740", "", "reachable from other machines, but no auth: section", false},
		{"empty host without auth", "':8740'", "", "reachable from other machines", false},
		{"LAN address without auth", "192.168.1.5:8740", "", "reachable from other machines", false},
		{"explicit opt-out", "0.0.0.0:8740", "auth: {mode: none}\n", "", true},
		{"api keys", "0.0.0.0:8740", "auth: {mode: api_key}\n", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := BuildHTTPAuth(t.Context(), load(t, tc.listen, tc.auth), quiet)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (a.Middleware != nil) != tc.wantMiddleware {
				t.Errorf("middleware set = %v, want %v", a.Middleware != nil, tc.wantMiddleware)
			}
		})
	}
}

func TestAuthModeNoneIsAnonymous(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte("listen: 0.0.0.0:0\ndata_dir: "+dir+"\nauth: {mode: none}\nservers: [{name: a, command: [x]}]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	a, err := BuildHTTPAuth(t.Context(), cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logBuf.String(), "AUTHENTICATION IS OFF") {
		t.Errorf("no loud warning logged: %q", logBuf.String())
	}
	var got *identity.Principal
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = identity.FromContext(r.Context()) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp/a", nil))
	if got == nil || got.ID() != "none:anonymous" {
		t.Errorf("principal = %+v, want none:anonymous", got)
	}
}

// TestAuthPerUserUpstreamCredentials: each user's own stored secret reaches the upstream in the configured
// header; the client's gateway token never does; a user without a secret gets an error saying what to do.
func TestAuthPerUserUpstreamCredentials(t *testing.T) {
	env := startAuthGateway(t, "", "    credentials: {name: gh, format: \"token {secret}\"}\n")
	ctx := t.Context()
	for _, u := range []string{"alice", "bob"} {
		if err := env.auth.Credentials.Set(ctx, "oidc:"+u+"@"+env.is.URL, "gh", []byte(u+"-secret-gh")); err != nil {
			t.Fatal(err)
		}
	}
	aud := authResource + "/mcp/up"
	tokens := map[string]string{}
	for _, u := range []string{"alice", "bob"} {
		tokens[u] = env.token(u, aud)
		cs, err := connectAs(t, env.url+"/mcp/up", tokens[u], legacy)
		if err != nil {
			t.Fatal(err)
		}
		before := len(env.upstream.values())
		if got, _ := callText(t, cs, "echo", map[string]any{"text": u}); got != "up:"+u {
			t.Errorf("%s: call = %q", u, got)
		}
		seen := env.upstream.values()[before:]
		if len(seen) == 0 {
			t.Fatalf("%s: the upstream saw no request", u)
		}
		for _, h := range seen {
			if h != "token "+u+"-secret-gh" {
				t.Errorf("%s: upstream got Authorization %q, want %q", u, h, "token "+u+"-secret-gh")
			}
		}
	}
	// The 2026 era (one upstream request per call) carries the caller's secret too.
	cs, err := connectAs(t, env.url+"/mcp/up", tokens["bob"], "2026-07-28")
	if err != nil {
		t.Fatal(err)
	}
	before := len(env.upstream.values())
	callText(t, cs, "echo", map[string]any{"text": "m"})
	for _, h := range env.upstream.values()[before:] {
		if h != "token bob-secret-gh" {
			t.Errorf("2026 era: upstream got %q", h)
		}
	}
	// carol has no secret: her call is refused before reaching the upstream, with instructions.
	req, _ := http.NewRequest(http.MethodPost, env.url+"/mcp/up", strings.NewReader(initBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+env.token("carol", aud))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`"error"`)) || !bytes.Contains(body, []byte("mcpwarden credentials set")) {
		t.Errorf("carol without a credential got %s", body)
	}
	for _, h := range env.upstream.values() {
		for _, tok := range tokens {
			if strings.Contains(h, tok) {
				t.Fatal("a client's gateway token reached the upstream")
			}
		}
	}
}

// Servers whose name starts with "peruser" report the credential their process was started with, and the
// process id.
func init() {
	extraTestTools = append(extraTestTools, func(s *mcp.Server, name string) {
		if !strings.HasPrefix(name, "peruser") {
			return
		}
		mcp.AddTool(s, &mcp.Tool{Name: "whoenv", Description: "Report the process's credential."},
			func(ctx context.Context, req *mcp.CallToolRequest, in struct{}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: os.Getenv("SVC_TOKEN") + "|" + strconv.Itoa(os.Getpid())}}}, nil, nil
			})
	})
}

// TestAuthPerUserStdioProcesses: a stdio server with credentials: {env: …} runs one process per user,
// started with that user's own secret — for each 2025-era session and for 2026-era requests, on the
// per-server and the aggregate endpoint. A user never reaches another user's process, and a user without
// a secret is refused before any process starts.
func TestAuthPerUserStdioProcesses(t *testing.T) {
	entry := stdioServerYAML("peruser") + "    credentials: {name: svc, env: SVC_TOKEN}\n"
	env := startAuthGateway(t, "", entry)
	ctx := t.Context()
	for _, u := range []string{"alice", "bob"} {
		if err := env.auth.Credentials.Set(ctx, "oidc:"+u+"@"+env.is.URL, "svc", []byte(u+"-secret-svc")); err != nil {
			t.Fatal(err)
		}
	}
	who := func(u, endpoint, tool, version string) (secret, pid string) {
		t.Helper()
		cs, err := connectAs(t, env.url+endpoint, env.token(u, authResource+endpoint), version)
		if err != nil {
			t.Fatalf("%s on %s (%s): %v", u, endpoint, version, err)
		}
		got, _ := callText(t, cs, tool, nil)
		secret, pid, _ = strings.Cut(got, "|")
		return secret, pid
	}
	pids := map[string]string{}
	for _, u := range []string{"alice", "bob"} {
		for _, c := range []struct{ endpoint, tool, version string }{
			{"/mcp/peruser", "whoenv", legacy}, {"/mcp/peruser", "whoenv", "2026-07-28"},
			{"/mcp", "peruser.whoenv", legacy}, {"/mcp", "peruser.whoenv", "2026-07-28"},
		} {
			secret, pid := who(u, c.endpoint, c.tool, c.version)
			if secret != u+"-secret-svc" {
				t.Errorf("%s on %s (%s): the process has %q", u, c.endpoint, c.version, secret)
			}
			if owner, seen := pids[pid]; seen && owner != u {
				t.Errorf("%s on %s (%s) reached %s's process %s", u, c.endpoint, c.version, owner, pid)
			}
			pids[pid] = u
		}
	}
	// carol has no secret: refused with instructions, and no process is started for her.
	// (The 2026-era client's discovery at connect already needs the process.)
	_, err := connectAs(t, env.url+"/mcp/peruser", env.token("carol", authResource+"/mcp/peruser"), "2026-07-28")
	if err == nil || !strings.Contains(err.Error(), "mcpwarden credentials set") || strings.Contains(err.Error(), "secret-svc") {
		t.Errorf("carol without a credential: %v", err)
	}
	// 2026-era requests of one user share that user's process.
	_, p1 := who("alice", "/mcp/peruser", "whoenv", "2026-07-28")
	_, p2 := who("alice", "/mcp/peruser", "whoenv", "2026-07-28")
	if p1 != p2 || pids[p1] != "alice" {
		t.Errorf("alice's 2026-era requests ran in processes %s and %s (owners %q, %q)", p1, p2, pids[p1], pids[p2])
	}
}

// TestAuthTokenPassthroughOptIn: a server with token_passthrough receives the caller's own token only when
// the token's audience also names the server; a token issued for the gateway alone is refused and never
// reaches it. The config warns about the opt-in.
func TestAuthTokenPassthroughOptIn(t *testing.T) {
	env := startAuthGateway(t, "", "    token_passthrough: {audience: \"https://up.example\"}\n")
	if !slices.ContainsFunc(env.cfg.Warnings, func(w string) bool { return strings.Contains(w, "token passthrough") }) {
		t.Errorf("no warning about token passthrough: %q", env.cfg.Warnings)
	}
	aud := authResource + "/mcp/up"
	c := env.is.Claims("alice", aud, "mcp:tools")
	c["aud"] = []string{aud, "https://up.example"}
	both := env.is.Token(c)
	cs, err := connectAs(t, env.url+"/mcp/up", both, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := callText(t, cs, "echo", map[string]any{"text": "x"}); got != "up:x" {
		t.Fatalf("call = %q", got)
	}
	if vals := env.upstream.values(); len(vals) == 0 || vals[len(vals)-1] != "Bearer "+both {
		t.Errorf("the upstream did not get the caller's token")
	}
	only := env.token("bob", aud) // issued for the gateway alone
	before := len(env.upstream.values())
	if _, err := connectAs(t, env.url+"/mcp/up", only, legacy); err == nil || !strings.Contains(err.Error(), "https://up.example") {
		t.Errorf("a token for the gateway alone: %v", err)
	}
	for _, h := range env.upstream.values()[before:] {
		if strings.Contains(h, only) {
			t.Fatal("a token issued for the gateway alone reached the upstream")
		}
	}
}
