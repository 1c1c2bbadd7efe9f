package flow

import (
	"encoding/json"

	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
)

// Fingerprints of text that entered a session from a private source, so that a call whose arguments carry
// that text (verbatim, give or take case and whitespace) is recognised whichever tool it goes to — the
// class of exfiltration where a poisoned tool asks for the data in an innocent-looking parameter.
//
// Winnowing (Schleimer, Wilkerson, Aiken, 2003): every k-byte window of the normalised text is hashed, and
// of each run of w consecutive window hashes the smallest is kept. Any shared run of at least k+w-1
// bytes shares a kept fingerprint, so a copy of 39 or more bytes is always found, while only about
// 2/(w+1) of the hashes are stored. The arguments side hashes every window and looks each up.
const (
	printK = 24
	printW = 16
	// MinCopy is the shortest copied text that is always recognised.
	MinCopy = printK + printW - 1
	// maxPrints bounds the fingerprints kept per session (about 130 KB of private text).
	maxPrints = 16384
)

// normalise lower-cases ASCII letters and collapses runs of whitespace to one space, so re-flowed or
// re-cased copies still match.
func normalise(s string) []byte {
	out := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if !space && len(out) > 0 {
				out = append(out, ' ')
			}
			space = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		space = false
		out = append(out, c)
	}
	return out
}

// windowHashes returns the hash of every printK-byte window of b (a polynomial rolling hash).
func windowHashes(b []byte) []uint64 {
	if len(b) < printK {
		return nil
	}
	const base = 1099511628211 // FNV prime: odd, spreads bits
	var pow uint64 = 1
	for i := 0; i < printK-1; i++ {
		pow *= base
	}
	var h uint64
	for i := 0; i < printK; i++ {
		h = h*base + uint64(b[i])
	}
	out := make([]uint64, 0, len(b)-printK+1)
	out = append(out, mix(h))
	for i := printK; i < len(b); i++ {
		h = (h-uint64(b[i-printK])*pow)*base + uint64(b[i])
		out = append(out, mix(h))
	}
	return out
}

// mix finalises a rolling hash (splitmix64), so that the minimum of a window is not biased by the bytes.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// winnow keeps the smallest hash of each run of printW consecutive window hashes (each kept once).
func winnow(hs []uint64) []uint64 {
	if len(hs) == 0 {
		return nil
	}
	if len(hs) < printW {
		m := hs[0]
		for _, h := range hs[1:] {
			m = min(m, h)
		}
		return []uint64{m}
	}
	var out []uint64
	last := -1
	for i := 0; i+printW <= len(hs); i++ {
		mi := i
		for j := i + 1; j < i+printW; j++ {
			if hs[j] <= hs[mi] {
				mi = j
			}
		}
		if mi != last {
			out = append(out, hs[mi])
			last = mi
		}
	}
	return out
}

// textPrints returns the winnowed fingerprints of every string in a JSON document (raw text when it is
// not JSON).
func textPrints(raw json.RawMessage) []uint64 {
	var out []uint64
	visit := func(s string) {
		out = append(out, winnow(windowHashes(normalise(s)))...)
	}
	if !secrets.WalkJSON(raw, func(t *secrets.JSONToken) {
		if !t.Key && t.String && len(t.Value) >= printK {
			visit(t.Value)
		}
	}) {
		out = out[:0]
		visit(string(raw)) // not JSON: the raw text
	}
	return out
}

// argHashes returns every window hash of every string in a call's arguments.
func argHashes(raw json.RawMessage) []uint64 {
	var out []uint64
	if !secrets.WalkJSON(raw, func(t *secrets.JSONToken) {
		if !t.Key && t.String && len(t.Value) >= printK {
			out = append(out, windowHashes(normalise(t.Value))...)
		}
	}) {
		out = windowHashes(normalise(string(raw)))
	}
	return out
}
