package transport

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// A session's standalone GET stream is open for as long as the session lives and is idle nearly all that
// time. Served the ordinary way, net/http keeps for it the connection's serving goroutine (parked in the
// handler), a background-read goroutine, and the connection's 4 KiB read and write buffers plus a 2 KiB
// chunking buffer. Served raw, the connection is taken over (hijacked) from net/http once the request is
// checked: events are written to it directly, chunk-encoded, and one goroutine with a one-byte buffer
// waits for the client to go away. The keep-alive comments run on a timer.
//
// Only HTTP/1.1 requests are served raw (an HTTP/2 stream cannot be taken over, and HTTP/1.0 has no
// chunked encoding); the response says "Connection: close", since a taken-over connection is not handed
// back to net/http for another request once the stream ends.

// rawResult says how serveRaw went.
type rawResult int

const (
	rawUnsupported rawResult = iota // not taken over: serve the stream the ordinary way
	rawBusy                         // the stream already has a reader (nothing was taken over)
	rawServed                       // the connection is the stream's now
)

// serveRaw attaches a taken-over connection to st (see above) and returns without waiting for the stream
// to end.
func (s *httpSession) serveRaw(st *stream, w http.ResponseWriter, r *http.Request, after int) rawResult {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 {
		return rawUnsupported
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.w != nil {
		return rawBusy
	}
	// The buffers net/http hands over with the connection are dropped: a GET has no body, and a client
	// does not send its next request before this response has ended (which it never does by itself).
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return rawUnsupported // e.g. a wrapper of the ResponseWriter that cannot unwrap to the connection
	}
	rw := &rawWriter{conn: conn, header: w.Header().Clone()}

	stopPing := every(s.front.opts.KeepAlive, func() {
		s.touch()
		st.ping()
	})
	var once sync.Once
	// release detaches rw from st (st.mu held) and ends the connection: graceful writes the end of the
	// stream first.
	release := func(graceful bool) {
		if st.w == rw {
			st.w = nil
			st.onFinish = nil
		}
		once.Do(func() {
			stopPing()
			if graceful {
				go rw.end()
			} else {
				rw.close()
			}
		})
	}
	st.attachSSELocked(rw, after)
	if st.finished {
		release(true)
		return rawServed
	}
	// The session ending finishes its streams (one created after that is born finished), as does Drain.
	st.onFinish = func() { release(true) }
	go func() {
		var b [1]byte
		_, _ = conn.Read(b[:]) // the client closed the connection, or sent something it should not have
		st.mu.Lock()
		defer st.mu.Unlock()
		release(false)
	}()
	return rawServed
}

// rawWriter is the http.ResponseWriter of a taken-over connection: each Write is one chunk, written at once
// (Flush has nothing to do). It is used under the stream's lock, like any stream writer.
type rawWriter struct {
	conn        net.Conn
	header      http.Header
	wroteHeader bool
	closeOnce   sync.Once
}

// Header returns the headers to send; once they are sent, changing them has no effect (as with net/http).
func (rw *rawWriter) Header() http.Header {
	if rw.header == nil {
		return http.Header{}
	}
	return rw.header
}

// WriteHeader writes the status line and the headers, with the chunked encoding and "Connection: close".
func (rw *rawWriter) WriteHeader(code int) {
	if rw.wroteHeader {
		return
	}
	rw.wroteHeader = true
	h := rw.header
	h.Del("Content-Length")
	h.Set("Transfer-Encoding", "chunked")
	h.Set("Connection", "close")
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	var buf bytes.Buffer
	buf.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	_ = h.Write(&buf)
	buf.WriteString("\r\n")
	_ = rw.conn.SetWriteDeadline(time.Now().Add(rawWriteTimeout))
	if _, err := rw.conn.Write(buf.Bytes()); err != nil {
		rw.close()
	}
	rw.header = nil // sent: not kept for the life of the stream
}

// Write sends p as one chunk.
func (rw *rawWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil // an empty chunk would end the stream
	}
	b := make([]byte, 0, len(p)+16)
	b = strconv.AppendInt(b, int64(len(p)), 16)
	b = append(b, "\r\n"...)
	b = append(b, p...)
	b = append(b, "\r\n"...)
	_ = rw.conn.SetWriteDeadline(time.Now().Add(rawWriteTimeout))
	if _, err := rw.conn.Write(b); err != nil {
		// A client that stopped reading (or a dead connection) must not hold the stream's lock: the
		// connection is dropped, its watcher detaches it, and the client resumes with Last-Event-ID.
		rw.close()
		return 0, err
	}
	return len(p), nil
}

// rawWriteTimeout bounds one write to a client that does not read its stream.
var rawWriteTimeout = 30 * time.Second // a variable for tests

// Flush implements http.Flusher: writes are not buffered.
func (rw *rawWriter) Flush() {}

// rawEndTimeout bounds writing the end of a stream to a client that does not read.
const rawEndTimeout = 5 * time.Second

// end writes the last chunk, so the client sees the stream end cleanly, and closes the connection.
func (rw *rawWriter) end() {
	if rw.wroteHeader {
		_ = rw.conn.SetWriteDeadline(time.Now().Add(rawEndTimeout))
		_, _ = rw.conn.Write([]byte("0\r\n\r\n"))
	}
	rw.close()
}

func (rw *rawWriter) close() { rw.closeOnce.Do(func() { _ = rw.conn.Close() }) }

var (
	_ http.ResponseWriter = (*rawWriter)(nil)
	_ http.Flusher        = (*rawWriter)(nil)
)
