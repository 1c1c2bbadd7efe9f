package sanitize

import (
	"encoding/json"
	"unicode/utf8"
)

// JSON applies String to every string value in the JSON document raw (object keys are left as they are)
// and returns the rewritten document and true, or raw itself and false when no string needed cleaning.
// Only the strings that changed are re-encoded; every other byte, including whitespace, number spelling
// and the escapes of untouched strings, is copied verbatim. JSON does not validate raw: it finds string
// tokens by their quotes, treats a string followed by ':' as a key, and sanitises the rest, so even a
// malformed document comes back without hidden characters in its values.
func JSON(raw []byte) ([]byte, bool) {
	if !jsonNeedsWork(raw) {
		return raw, false
	}
	var out []byte // nil until the first change
	last := 0      // raw[last:] has not been copied to out yet
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		start := i
		end, plain := stringEnd(raw, start)
		i = end - 1
		if plain || isKey(raw, end) {
			continue
		}
		var s string
		if err := json.Unmarshal(raw[start:end], &s); err != nil {
			// Unterminated or broken string: sanitise its bytes as they are.
			s = string(raw[start+1 : end])
		}
		clean, changed := String(s)
		if !changed {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(raw))
		}
		out = append(out, raw[last:start]...)
		out = appendQuoted(out, clean)
		last = end
	}
	if out == nil {
		return raw, false
	}
	out = append(out, raw[last:]...)
	return out, true
}

// jsonNeedsWork reports whether raw holds a byte or escape that could decode to something String removes.
func jsonNeedsWork(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c >= 0x7F {
			return true
		}
		if c == '\\' && i+1 < len(raw) && (raw[i+1] == 'u' || raw[i+1] == 'r' || raw[i+1] == 'b' || raw[i+1] == 'f') {
			return true
		}
	}
	return false
}

// stringEnd returns the index just past the string token starting at the quote raw[start], and whether
// the token is plain: printable ASCII with no escape that could hide a removable character.
func stringEnd(raw []byte, start int) (end int, plain bool) {
	plain = true
	i := start + 1
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '"':
			return i + 1, plain
		case c == '\\':
			if i+1 < len(raw) {
				switch raw[i+1] {
				case 'u', 'r', 'b', 'f':
					plain = false
				}
			}
			i += 2
			continue
		case c < 0x20 || c >= 0x7F:
			plain = false
		}
		i++
	}
	return len(raw), false
}

// isKey reports whether the string that ended at end is an object key, i.e. is followed by ':'.
func isKey(raw []byte, end int) bool {
	for i := end; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string, escaping only what JSON requires (and U+2028/U+2029, which
// break JavaScript consumers). s is valid UTF-8 without control characters other than tab, newline and
// carriage return, because String produced it.
func appendQuoted(out []byte, s string) []byte {
	out = append(out, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r == '\n':
			out = append(out, '\\', 'n')
		case r == '\r':
			out = append(out, '\\', 'r')
		case r == '\t':
			out = append(out, '\\', 't')
		case r < 0x20, r == 0x2028, r == 0x2029:
			out = append(out, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
		default:
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return append(out, '"')
}
