package injection

import "testing"

// FuzzPrintableRun checks the eight-bytes-at-a-time scan against a byte loop.
func FuzzPrintableRun(f *testing.F) {
	for _, s := range []string{"", "plain text, long enough to fill words", "abc\x7fdef ghijklmn", "abcdefg\xffhij", "abcdefgh\x1fij", "~~~~~~~~~~~~~~~\x80", "é"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, s string, from int) {
		if from < 0 || from > len(s) {
			return
		}
		want := from
		for want < len(s) && s[want] >= 0x20 && s[want] < 0x7F {
			want++
		}
		if got := printableRun(s, from); got != want {
			t.Errorf("printableRun(%q, %d) = %d, want %d", s, from, got, want)
		}
	})
}

// FuzzLowerASCII checks the eight-bytes-at-a-time lower-casing against a byte loop.
func FuzzLowerASCII(f *testing.F) {
	for _, s := range []string{"", "ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{", "Hello, World! ÀÉ \xc1\xda\xdb", "already lower case text"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		if got := lowerASCII(s); got != string(b) {
			t.Errorf("lowerASCII(%q) = %q, want %q", s, got, b)
		}
	})
}
