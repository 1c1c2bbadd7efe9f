package secrets

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestScanEncoded checks that base64-, hex- and percent-encoded credentials are found, that the finding
// spans the encoded bytes, and that Redact removes them.
func TestScanEncoded(t *testing.T) {
	for _, c := range []struct{ name, enc, rule string }{
		{"base64 std", base64.StdEncoding.EncodeToString([]byte(ghPAT)), "github-pat"},
		{"base64 std of a sentence", base64.StdEncoding.EncodeToString([]byte("my token is " + ghPAT + " ok")), "github-pat"},
		{"base64 url, unpadded", base64.RawURLEncoding.EncodeToString([]byte(ghPAT + " ??>>")), "github-pat"}, // holds '_' and '-'
		{"base64 of a stripe key", base64.StdEncoding.EncodeToString([]byte(stripe)), "stripe-access-token"},
		{"hex", hex.EncodeToString([]byte(awsKey)), "aws-access-token"},
		{"hex upper", strings.ToUpper(hex.EncodeToString([]byte(ghPAT))), "github-pat"},
		{"percent", strings.ReplaceAll(url.QueryEscape("token "+ghPAT), "_", "%5F"), "github-pat"},
		{"percent, every byte", percentAll(ghPAT), "github-pat"},
	} {
		text := "see " + c.enc + ", then stop"
		fs := Scan(text)
		var got *Finding
		for i := range fs {
			if fs[i].RuleID == c.rule {
				got = &fs[i]
			}
		}
		if got == nil {
			t.Errorf("%s: %q not found: %+v", c.name, c.enc, fs)
			continue
		}
		if got.Start < 4 || got.End > 4+len(c.enc) {
			t.Errorf("%s: span %d..%d outside the encoded run 4..%d", c.name, got.Start, got.End, 4+len(c.enc))
		}
		if red := Redact(text, fs); strings.Contains(red, c.enc) || !strings.Contains(red, "[REDACTED:"+c.rule+"]") || !strings.HasPrefix(red, "see ") || !strings.HasSuffix(red, ", then stop") {
			t.Errorf("%s: redacted %q", c.name, red)
		}
	}
	// The span is the encoded bytes of the credential: the escapes and the base64 quanta that hold it.
	pct := "u=https://x.example/?q=token+" + strings.ReplaceAll(ghPAT, "_", "%5F") + "&page=2"
	if red := Redact(pct, Scan(pct)); red != "u=https://x.example/?q=token+[REDACTED:github-pat]&page=2" {
		t.Errorf("percent: redacted %q", red)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("abc" + ghPAT + "xyz"))
	if red := Redact(b64, Scan(b64)); red != b64[:4]+"[REDACTED:github-pat]"+b64[len(b64)-4:] {
		t.Errorf("base64: redacted %q", red)
	}
	// In JSON, as the gateway sees tool arguments.
	doc := `{"q":"` + base64.StdEncoding.EncodeToString([]byte(ghPAT)) + `"}`
	if red, _ := RedactJSON([]byte(doc), nil); string(red) != `{"q":"[REDACTED:github-pat]"}` {
		t.Errorf("RedactJSON: %s", red)
	}
}

func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{s[i]})))
	}
	return b.String()
}

// TestScanEncodedHonest checks that encoded values that hold no credential raise no alarm.
func TestScanEncodedHonest(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var texts []string
	for i := range 200 {
		raw := make([]byte, 12+r.IntN(64))
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		sum := sha256.Sum256(raw)
		texts = append(texts,
			base64.StdEncoding.EncodeToString(raw),
			base64.RawURLEncoding.EncodeToString(raw),
			hex.EncodeToString(raw),
			hex.EncodeToString(sum[:]),
			"sha256:"+hex.EncodeToString(sum[:]),
			url.QueryEscape(string(raw)),
			fake("", alnum, 20+i%40, uint64(100+i)),
		)
	}
	texts = append(texts,
		// Encoded prose, paths and queries.
		base64.StdEncoding.EncodeToString([]byte("To authenticate, set the API key in your environment and pass max_tokens.")),
		hex.EncodeToString([]byte("The password reset flow sends a one-time link.")),
		"https://example.com/search?q=api%20key%20rotation%20best%20practices&page=2",
		"/usr/local/share/doc/some-package/README.md",
		"3f2b8c1e-7d4a-4e9b-9c2f-1a6d5e8b7c90 9c1185a5c5e9fc54612808977ee8f548b2258d31",
		// A JSON Web Token whose claims are public (no secret by the rules): the jwt rule's call, not the decoder's.
		"Authorization: see eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9 header",
		base64.StdEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"sub":"1234567890","name":"John Doe","iat":1516239022}`)),
	)
	for _, text := range texts {
		if fs := Scan(text); len(fs) > 0 {
			t.Errorf("false alarm on %q: %+v", text, fs)
		}
	}
}

// TestCandidateRuns checks which runs reach the decoder.
func TestCandidateRuns(t *testing.T) {
	gh := base64.StdEncoding.EncodeToString([]byte(ghPAT))
	for _, c := range []struct {
		text string
		want []string
	}{
		{"plain prose, with words and a path/to/a/file.go", nil},
		{"x " + gh + " y", []string{gh}},
		{"x=" + hex.EncodeToString([]byte(ghPAT)) + ";", []string{hex.EncodeToString([]byte(ghPAT))}},
		{"random " + hex.EncodeToString([]byte{0x01, 0xff, 0x10, 0x80, 0x99, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33}), nil},
		{`"a=%41%42" b`, []string{"a=%41%42"}},
		{"a=%00&k=" + gh, []string{gh}},
	} {
		var got []string
		eachCandidate(c.text, func(s, e int, _ runKind) { got = append(got, c.text[s:e]) })
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: runs %q, want %q", c.text, got, c.want)
		}
	}
}

// TestCandidateRunsSkipAhead checks the skipping search for base64 runs against a regular expression,
// on random texts of short and long words (no '%': percent runs are checked above).
func TestCandidateRunsSkipAhead(t *testing.T) {
	re := regexp.MustCompile(`[A-Za-z0-9+/_-]{20,}`)
	r := rand.New(rand.NewPCG(7, 8))
	const alphabet = "dGVzdA0123456789+/_- .=\n\"é"
	for range 2000 {
		var b strings.Builder
		for range r.IntN(12) {
			n := r.IntN(40)
			if r.IntN(3) == 0 {
				b.WriteString(strings.Repeat("dGVz", n/4+1)) // a run whose quanta decode to printable bytes
			}
			for range n {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
		}
		text := b.String()
		var got, want []string
		eachCandidate(text, func(s, e int, _ runKind) { got = append(got, text[s:e]) })
		for _, m := range re.FindAllStringIndex(text, -1) {
			run(text, m[0], m[1], func(s, e int, _ runKind) { want = append(want, text[s:e]) })
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: runs %q, want %q", text, got, want)
		}
	}
}
