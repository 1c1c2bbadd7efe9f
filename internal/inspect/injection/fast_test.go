package injection

import (
	"strings"
	"testing"
)

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

// FuzzNextEncodedRun checks the skipping search for long base64 runs against a byte-by-byte one.
func FuzzNextEncodedRun(f *testing.F) {
	for _, s := range []string{"", "short words only, nothing long enough to decode here at all", "see aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ= and 0123456789abcdef0123456789abcdef00 end", "x=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo&y=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		type run struct {
			start, end int
			all        uint8
		}
		var want, got []run
		for i := 0; i < len(s); {
			if !isBase64Byte(s[i]) {
				i++
				continue
			}
			j, all := i, uint8(3)
			for j < len(s) && isBase64Byte(s[j]) {
				all &= encodedClass[s[j]]
				j++
			}
			if j-i >= minEncodedRun {
				want = append(want, run{i, j, all})
			}
			i = j
		}
		for i := 0; ; {
			st, e, all := nextEncodedRun(s, i)
			if st >= len(s) {
				break
			}
			got = append(got, run{st, e, all})
			i = e
		}
		if len(got) != len(want) {
			t.Fatalf("nextEncodedRun(%q) found %v, want %v", s, got, want)
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("nextEncodedRun(%q) found %v, want %v", s, got, want)
			}
		}
	})
}

// FuzzPlainASCII checks the eight-bytes-at-a-time test against a byte loop.
func FuzzPlainASCII(f *testing.F) {
	for _, s := range []string{"", "plain text\nwith lines\tand tabs\r\n", "abc\x7fdefghijk", "abcdefgh\x1fij", "abcdefg\xffhij", "é", "\x00", "~~~~~~~~\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := true
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 0x7F || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				want = false
			}
		}
		if got := plainASCII(s); got != want {
			t.Errorf("plainASCII(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzNormalizeIdentity checks that normalize leaves the offset map nil exactly for plainASCII text
// (scanText reads the one for the other).
func FuzzNormalizeIdentity(f *testing.F) {
	for _, s := range []string{"", "plain\n", "é", "a\x1b[31mb", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := normalize(s).idx == nil, plainASCII(s); got != want {
			t.Errorf("normalize(%q).idx == nil is %v, plainASCII is %v", s, got, want)
		}
	})
}

// FuzzDiscussesInjection checks discussesInjection against a search for every phrase.
func FuzzDiscussesInjection(f *testing.F) {
	for _, s := range metaPhrases {
		f.Add("some text about " + s + " here")
	}
	f.Add("inject nothing; red tea; jailbreak")
	f.Fuzz(func(t *testing.T, s string) {
		want := false
		for _, m := range metaPhrases {
			want = want || strings.Contains(s, m)
		}
		if got := discussesInjection(s); got != want {
			t.Errorf("discussesInjection(%q) = %v, want %v", s, got, want)
		}
	})
}
