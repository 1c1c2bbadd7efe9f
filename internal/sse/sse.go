// Package sse reads and writes the text/event-stream wire format (Server-Sent Events) as the WHATWG HTML
// standard defines it (§9.2 "Server-sent events", "Parsing an event stream").
//
// The Reader is a streaming parser for untrusted input: it accepts CRLF, CR and LF line ends, strips a
// leading byte-order mark, ignores comments and unknown fields, joins multi-line data with "\n", keeps the
// last event id across events as the standard requires, and bounds the memory one event may use. The
// writer, WriteEvent, produces events any conforming parser (this one included) reads back unchanged,
// except that line ends inside Data come back as "\n".
//
// The package has no dependencies outside the standard library so both the gateway's HTTP front and its
// HTTP upstreams can use it.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Event is one dispatched server-sent event.
type Event struct {
	// ID is the stream's last event id when the event was dispatched: the value of the most recent "id"
	// field, which per the standard carries over to later events that have no "id" field of their own.
	// Empty when the stream has set none (or reset it with an empty "id" field).
	ID string
	// Type is the "event" field; Reader.Next reports "message" when the event had none. WriteEvent omits
	// the field when Type is empty.
	Type string
	// Data is the event's data: the "data" lines joined with "\n".
	Data []byte
	// Retry is the reconnection time given by a "retry" field in this event, 0 when there was none.
	Retry time.Duration
}

// ErrEventTooLarge is returned by Reader.Next when a line or an event's data exceeds the Reader's limit.
var ErrEventTooLarge = errors.New("sse: event exceeds the size limit")

// ErrNeedInput is returned by Reader.NextBuffered when what the Reader has buffered holds no further event.
// It does not end the Reader.
var ErrNeedInput = errors.New("sse: no complete event buffered")

// DefaultMaxEventBytes is the limit NewReader uses when given a limit <= 0.
const DefaultMaxEventBytes = 16 << 20

// Reader parses an event stream. It is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader // nil while released by NextBuffered; buffer makes a new one
	src  *source
	size int
	max  int

	started bool // BOM check done
	skipLF  bool // the previous line ended in CR: a following LF belongs to it
	line    []byte

	data      []byte
	hasData   bool
	eventType string
	lastID    string
	retry     time.Duration // retry field of the event being built
	lastRetry time.Duration // most recent retry field seen on the stream
	retrySet  bool          // a retry field has been seen

	err error // sticky
}

// NewReader returns a Reader over r. maxEventBytes bounds both one line and the data of one event; a value
// <= 0 means DefaultMaxEventBytes.
func NewReader(r io.Reader, maxEventBytes int) *Reader {
	return NewReaderSize(r, maxEventBytes, DefaultBufferSize)
}

// DefaultBufferSize is the read buffer NewReader uses.
const DefaultBufferSize = 4 << 10

// NewReaderSize is NewReader with a read buffer of bufSize bytes (at least 16; <= 0 means DefaultBufferSize).
// Lines longer than the buffer are read whole all the same, so a small buffer suits a stream that is mostly
// idle and held open for long, such as an MCP session's standalone GET stream.
func NewReaderSize(r io.Reader, maxEventBytes, bufSize int) *Reader {
	if maxEventBytes <= 0 {
		maxEventBytes = DefaultMaxEventBytes
	}
	if bufSize <= 0 {
		bufSize = DefaultBufferSize
	}
	src := &source{r: r}
	return &Reader{br: bufio.NewReaderSize(src, bufSize), src: src, size: bufSize, max: maxEventBytes} // lines longer than the buffer are accumulated
}

// source is the underlying reader, remembering whether it has returned an error (which the buffered reader
// may hold, unreported, while its buffer is empty: such a buffer is not released).
type source struct {
	r      io.Reader
	failed bool
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil {
		s.failed = true
	}
	return n, err
}

// buffer returns the read buffer, making a new one after NextBuffered released it.
func (r *Reader) buffer() *bufio.Reader {
	if r.br == nil {
		r.br = bufio.NewReaderSize(r.src, r.size)
	}
	return r.br
}

// keepLineBytes bounds the line buffer a Reader keeps between lines: after a longer line it is let go, so
// one large event does not stay allocated for the life of a long-lived stream.
const keepLineBytes = 4 << 10

// LastEventID returns the stream's last event id buffer: what a client sends as Last-Event-ID to resume.
// It is updated by events that carry no data too (such as the priming event a 2025-11-25 MCP server sends
// first), which Next does not return.
func (r *Reader) LastEventID() string { return r.lastID }

// Retry returns the most recent reconnection time the stream asked for with a "retry" field, and whether
// it asked at all.
func (r *Reader) Retry() (time.Duration, bool) { return r.lastRetry, r.retrySet }

// Next returns the next event. Events with an empty "data:" line are returned with empty Data; a block
// with no "data" field at all is not an event, but its "id" and "retry" fields still take effect. At the end of the stream it returns io.EOF; an event that was not
// terminated by a blank line is discarded, as the standard requires. Any other error (from the underlying
// reader, or ErrEventTooLarge) ends the Reader: later calls return the same error.
func (r *Reader) Next() (Event, error) { return r.next(false) }

// NextBuffered is Next, except that it does not read from the underlying reader at the start of a line
// when nothing is buffered: it returns ErrNeedInput instead, keeping what it has parsed of the event being
// built, and a later call carries on from there (typically after Fill). A line already begun is read to its
// end. This lets a reader of a long-lived, mostly idle stream wait for input in its own way; meanwhile the
// Reader holds no read buffer (Fill makes a new one).
func (r *Reader) NextBuffered() (Event, error) { return r.next(true) }

// Fill reads from the underlying reader into the Reader's buffer, blocking until it has at least one byte.
// An error (io.EOF at the end of the stream) ends the Reader, as it would in Next.
func (r *Reader) Fill() error {
	if r.err != nil {
		return r.err
	}
	if _, err := r.buffer().Peek(1); err != nil {
		r.err = err
		return err
	}
	return nil
}

func (r *Reader) next(onlyBuffered bool) (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	for {
		line, err := r.readLine(onlyBuffered)
		if err == ErrNeedInput {
			// A stream waiting for input keeps no buffers: the read buffer is empty, and the underlying
			// reader has not failed (else the buffered reader may hold its error).
			r.line = nil
			if !r.src.failed {
				r.br = nil
			}
			return Event{}, err
		}
		if err != nil {
			r.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := r.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		var field, value []byte
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		} else {
			field = line
		}
		switch string(field) {
		case "event":
			r.eventType = string(value)
		case "data":
			if len(r.data)+len(value)+1 > r.max {
				r.err = ErrEventTooLarge
				return Event{}, r.err
			}
			r.data = append(r.data, value...)
			r.data = append(r.data, '\n')
			r.hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		case "retry":
			if ms, ok := parseDigits(value); ok {
				r.retry = time.Duration(ms) * time.Millisecond
				r.lastRetry, r.retrySet = r.retry, true
			}
		}
	}
}

// dispatch ends the event being built. It reports false when the event has no data, which the standard
// says is not dispatched.
func (r *Reader) dispatch() (Event, bool) {
	retry := r.retry
	r.retry = 0
	if !r.hasData {
		r.eventType = ""
		return Event{}, false
	}
	data := r.data[:len(r.data)-1] // drop the final "\n"
	typ := r.eventType
	if typ == "" {
		typ = "message"
	}
	r.data, r.hasData, r.eventType = nil, false, ""
	return Event{ID: r.lastID, Type: typ, Data: data, Retry: retry}, true
}

// readLine returns the next line without its line end. The returned slice is valid until the next call.
// With onlyBuffered it returns ErrNeedInput rather than read when nothing is buffered before the line.
func (r *Reader) readLine(onlyBuffered bool) ([]byte, error) {
	if onlyBuffered && (r.br == nil || r.br.Buffered() == 0) {
		return nil, ErrNeedInput
	}
	r.buffer()
	if cap(r.line) > keepLineBytes {
		r.line = nil
	}
	r.line = r.line[:0]
	if !r.started {
		r.started = true
		if b, err := r.br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
			_, _ = r.br.Discard(3)
		}
	}
	if r.skipLF {
		r.skipLF = false
		b, err := r.br.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] == '\n' {
			_, _ = r.br.Discard(1)
		}
	}
	if onlyBuffered && r.br.Buffered() == 0 { // a CRLF's LF was all there was
		return nil, ErrNeedInput
	}
	for {
		if _, err := r.br.Peek(1); err != nil {
			// A line without a line end at the end of the stream is discarded.
			return nil, err
		}
		chunk, _ := r.br.Peek(r.br.Buffered())
		i := bytes.IndexAny(chunk, "\r\n")
		n := len(chunk)
		if i >= 0 {
			n = i
		}
		if len(r.line)+n > r.max {
			return nil, ErrEventTooLarge
		}
		r.line = append(r.line, chunk[:n]...)
		if i < 0 {
			_, _ = r.br.Discard(n)
			continue
		}
		r.skipLF = chunk[i] == '\r'
		_, _ = r.br.Discard(i + 1)
		return r.line, nil
	}
}

func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n > int64(time.Duration(1<<62)/time.Millisecond) {
		return 0, false
	}
	return n, true
}

// WriteEvent writes ev in one Write call. Data is split into one "data:" line per line (CRLF, CR and LF all
// end a line); an event with empty Data is written with one empty "data:" line, so a parser dispatches it
// with empty Data (MCP servers send such an event to prime a stream with an id; receivers skip it). It returns an error, writing nothing, when ID or Type contains a line
// end or ID contains NUL, since neither could be read back.
func WriteEvent(w io.Writer, ev Event) error {
	if bytes.ContainsAny([]byte(ev.ID), "\r\n\x00") {
		return fmt.Errorf("sse: event id %q contains a line end or NUL; use an id without them", ev.ID)
	}
	if bytes.ContainsAny([]byte(ev.Type), "\r\n") {
		return fmt.Errorf("sse: event type %q contains a line end; use a type without them", ev.Type)
	}
	var buf bytes.Buffer
	buf.Grow(len(ev.Data) + len(ev.ID) + len(ev.Type) + 32)
	if ev.ID != "" {
		buf.WriteString("id: ")
		buf.WriteString(ev.ID)
		buf.WriteByte('\n')
	}
	if ev.Type != "" {
		buf.WriteString("event: ")
		buf.WriteString(ev.Type)
		buf.WriteByte('\n')
	}
	if ev.Retry > 0 {
		buf.WriteString("retry: ")
		buf.WriteString(strconv.FormatInt(ev.Retry.Milliseconds(), 10))
		buf.WriteByte('\n')
	}
	data := ev.Data
	for {
		i := bytes.IndexAny(data, "\r\n")
		buf.WriteString("data: ")
		if i < 0 {
			buf.Write(data)
			buf.WriteByte('\n')
			break
		}
		buf.Write(data[:i])
		buf.WriteByte('\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteComment writes a comment line (": text") followed by a blank line, e.g. as a keep-alive. Line ends
// in text are replaced by spaces.
func WriteComment(w io.Writer, text string) error {
	b := []byte(": " + text)
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	b = append(b, '\n', '\n')
	_, err := w.Write(b)
	return err
}
