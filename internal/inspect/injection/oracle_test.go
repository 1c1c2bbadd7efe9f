package injection

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
)

// keywordsOracle is keywords as it was before the need cache, the expression guards and the
// allocation-free verb search (commit b86bb0c): the oracle the current code is checked against.
func (ts *textScan) keywordsOracle() {
	s := ts.nt.s
	patterns, index := ts.tb.patterns, &ts.tb.index
	var lastEnd []int // by pattern; allocated at the first anchor found (most short strings have none)
	try := func(p int, ref anchorRef) {
		if ref.word && p > 0 && isWordByte(s[p-1]) {
			return
		}
		if !strings.HasPrefix(s[p:], ref.anchor) {
			return
		}
		if lastEnd == nil {
			lastEnd = make([]int, len(patterns))
		}
		if lastEnd[ref.pat] > p {
			return
		}
		pt := &patterns[ref.pat]
		if pt.sentenceStart && !opensSentence(s, p) || pt.lineStart && !opensLine(s, p) {
			return
		}
		var m []int
		from := p
		if pt.back > 0 {
			// Try the verbs before the anchor, nearest first.
			for _, v := range verbsBeforeOracle(s, p, pt) {
				win := s[v:min(len(s), v+pt.maxLen)]
				if mm := pt.re.FindStringSubmatchIndex(win); mm != nil && v+mm[1] > p {
					m, from = mm, v
					break
				}
			}
		} else {
			win := s[p:min(len(s), p+pt.maxLen)]
			if pt.url != urlNone && !urlWorthParsing(pt.url, win) {
				return
			}
			if pt.needs == nil || containsAnyOracle(win[:min(len(win), needWindow)], pt.needs) {
				m = pt.re.FindStringSubmatchIndex(win)
			}
		}
		if m == nil {
			return
		}
		win := s[from:min(len(s), from+pt.maxLen)]
		start, end := from+m[0], from+m[1]
		if pt.negatable && negated(s, start) {
			return
		}
		lastEnd[ref.pat] = end
		switch {
		case pt.hidden:
			ts.hidden = append(ts.hidden, hiddenRegion(s, p, pt.anchors[0] == "<!--"))
		case pt.url != urlNone:
			u := win[m[2]:m[3]]
			if weight, why := gradeURL(pt.url, u); weight > 0 {
				ts.addAt(pt.id, pt.cat, weight, start, end, pt.msg+": "+why)
			}
		default:
			ts.addAt(pt.id, pt.cat, pt.weight, start, end, pt.msg)
		}
	}
	for p := 0; p < len(s); p++ {
		c := s[p]
		if p > 0 && index.wordOnly[c] && isWordByte(s[p-1]) {
			continue // inside a word: every anchor starting with c needs a word boundary
		}
		for _, ref := range index.singles[c] {
			try(p, ref)
		}
		if p+1 < len(s) {
			k := uint16(c)<<8 | uint16(s[p+1])
			if index.pairs[k/64]&(1<<(k%64)) == 0 {
				continue
			}
			if l := index.byPair[k]; l != 0 {
				h := head4(s, p)
				for _, ref := range index.lists[l-1] {
					if h&ref.mask == ref.head {
						try(p, ref)
					}
				}
			}
		}
	}
}

// verbsBeforeOracle is verbsBefore as it was: it returns the starts of up to three of a backward pattern's verbs within its back bytes
// before s[p] in the same sentence, nearest first. Words are runs of letters, '\” and '-'.
func verbsBeforeOracle(s string, p int, pt *pattern) []int {
	var found []int
	limit := max(0, p-pt.back)
	end := p
	prevWord := ""
	check := func(start int) {
		w := s[start:end]
		if w == "" {
			return
		}
		if !pt.verbFirst[w[0]] || len(w) > pt.verbMax {
			prevWord = w
			return
		}
		if pt.verbs[w] || prevWord != "" && pt.verbHeads[w] && pt.verbs[w+" "+prevWord] {
			found = append(found, start)
		}
		prevWord = w
	}
	i := p - 1
	for ; i >= limit && len(found) < 3; i-- {
		c := s[i]
		if c == '.' && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\n') || c == '!' || c == '?' || c == ';' {
			return found
		}
		if isVerbByte(c) {
			continue
		}
		check(i + 1)
		end = i
	}
	if i < 0 && len(found) < 3 {
		check(0)
	}
	return found
}

func containsAnyOracle(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// keywordResults runs the keyword rules (the current code, or the oracle) on text.
func keywordResults(text string, oracle bool) ([]Finding, []region) {
	ts := &textScan{tb: loadTables(), orig: text, nt: normalize(text)}
	if oracle {
		ts.keywordsOracle()
	} else {
		ts.keywords()
	}
	return ts.findings, ts.hidden
}

func checkKeywordsMatchOracle(t *testing.T, name, text string) {
	t.Helper()
	gotF, gotH := keywordResults(text, false)
	wantF, wantH := keywordResults(text, true)
	if !slices.Equal(gotF, wantF) || !slices.Equal(gotH, wantH) {
		t.Errorf("%s: keyword findings differ from the oracle's\n got  %+v %v\n want %+v %v\ntext %q", name, gotF, gotH, wantF, wantH, clip(text, 400))
	}
}

// oracleTexts are the corpus files, the strings of the honest benchmark documents and the adversarial
// text, and variants of the corpus files that move every rule's anchors and words around.
func oracleTexts(t testing.TB) map[string]string {
	texts := map[string]string{}
	for _, dir := range []string{"injection", "benign"} {
		for _, f := range loadCorpus(t, dir) {
			texts[dir+"/"+f.name] = string(f.body)
		}
	}
	for _, shape := range []string{"readme", "log", "api"} {
		secrets.WalkJSON(honestJSONT(t, shape, 100<<10), func(tok *secrets.JSONToken) {
			if tok.String {
				texts[fmt.Sprintf("%s/%s", shape, tok.Path())] = tok.Value
			}
		})
	}
	texts["adversarial"] = string(adversarialJSON(20 << 10))
	return texts
}

// TestKeywordsMatchOracle checks that the keyword rules find exactly what the oracle (the code before the
// need cache and the expression guards) finds, at the same offsets, on the corpus and its variants.
func TestKeywordsMatchOracle(t *testing.T) {
	texts := oracleTexts(t)
	r := rand.New(rand.NewPCG(1, 2))
	words := oracleWords()
	for name, text := range texts {
		checkKeywordsMatchOracle(t, name, text)
		// Variants: rule words spliced in at random places, and random cuts (anchors at the end of a
		// text, windows cut short).
		for k := range 3 {
			checkKeywordsMatchOracle(t, fmt.Sprintf("%s#splice%d", name, k), spliceWords(r, text, words, 20))
		}
		if len(text) > 10 {
			i := r.IntN(len(text))
			j := i + r.IntN(len(text)-i)
			checkKeywordsMatchOracle(t, name+"#cut", text[i:j])
		}
	}
}

// oracleWords are the anchors, needs and verbs of every rule, and bytes that end words and sentences.
func oracleWords() []string {
	seen := map[string]bool{}
	var out []string
	add := func(w string) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, p := range loadTables().patterns {
		for _, a := range p.anchors {
			add(a)
		}
		for _, n := range p.needs {
			add(n)
		}
		for v := range p.verbs {
			add(v)
		}
	}
	for _, w := range []string{" ", "  ", "\n", ". ", ",", ":", "`", "#", "##", "###", "#####", "the ", "all ", "a_b", "send_email", "user", "not ", "never ", "!", "?", ";", "\t"} {
		add(w)
	}
	slices.Sort(out)
	return out
}

// spliceWords inserts n rule words, each with a space on either side or none, at random places of text.
func spliceWords(r *rand.Rand, text string, words []string, n int) string {
	b := []byte(text)
	for range n {
		w := words[r.IntN(len(words))]
		switch r.IntN(3) {
		case 0:
			w = " " + w + " "
		case 1:
			w += " "
		}
		i := 0
		if len(b) > 0 {
			i = r.IntN(len(b) + 1)
		}
		b = slices.Insert(b, i, []byte(w)...)
	}
	return string(b)
}

// FuzzKeywordsMatchOracle checks the keyword rules against the oracle on arbitrary text; the seeds are
// short pieces of the corpus and rule words glued together.
func FuzzKeywordsMatchOracle(f *testing.F) {
	words := oracleWords()
	r := rand.New(rand.NewPCG(3, 4))
	for _, text := range oracleTexts(f) {
		if len(text) > 600 {
			i := r.IntN(len(text) - 600)
			text = text[i : i+600]
		}
		f.Add(text)
	}
	for range 200 {
		f.Add(spliceWords(r, "", words, 12))
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkKeywordsMatchOracle(t, "fuzz", text)
	})
}
