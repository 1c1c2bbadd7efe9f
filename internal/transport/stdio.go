package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/session"
)

// StdioOptions configures the stdio front.
type StdioOptions struct {
	// Name is the server being wrapped (the session's endpoint).
	Name string
	// MaxMessageBytes caps one line from the client. Default 4 MiB.
	MaxMessageBytes int
	// Logger for front-level events. Default slog.Default().
	Logger *slog.Logger
}

// ServeStdio serves one client speaking MCP over stdio (newline-delimited JSON-RPC) on r/w until r ends or
// ctx is cancelled. Every message goes to one Session of b.
func ServeStdio(ctx context.Context, opts StdioOptions, b Backend, r io.Reader, w io.Writer) error {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 4 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	info := session.New(session.TransportStdio, opts.Name, "stdio", true)
	out := &stdioSink{w: w}
	sess, err := b.Open(ctx, info, out)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var inflight sync.WaitGroup
	defer func() {
		cancel()
		sess.Close()
		inflight.Wait()
	}()

	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		readErr <- jsonrpc.ReadLines(r, opts.MaxMessageBytes, func(line []byte) bool {
			select {
			case lines <- line:
				return true
			case <-ctx.Done():
				return false
			}
		}, func() {
			out.write(jsonrpc.NewErrorResponse(nil, jsonrpc.CodeInvalidRequest,
				fmt.Sprintf("message exceeds the gateway's limit of %d bytes; it was dropped", opts.MaxMessageBytes), nil))
		})
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return err
		case line := <-lines:
			if jsonrpc.IsBatch(line) {
				out.write(jsonrpc.NewErrorResponse(nil, jsonrpc.CodeInvalidRequest,
					"JSON-RPC batches are not supported (removed from MCP in 2025-06-18); send one message per line", nil))
				continue
			}
			msg, err := jsonrpc.Decode(line)
			if err != nil {
				var de *jsonrpc.DecodeError
				code, id := int64(jsonrpc.CodeParseError), jsonrpc.ID(nil)
				if errors.As(err, &de) {
					code, id = de.Code, de.ID
				}
				out.write(jsonrpc.NewErrorResponse(id, code, err.Error(), nil))
				continue
			}
			if msg.Kind == jsonrpc.KindRequest {
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					sess.Handle(ctx, msg, nil)
				}()
				continue
			}
			sess.Handle(ctx, msg, nil)
		}
	}
}

type stdioSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *stdioSink) write(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := make([]byte, 0, len(b)+1)
	buf = append(append(buf, b...), '\n')
	_, _ = s.w.Write(buf)
}

// Send implements Sink.
func (s *stdioSink) Send(_ context.Context, msg *jsonrpc.Message, _ jsonrpc.ID) error {
	// One line for any line reader: a lone CR would end the line for Python and Node servers, and the rest
	// of the message could be read as another one.
	raw := jsonrpc.OneLine(msg.Raw)
	s.write(raw)
	return nil
}

var _ Sink = (*stdioSink)(nil)
