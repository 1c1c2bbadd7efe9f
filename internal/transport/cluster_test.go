package transport

import (
	"strings"
	"testing"
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
