package injection

import (
	"math/rand/v2"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode/utf8"
)

// generate appends to b a random string that re's syntax describes (anchors and boundaries are not
// enforced: callers check the result with the expression).
func generate(r *rand.Rand, re *syntax.Regexp, b *strings.Builder) {
	reps := func(min, max int) int {
		if max < 0 || max > min+4 {
			max = min + 4
		}
		return min + r.IntN(max-min+1)
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, c := range re.Rune {
			b.WriteRune(c)
		}
	case syntax.OpCharClass:
		// Prefer ASCII members: the normalised text is mostly ASCII.
		var c rune
		for try := 0; try < 20; try++ {
			k := r.IntN(len(re.Rune) / 2)
			lo, hi := re.Rune[2*k], re.Rune[2*k+1]
			if lo < 128 {
				hi = min(hi, 127)
			}
			c = lo + rune(r.Int64N(int64(hi-lo)+1))
			if c < 128 {
				break
			}
		}
		if !utf8.ValidRune(c) {
			c = 'x'
		}
		b.WriteRune(c)
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteByte(" ax.,:_-\t"[r.IntN(9)])
	case syntax.OpCapture:
		generate(r, re.Sub[0], b)
	case syntax.OpStar:
		for range reps(0, -1) {
			generate(r, re.Sub[0], b)
		}
	case syntax.OpPlus:
		for range reps(1, -1) {
			generate(r, re.Sub[0], b)
		}
	case syntax.OpQuest:
		if r.IntN(2) == 0 {
			generate(r, re.Sub[0], b)
		}
	case syntax.OpRepeat:
		for range reps(re.Min, re.Max) {
			generate(r, re.Sub[0], b)
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			generate(r, s, b)
		}
	case syntax.OpAlternate:
		generate(r, re.Sub[r.IntN(len(re.Sub))], b)
	}
}

// TestGuardsAcceptEveryMatch generates strings from each guarded pattern's expression, followed by
// random text, and checks that the guard accepts every window the expression matches: guards are
// necessary conditions.
func TestGuardsAcceptEveryMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tails := []string{"", " ", "\n", ", the user", ". more text", "x", ": ok", " and then"}
	guarded := 0
	for _, p := range loadTables().patterns {
		if p.guard == nil {
			continue
		}
		guarded++
		tree, err := syntax.Parse(p.re.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		matched := 0
		for range 30000 {
			var b strings.Builder
			generate(r, tree, &b)
			win := b.String() + tails[r.IntN(len(tails))]
			if len(win) > p.maxLen {
				continue
			}
			if p.re.MatchString(win) {
				matched++
				if !p.guard(win) {
					t.Errorf("%s (%s): the guard rejects %q, which the expression matches", p.id, p.msg, win)
					break
				}
			}
		}
		if matched < 1000 {
			t.Errorf("%s (%s): only %d generated windows matched; the test does not exercise the guard", p.id, p.msg, matched)
		}
	}
	if guarded == 0 {
		t.Fatal("no guarded pattern")
	}
}

// TestNeedCacheMatchesContains checks needCache.has against strings.Contains on each window, with
// anchors at increasing positions of texts made of need words, as keywords calls it.
func TestNeedCacheMatchesContains(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	tb := loadTables()
	var withNeeds []*pattern
	for i := range tb.patterns {
		if tb.patterns[i].needIDs != nil {
			withNeeds = append(withNeeds, &tb.patterns[i])
		}
	}
	for range 3000 {
		var b strings.Builder
		for b.Len() < r.IntN(2000) {
			p := withNeeds[r.IntN(len(withNeeds))]
			b.WriteString(p.needs[r.IntN(len(p.needs))])
			b.WriteString([]string{" ", "", "  some filler words ", strings.Repeat("x", r.IntN(300))}[r.IntN(4)])
		}
		s := b.String()
		var c needCache
		for p := 0; p < len(s); p += 1 + r.IntN(40) {
			pt := withNeeds[r.IntN(len(withNeeds))]
			end := min(len(s), p+min(pt.maxLen, needWindow))
			if got, want := c.has(tb.needWords, s, p, end, pt.needIDs), containsAnyOracle(s[p:end], pt.needs); got != want {
				t.Fatalf("has(%q, %d, %d, %v) = %v, want %v", s, p, end, pt.needs, got, want)
			}
		}
	}
}

// TestVerbLengthsFit checks that every verb's words are shorter than 64 bytes, which verbsBefore's
// length bits assume.
func TestVerbLengthsFit(t *testing.T) {
	for _, p := range loadTables().patterns {
		if p.back > 0 && p.verbMax >= 64 {
			t.Errorf("%s: a verb of %d bytes", p.id, p.verbMax)
		}
	}
}
