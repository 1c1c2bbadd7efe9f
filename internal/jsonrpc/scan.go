package jsonrpc

// The low-level half of the strict decoder: one forward pass over the input that validates RFC 8259 syntax
// (strings, escapes, UTF-8, numbers, literals), bounds nesting without recursion, and checks object keys for
// duplicates. decode.go drives it for the levels policy reads (envelope, params, params._meta,
// params.arguments, error); every other value goes through value(), which walks arbitrarily nested input with an
// explicit frame stack.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of objects and arrays Decode accepts; the envelope object is depth 1.
const maxDepth = 512

// smallObject is the key count up to which duplicates are found by comparing each new key with the earlier
// ones; larger objects are checked when they close by sorting hashes of their keys, so a huge object costs
// O(n log n), not O(n²).
const smallObject = 16

// frame is one open object or array.
type frame struct {
	obj     bool // object (true) or array (false)
	fold    bool // object whose keys must also differ under Unicode simple case folding
	keyBase int  // index in decoder.keys of this object's first key
	bufBase int  // length of decoder.kbuf when the frame opened, restored when it closes
	n       int  // arrays: index of the current element
}

// keyRef is one key of an open object. Unescaped keys point into the input; keys with escapes and folded
// keys live in decoder.kbuf (referenced by offset, since kbuf may grow).
type keyRef struct {
	pos    int  // offset of the key's opening quote in the input
	s0, s1 int  // the key's unescaped bytes: input[s0:s1], or kbuf[s0:s1] when inBuf
	inBuf  bool // key had escapes; s0:s1 index kbuf
	c0, c1 int  // kbuf[c0:c1] is the case-folded key (fold objects only)
}

// decoder is the state of one Decode call. It is pooled; release clears every reference to the input.
type decoder struct {
	b   []byte // the input, cut at the end of the trimmed value; offsets are offsets in the caller's slice
	pos int

	frames []frame
	keys   []keyRef
	kbuf   []byte
	hashes []uint64 // scratch for checkSorted

	// allowLone is set while scanning the values of "result" and "error.data", where string values may carry
	// \u escapes of lone UTF-16 surrogates (see Decode).
	allowLone bool
	// foldAll makes every object a fold object (CaseVariantKeys); root names the top-level value in messages.
	foldAll bool
	root    string

	perr       *DecodeError // fatal error: scanning stopped
	serr       *DecodeError // first rule violation; scanning continues so that syntax errors still win
	violations int          // rule violations seen, including those after serr

	env envelope
	m   Message
}

// syntax records a fatal parse error at off and returns false, so callers can `return d.syntax(...)`.
func (d *decoder) syntax(off int, format string, args ...any) bool {
	if d.perr == nil {
		d.perr = &DecodeError{Code: CodeParseError, Msg: fmt.Sprintf(format, args...), Offset: off}
	}
	return false
}

// invalid records a rule violation at off; the first one is reported if the input is otherwise valid JSON.
func (d *decoder) invalid(off int, format string, args ...any) {
	d.violations++
	if d.serr == nil {
		d.serr = &DecodeError{Code: CodeInvalidRequest, Msg: fmt.Sprintf(format, args...), Offset: off}
	}
}

// describe names the byte at off for syntax errors.
func (d *decoder) describe(off int) string {
	if off >= len(d.b) {
		return "end of input"
	}
	c := d.b[off]
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("character %q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (d *decoder) ws() {
	for d.pos < len(d.b) {
		switch d.b[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the byte at d.pos, or 0 at the end of the input.
func (d *decoder) peek() byte {
	if d.pos < len(d.b) {
		return d.b[d.pos]
	}
	return 0
}

// push opens a frame. Beyond maxDepth it stops the scan (a fatal CodeInvalidRequest), so deep input costs
// neither stack nor time.
func (d *decoder) push(obj, fold bool) bool {
	if len(d.frames) >= maxDepth {
		if d.perr == nil {
			d.perr = &DecodeError{Code: CodeInvalidRequest, Offset: d.pos,
				Msg: fmt.Sprintf("nesting deeper than %d levels of objects and arrays", maxDepth)}
		}
		return false
	}
	d.frames = append(d.frames, frame{obj: obj, fold: fold, keyBase: len(d.keys), bufBase: len(d.kbuf)})
	return true
}

// pop closes the top frame, checking a large object's keys for duplicates first.
func (d *decoder) pop() {
	f := d.frames[len(d.frames)-1]
	if f.obj && len(d.keys)-f.keyBase > smallObject {
		d.checkSorted(f)
	}
	d.keys = d.keys[:f.keyBase]
	d.kbuf = d.kbuf[:f.bufBase]
	d.frames = d.frames[:len(d.frames)-1]
}

// ---- strings ----

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain8 reports whether the 8 bytes of x need no attention inside a string: no '"', '\\', control
// character or non-ASCII byte.
func plain8(x uint64) bool {
	ctl := (x - 0x20*lsb) & ^x    // high bit set in bytes < 0x20 (and, harmlessly, some others)
	q := x ^ ('"' * lsb)          // zero byte where x had '"'
	bs := x ^ ('\\' * lsb)        // zero byte where x had '\\'
	zq := (q - lsb) & ^q          // high bit set at zero bytes of q
	zb := (bs - lsb) & ^bs        // high bit set at zero bytes of bs
	return (ctl|zq|zb|x)&msb == 0 // x&msb: non-ASCII bytes
}

// str scans the string whose opening quote is at d.pos and leaves d.pos after its closing quote. It returns
// the bounds of the raw content and whether it contains escapes. Lone surrogate escapes are a rule violation
// (recorded, scanning goes on) unless allowLone is set and the string is not a key.
func (d *decoder) str(key bool) (start, end int, esc, ok bool) {
	b := d.b
	i := d.pos + 1
	start = i
	for {
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return 0, 0, false, d.syntax(d.pos, "unterminated string")
		}
		c := b[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return start, i, esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, 0, false, d.syntax(d.pos, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return 0, 0, false, d.syntax(i, `invalid \u escape in string: want 4 hex digits`)
				}
				at := i
				i += 6
				if r >= 0xD800 && r <= 0xDFFF {
					if r <= 0xDBFF && i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if r2, ok := hex4(b, i+2); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
							i += 6
							continue
						}
					}
					if d.serr != nil && (key || !d.allowLone) {
						d.violations++ // already rejected: skip formatting a message nobody reads
					} else if key || !d.allowLone {
						d.invalid(at, `string contains \u escape %s of a lone UTF-16 surrogate; `+
							`encode characters outside the BMP as a surrogate pair`, b[at:at+6])
					}
				}
			default:
				return 0, 0, false, d.syntax(i, `invalid escape \%s in string`, printable(b[i+1]))
			}
		case c < 0x20:
			return 0, 0, false, d.syntax(i, "control character 0x%02x in string: escape it", c)
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, 0, false, d.syntax(i, "invalid UTF-8 in string")
			}
			i += n
		}
	}
}

func printable(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return fmt.Sprintf("(byte 0x%02x)", c)
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the unescaped form of s, the raw content of a string str accepted. A lone surrogate
// escape (only ever kept in result and error.data, which are not unescaped) becomes U+FFFD.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			i += 6
			if r >= 0xD800 && r <= 0xDBFF && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if r2, _ := hex4(s, i+2); r2 >= 0xDC00 && r2 <= 0xDFFF {
					r = (r-0xD800)<<10 | (r2 - 0xDC00) + 0x10000
					i += 6
				}
			}
			if r >= 0xD800 && r <= 0xDFFF {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// strValue scans a string value and returns it unescaped. Strings without escapes cost one allocation (the
// conversion); intern, when set, may return a constant instead.
func (d *decoder) strValue(intern func([]byte) string) (string, bool) {
	s, e, esc, ok := d.str(false)
	if !ok {
		return "", false
	}
	if !esc {
		if intern != nil {
			return intern(d.b[s:e]), true
		}
		return string(d.b[s:e]), true
	}
	return string(appendUnescaped(make([]byte, 0, e-s), d.b[s:e])), true
}

// ---- numbers and literals ----

// num scans a number at d.pos and reports whether it is an integer (no fraction, no exponent).
func (d *decoder) num() (isInt, ok bool) {
	b := d.b
	i := d.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return false, d.syntax(i, "invalid number: %s where a digit belongs", d.describe(i))
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, d.syntax(i, "invalid number: %s after the decimal point", d.describe(i))
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, d.syntax(i, "invalid number: %s in the exponent", d.describe(i))
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return isInt, true
}

func (d *decoder) literal(word string) bool {
	if len(d.b)-d.pos >= len(word) && string(d.b[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return true
	}
	return d.syntax(d.pos, "invalid literal: expected %s", word)
}

// ---- keys ----

// keyBytes returns the unescaped bytes of k.
func (d *decoder) keyBytes(k *keyRef) []byte {
	if k.inBuf {
		return d.kbuf[k.s0:k.s1]
	}
	return d.b[k.s0:k.s1]
}

// key scans an object key and the ':' after it, and records the key in the top frame, reporting a duplicate
// (or, in a fold frame, a case variant) of an earlier key. It returns the index of the key in d.keys.
func (d *decoder) key() (int, bool) {
	if d.peek() != '"' {
		return 0, d.syntax(d.pos, "expected a string object key, found %s", d.describe(d.pos))
	}
	pos := d.pos
	s, e, esc, ok := d.str(true)
	if !ok {
		return 0, false
	}
	k := keyRef{pos: pos, s0: s, s1: e}
	if esc {
		k.inBuf = true
		k.s0 = len(d.kbuf)
		d.kbuf = appendUnescaped(d.kbuf, d.b[s:e])
		k.s1 = len(d.kbuf)
	}
	f := &d.frames[len(d.frames)-1]
	if f.fold {
		if k.inBuf && bytes.IndexByte(d.keyBytes(&k), 0) >= 0 {
			// A server that handles keys as C strings would read "method\u0000x" as "method".
			d.invalid(pos, "key %s in %s contains a NUL character (\\u0000)", quoteKey(d.keyBytes(&k)), d.where(len(d.frames)-1))
		}
		k.c0 = len(d.kbuf)
		d.kbuf = appendFolded(d.kbuf, d.keyBytes(&k))
		k.c1 = len(d.kbuf)
	}
	d.ws()
	if d.peek() != ':' {
		return 0, d.syntax(d.pos, "expected ':' after object key, found %s", d.describe(d.pos))
	}
	d.pos++
	if n := len(d.keys) - f.keyBase; n < smallObject {
		kb := d.keyBytes(&k)
		for i := f.keyBase; i < len(d.keys); i++ {
			o := &d.keys[i]
			if f.fold {
				if string(d.kbuf[o.c0:o.c1]) == string(d.kbuf[k.c0:k.c1]) {
					d.reportDup(o, &k)
					break
				}
			} else if string(d.keyBytes(o)) == string(kb) {
				d.reportDup(o, &k)
				break
			}
		}
	}
	d.keys = append(d.keys, k)
	return len(d.keys) - 1, true
}

// hashSeed keys the hashes of large objects' keys; it is random per process, so input cannot be crafted to
// collide.
var hashSeed = maphash.MakeSeed()

// checkSorted finds duplicate keys of a large object: it sorts the keys' hashes and compares the keys only
// where two hashes are equal, so the check costs O(n log n) on 8-byte integers.
func (d *decoder) checkSorted(f frame) {
	seg := d.keys[f.keyBase:]
	hashOf := func(k *keyRef) uint64 {
		if f.fold {
			return maphash.Bytes(hashSeed, d.kbuf[k.c0:k.c1])
		}
		return maphash.Bytes(hashSeed, d.keyBytes(k))
	}
	hs := d.hashes[:0]
	for i := range seg {
		hs = append(hs, hashOf(&seg[i]))
	}
	d.hashes = hs
	slices.Sort(hs)
	for i := 1; i < len(hs); i++ {
		if hs[i] != hs[i-1] {
			continue
		}
		// Equal hashes: find the keys (a duplicate, or a collision that is vanishingly rare).
		h := hs[i]
		var same []int
		for j := range seg {
			if hashOf(&seg[j]) == h {
				same = append(same, j)
			}
		}
		for x := 0; x < len(same); x++ {
			for y := x + 1; y < len(same); y++ {
				a, b := &seg[same[x]], &seg[same[y]]
				var eq bool
				if f.fold {
					eq = string(d.kbuf[a.c0:a.c1]) == string(d.kbuf[b.c0:b.c1])
				} else {
					eq = string(d.keyBytes(a)) == string(d.keyBytes(b))
				}
				if eq {
					d.reportDup(a, b) // seg is in input order, so a is the earlier key
					return
				}
			}
		}
	}
}

// reportDup records that later repeats earlier, exactly or (in a fold frame) up to case.
func (d *decoder) reportDup(earlier, later *keyRef) {
	if len(d.frames) == 1 {
		d.env.noteKeyConflict(d.keyBytes(earlier), d.keyBytes(later))
	}
	if d.serr != nil {
		d.violations++
		return
	}
	e, l := d.keyBytes(earlier), d.keyBytes(later)
	where := d.where(len(d.frames) - 1)
	if string(e) == string(l) {
		d.invalid(later.pos, "duplicate key %s in %s", quoteKey(l), where)
	} else {
		d.invalid(later.pos, "%s", caseVariant(l, where, quoteKey(e)))
	}
}

// checkKnown reports a key of a fold frame that equals one of names under case folding without being it.
// It returns the name the key is exactly equal to, or "".
func (d *decoder) checkKnown(ki int, names []knownName) string {
	k := &d.keys[ki]
	kb := d.keyBytes(k)
	for _, n := range names {
		if string(kb) == n.name {
			return n.name
		}
	}
	folded := d.kbuf[k.c0:k.c1]
	for _, n := range names {
		if string(folded) == n.folded {
			if d.serr != nil {
				d.violations++
			} else {
				d.invalid(k.pos, "%s", caseVariant(kb, d.where(len(d.frames)-1), strconv.Quote(n.name)))
			}
			if len(d.frames) == 1 {
				d.env.noteKeyConflict([]byte(n.name), kb)
			}
			return ""
		}
	}
	return ""
}

// caseVariant words the rejection of key k of the container named where, which folds to quotedOther.
func caseVariant(k []byte, where, quotedOther string) string {
	if where == "the message" {
		return fmt.Sprintf("key %s differs only in case from %s", quoteKey(k), quotedOther)
	}
	return fmt.Sprintf("key %s in %s differs only in case from %s", quoteKey(k), where, quotedOther)
}

// knownName is a field name that keys may not imitate by case folding.
type knownName struct{ name, folded string }

func known(names ...string) []knownName {
	out := make([]knownName, len(names))
	for i, n := range names {
		out[i] = knownName{n, string(appendFolded(nil, []byte(n)))}
	}
	return out
}

// appendFolded appends s with every rune replaced by the smallest rune of its Unicode simple-fold orbit, so that
// two strings fold to the same bytes exactly when strings.EqualFold reports them equal (this is also how
// encoding/json matches object keys to struct fields). s is valid UTF-8.
func appendFolded(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// quoteKey quotes a key for an error message, shortening long ones. Non-ASCII characters are shown as \u
// escapes, so that look-alikes (Kelvin sign, long s) are visible.
func quoteKey(k []byte) string {
	const max = 64
	if len(k) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(k[cut]) {
			cut--
		}
		return strconv.QuoteToASCII(string(k[:cut])) + "…"
	}
	return strconv.QuoteToASCII(string(k))
}

// where names the container of frame fi for messages: "the message", "params", "params.arguments.a[2]".
func (d *decoder) where(fi int) string {
	if fi <= 0 {
		if d.root != "" {
			return d.root
		}
		return "the message"
	}
	var sb strings.Builder
	const maxSegments = 16
	for i := 1; i <= fi; i++ {
		if fi > maxSegments && i == maxSegments/2 {
			sb.WriteString("…")
			i = fi - maxSegments/2
			continue
		}
		parent := d.frames[i-1]
		if !parent.obj {
			fmt.Fprintf(&sb, "[%d]", parent.n)
			continue
		}
		k := d.keys[d.frames[i].keyBase-1] // the parent's last key is the member being scanned
		kb := d.keyBytes(&k)
		if simpleName(kb) {
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.Write(kb)
		} else {
			fmt.Fprintf(&sb, "[%s]", quoteKey(kb))
		}
	}
	return sb.String()
}

func simpleName(k []byte) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// ---- generic values ----

// value scans one JSON value of any shape at d.pos (after whitespace), validating everything and checking every
// nested object for duplicate keys. It uses the frame stack, not recursion.
func (d *decoder) value() bool {
	base := len(d.frames)
	for {
		// A value starts at d.pos.
		d.ws()
		switch c := d.peek(); {
		case c == '{':
			if !d.push(true, d.foldAll) {
				return false
			}
			d.pos++
			d.ws()
			if d.peek() == '}' {
				d.pos++
				d.pop()
				break
			}
			if _, ok := d.key(); !ok {
				return false
			}
			continue
		case c == '[':
			if !d.push(false, false) {
				return false
			}
			d.pos++
			d.ws()
			if d.peek() == ']' {
				d.pos++
				d.pop()
				break
			}
			continue
		case c == '"':
			if _, _, _, ok := d.str(false); !ok {
				return false
			}
		case c == '-' || c >= '0' && c <= '9':
			if _, ok := d.num(); !ok {
				return false
			}
		case c == 't':
			if !d.literal("true") {
				return false
			}
		case c == 'f':
			if !d.literal("false") {
				return false
			}
		case c == 'n':
			if !d.literal("null") {
				return false
			}
		default:
			return d.syntax(d.pos, "expected a JSON value, found %s", d.describe(d.pos))
		}
		// A value ended: close containers until one continues with ','.
		for {
			if len(d.frames) == base {
				return true
			}
			f := &d.frames[len(d.frames)-1]
			d.ws()
			c := d.peek()
			if c == ',' {
				d.pos++
				if f.obj {
					d.ws()
					if _, ok := d.key(); !ok {
						return false
					}
				} else {
					f.n++
				}
				break
			}
			if f.obj && c == '}' || !f.obj && c == ']' {
				d.pos++
				d.pop()
				continue
			}
			if f.obj {
				return d.syntax(d.pos, "expected ',' or '}' in object, found %s", d.describe(d.pos))
			}
			return d.syntax(d.pos, "expected ',' or ']' in array, found %s", d.describe(d.pos))
		}
	}
}

// object scans an object at d.pos whose keys must also differ under case folding, calling member for each
// member with d.pos at the value (after whitespace). member must consume the value.
func (d *decoder) object(member func(ki int) bool) bool {
	if !d.push(true, true) {
		return false
	}
	d.pos++
	d.ws()
	if d.peek() == '}' {
		d.pos++
		d.pop()
		return true
	}
	for {
		ki, ok := d.key()
		if !ok {
			return false
		}
		d.ws()
		if !member(ki) {
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.pos++
			d.ws()
			continue
		case '}':
			d.pos++
			d.pop()
			return true
		}
		return d.syntax(d.pos, "expected ',' or '}' in object, found %s", d.describe(d.pos))
	}
}
