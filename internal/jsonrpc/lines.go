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
