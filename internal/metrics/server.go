package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"time"
)

// Server serves a registry on a listener of its own (config metrics.listen), apart from the MCP endpoints.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	path string
	done chan struct{}
}

// Listen binds addr and serves m at path (GET and HEAD) until Close, and with pprof Go's runtime profiles
// at /debug/pprof/. Any other path is a 404 naming the right one.
func Listen(addr, path string, pprof bool, m *Metrics, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: cannot listen on %s: %w (choose another address with metrics.listen)", addr, err)
	}
	mux := http.NewServeMux()
	h := m.Handler()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "metrics are read with GET", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	}
	if path != "/" {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "mcpwarden serves its metrics at "+path, http.StatusNotFound)
		})
	}
	s := &Server{ln: ln, path: path, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics: the listener stopped", "addr", s.Addr(), "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on (the port chosen when metrics.listen had port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the scrape URL, http://ADDR/PATH.
func (s *Server) URL() string { return "http://" + s.Addr() + s.path }

// Close stops the server, letting scrapes in progress finish until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
