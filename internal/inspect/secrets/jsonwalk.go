package secrets

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONToken is one object key or scalar value of a JSON document, as WalkJSON meets it.
type JSONToken struct {
	// Key is true for an object key.
	Key bool
	// String is true for a string (key or value); false for a number, true, false or null literal.
	String bool
	// Value is the decoded string, or the literal as written.
	Value string
	// Member is, for a value directly inside an object, the key it belongs to; "" otherwise.
	Member string
	// Start and End are the byte range of the token in the document, quotes included.
	Start, End int

	frames []frame
}

type frame struct {
	array bool
	index int
	key   string
}

// Path is the JSONPath of the token: "$", "$.a.b", "$.items[2]", `$["odd key"]`. For a key it is the
// path of the member it names.
func (t *JSONToken) Path() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, f := range t.frames {
		if f.array {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.index))
			b.WriteByte(']')
			continue
		}
		if plainName(f.key) {
			b.WriteByte('.')
			b.WriteString(f.key)
		} else {
			b.WriteString("[")
			b.Write(appendQuoted(nil, f.key))
			b.WriteString("]")
		}
	}
	return b.String()
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// walkJSON is WalkJSON without the cache of the last document.
func walkJSON(raw []byte, visit func(t *JSONToken)) bool {
	if !validJSON(raw) {
		return false
	}
	return walkValid(raw, string(raw), visit)
}

// walkValid walks the valid document raw; doc is a copy of it, of which keys, literals and strings
// without escapes are substrings (no allocation each).
func walkValid(raw []byte, doc string, visit func(t *JSONToken)) bool {
	var (
		stack     []frame
		expectKey bool
		tok       JSONToken
	)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case ' ', '\t', '\n', '\r':
		case '{':
			stack = append(stack, frame{})
			expectKey = true
		case '[':
			stack = append(stack, frame{array: true})
			expectKey = false
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := len(stack) - 1; stack[top].array {
				stack[top].index++
			} else {
				expectKey = true
			}
		case ':':
			expectKey = false
		case '"':
			end := stringEnd(raw, i)
			var s string
			if q := raw[i:end]; len(q) >= 2 && bytes.IndexByte(q[1:len(q)-1], '\\') < 0 {
				s = doc[i+1 : end-1] // no escape: a substring of the one copy, no allocation
			} else {
				s = decodeString(q)
			}
			tok = JSONToken{String: true, Value: s, Start: i, End: end}
			if expectKey {
				stack[len(stack)-1].key = s
				tok.Key = true
			} else if n := len(stack); n > 0 && !stack[n-1].array {
				tok.Member = stack[n-1].key
			}
			tok.frames = stack
			visit(&tok)
			i = end - 1
		default:
			end := i
			for end < len(raw) && !strings.ContainsRune(" \t\n\r,]}", rune(raw[end])) {
				end++
			}
			tok = JSONToken{Value: doc[i:end], Start: i, End: end, frames: stack}
			if n := len(stack); n > 0 && !stack[n-1].array {
				tok.Member = stack[n-1].key
			}
			visit(&tok)
			i = end - 1
		}
	}
	return true
}

// stringEnd returns the index just after the closing quote of the string that starts at raw[start].
func stringEnd(raw []byte, start int) int {
	for i := start + 1; i < len(raw); i++ {
		i = nextSpecial(raw, i)
		if i >= len(raw) {
			break
		}
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(raw)
}

// decodeString decodes the quoted JSON string q (valid, as WalkJSON checked the document), as
// encoding/json would.
func decodeString(q []byte) string {
	body := q[1 : len(q)-1]
	esc := bytes.IndexByte(body, '\\')
	if esc < 0 {
		return string(body)
	}
	if !utf8.Valid(body) {
		return unmarshalString(q) // encoding/json replaces invalid bytes with U+FFFD
	}
	out := make([]byte, esc, len(body))
	copy(out, body[:esc])
	for i := esc; i < len(body); i++ {
		if body[i] != '\\' {
			n := bytes.IndexByte(body[i:], '\\')
			if n < 0 {
				out = append(out, body[i:]...)
				break
			}
			out = append(out, body[i:i+n]...)
			i += n
		}
		i++
		switch body[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(body[i+1:])
			if !ok {
				return unmarshalString(q)
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					r2, ok2 = hex4(body[i+3:])
				}
				if d := utf16.DecodeRune(r, r2); ok2 && d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, body[i])
		}
	}
	return string(out)
}

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func unmarshalString(q []byte) string {
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return string(q[1 : len(q)-1])
	}
	return s
}

// JSONEdit replaces the token at [Start, End) of a document with Value encoded as a JSON string.
type JSONEdit struct {
	Start, End int
	Value      string
}

// ApplyJSONEdits returns a copy of raw with the edits applied. Edits must not overlap; they may come in
// any order.
func ApplyJSONEdits(raw []byte, edits []JSONEdit) []byte {
	slices.SortFunc(edits, func(a, b JSONEdit) int { return a.Start - b.Start })
	out := make([]byte, 0, len(raw)+32*len(edits))
	last := 0
	for _, e := range edits {
		if e.Start < last {
			continue
		}
		out = append(out, raw[last:e.Start]...)
		out = appendQuoted(out, e.Value)
		last = e.End
	}
	return append(out, raw[last:]...)
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendQuoted(out []byte, s string) []byte {
	out = append(out, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				out = append(out, '\\', c)
			case c == '\n':
				out = append(out, '\\', 'n')
			case c == '\r':
				out = append(out, '\\', 'r')
			case c == '\t':
				out = append(out, '\\', 't')
			case c < 0x20:
				out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				out = append(out, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\ufffd"...)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return append(out, '"')
}
