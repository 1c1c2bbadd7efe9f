// Package upstream is stage ⑥ of the data path: connections from the gateway to the real MCP servers.
//
// Every kind of upstream (a stdio child process, a Streamable HTTP server of either protocol era, a legacy
// HTTP+SSE server) is reached through a Conn: a bidirectional stream of JSON-RPC messages for one upstream
// session. Messages are forwarded as the bytes they arrived as (jsonrpc.Message.Raw); a Conn never re-encodes
// a message it was given.
package upstream

import (
	"context"
	"errors"
	"net/http"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
)

// Frame is one message crossing a Conn, with the transport facts the other side may need.
type Frame struct {
	// Msg is the message; Msg.Raw is what goes on the wire.
	Msg *jsonrpc.Message
	// Header carries HTTP headers that travel with a client→server message and must reach an HTTP
	// upstream unchanged (the 2026-07-28 era's Mcp-Param-* headers). Nil for most messages; ignored by
	// non-HTTP upstreams.
	Header http.Header
	// Related is set on server→client frames that arrived on the response stream of a client request: the
	// id of that request. A front that keeps one stream per request uses it to deliver progress,
	// server→client requests and the response on the same stream. Nil when unknown (stdio, GET stream).
	Related jsonrpc.ID
}

// Conn is one session with an upstream server.
//
// Send and Recv may be called concurrently with each other and with Close; Send may be called from several
// goroutines. Close unblocks a pending Recv, which then returns ErrClosed (or the error that ended the
// session, wrapped).
type Conn interface {
	// Send delivers one client→server message.
	Send(ctx context.Context, f Frame) error
	// Recv returns the next server→client message.
	Recv(ctx context.Context) (Frame, error)
	// Close ends the session (for HTTP upstreams of the 2025 era this sends DELETE).
	Close() error
}

// Dispatcher is implemented by Conns that can hand every server→client frame straight to the receiver, on
// the Conn's own goroutine that read it, instead of through Recv: the receiver then needs no goroutine of its
// own waiting in Recv. Only Conns that end only when closed implement it (Recv would never report anything but
// ErrClosed).
//
// Frames of one stream (a request's response stream, the standalone stream) reach f in order, one at a time;
// frames of different streams may reach it concurrently. f may block (the stream it came from waits), but
// must not call the Conn's Close, which waits for f to return. After Close, f is not called any more.
type Dispatcher interface {
	// Dispatch makes the Conn call f with every server→client frame. Call it once, before the first Send,
	// and then do not call Recv.
	Dispatch(f func(Frame))
}

// ErrClosed is returned by Recv and Send after Close.
var ErrClosed = errors.New("upstream connection closed")

// Error is returned (wrapped) when an upstream fails in a way the gateway reports to the client.
type Error struct {
	Server string // configured server name
	Op     string // what the gateway was doing ("start", "send", "recv", "initialize")
	Err    error
}

func (e *Error) Error() string {
	return "upstream " + quote(e.Server) + ": " + e.Op + ": " + e.Err.Error()
}
func (e *Error) Unwrap() error { return e.Err }

func quote(s string) string { return "\"" + s + "\"" }
