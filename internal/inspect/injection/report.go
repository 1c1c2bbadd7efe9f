package injection

import (
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/inspect/poison"
)

// Level grades a Report; it is the severity scale of package poison.
type Level = poison.Severity

// Levels, from the score: Info < 20 ≤ Low < 40 ≤ Medium < 60 ≤ High < 80 ≤ Critical.
const (
	Info     = poison.Info
	Low      = poison.Low
	Medium   = poison.Medium
	High     = poison.High
	Critical = poison.Critical
)

// LevelBlock is the lowest level a gateway should block at by default; Medium is worth flagging for
// review.
const LevelBlock = High

// LevelOf maps a score to its level.
func LevelOf(score int) Level {
	switch {
	case score >= 80:
		return Critical
	case score >= 60:
		return High
	case score >= 40:
		return Medium
	case score >= 20:
		return Low
	}
	return Info
}

// Finding is one signal.
type Finding struct {
	// RuleID is stable (MW-PIxxx); docs/detectors.md describes each rule.
	RuleID string `json:"ruleId"`
	// Category groups rules for scoring: override, new-instructions, role, system-prompt, conceal,
	// address, marker, tool-call, send, data, credential-path, exfil-url, hidden-html, invisible, ansi,
	// encoded.
	Category string `json:"category"`
	// Weight is the finding's contribution before category and bonus rules, after discounts.
	Weight int `json:"weight"`
	// Start and End are byte offsets of the evidence in the scanned text (for ScanJSON, in the decoded
	// string at Path). For text recovered from a hidden channel they cover the whole hidden run.
	Start int `json:"start"`
	End   int `json:"end"`
	// Path is the JSON path of the string (ScanJSON only).
	Path string `json:"path,omitempty"`
	// Evidence is a short excerpt of the normalised text (or of the decoded hidden text); it never holds
	// control or invisible characters.
	Evidence string `json:"evidence"`
	Message  string `json:"message"`
	// Hidden is true when the text reached the scanner through a hidden channel: Unicode tags, base64 or
	// hex, an HTML comment or an invisible style.
	Hidden bool `json:"hidden,omitempty"`
}

// Report is the result of one scan.
type Report struct {
	Score    int       `json:"score"`
	Level    Level     `json:"level"`
	Findings []Finding `json:"findings"`
}

// Summary lists the findings as "RULE(category,weight)" for logs.
func (r Report) Summary() string {
	var b strings.Builder
	for i, f := range r.Findings {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.RuleID)
		b.WriteByte('(')
		b.WriteString(f.Category)
		b.WriteByte(')')
	}
	return b.String()
}
