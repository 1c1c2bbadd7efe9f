package pii

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type hit struct {
	Kind       string
	Value      string
	Confidence Confidence
}

func hits(text string, fs []Finding) []hit {
	var out []hit
	for _, f := range fs {
		out = append(out, hit{f.RuleID, text[f.Start:f.End], f.Confidence})
	}
	return out
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// Test data is made up or is a documented test value: issuer test card numbers (4111…, 5555…4444,
// 3782…0005), the IBAN examples of the registry (GB82 WEST…, DE89 3704…), and an SSN in a valid range
// that belongs to no one in particular in these tests.
var (
	jwtToken   = b64(`{"alg":"HS256","typ":"JWT"}`) + "." + b64(`{"sub":"1234567890","name":"Jane Roe","iat":1700000000}`) + "." + b64("not-a-real-signature-0123456789")
	jwtNoAlg   = b64(`{"typ":"JWT","kid":"k1"}`) + "." + b64(`{"sub":"x"}`) + "." + b64("signature-bytes-here")
	pemBlock   = "-----BEGIN EC " + "PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oLkYVbQrDmS1oAoGCCqGSM49\nAwEHoUQDQgAE\n-----END EC " + "PRIVATE KEY-----"
	pemTrunc   = "-----BEGIN " + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
	certBlock  = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----"
	uuidSample = "123e4567-e89b-12d3-a456-426614174000"
)

func TestScan(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []hit
	}{
		{"email", "contact jane.roe+mcp@mail.example.org today", []hit{{KindEmail, "jane.roe+mcp@mail.example.org", Medium}}},
		{"email at end of sentence", "Write to ops@example.com.", []hit{{KindEmail, "ops@example.com", Medium}}},
		{"visa grouped", "card 4111 1111 1111 1111 exp 12/29", []hit{{KindCard, "4111 1111 1111 1111", High}}},
		{"mastercard plain", "pan=5555555555554444;", []hit{{KindCard, "5555555555554444", High}}},
		{"amex 4-6-5", "amex 3782-822463-10005", []hit{{KindCard, "3782-822463-10005", High}}},
		{"iban grouped", "IBAN: GB82 WEST 1234 5698 7654 32 (UK)", []hit{{KindIBAN, "GB82 WEST 1234 5698 7654 32", High}}},
		{"iban compact", "to DE89370400440532013000 please", []hit{{KindIBAN, "DE89370400440532013000", High}}},
		{"ssn with context", "SSN: 123-45-6789", []hit{{KindSSN, "123-45-6789", High}}},
		{"ssn without context", "id 123-45-6789 on file", []hit{{KindSSN, "123-45-6789", Medium}}},
		{"ssn digits with context", "social security number 123456789", []hit{{KindSSN, "123456789", Medium}}},
		{"e164", "call +44 20 7946 0958 now", []hit{{KindPhone, "+44 20 7946 0958", Medium}}},
		{"e164 compact", "whatsapp +491711234567", []hit{{KindPhone, "+491711234567", Medium}}},
		{"nanp parens", "Phone: (415) 555-2671", []hit{{KindPhone, "(415) 555-2671", Medium}}},
		{"nanp +1 parens", "Phone: +1 (415) 555-2671", []hit{{KindPhone, "+1 (415) 555-2671", Medium}}},
		{"nanp dashes", "tel 415-555-2671.", []hit{{KindPhone, "415-555-2671", Medium}}},
		{"french national", "appelez le 01 23 45 67 89", []hit{{KindPhone, "01 23 45 67 89", Low}}},
		{"ipv4 public", "connect to 81.2.69.160 port 22", []hit{{KindIPv4, "81.2.69.160", Medium}}},
		{"ipv4 documentation range", "connect to 203.0.113.42 port 22", []hit{{KindIPv4, "203.0.113.42", Low}}},
		{"ipv4 with port in url", "GET http://10.1.2.3:8080/health", []hit{{KindIPv4, "10.1.2.3", Low}}},
		{"ipv4 cidr", "allow 192.168.0.0/16", []hit{{KindIPv4, "192.168.0.0", Low}}},
		{"ipv6 public", "listen [2a00:1450:4007:80e::200e]:443", []hit{{KindIPv6, "2a00:1450:4007:80e::200e", Medium}}},
		{"ipv6 documentation", "listen [2001:db8::8a2e:370:7334]:443", []hit{{KindIPv6, "2001:db8::8a2e:370:7334", Low}}},
		{"ipv6 full link-local", "addr fe80:0:0:0:202:b3ff:fe1e:8329 up", []hit{{KindIPv6, "fe80:0:0:0:202:b3ff:fe1e:8329", Low}}},
		{"jwt", "Authorization: Bearer " + jwtToken, []hit{{KindJWT, jwtToken, High}}},
		{"pem private key", "key:\n" + pemBlock + "\n", []hit{{KindPrivateKey, pemBlock, High}}},
		{"truncated pem", pemTrunc, []hit{{KindPrivateKey, pemTrunc, Medium}}},
		{"several", "jane@example.com, +14155552671, 4111111111111111", []hit{{KindEmail, "jane@example.com", Medium}, {KindPhone, "+14155552671", Medium}, {KindCard, "4111111111111111", High}}},

		// Honest data that must not match.
		{"versions", "go1.26.8, v1.2.3, 10.0.19041.1, 1.20.300.4, node 22.23.3", nil},
		{"version with 4 parts after v", "release v4.0.0.0 is out", nil},
		{"dates and times", "2025-11-24 10:15:30, 24/11/2025, 2025-11-24T10:15:30.123Z, 11-24-2025", nil},
		{"uuid", "id " + uuidSample, nil},
		{"hashes", "sha1 3f2a9c1e8b7d6f5a4c3b2a1908f7e6d5c4b3a291 md5 9e107d9d372bb6826bd81d3542a419d6", nil},
		{"timestamps", "ts=1700000000 ms=1700000000123 ns=1700000000123456789", nil},
		{"luhn-invalid 16 digits", "order 4111111111111112 shipped", nil},
		{"luhn-valid but unknown issuer", "ref 1234567812345670", nil},
		{"long id", "snowflake 1098765432109876543", nil},
		{"invalid ssn ranges", "000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000", nil},
		{"invalid iban checksum", "GB82 WEST 1234 5698 7654 33", nil},
		{"not a jwt: header without alg", jwtNoAlg, nil},
		{"certificate is not a key", certBlock, nil},
		{"file names with @", "icon@2x.png logo@3x.webp lodash@4.17.21 @scope/pkg", nil},
		{"times and mac", "12:30:45 and 00:1a:2b:3c:4d:5e and std::vector", nil},
		{"ports and counts", "port 8080, 443 requests, 3.14159, 1,234,567 rows", nil},
		{"semver ranges", "^1.2.3 || ~2.0.0 >=3.0.0-beta.1", nil},
		{"phone-like but not", "build 2024-0115-7788 and isbn 978-3-16-148410-0", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Scan(tt.text)
			if diff := cmp.Diff(tt.want, hits(tt.text, fs)); diff != "" {
				t.Errorf("Scan(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestPreviewMasks(t *testing.T) {
	tests := []struct{ text, want string }{
		{"jane.roe@example.org", "j***@example.org"},
		{"4111 1111 1111 1111", "**** **** **** 1111"},
		{"GB82 WEST 1234 5698 7654 32", "GB** **** **** **** **54 32"},
		{"SSN 123-45-6789", "***-**-6789"},
	}
	for _, tt := range tests {
		fs := Scan(tt.text)
		if len(fs) != 1 {
			t.Fatalf("Scan(%q) = %d findings, want 1", tt.text, len(fs))
		}
		if diff := cmp.Diff(tt.want, fs[0].Preview); diff != "" {
			t.Errorf("preview of %q (-want +got):\n%s", tt.text, diff)
		}
	}
}

func TestRedact(t *testing.T) {
	in := "Mail jane@example.com or call (415) 555-2671; card 4111 1111 1111 1111."
	want := "Mail [REDACTED:email] or call [REDACTED:phone]; card [REDACTED:payment-card]."
	if diff := cmp.Diff(want, Redact(in, nil)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestScanAndRedactJSON(t *testing.T) {
	raw := []byte(`{"user":{"email":"jane@example.com","phones":["+14155552671"],"note":"pay to DE89370400440532013000 today","jane@example.com":1},"n":4111111111111111}`)
	var got []string
	for _, f := range ScanJSON(raw) {
		got = append(got, f.Path+" "+f.RuleID)
	}
	want := []string{"$.user.email email", "$.user.phones[0] phone", "$.user.note iban", "$.user[\"jane@example.com\"] email"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ScanJSON (-want +got):\n%s", diff)
	}
	out, changed := RedactJSON(raw, nil)
	wantOut := `{"user":{"email":"[REDACTED:email]","phones":["[REDACTED:phone]"],"note":"pay to [REDACTED:iban] today","[REDACTED:email]":1},"n":4111111111111111}`
	if diff := cmp.Diff(wantOut, string(out)); diff != "" || !changed {
		t.Errorf("RedactJSON changed=%v (-want +got):\n%s", changed, diff)
	}
	clean := []byte(`{"version":"1.2.3","id":"` + uuidSample + `","at":"2025-11-24T10:15:30Z"}`)
	if out, changed := RedactJSON(clean, nil); changed || &out[0] != &clean[0] {
		t.Errorf("RedactJSON changed a clean document: %s", out)
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{"", "jane@example.com", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "+1 (415) 555-2671",
		"2001:db8::1", jwtToken, pemBlock, pemTrunc, "-----BEGIN ", "eyJ", "(((((", "+", "@", "::", "SSN 123-45-6789", "DE89"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := Scan(s)
		end := -1
		for _, x := range fs {
			if x.Start < 0 || x.End > len(s) || x.Start >= x.End {
				t.Fatalf("finding %+v out of range for %d bytes", x, len(s))
			}
			if x.Start < end {
				t.Fatalf("overlapping findings in %q: %+v", s, fs)
			}
			end = x.End
		}
		red := Redact(s, fs)
		if len(fs) == 0 && red != s {
			t.Fatal("Redact changed text without findings")
		}
	})
}

func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"jane@example.com"}`, `["4111111111111111"]`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, changed := RedactJSON(raw, nil)
		if !changed && string(out) != string(raw) {
			t.Fatal("changed = false but output differs")
		}
		if json.Valid(raw) && !json.Valid(out) {
			t.Fatalf("redaction broke valid JSON: %q → %q", raw, out)
		}
	})
}

func BenchmarkScan(b *testing.B) {
	text := strings.Repeat("2025-11-24T10:15:30Z INFO user=jane id=123e4567-e89b-12d3-a456-426614174000 v1.2.3 took 12ms, 1,234 rows; see https://example.com/docs?page=2\n", 80)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Scan(text)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(text))*1024/1000, "µs/KB")
}
