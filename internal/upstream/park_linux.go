package upstream

import (
	"sync"

	"golang.org/x/sys/unix"
)

// poller waits, in one goroutine for the whole process, for the connections of idle event streams to be
// readable (epoll, one-shot: a connection is armed again each time its stream goes idle), and runs the
// wake function each was parked with. A parked stream thus has no goroutine at all.
type poller struct {
	epfd int

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]func() // by the id its connection was armed with
	broken  bool              // epoll failed: nothing is parked any more
}

var (
	pollerOnce sync.Once
	thePoller  *poller
)

// idlePoller returns the process's poller, started on first use; nil when epoll is not available.
func idlePoller() *poller {
	pollerOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		thePoller = &poller{epfd: fd, waiting: map[uint64]func(){}}
		go thePoller.loop()
	})
	return thePoller
}

// newID returns an id to arm a connection with.
func (p *poller) newID() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	return p.next
}

// add registers wake under id.
func (p *poller) add(id uint64, wake func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.broken {
		p.waiting[id] = wake
	}
}

func (p *poller) forget(id uint64) {
	p.mu.Lock()
	delete(p.waiting, id)
	p.mu.Unlock()
}

// arm waits (once) for descriptor fd to be readable, reporting it under id. first: fd is not in the set
// yet. A closed descriptor leaves the set by itself, so a stream's connection is never removed.
func (p *poller) arm(fd int, id uint64, first bool) error {
	p.mu.Lock()
	broken := p.broken
	p.mu.Unlock()
	if broken {
		return unix.EBADF
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	op := unix.EPOLL_CTL_MOD
	if first {
		op = unix.EPOLL_CTL_ADD
	}
	err := unix.EpollCtl(p.epfd, op, fd, &ev)
	if err == unix.EEXIST {
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
	return err
}

func (p *poller) loop() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // not expected; wake everyone, so no stream is left waiting, and park no more
			p.mu.Lock()
			p.broken = true
			wake := make([]func(), 0, len(p.waiting))
			for _, w := range p.waiting {
				wake = append(wake, w)
			}
			p.mu.Unlock()
			for _, w := range wake {
				w()
			}
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			w := p.waiting[id]
			p.mu.Unlock()
			if w != nil {
				w()
			}
		}
	}
}
