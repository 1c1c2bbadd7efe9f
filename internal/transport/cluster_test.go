package transport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
)

// TestSessionSeal: a sealed id opens with the same secret only; a changed character, another secret or a
// random id does not open; every seal of the same state is a different id.
func TestSessionSeal(t *testing.T) {
	s, err := NewSessionSeal([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	st := sealedSession{Endpoint: "fs", Owner: "alice", Created: 1700000000, Init: []byte(`{"protocolVersion":"2025-11-25"}`)}
	id, err := s.seal(st)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, sealedPrefix) {
		t.Fatalf("id %q lacks the %q prefix", id, sealedPrefix)
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			t.Fatalf("id %q has a character outside visible ASCII", id)
		}
	}
	got, ok := s.open(id)
	if !ok || got.Endpoint != "fs" || got.Owner != "alice" || string(got.Init) != string(st.Init) {
		t.Fatalf("open = %+v, %v", got, ok)
	}
	id2, _ := s.seal(st)
	if id2 == id {
		t.Fatal("two seals of one state gave the same id")
	}
	other, _ := NewSessionSeal([]byte("another secret of enough length!"))
	if _, ok := other.open(id); ok {
		t.Fatal("an id opened under another secret")
	}
	b := []byte(id)
	b[len(b)/2] ^= 1
	for _, bad := range []string{string(b), "0123456789abcdef0123456789abcdef", sealedPrefix, sealedPrefix + "!!!", ""} {
		if _, ok := s.open(bad); ok {
			t.Fatalf("%q opened", bad)
		}
	}
	if _, err := NewSessionSeal([]byte("short")); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

// BenchmarkSessionSeal: sealing a new session id (once per initialize) and opening one (once per session
// and replica that adopts it).
func BenchmarkSessionSeal(b *testing.B) {
	s, _ := NewSessionSeal([]byte("0123456789abcdef0123456789abcdef"))
	st := sealedSession{Endpoint: "fs", Owner: "oidc:alice@https://idp.example.com", Created: 1700000000,
		Init: []byte(`{"protocolVersion":"2025-11-25","capabilities":{"sampling":{},"elicitation":{}},"clientInfo":{"name":"claude-code","version":"2.1.0"}}`)}
	id, _ := s.seal(st)
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			_, _ = s.seal(st)
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			_, _ = s.open(id)
		}
	})
}

// adoptingBackend is a fakeBackend that can adopt sessions, remembering the handshake it was given.
type adoptingBackend struct {
	*fakeBackend
	adopted []*jsonrpc.Message
}

func (b *adoptingBackend) Adopt(ctx context.Context, info *session.Info, sink Sink, init *jsonrpc.Message) (Session, error) {
	b.mu.Lock()
	b.adopted = append(b.adopted, init)
	b.mu.Unlock()
	return b.Open(ctx, info, sink)
}

// TestAdoptAcrossFronts: two fronts share a seal. A session initialized on the first is adopted by the
// second for its owner only, once (the backend gets the client's initialize params), and not on another
// endpoint; a DELETE on the second revokes it, and a third front no longer adopts it. A backend that cannot
// adopt answers 404; a revocation list that cannot be read answers 503 (fail closed).
func TestAdoptAcrossFronts(t *testing.T) {
	seal, _ := NewSessionSeal([]byte("0123456789abcdef0123456789abcdef"))
	var mu sync.Mutex
	revoked := map[string]bool{}
	var down atomic.Bool
	cluster := &ClusterOptions{
		Seal: seal,
		Revoke: func(_ context.Context, id string) error {
			mu.Lock()
			revoked[id] = true
			mu.Unlock()
			return nil
		},
		Revoked: func(_ context.Context, id string) (bool, error) {
			if down.Load() {
				return false, errors.New("database down")
			}
			mu.Lock()
			defer mu.Unlock()
			return revoked[id], nil
		},
	}
	start := func(b Backend) string {
		f := NewHTTPFront(HTTPOptions{
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			SessionOwner: func(r *http.Request) string { return r.Header.Get("X-Test-User") },
			Cluster:      cluster,
		})
		mux := http.NewServeMux()
		mux.Handle("/mcp/x", f.Handler("x", b))
		mux.Handle("/mcp/y", f.Handler("y", b))
		ts := httptest.NewServer(mux)
		t.Cleanup(func() { ts.Close(); f.Close(context.Background()) })
		return ts.URL
	}
	one, two := start(newFakeBackend()), &adoptingBackend{fakeBackend: newFakeBackend()}
	twoURL := start(two)
	alice := map[string]string{"X-Test-User": "alice"}
	r := do(t, "POST", one+"/mcp/x", initBody, alice)
	sid := r.header.Get(HeaderSessionID)
	if r.status != 200 || !strings.HasPrefix(sid, sealedPrefix) {
		t.Fatalf("initialize: %d sid=%q", r.status, sid)
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	with := func(user string) map[string]string {
		return map[string]string{HeaderSessionID: sid, "X-Test-User": user}
	}

	if r := do(t, "POST", twoURL+"/mcp/x", list, with("bob")); r.status != 404 {
		t.Errorf("bob on alice's session at the other front: %d, want 404", r.status)
	}
	if r := do(t, "POST", twoURL+"/mcp/y", list, with("alice")); r.status != 404 {
		t.Errorf("alice's /mcp/x session on /mcp/y: %d, want 404", r.status)
	}
	down.Store(true)
	if r := do(t, "POST", twoURL+"/mcp/x", list, with("alice")); r.status != 503 {
		t.Errorf("adoption while the revocation list cannot be read: %d, want 503 (fail closed)", r.status)
	}
	down.Store(false)
	for i := range 3 {
		if r := do(t, "POST", twoURL+"/mcp/x", list, with("alice")); r.status != 200 || !strings.Contains(r.body, "tools/list") {
			t.Fatalf("alice at the other front, request %d: %d %s", i, r.status, r.body)
		}
	}
	two.mu.Lock()
	if len(two.adopted) != 1 || !strings.Contains(string(two.adopted[0].Params), `"clientInfo":{"name":"t","version":"1"}`) {
		t.Errorf("adoptions: %d, handshake %s; want one with the client's initialize params", len(two.adopted), two.adopted[0].Params)
	}
	if in := two.opened[0]; in.ID != SessionLabel(sid) || in.Endpoint != "x" {
		t.Errorf("adopted session info: id %q endpoint %q, want %q and x", in.ID, in.Endpoint, SessionLabel(sid))
	}
	two.mu.Unlock()

	if r := do(t, "DELETE", twoURL+"/mcp/x", "", with("alice")); r.status != 204 {
		t.Fatalf("DELETE: %d", r.status)
	}
	three := start(&adoptingBackend{fakeBackend: newFakeBackend()})
	if r := do(t, "POST", three+"/mcp/x", list, with("alice")); r.status != 404 {
		t.Errorf("a revoked session at a third front: %d, want 404", r.status)
	}
	// A front whose backend cannot adopt does not serve other fronts' sessions.
	plain := start(newFakeBackend())
	r = do(t, "POST", one+"/mcp/x", initBody, alice)
	sid = r.header.Get(HeaderSessionID)
	if r := do(t, "POST", plain+"/mcp/x", list, with("alice")); r.status != 404 {
		t.Errorf("a backend without Adopt: %d, want 404", r.status)
	}
}
