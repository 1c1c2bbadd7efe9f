package gateway

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity/identitytest"
)

// TestGroupRestrictedToolEndToEnd: identity and policy together — a tool the policy grants only to a group is
// visible to and callable by a user whose token carries that group, and invisible (calls answered like an
// unknown tool) to a user whose token does not.
func TestGroupRestrictedToolEndToEnd(t *testing.T) {
	is := identitytest.NewIssuer(t)
	up := httptest.NewServer(newTestHTTPUpstream("up", false))
	t.Cleanup(up.Close)
	body := "auth:\n  resource: " + authResource + "\n  issuer: " + is.URL + "\n  claims: {groups: [realm_access.roles]}\n" +
		"servers:\n" + httpServerYAML("up", up.URL) +
		`policy:
  extends: default
  rules:
    - id: admins-echo
      groups: [admins]
      tools: [echo]
      effect: allow
    - id: nobody-else-echo
      tools: [echo]
      effect: deny
`
	ts := startStaged(t, body, func(cfg *config.Config) Options {
		auth, err := BuildHTTPAuth(t.Context(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return Options{HTTPMiddleware: auth.Middleware, SessionOwner: auth.SessionOwner}
	})
	token := func(sub string, roles ...string) string {
		c := is.Claims(sub, authResource, "mcp:tools")
		c["realm_access"] = map[string]any{"roles": roles}
		return is.Token(c)
	}
	for _, tc := range []struct {
		user, role string
		sees       bool
	}{
		{"alice", "admins", true},
		{"bob", "dev", false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			cs, err := connectAs(t, ts.URL+"/mcp/up", token(tc.user, tc.role), legacy)
			if err != nil {
				t.Fatal(err)
			}
			if got := contains(toolNames(t, cs), "echo"); got != tc.sees {
				t.Errorf("%s sees echo in tools/list = %v, want %v", tc.user, got, tc.sees)
			}
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
			switch {
			case tc.sees && (err != nil || res.IsError):
				t.Errorf("%s calling echo: %v %+v", tc.user, err, res)
			case !tc.sees && err == nil && !res.IsError:
				t.Errorf("%s could call a tool hidden from the group it lacks", tc.user)
			case !tc.sees && err != nil && !strings.Contains(strings.ToLower(err.Error()), "unknown tool"):
				t.Errorf("%s: hidden tool answered %v, want the unknown-tool answer", tc.user, err)
			}
		})
	}
}
