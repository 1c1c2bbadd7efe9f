package secrets

import "strings"

// keywordGate answers quickly whether any keyword of a rule set occurs in a text, ignoring ASCII case.
// gitleaks' own prefilter lower-cases the whole text and walks an Aho-Corasick automaton, about 5 ns per
// byte; the gate checks one bit per byte pair and compares keywords only where a pair starts one, so a
// text that holds no keyword (the common case) costs about 1 ns per byte and skips the detector.
type keywordGate struct {
	// byPair[p] is 1 + the index in lists of the keywords whose lower-cased first two bytes are p, or 0.
	byPair [1 << 16]uint16
	lists  [][]string
	always bool // a keyword shorter than two bytes, or a rule without keywords: the gate cannot decide
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

func newKeywordGate(keywords []string) *keywordGate {
	g := &keywordGate{}
	for _, k := range keywords {
		k = strings.ToLower(k)
		if len(k) < 2 {
			g.always = true
			continue
		}
		p := pairOf(k[0], k[1])
		if g.byPair[p] == 0 {
			g.lists = append(g.lists, nil)
			g.byPair[p] = uint16(len(g.lists))
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

// match reports whether text contains one of the keywords.
func (g *keywordGate) match(text string) bool {
	if g.always {
		return true
	}
	for i := 0; i+1 < len(text); i++ {
		l := g.byPair[uint16(lower[text[i]])<<8|uint16(lower[text[i+1]])]
		if l == 0 {
			continue
		}
		for _, k := range g.lists[l-1] {
			if i+len(k) > len(text) || !hasPrefixFold(text[i:], k) {
				continue
			}
			if len(k) == 2 {
				n := 0
				tok := isAlnum // "s." and "sk" precede letters and digits only; "q~" a wider set
				if k == "q~" {
					tok = isTokenByte
				}
				for j := i + 2; j < len(text) && tok(text[j]) && n < shortKeywordTail; j++ {
					n++
				}
				if n < shortKeywordTail {
					continue
				}
			}
			return true
		}
	}
	return false
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
