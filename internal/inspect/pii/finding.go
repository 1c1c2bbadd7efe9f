package pii

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
)

// Confidence is shared with package secrets: Low, Medium or High.
type Confidence = secrets.Confidence

// Confidence levels.
const (
	Low    = secrets.Low
	Medium = secrets.Medium
	High   = secrets.High
)

// Kinds of personal data; a Finding's RuleID is one of them.
const (
	KindEmail      = "email"
	KindPhone      = "phone"
	KindCard       = "payment-card"
	KindIBAN       = "iban"
	KindSSN        = "us-ssn"
	KindIPv4       = "ipv4"
	KindIPv6       = "ipv6"
	KindPrivateKey = "private-key"
	KindJWT        = "jwt"
)

// Finding is one match.
type Finding struct {
	// RuleID is one of the Kind constants.
	RuleID      string `json:"ruleId"`
	Description string `json:"description"`
	// Start and End are byte offsets in the scanned text; for ScanJSON, in the decoded string at Path.
	Start      int        `json:"start"`
	End        int        `json:"end"`
	Confidence Confidence `json:"confidence"`
	// Preview masks the value, keeping its shape: "j***@example.com", "**** **** **** 4242".
	Preview string `json:"preview"`
	// Path is the JSON path of the string holding the match (ScanJSON only).
	Path string `json:"path,omitempty"`
	// Key is true when the match is inside an object key (ScanJSON only).
	Key bool `json:"key,omitempty"`
}

var descriptions = map[string]string{
	KindEmail:      "E-mail address.",
	KindPhone:      "Telephone number.",
	KindCard:       "Payment card number (Luhn-valid, known issuer range).",
	KindIBAN:       "International bank account number (mod-97 valid).",
	KindSSN:        "US social security number.",
	KindIPv4:       "IPv4 address.",
	KindIPv6:       "IPv6 address.",
	KindPrivateKey: "PEM-encoded private key.",
	KindJWT:        "JSON Web Token.",
}

// Placeholder is the text Redact puts in place of a match of kind.
func Placeholder(kind string) string { return "[REDACTED:" + kind + "]" }

// mask keeps the last four digits of numbers, the first character and the domain of e-mail addresses,
// and only the type of keys and tokens.
func mask(kind, v string) string {
	switch kind {
	case KindEmail:
		at := strings.LastIndexByte(v, '@')
		if at <= 0 {
			return "***"
		}
		r, _ := utf8.DecodeRuneInString(v)
		return string(r) + "***" + v[at:]
	case KindCard, KindPhone, KindSSN, KindIBAN:
		n := 0
		b := []byte(v)
		for i := len(b) - 1; i >= 0; i-- {
			c := b[i]
			if '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' {
				n++
				if n > 4 && !(kind == KindIBAN && i < 2) {
					b[i] = '*'
				}
			}
		}
		return string(b)
	case KindPrivateKey:
		return fmt.Sprintf("PEM private key (%d bytes)", len(v))
	case KindJWT:
		return fmt.Sprintf("JWT (%d bytes)", len(v))
	case KindIPv4, KindIPv6:
		return v // an address is its own least-revealing description; Redact removes it
	}
	return "***"
}

func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(b.End, a.End), strings.Compare(a.RuleID, b.RuleID))
	})
}

// Redact returns text with every finding's span replaced by "[REDACTED:<kind>]". findings must come
// from Scan of the same text, or be nil to scan now.
func Redact(text string, findings []Finding) string {
	if findings == nil {
		findings = Scan(text)
	}
	if len(findings) == 0 {
		return text
	}
	fs := slices.Clone(findings)
	sortFindings(fs)
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range fs {
		if f.Path != "" || f.Start < 0 || f.End > len(text) || f.Start >= f.End {
			continue
		}
		if f.Start < last {
			last = max(last, f.End)
			continue
		}
		b.WriteString(text[last:f.Start])
		b.WriteString(Placeholder(f.RuleID))
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// ScanJSON returns the matches in every key and string value of the JSON document raw, each with its
// Path. Offsets are into the decoded string. When raw is not valid JSON it is scanned as text.
func ScanJSON(raw []byte) []Finding {
	var out []Finding
	ok := secrets.WalkJSON(raw, func(t *secrets.JSONToken) {
		if !t.String {
			return
		}
		fs := Scan(t.Value)
		if len(fs) == 0 {
			return
		}
		p := t.Path()
		for i := range fs {
			fs[i].Path, fs[i].Key = p, t.Key
		}
		out = append(out, fs...)
	})
	if !ok {
		return Scan(string(raw))
	}
	return out
}

// RedactJSON returns raw with every match replaced by "[REDACTED:<kind>]" inside its string. findings
// must come from ScanJSON of the same raw, or be nil to scan now. When nothing is redacted it returns
// raw itself and false. Invalid JSON is redacted as text.
func RedactJSON(raw []byte, findings []Finding) ([]byte, bool) {
	if findings == nil {
		findings = ScanJSON(raw)
	}
	return secrets.RedactJSONWith(raw, findings, func(t *secrets.JSONToken, fs []Finding) (string, bool) {
		if !t.String {
			return "", false
		}
		plain := make([]Finding, len(fs))
		for i, f := range fs {
			f.Path, f.Key = "", false
			plain[i] = f
		}
		red := Redact(t.Value, plain)
		return red, red != t.Value
	}, Redact)
}

// Location implements secrets.Located.
func (f Finding) Location() (string, bool) { return f.Path, f.Key }
