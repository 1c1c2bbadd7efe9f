package secrets

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// plainAllowlists are the allowlists with stop words of gitleaks' own translation of the default rule
// set (global ones under ""), with their gitleaks-built stop-word tries.
func plainAllowlists(t testing.TB) map[string][]*config.Allowlist {
	cfg := plainGitleaks()
	out := map[string][]*config.Allowlist{}
	for _, a := range cfg.Allowlists {
		if len(a.StopWords) > 0 {
			out[""] = append(out[""], a)
		}
	}
	for id, r := range cfg.Rules {
		for _, a := range r.Allowlists {
			if len(a.StopWords) > 0 {
				out[id] = append(out[id], a)
			}
		}
	}
	if len(out[""]) == 0 || len(out["generic-api-key"]) == 0 {
		t.Fatalf("gitleaks' default rule set no longer has global and generic-api-key stop words; the tests below need new cases")
	}
	return out
}

// stopwordProbes are strings to compare the stop-word set with gitleaks' trie on: every stop word
// alone, in upper case, inside random text and cut short by one byte, plus random strings and
// Unicode whose lower case is ASCII (the Kelvin sign is "k" in lower case).
func stopwordProbes(words []string) []string {
	r := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alnum[r.IntN(len(alnum))])
		}
		return b.String()
	}
	probes := []string{"", "a", "\u212a", "\u212aey", "x\u212aeyz", "ßtoken", "İd", "\xff\xfe"}
	for _, w := range words {
		probes = append(probes, w, strings.ToUpper(w), rnd(5)+w+rnd(7), rnd(3)+strings.ToUpper(w), w[:len(w)-1], w[1:]+rnd(2))
	}
	for range 2000 {
		probes = append(probes, rnd(8+r.IntN(60)))
	}
	return probes
}

// TestStopwordsMatchGitleaks checks the stop-word set against gitleaks' Allowlist.ContainsStopWord on
// the default rule set's stop words.
func TestStopwordsMatchGitleaks(t *testing.T) {
	for id, lists := range plainAllowlists(t) {
		for _, a := range lists {
			sw := newStopwords(a.StopWords)
			for _, p := range stopwordProbes(a.StopWords) {
				want, _ := a.ContainsStopWord(p)
				if got := sw.contains(p); got != want {
					t.Errorf("rule %q: contains(%q) = %v, gitleaks says %v", id, p, got, want)
				}
			}
		}
	}
	if newStopwords(nil, []string{""}) != nil {
		t.Error("a set of no words (an empty word never matches) is not nil")
	}
	if sw := newStopwords([]string{"Q", "", "AbC"}); !sw.contains("xxqxx") || !sw.contains("zABCz") || sw.contains("ab") || sw.contains("") {
		t.Error("one-byte or upper-case stop words are not matched as gitleaks does")
	}
}

// FuzzStopwords compares the stop-word set with gitleaks' trie on any string.
func FuzzStopwords(f *testing.F) {
	lists := plainAllowlists(f)
	for _, s := range []string{"", "example", "xxDEMOxx", "\u212aey", "abcdefghijklmnopqrstuvwxyz"} {
		f.Add(s)
	}
	sets := map[*config.Allowlist]*stopwords{}
	for _, ls := range lists {
		for _, a := range ls {
			sets[a] = newStopwords(a.StopWords)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for a, sw := range sets {
			want, _ := a.ContainsStopWord(s)
			if got := sw.contains(s); got != want {
				t.Errorf("%s: contains(%q) = %v, gitleaks says %v", a.Description, s, got, want)
			}
		}
	})
}

// readRuleSet parses a gitleaks configuration in TOML.
func readRuleSet(t *testing.T, src string) config.ViperConfig {
	t.Helper()
	vc, err := viperRuleSet(src)
	if err != nil {
		t.Fatal(err)
	}
	return vc
}

// TestTakeStopwords checks which allowlists give up their stop words: OR allowlists with another
// check do, global ones to every rule or to their target rules; AND allowlists, allowlists that would
// be left empty, and rule sets with composite rules keep theirs.
func TestTakeStopwords(t *testing.T) {
	const rules = `
[[rules]]
id = "a"
regex = '''a[0-9]{8}'''
keywords = ["a"]
  [[rules.allowlists]]
  regexes = ['''^a0+$''']
  stopwords = ["Own"]
  [[rules.allowlists]]
  condition = "AND"
  regexes = ['''^a1''']
  stopwords = ["and"]
  [[rules.allowlists]]
  stopwords = ["alone"]
[[rules]]
id = "b"
regex = '''b[0-9]{8}'''
keywords = ["b"]
`
	vc := readRuleSet(t, rules+`
[[allowlists]]
paths = ['''x''']
stopwords = ["global"]
[[allowlists]]
targetRules = ["b"]
condition = "||"
regexes = ['''y''']
stopwords = ["targeted"]
`)
	got := takeStopwords(&vc)
	want := takenStopwords{global: []string{"global"}, byRule: map[string][]string{"a": {"Own"}, "b": {"targeted"}}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(takenStopwords{})); diff != "" {
		t.Errorf("takeStopwords (-want +got):\n%s", diff)
	}
	cfg, err := vc.Translate()
	if err != nil {
		t.Fatalf("the rule set without the taken stop words does not translate: %v", err)
	}
	var left []string
	for _, id := range []string{"a", "b"} {
		for _, a := range cfg.Rules[id].Allowlists {
			left = append(left, a.StopWords...)
		}
	}
	for _, a := range cfg.Allowlists {
		left = append(left, a.StopWords...)
	}
	if diff := cmp.Diff([]string{"and", "alone"}, left); diff != "" {
		t.Errorf("stop words left to gitleaks (-want +got):\n%s", diff)
	}

	vc = readRuleSet(t, rules+`
[[rules]]
id = "c"
regex = '''c[0-9]{8}'''
keywords = ["c"]
  [[rules.required]]
  id = "a"
`)
	if got := takeStopwords(&vc); len(got.global) != 0 || len(got.byRule) != 0 {
		t.Errorf("a rule set with composite rules gave up stop words: %+v", got)
	}
}

// TestEngineLean checks that the engine's detectors hold no stop word (gitleaks would build a trie of
// them, ≈ 9 MB) and, for the specific rules, no keyword (a prefilter trie each, ≈ 4 MB in all), and
// that the stop words taken are all the global and generic-api-key ones of gitleaks' default rule set.
func TestEngineLean(t *testing.T) {
	d, err := engine()
	if err != nil {
		t.Fatal(err)
	}
	check := func(id string, cfg config.Config, keywords bool) {
		for _, a := range cfg.Allowlists {
			if len(a.StopWords) > 0 {
				t.Errorf("the detector of rule %s has a global allowlist with %d stop words", id, len(a.StopWords))
			}
		}
		for _, r := range cfg.Rules {
			for _, a := range r.Allowlists {
				if len(a.StopWords) > 0 {
					t.Errorf("the detector of rule %s has an allowlist with %d stop words", id, len(a.StopWords))
				}
			}
		}
		if !keywords && len(cfg.Keywords) > 0 {
			t.Errorf("the detector of rule %s has a keyword prefilter (%d keywords)", id, len(cfg.Keywords))
		}
	}
	for _, r := range d.specific {
		check(r.id, r.detector().Config, false)
	}
	for _, g := range d.gated {
		check(g.id, g.detector.Config, true)
	}

	vc, err := defaultRuleSet()
	if err != nil {
		t.Fatal(err)
	}
	taken := takeStopwords(&vc)
	plain := plainAllowlists(t)
	count := func(lists []*config.Allowlist) (n int) {
		for _, a := range lists {
			n += len(a.StopWords)
		}
		return n
	}
	size := func(words []string) int {
		if sw := newStopwords(words); sw != nil {
			return len(sw.words)
		}
		return 0
	}
	if got, want := size(taken.global), count(plain[""]); got != want {
		t.Errorf("taken %d global stop words, gitleaks has %d", got, want)
	}
	for id := range plain {
		if id == "" {
			continue
		}
		if got, want := size(taken.byRule[id]), count(plain[id]); got != want {
			t.Errorf("taken %d stop words of rule %s, gitleaks has %d", got, id, want)
		}
	}
}

// TestScanStopwords checks that Scan drops what gitleaks' allowlist stop words allow, and only that:
// a generic-api-key value holding one of its stop words (in any case) is dropped and one without is
// kept; a global stop word drops a specific rule's finding, and a generic-api-key stop word does not.
func TestScanStopwords(t *testing.T) {
	value := "Xq7Lm2Pz9Kd4Rt8Vb3Nw6Hj1"
	token := fake("gh"+"p_", alnum, 10, 31)
	tests := []struct {
		name string
		text string
		want []hit
	}{
		{"generic value", `api_key = "` + value + `"`, []hit{{"generic-api-key", value, Medium}}},
		{"generic value with a rule stop word", `api_key = "Xq7Lm2Pz9exampleKd4Rt8"`, nil},
		{"generic value with a rule stop word in upper case", `api_key = "Xq7Lm2Pz9EXAMPLEKd4Rt8"`, nil},
		{"generic value with a rule stop word in mixed case", `api_key = "Xq7Lm2Pz9eXaMpLeKd4Rt8"`, nil},
		{"generic value with a global stop word", `secret: "9abcdefghijklmnopqrstuvwxyz1"`, nil},
		{"pat", "use " + token + "Q7Lm2Pz9Kd4Rt8Vb3Nw6Hj1XYZ", []hit{{"github-pat", token + "Q7Lm2Pz9Kd4Rt8Vb3Nw6Hj1XYZ", High}}},
		{"pat with a global stop word", "use " + token + "abcdefghijklmnopqrstuvwxyz", nil},
		{"pat with a global stop word in upper case", "use " + token + "ABCDEFGHIJKLMNOPQRSTUVWXYZ", nil},
		{"pat with a generic-api-key stop word", "use " + token + "Q7Lm2exampleKd4Rt8Vb3Nw6H1", []hit{{"github-pat", token + "Q7Lm2exampleKd4Rt8Vb3Nw6H1", High}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Scan(tt.text)
			if diff := cmp.Diff(tt.want, hits(tt.text, fs)); diff != "" {
				t.Errorf("Scan(%q) (-want +got):\n%s", tt.text, diff)
			}
			if diff := cmp.Diff(oracleScan(tt.text), fs); diff != "" {
				t.Errorf("Scan(%q) differs from plain gitleaks (-gitleaks +Scan):\n%s", tt.text, diff)
			}
		})
	}
}

// BenchmarkStopwords measures the stop-word check of one generic-api-key secret holding no stop word
// (the whole secret is searched) against gitleaks' trie.
func BenchmarkStopwords(b *testing.B) {
	a := plainAllowlists(b)["generic-api-key"][0]
	sw := newStopwords(a.StopWords)
	secret := "xq7lm2pz9kd4rt8vb3nw6hj1xq7lm2pz"
	if ok, _ := a.ContainsStopWord(secret); ok {
		b.Fatal("the benchmark's secret holds a stop word")
	}
	b.Run("set", func(b *testing.B) {
		for b.Loop() {
			sw.contains(secret)
		}
	})
	b.Run("gitleaks", func(b *testing.B) {
		for b.Loop() {
			a.ContainsStopWord(secret)
		}
	})
}

// viperRuleSet decodes a gitleaks configuration the way gitleaks does (viper, then mapstructure).
func viperRuleSet(src string) (config.ViperConfig, error) {
	v := viper.New()
	v.SetConfigType("toml")
	var vc config.ViperConfig
	if err := v.ReadConfig(strings.NewReader(src)); err != nil {
		return vc, err
	}
	err := v.Unmarshal(&vc)
	return vc, err
}

// TestDefaultRuleSetAsViper checks that the engine's own decoding of gitleaks' default rule set (TOML
// straight into ViperConfig) gives exactly what gitleaks' viper decoding gives, field by field.
func TestDefaultRuleSetAsViper(t *testing.T) {
	want, err := viperRuleSet(config.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := defaultRuleSet()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) < 100 {
		t.Fatalf("decoded %d rules; the default set has over 200", len(got.Rules))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the rule set decoded with toml differs from viper's:\n%s", cmp.Diff(want, got, cmp.Exporter(func(reflect.Type) bool { return true })))
	}
}
