package secrets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// plainGitleaks is gitleaks' default rule set translated as gitleaks itself does, stop words and
// keyword prefilters included: the oracle's rules.
var plainGitleaks = sync.OnceValue(func() config.Config {
	vc, err := viperRuleSet(config.DefaultConfig)
	if err != nil {
		panic(err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		panic(err)
	}
	return cfg
})

// wholeText is the detector Scan used before windows: every specific rule over the whole text behind
// gitleaks' own keyword prefilter and allowlists. It is the oracle of the windowed scan.
var wholeText = sync.OnceValue(func() *detect.Detector {
	cfg := plainGitleaks()
	spec := subset(cfg, func(id string) bool { return gates[id] == nil && cfg.Rules[id].Path == nil })
	det := detect.NewDetector(spec)
	det.IgnoreGitleaksAllow = true
	return det
})

// plainGated are the gated rules' detectors built from plainGitleaks, by rule.
var plainGated = sync.OnceValue(func() map[string]*detect.Detector {
	out := map[string]*detect.Detector{}
	for id := range gates {
		det := detect.NewDetector(subset(plainGitleaks(), func(x string) bool { return x == id }))
		det.IgnoreGitleaksAllow = true
		out[id] = det
	}
	return out
})

// oracleScan is Scan with the specific rules run over the whole text, and every rule by plain gitleaks.
func oracleScan(text string) []Finding {
	if len(text) < 8 {
		return nil
	}
	d, _ := engine()
	out := convert(text, window{0, len(text)}, wholeText().DetectString(text), nil)
	for _, g := range d.gated {
		for _, w := range g.windows(text, g.keywords) {
			out = append(out, convert(text, w, plainGated()[g.id].DetectString(text[w.start:w.end]), func(_, end int) bool {
				return end < w.end || w.end == len(text)
			})...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sortFindings(out)
	return dedupe(out)
}

// oracleTexts are the texts the windowed scan is compared on: this package's test inputs, every
// secret shape of the rule set's own examples placed in prose, and the injection corpus.
func oracleTexts(t testing.TB) []string {
	texts := []string{
		"use token " + ghPAT + " for the API", "AWS_ACCESS_KEY_ID=" + awsKey, "# config\nSLACK=" + slackBot + "\n",
		"charge with " + stripe, `api_key = "` + genericV + `"`, "key:\n" + pemKey + "\nend", ghPAT + " and " + awsKey,
		"clé → résumé\nnouvelle clé " + ghPAT, sampleText(10 << 10),
		"curl -u admin:" + genericV + " https://example.com\n",
		"curl https://api.example.com \\\n  -H \"Authorization: Bearer " + genericV + "\"\n",
		"linear_client_secret = " + fake("", hexa, 32, 11) + "\n" + strings.Repeat("linear time ", 40),
		"twilio SK" + fake("", hexa, 32, 12) + " and s." + fake("", alnum, 24, 13),
		candidatesText(4 << 10),
	}
	for _, dir := range []string{"benign", "injection"} {
		root := filepath.Join("..", "injection", "testdata", "corpus", dir)
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(root, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			texts = append(texts, string(b))
		}
	}
	return texts
}

// TestWindowsMatchWholeText checks that running the specific rules on windows around their keywords
// finds exactly what running them over the whole text finds.
func TestWindowsMatchWholeText(t *testing.T) {
	for i, text := range oracleTexts(t) {
		if diff := cmp.Diff(oracleScan(text), Scan(text)); diff != "" {
			t.Errorf("text %d (%.60q…): windowed scan differs from the whole-text scan (-whole +windowed):\n%s", i, text, diff)
		}
	}
}

// FuzzWindowsMatchWholeText compares the windowed scan with the whole-text scan on mutated inputs.
func FuzzWindowsMatchWholeText(f *testing.F) {
	for _, text := range oracleTexts(f)[:14] {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if diff := cmp.Diff(oracleScan(text), Scan(text)); diff != "" {
			t.Errorf("windowed scan differs from the whole-text scan on %q (-whole +windowed):\n%s", text, diff)
		}
	})
}

// FuzzDecodeString checks the JSON string decoder against encoding/json.
func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\nb\t\"c\"\\d\/e"`, `"\u00e9\u003c\ud83d\ude00"`, `"\ud83d x"`, `"\udc00\ud800"`, `"\ud83d\u0041"`, "\"caf\xc3\xa9 \\n\"", "\"bad \xff \\n\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if !json.Valid([]byte(q)) || len(q) < 2 || q[0] != '"' {
			return
		}
		var want string
		if err := json.Unmarshal([]byte(q), &want); err != nil {
			t.Fatal(err)
		}
		if got := decodeString([]byte(q)); got != want && strings.Contains(q, `\`) {
			t.Errorf("decodeString(%q) = %q, want %q", q, got, want)
		}
	})
}

// FuzzValidJSON checks the validator WalkJSON uses against encoding/json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"]}`, `[]`, `{}`, ` "s" `, `01`, `1.`, `-`, `{"a" 1}`, `[1,]`, "\"\x01\"", `"\x"`, `"\u12"`, `1e`, `{"a":{"b":[[]]}}`, `nul`, `[1 2]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid says %v", s, got, want)
		}
	})
}

// FuzzNextSpecial checks the eight-bytes-at-a-time scan against a byte loop.
func FuzzNextSpecial(f *testing.F) {
	for _, s := range []string{"", `plain text with a "quote" in it`, "abcdefgh\\ijkl", "abcdefghijklmnop\x1f", "\xff\xfe\x22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := 0
		for want < len(s) && s[want] != '"' && s[want] != '\\' && s[want] >= 0x20 {
			want++
		}
		if got := nextSpecial([]byte(s), 0); got != want {
			t.Errorf("nextSpecial(%q) = %d, want %d", s, got, want)
		}
	})
}

type walkedToken struct {
	Key, String         bool
	Value, Member, Path string
	Start, End          int
}

func walkAll(raw []byte, walk func([]byte, func(*JSONToken)) bool) ([]walkedToken, bool) {
	var out []walkedToken
	ok := walk(raw, func(t *JSONToken) {
		out = append(out, walkedToken{t.Key, t.String, t.Value, t.Member, t.Path(), t.Start, t.End})
	})
	return out, ok
}

// TestWalkJSONCache checks that a walk replayed from the cache visits what a fresh walk visits, and that
// a document changed in place is walked again.
func TestWalkJSONCache(t *testing.T) {
	raw := []byte(`{"a":{"b":[1,"two",{"c d":null}],"e":"f\n"},"g":[[true]],"h":"i"}`)
	want, _ := walkAll(raw, walkJSON)
	for range 3 {
		got, ok := walkAll(raw, WalkJSON)
		if !ok {
			t.Fatal("valid document reported invalid")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("cached walk differs (-fresh +cached):\n%s", diff)
		}
	}
	raw[len(raw)-3] = 'j' // "h":"j"
	got, _ := walkAll(raw, WalkJSON)
	if got[len(got)-1].Value != "j" {
		t.Fatalf("walk after an in-place change saw %q, want \"j\"", got[len(got)-1].Value)
	}
	if _, ok := walkAll([]byte(`{"a":`), WalkJSON); ok {
		t.Fatal("invalid document reported valid")
	}
	if _, ok := walkAll([]byte(`{"a":`), WalkJSON); ok {
		t.Fatal("invalid document reported valid from the cache")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := []byte(`{"n":` + strings.Repeat("[", i) + `"v"` + strings.Repeat("]", i) + `}`)
			want, _ := walkAll(doc, walkJSON)
			for range 200 {
				if got, _ := walkAll(doc, WalkJSON); !cmp.Equal(want, got) {
					t.Errorf("concurrent walk of %s differs", doc)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestScanJSONDecodesBeforeScanning: a secret whose JSON encoding hides it (escaped slashes) is found in
// the decoded string; a scan of the raw document first, skipping clean-looking documents, missed it.
func TestScanJSONDecodesBeforeScanning(t *testing.T) {
	hook := "https://hooks.slack.com/services/" + fake("T", alnum, 10, 21) + "/" + fake("B", alnum, 10, 22) + "/" + fake("", alnum, 24, 23)
	raw := []byte(`{"url":"` + strings.ReplaceAll(hook, "/", `\/`) + `"}`)
	fs := ScanJSON(raw)
	if len(fs) != 1 || fs[0].RuleID != "slack-webhook-url" || fs[0].Path != "$.url" {
		t.Fatalf("ScanJSON(%s) = %+v, want one slack-webhook-url at $.url", raw, fs)
	}
	if len(Scan(string(raw))) != 0 {
		t.Log("the raw text matches too; the test no longer shows the point")
	}
}
