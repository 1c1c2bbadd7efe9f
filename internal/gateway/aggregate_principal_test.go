package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

type userHeader struct {
	user string
	rt   http.RoundTripper
}

func (u userHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-User", u.user)
	return u.rt.RoundTrip(r)
}

// TestAggregateModernSessionsArePerPrincipal: 2026-era requests on /mcp run on gateway-owned upstream
// sessions; two users must never share one (their credentials and server-side state differ).
func TestAggregateModernSessionsArePerPrincipal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yml := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nservers:\n%s", dir, stdioServerYAML("a"))
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	authn := func(next http.Handler) http.Handler { // a stand-in for real authentication
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := &identity.Principal{Subject: r.Header.Get("X-Test-User"), AuthMethod: identity.MethodAPIKey}
			next.ServeHTTP(w, r.WithContext(identity.WithPrincipal(r.Context(), p)))
		})
	}
	g, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTPMiddleware: authn})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(g.Handler())
	t.Cleanup(func() { g.Close(context.Background()); ts.Close() })

	pidFor := func(user string) string {
		c := mcp.NewClient(&mcp.Implementation{Name: user, Version: "1"}, nil)
		cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp",
			HTTPClient: &http.Client{Transport: userHeader{user, http.DefaultTransport}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
			t.Fatalf("version %q", v)
		}
		pid, _ := callText(t, cs, "a.pid", nil)
		return pid
	}
	alice1, bob, alice2 := pidFor("alice"), pidFor("bob"), pidFor("alice")
	if alice1 == bob {
		t.Errorf("alice and bob share the upstream process %s", alice1)
	}
	if alice1 != alice2 {
		t.Errorf("alice's requests moved between upstream sessions (%s, %s)", alice1, alice2)
	}
}
