package secrets

import (
	"strings"
)

// fieldConfidence grades a value flagged only by its key: placeholders and masks are Low.
func fieldConfidence(v string) Confidence {
	t := strings.TrimSpace(v)
	if len(t) < 4 || strings.Trim(t, "*xX•.-_#") == "" || strings.HasPrefix(t, "${") || strings.HasPrefix(t, "{{") ||
		strings.HasPrefix(t, "<") || strings.HasPrefix(t, "[REDACTED") {
		return Low
	}
	return Medium
}

// tokenFindings returns the findings of one key or scalar value, with Path and Key set. Each string is
// scanned once, decoded (scanning the raw document first to skip clean ones cost a second pass and
// missed secrets that only decoding reveals, such as `\/` in a URL).
func tokenFindings(t *JSONToken) []Finding {
	var fs []Finding
	if t.String {
		fs = Scan(t.Value)
	}
	if !t.Key && t.Value != "" && t.Value != "null" && t.Value != "true" && t.Value != "false" && IsSecretName(t.Member) {
		fs = append(fs, Finding{
			RuleID:      RuleSecretField,
			Description: "Value of a field whose name (" + clipName(t.Member) + ") marks it as a secret.",
			Start:       0,
			End:         len(t.Value),
			Confidence:  fieldConfidence(t.Value),
			Preview:     preview(t.Value),
		})
	}
	if len(fs) == 0 {
		return nil
	}
	path := t.Path()
	for i := range fs {
		fs[i].Path, fs[i].Key = path, t.Key
	}
	return fs
}

func clipName(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// ScanJSON returns the secrets in every key and scalar value of the JSON document raw, each with its
// Path, and every non-empty scalar value whose key names a secret (RuleSecretField). Offsets are into
// the decoded string. When raw is not valid JSON it is scanned as text (Path stays empty).
func ScanJSON(raw []byte) []Finding {
	var out []Finding
	if !WalkJSON(raw, func(t *JSONToken) { out = append(out, tokenFindings(t)...) }) {
		return Scan(string(raw))
	}
	return out
}

// RedactJSON returns raw with every secret replaced by "[REDACTED:<rule>]" inside its string, and every
// value flagged by its field name (RuleSecretField) replaced whole by "[REDACTED:secret-field]" (a
// number becomes that string). findings must come from ScanJSON of the same raw, or be nil to scan now.
// When nothing is redacted it returns raw itself and false. Invalid JSON is redacted as text.
func RedactJSON(raw []byte, findings []Finding) ([]byte, bool) {
	if findings == nil {
		findings = ScanJSON(raw)
	}
	return RedactJSONWith(raw, findings, func(t *JSONToken, fs []Finding) (string, bool) {
		for _, f := range fs {
			if f.RuleID == RuleSecretField {
				return Placeholder(RuleSecretField), true
			}
		}
		if !t.String {
			return "", false
		}
		red := Redact(t.Value, stripPath(fs))
		return red, red != t.Value
	}, Redact)
}

// Located is a finding that says where in a JSON document it was found: the JSON path of its token and
// whether the token is a key ("" when it was found in plain text).
type Located interface {
	Location() (path string, key bool)
}

// Location implements Located.
func (f Finding) Location() (string, bool) { return f.Path, f.Key }

// RedactJSONWith is the JSON redaction shared by the detectors: findings (from a ScanJSON of raw) are
// grouped by the token they were found in, and edit returns the replacement text for one token given its
// findings (false: leave the token as it is). When raw is not valid JSON, it is redacted as text with
// text(raw, the findings that have no path). When nothing changes it returns raw itself and false.
func RedactJSONWith[F Located](raw []byte, findings []F, edit func(t *JSONToken, fs []F) (string, bool), text func(string, []F) string) ([]byte, bool) {
	if len(findings) == 0 {
		return raw, false
	}
	type where struct {
		path string
		key  bool
	}
	byToken := map[where][]F{}
	var plain []F
	for _, f := range findings {
		path, key := f.Location()
		if path == "" {
			plain = append(plain, f)
			continue
		}
		w := where{path, key}
		byToken[w] = append(byToken[w], f)
	}
	var edits []JSONEdit
	valid := WalkJSON(raw, func(t *JSONToken) {
		fs := byToken[where{t.Path(), t.Key}]
		if len(fs) == 0 {
			return
		}
		if v, ok := edit(t, fs); ok {
			edits = append(edits, JSONEdit{t.Start, t.End, v})
		}
	})
	if !valid {
		red := text(string(raw), plain)
		if red == string(raw) {
			return raw, false
		}
		return []byte(red), true
	}
	if len(edits) == 0 {
		return raw, false
	}
	return ApplyJSONEdits(raw, edits), true
}

func stripPath(fs []Finding) []Finding {
	out := make([]Finding, len(fs))
	for i, f := range fs {
		f.Path, f.Key = "", false
		out[i] = f
	}
	return out
}
