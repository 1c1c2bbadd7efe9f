package approval

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/identity"
)

// TestHTTPAPI: the dashboard API refuses anonymous callers, decides as the authenticated principal (four-eyes
// and groups apply), and lists, shows, grants and revokes.
func TestHTTPAPI(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "a.db"), nil)
	a, err := st.Create(t.Context(), alice, Requirement{FourEyes: true, Approvers: []string{"dba"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	principal := &identity.Principal{}
	h := NewHTTPHandler(st)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if principal.Subject != "" {
			r = r.WithContext(identity.WithPrincipal(r.Context(), principal))
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type step struct {
		who          identity.Principal
		method, path string
		body         string
		code         int
	}
	aliceP := identity.Principal{Subject: "alice", AuthMethod: identity.MethodOIDC, Issuer: "idp", Groups: []string{"dba"}}
	eve := identity.Principal{Subject: "eve", AuthMethod: identity.MethodOIDC, Issuer: "idp", Groups: []string{"dev"}}
	bobP := identity.Principal{Subject: "bob", AuthMethod: identity.MethodOIDC, Issuer: "idp", Groups: []string{"dba"}}
	var got []int
	var want []int
	for _, s := range []step{
		{identity.Principal{}, "GET", "/approvals", "", http.StatusUnauthorized},
		{bobP, "GET", "/approvals", "", http.StatusOK},
		{bobP, "GET", "/approvals/" + a.ID, "", http.StatusOK},
		{bobP, "GET", "/approvals/apr-nope", "", http.StatusNotFound},
		{bobP, "GET", "/approvals?status=weird", "", http.StatusBadRequest},
		{aliceP, "POST", "/approvals/" + a.ID + "/approve", `{}`, http.StatusForbidden}, // four eyes
		{eve, "POST", "/approvals/" + a.ID + "/approve", `{}`, http.StatusForbidden},    // not a dba
		{bobP, "POST", "/approvals/" + a.ID + "/approve", `{"scope":"forever"}`, http.StatusBadRequest},
		{bobP, "POST", "/approvals/" + a.ID + "/approve", `{"scope":"user","ttl":"1h","reason":"ok"}`, http.StatusOK},
		{bobP, "POST", "/approvals/" + a.ID + "/deny", `{}`, http.StatusForbidden}, // already decided
		{bobP, "GET", "/grants", "", http.StatusOK},
	} {
		*principal = s.who
		code, body := do(s.method, s.path, s.body)
		got, want = append(got, code), append(want, s.code)
		if code != s.code {
			t.Logf("%s %s as %q: %d %s", s.method, s.path, s.who.Subject, code, body)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status codes (-want +got):\n%s", diff)
	}
	*principal = bobP
	_, body := do("GET", "/grants", "")
	var gs []Grant
	if err := json.Unmarshal([]byte(body), &gs); err != nil || len(gs) != 1 || gs[0].GrantedBy != bobP.ID() || gs[0].Scope != ScopeUser {
		t.Fatalf("grants = %s (%v)", body, err)
	}
	if code, body := do("POST", "/grants/"+gs[0].ID+"/revoke", `{}`); code != http.StatusOK {
		t.Errorf("revoke: %d %s", code, body)
	}
	if code, _ := do("POST", "/grants/"+gs[0].ID+"/revoke", `{}`); code != http.StatusNotFound {
		t.Errorf("second revoke: %d, want 404", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/grants/x/revoke", strings.NewReader("scope=user"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form post: %d, want 415", resp.StatusCode)
	}
}
