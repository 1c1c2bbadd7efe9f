package secrets

import (
	"cmp"
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// detectors are the gitleaks detectors built from its default rule set, compiled on first use.
type detectors struct {
	// specific are the rules but the gated ones, one detector each, and hits finds where their keywords
	// occur: a rule runs only on windows around its keywords, never over the whole text (an expression
	// costs 30–40 ns per byte, and keywords such as "sk", "s." or "linear" occur in most prose).
	specific []specificRule
	hits     *keywordGate
	// gated run one rule each, only on the windows that their gate finds.
	gated []gatedRule
	rules int
}

// specificRule is one gitleaks rule and the extent of its matches around a keyword.
type specificRule struct {
	id string
	// detector is the rule's gitleaks detector, made on the rule's first window: most rules' keywords
	// never occur in a gateway's traffic, and a gitleaks detector holds a keyword trie of at least 4 KiB
	// even when empty (≈ 0.9 MB for the rule set). The rule's expression is compiled beforehand.
	detector func() *detect.Detector
	// stop are the allowlist stop words of the rule, taken out of its detector (nil: none).
	stop *stopwords
	// near, when set, is a further necessary condition of a match around a keyword at text[at:].
	near func(text string, at int) bool
}

// gatedRule is a gitleaks rule whose keywords are so common in prose ("key", "api", "ey") that its
// prefilter nearly always passes, and whose expression costs about 0.2 µs per byte; it runs only on the
// windows where a cheap necessary condition of a match holds.
type gatedRule struct {
	id       string
	detector *detect.Detector
	keywords []string
	windows  func(text string, keywords []string) []window
	stop     *stopwords
}

var gates = map[string]func(string, []string) []window{
	"generic-api-key": assignmentWindows,
	"jwt":             jwtWindows,
}

var engine = sync.OnceValues(newDetectors)

// defaultRuleSet reads gitleaks' default configuration, not yet translated (compiled). It is decoded
// with the TOML parser viper uses (go-toml), straight into gitleaks' ViperConfig: keys match field
// names without regard to case, as with viper and mapstructure, and TestDefaultRuleSetAsViper checks
// that the result is exactly what gitleaks' own viper decoding gives. Through viper's generic map and
// mapstructure's hooks the decoding took 19–22 ms and 2.4 MB, a quarter of the engine's build time;
// directly, ≈ 4 ms and 0.8 MB.
func defaultRuleSet() (config.ViperConfig, error) {
	var vc config.ViperConfig
	if err := toml.Unmarshal([]byte(config.DefaultConfig), &vc); err != nil {
		return config.ViperConfig{}, fmt.Errorf("secrets: read the gitleaks default rule set: %w", err)
	}
	return vc, nil
}

// newDetectors compiles the default rule set. Two things keep it small (it is most of the gateway's
// idle heap): the stop words of the allowlists are checked here rather than by gitleaks (see
// takeStopwords), and the specific rules' detectors have no keyword prefilter (see single).
func newDetectors() (*detectors, error) {
	vc, err := defaultRuleSet()
	if err != nil {
		return nil, err
	}
	taken := takeStopwords(&vc)
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("secrets: compile the gitleaks default rule set: %w", err)
	}
	global := newStopwords(taken.global)
	ds := &detectors{}
	// Rules restricted to file paths (kubernetes-secret-yaml, *.tf passwords, …) never match text that
	// has no path, so they are left out.
	var ids []string
	for id, r := range cfg.Rules {
		if gates[id] == nil && r.Path == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var kws []keywordOf
	for _, id := range ids {
		r := cfg.Rules[id]
		if r.Regex == nil {
			continue
		}
		re, err := syntax.Parse(r.Regex.String(), syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("secrets: parse the expression of gitleaks rule %s: %w", id, err)
		}
		re = re.Simplify()
		span := maxBytes(re)
		sr := specificRule{id: id, near: nearGates[id], stop: taken.forRule(id, global)}
		if len(r.Keywords) == 0 {
			// gitleaks runs such a rule on every text; none of the default set is one, and a future one
			// would need its own windows.
			return nil, fmt.Errorf("secrets: gitleaks rule %s has no keywords; it cannot be windowed", id)
		}
		// The rule's detector needs no keyword prefilter when every window holds a whole keyword of the
		// rule, which gitleaks' prefilter (strings.ToLower, then an exact search) would find too: the
		// keyword is ASCII, so its occurrence found ignoring ASCII case is one in the lower-cased text.
		prefilter := false
		for _, k := range r.Keywords {
			k = strings.ToLower(k)
			// The bytes a match may hold around the keyword: at most its length less the keyword's, or
			// less when the keyword is a part of the expression with a bounded prefix or suffix.
			ko := keywordOf{kw: k, rule: len(ds.specific), before: unbounded, after: unbounded}
			if span != unbounded {
				ko.before, ko.after = span-len(k), span-len(k)
			}
			if b, a, ok := keywordExtent(re, k); ok {
				ko.before, ko.after = b, a
			}
			if semiGenericName(r.Regex.String(), k) {
				ko.near = assignedAfter
			}
			if !isASCII(k) || ko.before < -windowSlack || ko.after < -windowSlack {
				prefilter = true // a window might not hold the keyword
			}
			kws = append(kws, ko)
		}
		rc := single(cfg, id, prefilter)
		sr.detector = sync.OnceValue(func() *detect.Detector {
			d := detect.NewDetector(rc)
			d.IgnoreGitleaksAllow = true // tool output is not a git checkout (see below)
			return d
		})
		ds.specific = append(ds.specific, sr)
	}
	ds.hits = newKeywordGate(kws)
	ds.rules = len(ds.specific)
	for id, gate := range gates {
		r, ok := cfg.Rules[id]
		if !ok {
			continue // a future rule set may rename it; the rest still runs
		}
		// A gate's windows need not hold a keyword: these detectors keep gitleaks' prefilter.
		g := gatedRule{id: id, detector: detect.NewDetector(single(cfg, id, true)), windows: gate, stop: taken.forRule(id, global)}
		for _, k := range r.Keywords {
			g.keywords = append(g.keywords, strings.ToLower(k))
		}
		ds.gated = append(ds.gated, g)
		ds.rules++
	}
	slices.SortFunc(ds.gated, func(a, b gatedRule) int { return strings.Compare(a.id, b.id) })
	// Tool output is not a git checkout: "gitleaks:allow" comments must not hide a secret from the gateway.
	for _, g := range ds.gated {
		g.detector.IgnoreGitleaksAllow = true
	}
	return ds, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// subset returns cfg restricted to the rules keep accepts, with the keyword set of those rules.
func subset(cfg config.Config, keep func(id string) bool) config.Config {
	out := cfg
	out.Rules, out.Keywords = map[string]config.Rule{}, map[string]struct{}{}
	for id, r := range cfg.Rules {
		if !keep(id) {
			continue
		}
		out.Rules[id] = r
		for _, k := range r.Keywords {
			out.Keywords[strings.ToLower(k)] = struct{}{}
		}
	}
	return out
}

// single returns cfg restricted to the rule id. Without prefilter, the rule has no keywords, so gitleaks
// runs it on every text it is given and its detector's keyword trie is empty (gitleaks' Aho–Corasick
// trie takes 2 KiB per state: ≈ 20 KiB for a rule with one 8-letter keyword, ≈ 4 MB for the rule set).
func single(cfg config.Config, id string, prefilter bool) config.Config {
	out := subset(cfg, func(x string) bool { return x == id })
	if !prefilter {
		r := out.Rules[id]
		r.Keywords = nil
		out.Rules[id] = r
		out.Keywords = map[string]struct{}{}
	}
	return out
}

// Init compiles the rule set now rather than on the first scan (about 100 ms), and reports whether it
// compiled. Scan panics never; if the rule set failed to compile it finds nothing, so a gateway should
// call Init at start-up and refuse to run without it.
func Init() error {
	_, err := engine()
	return err
}

// RuleCount is the number of gitleaks rules in use (the default set less the rules restricted to file
// paths).
func RuleCount() int {
	d, err := engine()
	if err != nil {
		return 0
	}
	return d.rules
}

// confidenceOf grades a rule: generic rules only know that a secret-sounding name sits next to a
// random-looking value.
func confidenceOf(rule string) Confidence {
	if strings.Contains(rule, "generic") {
		return Medium
	}
	return High
}

// Scan returns the secrets in text, sorted by offset then rule. A span matched by both a specific and a
// generic rule is reported once, under the specific rule.
//
// Invisible format characters (zero-width space, joiners, word joiner, BOM, soft hyphen) that split a
// credential do not hide it: text holding one is scanned a second time without them, and those findings
// span the original bytes, invisible characters included, so Redact removes the whole credential.
//
// Base64, hex and percent-encoded credentials are found too: candidate runs are decoded one level deep
// with gitleaks' decoder and scanned with the same rules; those findings span the encoded bytes (see
// scanEncoded).
func Scan(text string) []Finding {
	out := scanPlain(text)
	enc := scanEncoded(text)
	stripped, at := stripInvisible(text)
	if at == nil && enc == nil {
		return out
	}
	out = append(out, enc...)
	if at != nil {
		for _, f := range scanPlain(stripped) {
			f.Start, f.End = at[f.Start], at[f.End-1]+1
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sortFindings(out)
	return dedupe(out)
}

// invisibles are the format characters stripInvisible removes: they render as nothing, so a reader (or a
// model) sees a credential whole where a scanner sees two pieces.
const invisibles = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

// stripInvisible returns text without invisibles and, for each byte of the result, its offset in text;
// at is nil when text holds none (the common case costs three byte searches).
func stripInvisible(text string) (string, []int) {
	if strings.IndexByte(text, 0xE2) < 0 && strings.IndexByte(text, 0xEF) < 0 && strings.IndexByte(text, 0xC2) < 0 {
		return text, nil
	}
	found := false
	for _, r := range invisibles {
		if strings.ContainsRune(text, r) { // a substring search: fast on prose full of other non-ASCII
			found = true
			break
		}
	}
	if !found {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	at := make([]int, 0, len(text))
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if strings.ContainsRune(invisibles, r) {
			i += n
			continue
		}
		b.WriteString(text[i : i+n])
		for k := range n {
			at = append(at, i+k)
		}
		i += n
	}
	return b.String(), at
}

// scanPlain is Scan without the second look through invisible characters.
func scanPlain(text string) []Finding {
	if len(text) < 8 {
		return nil
	}
	d, err := engine()
	if err != nil {
		return nil
	}
	out := d.scanSpecific(text)
	for _, g := range d.gated {
		for _, w := range g.windows(text, g.keywords) {
			out = append(out, convert(text, w, g.stop.allow(g.detector.DetectString(text[w.start:w.end])), func(_, end int) bool {
				// A match running into a window's cut end may rely on the artificial end of text.
				return end < w.end || w.end == len(text)
			})...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sortFindings(out)
	return dedupe(out)
}

// convert returns gitleaks findings on text[w.start:w.end] as byte-offset Findings. keep, when set, vets
// each match's start and end offsets in text.
func convert(text string, w window, raw []report.Finding, keep func(start, end int) bool) []Finding {
	if len(raw) == 0 {
		return nil
	}
	base := w.start
	frag := text[base:w.end]
	var nl []int // byte index of each newline, to turn gitleaks' line/column back into offsets
	for i := 0; i < len(frag); i++ {
		if frag[i] == '\n' {
			nl = append(nl, i)
		}
	}
	var out []Finding
	for _, f := range raw {
		// gitleaks counts columns from the previous newline byte (1-based on the first line).
		lineBase := 0
		if f.StartLine > 0 && f.StartLine <= len(nl) {
			lineBase = nl[f.StartLine-1]
		}
		start := lineBase + f.StartColumn - 1
		if start < 0 || start+len(f.Match) > len(frag) || frag[start:start+len(f.Match)] != f.Match {
			// Fall back to a search if the arithmetic ever disagrees with the text.
			start = strings.Index(frag, f.Match)
			if start < 0 {
				continue
			}
		}
		if keep != nil && !keep(base+start, base+start+len(f.Match)) {
			continue
		}
		off := strings.Index(f.Match, f.Secret)
		if off < 0 || f.Secret == "" {
			off, f.Secret = 0, f.Match
		}
		s := base + start + off
		out = append(out, Finding{
			RuleID:      f.RuleID,
			Description: f.Description,
			Start:       s,
			End:         s + len(f.Secret),
			Confidence:  confidenceOf(f.RuleID),
			Preview:     preview(f.Secret),
		})
	}
	return out
}

func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(b.End, a.End), cmp.Compare(b.Confidence, a.Confidence), strings.Compare(a.RuleID, b.RuleID))
	})
}

// dedupe drops a finding whose span lies inside an earlier one of at least its confidence (gitleaks
// only drops generic findings on the same line that a specific one contains).
func dedupe(fs []Finding) []Finding {
	out := fs[:0]
	for _, f := range fs {
		dup := false
		for _, g := range out {
			if g.Path == f.Path && g.Key == f.Key && g.Start <= f.Start && f.End <= g.End && g.Confidence >= f.Confidence {
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

// Redact returns text with every finding's span replaced by "[REDACTED:<rule>]". findings must come
// from Scan of the same text (or be nil, in which case Redact scans it). Overlapping spans become one
// placeholder.
func Redact(text string, findings []Finding) string {
	if findings == nil {
		findings = Scan(text)
	}
	spans := make([]span, 0, len(findings))
	for _, f := range findings {
		if f.Path != "" || f.Start < 0 || f.End > len(text) || f.Start >= f.End {
			continue
		}
		spans = append(spans, span{f.Start, f.End, Placeholder(f.RuleID)})
	}
	slices.SortStableFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	return applySpans(text, spans)
}

// Bounds of the windows of the specific rules.
const (
	// windowSlack is added on both sides of a bounded window: room for \b and for a rune that a
	// multi-byte class may start before it.
	windowSlack = 4
	// unboundedBefore is how far before its keyword a window of a rule without a length limit starts.
	unboundedBefore = 256
)

// scanSpecific runs the specific rules on windows around their keywords. A rule's window around a
// keyword at text[at:] covers every match that contains the keyword (the expression bounds how many
// bytes a match holds before and after it); where a match has no length limit, the window runs from
// shortly before the keyword, or to the end of the text. A match
// starting at an artificial window start (the rule matched without its keyword, or a match reached back
// further than it may) makes the rule run again over the whole text, so the windows only ever save work.
func (d *detectors) scanSpecific(text string) []Finding {
	var (
		windows [][]window // by rule
		rules   []int      // rules with windows, in order of first keyword
	)
	d.hits.each(text, func(at int, k keywordOf) {
		r := &d.specific[k.rule]
		if r.near != nil && !r.near(text, at) || k.near != nil && !k.near(text, at+len(k.kw)) {
			return
		}
		w := window{max(0, at-k.before-windowSlack), min(len(text), at+len(k.kw)+k.after+windowSlack)}
		if k.before == unbounded {
			w.start = max(0, at-unboundedBefore)
		}
		if k.after == unbounded {
			w.end = len(text)
		}
		w = runeAligned(text, w)
		if windows == nil {
			windows = make([][]window, len(d.specific))
		}
		if len(windows[k.rule]) == 0 {
			rules = append(rules, k.rule)
		} else if last := &windows[k.rule][len(windows[k.rule])-1]; w.start <= last.end {
			last.end = max(last.end, w.end) // hits come in text order: merge as they come
			return
		}
		windows[k.rule] = append(windows[k.rule], w)
	})
	var out []Finding
	for _, ri := range rules {
		r := &d.specific[ri]
		var got []Finding
		whole := false
		for _, w := range windows[ri] {
			got = append(got, convert(text, w, r.stop.allow(r.detector().DetectString(text[w.start:w.end])), func(start, end int) bool {
				if start == w.start && w.start > 0 {
					whole = true
				}
				// A match running into a window's cut end may rely on the artificial end of text ($).
				return end < w.end || w.end == len(text)
			})...)
			if whole {
				break
			}
		}
		if whole {
			got = convert(text, window{0, len(text)}, r.stop.allow(r.detector().DetectString(text)), nil)
		}
		out = append(out, got...)
	}
	return out
}

// runeAligned widens w to whole runes.
func runeAligned(text string, w window) window {
	for w.start > 0 && !utf8.RuneStart(text[w.start]) {
		w.start--
	}
	for w.end < len(text) && !utf8.RuneStart(text[w.end]) {
		w.end++
	}
	return w
}

// nearGates are further necessary conditions of rules whose matches have no length limit, checked at
// each keyword before the rule runs to the end of the text.
var nearGates = map[string]func(text string, at int) bool{
	"curl-auth-user":   curlOption("-u", "--user"),
	"curl-auth-header": curlOption("-H", "--header"),
}

// curlMaxLines is how many line breaks may separate "curl" from its option in the curl rules (up to
// five breaks of one or two characters, then the whitespace before the option).
const curlMaxLines = 12

// curlOption returns a gate that holds when, within curlMaxLines line breaks after "curl", one of the
// options follows a space, tab or line break: the curl rules require it before any value.
func curlOption(opts ...string) func(text string, at int) bool {
	return func(text string, at int) bool {
		lines := 0
		for i := at + 4; i+1 < len(text); i++ {
			c := text[i]
			if c == '\n' || c == '\r' {
				if lines++; lines > curlMaxLines {
					return false
				}
			}
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' || text[i+1] != '-' {
				continue
			}
			for _, o := range opts {
				if strings.HasPrefix(text[i+1:], o) {
					return true
				}
			}
		}
		return false
	}
}

// The shape of gitleaks' semi-generic rules (about 100 of the default set): a name ending in one of a
// few identifiers, up to 20 name characters, quotes, an assignment operator, then the provider's secret.
const (
	semiGenericHead = `(?i)[\w.-]{0,50}?(?:`
	semiGenericTail = `)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`
)

// semiGenericName reports whether the expression src has the semi-generic shape with the keyword kw
// among its identifiers.
func semiGenericName(src, kw string) bool {
	rest, ok := strings.CutPrefix(src, semiGenericHead)
	if !ok {
		return false
	}
	ids, _, ok := strings.Cut(rest, semiGenericTail)
	if !ok {
		return false
	}
	for _, id := range strings.Split(ids, "|") {
		if strings.ToLower(id) == kw {
			return true
		}
	}
	return false
}

// assignedAfter is the necessary condition of a semi-generic rule's match after its identifier, which
// ends at text[i:]: at most 20 name characters ([ \t\w.-]), at most three spaces or quotes, and an
// assignment operator (one of = > : | ? ,).
func assignedAfter(text string, i int) bool {
	for n := 0; n <= 20 && i+n <= len(text); n++ {
	quotes:
		for j := i + n; j < len(text) && j <= i+n+3; j++ {
			switch text[j] {
			case '=', '>', ':', '|', '?', ',':
				return true
			case ' ', '\t', '\n', '\r', '\f', '\'', '"':
			default:
				break quotes
			}
		}
		if i+n == len(text) || !(isIdentByte(text[i+n]) || text[i+n] == ' ' || text[i+n] == '\t') {
			return false
		}
	}
	return false
}
