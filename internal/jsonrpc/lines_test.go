package jsonrpc

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	for _, tc := range []struct {
		name    string
		in      string
		max     int
		want    []string
		tooLong int
	}{
		{"lines", "a\nb\n", 10, []string{"a", "b"}, 0},
		{"no final newline", "a\nb", 10, []string{"a", "b"}, 0},
		{"blank and CRLF", "\n  \r\na\r\n\n", 10, []string{"a"}, 0},
		{"over max", "short\n" + strings.Repeat("y", 11) + "\nok\n", 10, []string{"short", "ok"}, 1},
		{"longer than buffer, allowed", long + "\nz\n", 300 << 10, []string{long, "z"}, 0},
		{"longer than buffer, too long", long + "\nz\n", 100 << 10, []string{"z"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			n := 0
			err := ReadLines(strings.NewReader(tc.in), tc.max, func(l []byte) bool { got = append(got, string(l)); return true }, func() { n++ })
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if n != tc.tooLong {
				t.Errorf("tooLong called %d times, want %d", n, tc.tooLong)
			}
		})
	}
}
