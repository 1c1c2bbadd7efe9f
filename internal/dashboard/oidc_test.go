package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/identity/identitytest"
)

// dashHost is the dashboard's configured URL in the OIDC tests; the test rewrites the issuer's redirect to
// the httptest server.
const dashHost = "http://dash.test"

// oidcLogin walks the code flow like a browser: start, the issuer's authorize endpoint, then the callback.
// It returns the callback's response, its body and the callback URL (for replays).
func oidcRoundTrip(t *testing.T, base string) (*http.Response, string, string) {
	t.Helper()
	resp, _ := do(t, mustReq(t, "GET", base+"/ui/oidc/start?next=/ui/approvals", nil))
	flow := cookieOf(resp, oidcCookie)
	if resp.StatusCode != http.StatusSeeOther || flow == nil || flow.SameSite != http.SameSiteLaxMode || !flow.Secure {
		t.Fatalf("oidc/start: %d, flow cookie %+v; want 303 and a Secure SameSite=Lax cookie", resp.StatusCode, flow)
	}
	authz, _ := url.Parse(resp.Header.Get("Location"))
	if q := authz.Query(); q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" ||
		q.Get("redirect_uri") != dashHost+"/ui/oidc/callback" {
		t.Fatalf("authorization request %s lacks PKCE, nonce, state or the redirect URI", authz)
	}
	resp, _ = do(t, mustReq(t, "GET", authz.String(), nil))
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), dashHost+"/ui/oidc/callback") {
		t.Fatalf("the issuer redirected to %q", resp.Header.Get("Location"))
	}
	cb := base + back.Path + "?" + back.RawQuery
	req := mustReq(t, "GET", cb, nil)
	req.AddCookie(flow)
	resp, body := do(t, req)
	return resp, body, cb
}

func oidcServer(t *testing.T) (*identitytest.Issuer, string) {
	is := identitytest.NewIssuer(t)
	srv, _ := newTestServer(t, "auth:\n  issuer: "+is.URL+"\n  resource: http://127.0.0.1:8740\n"+
		"dashboard:\n  admin_token: "+testToken+"\n  url: "+dashHost+"/ui/\n  oidc:\n    client_id: "+is.ClientID+
		"\n    client_secret: "+is.ClientSecret+"\n    allowed_groups: [mcp-admins]\n    allowed_users: [bob]\n", nil)
	return is, srv.URL
}

// TestOIDCLogin: a member of an allowed group logs in through the issuer (code flow with PKCE) and gets a
// session as the OIDC principal; the callback cannot be replayed.
func TestOIDCLogin(t *testing.T) {
	is, base := oidcServer(t)
	is.LogIn(map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []string{"staff", "mcp-admins"}})
	resp, body, cb := oidcRoundTrip(t, base)
	sess := cookieOf(resp, sessionCookie)
	if resp.StatusCode != http.StatusOK || sess == nil || !strings.Contains(body, `content="0; url=/ui/approvals"`) {
		t.Fatalf("callback: %d, session %v, want 200 with a session and a same-site hop to /ui/approvals\n%s", resp.StatusCode, sess, body)
	}
	req := mustReq(t, "GET", base+"/ui/approvals", nil)
	req.AddCookie(sess)
	if resp, body := do(t, req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "oidc:alice@"+is.URL) {
		t.Errorf("approvals page after OIDC login: %d, want it signed in as oidc:alice@%s", resp.StatusCode, is.URL)
	}
	// Replaying the callback (same code, same state) finds no login in progress.
	req = mustReq(t, "GET", cb, nil)
	if resp, _ := do(t, req); resp.StatusCode == http.StatusOK || cookieOf(resp, sessionCookie) != nil {
		t.Errorf("replayed callback: %d, want a refusal", resp.StatusCode)
	}
	// The login page offers single sign-on.
	if _, body := do(t, mustReq(t, "GET", base+"/ui/login", nil)); !strings.Contains(body, `href="/ui/oidc/start?next=`) {
		t.Errorf("login page has no single sign-on link")
	}
}

// TestOIDCLoginRefusals: a user outside allowed_groups and allowed_users, a tampered state and a login
// the issuer refused get no session.
func TestOIDCLoginRefusals(t *testing.T) {
	is, base := oidcServer(t)
	is.LogIn(map[string]any{"sub": "mallory", "groups": []string{"staff"}})
	if resp, body, _ := oidcRoundTrip(t, base); resp.StatusCode != http.StatusForbidden || cookieOf(resp, sessionCookie) != nil ||
		!strings.Contains(body, "mallory may not use this dashboard") {
		t.Errorf("user outside the allowed groups: %d, want 403 and no session\n%s", resp.StatusCode, body)
	}
	is.LogIn(map[string]any{"sub": "bob"}) // allowed by name
	if resp, _, _ := oidcRoundTrip(t, base); resp.StatusCode != http.StatusOK || cookieOf(resp, sessionCookie) == nil {
		t.Errorf("user in allowed_users: %d, want a session", resp.StatusCode)
	}

	// A callback whose state is not the one this browser's login started with.
	resp, _ := do(t, mustReq(t, "GET", base+"/ui/oidc/start", nil))
	flow := cookieOf(resp, oidcCookie)
	authz, _ := url.Parse(resp.Header.Get("Location"))
	resp, _ = do(t, mustReq(t, "GET", authz.String(), nil))
	back, _ := url.Parse(resp.Header.Get("Location"))
	q := back.Query()
	q.Set("state", "forged-state-forged-state")
	req := mustReq(t, "GET", base+back.Path+"?"+q.Encode(), nil)
	req.AddCookie(flow)
	if resp, _ := do(t, req); resp.StatusCode != http.StatusForbidden || cookieOf(resp, sessionCookie) != nil {
		t.Errorf("callback with a forged state: %d, want 403 and no session", resp.StatusCode)
	}

	is.LogIn(nil) // the issuer answers access_denied
	if resp, body, _ := oidcRoundTrip(t, base); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "access_denied") {
		t.Errorf("login refused by the issuer: %d, want 403 naming the error\n%s", resp.StatusCode, body)
	}
}
