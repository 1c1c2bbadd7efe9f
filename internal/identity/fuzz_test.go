package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// FuzzJWTValidate feeds arbitrary bearer strings to the validator: it must never panic, and must accept
// only tokens signed by the issuer's key (which the fuzzer cannot produce beyond the seed).
func FuzzJWTValidate(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}
	v, err := NewJWTValidator(JWTOptions{Issuer: "https://idp", Keys: NewJWKS(JWKSOptions{Static: set})})
	if err != nil {
		f.Fatal(err)
	}
	sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, nil)
	good, _ := jwt.Signed(sig).Claims(map[string]any{"iss": "https://idp", "sub": "a", "aud": "r",
		"exp": time.Now().Add(time.Hour).Unix()}).Serialize()
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Add(strings.Repeat(".", 5))
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Validate(context.Background(), tok, []string{"r"})
		if err == nil {
			if tok != good {
				t.Fatalf("accepted a token the fuzzer made: %q → %+v", tok, p)
			}
			return
		}
		var te *TokenError
		if !errors.As(err, &te) {
			t.Fatalf("error is %T (%v), want *TokenError", err, err)
		}
	})
}

// FuzzAPIKey feeds arbitrary keys to the store: never a panic, never an acceptance of another string.
func FuzzAPIKey(f *testing.F) {
	s, err := NewFileAPIKeyStore(filepath.Join(f.TempDir(), "keys.json"))
	if err != nil {
		f.Fatal(err)
	}
	key, _, err := s.Create(context.Background(), "bot", nil, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key)
	f.Add(key[:len(key)-1])
	f.Add("mcpw_")
	f.Add("mcpw_aaaaaaaaaaaaa_" + strings.Repeat("b", 52))
	f.Fuzz(func(t *testing.T, k string) {
		p, err := s.Authenticate(context.Background(), k)
		if err == nil && k != key {
			t.Fatalf("accepted %q as %+v", k, p)
		}
	})
}

// FuzzClaims maps arbitrary JSON claims (an introspection response, a token payload) to a principal.
func FuzzClaims(f *testing.F) {
	f.Add([]byte(`{"sub":"a","realm_access":{"roles":["x",1,null]},"scp":["s1"],"scope":"a b"}`))
	f.Add([]byte(`{"groups":"g","roles":[[]],"scope":7}`))
	m := ClaimMapping{Groups: []string{"groups", "realm_access.roles", "a.b.c.d", "https://x/groups"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var claims map[string]any
		if json.Unmarshal(data, &claims) != nil {
			return
		}
		_ = m.principalFromClaims(claims)
	})
}
