package secrets

import (
	"slices"
	"strings"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"
)

// stopwords is a set of gitleaks allowlist stop words: a finding whose secret, in lower case, contains
// one of them is allowed (dropped). gitleaks builds an Aho–Corasick trie of 2 KiB per state for every
// allowlist's stop words (≈ 9 MB for the ~1,450 of generic-api-key); this set holds the sorted words
// and an 8 KiB bitmap of their first two bytes, and finds in well under a microsecond whether a secret
// holds one (findings are rare, and a secret is at most a few hundred bytes).
type stopwords struct {
	// words are the distinct lower-case stop words of two bytes or more, sorted.
	words []string
	// pairs has bit p set when a word starts with the two bytes p (big-endian).
	pairs [1 << 16 / 64]uint64
	// singles has bit c set for each one-byte stop word c.
	singles [256 / 64]uint64
}

// newStopwords returns the set of the words, lower-cased as gitleaks does (strings.ToLower), or nil when
// there is none. An empty word never matches, as in gitleaks' trie.
func newStopwords(words ...[]string) *stopwords {
	sw := &stopwords{}
	n := 0
	for _, ws := range words {
		for _, w := range ws {
			w = strings.ToLower(w)
			switch len(w) {
			case 0:
				continue
			case 1:
				sw.singles[w[0]/64] |= 1 << (w[0] % 64)
			default:
				sw.words = append(sw.words, w)
				p := uint16(w[0])<<8 | uint16(w[1])
				sw.pairs[p/64] |= 1 << (p % 64)
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	slices.Sort(sw.words)
	sw.words = slices.Clip(slices.Compact(sw.words))
	return sw
}

// contains reports whether the secret s, in lower case, contains a stop word: gitleaks'
// Allowlist.ContainsStopWord.
func (sw *stopwords) contains(s string) bool {
	if sw == nil || s == "" {
		return false
	}
	s = strings.ToLower(s) // no copy when s has no upper case, as with most secrets
	for i := 0; i < len(s); i++ {
		c := s[i]
		if sw.singles[c/64]&(1<<(c%64)) != 0 {
			return true
		}
		if i+1 == len(s) {
			break
		}
		p := uint16(c)<<8 | uint16(s[i+1])
		if sw.pairs[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		// The words starting with these two bytes are adjacent in sorted order.
		rest := s[i:]
		j, _ := slices.BinarySearch(sw.words, rest[:2])
		for ; j < len(sw.words) && sw.words[j][0] == c && sw.words[j][1] == s[i+1]; j++ {
			if strings.HasPrefix(rest, sw.words[j]) {
				return true
			}
		}
	}
	return false
}

// allow drops, in place, the findings whose secret contains a stop word of sw.
func (sw *stopwords) allow(raw []report.Finding) []report.Finding {
	if sw == nil || len(raw) == 0 {
		return raw
	}
	return slices.DeleteFunc(raw, func(f report.Finding) bool { return sw.contains(f.Secret) })
}

// takenStopwords are the stop words taken out of a rule set before translation: those of the global
// allowlists, which apply to every rule, and those of the allowlists of each rule (its own and the
// global ones targeting it).
type takenStopwords struct {
	global []string
	byRule map[string][]string
}

// takeStopwords moves the stop words of vc's allowlists into the result, so that Translate builds no
// stop-word trie, where that keeps gitleaks' semantics exactly: in an allowlist whose condition is OR,
// a finding is allowed if its secret contains a stop word, whatever the allowlist's other checks say,
// so the stop words can be checked on their own after the detector. Stop words stay where they are in
// an AND allowlist (they are one of several conditions that must all hold), in an allowlist that would
// be left empty (gitleaks refuses one), and in a rule set that has composite rules (rules.required),
// whose findings are combined after the allowlists.
func takeStopwords(vc *config.ViperConfig) takenStopwords {
	out := takenStopwords{byRule: map[string][]string{}}
	for _, r := range vc.Rules {
		if len(r.Required) > 0 {
			return out
		}
	}
	// take returns the stop words of an allowlist, emptied, when its condition is OR and it has another
	// check (others: the number of its commits, paths and regular expressions).
	take := func(condition string, others int, words *[]string) []string {
		switch strings.ToUpper(condition) {
		case "", "OR", "||":
		default:
			return nil
		}
		if others == 0 || len(*words) == 0 {
			return nil
		}
		w := *words
		*words = nil
		return w
	}
	add := func(rules []string, words []string) {
		if len(words) == 0 {
			return
		}
		if len(rules) == 0 {
			out.global = append(out.global, words...)
		}
		for _, id := range rules {
			out.byRule[id] = append(out.byRule[id], words...)
		}
	}
	if a := vc.AllowList; a != nil {
		add(a.TargetRules, take(a.Condition, len(a.Commits)+len(a.Paths)+len(a.Regexes), &a.StopWords))
	}
	for _, a := range vc.Allowlists {
		add(a.TargetRules, take(a.Condition, len(a.Commits)+len(a.Paths)+len(a.Regexes), &a.StopWords))
	}
	for _, r := range vc.Rules {
		if a := r.AllowList; a != nil {
			add([]string{r.ID}, take(a.Condition, len(a.Commits)+len(a.Paths)+len(a.Regexes), &a.StopWords))
		}
		for _, a := range r.Allowlists {
			add([]string{r.ID}, take(a.Condition, len(a.Commits)+len(a.Paths)+len(a.Regexes), &a.StopWords))
		}
	}
	return out
}

// forRule returns the stop words that allow a finding of the rule id (nil: none), sharing one set
// among the rules that have only the global ones.
func (t takenStopwords) forRule(id string, global *stopwords) *stopwords {
	if len(t.byRule[id]) == 0 {
		return global
	}
	return newStopwords(t.global, t.byRule[id])
}
