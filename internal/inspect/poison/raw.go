package poison

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mcpwarden/mcpwarden/internal/inspect/sanitize"
)

// Thresholds for the padding and length rules.
const (
	paddingSpaces   = 40    // a run of at least this many horizontal blanks …
	paddingIndent   = 120   // … or an indentation this deep …
	paddingNewlines = 8     // … or this many line breaks, followed by more text
	lengthLow       = 6000  // bytes in one text
	lengthMedium    = 24000 // bytes in one text
)

// rawChecks looks at the bytes and characters of t before normalisation hides them: invisible and
// control characters, escape sequences, padding, length and encoded payloads. It returns the texts it
// recovered from hidden channels, to be analysed as hidden text.
func (sc *scanner) rawChecks(it *item, t text) []text {
	s := t.s
	var hidden []text
	if len(s) > lengthMedium {
		it.emit(RuleLength, Medium, catUnicode, t.loc, fmt.Sprintf("%d bytes", len(s)), "text is far longer than any description a user reads")
	} else if len(s) > lengthLow && t.kind == kindText {
		it.emit(RuleLength, Low, 0, t.loc, fmt.Sprintf("%d bytes", len(s)), "text is longer than a user will read in a client")
	}
	if isASCII(s) && !hasC0(s) {
		return append(hidden, sc.encoded(it, t)...)
	}
	var (
		tags          strings.Builder
		nTags         int
		zw, zwInWord  int
		bidi, bidiOvr int
		vsBytes       []byte
		vsRun, vsMax  int
		prev          rune
	)
	for i, r := range s {
		switch {
		case r >= 0xE0000 && r <= 0xE007F:
			nTags++
			if r >= 0xE0020 && r <= 0xE007E {
				tags.WriteByte(byte(r - 0xE0000))
			}
		case r == 0x200B || r == 0x200C || r == 0x2060 || r == 0xFEFF || r == 0x180E || r == 0x00AD || (r >= 0x2061 && r <= 0x2064) || r == 0x034F || r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0 ||
			r >= 0xFFF9 && r <= 0xFFFB || r >= 0x1D173 && r <= 0x1D17A || r >= 0x1BCA0 && r <= 0x1BCA3 || r >= 0x13430 && r <= 0x1343F || r == 0x2065 || r >= 0x180B && r <= 0x180F:
			if r == 0xFEFF && i == 0 {
				break // byte order mark at the start
			}
			zw++
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
			if unicode.IsLetter(prev) && unicode.IsLetter(next) {
				zwInWord++
			}
		case r == 0x200D:
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
			if !(isSymbol(prev) && isSymbol(next)) {
				zw++
				if unicode.IsLetter(prev) && unicode.IsLetter(next) {
					zwInWord++
				}
			}
		case r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
			bidi++
			if r == 0x202D || r == 0x202E {
				bidiOvr++
			}
		case r == 0x200E || r == 0x200F || r == 0x061C:
			bidi++
		case r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF:
			if (r == 0xFE0F || r == 0xFE0E) && isSymbol(prev) && vsRun == 0 {
				next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
				if !(next >= 0xFE00 && next <= 0xFE0F || next >= 0xE0100 && next <= 0xE01EF) {
					break // ordinary emoji presentation selector
				}
			}
			vsRun++
			vsMax = max(vsMax, vsRun)
			if r <= 0xFE0F {
				vsBytes = append(vsBytes, byte(r-0xFE00))
			} else {
				vsBytes = append(vsBytes, byte(r-0xE0100+16))
			}
			prev = r
			continue
		}
		vsRun = 0
		if !(r >= 0xE0000 && r <= 0xE007F) && !sanitize.IsInvisible(r) {
			prev = r
		}
	}
	if nTags > 0 {
		decoded := tags.String()
		it.emit(RuleTagSmuggling, High, catHidden|catUnicode, t.loc, "hidden: "+decoded,
			fmt.Sprintf("%d invisible Unicode tag characters (U+E0000–E007F) carry text the user cannot see", nTags))
		if strings.TrimSpace(decoded) != "" {
			hidden = append(hidden, text{loc: t.loc, s: decoded, kind: kindText})
		}
	}
	if zw > 0 {
		sev, msg := Low, fmt.Sprintf("%d zero-width character(s)", zw)
		if zwInWord > 0 || zw >= 3 {
			sev = Medium
			msg += fmt.Sprintf(", %d inside words: keywords split to evade filters", zwInWord)
		}
		it.emit(RuleZeroWidth, sev, catUnicode, t.loc, fmt.Sprintf("%d zero-width", zw), msg)
	}
	if bidi > 0 {
		sev := Medium
		if bidiOvr > 0 {
			sev = High
		}
		it.emit(RuleBidi, sev, catUnicode|catHidden, t.loc, fmt.Sprintf("%d bidi controls (%d overrides)", bidi, bidiOvr),
			"bidirectional control characters reorder how text is displayed versus how it is read")
	}
	if len(vsBytes) > 0 {
		sev := Medium
		ev := fmt.Sprintf("%d variation selectors", len(vsBytes))
		if vsMax >= 4 {
			sev = High
			if dec := string(vsBytes); printableText(dec) {
				ev = "hidden: " + dec
				hidden = append(hidden, text{loc: t.loc, s: dec, kind: kindText})
			}
		}
		it.emit(RuleVariationSel, sev, catUnicode|catHidden, t.loc, ev, "variation selectors outside emoji: a known way to smuggle bytes in invisible characters")
	}
	sc.controls(it, t)
	sc.padding(it, t)
	return append(hidden, sc.encoded(it, t)...)
}

func isSymbol(r rune) bool {
	return r >= 0x80 && (unicode.Is(unicode.So, r) || r >= 0x1F000 && r <= 0x1FAFF)
}

func hasC0(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7F {
			return true
		}
		if s[i] == ' ' && i+1 < len(s) && s[i+1] == ' ' {
			return true // possible padding; let the slow path look
		}
		if s[i] == '\n' && i+1 < len(s) && s[i+1] == '\n' {
			return true
		}
	}
	return false
}

// controls flags ANSI escape sequences and other control characters.
func (sc *scanner) controls(it *item, t text) {
	s := t.s
	var hide, style, overwrite, other int
	var ev string
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1B:
			kind, end := classifyEscape(s, i+1)
			if ev == "" {
				ev = fmt.Sprintf("%q", s[i:min(end, i+24)])
			}
			if kind == escStyle {
				style++
			} else {
				hide++
			}
			i = end
			continue
		case r == 0x9B || r == 0x9D || r == 0x90:
			hide++
			if ev == "" {
				ev = fmt.Sprintf("%q", s[i:min(len(s), i+16)])
			}
		case r == '\r' && (i+1 >= len(s) || s[i+1] != '\n'):
			hide++ // carriage return overwrites the line in a terminal
			if ev == "" {
				ev = `"\r" (bare carriage return)`
			}
		case r == 0x08 || r == 0x0B || r == 0x0C || r == 0x7F:
			overwrite++ // backspace, vertical tab, form feed and delete overwrite or push away text
			if ev == "" {
				ev = fmt.Sprintf("%U", r)
			}
		case sanitize.IsControl(r):
			other++
			if ev == "" {
				ev = fmt.Sprintf("%U", r)
			}
		}
		i += size
	}
	switch {
	case hide > 0:
		it.emit(RuleANSI, High, catHidden|catUnicode, t.loc, ev,
			fmt.Sprintf("%d terminal control sequence(s) that move the cursor, erase, conceal, link or retitle: text can be hidden or spoofed in terminal clients", hide))
	case style > 0:
		it.emit(RuleANSI, Medium, catUnicode, t.loc, ev, fmt.Sprintf("%d ANSI styling sequence(s) in text shown to users", style))
	}
	if overwrite > 0 {
		it.emit(RuleControlChar, High, catHidden|catUnicode, t.loc, ev, fmt.Sprintf("%d backspace/vertical-tab/form-feed/delete character(s): they overwrite or push away displayed text", overwrite))
	} else if other > 0 {
		it.emit(RuleControlChar, Medium, catUnicode, t.loc, ev, fmt.Sprintf("%d control character(s) that have no place in a description", other))
	}
}

type escKind uint8

const (
	escStyle escKind = iota // SGR colours and weights
	escHide                 // cursor, erase, conceal, OSC, DCS …
)

// classifyEscape classifies the sequence whose ESC ended just before i and returns where it ends.
func classifyEscape(s string, i int) (escKind, int) {
	if i >= len(s) {
		return escHide, i
	}
	switch s[i] {
	case '[':
		j := i + 1
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x3F {
			j++
		}
		params := s[i+1 : j]
		if j < len(s) && s[j] == 'm' {
			for _, p := range strings.Split(params, ";") {
				if p == "8" || p == "08" {
					return escHide, j + 1 // SGR 8: concealed text
				}
			}
			return escStyle, j + 1
		}
		if j < len(s) {
			j++
		}
		return escHide, j
	}
	return escHide, i + 1
}

// padding flags long runs of blanks that push text out of view, when text follows them: a long
// horizontal run inside a line, a very deep indentation, or many line breaks. Ordinary indentation
// (source-code style template strings indent every line by a few dozen spaces) is not padding.
func (sc *scanner) padding(it *item, t text) {
	s := t.s
	inRun := false
	newlines, seg, maxMid, maxIndent, blanks := 0, 0, 0, 0, 0
	lineStart := true // the current horizontal segment began at the start of a line
	flag := func(end int) {
		if (maxMid >= paddingSpaces || maxIndent >= paddingIndent || newlines >= paddingNewlines) && strings.TrimSpace(s[end:]) != "" {
			it.emit(RulePadding, Medium, catHidden, t.loc, fmt.Sprintf("%d blanks, %d line breaks, then: %s", blanks, newlines, clip(strings.TrimSpace(s[end:]), 80)),
				"long run of whitespace pushes the following text out of the visible area")
		}
	}
	endSeg := func() {
		if lineStart {
			maxIndent = max(maxIndent, seg)
		} else {
			maxMid = max(maxMid, seg)
		}
		seg = 0
	}
	for i, r := range s {
		blank := r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == 0x2800 || r == 0x3164 || r == 0x115F || r == 0x1160 || r == 0xFFA0 || unicode.IsSpace(r) || sanitize.IsInvisible(r)
		if !blank {
			if inRun {
				endSeg()
				flag(i)
				inRun = false
			}
			lineStart = false
			continue
		}
		if !inRun {
			inRun, newlines, seg, maxMid, maxIndent, blanks = true, 0, 0, 0, 0, 0
			lineStart = i == 0
		}
		blanks++
		switch r {
		case '\n':
			endSeg()
			newlines++
			lineStart = true
		case '\r':
		default:
			seg++
		}
	}
}

// encoded decodes base64 and hex runs that turn out to be prose, and returns them as hidden text.
func (sc *scanner) encoded(it *item, t text) []text {
	if t.kind == kindName || len(t.s) < 40 {
		return nil
	}
	clean, _ := sanitize.String(t.s)
	if !isASCII(clean) {
		clean = norm.NFKC.String(clean) // fullwidth digits and letters fold to ASCII
	}
	var out []text
	for _, m := range runs(clean, isBase64Byte, 40, 4) {
		dec := decodeBase64(m)
		if dec == "" {
			continue
		}
		it.emit(RuleEncodedPayload, Low, 0, t.loc, "decoded: "+dec, "base64 text that decodes to readable prose; its content is scanned too")
		out = append(out, text{loc: t.loc, s: dec, kind: kindText})
	}
	for _, m := range runs(clean, isHexByte, 40, 4) {
		if len(m)%2 != 0 {
			m = m[:len(m)-1]
		}
		b, err := hex.DecodeString(m)
		if err != nil || !printableText(string(b)) {
			continue
		}
		it.emit(RuleEncodedPayload, Low, 0, t.loc, "decoded: "+string(b), "hex text that decodes to readable prose; its content is scanned too")
		out = append(out, text{loc: t.loc, s: string(b), kind: kindText})
	}
	return append(out, sc.obfuscated(it, t, clean)...)
}

// obfuscated recovers text written so that a person skims past it but a model reads it: percent-encoding
// (%69%67%6E…, or a query string's + and %2C), \u and \x escapes, ROT13 and reversed text (when the text
// says so: a model needs to be told), and words spelled out letter by letter ("i g n o r e  a l l").
// What it recovers is scanned as hidden text.
func (sc *scanner) obfuscated(it *item, t text, clean string) []text {
	var out []text
	add := func(dec, how string) {
		if printableText(dec) {
			it.emit(RuleEncodedPayload, Low, 0, t.loc, "decoded: "+dec, how+" text that decodes to readable prose; its content is scanned too")
			out = append(out, text{loc: t.loc, s: dec, kind: kindText})
		}
	}
	if strings.IndexByte(clean, '%') >= 0 {
		for _, f := range strings.Fields(clean) {
			// %XX escapes throughout, or a form-encoded phrase (words joined by + with a few escapes).
			if n := percentEscapes(f); n < 4 && (n < 1 || strings.Count(f, "+") < 4) {
				continue
			}
			dec, err := url.QueryUnescape(f)
			if err != nil {
				dec, err = url.PathUnescape(f)
			}
			if err == nil {
				add(dec, "percent-encoded")
			}
		}
	}
	if strings.Count(clean, `\u`)+strings.Count(clean, `\x`)+strings.Count(clean, `\U`) >= 4 {
		if dec, ok := unescapeCodes(clean); ok {
			add(dec, "escape-coded")
		}
	}
	kw := sc.keywords(t.s) // memoised: analyze reads the same forms
	lower := kw.forms.flat
	if strings.Contains(lower, "rot13") || strings.Contains(lower, "rot-13") || strings.Contains(lower, "rot 13") || strings.Contains(lower, "caesar") {
		add(rot13(clean), "ROT13")
	}
	if strings.Contains(lower, "backward") || strings.Contains(lower, "reverse") || strings.Contains(lower, "right to left") || strings.Contains(lower, "right-to-left") {
		add(reverse(clean), "reversed")
	}
	if kw.spelled {
		if dec := unspell(clean); dec != "" {
			add(dec, "spelled-out")
		}
	}
	return out
}

// percentEscapes counts the %XX escapes of s.
func percentEscapes(s string) int {
	n := 0
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHexByte(s[i+1]) && isHexByte(s[i+2]) {
			n++
			i += 2
		}
	}
	return n
}

// unescapeCodes decodes \uXXXX, \UXXXXXXXX and \xXX escapes (the bytes of \x runs as UTF-8).
func unescapeCodes(s string) (string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) {
			n := map[byte]int{'u': 4, 'U': 8, 'x': 2}[s[i+1]]
			if n > 0 && i+2+n <= len(s) {
				if v, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32); err == nil {
					if n == 2 {
						b.WriteByte(byte(v))
					} else {
						b.WriteRune(rune(v))
					}
					i += 2 + n
					changed = true
					continue
				}
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), changed
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// unspell joins letters spelled out with separators ("i g n o r e  a l l", "i.g.n.o.r.e a.l.l"): in a run
// of one-character pieces, the narrowest gap joins letters and wider gaps separate words. It returns ""
// when s has no run of at least six such pieces.
func unspell(s string) string {
	rs := []rune(s)
	isSep := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
	var b strings.Builder
	joined := false
	for i := 0; i < len(rs); {
		if !single(rs, i) {
			b.WriteRune(rs[i])
			i++
			continue
		}
		// Collect the run: single, gap, single, gap, …
		starts, gaps := []int{i}, []int{}
		j := i + 1
		for {
			k := j
			for k < len(rs) && isSep(rs[k]) && k-j < 12 {
				k++
			}
			if k == j || k >= len(rs) || !single(rs, k) {
				break
			}
			gaps = append(gaps, k-j)
			starts = append(starts, k)
			j = k + 1
		}
		if len(starts) < 6 {
			b.WriteString(string(rs[i:j]))
			i = j
			continue
		}
		narrow := gaps[0]
		for _, g := range gaps {
			narrow = min(narrow, g)
		}
		for n, st := range starts {
			b.WriteRune(rs[st])
			if n < len(gaps) && gaps[n] > narrow {
				b.WriteByte(' ')
			}
		}
		joined = true
		i = j
	}
	if !joined {
		return ""
	}
	return b.String()
}

// single reports whether rs[i] is a letter or digit standing alone between separators (or text ends).
func single(rs []rune, i int) bool {
	if !unicode.IsLetter(rs[i]) && !unicode.IsDigit(rs[i]) {
		return false
	}
	sep := func(j int) bool {
		return j < 0 || j >= len(rs) || !unicode.IsLetter(rs[j]) && !unicode.IsDigit(rs[j])
	}
	return sep(i-1) && sep(i+1)
}

func isBase64Byte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-' || c == '='
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// runs returns up to limit maximal runs of bytes satisfying ok that are at least minLen long.
func runs(s string, ok func(byte) bool, minLen, limit int) []string {
	var out []string
	for i := 0; i < len(s) && len(out) < limit; {
		if !ok(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && ok(s[j]) {
			j++
		}
		if j-i >= minLen {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

func decodeBase64(m string) string {
	trimmed := strings.TrimRight(m, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(trimmed)
		if err != nil {
			continue
		}
		if s := string(b); printableText(s) {
			return s
		}
	}
	return ""
}

// printableText reports whether s looks like human language: valid UTF-8, almost all printable, with
// spaces between words.
func printableText(s string) bool {
	if len(s) < 8 || !utf8.ValidString(s) {
		return false
	}
	printable, spaces, letters := 0, 0, 0
	for _, r := range s {
		if r == ' ' {
			spaces++
		}
		if unicode.IsLetter(r) {
			letters++
		}
		if unicode.IsPrint(r) || r == '\n' || r == '\t' {
			printable++
		}
	}
	n := utf8.RuneCountInString(s)
	return printable*100 >= n*95 && spaces >= 2 && letters*2 >= n
}
