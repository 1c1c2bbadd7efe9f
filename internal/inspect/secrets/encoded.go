package secrets

import (
	"strings"

	"github.com/zricethezav/gitleaks/v8/detect/codec"
)

// Encoded credentials. An agent that exfiltrates a key often encodes it first (base64, hex, percent
// escapes); the rules only see the encoded text. gitleaks has a decoding layer for this (detect/codec,
// driven by Detector.MaxDecodeDepth), but it runs its encodings' combined expression over the whole
// text and then every rule over the whole decoded text, which this package's windows exist to avoid.
// So scanEncoded finds candidate runs itself, with a byte scan, and hands only those runs to gitleaks'
// decoder, one level deep; the decoded text of a run is scanned with the same rules (scanPlain), and a
// finding in a decoded part is mapped back, with the codec's own mapping, to the encoded bytes, so that
// Redact removes the encoded text.
//
// A candidate run is one of:
//   - base64: a run of at least minBase64Run bytes of the base64 alphabets ([A-Za-z0-9+/_-]), with up to
//     two '=' after it; a run of hex digits of even length ≥ minHexRun is a hex run instead;
//   - percent: a run of bytes that are neither space, quote nor control, holding an escape %XX.
//
// Before the decoder runs, a run must pass a cheap necessary condition of the codec decoding it: the
// codec keeps a decoded value only when all of it is printable ASCII (TAB to '~'), so the run's first
// base64 quantum (4 characters, standard or URL alphabet), its first hex byte or its first %XX escape
// must decode to printable bytes. Random bytes, hashes, UUIDs and binary blobs fail it at once.

const (
	minBase64Run = 20 // 15 decoded bytes: shorter than any credential the rules know by shape
	minHexRun    = 32 // the codec's own minimum
)

// scanEncoded returns the findings in the decoded text of text's candidate runs, spanning the encoded
// bytes in text.
func scanEncoded(text string) []Finding {
	var (
		dec *codec.Decoder
		out []Finding
	)
	eachCandidate(text, func(start, end int) {
		if dec == nil {
			dec = codec.NewDecoder()
		}
		run := text[start:end]
		decoded, segs := dec.Decode(run, nil)
		if len(segs) == 0 {
			return
		}
		for _, f := range scanPlain(decoded) {
			over := codec.SegmentsWithDecodedOverlap(segs, f.Start, f.End)
			if len(over) == 0 {
				continue // in the run's plain part: the scan of text finds it there
			}
			at := codec.AdjustMatchIndex(over, []int{f.Start, f.End})
			s, e := at[0], at[1]
			if s < 0 || e > len(run) || s >= e {
				s, e = 0, len(run)
			}
			f.Start, f.End = start+s, start+e
			f.Description += " (encoded)"
			out = append(out, f)
		}
	})
	return out
}

// Byte classes of the candidate runs.
const (
	classB64 = 1 << iota // [A-Za-z0-9+/_-]
	classHex             // [0-9A-Fa-f]
	classURL             // neither space, quote, angle bracket nor control: may be part of a percent run
)

var byteClass = func() (t [256]uint8) {
	for c := 0x21; c < 0x7f; c++ {
		switch c {
		case '"', '\'', '<', '>', '`', '\\':
		default:
			t[c] |= classURL
		}
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] |= classURL
	}
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-" {
		t[c] |= classB64
	}
	for _, c := range "0123456789ABCDEFabcdef" {
		t[c] |= classHex
	}
	return t
}()

// eachCandidate calls f with the bounds of each candidate run in text that passes the printable check.
// Percent runs are found from their '%' (a vectorised byte search); base64 and hex runs by a pass
// that skips ahead over short words (a table lookup for a fraction of the bytes). The
// base64 and hex runs inside a percent run handed to the decoder are left to it, which finds them there
// too.
func eachCandidate(text string, f func(start, end int)) {
	var pct []window // percent runs handed to the decoder, in order
	for from := 0; ; {
		k := strings.IndexByte(text[from:], '%')
		if k < 0 {
			break
		}
		k += from
		if k+2 >= len(text) || byteClass[text[k+1]]&classHex == 0 || byteClass[text[k+2]]&classHex == 0 {
			from = k + 1
			continue
		}
		i, j := k, k+3
		for i > 0 && byteClass[text[i-1]]&classURL != 0 {
			i--
		}
		for j < len(text) && byteClass[text[j]]&classURL != 0 {
			j++
		}
		if printable(hexByte(text[k+1], text[k+2])) {
			f(i, j)
			pct = append(pct, window{i, j})
			from = j
			continue
		}
		from = k + 3 // a later escape of the run may pass
	}
	inPct := func(i int) bool {
		for len(pct) > 0 && pct[0].end <= i {
			pct = pct[1:]
		}
		return len(pct) > 0 && pct[0].start <= i
	}
	// Runs shorter than minBase64Run are skipped without looking at most of their bytes: i is always
	// at the start of text or just after a byte outside the alphabet, so a run starting at i is long
	// enough only if text[i:i+minBase64Run] is all in it, which is checked from its end backwards.
	for i := 0; i+minBase64Run <= len(text); {
		q := i + minBase64Run - 1
		for q >= i && byteClass[text[q]]&classB64 != 0 {
			q--
		}
		if q >= i {
			i = q + 1
			continue
		}
		k := i + minBase64Run
		for k < len(text) && byteClass[text[k]]&classB64 != 0 {
			k++
		}
		if !inPct(i) {
			run(text, i, k, f)
		}
		i = k + 1
	}
}

// run calls f with text[i:k], a run of base64 bytes of at least minBase64Run, if it is a hex or base64
// candidate that passes the printable check.
func run(text string, i, k int, f func(start, end int)) {
	hex := (k-i)%2 == 0 && k-i >= minHexRun
	for p := i; hex && p < k; p++ {
		hex = byteClass[text[p]]&classHex != 0
	}
	if hex {
		if printable(hexByte(text[i], text[i+1])) {
			f(i, k)
		}
		return
	}
	end := k
	for n := 0; n < 2 && end < len(text) && text[end] == '='; n++ {
		end++
	}
	if quantumPrintable(text[i : i+4]) {
		f(i, end)
	}
}

func hexByte(a, b byte) byte {
	return hexNibble(a)<<4 | hexNibble(b)
}

func hexNibble(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// printable is the codec's printable ASCII: TAB to '~'.
func printable(b byte) bool {
	return b > 0x08 && b < 0x7f
}

// quantumPrintable reports whether the base64 quantum q decodes to three printable bytes in the
// standard or the URL alphabet (the two the codec tries).
func quantumPrintable(q string) bool {
	for _, url := range []bool{false, true} {
		var v uint32
		ok := true
		for i := 0; i < 4; i++ {
			d, valid := b64Value(q[i], url)
			if !valid {
				ok = false
				break
			}
			v = v<<6 | uint32(d)
		}
		if ok && printable(byte(v>>16)) && printable(byte(v>>8)) && printable(byte(v)) {
			return true
		}
	}
	return false
}

func b64Value(c byte, url bool) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '+' && !url, c == '-' && url:
		return 62, true
	case c == '/' && !url, c == '_' && url:
		return 63, true
	}
	return 0, false
}
