package poison

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mcpwarden/mcpwarden/internal/inspect/sanitize"
)

// forms are the normalised views of one text that keyword rules read.
type forms struct {
	// flat: escapes, controls and invisible characters removed, HTML entities decoded, NFKC, lower case,
	// diacritics stripped, confusable letters folded to Latin, runs of horizontal space collapsed.
	// Newlines stay so that line-anchored rules (role markers) work.
	flat string
	// words: flat with light leetspeak undone inside words (0→o, 1→i, 3→e, 4→a, 5→s, 7→t, @→a, $→s),
	// every other non-alphanumeric run turned into one space, padded with a space at each end.
	words string
	// squash: words without spaces, for keywords spelled out letter by letter.
	squash string
	// native: for text in Cyrillic, Chinese, Japanese or Korean script, the text with escapes and
	// invisible characters removed, NFKC, lower case, and nothing else (flat folds Cyrillic look-alikes to
	// Latin and drops the voicing marks of kana); empty for other text.
	native string
}

// nativeScript reports whether s holds letters of a script the native-language rules read.
func nativeScript(s string) bool {
	for _, r := range s {
		if r >= 0x0400 && r <= 0x04FF || r >= 0x3040 && r <= 0x30FF || r >= 0x3400 && r <= 0x9FFF || r >= 0xAC00 && r <= 0xD7AF || r >= 0x1100 && r <= 0x11FF || r >= 0xF900 && r <= 0xFAFF {
			return true
		}
	}
	return false
}

func nativeOf(s string) string {
	s, _ = sanitize.String(s)
	if strings.IndexByte(s, '&') >= 0 {
		s, _ = sanitize.String(html.UnescapeString(s))
	}
	s = strings.ToLower(norm.NFKC.String(s))
	// Combining marks that NFKC could not compose (strike-through overlays, stray accents) are noise;
	// the kana voicing marks were composed by NFKC.
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) && r != 0x3099 && r != 0x309A {
			return -1
		}
		return r
	}, s)
	return strings.ReplaceAll(s, "ё", "е")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// confusables folds the Cyrillic and Greek letters that look like Latin ones (after lower-casing).
var confusables = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'з': '3', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k', 'м': 'm',
	'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q',
	'ԝ': 'w', 'ɡ': 'g', 'ո': 'n', 'ս': 'u', 'ց': 'g', 'һ': 'h', 'ӏ': 'l', 'ı': 'i', 'ȷ': 'j',
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'γ': 'y', 'ω': 'w', 'ϲ': 'c', 'ℓ': 'l',
}

// angleBrackets folds look-alikes of < and > that NFKC leaves alone (〈system〉, ‹important›).
var angleBrackets = map[rune]rune{
	'〈': '<', '〉': '>', '‹': '<', '›': '>', '⟨': '<', '⟩': '>', '《': '<', '》': '>', '˂': '<', '˃': '>',
	'❮': '<', '❯': '>', '⟪': '<', '⟫': '>', '⦉': '<', '⦊': '>', 'ᐸ': '<', 'ᐳ': '>', '⧼': '<', '⧽': '>',
}

// fold returns the flat form of s.
func fold(s string) string {
	s, _ = sanitize.String(s)
	ascii := isASCII(s)
	if !ascii {
		s = norm.NFKC.String(s)
	}
	if strings.IndexByte(s, '&') >= 0 {
		// Entities may spell markup (&lt;SYSTEM&gt;) or invisible characters (&#x200B;).
		s, _ = sanitize.String(html.UnescapeString(strings.ToLower(s)))
		if ascii = isASCII(s); !ascii {
			s = norm.NFKC.String(s)
		}
	}
	if !ascii {
		// Decompose once more to drop diacritics; NFKC already applied compatibility mappings.
		s = norm.NFD.String(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if !ascii {
			if unicode.Is(unicode.Mn, r) {
				continue
			}
			r = unicode.ToLower(r)
			if c, ok := confusables[r]; ok {
				r = c
			}
		} else if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r == '\n' {
			b.WriteByte('\n')
			space = true // swallow spaces after a newline
			continue
		}
		if a, ok := angleBrackets[r]; ok {
			r = a
		}
		if unicode.IsSpace(r) || r == 0x2800 {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// leet maps the digits and symbols used as letters in "light" leetspeak.
func leet(r rune) (rune, bool) {
	switch r {
	case '0':
		return 'o', true
	case '1', '!', '|':
		return 'i', true
	case '3':
		return 'e', true
	case '4', '@':
		return 'a', true
	case '5', '$':
		return 's', true
	case '7':
		return 't', true
	}
	return r, false
}

func isWordRune(r rune) bool {
	return r < utf8.RuneSelf && ('a' <= r && r <= 'z' || '0' <= r && r <= '9') || r >= utf8.RuneSelf && unicode.IsLetter(r)
}

// wordsOf builds the words form from flat text.
func wordsOf(flat string) string {
	var b strings.Builder
	b.Grow(len(flat) + 2)
	b.WriteByte(' ')
	// A token is a maximal run of letters, digits and leet symbols; leet symbols are undone only in
	// tokens that also hold a letter, so numbers stay numbers.
	i := 0
	for i < len(flat) {
		r, size := utf8.DecodeRuneInString(flat[i:])
		_, isLeet := leet(r)
		if !isWordRune(r) && !isLeet {
			i += size
			continue
		}
		j := i
		hasLetter := false
		for j < len(flat) {
			r2, s2 := utf8.DecodeRuneInString(flat[j:])
			_, l2 := leet(r2)
			if !isWordRune(r2) && !l2 {
				break
			}
			if unicode.IsLetter(r2) {
				hasLetter = true
			}
			j += s2
		}
		tok := flat[i:j]
		if hasLetter && strings.Contains(tok, "11") {
			tok = strings.ReplaceAll(tok, "11", "ll") // te11 → tell, a11 → all
		}
		wrote := false
		for _, r2 := range tok {
			if hasLetter {
				if m, ok := leet(r2); ok {
					r2 = m
				}
			} else if !isWordRune(r2) {
				continue
			}
			b.WriteRune(r2)
			wrote = true
		}
		if wrote {
			b.WriteByte(' ')
		}
		i = j
	}
	if b.Len() == 1 {
		return " "
	}
	return b.String()
}

func squashOf(words string) string {
	return strings.ReplaceAll(words, " ", "")
}

func makeForms(s string) forms {
	flat := fold(s)
	w := wordsOf(flat)
	f := forms{flat: flat, words: w, squash: squashOf(w)}
	if !isASCII(flat) && nativeScript(flat) { // flat: entities decoded
		f.native = nativeOf(s)
	}
	return f
}

// excerpt returns about width bytes of s around [start,end), on rune boundaries, with an ellipsis where
// it was cut.
func excerpt(s string, start, end, width int) string {
	if end-start > width {
		end = start + width
	}
	pad := (width - (end - start)) / 2
	from, to := start-pad, end+pad
	if from < 0 {
		from = 0
	}
	if to > len(s) {
		to = len(s)
	}
	for from > 0 && !utf8.RuneStart(s[from]) {
		from--
	}
	for to < len(s) && !utf8.RuneStart(s[to]) {
		to++
	}
	out := strings.TrimSpace(strings.ReplaceAll(s[from:to], "\n", " "))
	if from > 0 {
		out = "…" + out
	}
	if to < len(s) {
		out += "…"
	}
	return out
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	s, _ = sanitize.String(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
