package injection

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"html"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/inspect/sanitize"
	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
)

// anchorRef is one anchor of one pattern.
type anchorRef struct {
	anchor string
	pat    int
	word   bool // the anchor starts with an ASCII letter: require a word boundary before it
	// head and mask are the anchor's first (up to) four bytes, little-endian, for a quick comparison.
	head, mask uint32
}

// head4 returns the first four bytes of s at p, little-endian (zero past the end).
func head4(s string, p int) uint32 {
	if p+4 <= len(s) {
		return uint32(s[p]) | uint32(s[p+1])<<8 | uint32(s[p+2])<<16 | uint32(s[p+3])<<24
	}
	var w uint32
	for k := 0; p+k < len(s) && k < 4; k++ {
		w |= uint32(s[p+k]) << (8 * k)
	}
	return w
}

// tables are the compiled patterns and the indexes over them. Building them takes about 4 ms and
// 2.7 MB (the expressions), so they are built on first use, once (loadTables), rather than at package
// initialisation, which every run of the binary pays for; the gateway builds them in the background at
// start (Init). A scan fetches them once and passes them down.
type tables struct {
	patterns []pattern
	index    anchorIndex
	// needWords are the words of every pattern's needs, indexed by needIDs.
	needWords []string
}

// loadTables returns the tables, building them on the first call. A table that breaks its invariants
// panics, on that call and on every later one (sync.OnceValue): TestTables builds them.
var loadTables = sync.OnceValue(buildTables)

// Init builds the scanner's tables now, so that the first Scan does not wait for them. Calling it is
// optional and it is safe for concurrent use; Scan and ScanJSON build the tables when they are needed.
func Init() { loadTables() }

func buildTables() *tables {
	t := &tables{patterns: buildPatterns()}
	for i := range t.patterns {
		switch t.patterns[i].cat {
		case catData, catSend, catToolCall:
			t.patterns[i].negatable = true
		}
	}
	t.index.build(t.patterns)
	t.needWords = indexNeeds(t.patterns)
	if len(t.needWords) > maxNeedWords || len(t.patterns) > maxPatterns {
		panic("injection: more need words or patterns than maxNeedWords or maxPatterns")
	}
	return t
}

// anchorIndex finds, in one pass, every position where an anchor starts: a table keyed by the first
// two bytes, plus the one-byte anchors.
type anchorIndex struct {
	// pairs has bit k set when byPair[k] != 0: 8 KiB that stay in the L1 cache, where byPair does not.
	pairs  [1 << 16 / 64]uint64
	byPair [1 << 16]uint16
	lists  [][]anchorRef
	// heads[i][k] is lists[i][k].head | lists[i][k].mask<<32: compared without loading the refs.
	heads   [][]uint64
	singles [256][]anchorRef
	// wordOnly[c]: every anchor that starts with byte c starts with an ASCII letter (needs a boundary).
	wordOnly [256]bool
}

// build indexes the anchors of patterns.
func (ix *anchorIndex) build(patterns []pattern) {
	for c := 'a'; c <= 'z'; c++ {
		ix.wordOnly[c] = true
	}
	for i, p := range patterns {
		for _, a := range p.anchors {
			if a == "" {
				panic("injection: empty anchor in " + p.id)
			}
			ref := anchorRef{anchor: a, pat: i, word: 'a' <= a[0] && a[0] <= 'z'}
			for k := 0; k < min(4, len(a)); k++ {
				ref.head |= uint32(a[k]) << (8 * k)
				ref.mask |= 0xFF << (8 * k)
			}
			if !ref.word {
				ix.wordOnly[a[0]] = false
			}
			if len(a) == 1 {
				ix.singles[a[0]] = append(ix.singles[a[0]], ref)
				continue
			}
			k := uint16(a[0])<<8 | uint16(a[1])
			if ix.byPair[k] == 0 {
				ix.lists = append(ix.lists, nil)
				ix.byPair[k] = uint16(len(ix.lists))
				ix.pairs[k/64] |= 1 << (k % 64)
			}
			ix.lists[ix.byPair[k]-1] = append(ix.lists[ix.byPair[k]-1], ref)
		}
	}
	for _, l := range ix.lists {
		hs := make([]uint64, len(l))
		for k, ref := range l {
			hs[k] = uint64(ref.head) | uint64(ref.mask)<<32
		}
		ix.heads = append(ix.heads, hs)
	}
}

// Limits that bound the work on hostile input.
const (
	maxDepth         = 2       // hidden text inside hidden text is scanned, one level further is not
	maxDecodes       = 16      // base64/hex runs decoded per text
	maxHiddenRegion  = 4 << 10 // bytes of an HTML comment or invisible element treated as hidden
	maxFindingsPerID = 8
)

// metaPhrases mark text that discusses prompt injection: a quoted example there is not an attack. The
// first four hold "inject".
var metaPhrases = []string{"prompt injection", "prompt-injection", "injection attack", "indirect injection", "adversarial prompt", "red team", "red-team", "jailbreak attack"}

// discussesInjection reports whether s holds one of metaPhrases; the phrases with "inject" are looked
// for only when it occurs.
func discussesInjection(s string) bool {
	from := 0
	if !strings.Contains(s, "inject") {
		from = 4
	}
	for _, m := range metaPhrases[from:] {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

type region struct{ start, end int }

// textScan holds the state of one text.
type textScan struct {
	tb       *tables
	orig     string
	nt       normText
	depth    int
	findings []Finding
	hidden   []region // in normalised offsets
	perID    map[string]int
}

func (ts *textScan) add(f Finding) {
	if ts.perID == nil {
		ts.perID = map[string]int{}
	}
	if ts.perID[f.RuleID] >= maxFindingsPerID {
		return
	}
	ts.perID[f.RuleID]++
	ts.findings = append(ts.findings, f)
}

// scanText returns the findings of one text (not scored).
func scanText(tb *tables, text string, depth int) []Finding {
	ts := &textScan{tb: tb, orig: text, nt: normalize(text), depth: depth}
	if ts.nt.idx != nil { // not plainASCII(text)
		ts.raw()
	}
	ts.keywords()
	ts.encoded()
	ts.obfuscated()
	ts.markHidden()
	ts.discount()
	return dedupe(ts.findings)
}

// dedupe keeps, of findings of one category whose spans overlap, the heaviest (the first on ties).
func dedupe(fs []Finding) []Finding {
	out := fs[:0]
	for _, f := range fs {
		dup := false
		for i := range out {
			g := &out[i]
			if g.Category == f.Category && g.Path == f.Path && f.Start < g.End && g.Start < f.End {
				if f.Weight > g.Weight {
					*g = f
				}
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}

// keywords runs the anchored patterns where their anchors start.
func (ts *textScan) keywords() {
	s := ts.nt.s
	patterns, index, needWords := ts.tb.patterns, &ts.tb.index, ts.tb.needWords
	var lastEnd [maxPatterns]int // by pattern: where its last match ended
	var needs needCache
	var verbs [3]int
	try := func(p int, ref anchorRef) {
		if ref.word && p > 0 && isWordByte(s[p-1]) {
			return
		}
		if !strings.HasPrefix(s[p:], ref.anchor) {
			return
		}
		if lastEnd[ref.pat] > p {
			return
		}
		pt := &patterns[ref.pat]
		if pt.sentenceStart && !opensSentence(s, p) || pt.lineStart && !opensLine(s, p) {
			return
		}
		var m []int
		from := p
		if pt.back > 0 {
			// Try the verbs before the anchor, nearest first.
			for _, v := range verbs[:verbsBefore(s, p, pt, &verbs)] {
				win := s[v:min(len(s), v+pt.maxLen)]
				if pt.guard != nil && !pt.guard(win) {
					continue
				}
				if mm := pt.re.FindStringSubmatchIndex(win); mm != nil && v+mm[1] > p {
					m, from = mm, v
					break
				}
			}
		} else {
			win := s[p:min(len(s), p+pt.maxLen)]
			if pt.url != urlNone && !urlWorthParsing(pt.url, win) {
				return
			}
			// The guard first: it is cheaper than the needs (both must pass).
			if pt.guard != nil && !pt.guard(win) {
				return
			}
			if pt.needIDs != nil && !needs.has(needWords, s, p, min(len(s), p+min(pt.maxLen, needWindow)), pt.needIDs) {
				return
			}
			m = pt.re.FindStringSubmatchIndex(win)
		}
		if m == nil {
			return
		}
		win := s[from:min(len(s), from+pt.maxLen)]
		start, end := from+m[0], from+m[1]
		if pt.negatable && negated(s, start) {
			return
		}
		lastEnd[ref.pat] = end
		switch {
		case pt.hidden:
			ts.hidden = append(ts.hidden, hiddenRegion(s, p, pt.anchors[0] == "<!--"))
		case pt.url != urlNone:
			u := win[m[2]:m[3]]
			if weight, why := gradeURL(pt.url, u); weight > 0 {
				ts.addAt(pt.id, pt.cat, weight, start, end, pt.msg+": "+why)
			}
		default:
			ts.addAt(pt.id, pt.cat, pt.weight, start, end, pt.msg)
		}
	}
	for p := 0; p < len(s); p++ {
		c := s[p]
		if p > 0 && index.wordOnly[c] && isWordByte(s[p-1]) {
			// Inside a word: every anchor starting with c needs a word boundary, and so do those
			// starting with the letters that follow.
			for p+1 < len(s) && 'a' <= s[p+1] && s[p+1] <= 'z' {
				p++
			}
			continue
		}
		for _, ref := range index.singles[c] {
			try(p, ref)
		}
		if p+1 < len(s) {
			k := uint16(c)<<8 | uint16(s[p+1])
			if index.pairs[k/64]&(1<<(k%64)) == 0 {
				continue
			}
			if l := index.byPair[k]; l != 0 {
				h := head4(s, p)
				for k, hm := range index.heads[l-1] {
					if h&uint32(hm>>32) == uint32(hm) {
						try(p, index.lists[l-1][k])
					}
				}
			}
		}
	}
}

// negations that void an action phrase right after them.
var negations = []string{"never", "not", "don't", "dont", "shouldn't", "can't", "cannot", "won't", "mustn't", "no need to"}

// negated reports whether the two words before s[p] hold a negation ("never share", "do not send",
// "should not ever post").
func negated(s string, p int) bool {
	before := strings.TrimRight(s[max(0, p-24):p], " \t\n")
	for _, n := range negations {
		if strings.HasSuffix(before, n) {
			return true
		}
		if i := strings.LastIndexByte(before, ' '); i >= 0 && strings.HasSuffix(strings.TrimRight(before[:i], " "), n) {
			return true
		}
	}
	return false
}

// verbsBefore stores in found the starts of up to three of a backward pattern's verbs within its back
// bytes before s[p] in the same sentence, nearest first, and returns how many it found. Words are runs
// of letters, '\” and '-'.
func verbsBefore(s string, p int, pt *pattern, found *[3]int) int {
	n := 0
	limit := max(0, p-pt.back)
	end := p
	prevWord := ""
	check := func(start int) {
		w := s[start:end]
		if w == "" {
			return
		}
		if !pt.verbFirst[w[0]] || len(w) > pt.verbMax {
			prevWord = w
			return
		}
		bit := uint64(1) << len(w) // len(w) <= verbMax < 64
		if pt.verbLens&bit != 0 && pt.verbs[w] || prevWord != "" && pt.headLens&bit != 0 && pt.verbHeads[w] && pt.verbs[w+" "+prevWord] {
			found[n] = start
			n++
		}
		prevWord = w
	}
	i := p - 1
	for ; i >= limit && n < 3; i-- {
		c := s[i]
		if c == '.' && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\n') || c == '!' || c == '?' || c == ';' {
			return n
		}
		if isVerbByte(c) {
			continue
		}
		check(i + 1)
		end = i
	}
	if i < 0 && n < 3 {
		check(0)
	}
	return n
}

func isVerbByte(c byte) bool {
	return 'a' <= c && c <= 'z' || c == '-' || c == '\'' || c >= 0x80
}

// opensLine reports whether only spaces stand between the previous newline (or the start) and s[p].
func opensLine(s string, p int) bool {
	for p > 0 {
		p--
		switch s[p] {
		case ' ', '\t', '>':
			continue
		case '\n':
			return true
		}
		return false
	}
	return true
}

// opensSentence reports whether s[p] starts the text, a line or a sentence (or follows a quote or a
// markup delimiter that does).
func opensSentence(s string, p int) bool {
	for p > 0 {
		p--
		switch s[p] {
		case ' ', '\t', '*', '_', '"', '\'', '(', '[':
			continue
		case '\n', '.', '!', '?', ':', '>', '-', '#':
			return true
		}
		return false
	}
	return true
}

// indexNeeds returns the words of every pattern's needs and sets the patterns' needIDs, which index them.
func indexNeeds(patterns []pattern) (words []string) {
	ids := map[string]uint16{}
	for i := range patterns {
		p := &patterns[i]
		for _, w := range p.needs {
			id, ok := ids[w]
			if !ok {
				id = uint16(len(words))
				ids[w] = id
				words = append(words, w)
			}
			p.needIDs = append(p.needIDs, id)
		}
	}
	return words
}

// containsAny reports whether s contains one of the words ids (of needWords).
func containsAny(needWords []string, s string, ids []uint16) bool {
	for _, id := range ids {
		if strings.Contains(s, needWords[id]) {
			return true
		}
	}
	return false
}

// maxPatterns bounds len(patterns), so that the per-pattern state of keywords fits on the stack.
const maxPatterns = 96

// maxNeedWords bounds len(needWords), so that a needCache fits on the stack.
const maxNeedWords = 192

// needCache remembers, per need word, what a search of one text found, so that a pattern's anchors that
// follow each other closely (positions increase) do not search the same bytes again. after[id] is a
// position at or after which the word's next occurrence starts, as far as a search from before it
// found; at[id] is true when the word occurs at exactly after[id]. The zero value knows nothing.
type needCache struct {
	after [maxNeedWords]int32
	at    [maxNeedWords]bool
}

// has reports whether one of the words ids (of needWords) occurs within s[p:end) (p never decreases
// between calls on one text).
func (c *needCache) has(needWords []string, s string, p, end int, ids []uint16) bool {
	if len(s) > math.MaxInt32 {
		return containsAny(needWords, s[p:end], ids)
	}
	for _, id := range ids {
		w := needWords[id]
		last := end - len(w) // the last start that fits
		if last < p {
			continue
		}
		q := int(c.after[id])
		if q > last {
			continue // the word does not start in [p, q)
		}
		if q >= p && c.at[id] {
			return true
		}
		from := max(p, q) // the word does not start in [p, q)
		if i := strings.Index(s[from:end], w); i >= 0 {
			c.after[id], c.at[id] = int32(from+i), true
			return true
		}
		c.after[id], c.at[id] = int32(last+1), false
	}
	return false
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
}

// addAt adds a finding at normalised offsets [p, end).
func (ts *textScan) addAt(id, cat string, weight, p, end int, msg string) {
	ts.add(Finding{
		RuleID:   id,
		Category: cat,
		Weight:   weight,
		Start:    ts.nt.orig(p),
		End:      ts.nt.orig(end),
		Evidence: excerpt(ts.nt.s, p, end, 120),
		Message:  msg,
	})
}

// hiddenRegion returns the extent of an HTML comment, or of the element whose style hides it.
func hiddenRegion(s string, p int, comment bool) region {
	limit := min(len(s), p+maxHiddenRegion)
	if comment {
		if e := strings.Index(s[p:limit], "-->"); e >= 0 {
			return region{p, p + e + 3}
		}
		return region{p, limit}
	}
	if e := strings.Index(s[p:limit], "</"); e >= 0 {
		return region{p, p + e}
	}
	return region{p, limit}
}

// markHidden flags findings inside hidden regions and adds one RuleHiddenHTML finding per region that
// holds an instruction or an action.
func (ts *textScan) markHidden() {
	for _, r := range ts.hidden {
		from, to := ts.nt.orig(r.start), ts.nt.orig(r.end)
		found := false
		for i := range ts.findings {
			f := &ts.findings[i]
			if f.Start >= from && f.End <= to && f.Category != catHidden {
				f.Hidden = true
				if instructionCats[f.Category] || actionCats[f.Category] {
					found = true
				}
			}
		}
		if found {
			ts.add(Finding{RuleID: RuleHiddenHTML, Category: catHidden, Weight: 20, Start: from, End: to, Hidden: true,
				Evidence: excerpt(ts.nt.s, r.start, r.end, 120),
				Message:  "instructions inside an HTML comment or an invisible element: the user does not see them, the model does"})
		}
	}
}

// discount lowers visible keyword findings in text that discusses prompt injection (documentation,
// research, detector READMEs): to 60 %, and to 30 % for phrases quoted or in code spans, which is how
// such text shows its examples. Outside such text quotes do not matter: a CSV cell or a JSON string is
// quoted too.
func (ts *textScan) discount() {
	if len(ts.findings) == 0 {
		return
	}
	if !discussesInjection(ts.nt.s) {
		return
	}
	for i := range ts.findings {
		f := &ts.findings[i]
		if f.Hidden || f.Category == catInvisible || f.Category == catANSI || f.Category == catEncoded || f.Category == catHidden {
			continue
		}
		if ts.quoted(f.Start) {
			f.Weight = f.Weight * 3 / 10
		} else {
			f.Weight = f.Weight * 6 / 10
		}
	}
}

// quoted reports whether the finding at original offset start opens right after a quote or inside a
// code span of its line.
func (ts *textScan) quoted(start int) bool {
	t := ts.orig
	if start > len(t) {
		return false
	}
	line := t[:start]
	if nl := strings.LastIndexByte(line, '\n'); nl >= 0 {
		line = line[nl+1:]
	}
	if strings.Count(line, "`")%2 == 1 || strings.Count(line, `"`)%2 == 1 || strings.Count(line, "“") > strings.Count(line, "”") ||
		strings.Count(line, "«") > strings.Count(line, "»") || strings.Count(line, "「") > strings.Count(line, "」") {
		return true
	}
	trimmed := strings.TrimRight(line, " \t*_")
	r, _ := utf8.DecodeLastRuneInString(trimmed)
	return r == '\'' || r == '‘'
}

// ---- raw characters: invisible Unicode, escapes ----

func isEmojiBase(r rune) bool {
	return r >= 0x80 && (unicode.Is(unicode.So, r) || r >= 0x1F000 && r <= 0x1FAFF)
}

func (ts *textScan) raw() {
	t := ts.orig
	var (
		tagStart, tagEnd = -1, -1
		tagText          []byte
		zw, zwFirst      = 0, -1
		bidi, bidiFirst  = 0, -1
		vs, vsFirst      = 0, -1
		ansiWeight       = 0
		ansiFirst        = -1
		ansiWhat         string
		ctl, ctlFirst    = 0, -1
		prev             rune
	)
	for i := 0; i < len(t); {
		if j := printableRun(t, i); j > i {
			prev = rune(t[j-1])
			i = j
			continue
		}
		if c := t[i]; c >= 0x20 && c < 0x7F || c == '\n' || c == '\t' || c == '\r' && i+1 < len(t) && t[i+1] == '\n' {
			prev = rune(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		switch {
		case r >= 0xE0000 && r <= 0xE007F:
			if tagStart < 0 {
				tagStart = i
			}
			tagEnd = i + size
			if r >= 0xE0020 && r <= 0xE007E {
				tagText = append(tagText, byte(r-0xE0000))
			}
		case r == 0x200B || r == 0x200C || r == 0x2060 || r == 0x180E || r == 0xFEFF && i > 0 || r >= 0x2061 && r <= 0x2064 ||
			r >= 0xFFF9 && r <= 0xFFFB || r >= 0x1D173 && r <= 0x1D17A || r >= 0x1BCA0 && r <= 0x1BCA3 || r >= 0x13430 && r <= 0x1343F || r == 0x2065:
			zw, zwFirst = zw+1, firstOf(zwFirst, i)
		case r == 0x200D:
			next, _ := utf8.DecodeRuneInString(t[i+size:])
			if !isEmojiBase(prev) || !isEmojiBase(next) {
				zw, zwFirst = zw+1, firstOf(zwFirst, i)
			}
		case r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
			bidi, bidiFirst = bidi+1, firstOf(bidiFirst, i)
		case r >= 0xE0100 && r <= 0xE01EF:
			vs, vsFirst = vs+1, firstOf(vsFirst, i)
		case r >= 0xFE00 && r <= 0xFE0F:
			if !isEmojiBase(prev) {
				vs, vsFirst = vs+1, firstOf(vsFirst, i)
			}
		case r == 0x1B || r == 0x9B:
			w, what := classifyEscape(t, i, size)
			if w > ansiWeight {
				ansiWeight, ansiWhat = w, what
			}
			ansiFirst = firstOf(ansiFirst, i)
		case r == 0x08 || r == 0x7F || r == '\r' && i+1 < len(t) && t[i+1] != '\n':
			ctl, ctlFirst = ctl+1, firstOf(ctlFirst, i)
		case sanitize.IsControl(r) && r != 0x1B:
			ctl, ctlFirst = ctl+1, firstOf(ctlFirst, i)
		}
		prev = r
		i += size
	}
	if tagStart >= 0 {
		ts.add(Finding{RuleID: RuleTagSmuggling, Category: catInvisible, Weight: 50, Start: tagStart, End: tagEnd, Hidden: true,
			Evidence: "hidden: " + excerpt(string(tagText), 0, len(tagText), 120),
			Message:  "Unicode tag characters: invisible to the user, read by the model as ASCII"})
		if ts.depth < maxDepth && len(tagText) > 0 {
			ts.addHidden(string(tagText), tagStart, tagEnd)
		}
	}
	if zw > 0 {
		weight := 5
		if zw >= 3 {
			weight = 20
		}
		ts.add(Finding{RuleID: RuleZeroWidth, Category: catInvisible, Weight: weight, Start: zwFirst, End: zwFirst + 3,
			Evidence: excerpt(ts.orig, zwFirst, zwFirst+1, 60), Message: plural(zw, "zero-width character") + " inside the text: they split keywords and hide content"})
	}
	if bidi > 0 {
		ts.add(Finding{RuleID: RuleBidi, Category: catInvisible, Weight: 25, Start: bidiFirst, End: bidiFirst + 3,
			Evidence: excerpt(ts.orig, bidiFirst, bidiFirst+1, 60),
			Message:  plural(bidi, "bidirectional control") + ": displayed text differs from the text the model reads"})
	}
	if vs >= 4 {
		ts.add(Finding{RuleID: RuleVariationSel, Category: catInvisible, Weight: 30, Start: vsFirst, End: vsFirst + 3,
			Evidence: excerpt(ts.orig, vsFirst, vsFirst+1, 60),
			Message:  plural(vs, "variation selector") + " outside emoji: a channel for invisible data"})
	}
	if ansiWeight > 0 {
		ts.add(Finding{RuleID: RuleANSI, Category: catANSI, Weight: ansiWeight, Start: ansiFirst, End: ansiFirst + 1,
			Evidence: excerpt(ts.orig, ansiFirst, ansiFirst+1, 60),
			Message:  "terminal escape sequence (" + ansiWhat + "): can hide or rewrite text in a terminal client"})
	}
	if ctl > 0 {
		ts.add(Finding{RuleID: RuleANSI, Category: catANSI, Weight: 15, Start: ctlFirst, End: ctlFirst + 1,
			Evidence: excerpt(ts.orig, ctlFirst, ctlFirst+1, 60),
			Message:  plural(ctl, "control character") + " (backspace, bare carriage return, …) that can overwrite displayed text"})
	}
}

func firstOf(first, i int) int {
	if first < 0 {
		return i
	}
	return first
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return itoa(n) + " " + what + "s"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// classifyEscape grades the escape sequence at t[i] (ESC of size 1, or the 8-bit CSI of size 2).
func classifyEscape(t string, i, size int) (int, string) {
	j := i + size
	if size == 1 {
		if j >= len(t) {
			return 15, "bare ESC"
		}
		switch t[j] {
		case '[':
			j++
		case ']':
			if strings.HasPrefix(t[j+1:], "8;") {
				return 25, "OSC 8 hyperlink"
			}
			return 20, "OSC"
		default:
			return 15, "ESC sequence"
		}
	}
	k := j
	for k < len(t) && t[k] >= 0x20 && t[k] <= 0x3F {
		k++
	}
	if k >= len(t) {
		return 15, "CSI"
	}
	params := t[j:k]
	switch t[k] {
	case 'm':
		for _, p := range strings.Split(params, ";") {
			if p == "8" {
				return 30, "SGR conceal"
			}
		}
		if strings.Contains(params, "30;40") || strings.Contains(params, "37;47") || strings.Contains(params, "38;5;16;48;5;16") {
			return 30, "SGR invisible colours"
		}
		return 15, "SGR colour"
	case 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'f', 's', 'u', 'S', 'T':
		return 25, "cursor movement or erase"
	}
	return 15, "CSI"
}

// addHidden scans text recovered from a hidden channel and adds its findings, located at [start, end)
// of the original text and marked hidden.
func (ts *textScan) addHidden(text string, start, end int) {
	for _, f := range scanText(ts.tb, text, ts.depth+1) {
		f.Start, f.End, f.Hidden = start, end, true
		f.Evidence = "hidden: " + f.Evidence
		ts.add(f)
	}
}

// ---- encoded payloads ----

// nextEncodedRun returns the first maximal run of base64 bytes at least minEncodedRun long in t[i:]
// (i starts t or follows a byte that is not base64), and the AND of its bytes' classes; start is len(t)
// when there is none. A long enough run that starts before i+minEncodedRun covers t[k] below: when
// t[k] is not base64, the search skips past it, so prose costs one lookup per 24 bytes.
func nextEncodedRun(t string, i int) (start, end int, all uint8) {
	for {
		k := i + minEncodedRun - 1
		if k >= len(t) {
			return len(t), len(t), 0
		}
		if !isBase64Byte(t[k]) {
			i = k + 1
			continue
		}
		all = 3
		for i < k && isBase64Byte(t[k-1]) {
			k--
			all &= encodedClass[t[k]]
		}
		j := k
		for j < len(t) {
			c := encodedClass[t[j]]
			if c == 0 {
				break
			}
			all &= c
			j++
		}
		if j-k >= minEncodedRun {
			return k, j, all
		}
		i = j
	}
}

// minEncodedRun is the shortest base64 run that encoded decodes (hex runs need 32 bytes).
const minEncodedRun = 24

// encodedClass marks base64 bytes (1) and, among them, hex digits (2).
var encodedClass = func() (t [256]uint8) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=") {
		t[c] = 1
	}
	for _, c := range []byte("0123456789abcdefABCDEF") {
		t[c] |= 2
	}
	return t
}()

func isBase64Byte(c byte) bool { return encodedClass[c] != 0 }

// encoded decodes base64 and hex runs that turn out to be readable text and scans them as hidden text.
func (ts *textScan) encoded() {
	if ts.depth >= maxDepth {
		return
	}
	t := ts.orig
	decodes := 0
	for i := 0; i < len(t) && decodes < maxDecodes; {
		var all uint8
		var j int
		if i, j, all = nextEncodedRun(t, i); i >= len(t) {
			break
		}
		hexOnly := all&2 != 0
		run := t[i:j]
		start := i
		i = j
		var dec string
		switch {
		case hexOnly && len(run) >= 32:
			decodes++
			b, err := hex.DecodeString(run[:len(run)&^1])
			if err == nil && readable(b) {
				dec = string(b)
			}
		case len(run) >= 24 && !hexOnly:
			// "key=BASE64" and "a=…&b=…" hold base64 after an '='; padding only ends a run.
			for _, piece := range strings.FieldsFunc(run, func(r rune) bool { return r == '=' }) {
				if len(piece) >= 24 && decodes < maxDecodes {
					decodes++
					if dec = decodeBase64(piece); dec != "" {
						break
					}
				}
			}
		}
		if dec == "" {
			continue
		}
		before := len(ts.findings)
		ts.addHidden(dec, start, j)
		for _, f := range ts.findings[before:] {
			if instructionCats[f.Category] || actionCats[f.Category] {
				ts.add(Finding{RuleID: RuleEncoded, Category: catEncoded, Weight: 20, Start: start, End: j, Hidden: true,
					Evidence: "decoded: " + excerpt(dec, 0, len(dec), 120),
					Message:  "base64/hex text that decodes to instructions for the model"})
				break
			}
		}
	}
}

// obfuscated recovers text a person skims past but a model reads: percent-encoding (%69%67%6E…, or a
// form-encoded phrase of +-joined words with a few escapes), numeric HTML entities (&#105;&#103;…) and
// letters spelled out with separators ("i g n o r e  a l l"); it scans what it recovers as hidden text.
// Each decoder runs only when a cheap count says it can apply.
func (ts *textScan) obfuscated() {
	if ts.depth >= maxDepth {
		return
	}
	t := ts.orig
	decodes := 0
	// Percent-encoding: each whitespace-delimited token holding an escape, once.
	for i := 0; decodes < maxDecodes; {
		k := strings.IndexByte(t[i:], '%')
		if k < 0 {
			break
		}
		k += i
		from, to := k, k
		for from > 0 && !isSpaceByte(t[from-1]) {
			from--
		}
		for to < len(t) && !isSpaceByte(t[to]) {
			to++
		}
		i = to
		f := t[from:to]
		if n := percentEscapes(f); n < 4 && (n < 1 || strings.Count(f, "+") < 4) {
			continue
		}
		decodes++
		dec, err := url.QueryUnescape(f)
		if err != nil {
			dec, err = url.PathUnescape(f)
		}
		if err == nil {
			dec = queryValues(dec)
		}
		if err == nil && readable([]byte(dec)) {
			ts.addHidden(dec, from, to)
		}
	}
	// Numeric character references: runs of at least four in a row (&#105;&#103;…).
	for i := 0; decodes < maxDecodes; {
		k := strings.Index(t[i:], "&#")
		if k < 0 {
			break
		}
		from := i + k
		to, n := from, 0
		for to+2 < len(t) && t[to] == '&' && t[to+1] == '#' {
			e := strings.IndexByte(t[to:min(len(t), to+12)], ';')
			if e < 0 {
				break
			}
			to += e + 1
			n++
			for to < len(t) && t[to] == ' ' {
				to++
			}
		}
		i = max(to, from+2)
		if n < 4 {
			continue
		}
		decodes++
		if dec := html.UnescapeString(t[from:to]); readable([]byte(dec)) {
			ts.addHidden(dec, from, to)
		}
	}
	if hasSpelledRun(t) {
		if dec := unspell(t); dec != "" {
			ts.addHidden(dec, 0, len(t))
		}
	}
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// queryValues turns a decoded query string ("q=ignore all …&x=1") into its values, one sentence each, so
// that a value reads as text that opens a sentence.
func queryValues(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok && len(k) <= 24 && !strings.ContainsAny(k, " \n") {
			parts[i] = v
		}
	}
	return strings.Join(parts, ".\n")
}

// percentEscapes counts the %XX escapes of s.
func percentEscapes(s string) int {
	n := 0
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			n++
			i += 2
		}
	}
	return n
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unspell joins letters spelled out with separators: in a run of at least eight one-character pieces the
// narrowest gap joins letters and wider gaps separate words. It returns the joined runs, one a line, or
// "" when t has none.
func unspell(t string) string {
	// Cheap test first: eight single letters in a row, each followed by a separator.
	rs := []rune(t)
	isSep := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
	single := func(i int) bool {
		return i >= 0 && i < len(rs) && !isSep(rs[i]) && (i == 0 || isSep(rs[i-1])) && (i+1 >= len(rs) || isSep(rs[i+1]))
	}
	// Only the joined runs are returned: the rest of the text was read already.
	var b strings.Builder
	for i := 0; i < len(rs); {
		if !single(i) {
			i++
			continue
		}
		starts, gaps := []int{i}, []int{}
		j := i + 1
		for {
			k := j
			for k < len(rs) && isSep(rs[k]) && k-j < 8 {
				k++
			}
			if k == j || !single(k) {
				break
			}
			gaps = append(gaps, k-j)
			starts = append(starts, k)
			j = k + 1
		}
		if len(starts) < 8 {
			i = j
			continue
		}
		if b.Len() > 0 {
			b.WriteString(".\n")
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
		i = j
	}
	return b.String()
}

// hasSpelledRun reports whether t has eight ASCII letters in a row each standing alone between separators.
// The gap between two letters is at most four bytes ("i g", "i.g", "i  -  g" is not).
func hasSpelledRun(t string) bool {
	run, last := 0, -8
	for i := 0; i < len(t); i++ {
		c := t[i] | 0x20
		if c < 'a' || c > 'z' {
			if '0' <= t[i] && t[i] <= '9' || t[i] >= utf8.RuneSelf {
				run = 0
			}
			continue
		}
		if i+1 < len(t) && isAlnum(t[i+1]) || i > 0 && isAlnum(t[i-1]) {
			run = 0
			continue
		}
		if i-last > 5 {
			run = 0
		}
		last = i
		if run++; run >= 8 {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	l := c | 0x20
	return 'a' <= l && l <= 'z' || '0' <= c && c <= '9'
}

func decodeBase64(run string) string {
	trimmed := strings.TrimRight(run, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(trimmed); err == nil && readable(b) {
			return string(b)
		}
	}
	return ""
}

// readable reports whether b looks like human language: valid UTF-8, printable, with spaces between
// words and mostly letters.
func readable(b []byte) bool {
	if len(b) < 12 || !utf8.Valid(b) {
		return false
	}
	printable, spaces, letters, n := 0, 0, 0, 0
	for _, r := range string(b) {
		n++
		if r == ' ' || r >= 0x3000 && r <= 0x9FFF && n%4 == 0 {
			spaces++ // Chinese and Japanese write no spaces: count every fourth ideograph or kana as one
		}
		if unicode.IsLetter(r) {
			letters++
		}
		if unicode.IsPrint(r) || r == '\n' || r == '\t' {
			printable++
		}
	}
	return printable*100 >= n*95 && spaces >= 2 && letters*2 >= n
}

// ---- URLs ----

// badgeHosts serve README badges, whose query strings carry style options, not data.
var badgeHosts = []string{"img.shields.io", "shields.io", "badge.fury.io", "goreportcard.com", "codecov.io", "coveralls.io",
	"travis-ci.org", "travis-ci.com", "github.com", "pkg.go.dev", "godoc.org", "api.netlify.com", "circleci.com",
	"badgen.net", "snyk.io", "app.fossa.com", "bestpractices.coreinfrastructure.org", "api.securityscorecards.dev",
	"sonarcloud.io", "opencollective.com", "img.youtube.com", "www.codefactor.io", "deepsource.io", "dev.azure.com"}

// dataWords name private data in a placeholder or a query parameter.
var dataWords = []string{"conversation", "history", "chat", "secret", "token", "password", "passwd", "apikey", "api_key", "key",
	"credential", "creds", "memory", "prompt", "context", "summary", "message", "messages", "data", "content", "email", "ssn",
	"cookie", "session", "private", "info", "user", "repo", "file", "env"}

// strongDataWords name data no honest URL template asks for; bare URLs (code samples are full of
// http://host/${user}) need one of them.
var strongDataWords = []string{"conversation", "history", "chat", "secret", "token", "password", "passwd", "apikey", "api_key",
	"credential", "creds", "memory", "prompt", "ssn", "cookie", "summary", "context"}

func hasStrongDataWord(s string) bool {
	for _, w := range strongDataWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func hasDataWord(s string) bool {
	for _, w := range dataWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// placeholder returns the first template placeholder in u: {x}, {{x}}, $x, ${x}, <x>, [x], %7bx%7d.
func placeholder(u string) string {
	for _, pair := range [][2]string{{"{{", "}}"}, {"${", "}"}, {"{", "}"}, {"%7b", "%7d"}, {"<", ">"}, {"%3c", "%3e"}, {"[", "]"}, {"%5b", "%5d"}} {
		from := 0
		for {
			i := strings.Index(u[from:], pair[0])
			if i < 0 {
				break
			}
			i += from
			from = i + len(pair[0])
			j := strings.Index(u[from:], pair[1])
			if j < 0 || j > 40 {
				continue
			}
			if name := u[from : from+j]; identifier(name) {
				return u[i : from+j+len(pair[1])]
			}
		}
	}
	if i := strings.IndexByte(u, '$'); i >= 0 && i+1 < len(u) && ('a' <= u[i+1] && u[i+1] <= 'z' || u[i+1] == '_') {
		j := i + 1
		for j < len(u) && (isWordByte(u[j])) {
			j++
		}
		return u[i:j]
	}
	return ""
}

// identifier reports whether a placeholder's content names a variable (conversation_history,
// user.email, API KEY) rather than being data (URL-encoded JSON, a list).
func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isWordByte(c) || c == '.' || c == '-' || c == ' ' || c == '%' && strings.HasPrefix(s[i:], "%20")) {
			return false
		}
	}
	return true
}

// urlWorthParsing is a cheap necessary condition for gradeURL to weigh the URL that win (starting at
// the pattern's anchor) holds: a placeholder character, or for images and links a query.
func urlWorthParsing(kind urlKind, win string) bool {
	if !urlCanStart(win) {
		return false
	}
	i := strings.Index(win, "http")
	if i < 0 {
		return false
	}
	end := i
	for end < len(win) && win[end] > ' ' && win[end] != ')' && win[end] != '"' && win[end] != '\'' && win[end] != '>' {
		end++
	}
	u := win[i:end]
	if kind == urlBare {
		return strings.ContainsAny(u, "{$<[%")
	}
	return strings.ContainsAny(u, "{$<[%?")
}

// urlCanStart is false when win opens a markdown link ("](") or image ("![") whose expression cannot
// match: its URL must start with "http" right after "](", spaces and an optional '<' (for an image, after
// at most 200 bytes of alt text without ']' or a newline). Relative links, the most common ones, stop here
// instead of searching the window for "http".
func urlCanStart(win string) bool {
	j := 0
	switch {
	case strings.HasPrefix(win, "!["):
		k := strings.IndexAny(win[2:min(len(win), 2+201)], "]\n")
		if k < 0 || win[2+k] != ']' {
			return false
		}
		j = 2 + k + 1
		if j >= len(win) || win[j] != '(' {
			return false
		}
		j++
	case strings.HasPrefix(win, "]("):
		j = 2
	default:
		return true
	}
	for j < len(win) && (win[j] == ' ' || win[j] == '\t' || win[j] == '\n' || win[j] == '\r' || win[j] == '\f') {
		j++
	}
	if j < len(win) && win[j] == '<' {
		j++
	}
	return strings.HasPrefix(win[j:], "http")
}

// gradeURL weighs a URL (lower case) found in a markdown image, link, HTML image or bare text.
func gradeURL(kind urlKind, u string) (int, string) {
	if kind == urlBare && !strings.ContainsAny(u, "{$<[%") || !strings.ContainsAny(u, "{$<[%?") {
		return 0, "" // a URL counts only with a placeholder or, for images and links, a query
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return 0, ""
	}
	host := parsed.Hostname()
	for _, b := range badgeHosts {
		if host == b {
			return 0, ""
		}
	}
	ph := placeholder(u)
	if ph != "" && kind == urlBare && !hasStrongDataWord(ph) {
		return 0, ""
	}
	if ph != "" && hasDataWord(ph) {
		switch kind {
		case urlImage:
			return 45, "placeholder " + ph + " in an auto-loaded URL"
		case urlLink:
			return 35, "placeholder " + ph + " in the URL"
		default:
			return 30, "placeholder " + ph + " in the URL"
		}
	}
	if kind == urlBare {
		return 0, ""
	}
	q := parsed.RawQuery
	if q == "" && ph == "" {
		return 0, ""
	}
	if ph != "" && kind == urlImage {
		return 25, "placeholder " + ph + " in an auto-loaded URL"
	}
	// A long parameter value, or one carrying words (encoded spaces), looks like data, not an option.
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		words := strings.Count(v, "%20") + strings.Count(v, "+")
		if kind == urlImage && (words >= 3 || hasDataWord(k) && len(v) >= 16) {
			return 25, "an auto-loaded URL carries text in parameter " + clip(k, 20)
		}
		if kind == urlImage && len(v) >= 64 {
			return 15, "an auto-loaded URL carries a long parameter (" + clip(k, 20) + ")"
		}
		if kind == urlLink && (words >= 5 || hasDataWord(k) && len(v) >= 24 && words >= 1) {
			return 20, "the URL carries text in parameter " + clip(k, 20)
		}
	}
	return 0, ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ---- scoring ----

// comboMin is the weight a finding needs to take part in the combination bonuses; categories weaker
// than it add at most weakCap together.
const (
	comboMin = 15
	weakCap  = 20
)

// score turns findings into a Report.
func score(fs []Finding) Report {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Start, b.Start), strings.Compare(a.RuleID, b.RuleID))
	})
	best := map[string]int{}
	rules := map[string]map[string]bool{}
	hiddenInstr, instr, action, strong := false, false, false, false
	for _, f := range fs {
		w := f.Weight
		if f.Hidden && f.Category != catInvisible && f.Category != catHidden && f.Category != catEncoded {
			w = w * 3 / 2
		}
		best[f.Category] = max(best[f.Category], w)
		if rules[f.Category] == nil {
			rules[f.Category] = map[string]bool{}
		}
		rules[f.Category][f.RuleID+f.Evidence] = true
		// Discounted findings (quoted examples) count in their category but do not make combinations.
		if f.Weight < comboMin {
			continue
		}
		if instructionCats[f.Category] {
			instr = true
			if f.Hidden {
				hiddenInstr = true
			}
		}
		if actionCats[f.Category] {
			action = true
			if f.Hidden {
				hiddenInstr = true
			}
		}
		if (f.Category == catOverride || f.Category == catConceal) && f.Weight >= 40 {
			strong = true
		}
	}
	// Categories whose best finding is weak (discounted examples) add up to weakCap together, so that a
	// document listing many quoted examples does not outscore one real instruction.
	total, weak := 0, 0
	for c, w := range best {
		if w < comboMin {
			weak += w
			continue
		}
		total += w + min(6, 2*(len(rules[c])-1))
	}
	total += min(weakCap, weak)
	if instr && action {
		total += 15
	}
	if best[catSend] > 0 && best[catData] > 0 {
		total += 15
	}
	if hiddenInstr {
		total += 15
	}
	if strong {
		total = max(total, 40)
	}
	total = min(100, total)
	if fs == nil {
		fs = []Finding{}
	}
	return Report{Score: total, Level: LevelOf(total), Findings: fs}
}

// Scan scores one text: a tool result's text content, a resource's text, a prompt message.
func Scan(text string) Report {
	return score(scanText(loadTables(), text, 0))
}

// minJSONString is the shortest JSON string worth scanning on its own.
const minJSONString = 8

// ScanJSON scores a JSON document (a tool result, a resource, a prompt) as a whole: every key and string
// value is scanned, findings carry its JSON path, and the score counts the document's findings together.
// Invalid JSON is scanned as text.
func ScanJSON(raw []byte) Report {
	var fs []Finding
	tb := loadTables()
	ok := secrets.WalkJSON(raw, func(t *secrets.JSONToken) {
		if !t.String || len(t.Value) < minJSONString {
			return
		}
		got := scanText(tb, t.Value, 0)
		if len(got) == 0 {
			return
		}
		p := t.Path()
		for i := range got {
			got[i].Path = p
		}
		fs = append(fs, got...)
	})
	if !ok {
		return score(scanText(tb, string(raw), 0))
	}
	return score(fs)
}
