package policy

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Holder keeps the active policy and replaces it on reload. A policy that fails to load or compile is
// rejected (the error names the file, line and rule) and the previous policy stays active.
type Holder struct {
	src  *Source
	opts Options
	cur  atomic.Pointer[Policy]

	mu        sync.Mutex // serialises reloads
	stamp     fileStamp
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// NewHolder loads the policy from src; an invalid policy is an error (the gateway must not start).
func NewHolder(src *Source, opts Options) (*Holder, error) {
	h := &Holder{src: src, opts: opts}
	if p := src.WatchPath(); p != "" {
		h.stamp = stampOf(p)
	}
	p, err := Load(src, opts)
	if err != nil {
		return nil, err
	}
	h.cur.Store(p)
	return h, nil
}

// NewStaticHolder holds an already compiled policy that never reloads (tests, embedded use).
func NewStaticHolder(p *Policy) *Holder {
	h := &Holder{src: &Source{Name: p.Source}}
	h.cur.Store(p)
	return h
}

// Policy returns the active policy.
func (h *Holder) Policy() *Policy { return h.cur.Load() }

// Reload loads the policy again. On error the active policy is unchanged and the error is returned.
func (h *Holder) Reload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.src.WatchPath() == "" {
		return nil // the shipped default cannot change
	}
	h.stamp = stampOf(h.src.WatchPath())
	p, err := Load(h.src, h.opts)
	if err != nil {
		return err
	}
	h.cur.Store(p)
	return nil
}

// Watch starts reloading the policy when its file changes (polled every interval, default 2s) and on
// SIGHUP. Outcomes are logged. Close stops it.
func (h *Holder) Watch(interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer close(h.done)
		defer signal.Stop(hup)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			why := ""
			select {
			case <-ctx.Done():
				return
			case <-hup:
				why = "SIGHUP"
			case <-t.C:
				path := h.src.WatchPath()
				if path == "" {
					continue
				}
				h.mu.Lock()
				changed := stampOf(path) != h.stamp
				h.mu.Unlock()
				if !changed {
					continue
				}
				why = "file changed"
			}
			old := h.Policy()
			if err := h.Reload(); err != nil {
				log.Error("policy reload rejected; the previous policy stays active", "trigger", why, "err", err)
				continue
			}
			if p := h.Policy(); p.Version != old.Version {
				log.Info("policy reloaded", "trigger", why, "source", p.Source, "version", p.Version, "rules", p.Rules(), "mode", p.Mode)
			}
		}
	}()
}

// Close stops Watch (if started) and waits for it.
func (h *Holder) Close() error {
	h.closeOnce.Do(func() {
		if h.cancel != nil {
			h.cancel()
			<-h.done
		}
	})
	return nil
}
