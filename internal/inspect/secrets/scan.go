package secrets

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// detectors are the gitleaks detectors built from its default rule set, compiled on first use.
type detectors struct {
	// specific runs every rule but the gated ones, behind gitleaks' own keyword prefilter, when
	// specificGate finds one of their keywords.
	specific     *detect.Detector
	specificGate *keywordGate
	// gated run one rule each, only on the windows that their gate finds.
	gated []gatedRule
	rules int
}

// gatedRule is a gitleaks rule whose keywords are so common in prose ("key", "api", "ey") that its
// prefilter nearly always passes, and whose expression costs about 0.2 µs per byte; it runs only on the
// windows where a cheap necessary condition of a match holds.
type gatedRule struct {
	id       string
	detector *detect.Detector
	keywords []string
	windows  func(text string, keywords []string) []window
}

var gates = map[string]func(string, []string) []window{
	"generic-api-key": assignmentWindows,
	"jwt":             jwtWindows,
}

var engine = sync.OnceValues(func() (*detectors, error) {
	v := viper.New() // not the global instance: other code may use viper concurrently
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("secrets: read the gitleaks default rule set: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("secrets: decode the gitleaks default rule set: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("secrets: compile the gitleaks default rule set: %w", err)
	}
	ds := &detectors{}
	// Rules restricted to file paths (kubernetes-secret-yaml, *.tf passwords, …) never match text that
	// has no path, so they are left out.
	spec := subset(cfg, func(id string) bool { return gates[id] == nil && cfg.Rules[id].Path == nil })
	ds.specific = detect.NewDetector(spec)
	var kws []string
	for _, r := range spec.Rules {
		if len(r.Keywords) == 0 {
			kws = append(kws, "") // forces the gate open
		}
		kws = append(kws, r.Keywords...)
	}
	ds.specificGate = newKeywordGate(kws)
	ds.rules = len(spec.Rules)
	for id, gate := range gates {
		r, ok := cfg.Rules[id]
		if !ok {
			continue // a future rule set may rename it; the rest still runs
		}
		g := gatedRule{id: id, detector: detect.NewDetector(subset(cfg, func(x string) bool { return x == id })), windows: gate}
		for _, k := range r.Keywords {
			g.keywords = append(g.keywords, strings.ToLower(k))
		}
		ds.gated = append(ds.gated, g)
		ds.rules++
	}
	slices.SortFunc(ds.gated, func(a, b gatedRule) int { return strings.Compare(a.id, b.id) })
	// Tool output is not a git checkout: "gitleaks:allow" comments must not hide a secret from the gateway.
	ds.specific.IgnoreGitleaksAllow = true
	for _, g := range ds.gated {
		g.detector.IgnoreGitleaksAllow = true
	}
	return ds, nil
})

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
func Scan(text string) []Finding {
	if len(text) < 8 {
		return nil
	}
	d, err := engine()
	if err != nil {
		return nil
	}
	var out []Finding
	if d.specificGate.match(text) {
		out = convert(text, 0, d.specific.DetectString(text), nil)
	}
	for _, g := range d.gated {
		for _, w := range g.windows(text, g.keywords) {
			out = append(out, convert(text, w.start, g.detector.DetectString(text[w.start:w.end]), func(end int) bool {
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

// convert appends gitleaks findings on text[base:] to out as byte-offset Findings. keep, when set, vets
// each match's end offset in text.
func convert(text string, base int, raw []report.Finding, keep func(end int) bool) []Finding {
	if len(raw) == 0 {
		return nil
	}
	frag := text[base:]
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
		if keep != nil && !keep(base+start+len(f.Match)) {
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
