package secrets

import (
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// unbounded is maxBytes' answer for an expression whose matches have no length limit.
const unbounded = -1

// maxBytes returns the longest match, in bytes, of the expression re, or unbounded.
func maxBytes(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += runeBytes(r, re.Flags&syntax.FoldCase != 0)
		}
		return n
	case syntax.OpCharClass:
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			n = max(n, runeBytes(re.Rune[i+1], false))
		}
		return n
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return utf8.UTFMax
	case syntax.OpCapture:
		return maxBytes(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return unbounded
	case syntax.OpQuest:
		return maxBytes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Max < 0 {
			return unbounded
		}
		n := maxBytes(re.Sub[0])
		if n == unbounded {
			return unbounded
		}
		return n * re.Max
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			n := maxBytes(s)
			if n == unbounded {
				return unbounded
			}
			total += n
		}
		return total
	case syntax.OpAlternate:
		best := 0
		for _, s := range re.Sub {
			n := maxBytes(s)
			if n == unbounded {
				return unbounded
			}
			best = max(best, n)
		}
		return best
	}
	return unbounded
}

// runeBytes is the UTF-8 length of r, or of its longest case variant when fold is set (K matches the
// three-byte Kelvin sign).
func runeBytes(r rune, fold bool) int {
	n := utf8.RuneLen(r)
	if fold {
		for f := simpleFold(r); f != r; f = simpleFold(f) {
			n = max(n, utf8.RuneLen(f))
		}
	}
	return max(n, 1)
}

func simpleFold(r rune) rune { return unicode.SimpleFold(r) }

// keywordExtent returns how many bytes a match of re may hold before and after an occurrence of the
// keyword kw (lower case) that re matches as one of its top-level parts, the usual shape of gitleaks
// rules: prefix, keyword (or a choice of keywords), suffix. ok is false when re has no such part.
// Either bound may be unbounded.
func keywordExtent(re *syntax.Regexp, kw string) (before, after int, ok bool) {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		if isKeyword(re, kw) {
			return 0, 0, true
		}
		return 0, 0, false
	}
	for i, sub := range re.Sub {
		if !isKeyword(sub, kw) {
			continue
		}
		return sumBytes(re.Sub[:i]), sumBytes(re.Sub[i+1:]), true
	}
	return 0, 0, false
}

// isKeyword reports whether re is the literal kw (ignoring ASCII case), or a choice of literals one of
// which is kw.
func isKeyword(re *syntax.Regexp, kw string) bool {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	switch re.Op {
	case syntax.OpLiteral:
		return strings.ToLower(string(re.Rune)) == kw
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if isKeyword(s, kw) {
				return true
			}
		}
	}
	return false
}

func sumBytes(res []*syntax.Regexp) int {
	total := 0
	for _, s := range res {
		n := maxBytes(s)
		if n == unbounded {
			return unbounded
		}
		total += n
	}
	return total
}
