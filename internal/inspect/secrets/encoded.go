package secrets

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Encoded credentials. An agent that exfiltrates a key often encodes it first (base64, hex, percent
// escapes); the rules only see the encoded text. gitleaks has a decoding layer for this (detect/codec,
// driven by Detector.MaxDecodeDepth), but it does not fit this package's scanning model: it runs its
// encodings' combined expression, with capture groups, over the whole text (and then every rule over
// the whole decoded text, which the windows exist to avoid). Handed only the candidate runs, its
// expression still took half the time of a scan of base64-encoded prose (BenchmarkScan/encoded: about
// 48 µs per KB with it, 25 without), and only Decoder.Decode is exported, so the expression cannot be
// skipped. scanEncoded therefore finds candidate runs with a byte
// scan and decodes them with the standard library (encoding/base64, encoding/hex) or, for percent
// escapes, percentDecode, keeping the codec's rules: one level deep, and a decoded value is kept only
// when all of it is printable ASCII (TAB to '~'; what the codec keeps). The decoded text of a run is
// scanned with the same rules (scanPlain), and each finding is mapped back to the encoded bytes that
// hold it, so that Redact removes the encoded text.
//
// A candidate run is one of:
//   - base64: a run of at least minBase64Run bytes of the base64 alphabets ([A-Za-z0-9+/_-]), with up to
//     two '=' after it (standard or URL alphabet, padded or not); a run of hex digits of even length
//     ≥ minHexRun is a hex run instead;
//   - percent: a run of bytes that are neither space, quote, backslash, angle bracket nor control,
//     holding an escape %XX whose byte is printable.
//
// Before a base64 or hex run is decoded, its first quantum (4 characters, standard or URL alphabet) or
// first byte must decode to printable ASCII: random bytes, hashes, UUIDs and binary blobs fail at once.

const (
	minBase64Run = 20 // 15 decoded bytes: shorter than any credential the rules know by shape
	minHexRun    = 32 // the codec's minimum
)

type runKind uint8

const (
	kindBase64 runKind = iota
	kindHex
	kindPercent
)

// scanEncoded returns the findings in the decoded text of text's candidate runs, spanning the encoded
// bytes in text.
func scanEncoded(text string) []Finding {
	if len(text) < 8 {
		return nil // no run long enough to hold what scanPlain looks for
	}
	var out []Finding
	eachCandidate(text, func(start, end int, kind runKind) {
		run := text[start:end]
		var (
			decoded string
			at      func(i int) int // offset in run of decoded byte i (i = len(decoded): len(run))
		)
		switch kind {
		case kindBase64:
			decoded = decodeBase64(run)
			at = func(i int) int { return min(len(run), (i+2)/3*4) }
		case kindHex:
			if b, err := hex.DecodeString(run); err == nil && allPrintable(b) {
				decoded = string(b)
			}
			at = func(i int) int { return 2 * i }
		case kindPercent:
			var offs []int
			decoded, offs = percentDecode(run)
			at = func(i int) int { return offs[i] }
		}
		if decoded == "" {
			return
		}
		for _, f := range scanPlain(decoded) {
			s, e := at(f.Start), at(f.End)
			if kind == kindBase64 {
				s = f.Start / 3 * 4 // the quantum holding the first byte
			}
			if e-s == f.End-f.Start && kind == kindPercent {
				continue // no escape inside: the scan of text finds it as it is
			}
			f.Start, f.End = start+s, start+e
			f.Description += " (encoded)"
			out = append(out, f)
		}
	})
	return out
}

// decodeBase64 returns the printable ASCII that run decodes to in the standard or the URL alphabet,
// padded or not, or "".
func decodeBase64(run string) string {
	body := strings.TrimRight(run, "=")
	var enc *base64.Encoding
	switch url, std := strings.ContainsAny(body, "-_"), strings.ContainsAny(body, "+/"); {
	case url && std:
		return ""
	case url:
		enc = base64.RawURLEncoding
	default:
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(body)
	if err != nil || !allPrintable(b) {
		return ""
	}
	return string(b)
}

// percentDecode returns run with its %XX escapes decoded, and for each byte of the result (and its
// end) the offset in run; "" when an escape decodes to a byte that is not printable ASCII (the codec's
// rule). Other bytes, '+' included, are kept.
func percentDecode(run string) (string, []int) {
	b := make([]byte, 0, len(run))
	at := make([]int, 0, len(run)+1)
	for i := 0; i < len(run); {
		if run[i] == '%' && i+2 < len(run) && byteClass[run[i+1]]&classHex != 0 && byteClass[run[i+2]]&classHex != 0 {
			c := hexByte(run[i+1], run[i+2])
			if !printable(c) {
				return "", nil
			}
			b = append(b, c)
			at = append(at, i)
			i += 3
			continue
		}
		b = append(b, run[i])
		at = append(at, i)
		i++
	}
	return string(b), append(at, len(run))
}

func allPrintable(b []byte) bool {
	for _, c := range b {
		if !printable(c) {
			return false
		}
	}
	return true
}

// Byte classes of the candidate runs.
const (
	classB64 = 1 << iota // [A-Za-z0-9+/_-]
	classHex             // [0-9A-Fa-f]
	classURL             // neither space, quote, backslash, backquote, angle bracket nor control: may be in a percent run
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

// eachCandidate calls f with the bounds and kind of each candidate run in text that passes the
// printable check. Percent runs are found from their '%' (a vectorised byte search); base64 and hex runs
// by a pass that skips ahead over short words (a table lookup for a fraction of the bytes). A base64
// run inside a percent run is a candidate too (a URL whose query holds base64).
func eachCandidate(text string, f func(start, end int, kind runKind)) {
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
			f(i, j, kindPercent)
			from = j
			continue
		}
		from = k + 3 // a later escape of the run may pass
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
		run(text, i, k, f)
		i = k + 1
	}
}

// run calls f with text[i:k], a run of base64 bytes of at least minBase64Run, if it is a hex or base64
// candidate that passes the printable check.
func run(text string, i, k int, f func(start, end int, kind runKind)) {
	hex := (k-i)%2 == 0 && k-i >= minHexRun
	for p := i; hex && p < k; p++ {
		hex = byteClass[text[p]]&classHex != 0
	}
	if hex {
		if printable(hexByte(text[i], text[i+1])) {
			f(i, k, kindHex)
		}
		return
	}
	end := k
	for n := 0; n < 2 && end < len(text) && text[end] == '='; n++ {
		end++
	}
	if quantumPrintable(text[i : i+4]) {
		f(i, end, kindBase64)
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
