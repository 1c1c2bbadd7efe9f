package secrets

import "strings"

// keywordOf is one keyword (lower case) of one specific rule (an index in detectors.specific).
type keywordOf struct {
	kw   string
	rule int
	// before and after bound the bytes of a match of the rule before and after the keyword, or are
	// unbounded.
	before, after int
	// near, when set, is a further necessary condition of a match, checked at the end of the keyword.
	near func(text string, end int) bool
	// head and mask are the keyword's first (up to) four bytes, little-endian, for a quick comparison.
	head, mask uint32
}

// lowerHead4 returns the first four bytes of text at i in ASCII lower case, little-endian (zero past
// the end).
func lowerHead4(text string, i int) uint32 {
	if i+4 <= len(text) {
		return uint32(lower[text[i]]) | uint32(lower[text[i+1]])<<8 | uint32(lower[text[i+2]])<<16 | uint32(lower[text[i+3]])<<24
	}
	var w uint32
	for k := 0; i+k < len(text) && k < 4; k++ {
		w |= uint32(lower[text[i+k]]) << (8 * k)
	}
	return w
}

// keywordGate finds, in one pass over a text and ignoring ASCII case, every occurrence of the keywords
// of a rule set. gitleaks' own prefilter lower-cases the whole text and walks an Aho-Corasick automaton,
// about 5 ns per byte; the gate checks one table entry per byte pair and compares keywords only where a
// pair starts one, about 1 ns per byte on text that holds no keyword (the common case).
type keywordGate struct {
	// pairs has bit p set when byPair[p] != 0: 8 KiB that stay in the L1 cache, where byPair does not.
	pairs [1 << 16 / 64]uint64
	// byPair[p] is 1 + the index in lists of the keywords whose lower-cased first two bytes are p, or 0.
	byPair [1 << 16]uint16
	lists  [][]keywordOf
	// singles are the one-byte keywords, by byte.
	singles    [256][]keywordOf
	hasSingles bool
}

// lower maps every byte to its ASCII lower case.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

func lowerASCII(c byte) byte { return lower[c] }

func pairOf(a, b byte) uint16 { return uint16(lowerASCII(a))<<8 | uint16(lowerASCII(b)) }

func newKeywordGate(keywords []keywordOf) *keywordGate {
	g := &keywordGate{}
	for _, k := range keywords {
		k.kw = strings.ToLower(k.kw)
		switch len(k.kw) {
		case 0:
			continue
		case 1:
			g.singles[k.kw[0]] = append(g.singles[k.kw[0]], k)
			g.hasSingles = true
			continue
		}
		for j := 0; j < min(4, len(k.kw)); j++ {
			k.head |= uint32(k.kw[j]) << (8 * j)
			k.mask |= 0xFF << (8 * j)
		}
		p := pairOf(k.kw[0], k.kw[1])
		if g.byPair[p] == 0 {
			g.lists = append(g.lists, nil)
			g.byPair[p] = uint16(len(g.lists))
			g.pairs[p/64] |= 1 << (p % 64)
		}
		g.lists[g.byPair[p]-1] = append(g.lists[g.byPair[p]-1], k)
	}
	return g
}

// shortKeywordTail is how many token characters must follow a two-byte keyword ("sk", "s.", "q~") for
// it to count: the rules that use them (twilio-api-key, vault-service-token, azure-ad-client-secret)
// match a token of at least 24 characters right after it, and the pairs are common in prose.
const shortKeywordTail = 20

func isTokenByte(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '~'
}

// each calls fn for every occurrence at text[at:] of a keyword, in text order.
func (g *keywordGate) each(text string, fn func(at int, k keywordOf)) {
	for i := 0; i < len(text); i++ {
		if g.hasSingles {
			for _, k := range g.singles[lower[text[i]]] {
				fn(i, k)
			}
		}
		if i+1 >= len(text) {
			break
		}
		p := uint16(lower[text[i]])<<8 | uint16(lower[text[i+1]])
		if g.pairs[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		l := g.byPair[p]
		h := lowerHead4(text, i)
		for _, k := range g.lists[l-1] {
			if h&k.mask != k.head || i+len(k.kw) > len(text) || !hasPrefixFold(text[i:], k.kw) {
				continue
			}
			if len(k.kw) == 2 && !shortKeywordFollowed(text, i, k.kw) {
				continue
			}
			fn(i, k)
		}
	}
}

// shortKeywordFollowed reports whether the two-byte keyword kw at text[i:] is followed by
// shortKeywordTail token characters.
func shortKeywordFollowed(text string, i int, kw string) bool {
	n := 0
	tok := isAlnum // "s." and "sk" precede letters and digits only; "q~" a wider set
	if kw == "q~" {
		tok = isTokenByte
	}
	for j := i + 2; j < len(text) && tok(text[j]) && n < shortKeywordTail; j++ {
		n++
	}
	return n >= shortKeywordTail
}

// hasPrefixFold reports whether s starts with the lower-case ASCII keyword k, ignoring ASCII case.
func hasPrefixFold(s, k string) bool {
	for i := 0; i < len(k); i++ {
		if lowerASCII(s[i]) != k[i] {
			return false
		}
	}
	return true
}
