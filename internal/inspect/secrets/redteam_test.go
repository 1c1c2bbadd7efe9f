package secrets

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

// Red-team shapes of a credential in tool arguments and results (ScanJSON, what the gateway scans).
// Tokens are built at run time so that the source holds no scanner-tripping literal.
func rtTokens() (gh, aws string) {
	gh = "ghp_" + "Zq7rT2mX9vB4nK8wY1cL5pD3fH6jS0aGuE2i"
	aws = "AKIA" + "Q3EGRT7WPLK5NZ2M"
	return gh, aws
}

// wrap breaks s into lines of n bytes, as MIME bodies are (JSON-escaped line breaks).
func wrap(s string, n int) string {
	var lines []string
	for len(s) > n {
		lines, s = append(lines, s[:n]), s[n:]
	}
	return strings.Join(append(lines, s), `\n`)
}

func TestRedTeamSecretShapes(t *testing.T) {
	gh, aws := rtTokens()
	long := strings.Repeat("lorem ipsum dolor sit amet ", 80000) // ~2 MB
	type tc struct {
		name, doc string
		want      bool // found today (true) or a documented miss (false)
	}
	cases := []tc{
		{"plain value", `{"q":"` + gh + `"}`, true},
		{"JSON-escaped first letter", `{"q":"\u0067hp_` + gh[4:] + `"}`, true},
		{"AWS key JSON-escaped", `{"q":"\u0041KIA` + aws[4:] + `"}`, true},
		{"object key", `{"` + gh + `":true}`, true},
		{"_meta", `{"_meta":{"trace":"` + gh + `"},"q":"x"}`, true},
		{"nested JSON in a string", `{"body":"{\"auth\":\"` + gh + `\"}"}`, true},
		{"doubly nested JSON", `{"body":"{\"inner\":\"{\\\"t\\\":\\\"` + gh + `\\\"}\"}"}`, true},
		{"after 2 MB of text", `{"q":"` + long + gh + `"}`, true},
		{"array element", `{"a":["x","` + gh + `"]}`, true},
		{"URL query", `{"u":"https://api.example/x?access_token=` + gh + `"}`, true},
		{"zero-width inside", `{"q":"ghp_Zq7rT2mX9v\u200bB4nK8wY1cL5pD3fH6jS0aGuE2i"}`, true},
		{"soft hyphen and word joiner inside", "{\"q\":\"ghp_Zq7rT2\u00admX9vB4nK8wY1cL5\u2060pD3fH6jS0aGuE2i\"}", true},
		{"base64", `{"q":"` + base64.StdEncoding.EncodeToString([]byte(gh)) + `"}`, true},
		{"hex", `{"q":"` + hex.EncodeToString([]byte(gh)) + `"}`, true},
		{"percent-encoded", `{"q":"` + strings.ReplaceAll(url.QueryEscape("token "+gh), "_", "%5F") + `"}`, true},
		{"base64 of hex", `{"q":"` + base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString([]byte(gh)))) + `"}`, false},
		{"base64 with a NUL byte", `{"q":"` + base64.StdEncoding.EncodeToString([]byte(gh+"\x00")) + `"}`, false},
		{"base64 wrapped across the key", `{"q":"` + wrap(base64.StdEncoding.EncodeToString([]byte("Subject: hello, token "+gh)), 28) + `"}`, false},
		{"split over two arguments", `{"a":"ghp_Zq7rT2mX9vB4nK8w","b":"Y1cL5pD3fH6jS0aGuE2i"}`, false},
	}
	honest := []string{
		`{"id":"3f2b8c1e-7d4a-4e9b-9c2f-1a6d5e8b7c90"}`,
		`{"sha":"9c1185a5c5e9fc54612808977ee8f548b2258d31","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`,
		`{"doc":"Set AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE and AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`,
		`{"page_token":"CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA3","max_tokens":4096,"token_type":"Bearer"}`,
		`{"commit":"a94a8fe5ccb19ba61c4c0873d391e987982fbbd3","etag":"W/\"5d41402abc4b2a76b9719d911017c592\""}`,
	}
	misses, alarms := 0, 0
	for _, c := range cases {
		got := len(ScanJSON([]byte(c.doc))) > 0
		if !got {
			misses++
		}
		if got != c.want {
			t.Errorf("%s: found=%v, want %v", c.name, got, c.want)
		}
	}
	for _, h := range honest {
		if fs := ScanJSON([]byte(h)); len(fs) > 0 {
			alarms++
			t.Errorf("false alarm on %s: %+v", h, fs)
		}
	}
	// Redaction removes the whole credential, invisible characters included.
	zw := "key: ghp_Zq7rT2mX9v\u200bB4nK8wY1cL5pD3fH6jS0aGuE2i, done"
	if red := Redact(zw, Scan(zw)); red != "key: [REDACTED:github-pat], done" {
		t.Errorf("redacted %q", red)
	}
	t.Logf("secret shapes: %d/%d missed; honest: %d/%d alarmed", misses, len(cases), alarms, len(honest))
}
