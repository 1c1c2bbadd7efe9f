//go:build !linux

package upstream

// poller is Linux's (epoll); elsewhere an idle stream waits in a goroutine of its own.
type poller struct{}

func idlePoller() *poller                     { return nil }
func (p *poller) newID() uint64               { return 0 }
func (p *poller) add(uint64, func())          {}
func (p *poller) forget(uint64)               {}
func (p *poller) arm(int, uint64, bool) error { return nil }
