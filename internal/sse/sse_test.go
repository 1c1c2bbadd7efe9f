package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readAll parses the whole stream and returns the events and the final error.
func readAll(t *testing.T, r *Reader) ([]Event, error) {
	t.Helper()
	var evs []Event
	for {
		ev, err := r.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func ev(id, typ, data string, retry time.Duration) Event {
	return Event{ID: id, Type: typ, Data: []byte(data), Retry: retry}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []Event
		lastID string
	}{
		{name: "empty", in: ""},
		{name: "one LF event", in: "data: {\"a\":1}\n\n", want: []Event{ev("", "message", `{"a":1}`, 0)}},
		{name: "CRLF", in: "event: message\r\nid: 7\r\ndata: x\r\n\r\n", want: []Event{ev("7", "message", "x", 0)}, lastID: "7"},
		{name: "CR only", in: "data: a\rdata: b\r\r", want: []Event{ev("", "message", "a\nb", 0)}},
		{name: "mixed line ends", in: "data: a\r\ndata: b\rdata: c\n\r\n", want: []Event{ev("", "message", "a\nb\nc", 0)}},
		{name: "multi-line data", in: "data: one\ndata:two\ndata:  three\n\n", want: []Event{ev("", "message", "one\ntwo\n three", 0)}},
		{name: "comments ignored", in: ": keep-alive\n\n:x\ndata: y\n\n", want: []Event{ev("", "message", "y", 0)}},
		{name: "BOM stripped", in: "\xEF\xBB\xBFdata: z\n\n", want: []Event{ev("", "message", "z", 0)}},
		{name: "only first BOM stripped", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: z\n\n", want: nil},
		{name: "named event", in: "event: endpoint\ndata: /msg?s=1\n\n", want: []Event{ev("", "endpoint", "/msg?s=1", 0)}},
		{name: "id carries over", in: "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
			want: []Event{ev("1", "message", "a", 0), ev("1", "message", "b", 0), ev("", "message", "c", 0)}},
		{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			want: []Event{ev("1", "message", "a", 0), ev("1", "message", "b", 0)}, lastID: "1"},
		{name: "no data line: not dispatched, id kept", in: "id: prime-0\n\n", lastID: "prime-0"},
		{name: "empty data line dispatches empty data", in: "id: prime-0\ndata:\n\n", want: []Event{ev("prime-0", "message", "", 0)}},
		{name: "data with empty line", in: "data\ndata\n\n", want: []Event{ev("", "message", "\n", 0)}},
		{name: "retry", in: "retry: 1500\ndata: a\n\nretry: 1x\ndata: b\n\n",
			want: []Event{ev("", "message", "a", 1500*time.Millisecond), ev("", "message", "b", 0)}},
		{name: "unknown field ignored", in: "foo: bar\ndata: a\n\n", want: []Event{ev("", "message", "a", 0)}},
		{name: "field without colon", in: "data\n\n", want: []Event{ev("", "message", "", 0)}},
		{name: "unterminated event discarded", in: "data: a\n\ndata: b\n", want: []Event{ev("", "message", "a", 0)}},
		{name: "unterminated line discarded", in: "data: a\n\ndata: b", want: []Event{ev("", "message", "a", 0)}},
		{name: "type resets between events", in: "event: x\ndata: a\n\ndata: b\n\n",
			want: []Event{ev("", "x", "a", 0), ev("", "message", "b", 0)}},
		{name: "type of undispatched event dropped", in: "event: x\n\ndata: b\n\n", want: []Event{ev("", "message", "b", 0)}},
		{name: "space after colon only once", in: "data:   a\n\n", want: []Event{ev("", "message", "  a", 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time, and the smallest buffer, exercise the line-end handling across refills.
			readers := []*Reader{
				NewReader(strings.NewReader(tt.in), 1024),
				NewReader(iotest.OneByteReader(strings.NewReader(tt.in)), 1024),
				NewReaderSize(strings.NewReader(tt.in), 1024, 16),
			}
			for _, r := range readers {
				got, err := readAll(t, r)
				if err != io.EOF {
					t.Fatalf("Next() error = %v, want io.EOF", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("events mismatch (-want +got):\n%s", diff)
				}
				if r.LastEventID() != tt.lastID && tt.lastID != "" {
					t.Errorf("LastEventID() = %q, want %q", r.LastEventID(), tt.lastID)
				}
			}
		})
	}
}

// TestReaderSmallBuffer: lines far longer than a small buffer are read whole, and the line buffer such a
// line needed is not kept for the rest of the stream.
func TestReaderSmallBuffer(t *testing.T) {
	long := strings.Repeat("x", 3*keepLineBytes)
	in := "id: 1\ndata: " + long + "\n\ndata: short\n\n"
	r := NewReaderSize(strings.NewReader(in), 1<<20, 64)
	got, err := r.Next()
	if err != nil || string(got.Data) != long {
		t.Fatalf("first event: %d bytes of data, err %v; want %d bytes", len(got.Data), err, len(long))
	}
	got, err = r.Next()
	if err != nil || string(got.Data) != "short" || got.ID != "1" {
		t.Fatalf("second event: %+v, err %v", got, err)
	}
	if c := cap(r.line); c > keepLineBytes {
		t.Errorf("line buffer of %d bytes kept after the long line, want at most %d", c, keepLineBytes)
	}
}

func TestReaderRetryState(t *testing.T) {
	r := NewReader(strings.NewReader("id: s-3\nretry: 0\n\n"), 0)
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next() error = %v, want io.EOF", err)
	}
	d, ok := r.Retry()
	if d != 0 || !ok {
		t.Errorf("Retry() = %v, %v; want 0, true", d, ok)
	}
	if r.LastEventID() != "s-3" {
		t.Errorf("LastEventID() = %q, want s-3", r.LastEventID())
	}
}

func TestReaderLimit(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "long line", in: "data: " + strings.Repeat("x", 100) + "\n\n"},
		{name: "many data lines", in: strings.Repeat("data: 0123456789\n", 10) + "\n"},
		{name: "long comment", in: ":" + strings.Repeat("c", 100) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in), 64)
			_, err := readAll(t, r)
			if !errors.Is(err, ErrEventTooLarge) {
				t.Fatalf("error = %v, want ErrEventTooLarge", err)
			}
			if _, err2 := r.Next(); !errors.Is(err2, ErrEventTooLarge) {
				t.Errorf("second Next() error = %v, want the sticky ErrEventTooLarge", err2)
			}
		})
	}
	// Exactly at the limit is fine.
	r := NewReader(strings.NewReader("data: "+strings.Repeat("x", 58)+"\n\n"), 64)
	if _, err := r.Next(); err != nil {
		t.Fatalf("event at the limit: %v", err)
	}
}

func TestReaderPropagatesReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom)), 0)
	evs, err := readAll(t, r)
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want %v", err, boom)
	}
	if diff := cmp.Diff([]Event{ev("", "message", "a", 0)}, evs); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteEvent(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{name: "data only", ev: Event{Data: []byte(`{"x":1}`)}, want: "data: {\"x\":1}\n\n"},
		{name: "all fields", ev: Event{ID: "s1_4", Type: "message", Data: []byte("a"), Retry: 2 * time.Second},
			want: "id: s1_4\nevent: message\nretry: 2000\ndata: a\n\n"},
		{name: "multi-line", ev: Event{Data: []byte("a\nb\r\nc\rd")}, want: "data: a\ndata: b\ndata: c\ndata: d\n\n"},
		{name: "empty data", ev: Event{ID: "p"}, want: "id: p\ndata: \n\n"},
		{name: "leading space kept", ev: Event{Data: []byte(" a")}, want: "data:  a\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteEvent(&buf, tt.ev); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("wire mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteEventRejects(t *testing.T) {
	for _, e := range []Event{{ID: "a\nb"}, {ID: "a\x00"}, {Type: "x\ry"}} {
		var buf bytes.Buffer
		if err := WriteEvent(&buf, e); err == nil {
			t.Errorf("WriteEvent(%+v) = nil error, want one", e)
		}
		if buf.Len() != 0 {
			t.Errorf("WriteEvent(%+v) wrote %q on error", e, buf.String())
		}
	}
}

func TestWriteComment(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteComment(&buf, "ping\nnow"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(": ping now\n\n", buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	r := NewReader(&buf, 0)
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("a comment parsed as %v, want io.EOF", err)
	}
}

// TestRoundTrip writes events and reads them back.
func TestRoundTrip(t *testing.T) {
	in := []Event{
		{ID: "1", Type: "message", Data: []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`)},
		{ID: "1", Type: "endpoint", Data: []byte("/messages?sessionId=abc")},
		{ID: "2", Type: "message", Data: []byte("line1\nline2\n\nline4"), Retry: 30 * time.Millisecond},
	}
	var buf bytes.Buffer
	for _, e := range in {
		if err := WriteEvent(&buf, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readAll(t, NewReader(&buf, 0))
	if err != io.EOF {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}
