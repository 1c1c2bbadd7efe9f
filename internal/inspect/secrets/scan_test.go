package secrets

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fake builds a made-up credential: prefix + n characters drawn from alphabet by a fixed-seed generator.
// Keys are assembled at run time so that the repository itself holds no string a secret scanner would
// flag; none of them was ever a real credential.
func fake(prefix, alphabet string, n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	var b strings.Builder
	b.WriteString(prefix)
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

const (
	alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	hexa  = "0123456789abcdef"
)

var (
	ghPAT    = fake("gh"+"p_", alnum, 36, 1)
	awsKey   = fake("AK"+"IA", upper, 16, 2)
	slackBot = "xox" + "b-" + fake("", "0123456789", 10, 3) + "-" + fake("", "0123456789", 13, 4) + "-" + fake("", alnum, 24, 5)
	stripe   = fake("sk"+"_live_", alnum, 28, 6)
	genericV = fake("", alnum, 28, 7)
	pemKey   = "-----BEGIN RSA " + "PRIVATE KEY-----\n" + fake("MIIEpAIBAAKCAQEA", alnum, 64, 8) + "\n" + fake("", alnum, 64, 9) + "\n-----END RSA " + "PRIVATE KEY-----"
)

type hit struct {
	Rule       string
	Secret     string
	Confidence Confidence
}

func hits(text string, fs []Finding) []hit {
	var out []hit
	for _, f := range fs {
		out = append(out, hit{f.RuleID, text[f.Start:f.End], f.Confidence})
	}
	return out
}

func TestScan(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []hit
	}{
		{"github pat", "use token " + ghPAT + " for the API", []hit{{"github-pat", ghPAT, High}}},
		{"aws access key", "AWS_ACCESS_KEY_ID=" + awsKey, []hit{{"aws-access-token", awsKey, High}}},
		{"slack bot token on a later line", "# config\nSLACK=" + slackBot + "\n", []hit{{"slack-bot-token", slackBot, High}}},
		{"stripe live key", "charge with " + stripe, []hit{{"stripe-access-token", stripe, High}}},
		{"generic key assignment", `api_key = "` + genericV + `"`, []hit{{"generic-api-key", genericV, Medium}}},
		{"pem private key", "key:\n" + pemKey + "\nend", []hit{{"private-key", pemKey, High}}},
		{"two secrets", ghPAT + " and " + awsKey, []hit{{"github-pat", ghPAT, High}, {"aws-access-token", awsKey, High}}},
		{"multibyte text before the secret", "clé → résumé\nnouvelle clé " + ghPAT, []hit{{"github-pat", ghPAT, High}}},
		// Honest data that must not match.
		{"empty", "", nil},
		{"version and date", "mcpwarden v1.2.3 released 2025-11-24T10:00:00Z", nil},
		{"git sha", "commit 3f2a9c1e8b7d6f5a4c3b2a1908f7e6d5c4b3a291 Merge pull request #42", nil},
		{"uuid", "request id 123e4567-e89b-12d3-a456-426614174000 done", nil},
		{"sha256", "sha256:" + fake("", hexa, 64, 10), nil},
		{"prose about tokens", "The token bucket refills every second; pass max_tokens to limit the reply.", nil},
		{"placeholder", `export API_KEY="your-api-key-here"`, nil},
		{"token counts", `usage: prompt_tokens=1234 completion_tokens=567 total_tokens=1801`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Scan(tt.text)
			if diff := cmp.Diff(tt.want, hits(tt.text, fs)); diff != "" {
				t.Errorf("Scan(%q) (-want +got):\n%s", tt.text, diff)
			}
			for _, f := range fs {
				if strings.Contains(f.Preview, tt.text[f.Start:f.End]) {
					t.Errorf("preview %q reveals the secret", f.Preview)
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"use " + ghPAT + " now", "use [REDACTED:github-pat] now"},
		{"a " + awsKey + " b " + ghPAT, "a [REDACTED:aws-access-token] b [REDACTED:github-pat]"},
		{"nothing here", "nothing here"},
		{"x\n" + pemKey, "x\n[REDACTED:private-key]"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Redact(tt.in, nil)); diff != "" {
			t.Errorf("Redact(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestApplySpansMergesOverlaps(t *testing.T) {
	got := applySpans("0123456789", []span{{1, 5, "[A]"}, {3, 7, "[B]"}, {8, 9, "[C]"}})
	if diff := cmp.Diff("0[A]7[C]9", got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestIsSecretName(t *testing.T) {
	yes := []string{"api_key", "API-Key", "apiKey", "password", "DB_PASSWORD", "passwd", "token", "github_token",
		"Authorization", "private_key", "client_secret", "aws_secret_access_key", "x-api-key", "Cookie",
		"refresh_token", "access-token", "secret", "stripe.secret", "passphrase", "SESSION_ID", "bearer"}
	no := []string{"max_tokens", "next_page_token", "token_type", "public_key", "access_key_id", "secret_name",
		"prompt_tokens", "tokens", "name", "author", "key", "keys", "password_policy", "description", "",
		"tokenizer", "passenger"}
	for _, n := range yes {
		if !IsSecretName(n) {
			t.Errorf("IsSecretName(%q) = false, want true", n)
		}
	}
	for _, n := range no {
		if IsSecretName(n) {
			t.Errorf("IsSecretName(%q) = true, want false", n)
		}
	}
}

type jsonHit struct {
	Path       string
	Key        bool
	Rule       string
	Confidence Confidence
}

func TestScanJSON(t *testing.T) {
	doc := `{"arguments":{"api_key":"abc","password":12345,"note":"use ` + ghPAT + ` now",` +
		`"max_tokens":5,"next_page_token":"cGFnZTI=","Authorization":"Bearer ` + genericV + `",` +
		`"items":[{"token":"${TOKEN}"},{"esc":"\u0041KIA` + awsKey[4:] + `"}],"` + ghPAT + `":true,"enabled":true,"secret":null}}`
	var got []jsonHit
	for _, f := range ScanJSON([]byte(doc)) {
		got = append(got, jsonHit{f.Path, f.Key, f.RuleID, f.Confidence})
	}
	want := []jsonHit{
		{"$.arguments.api_key", false, RuleSecretField, Low},
		{"$.arguments.password", false, RuleSecretField, Medium},
		{"$.arguments.note", false, "github-pat", High},
		{"$.arguments.Authorization", false, RuleSecretField, Medium},
		{"$.arguments.items[0].token", false, RuleSecretField, Low},
		{"$.arguments.items[1].esc", false, "aws-access-token", High},
		{"$.arguments." + ghPAT, true, "github-pat", High},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ScanJSON (-want +got):\n%s", diff)
	}
}

func TestRedactJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"api_key field whatever its value", `{"name":"x","arguments":{"api_key":"abc"}}`, `{"name":"x","arguments":{"api_key":"[REDACTED:secret-field]"}}`},
		{"number under a secret name", `{"pin": 1234}`, `{"pin": "[REDACTED:secret-field]"}`},
		{"secret inside prose keeps the prose", `{"text":"deploy with ` + ghPAT + `\nthen push"}`, `{"text":"deploy with [REDACTED:github-pat]\nthen push"}`},
		{"secret as a key", `{"` + ghPAT + `": 1}`, `{"[REDACTED:github-pat]": 1}`},
		{"formatting of untouched parts is kept", "{\n  \"a\" : [1, 2.50e3, \"\\u00e9\"],\n  \"password\" : \"hunter2!\"\n}", "{\n  \"a\" : [1, 2.50e3, \"\\u00e9\"],\n  \"password\" : \"[REDACTED:secret-field]\"\n}"},
		{"invalid json is redacted as text", `{"a": "` + ghPAT, `{"a": "[REDACTED:github-pat]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := RedactJSON([]byte(tt.in), nil)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !changed {
				t.Error("changed = false")
			}
			if json.Valid([]byte(tt.in)) && !json.Valid(got) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestRedactJSONUnchangedReturnsSameSlice(t *testing.T) {
	in := []byte(`{"content":[{"type":"text","text":"max_tokens=100, version 1.2.3"}],"token_type":"Bearer","isError":false}`)
	out, changed := RedactJSON(in, nil)
	if changed || &out[0] != &in[0] {
		t.Errorf("RedactJSON changed a document without secrets: %s", out)
	}
}

func TestWalkJSONPaths(t *testing.T) {
	var got []string
	ok := WalkJSON([]byte(`{"a":[1,{"b c":"x"}],"d":{"e":null},"f":"g"}`), func(tk *JSONToken) {
		got = append(got, tk.Path()+"="+tk.Value)
	})
	want := []string{"$.a=a", "$.a[0]=1", `$.a[1]["b c"]=b c`, `$.a[1]["b c"]=x`, "$.d=d", "$.d.e=e", "$.d.e=null", "$.f=f", "$.f=g"}
	if !ok {
		t.Fatal("WalkJSON rejected valid JSON")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if WalkJSON([]byte(`{"a":`), func(*JSONToken) { t.Error("visited a token of invalid JSON") }) {
		t.Error("WalkJSON accepted invalid JSON")
	}
}

func TestConcurrentScans(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				text := strings.Repeat("x", i) + " " + ghPAT
				if fs := Scan(text); len(fs) != 1 {
					t.Errorf("Scan found %d secrets, want 1", len(fs))
				}
			}
		})
	}
	wg.Wait()
}

func FuzzScan(f *testing.F) {
	for _, s := range []string{"", ghPAT, "a\n" + awsKey + "\nb", `{"api_key":"x"}`, pemKey, "é" + slackBot, "\xff\xfe" + stripe} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := Scan(s)
		for _, x := range fs {
			if x.Start < 0 || x.End > len(s) || x.Start >= x.End {
				t.Fatalf("finding %+v out of range for %d bytes", x, len(s))
			}
		}
		red := Redact(s, fs)
		if len(fs) == 0 && red != s {
			t.Fatalf("Redact changed text without findings")
		}
	})
}

func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"api_key":"abc"}`, `{"a":"` + ghPAT + `"}`, `[1,"x",{"password":2}]`, `{"a":`, `"` + awsKey + `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fs := ScanJSON(raw)
		out, changed := RedactJSON(raw, fs)
		if !changed && string(out) != string(raw) {
			t.Fatalf("changed = false but output differs")
		}
		if json.Valid(raw) && !json.Valid(out) {
			t.Fatalf("redaction broke valid JSON: %q → %q", raw, out)
		}
	})
}
