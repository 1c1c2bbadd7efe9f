package secrets

import (
	"bytes"
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

// jsonScanner scans the strings of one document.
type jsonScanner struct {
	// deep is false when a scan of the whole document found nothing and it holds no \u escape: then no
	// string of it can hold a rule match and only field names are checked.
	deep bool
}

func newJSONScanner(raw []byte) jsonScanner {
	return jsonScanner{deep: bytes.Contains(raw, []byte(`\u`)) || len(Scan(string(raw))) > 0}
}

// token returns the findings of one key or scalar value, with Path and Key set.
func (js jsonScanner) token(t *JSONToken) []Finding {
	var fs []Finding
	if t.String && js.deep {
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
	js := newJSONScanner(raw)
	if !WalkJSON(raw, func(t *JSONToken) { out = append(out, js.token(t)...) }) {
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
	if len(findings) == 0 {
		return raw, false
	}
	type where struct {
		path string
		key  bool
	}
	byToken := map[where][]Finding{}
	var text []Finding
	for _, f := range findings {
		if f.Path == "" {
			text = append(text, f)
			continue
		}
		w := where{f.Path, f.Key}
		byToken[w] = append(byToken[w], f)
	}
	var edits []JSONEdit
	valid := WalkJSON(raw, func(t *JSONToken) {
		fs := byToken[where{t.Path(), t.Key}]
		if len(fs) == 0 {
			return
		}
		for _, f := range fs {
			if f.RuleID == RuleSecretField {
				edits = append(edits, JSONEdit{t.Start, t.End, Placeholder(RuleSecretField)})
				return
			}
		}
		if !t.String {
			return
		}
		if red := Redact(t.Value, stripPath(fs)); red != t.Value {
			edits = append(edits, JSONEdit{t.Start, t.End, red})
		}
	})
	if !valid {
		red := Redact(string(raw), text)
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
