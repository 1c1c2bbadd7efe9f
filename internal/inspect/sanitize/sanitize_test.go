package sanitize

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestString(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		changed bool
	}{
		{"plain ascii", "Adds two numbers.", "Adds two numbers.", false},
		{"tab and newline kept", "a\tb\nc", "a\tb\nc", false},
		{"crlf kept", "a\r\nb", "a\r\nb", false},
		{"lone cr removed", "safe\rEVIL", "safeEVIL", true},
		{"accents and cjk kept", "Crée un fichier 文件", "Crée un fichier 文件", false},
		{"emoji with presentation selector kept", "Warning \u26a0\ufe0f careful", "Warning \u26a0\ufe0f careful", false},
		{"emoji zwj sequence kept", "family \U0001F468\u200d\U0001F469", "family \U0001F468\u200d\U0001F469", false},
		{"sgr colour", "\x1b[31mred\x1b[0m text", "red text", true},
		{"sgr conceal", "ok\x1b[8mhidden\x1b[28m", "okhidden", true},
		{"cursor up and erase line", "line1\n\x1b[1A\x1b[2Kspoof", "line1\nspoof", true},
		{"osc 8 link bel", "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07", "click", true},
		{"osc title st", "\x1b]0;title\x1b\\after", "after", true},
		{"two char escape", "a\x1bcb", "ab", true},
		{"8-bit csi", "a\u009b31mb", "ab", true},
		{"8-bit osc with 8-bit st", "a\u009d8;;x\u009cb", "ab", true},
		{"c0 controls", "a\x00b\x07c\x08d\x7fe", "abcde", true},
		{"c1 nel", "a\u0085b", "ab", true},
		{"tag characters", "hi\U000E0049\U000E0047\U000E004E", "hi", true},
		{"zero width", "ig\u200bnore\u200c \u200dall\u2060\ufeff", "ignore all", true},
		{"bidi controls", "abc\u202edcba\u202c \u2066x\u2069", "abcdcba x", true},
		{"variation selectors without emoji", "a\ufe00\ufe01\U000E0100b", "ab", true},
		{"other invisible format characters", "ig\ufff9no\U0001D173re \u180bal\U0001BCA0l\U00013430 \u2065x", "ignore all x", true},
		{"selector chain after emoji", "\U0001F600\ufe0f\U000E0101\U000E0102", "\U0001F600", true},
		{"soft hyphen and hangul filler", "pass\u00adword\u3164", "password", true},
		{"invalid utf8", "a\x9bb", "a\ufffdb", true},
		{"unterminated osc stops at newline", "a\x1b]8;;evil\nnext", "a\nnext", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := String(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("String(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if changed != tt.changed {
				t.Errorf("String(%q) changed = %v, want %v", tt.in, changed, tt.changed)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		changed bool
	}{
		{"untouched document", `{"a": [1, 2.50, "x"], "b": {"c": null}}`, `{"a": [1, 2.50, "x"], "b": {"c": null}}`, false},
		{"escaped esc in value", `{"description":"\u001b[31mred\u001b[0m"}`, `{"description":"red"}`, true},
		{"raw tag chars in value", "{\"d\":\"hi\U000E0041\"}", `{"d":"hi"}`, true},
		{"keys untouched", "{\"k\u200b\": \"v\u200b\"}", "{\"k\u200b\": \"v\"}", true},
		{"untouched strings keep their escapes", `{"a":"\u0041\/","b":"\u200b"}`, `{"a":"\u0041\/","b":""}`, true},
		{"nested arrays", `[["\u202e", {"x": ["ok", "\ufeffz"]}]]`, `[["", {"x": ["ok", "z"]}]]`, true},
		{"quotes and backslashes re-escaped", `{"s":"a\"b\\c\u200b\n"}`, `{"s":"a\"b\\c\n"}`, true},
		{"lone cr escape removed", `{"s":"x\ry"}`, `{"s":"xy"}`, true},
		{"crlf escape kept", `{"s":"x\r\ny"}`, `{"s":"x\r\ny"}`, false},
		{"emoji kept", `{"s":"\u26a0\ufe0f"}`, `{"s":"\u26a0\ufe0f"}`, false},
		{"key followed by space then colon", "{\"a\u200b\" \t: \"b\u200b\"}", "{\"a\u200b\" \t: \"b\"}", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := JSON([]byte(tt.in))
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("JSON(%s) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if changed != tt.changed {
				t.Errorf("JSON(%s) changed = %v, want %v", tt.in, changed, tt.changed)
			}
		})
	}
}

func TestJSONUnchangedReturnsSameSlice(t *testing.T) {
	in := []byte(`{"tools":[{"name":"add","description":"Adds \u00e9 numbers"}]}`)
	got, changed := JSON(in)
	if changed {
		t.Fatalf("JSON changed a clean document: %s", got)
	}
	if &got[0] != &in[0] || len(got) != len(in) {
		t.Fatalf("JSON returned a copy for an unchanged document; want the input slice itself")
	}
}

// checkClean fails if s still holds anything String must remove.
func checkClean(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("output is not valid UTF-8: %q", s)
	}
	if strings.ContainsRune(s, 0x1B) || strings.ContainsRune(s, 0x9B) {
		t.Fatalf("output still holds an escape introducer: %q", s)
	}
	for i, r := range s {
		if IsControl(r) && r != '\r' {
			t.Fatalf("output holds control %U at %d: %q", r, i, s)
		}
		if r == '\r' && !strings.HasPrefix(s[i+1:], "\n") {
			t.Fatalf("output holds a lone CR at %d: %q", i, s)
		}
		if r >= 0xE0000 && r <= 0xE007F || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200B || r == 0xFEFF {
			t.Fatalf("output holds invisible %U at %d: %q", r, i, s)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{
		"", "plain", "\x1b[31mred\x1b[0m", "\x1b]8;;http://x\x07l\x1b]8;;\x07", "\u009b2J", "a\U000E0041b",
		"\u200b\u202e\ufe0f", "\U0001F600\ufe0f\u200d\U0001F600", "\r\n\r", "\xff\x9b", "\x1b", "\x1bP..\x1b\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		clean, changed := String(s)
		if !changed && clean != s {
			t.Fatalf("changed=false but output differs: %q -> %q", s, clean)
		}
		if changed && clean == s {
			t.Fatalf("changed=true but output equals input: %q", s)
		}
		checkClean(t, clean)
		again, changed2 := String(clean)
		if changed2 || again != clean {
			t.Fatalf("not a fixed point: %q -> %q -> %q", s, clean, again)
		}
		// StringIndex returns the same text, and maps every byte to the character (or invalid byte) of s that
		// it came from, in order.
		clean2, idx, changed3 := StringIndex(s)
		if clean2 != clean || changed3 != changed || !changed && idx != nil || changed && len(idx) != len(clean) {
			t.Fatalf("StringIndex(%q) = %q, %d offsets, %v; String: %q, %v", s, clean2, len(idx), changed3, clean, changed)
		}
		for j, o := range idx {
			if o < 0 || int(o) >= len(s) || j > 0 && o < idx[j-1] {
				t.Fatalf("StringIndex(%q): offset %d of byte %d does not point into the input in order", s, o, j)
			}
			if c := clean[j]; c < utf8.RuneSelf && c != s[o] && !(c == 0xEF && s[o] >= 0x80) {
				t.Fatalf("StringIndex(%q): byte %d (%q) maps to %q", s, j, c, s[o])
			}
		}
	})
}

// mapStrings applies fn to every string value (not key) of a decoded JSON value.
func mapStrings(v any, fn func(string) string) any {
	switch v := v.(type) {
	case string:
		return fn(v)
	case []any:
		for i := range v {
			v[i] = mapStrings(v[i], fn)
		}
	case map[string]any:
		for k := range v {
			v[k] = mapStrings(v[k], fn)
		}
	}
	return v
}

func decodeAny(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `"x"`, `{"a":"\u001b[1m"}`, `{"a\u200b":["\u202e",1,true,null]}`, "{\"d\":\"\U000E0041\"}",
		`{"s":"\r"}`, `{"a":{"b":"\ud800"}}`, `["\u009b"]`, `{"a" : "b" , "c":[ "d" ]}`, `{"x":"unterminated`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		orig := bytes.Clone(raw)
		out, changed := JSON(raw)
		if !bytes.Equal(raw, orig) {
			t.Fatalf("JSON modified its input")
		}
		if !changed && !bytes.Equal(out, raw) {
			t.Fatalf("changed=false but output differs")
		}
		if !json.Valid(raw) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("valid input %q produced invalid output %q", raw, out)
		}
		in, err := decodeAny(raw)
		if err != nil {
			return // valid syntax that encoding/json still refuses (e.g. numbers beyond float64 range)
		}
		got, err := decodeAny(out)
		if err != nil {
			t.Fatalf("output %q does not decode: %v", out, err)
		}
		want := mapStrings(in, func(s string) string { c, _ := String(s); return c })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("string values not sanitised as String does (-want +got):\n%s", diff)
		}
		mapStrings(got, func(s string) string { checkClean(t, s); return s })
		again, changed2 := JSON(out)
		if changed2 || !bytes.Equal(again, out) {
			t.Fatalf("JSON not a fixed point: %q -> %q", out, again)
		}
	})
}

func BenchmarkString(b *testing.B) {
	clean := strings.Repeat("Read the complete contents of a file from the file system. ", 8)
	dirty := clean + "\x1b[8m\u200bhidden\U000E0041"
	b.Run("clean", func(b *testing.B) {
		for b.Loop() {
			String(clean)
		}
	})
	b.Run("dirty", func(b *testing.B) {
		for b.Loop() {
			String(dirty)
		}
	})
}
