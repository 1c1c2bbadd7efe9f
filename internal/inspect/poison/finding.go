package poison

import (
	"fmt"
	"strings"
)

// Severity grades a finding. The zero value is Info.
type Severity uint8

const (
	// Info is worth recording, never worth blocking.
	Info Severity = iota
	// Low is unusual but common in benign servers.
	Low
	// Medium is suspicious: a benign server rarely does this; a human should look.
	Medium
	// High is an attack technique with no benign explanation seen in real servers.
	High
	// Critical combines techniques into a complete attack (hidden channel + instruction + target).
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// MarshalText encodes the severity as its lower-case name.
func (s Severity) MarshalText() ([]byte, error) {
	if int(s) >= len(severityNames) {
		return nil, fmt.Errorf("poison: invalid severity %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText accepts info, low, medium, high or critical (any case).
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses info, low, medium, high or critical (any case).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("poison: unknown severity %q: use one of info, low, medium, high, critical", name)
}

// Finding is one rule match.
type Finding struct {
	// RuleID is stable across releases; docs/poisoning.md describes each rule.
	RuleID   string   `json:"ruleId"`
	Severity Severity `json:"severity"`
	// Location names the field, e.g. "tools[add].inputSchema.properties.sidenote.description".
	Location string `json:"location"`
	// Evidence is a short excerpt of the normalised text (lower-cased, invisible characters removed) or,
	// for smuggled content, the decoded hidden text. It never contains control or invisible characters.
	Evidence string `json:"evidence,omitempty"`
	Message  string `json:"message"`
}

// Report is the result of scanning one Surface.
type Report struct {
	// Findings are ordered by location, then rule.
	Findings []Finding `json:"findings"`
	// Verdict is the highest finding severity (Info when there are no findings).
	Verdict Severity `json:"verdict"`
	// Score is the sum of the per-item scores; it only ranks surfaces, thresholds use Verdict.
	Score int `json:"score"`
}

// Max returns the highest severity among the findings of one item, named as in locations (e.g.
// "tools[add]" or "instructions"), or Info when it has none.
func (r Report) Max(item string) Severity {
	m := Info
	for _, f := range r.Findings {
		in := f.Location == item || strings.HasPrefix(f.Location, item) && f.Location[len(item)] == '.'
		if in && f.Severity > m {
			m = f.Severity
		}
	}
	return m
}
