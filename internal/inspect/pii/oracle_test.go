package pii

import (
	"slices"
	"strings"
	"testing"
)

// readRunOracle is readRun as it was before the run buffers (commit b86bb0c), the oracle of
// TestReadRunMatchesOracle.
func readRunOracle(t string, i int) (numberRun, bool) {
	r := numberRun{start: i}
	j := i
	if t[j] == '+' {
		r.plus = true
		j++
	}
	if j < len(t) && t[j] == '(' {
		j++
	}
	if j >= len(t) || !isDigit(t[j]) {
		return r, false
	}
	var digits strings.Builder
	for j < len(t) && len(r.groups) < maxRunGroups {
		g := j
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		if j-g > 19 {
			return r, false
		}
		r.groups = append(r.groups, t[g:j])
		digits.WriteString(t[g:j])
		r.end = j
		// A separator: one of " -.", or a parenthesis with at most one space or dash beside it.
		k := j
		switch {
		case k < len(t) && (t[k] == ')' || t[k] == '('):
			k++
		case k+1 < len(t) && (t[k] == ' ' || t[k] == '-') && t[k+1] == '(':
			k += 2
		case k < len(t) && (t[k] == ' ' || t[k] == '-' || t[k] == '.'):
			k++
		}
		if k > j && t[k-1] == ')' && k < len(t) && (t[k] == ' ' || t[k] == '-') {
			k++
		}
		if k == j || k >= len(t) || !isDigit(t[k]) {
			break
		}
		r.seps = append(r.seps, t[j:k])
		j = k
	}
	r.digits = digits.String()
	return r, true
}

// FuzzReadRunMatchesOracle checks readRun and runDigits against the code before the run buffers.
func FuzzReadRunMatchesOracle(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "+1 (415) 555-2671", "(415)555-2671", "123-45-6789", "10.0.0.1:8080",
		"1.2.3.4.5.6.7.8.9.10", "+44 20 7946 0958", "12345678901234567890", "1-2-3", "(1) -2", "2025-11-24T09:00:01"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, text string, i int) {
		if i < 0 || i >= len(text) {
			return
		}
		want, wantOK := readRunOracle(text, i)
		var buf [maxRunGroups]string
		var sepBuf [maxRunGroups]string
		got := numberRun{groups: buf[:0], seps: sepBuf[:0]}
		gotOK := readRun(text, i, &got)
		if gotOK != wantOK {
			t.Fatalf("readRun(%q, %d) ok = %v, want %v", text, i, gotOK, wantOK)
		}
		if !gotOK {
			return
		}
		got.digits = runDigits(&got)
		if got.start != want.start || got.end != want.end || got.plus != want.plus || got.digits != want.digits ||
			!slices.Equal(got.groups, want.groups) || !slices.Equal(got.seps, want.seps) {
			t.Fatalf("readRun(%q, %d) = %+v, want %+v", text, i, got, want)
		}
	})
}

// TestReadRunMatchesOracle runs the fuzz test's comparison at every number start of texts full of
// numbers.
func TestReadRunMatchesOracle(t *testing.T) {
	texts := []string{strings.Repeat("call +1 (415) 555-2671 or 415.555.2671, card 4111 1111 1111 1111, ssn 123-45-6789, ip 10.0.0.1:8080/24, 2025-11-24 09:00:01.102, 1 2 3 4 5 6 7 8 9 10 11, (0)20 7946 0958 ", 3)}
	for _, text := range texts {
		for i := range text {
			want, wantOK := readRunOracle(text, i)
			var got numberRun
			gotOK := readRun(text, i, &got)
			if gotOK != wantOK {
				t.Fatalf("readRun(%q, %d) ok = %v, want %v", text, i, gotOK, wantOK)
			}
			if gotOK {
				got.digits = runDigits(&got)
				if got.start != want.start || got.end != want.end || got.digits != want.digits || !slices.Equal(got.groups, want.groups) || !slices.Equal(got.seps, want.seps) {
					t.Fatalf("readRun(%q, %d) = %+v, want %+v", text, i, got, want)
				}
			}
		}
	}
}
