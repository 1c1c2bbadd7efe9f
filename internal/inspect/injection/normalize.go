package injection

import (
	"encoding/binary"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mcpwarden/mcpwarden/internal/inspect/sanitize"
)

// normText is the form keyword rules read, with a map back to the original text.
type normText struct {
	s string
	// idx[i] is the offset in the original text of normalised byte i; nil means the identity, and
	// that the text is plainASCII (only case changed).
	idx []int32
	n   int // length of the original text
}

// orig maps a normalised offset (0…len(s)) to an offset in the original text.
func (t *normText) orig(i int) int {
	if t.idx == nil {
		return i
	}
	if i >= len(t.idx) {
		return t.n
	}
	return int(t.idx[i])
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// printableRun returns the index of the first byte at or after i that is not printable ASCII
// (0x20–0x7E), or len(s); it tests eight bytes at a time.
func printableRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A byte below 0x20, or one whose low seven bits are 0x7F or whose high bit is set.
		if ((x-ones*0x20)&^x|((x&^highs)+ones)|x)&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F {
			return i
		}
	}
	return i
}

// plainASCII reports whether s is printable ASCII, tab, newline and carriage return only; it tests
// eight bytes at a time and looks at single bytes only in words holding a control or a non-ASCII byte
// (in text, the newlines).
func plainASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// As in printableRun: a byte below 0x20, or one whose low seven bits are 0x7F or whose high bit is set.
		if ((x-ones*0x20)&^x|((x&^highs)+ones)|x)&highs == 0 {
			continue
		}
		for k := i; k < i+8; k++ {
			if c := s[k]; c >= 0x7F || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x7F || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func lowerASCII(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			break
		}
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// Per byte: 0x80 where the byte is in 'A'..'Z' (ASCII, ≥ 'A' and not > 'Z'), then 0x20 there.
		h := x &^ highs
		ge := h + ones*(0x80-'A')
		gt := h + ones*(0x7F-'Z')
		upper := (ge &^ gt) &^ x & highs
		binary.LittleEndian.PutUint64(b[i:], x|upper>>2)
	}
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

// needsSanitize reports whether text holds anything sanitize.String removes (it is much slower than
// this check on text that is merely non-ASCII).
func needsSanitize(text string) bool {
	for i := 0; i < len(text); {
		if i = printableRun(text, i); i >= len(text) {
			return false
		}
		c := text[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' || c == 0x7F || c == '\r' && (i+1 >= len(text) || text[i+1] != '\n') {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && size == 1 || sanitize.IsControl(r) || sanitize.IsInvisible(r) {
			return true
		}
		i += size
	}
	return false
}

// normalize builds the keyword form of text: sanitize.String removes escape sequences, controls and
// invisible characters; compatibility forms fold (NFKC: fullwidth, ligatures, mathematical letters);
// Latin, Greek and Cyrillic letters lose their diacritics; everything is lower case.
func normalize(text string) normText {
	if plainASCII(text) {
		return normText{s: lowerASCII(text), n: len(text)}
	}
	clean := text
	var cleanIdx []int32 // offsets in text of the bytes of clean; nil: the identity
	if needsSanitize(text) {
		clean, cleanIdx, _ = sanitize.StringIndex(text)
	}
	at := func(j int) int32 {
		if cleanIdx == nil {
			return int32(j)
		}
		return cleanIdx[j]
	}
	out := make([]byte, 0, len(clean)+8)
	idx := make([]int32, 0, len(clean)+8)
	var buf [utf8.UTFMax]byte
	for j := 0; j < len(clean); {
		if c := clean[j]; c < utf8.RuneSelf {
			// ASCII, most of any text: no decoding, no normal form; the whole printable run at once.
			e := max(j+1, printableRun(clean, j))
			for k := j; k < e; k++ {
				c := clean[k]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				out = append(out, c)
			}
			if cleanIdx == nil {
				for k := j; k < e; k++ {
					idx = append(idx, int32(k))
				}
			} else {
				idx = append(idx, cleanIdx[j:e]...)
			}
			j = e
			continue
		}
		r, size := utf8.DecodeRuneInString(clean[j:])
		o := at(j)
		if combiningMark(r) {
			// Marks stacked on letters (strike-through overlays, stray accents) hide nothing from a
			// model and split keywords; NFKC composes the ones that belong to a letter before this.
			j += size
			continue
		}
		if c, ok := sanitize.Latin(unicode.ToLower(r)); ok && mixedWord(clean, j, size) {
			// A Cyrillic or Greek look-alike inside a Latin word ("ignоre"): read it as the Latin letter.
			out = append(out, c)
			idx = append(idx, o)
			j += size
			continue
		}
		{
			// Most runes are already in normal form and only need lower-casing; the buffer avoids an
			// allocation per rune.
			n0 := utf8.EncodeRune(buf[:], r)
			latin := r >= 0xC0 && r < 0x530 // Latin, Greek, Cyrillic, Armenian: strip diacritics
			f := norm.NFKC
			if latin {
				f = norm.NFKD
			}
			if f.IsNormal(buf[:n0]) {
				n := utf8.EncodeRune(buf[:], unicode.ToLower(r))
				for k := 0; k < n; k++ {
					out = append(out, buf[k])
					idx = append(idx, o)
				}
				j += size
				continue
			}
			for _, d := range f.String(string(r)) {
				if latin && d >= 0x300 && d <= 0x36F {
					continue
				}
				n := utf8.EncodeRune(buf[:], unicode.ToLower(d))
				for k := 0; k < n; k++ {
					out = append(out, buf[k])
					idx = append(idx, o)
				}
			}
		}
		j += size
	}
	return normText{s: string(out), idx: idx, n: len(text)}
}

// excerpt returns at most width bytes of s around [start, end) on rune boundaries, newlines flattened.
func excerpt(s string, start, end, width int) string {
	if end-start > width {
		end = start + width
	}
	pad := (width - (end - start)) / 2
	from, to := max(0, start-pad), min(len(s), end+pad)
	for from > 0 && !utf8.RuneStart(s[from]) {
		from--
	}
	for to < len(s) && !utf8.RuneStart(s[to]) {
		to++
	}
	b := make([]byte, 0, to-from+8)
	if from > 0 {
		b = append(b, "…"...)
	}
	space := false
	for _, r := range s[from:to] {
		if r == '\n' || r == '\r' || r == '\t' || r == ' ' {
			if !space {
				b = append(b, ' ')
			}
			space = true
			continue
		}
		space = false
		if sanitize.IsControl(r) || sanitize.IsInvisible(r) {
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	if to < len(s) {
		b = append(b, "…"...)
	}
	return string(b)
}

// combiningMark reports whether r is a combining diacritical mark (of the blocks used to decorate Latin
// text); marks of other scripts (Indic vowel signs, kana voicing) are letters' parts and stay.
func combiningMark(r rune) bool {
	return r >= 0x300 && r <= 0x36F || r >= 0x1AB0 && r <= 0x1AFF || r >= 0x1DC0 && r <= 0x1DFF || r >= 0x20D0 && r <= 0x20FF || r >= 0xFE20 && r <= 0xFE2F
}

// mixedWord reports whether the word around s[j:j+size] holds an ASCII letter: a word that mixes Latin
// letters with look-alikes is disguised Latin, while a word wholly in Cyrillic or Greek is that language.
func mixedWord(s string, j, size int) bool {
	return latinNear(s, j-1, -1, j) || latinNear(s, j+size, 1, j)
}

// latinNear walks s from k in steps of step, at most 40 bytes from j, over non-ASCII bytes, apostrophes
// and hyphens, and reports whether it meets an ASCII letter before any other ASCII byte.
func latinNear(s string, k, step, j int) bool {
	for ; k >= 0 && k < len(s) && (k-j <= 40 && j-k <= 40); k += step {
		c := s[k]
		if c < utf8.RuneSelf {
			if 'a' <= c|0x20 && c|0x20 <= 'z' {
				return true
			}
			if c != '\'' && c != '-' {
				return false
			}
		}
	}
	return false
}
