// Package sanitize removes characters that hide or spoof text from strings an MCP server hands to a client
// or a model: terminal escape sequences (ANSI CSI/OSC/DCS, 7-bit and 8-bit), C0 and C1 control characters,
// Unicode tag characters, zero-width and other invisible characters, bidirectional controls and variation
// selectors used to smuggle data.
//
// Contract: String returns its input unchanged (and changed == false) when nothing had to be removed, so a
// caller can forward the original bytes; its output is a fixed point (String(String(s)) == String(s)). JSON
// applies String to every string value of a JSON document, leaves object keys and every other byte alone,
// and returns the very input slice when nothing changed. Neither function does I/O or allocates on the
// unchanged fast path beyond a scan.
//
// Kept on purpose: tab, newline, a carriage return directly before a newline, and a single emoji
// presentation selector (U+FE0E/U+FE0F) or zero-width joiner between two symbols, which is how ordinary
// emoji are spelled. Invalid UTF-8 bytes are replaced by U+FFFD, because a terminal may read a stray byte
// 0x9B as a CSI introducer.
package sanitize

import (
	"unicode"
	"unicode/utf8"
)

// IsInvisible reports whether r is a character that renders as nothing (or only changes how neighbouring
// text is ordered or rendered) and that String removes: Unicode tags, zero-width characters, bidi
// controls, variation selectors, and invisible fillers.
func IsInvisible(r rune) bool {
	switch {
	case r >= 0xE0000 && r <= 0xE007F: // tag characters
		return true
	case r >= 0x200B && r <= 0x200F: // ZWSP, ZWNJ, ZWJ, LRM, RLM
		return true
	case r >= 0x202A && r <= 0x202E: // bidi embeddings and overrides
		return true
	case r >= 0x2060 && r <= 0x2064: // word joiner, invisible operators
		return true
	case r >= 0x2066 && r <= 0x2069: // bidi isolates
		return true
	case r >= 0x206A && r <= 0x206F: // deprecated format characters
		return true
	case r >= 0xFE00 && r <= 0xFE0F: // variation selectors
		return true
	case r >= 0xE0100 && r <= 0xE01EF: // variation selectors supplement
		return true
	case r >= 0x180B && r <= 0x180F: // Mongolian free variation selectors and vowel separator
		return true
	case r >= 0xFFF9 && r <= 0xFFFB: // interlinear annotation anchor, separator, terminator
		return true
	case r >= 0x1D173 && r <= 0x1D17A: // musical symbol begin/end beam, tie, slur, phrase (format)
		return true
	case r >= 0x1BCA0 && r <= 0x1BCA3: // shorthand format controls
		return true
	case r >= 0x13430 && r <= 0x1343F: // Egyptian hieroglyph format controls
		return true
	case r == 0x2065: // default-ignorable, unassigned in the invisible-operator block
		return true
	}
	switch r {
	case 0xFEFF, 0x00AD, 0x034F, 0x061C, 0x180E, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5:
		return true
	}
	return false
}

// IsControl reports whether r is a C0 or C1 control character or DEL, other than tab, newline and
// carriage return.
func IsControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return r < 0x20 || (r >= 0x7F && r <= 0x9F)
}

// needsWork reports quickly whether s might contain anything String removes.
func needsWork(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' && c != '\n' {
			return true
		}
		if c >= 0x7F {
			return true
		}
	}
	return false
}

// String returns s without terminal escape sequences, control characters (except tab and newline, and a
// carriage return that ends a line), and invisible, tag, bidi and variation-selector characters. changed
// reports whether anything was removed or replaced; when it is false, clean == s.
func String(s string) (clean string, changed bool) {
	if !needsWork(s) {
		return s, false
	}
	return sanitize(s, nil)
}

// StringIndex is String that also maps the result back to s: idx[j] is the offset in s of the character
// that clean[j] belongs to. idx is nil when nothing changed (clean == s: the identity).
func StringIndex(s string) (clean string, idx []int32, changed bool) {
	if !needsWork(s) {
		return s, nil, false
	}
	idx = make([]int32, 0, len(s))
	clean, changed = sanitize(s, &idx)
	if !changed {
		return s, nil, false
	}
	return clean, idx, true
}

// sanitize does String's work; when idx is set it appends the source offset of every output byte.
func sanitize(s string, idx *[]int32) (clean string, changed bool) {
	out := make([]byte, 0, len(s))
	emit := func(from int, b string) {
		out = append(out, b...)
		if idx != nil {
			for range len(b) {
				*idx = append(*idx, int32(from))
			}
		}
	}
	i := 0
	for i < len(s) {
		if c := s[i]; c >= 0x20 && c < 0x7F || c == '\t' || c == '\n' {
			// Printable ASCII, the bulk of any text: copy the whole run.
			j := i + 1
			for j < len(s) && (s[j] >= 0x20 && s[j] < 0x7F || s[j] == '\t' || s[j] == '\n') {
				j++
			}
			out = append(out, s[i:j]...)
			if idx != nil {
				for k := i; k < j; k++ {
					*idx = append(*idx, int32(k))
				}
			}
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			emit(i, string(utf8.RuneError))
			changed = true
			i++
			continue
		}
		switch {
		case r == 0x1B: // ESC: drop the whole escape sequence
			i = skipEscape(s, i+size)
			changed = true
			continue
		case r == 0x9B: // 8-bit CSI
			i = skipCSI(s, i+size)
			changed = true
			continue
		case r == 0x9D || r == 0x90 || r == 0x98 || r == 0x9E || r == 0x9F: // 8-bit OSC, DCS, SOS, PM, APC
			i = skipString(s, i+size)
			changed = true
			continue
		case r == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				emit(i, "\r")
			} else {
				changed = true
			}
			i += size
			continue
		case IsControl(r):
			changed = true
			i += size
			continue
		case IsInvisible(r):
			if keepJoiner(s, i, r, out) {
				emit(i, s[i:i+size])
			} else {
				changed = true
			}
			i += size
			continue
		}
		emit(i, s[i:i+size])
		i += size
	}
	if !changed {
		return s, false
	}
	return string(out), true
}

// keepJoiner reports whether the invisible rune r at s[i] is part of an ordinary emoji spelling: one
// presentation selector (U+FE0E/U+FE0F) right after a symbol, or a zero-width joiner between two symbols.
func keepJoiner(s string, i int, r rune, out []byte) bool {
	if r != 0xFE0F && r != 0xFE0E && r != 0x200D {
		return false
	}
	prev, _ := utf8.DecodeLastRune(out)
	if !isEmojiBase(prev) {
		return false
	}
	next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
	if r == 0x200D {
		return isEmojiBase(next)
	}
	// A selector followed by another invisible character is a smuggling chain, not an emoji.
	return !IsInvisible(next)
}

func isEmojiBase(r rune) bool {
	if r == utf8.RuneError || r < 0x80 {
		return false
	}
	return unicode.Is(unicode.So, r) || (r >= 0x1F000 && r <= 0x1FAFF)
}

// skipEscape returns the index after the escape sequence whose ESC byte ended just before i.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipString(s, i+1)
	}
	// Two-character sequences (ESC 7, ESC c, ESC ( B …): intermediates 0x20–0x2F then one final byte.
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2F {
		i++
	}
	if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7E {
		i++
	}
	return i
}

// skipCSI skips parameter bytes (0x30–0x3F), intermediate bytes (0x20–0x2F) and one final byte (0x40–0x7E).
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3F {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7E {
		i++
	}
	return i
}

// skipString skips the body of an OSC/DCS/SOS/PM/APC string up to and including its terminator: BEL,
// ESC \ or the 8-bit ST (U+009C). An unterminated string runs to the end of its line, so a stray
// introducer cannot swallow a whole document.
func skipString(s string, i int) int {
	for i < len(s) {
		c := s[i]
		switch {
		case c == 0x07:
			return i + 1
		case c == 0x1B:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i
		case c == '\n':
			return i
		case c == 0xC2 && i+1 < len(s) && s[i+1] == 0x9C:
			return i + 2
		}
		i++
	}
	return i
}
