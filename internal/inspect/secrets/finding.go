package secrets

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Confidence grades how sure a finding is. The zero value is Low.
type Confidence uint8

const (
	// Low: a weak signal (a short or placeholder-looking value under a secret-named field).
	Low Confidence = iota
	// Medium: a generic rule (key = high-entropy value) or a secret-named field.
	Medium
	// High: a provider-specific rule matched (fixed prefix, format, or checksum).
	High
)

var confidenceNames = [...]string{"low", "medium", "high"}

func (c Confidence) String() string {
	if int(c) < len(confidenceNames) {
		return confidenceNames[c]
	}
	return fmt.Sprintf("confidence(%d)", uint8(c))
}

// MarshalText encodes the confidence as its lower-case name.
func (c Confidence) MarshalText() ([]byte, error) {
	if int(c) >= len(confidenceNames) {
		return nil, fmt.Errorf("secrets: invalid confidence %d", uint8(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText accepts low, medium or high (any case).
func (c *Confidence) UnmarshalText(b []byte) error {
	for i, n := range confidenceNames {
		if strings.EqualFold(string(b), n) {
			*c = Confidence(i)
			return nil
		}
	}
	return fmt.Errorf("secrets: unknown confidence %q: use one of low, medium, high", b)
}

// RuleSecretField is the rule ID of a value flagged because its JSON key names a secret.
const RuleSecretField = "secret-field"

// Finding is one secret found in a text or a JSON document.
type Finding struct {
	// RuleID is the gitleaks rule ID (e.g. "github-pat", "aws-access-token", "generic-api-key") or
	// RuleSecretField.
	RuleID      string `json:"ruleId"`
	Description string `json:"description"`
	// Start and End are byte offsets of the secret in the scanned text; for ScanJSON, in the decoded
	// string at Path (or, for a non-string value, in its JSON literal).
	Start      int        `json:"start"`
	End        int        `json:"end"`
	Confidence Confidence `json:"confidence"`
	// Preview shows the shape of the secret without revealing it, e.g. "ghp_…(40 chars)".
	Preview string `json:"preview"`
	// Path is the JSON path of the string holding the secret (ScanJSON only), e.g. "$.arguments.api_key".
	Path string `json:"path,omitempty"`
	// Key is true when the secret is an object key rather than a value (ScanJSON only).
	Key bool `json:"key,omitempty"`
}

// Placeholder is the text Redact puts in place of a secret found by rule.
func Placeholder(rule string) string { return "[REDACTED:" + rule + "]" }

// preview keeps up to four leading characters of long secrets (enough to recognise a provider prefix
// such as "ghp_" or "AKIA") and the length.
func preview(s string) string {
	n := utf8.RuneCountInString(s)
	if n < 16 {
		return fmt.Sprintf("…(%d chars)", n)
	}
	i, k := 0, 0
	for k < 4 && i < len(s) {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	head := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s[:i])
	return fmt.Sprintf("%s…(%d chars)", head, n)
}

// span is a byte range of a text to replace, with its replacement.
type span struct {
	start, end int
	repl       string
}

// applySpans replaces the given ranges of s; overlapping ranges are merged (the earlier span's
// placeholder wins). spans must be sorted by start.
func applySpans(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		if sp.start < last { // overlaps the previous placeholder: extend it
			last = max(last, sp.end)
			continue
		}
		b.WriteString(s[last:sp.start])
		b.WriteString(sp.repl)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}
