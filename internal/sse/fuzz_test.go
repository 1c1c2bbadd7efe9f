package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzReader feeds arbitrary bytes to the parser: it must not panic, must respect its limit, and every
// event it returns must survive a write/read round trip.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n",
		"id: 1\r\nevent: endpoint\r\ndata: /x\r\n\r\n",
		"\xEF\xBB\xBFdata: a\rdata: b\r\r",
		": c\nretry: 10\nid: x\x00y\ndata\n\n",
		"data: " + strings.Repeat("z", 80) + "\n\n",
		"event:\nid:\nretry:99999999999999999999\ndata:\n\n",
	} {
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
