package policy

import (
	"strings"
	"unicode"

	"github.com/mcpwarden/mcpwarden/internal/inspect/sanitize"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

var folder = cases.Fold()

// Canonical returns the form in which names are compared: NFKC-normalised, case-folded, with invisible
// characters (format controls such as zero-width spaces, bidi controls, tag characters, variation
// selectors, soft hyphens) removed and common confusable letters (Cyrillic, Greek, fullwidth and
// mathematical forms after NFKC) mapped to their ASCII look-alikes. Two names that look the same to a human
// or a case-insensitive server have the same canonical form, so a rule written for one matches the other.
func Canonical(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	// Folding and mapping can produce text that normalises further (a folded letter decomposes, a mapped
	// letter composes with a following mark), so repeat until nothing changes.
	for range 4 {
		next := canonicalStep(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func canonicalStep(s string) string {
	s = norm.NFKC.String(folder.String(norm.NFKC.String(s)))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if invisible(r) {
			continue
		}
		if a, ok := sanitize.Latin(r); ok {
			b.WriteByte(a)
			continue
		}
		if a, ok := confusables[r]; ok {
			b.WriteRune(a)
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFKC.String(b.String())
}

func invisible(r rune) bool {
	switch {
	case r == 0xAD, r == 0x34F, r == 0x180E, // soft hyphen, combining grapheme joiner, Mongolian vowel separator
		r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2060 && r <= 0x206F, r == 0xFEFF,
		r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE0FFF:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// confusables maps letters that render like ASCII letters to them (after case folding, so lower case only),
// beside the Cyrillic and Greek look-alikes of sanitize.Latin.
var confusables = map[rune]rune{
	// Latin look-alikes
	'ᴢ': 'z', 'ɡ': 'g', 'ı': 'i', 'ȷ': 'j', 'ℓ': 'l', 'ſ': 's', 'ƅ': 'b', 'ɑ': 'a', 'ɩ': 'i', 'ʋ': 'u',
	// Punctuation that stands in for separators in names
	'‐': '-', '‑': '-', '‒': '-', '–': '-', '—': '-', '−': '-', '＿': '_', '․': '.', '·': '.',
}

// globMatch reports whether s matches pattern, where * matches any run of characters (including /) and ?
// one character. Both are expected in canonical form.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	pr, sr := []rune(pattern), []rune(s)
	for px < len(pr) || sx < len(sr) {
		if px < len(pr) {
			switch c := pr[px]; c {
			case '*':
				nextPx, nextSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(sr) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(sr) && sr[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextSx > 0 && nextSx <= len(sr) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}

// matcher is a compiled list of patterns in canonical form; empty means "any".
type matcher []pattern

type pattern struct {
	text string
	glob bool // has * or ?
}

func newMatcher(patterns []string) matcher {
	if len(patterns) == 0 {
		return nil
	}
	m := make(matcher, len(patterns))
	for i, p := range patterns {
		c := Canonical(p)
		m[i] = pattern{text: c, glob: strings.ContainsAny(c, "*?")}
	}
	return m
}

// match reports whether the canonical value v matches any pattern (true for an empty matcher).
func (m matcher) match(v string) bool {
	if len(m) == 0 {
		return true
	}
	for _, p := range m {
		if p.glob {
			if globMatch(p.text, v) {
				return true
			}
		} else if p.text == v {
			return true
		}
	}
	return false
}

// matchAny reports whether any canonical value matches any pattern (true for an empty matcher).
func (m matcher) matchAny(vs []string) bool {
	if len(m) == 0 {
		return true
	}
	for _, v := range vs {
		if m.match(Canonical(v)) {
			return true
		}
	}
	return false
}

// literals returns the patterns when none has a wildcard (the rule can be indexed by name), else nil.
func (m matcher) literals() []string {
	out := make([]string, 0, len(m))
	for _, p := range m {
		if p.glob {
			return nil
		}
		out = append(out, p.text)
	}
	return out
}
