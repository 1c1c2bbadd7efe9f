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
	// trigrams has the bit triHash(a, b, c) set for the first three bytes of every keyword, in every
	// ASCII case (for a two-byte keyword, with every byte that may follow it): one lookup per byte of
	// text rejects almost every position, where a pair alone matches common English bigrams.
	trigrams [1 << 16 / 64]uint64
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
		g.addTrigrams(k.kw)
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

// triHash maps three bytes to 16 bits (multiplicative hashing).
func triHash(a, b, c byte) uint32 {
	return (uint32(a)<<16 | uint32(b)<<8 | uint32(c)) * 0x9E3779B1 >> 16
}

// cases returns c and, for an ASCII letter, its other case.
func cases(c byte) []byte {
	if 'a' <= c && c <= 'z' {
		return []byte{c, c - 'a' + 'A'}
	}
	return []byte{c}
}

// addTrigrams sets the trigram bits of the keyword kw (lower case, at least two bytes).
func (g *keywordGate) addTrigrams(kw string) {
	var thirds []byte
	if len(kw) >= 3 {
		thirds = cases(kw[2])
	} else {
		for c := range 256 { // a two-byte keyword counts only before token characters
			if isTokenByte(byte(c)) {
				thirds = append(thirds, byte(c))
			}
		}
	}
	for _, a := range cases(kw[0]) {
		for _, b := range cases(kw[1]) {
			for _, c := range thirds {
				h := triHash(a, b, c)
				g.trigrams[h/64] |= 1 << (h % 64)
			}
		}
	}
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
	if g.hasSingles {
		g.eachSingle(text, fn)
	}
	// Keywords of two bytes need shortKeywordTail more and longer ones a third byte: none starts at the
	// last two bytes.
	for i := 0; i+2 < len(text); i++ {
		h := triHash(text[i], text[i+1], text[i+2])
		if g.trigrams[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		p := uint16(lower[text[i]])<<8 | uint16(lower[text[i+1]])
		if g.pairs[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		l := g.byPair[p]
		hd := lowerHead4(text, i)
		for _, k := range g.lists[l-1] {
			if hd&k.mask != k.head || i+len(k.kw) > len(text) || !hasPrefixFold(text[i:], k.kw) {
				continue
			}
			if len(k.kw) == 2 && !shortKeywordFollowed(text, i, k.kw) {
				continue
			}
			fn(i, k)
		}
	}
}

// eachSingle calls fn for every occurrence of a one-byte keyword (the default rule set has none).
// Its calls come before the others', so a rule with both kinds of keywords sees its windows unsorted;
// scanSpecific merges only adjacent windows, which stays correct, merely less tight.
func (g *keywordGate) eachSingle(text string, fn func(at int, k keywordOf)) {
	for i := 0; i < len(text); i++ {
		for _, k := range g.singles[lower[text[i]]] {
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
