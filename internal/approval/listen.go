package approval

import (
	"context"
	"log/slog"
	"sync"

	"github.com/mcpwarden/mcpwarden/internal/store"
)

// notifyChannel is the PostgreSQL NOTIFY channel on which decisions are announced (payload: the approval id).
const notifyChannel = "mcpwarden_approvals"

// listener wakes parked calls as soon as a decision is committed in PostgreSQL (LISTEN/NOTIFY), so they do
// not wait for the next poll. Polling stays on as the fallback: a lost connection only costs latency.
type listener struct {
	mu   sync.Mutex
	wake chan struct{} // closed and replaced on every notification

	cancel context.CancelFunc
	done   chan struct{}
}

// startListener starts the listener goroutine on a PostgreSQL store (nil on SQLite). Stop it with stop.
func startListener(db *store.DB, log *slog.Logger) *listener {
	if db.Dialect != store.Postgres {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{wake: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		_ = db.Listen(ctx, notifyChannel,
			l.broadcast, // decisions made while no connection listened
			func(string) { l.broadcast() },
			func(err error) {
				log.Debug("approval: LISTEN connection lost; parked calls poll until it is back", "err", err)
			})
	}()
	return l
}

func (l *listener) broadcast() {
	l.mu.Lock()
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
}

// changed returns a channel closed at the next notification (nil listener: never).
func (l *listener) changed() <-chan struct{} {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wake
}

func (l *listener) stop() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
}
