package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are the event streams both fuzzers start from: line endings, a byte order mark, comments,
// odd fields, a long line.
var fuzzSeeds = []string{
	"data: a\n\n",
	"id: 1\r\nevent: endpoint\r\ndata: /x\r\n\r\n",
	"\xEF\xBB\xBFdata: a\rdata: b\r\r",
	": c\nretry: 10\nid: x\x00y\ndata\n\n",
	"data: " + strings.Repeat("z", 80) + "\n\n",
	"event:\nid:\nretry:99999999999999999999\ndata:\n\n",
	"id: _0\ndata:\n\nid: _1\ndata: {}\r\n\r\n: ping\n\n",
}

// FuzzReader feeds arbitrary bytes to the parser: it must not panic, must respect its limit, and every
// event it returns must survive a write/read round trip.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	const limit = 64
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), limit)
		for i := 0; ; i++ {
			ev, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrEventTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(ev.Data) > limit {
				t.Fatalf("event data %d bytes, over the %d limit", len(ev.Data), limit)
			}
			if ev.Type == "" {
				t.Fatal("dispatched event without type")
			}
			if strings.ContainsAny(ev.ID, "\r\n\x00") || strings.ContainsAny(ev.Type, "\r\n") {
				t.Fatalf("field with a line end: %+v", ev)
			}
			ev.Retry = ev.Retry.Truncate(time.Millisecond)
			var buf bytes.Buffer
			if err := WriteEvent(&buf, ev); err != nil {
				t.Fatalf("WriteEvent(%+v): %v", ev, err)
			}
			back, err := NewReader(&buf, 0).Next()
			if err != nil {
				t.Fatalf("reading back %q: %v", buf.String(), err)
			}
			if back.ID != ev.ID || back.Type != ev.Type || !bytes.Equal(back.Data, ev.Data) || back.Retry != ev.Retry {
				t.Fatalf("round trip changed the event:\n in  %+v\n out %+v", ev, back)
			}
		}
	})
}

// FuzzNextBuffered: reading with NextBuffered and Fill, however the input arrives in pieces, gives the
// events, ids, retry times and final error that Next gives reading it whole.
func FuzzNextBuffered(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(5))
	}
	const limit = 64
	f.Fuzz(func(t *testing.T, in []byte, piece uint8) {
		n := max(int(piece)%24, 1)
		type result struct {
			events []Event
			lastID string
			err    error
		}
		var whole, pieces result
		r := NewReaderSize(bytes.NewReader(in), limit, 16)
		for {
			ev, err := r.Next()
			if err != nil {
				whole.err = err
				break
			}
			whole.events = append(whole.events, ev)
		}
		whole.lastID = r.LastEventID()

		r = NewReaderSize(&pieceReader{b: in, n: n}, limit, 16)
		for {
			ev, err := r.NextBuffered()
			if err == ErrNeedInput {
				if r.br != nil && !r.src.failed {
					t.Fatal("a Reader waiting for input kept its read buffer")
				}
				if err := r.Fill(); err != nil {
					ev, err = r.NextBuffered()
					if err != nil {
						pieces.err = err
						break
					}
					t.Fatalf("an event (%+v) after Fill failed", ev)
				}
				continue
			}
			if err != nil {
				pieces.err = err
				break
			}
			pieces.events = append(pieces.events, ev)
		}
		pieces.lastID = r.LastEventID()
		if len(whole.events) != len(pieces.events) || whole.lastID != pieces.lastID || whole.err != pieces.err {
			t.Fatalf("Next: %d events, last id %q, %v; NextBuffered in %d-byte pieces: %d events, last id %q, %v",
				len(whole.events), whole.lastID, whole.err, n, len(pieces.events), pieces.lastID, pieces.err)
		}
		for i := range whole.events {
			a, b := whole.events[i], pieces.events[i]
			if a.ID != b.ID || a.Type != b.Type || !bytes.Equal(a.Data, b.Data) || a.Retry != b.Retry {
				t.Fatalf("event %d: Next %+v, NextBuffered %+v", i, a, b)
			}
		}
	})
}

// pieceReader returns b at most n bytes per Read.
type pieceReader struct {
	b []byte
	n int
}

func (p *pieceReader) Read(out []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	k := copy(out[:min(len(out), p.n)], p.b)
	p.b = p.b[k:]
	return k, nil
}
