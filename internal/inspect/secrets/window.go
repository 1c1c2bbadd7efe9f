package secrets

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// window is a byte range of a text on which the generic rules run.
type window struct{ start, end int }

// Bounds of the windows around a keyword; they cover every match of gitleaks' generic rule that contains
// the keyword (at most 50 name characters before it; name, operator and quotes, then a value of at most
// 150 characters and one terminator after it).
const (
	windowBefore = 50
	windowAfter  = 3
	nameSpan     = 24
	opSpan       = 8
	minValue     = 10
)

// Byte classes of the generic rule's parts.
const (
	clName    = 1 << iota // name characters, quotes and spaces between a keyword and the operator
	clOp                  // assignment operators
	clQuoteOp             // operators, quotes and spaces between the operator and the value
	clValue               // value characters
	clAlnum
)

var class = func() (t [256]uint8) {
	for c := range 256 {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		space := c == ' ' || c == '\t' || c == '\r' || c == '\n'
		quote := c == '\'' || c == '"'
		op := strings.IndexByte("=:>,|?", byte(c)) >= 0
		if alnum || c == '_' || c == '.' || c == '-' || space || quote {
			t[c] |= clName
		}
		if op {
			t[c] |= clOp
		}
		if op || space || quote || c == '`' {
			t[c] |= clQuoteOp
		}
		if alnum || strings.IndexByte("_.-=+/", byte(c)) >= 0 {
			t[c] |= clValue
		}
		if alnum {
			t[c] |= clAlnum
		}
	}
	return t
}()

func isIdentByte(c byte) bool     { return isAlnum(c) || c == '_' || c == '.' || c == '-' }
func isNameByte(c byte) bool      { return class[c]&clName != 0 }
func isOpByte(c byte) bool        { return class[c]&clOp != 0 }
func isQuoteOrOpByte(c byte) bool { return class[c]&clQuoteOp != 0 }
func isValueByte(c byte) bool     { return class[c]&clValue != 0 }
func isAlnum(c byte) bool         { return class[c]&clAlnum != 0 }

// genericEntropyFloor is below the generic rule's entropy threshold (3.5 bits per character) with a
// margin for the rule's secret group being a part of the value run.
const genericEntropyFloor = 3.0

// mayBeGenericSecret rejects values the generic rule would drop anyway: a value of letters, dots,
// dashes and underscores only (its allowlist), or one with too little entropy. The check is exact only
// when the run holds no '+' or '/', where the rule's secret may be a part of it, so such runs pass.
func mayBeGenericSecret(v string) bool {
	if strings.ContainsAny(v, "+/") {
		return true
	}
	letters := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			letters = false
			break
		}
	}
	return !letters && entropy(v) > genericEntropyFloor
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// assignmentWindows returns the merged windows of text where a keyword (lower case) is followed, across
// at most nameSpan name characters, by an assignment operator and a value of at least minValue
// characters: a necessary condition for gitleaks' generic rule, checked in one pass from each operator
// instead of running the rule's expression over the whole text.
func assignmentWindows(text string, keywords []string) []window {
	maxKW := 0
	for _, k := range keywords {
		maxKW = max(maxKW, len(k))
	}
	var ws []window
	for i := 0; i < len(text); i++ {
		if !isOpByte(text[i]) {
			continue
		}
		// The value: after at most opSpan operator, quote or space bytes, minValue value bytes.
		j, n := i, 0
		for j < len(text) && n < opSpan && isQuoteOrOpByte(text[j]) {
			j++
			n++
		}
		v := j
		for v < len(text) && v-j <= 150 && isValueByte(text[v]) {
			v++
		}
		if v-j < minValue || !mayBeGenericSecret(text[j:v]) {
			continue
		}
		// The name: a keyword ending at most nameSpan name bytes before the operator.
		b := i
		for b > 0 && i-b < nameSpan+maxKW && isNameByte(text[b-1]) {
			b--
		}
		kw := -1
		for p := b; p < i && kw < 0; p++ {
			for _, k := range keywords {
				if p+len(k) <= i && i-(p+len(k)) <= nameSpan && hasPrefixFold(text[p:], k) {
					kw = p
					break
				}
			}
		}
		if kw < 0 {
			continue
		}
		// The rule's match starts at most 50 name characters ([\w.-]) before the keyword; starting the
		// window there rather than earlier keeps the expression's work small.
		st := kw
		for st > 0 && kw-st < windowBefore && isIdentByte(text[st-1]) {
			st--
		}
		w := window{st, min(len(text), v+windowAfter)}
		for w.start > 0 && !utf8.RuneStart(text[w.start]) {
			w.start--
		}
		for w.end < len(text) && !utf8.RuneStart(text[w.end]) {
			w.end++
		}
		ws = append(ws, w)
	}
	return merge(ws)
}

// merge sorts windows and joins the overlapping ones.
func merge(ws []window) []window {
	if len(ws) < 2 {
		return ws
	}
	slices.SortFunc(ws, func(a, b window) int { return a.start - b.start })
	merged := ws[:1]
	for _, w := range ws[1:] {
		last := &merged[len(merged)-1]
		if w.start <= last.end {
			last.end = max(last.end, w.end)
			continue
		}
		merged = append(merged, w)
	}
	return merged
}

func isJWTByte(c byte) bool {
	return isAlnum(c) || c == '/' || c == '\\' || c == '_' || c == '-' || c == '=' || c == '.'
}

// jwtWindows returns windows around "ey" followed by at least 17 letters or digits and a dot: the start
// of a JSON Web Token, whose header and payload both begin with the base64 of `{"`. It looks for the
// 'y' (rare in text) rather than the 'e' (the commonest letter).
func jwtWindows(text string, _ []string) []window {
	var ws []window
	for from := 0; from+1 < len(text); {
		m := strings.IndexByte(text[from+1:], 'y')
		if m < 0 {
			break
		}
		k := from + m // the 'e', if any, at k and the 'y' at k+1
		if text[k] != 'e' {
			from = k + 1
			continue
		}
		j := k + 2
		for j < len(text) && isAlnum(text[j]) {
			j++
		}
		if j-k-2 < 17 || j >= len(text) || text[j] != '.' {
			// Every later "ey" in this run of letters and digits ends it at the same j, closer: none
			// starts a token either. (Without this, a long run holding many "ey" (1 MB of base64) was
			// scanned once per "ey": quadratic.)
			from = j
			continue
		}
		for j < len(text) && isJWTByte(text[j]) {
			j++
		}
		ws = append(ws, window{max(0, k-1), min(len(text), j+4)})
		from = j
	}
	return merge(ws)
}
