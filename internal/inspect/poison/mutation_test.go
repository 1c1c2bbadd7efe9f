package poison

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

// keywordRules are the rules that read normalised text; mutations of the visible text must not defeat
// them. (Character rules such as zero-width detection are excluded: a mutation may add or remove the
// very characters they look for.)
var keywordRules = map[string]bool{
	RuleHiddenTag: true, RuleConcealment: true, RuleOverride: true, RulePrecondition: true, RuleImperative: true,
	RoleMarker: true, RuleCredentialPath: true, RuleDataRequest: true, RuleExfiltration: true,
	RuleSideChannelParam: true, RuleShadowMention: true, RuleEncodedPayload: true,
}

type mutation struct {
	name string
	fn   func(string) string
	// changesLetters mutations skip fixtures with an encoded payload, which they would corrupt.
	changesLetters bool
}

var mutations = []mutation{
	{name: "upper", fn: strings.ToUpper, changesLetters: true},
	{name: "alternating-case", fn: func(s string) string {
		var b strings.Builder
		up := false
		for _, r := range s {
			if unicode.IsLetter(r) {
				if up {
					r = unicode.ToUpper(r)
				} else {
					r = unicode.ToLower(r)
				}
				up = !up
			}
			b.WriteRune(r)
		}
		return b.String()
	}, changesLetters: true},
	{name: "extra-whitespace", fn: func(s string) string {
		return strings.NewReplacer(" ", "   ", "\n", " \n\t ").Replace(s)
	}},
	{name: "zero-width-in-words", fn: func(s string) string {
		// A zero-width space after every second letter of each run of letters.
		var b strings.Builder
		n := 0
		for _, r := range s {
			b.WriteRune(r)
			if unicode.IsLetter(r) && r < 0x80 {
				n++
				if n%2 == 0 {
					b.WriteRune(0x200B)
				}
			} else {
				n = 0
			}
		}
		return b.String()
	}},
	{name: "cyrillic-lookalikes", fn: func(s string) string {
		return strings.NewReplacer("a", "а", "e", "е", "o", "о", "p", "р", "c", "с", "x", "х").Replace(s)
	}, changesLetters: true},
	{name: "fullwidth", fn: func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r - 'A' + 'Ａ'
			}
			return r
		}, s)
	}},
}

// mutateSurface applies fn to every prose string of s. Names, property keys, URIs and schema keywords
// (type, format …) stay as they are: they are identifiers, not text a model reads as instructions.
func mutateSurface(t *testing.T, s Surface, fn func(string) string) Surface {
	t.Helper()
	out := s
	out.Instructions = fn(s.Instructions)
	out.Tools = nil
	for _, tl := range s.Tools {
		tl.Title = fn(tl.Title)
		tl.Description = fn(tl.Description)
		tl.InputSchema = mutateJSON(t, tl.InputSchema, fn)
		tl.OutputSchema = mutateJSON(t, tl.OutputSchema, fn)
		tl.Annotations = mutateJSON(t, tl.Annotations, fn)
		out.Tools = append(out.Tools, tl)
	}
	out.Prompts = nil
	for _, p := range s.Prompts {
		p.Description = fn(p.Description)
		args := make([]PromptArgument, len(p.Arguments))
		for i, a := range p.Arguments {
			a.Description = fn(a.Description)
			args[i] = a
		}
		p.Arguments = args
		out.Prompts = append(out.Prompts, p)
	}
	out.Resources = nil
	for _, r := range s.Resources {
		r.Description = fn(r.Description)
		out.Resources = append(out.Resources, r)
	}
	out.ResourceTemplates = nil
	for _, r := range s.ResourceTemplates {
		r.Description = fn(r.Description)
		out.ResourceTemplates = append(out.ResourceTemplates, r)
	}
	return out
}

func mutateJSON(t *testing.T, raw json.RawMessage, fn func(string) string) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("fixture schema is not JSON: %v", err)
	}
	var walk func(v any, key string) any
	walk = func(v any, key string) any {
		switch v := v.(type) {
		case string:
			if schemaSkipKeys[key] {
				return v
			}
			return fn(v)
		case []any:
			for i := range v {
				v[i] = walk(v[i], key)
			}
		case map[string]any:
			for k := range v {
				v[k] = walk(v[k], k)
			}
		}
		return v
	}
	b, err := json.Marshal(walk(v, ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firedKeywordRules(r Report) []string {
	set := map[string]bool{}
	for _, f := range r.Findings {
		if keywordRules[f.RuleID] && f.Severity >= Low {
			set[f.RuleID] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// TestMutationsSurvive proves that casing, spacing, zero-width characters inside keywords and NFKC
// compatibility forms do not defeat detection: every keyword rule that fires on a malicious fixture fires
// on each mutant too, and every mutant still rates medium or higher.
func TestMutationsSurvive(t *testing.T) {
	for _, f := range loadCorpus(t, "malicious") {
		orig := Scan(f.Surface, f.Context)
		want := firedKeywordRules(orig)
		for _, m := range mutations {
			if m.changesLetters && f.EncodedPayload {
				continue
			}
			t.Run(filepath.Base(f.path)+"/"+m.name, func(t *testing.T) {
				got := Scan(mutateSurface(t, f.Surface, m.fn), f.Context)
				if got.Verdict < Medium {
					t.Errorf("mutant rated %s, want medium or higher%s", got.Verdict, describe(got, Info))
				}
				var missing []string
				have := map[string]bool{}
				for _, id := range firedKeywordRules(got) {
					have[id] = true
				}
				for _, id := range want {
					if !have[id] {
						missing = append(missing, id)
					}
				}
				if diff := cmp.Diff([]string(nil), missing); diff != "" {
					t.Errorf("keyword rules lost under mutation (-want +got):\n%s\nmutant findings:%s", diff, describe(got, Info))
				}
			})
		}
	}
}
