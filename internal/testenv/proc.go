package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timeouts for child processes.
const (
	// PortWait is how long WaitForPort waits for a child to accept connections.
	PortWait = 30 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// maxOutput caps the captured output per process; later output is dropped with a marker.
	maxOutput = 4 << 20
)

// Proc is a child process started by StartProcess. Its stdout and stderr are captured together; the
// process (and its process group) is stopped when the test ends, and its output is logged if the test
// failed.
type Proc struct {
	Argv []string

	cmd  *exec.Cmd
	out  *capBuffer
	done chan struct{} // closed when Wait returned; the goroutine in StartProcess owns it

	mu       sync.Mutex
	waitErr  error
	signaled bool
}

// StartProcess starts argv with the test's environment plus env ("NAME=value" entries, later ones win).
// It fails the test if the process cannot start. Cleanup stops it (SIGTERM to its process group, SIGKILL
// after 5s) and, if the test failed, logs everything it printed.
func StartProcess(t testing.TB, argv []string, env []string) *Proc {
	t.Helper()
	if len(argv) == 0 {
		t.Fatalf("testenv: StartProcess needs a command; argv is empty")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out := &capBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %q: %v", argv, err)
	}
	p := &Proc{Argv: argv, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		err := p.Stop()
		if t.Failed() {
			t.Logf("testenv: output of %s (stop: %v):\n%s", p, err, p.Output())
		}
	})
	return p
}

// String names the process for messages.
func (p *Proc) String() string {
	return fmt.Sprintf("pid %d %q", p.cmd.Process.Pid, strings.Join(p.Argv, " "))
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output returns what the process printed so far (stdout and stderr interleaved).
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process and waits for it: SIGTERM to its process group, SIGKILL after a grace period.
// It returns nil if the process exited cleanly or from Stop's signal, and the exit error otherwise.
// Safe to call more than once.
func (p *Proc) Stop() error {
	if !p.Exited() {
		p.mu.Lock()
		p.signaled = true
		p.mu.Unlock()
		terminate(p.cmd)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			kill(p.cmd)
			<-p.done
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ee *exec.ExitError
	if p.signaled && errors.As(p.waitErr, &ee) && !ee.Exited() {
		return nil // ended by our signal
	}
	return p.waitErr
}

// WaitForPort waits until addr ("host:port") accepts TCP connections. It fails the test, with the
// process output, if the process exits first or PortWait passes. Call it from the test goroutine.
func (p *Proc) WaitForPort(t testing.TB, addr string) {
	t.Helper()
	if err := p.waitForPort(addr, PortWait); err != nil {
		t.Fatalf("testenv: %v\noutput of %s:\n%s", err, p, p.Output())
	}
}

func (p *Proc) waitForPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// A dial to a loopback port nobody listens on can connect to itself when the kernel picks the
			// same port as its source (TCP simultaneous open): that is not the server, and while it lasts
			// it holds the port the server is about to bind.
			self := c.LocalAddr().String() == c.RemoteAddr().String()
			c.Close()
			if !self {
				return nil
			}
			err = errors.New("the dial connected to itself: nothing listens yet")
		}
		if p.Exited() {
			return fmt.Errorf("process exited (%v) before listening on %s", p.exitErr(), addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v (last dial: %v)", addr, timeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return errors.New("exit status 0")
	}
	return p.waitErr
}

// capBuffer is a goroutine-safe buffer that keeps the first maxOutput bytes.
type capBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - b.buf.Len(); room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.truncated = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "\n[testenv: output truncated]"
	}
	return b.buf.String()
}
