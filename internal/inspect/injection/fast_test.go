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
