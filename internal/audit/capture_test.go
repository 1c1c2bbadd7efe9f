package audit

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCapturePayload(t *testing.T) {
	in := `{"path":"/tmp/x","api_key":"k-123","nested":{"Password":"hunter2","count":3,"max_tokens":10},` +
		`"list":["plain","Bearer abcdefghijklmnop"],"note":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}`
	for _, tc := range []struct {
		name string
		c    Capturer
		in   string
		want string
	}{
		{"redacted", Capturer{}, in,
			`{"api_key":"[REDACTED]","list":["plain","[REDACTED]"],"nested":{"Password":"[REDACTED]","count":3,"max_tokens":10},"note":"[REDACTED]","path":"/tmp/x"}`},
		{"full keeps bytes", Capturer{Mode: CaptureFull}, `{"api_key":"k"}`, `{"api_key":"k"}`},
		{"none", Capturer{Mode: CaptureNone}, in, ``},
		{"hashed", Capturer{Mode: CaptureHashed, HMACKey: []byte("k")}, `{"a":1,"b":[null,"x"]}`,
			`{"a":"hmac-sha256:bfd6d3c0a1d7df6ff45b9b52b8e2bd1f1f2a86ba0c47f4f5ba7be1c5e9463ee6","b":[null,"hmac-sha256:2d4d6f1d8d3ac5e2f1fbbc6c7a3d6a0f77c2b1b0d8f3ec8c0ddc6f8c14e9de2b"]}`},
		{"oversized", Capturer{Mode: CaptureFull, MaxBytes: 8}, `{"text":"0123456789"}`,
			`{"_omitted":"larger than the 8-byte capture limit","bytes":21,"sha256":"95b4fd3a8f6b8ab0e2ad0e1b1b0c0e9d2c0f7d5b0ec0f9f0bfa1b1d5c4a1ec8e"}`},
		{"not JSON", Capturer{}, `{"a":`, ``},
		{"absent", Capturer{}, ``, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(tc.c.Payload(json.RawMessage(tc.in)))
			if tc.name == "hashed" || tc.name == "oversized" || tc.name == "not JSON" {
				// Digest values depend on the key and input; check the shape instead.
				if tc.name == "not JSON" {
					if !strings.Contains(got, `"_omitted":"not valid JSON"`) {
						t.Errorf("got %s, want an omitted stub", got)
					}
					return
				}
				var w, g map[string]any
				_ = json.Unmarshal([]byte(tc.want), &w)
				if err := json.Unmarshal([]byte(got), &g); err != nil {
					t.Fatalf("%s: %v", got, err)
				}
				if len(w) != len(g) {
					t.Errorf("got %s, want the shape of %s", got, tc.want)
				}
				if tc.name == "oversized" && (g["_omitted"] != w["_omitted"] || g["bytes"] != w["bytes"]) {
					t.Errorf("got %s", got)
				}
				if tc.name == "hashed" && (!strings.HasPrefix(g["a"].(string), "hmac-sha256:") || strings.Contains(got, `"x"`)) {
					t.Errorf("got %s", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCaptureDoesNotModifyInput(t *testing.T) {
	in := json.RawMessage(`{"token":"abc","x":1}`)
	keep := string(in)
	_ = (&Capturer{}).Payload(in)
	if string(in) != keep {
		t.Errorf("input changed to %s", in)
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer x"}, "X-Api-Key": {"k"}, "Mcp-Param-Region": {"eu"}, "Cookie": {"a=b"}}
	want := map[string][]string{"Authorization": {Redacted}, "X-Api-Key": {Redacted}, "Mcp-Param-Region": {"eu"}, "Cookie": {Redacted}}
	if diff := cmp.Diff(want, Headers(h)); diff != "" {
		t.Errorf("Headers (-want +got):\n%s", diff)
	}
	if Headers(nil) != nil {
		t.Error("Headers(nil) != nil")
	}
}

func FuzzCapturePayload(f *testing.F) {
	for _, s := range []string{`{"api_key":"x"}`, `[1,"Bearer abcdefghijklmnopq"]`, `"s"`, `{"a":{"b":[{"password":null}]}}`, `{`, `1e999`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []*Capturer{{}, {Mode: CaptureHashed, HMACKey: []byte("k")}, {MaxBytes: 16}} {
			out := c.Payload(json.RawMessage(s))
			if len(out) > 0 && !json.Valid(out) {
				t.Fatalf("mode %q: stored payload is not JSON: %s", c.Mode, out)
			}
		}
	})
}

// TestPayloadScanned: a payload the caller's detectors already found clean skips the Redact hook, and
// still gets the built-in field-name and credential-shape redaction; other modes are unchanged.
func TestPayloadScanned(t *testing.T) {
	calls := 0
	c := &Capturer{Redact: func(s string) (string, bool) { calls++; return "[hooked]", true }}
	raw := json.RawMessage(`{"text":"a long plain sentence","api_key":"abcdef123456","auth":"Bearer abcdefghijklmnop"}`)
	if got, want := string(c.PayloadScanned(raw)), `{"api_key":"[REDACTED]","auth":"[REDACTED]","text":"a long plain sentence"}`; got != want || calls != 0 {
		t.Fatalf("scanned: %s (hook called %d times), want %s", got, calls, want)
	}
	if got := string(c.Payload(raw)); !strings.Contains(got, `"text":"[hooked]"`) || calls == 0 {
		t.Fatalf("unscanned payload skipped the hook: %s", got)
	}
	h := &Capturer{Mode: CaptureHashed, HMACKey: []byte("k")}
	if a, b := string(h.PayloadScanned(raw)), string(h.Payload(raw)); a != b {
		t.Fatalf("hashed mode differs: %s vs %s", a, b)
	}
}

// TestSecretValueQuickTest: the literal pre-test never changes SecretValue's answer: it matches the plain
// regexp on every alternative's shape, in any case, embedded in text, with non-ASCII look-alikes, and on
// random mixtures of those pieces.
func TestSecretValueQuickTest(t *testing.T) {
	pieces := []string{"bearer ", "Basic ", "BEARER\t", "eyJ", "EYj", "abcdefgh", "ABCDEFGH", ".", "-----BEGIN RSA PRIVATE KEY-----",
		"-----begin private key-----", "sk_live_", "RK_TEST_", "pk_test_", "sk-", "SK-", "ghp_", "GHO_", "ghu_", "gHs_", "ghr_",
		"github_pat_", "GITHUB_PAT_", "AKIA", "akia", "xoxb-", "XOXP-", "AIza", "aiza", "glpat-", "GLPAT-", "ſk-", "K", "ſ",
		"0123456789ABCDEF", "abcdefghijklmnopqrstuvwxyz0123456789", "_", "-", " ", "é", "\u212akia", "g", "h", "x", "o"}
	check := func(s string) {
		t.Helper()
		want := len(s) >= 16 && secretValue.MatchString(s)
		if got := SecretValue(s); got != want {
			t.Fatalf("SecretValue(%q) = %v, the regexp alone says %v", s, got, want)
		}
	}
	for _, p := range pieces {
		for _, tail := range []string{"", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ", ".abcdefghijkl.mnopqrstuvwx.yz"} {
			check(p + tail)
			check("prefix " + p + tail)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		check(b.String())
	}
}

// BenchmarkSecretValue: a typical tool description (no credential), and a credential.
//
//	go test -run '^$' -bench SecretValue ./internal/audit/
func BenchmarkSecretValue(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"text", "Search the web for pages matching a query and return their titles, links and a short summary of each."},
		{"token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				SecretValue(c.s)
			}
		})
		b.Run(c.name+"/regexp", func(b *testing.B) {
			for range b.N {
				_ = len(c.s) >= 16 && secretValue.MatchString(c.s)
			}
		})
	}
}
