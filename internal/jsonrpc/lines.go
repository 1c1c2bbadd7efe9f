package jsonrpc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ReadLines implements the stdio framing of MCP: one message per line. It calls fn with every non-blank line
// (trimmed, in a buffer fn may keep) until r ends or fn returns false; a line longer than max bytes is
// skipped without being buffered whole, and reported through tooLong. It returns nil at EOF.
func ReadLines(r io.Reader, max int, fn func(line []byte) bool, tooLong func()) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				long = append(long, chunk...)
				if len(long) > max {
					long, skipping = nil, true
					tooLong()
				}
			}
			continue
		}
		var line []byte
		switch {
		case skipping:
			skipping = false
		case long != nil:
			line = append(long, chunk...)
			long = nil
		default:
			line = append([]byte(nil), chunk...) // ReadSlice's buffer is reused
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			if len(line) > max {
				tooLong()
			} else if !fn(line) {
				return nil
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// OneLine returns raw, a message Decode accepted, framed for newline-delimited transports (stdio): without a
// byte any common line reader takes for a line end, so that no reader can split it into other messages.
// Outside strings a valid message can only hold CR and LF as insignificant whitespace, and inside strings
// neither may appear raw: each becomes a space. Python's text streams (universal newlines) and Node's
// readline end a line at a lone CR as well as at LF, and Python's str.splitlines also at U+0085, U+2028
// and U+2029, which JSON allows raw inside strings: those are written as the equivalent \u escapes. The
// message means the same to every JSON parser; raw is returned unchanged when nothing needs rewriting, and
// is never modified in place.
func OneLine(raw []byte) []byte {
	i := lineBreakAt(raw)
	if i < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw)+16)
	for i >= 0 {
		out = append(out, raw[:i]...)
		switch c := raw[i]; c {
		case '\r', '\n':
			out = append(out, ' ')
			raw = raw[i+1:]
		case 0xC2: // U+0085 (NEL)
			out = append(out, `\u0085`...)
			raw = raw[i+2:]
		default: // 0xE2: U+2028 or U+2029
			if raw[i+2] == 0xA8 {
				out = append(out, `\u2028`...)
			} else {
				out = append(out, `\u2029`...)
			}
			raw = raw[i+3:]
		}
		i = lineBreakAt(raw)
	}
	return append(out, raw...)
}

// lineBreakAt returns the index of the first CR, LF, U+0085, U+2028 or U+2029 in b (valid UTF-8), or -1.
func lineBreakAt(b []byte) int {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\r', '\n':
			return i
		case 0xC2:
			if i+1 < len(b) && b[i+1] == 0x85 {
				return i
			}
		case 0xE2:
			if i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9) {
				return i
			}
		}
	}
	return -1
}
