package secrets

import (
	"slices"
	"strings"
	"testing"
)

// jwtWindowsOracle is jwtWindows as it was before it looked for 'y' (commit b86bb0c), the oracle of
// FuzzJWTWindows. It returns windows around "ey" followed by at least 17 letters or digits and a dot: the start
// of a JSON Web Token, whose header and payload both begin with the base64 of `{"`.
func jwtWindowsOracle(text string, _ []string) []window {
	var ws []window
	for from := 0; ; {
		k := strings.IndexByte(text[from:], 'e')
		if k < 0 {
			break
		}
		k += from
		if k+1 >= len(text) || text[k+1] != 'y' {
			from = k + 1
			continue
		}
		from = k + 2
		j := k + 2
		for j < len(text) && isAlnum(text[j]) {
			j++
		}
		if j-k-2 < 17 || j >= len(text) || text[j] != '.' {
			continue
		}
		for j < len(text) && isJWTByte(text[j]) {
			j++
		}
		ws = append(ws, window{max(0, k-1), min(len(text), j+4)})
		from = j
	}
	return merge(ws)
}

// FuzzJWTWindows checks jwtWindows against the code before it looked for 'y'.
func FuzzJWTWindows(f *testing.F) {
	for _, s := range []string{"", "ey", "eyeyey", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "key eyJhbGciOiJIUzI1NiJ9x.y",
		"yyy eyJhbGciOiJIUzI1NiJ9.eyJ eyJhbGciOiJIUzI1NiJ9.", "eyeyJhbGciOiJIUzI1NiJ9.a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := jwtWindows(text, nil), jwtWindowsOracle(text, nil); !slices.Equal(got, want) {
			t.Errorf("jwtWindows(%q) = %v, want %v", text, got, want)
		}
	})
}
