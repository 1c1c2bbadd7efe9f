package policy

import (
	"encoding/json"
)

// RedactJSON applies the redactions to every string value inside a JSON document (a result), replacing each
// match with "[redacted by policy rule ID]". It returns the document unchanged (same bytes) and false when
// nothing matched.
func RedactJSON(doc json.RawMessage, rs []Redaction) (json.RawMessage, bool) {
	if len(rs) == 0 || len(doc) == 0 {
		return doc, false
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return doc, false
	}
	changed := false
	v = redactValue(v, rs, &changed)
	if !changed {
		return doc, false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return doc, false
	}
	return out, true
}

func redactValue(v any, rs []Redaction, changed *bool) any {
	switch x := v.(type) {
	case string:
		for _, r := range rs {
			for _, re := range r.Patterns {
				if re.MatchString(x) {
					x = re.ReplaceAllLiteralString(x, "[redacted by policy rule "+r.RuleID+"]")
					*changed = true
				}
			}
		}
		// JSON text inside a string (structured content echoed as text) is redacted the same way,
		// since the regexes see it as text already.
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(e, rs, changed)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = redactValue(e, rs, changed)
		}
		return x
	}
	return v
}
