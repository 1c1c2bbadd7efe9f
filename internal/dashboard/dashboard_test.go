package dashboard

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/discovery"
	"github.com/mcpwarden/mcpwarden/internal/discovery/fleet"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

const testToken = "test-admin-token-0123456789"

// newTestServer opens a dashboard on a fresh data_dir (config: one stdio server that is never started, plus
// dashYAML as the dashboard: section) and serves it on a loopback httptest server.
func newTestServer(t *testing.T, dashYAML string, log *slog.Logger) (*httptest.Server, *Dashboard) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mcpwarden.yaml")
	yml := "listen: 127.0.0.1:0\ndata_dir: " + filepath.Join(dir, "data") + "\nservers:\n  - name: db\n    command: [db-server]\n" + dashYAML
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(t.Context(), cfg, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	mux := http.NewServeMux()
	mux.Handle(Path, d)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, d
}

// client does not follow redirects, so tests see them.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login performs the form login with token and returns the session cookie (nil when refused) and the
// response.
func login(t *testing.T, base, token string) (*http.Cookie, *http.Response, string) {
	t.Helper()
	resp, body := do(t, mustReq(t, "GET", base+"/ui/login", nil))
	m := csrfRE.FindStringSubmatch(body)
	lc := cookieOf(resp, loginCookie)
	if m == nil || lc == nil {
		t.Fatalf("login page has no CSRF field or cookie:\n%s", body)
	}
	form := url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/ui/"}}
	req := mustReq(t, "POST", base+"/ui/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.AddCookie(lc)
	resp, body = do(t, req)
	return cookieOf(resp, sessionCookie), resp, body
}

func mustReq(t *testing.T, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestUnauthenticatedPageRedirectsToLogin(t *testing.T) {
	srv, _ := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	for _, p := range []string{"/ui/", "/ui/audit", "/ui/approvals", "/ui/servers", "/ui/fleet", "/ui/policy", "/ui/audit/1"} {
		resp, _ := do(t, mustReq(t, "GET", srv.URL+p, nil))
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login?next=") {
			t.Errorf("GET %s without a session: %d Location %q, want 303 to /ui/login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The JSON API answers 401 rather than redirecting, and a POST without a session is refused.
	if resp, _ := do(t, mustReq(t, "GET", srv.URL+"/ui/api/audit/records", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /ui/api/audit/records without a session: %d, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, mustReq(t, "POST", srv.URL+"/ui/grants/grt-x/revoke", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST revoke without a session: %d, want 401", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv, _ := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	sess, _, _ := login(t, srv.URL, testToken)
	for _, p := range []string{"/ui/login", "/ui/", "/ui/static/app.js", "/ui/nonexistent"} {
		req := mustReq(t, "GET", srv.URL+p, nil)
		req.AddCookie(sess)
		resp, _ := do(t, req)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: Content-Security-Policy allows unsafe-inline: %q", p, csp)
		}
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", p, h, got, want)
			}
		}
	}
	// The session cookie is a __Host- cookie: Secure, HttpOnly, SameSite=Strict, Path=/.
	if !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || sess.Domain != "" {
		t.Errorf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict, Path=/, no Domain", sess)
	}
}

func TestLoginWithWrongTokenRefusedAndRateLimited(t *testing.T) {
	srv, _ := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	sess, resp, body := login(t, srv.URL, "wrong-token-wrong-token")
	if sess != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong token") {
		t.Fatalf("login with a wrong token: %d, session cookie %v, want 401 and no session\n%s", resp.StatusCode, sess, body)
	}
	for range 4 {
		login(t, srv.URL, "still-wrong-still-wrong")
	}
	// Five failures in a minute: even the right token is refused for now.
	if sess, resp, _ := login(t, srv.URL, testToken); sess != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("login after 5 failures: %d, session %v, want 429 and no session", resp.StatusCode, sess)
	}
}

func TestLoginNeedsLoginCSRF(t *testing.T) {
	srv, _ := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	form := url.Values{"token": {testToken}}
	req := mustReq(t, "POST", srv.URL+"/ui/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := do(t, req); resp.StatusCode != http.StatusForbidden || cookieOf(resp, sessionCookie) != nil {
		t.Errorf("login POST without the login form's CSRF token: %d, want 403", resp.StatusCode)
	}
}

func TestStateChangeWithoutCSRFRefused(t *testing.T) {
	srv, _ := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	sess, _, _ := login(t, srv.URL, testToken)
	if sess == nil {
		t.Fatal("login with the right token failed")
	}
	req := mustReq(t, "GET", srv.URL+"/ui/approvals", nil)
	req.AddCookie(sess)
	_, body := do(t, req)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("approvals page has no CSRF field:\n%s", body)
	}
	post := func(form url.Values, origin string) int {
		req := mustReq(t, "POST", srv.URL+"/ui/grants/grt-0000000000/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.AddCookie(sess)
		resp, _ := do(t, req)
		return resp.StatusCode
	}
	if code := post(url.Values{}, srv.URL); code != http.StatusForbidden {
		t.Errorf("revoke without a CSRF token: %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {"forged-forged-forged"}}, srv.URL); code != http.StatusForbidden {
		t.Errorf("revoke with a wrong CSRF token: %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {m[1]}}, "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("revoke with the right token from another origin: %d, want 403", code)
	}
	// With the token, from the dashboard's own origin, the request gets through (to a redirect back with
	// the store's answer: the grant does not exist).
	if code := post(url.Values{"csrf": {m[1]}}, srv.URL); code != http.StatusSeeOther {
		t.Errorf("revoke with the CSRF token: %d, want 303", code)
	}
	// The JSON approvals API behind the login takes the token as a header.
	req = mustReq(t, "POST", srv.URL+"/ui/api/grants/grt-0000000000/revoke", nil)
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(sess)
	if resp, _ := do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("API revoke without X-CSRF-Token: %d, want 403", resp.StatusCode)
	}
	req = mustReq(t, "POST", srv.URL+"/ui/api/grants/grt-0000000000/revoke", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(csrfHeader, m[1])
	req.AddCookie(sess)
	if resp, _ := do(t, req); resp.StatusCode != http.StatusNotFound {
		t.Errorf("API revoke of an unknown grant with X-CSRF-Token: %d, want 404 from the approvals API", resp.StatusCode)
	}
}

func TestEveryPageRendersWhenEmpty(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { everyPageRenders(t, "") })
	t.Run("postgres", func(t *testing.T) {
		everyPageRenders(t, "audit:\n  store: postgres\n  postgres_dsn: "+testenv.PostgresDSN(t)+"\n")
	})
}

func everyPageRenders(t *testing.T, extra string) {
	srv, _ := newTestServer(t, extra+"dashboard:\n  admin_token: "+testToken+"\n", nil)
	sess, _, _ := login(t, srv.URL, testToken)
	for _, p := range []string{"/ui/", "/ui/audit", "/ui/audit?since=1h&decision=deny", "/ui/approvals", "/ui/servers", "/ui/fleet", "/ui/policy"} {
		req := mustReq(t, "GET", srv.URL+p, nil)
		req.AddCookie(sess)
		resp, body := do(t, req)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s: %d\n%s", p, resp.StatusCode, body)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
			t.Errorf("GET %s: the page has inline script or style, which the CSP refuses", p)
		}
	}
	req := mustReq(t, "GET", srv.URL+"/ui/audit/export?since=1h&decision=deny", nil)
	req.AddCookie(sess)
	if resp, _ := do(t, req); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("GET /ui/audit/export: %d %q %q, want a JSON lines attachment", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	req = mustReq(t, "GET", srv.URL+"/ui/audit?since=yesterday", nil)
	req.AddCookie(sess)
	if resp, body := do(t, req); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "neither a duration") {
		t.Errorf("GET /ui/audit?since=yesterday: %d, want 400 naming the problem", resp.StatusCode)
	}
}

func TestGeneratedTokenIsPrivateAndNotLogged(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	srv, d := newTestServer(t, "dashboard:\n  enabled: true\n", log)
	path := filepath.Join(d.cfg.DataDir, config.DashboardTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no generated token file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	tok := strings.TrimSpace(string(b))
	if len(tok) < config.MinDashboardTokenLen {
		t.Fatalf("generated token is %d characters", len(tok))
	}
	if !strings.Contains(logBuf.String(), path) || strings.Contains(logBuf.String(), tok) {
		t.Errorf("the log must name the token file and never hold the token:\n%s", logBuf.String())
	}
	if sess, resp, _ := login(t, srv.URL, tok); sess == nil {
		t.Errorf("login with the generated token: %d", resp.StatusCode)
	}
	if strings.Contains(logBuf.String(), tok) {
		t.Errorf("the token reached the log after a login:\n%s", logBuf.String())
	}
}

// TestFleetPageMarksShadowServers: a shadow server reported by a host is marked in words, not only colour,
// with its risk reasons.
func TestFleetPageMarksShadowServers(t *testing.T) {
	srv, d := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	_, err := d.fleet.SaveReport(t.Context(), fleet.StoredReport{ReportID: "r1", Host: "laptop-7", User: "ann", ReceivedAt: time.Now(),
		Inventory: discovery.Inventory{Servers: []discovery.Server{
			{ID: "s1", Client: "cursor", Name: "postgres-prod", Transport: "stdio", Command: "npx", Args: []string{"pg-mcp"}, Shadow: true,
				Risk: discovery.Risk{Score: 70, Level: "high", Reasons: []discovery.Reason{{Code: "unpinned", Points: 40, Message: "runs an unpinned npx package"}}}},
			{ID: "s2", Client: "cursor", Name: "wrapped", Transport: "stdio", Command: "mcpwarden", Args: []string{"wrap"}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	sess, _, _ := login(t, srv.URL, testToken)
	req := mustReq(t, "GET", srv.URL+"/ui/fleet", nil)
	req.AddCookie(sess)
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/fleet: %d", resp.StatusCode)
	}
	for _, want := range []string{"laptop-7", `<tr class="shadow">`, "✗ shadow", "postgres-prod", "runs an unpinned npx package", "1 of 2 discovered servers"} {
		if !strings.Contains(body, want) {
			t.Errorf("fleet page lacks %q", want)
		}
	}
}

func TestStaticFilesWithoutListing(t *testing.T) {
	srv, _ := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	if resp, body := do(t, mustReq(t, "GET", srv.URL+"/ui/static/app.js", nil)); resp.StatusCode != http.StatusOK || !strings.Contains(body, "liveAudit") {
		t.Errorf("GET /ui/static/app.js: %d", resp.StatusCode)
	}
	if resp, body := do(t, mustReq(t, "GET", srv.URL+"/ui/static/", nil)); resp.StatusCode == http.StatusOK && strings.Contains(body, "app.js") {
		t.Errorf("GET /ui/static/ lists the directory")
	}
}

// TestLoginRedirectStaysInDashboard: the post-login redirect (next) never leaves the dashboard, as a
// browser reads the Location: it drops tabs and newlines first, so "/ui/../\t/evil.example", cleaned to
// "/\t/evil.example" by the redirect, would be the scheme-relative "//evil.example".
func TestLoginRedirectStaysInDashboard(t *testing.T) {
	srv, _ := newTestServer(t, "dashboard:\n  admin_token: "+testToken+"\n", nil)
	base, _ := url.Parse(srv.URL)
	for _, next := range []string{"/ui/../\t/evil.example", "/ui/..\t/\t/evil.example/", "/ui/../\n/evil.example", "/ui/../../evil.example",
		"/ui/..", "/ui/../x", "//evil.example/ui/", "/ui/\\..\\\\evil.example", "https://evil.example/ui/", "/ui/%0a/../../x", "/ui/audit?x=1"} {
		resp, body := do(t, mustReq(t, "GET", srv.URL+"/ui/login", nil))
		m := csrfRE.FindStringSubmatch(body)
		form := url.Values{"csrf": {m[1]}, "token": {testToken}, "next": {next}}
		req := mustReq(t, "POST", srv.URL+"/ui/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		req.AddCookie(cookieOf(resp, loginCookie))
		resp, err := http.DefaultTransport.RoundTrip(req) // the client refuses a Location with control characters
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(resp.Header.Get("Location"))
		u, err := base.Parse(loc)
		if resp.StatusCode != http.StatusSeeOther || err != nil || u.Host != base.Host || !strings.HasPrefix(u.Path, "/ui/") {
			t.Errorf("next=%q: %d Location %q (read by a browser as %v), want a page of the dashboard", next, resp.StatusCode, resp.Header.Get("Location"), u)
		}
	}
}
