// Package transport is stage ① of the data path on the client side: it turns what an MCP client sends into
// decoded messages for the gateway and carries the gateway's messages back, over Streamable HTTP (both protocol
// eras) or stdio (the `wrap` front).
//
// The contract with the rest of the gateway is small: a Backend opens a Session per client session (one per
// 2026-era request, which has no session), the front calls Session.Handle for every client message, and the
// gateway answers through the Sink it was given. The front owns HTTP concerns only — Origin/Host checks, size
// limits, session ids, which stream a message goes out on, event ids and resumption, 2026 header/body
// agreement — and never interprets MCP semantics beyond the envelope.
package transport

import (
	"context"
	"net/http"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
)

// Backend serves one endpoint (/mcp/{name} or /mcp).
type Backend interface {
	// Open starts serving a client session. sink delivers messages to that client. ctx carries request-scoped
	// values (the HTTP request of the initialize call); it is not the session's lifetime.
	Open(ctx context.Context, info *session.Info, sink Sink) (Session, error)
}

// Session handles the messages of one client session.
type Session interface {
	// Handle processes one client message. For a request it returns once the response has been passed to the
	// Sink (or ctx ended); for notifications and responses it returns once the message was forwarded. Handle
	// is called concurrently for concurrent requests. header holds the HTTP headers that must travel with the
	// message (2026 Mcp-Param-*), or nil.
	Handle(ctx context.Context, msg *jsonrpc.Message, header http.Header)
	// Close ends the session and releases what it holds (upstream processes, upstream sessions).
	Close()
}

// Sink carries gateway→client messages for one session.
type Sink interface {
	// Send delivers msg to the client. related, when set, is the id of the client request this message
	// belongs to (progress, a server→client request made while serving it, or its response) so that HTTP can
	// put it on that request's stream.
	Send(ctx context.Context, msg *jsonrpc.Message, related jsonrpc.ID) error
}
