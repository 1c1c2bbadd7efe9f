package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
	"github.com/mcpwarden/mcpwarden/internal/upstream/sandbox"
)

// StdioOptions configures a stdio upstream.
type StdioOptions struct {
	// Name is the configured server name (used in logs and errors).
	Name string
	// Command is the argv; Command[0] is looked up in PATH.
	Command []string
	// Env is added to the gateway's environment for the child.
	Env map[string]string
	// Dir is the working directory ("" = the gateway's).
	Dir string
	// MaxMessageBytes caps one line of output; longer lines are dropped with an error log. Default 16 MiB.
	MaxMessageBytes int
	// TerminateGrace is how long Close waits after closing stdin before signalling. Default 2s.
	TerminateGrace time.Duration
	// Logger receives the child's stderr lines and lifecycle events. Default slog.Default().
	Logger *slog.Logger
	// Sandbox confines the child (scrubbed environment, rlimits, no_new_privs, optional network
	// namespace and Landlock rules; see package sandbox). Nil: no confinement — the child gets the
	// gateway's whole environment plus Env, as before.
	Sandbox *sandbox.Profile
	// PinSHA256, when not empty, is the hex SHA-256 the program (Command[0] as resolved in PATH) must have
	// (servers[].pin.sha256). It is checked before every start, restarts included: a program replaced
	// while the gateway runs is refused at its next start.
	PinSHA256 string
	// UserEnv, when set, returns variables for the child from the context of the request that starts it
	// (the caller's own credential, for a per-user process); they are added to Env. An error refuses the
	// start. Values never appear in logs (only names).
	UserEnv func(ctx context.Context) (map[string]string, error)
}

// Stdio starts stdio MCP servers as child processes.
type Stdio struct {
	opts StdioOptions
}

// NewStdio returns a launcher for the configured command. It starts nothing.
func NewStdio(opts StdioOptions) *Stdio {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 16 << 20
	}
	if opts.TerminateGrace <= 0 {
		opts.TerminateGrace = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Stdio{opts: opts}
}

// Open starts a new child process and returns its Conn. ctx bounds only the start, not the process lifetime.
func (s *Stdio) Open(ctx context.Context) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := s.opts
	if len(o.Command) == 0 || o.Command[0] == "" {
		return nil, &Error{Server: o.Name, Op: "start", Err: errors.New("no command configured")}
	}
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Dir = o.Dir
	// Own process group, so that Close reaches grandchildren too (npx → node, uvx → python).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	program := cmd.Path // resolved in PATH; behind the shim once sandboxed
	if o.PinSHA256 != "" {
		// Hashed just before the start: a file swapped in the moment between hash and exec is not caught
		// (whoever can write the program's file can also replace it after a start).
		if err := checkProgramPin(o.Name, program, o.PinSHA256); err != nil {
			o.Logger.Error("upstream program does not match its pin; not started", "server", o.Name, "program", program, "err", err)
			if pe, ok := err.(*PinMismatchError); ok {
				err = refusedStart{pe}
			}
			return nil, &Error{Server: o.Name, Op: "start", Err: err}
		}
	}
	if o.UserEnv != nil {
		extra, err := o.UserEnv(ctx)
		if err != nil {
			return nil, &Error{Server: o.Name, Op: "start", Err: err}
		}
		if len(extra) > 0 {
			env := make(map[string]string, len(o.Env)+len(extra))
			for k, v := range o.Env {
				env[k] = v
			}
			for k, v := range extra {
				env[k] = v
			}
			o.Env = env
		}
	}
	profile, envLog := "none (gateway environment inherited)", []string(nil)
	if o.Sandbox != nil {
		applied, err := o.Sandbox.Prepare(cmd, o.Env)
		if err != nil {
			return nil, &Error{Server: o.Name, Op: "start", Err: err}
		}
		for _, w := range applied.Warnings {
			o.Logger.Warn("upstream sandbox degraded", "server", o.Name, "warning", w)
		}
		profile, envLog = applied.Profile, envNames(cmd.Env)
	} else {
		cmd.Env = os.Environ()
		for k, v := range o.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, &Error{Server: o.Name, Op: "start", Err: err}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, &Error{Server: o.Name, Op: "start", Err: err}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, &Error{Server: o.Name, Op: "start", Err: err}
	}
	if err := cmd.Start(); err != nil {
		return nil, &Error{Server: o.Name, Op: "start", Err: fmt.Errorf("%w (check the command %q exists and is executable)", err, o.Command[0])}
	}
	log := o.Logger.With("server", o.Name, "pid", cmd.Process.Pid)
	log.Info("upstream started", "command", o.Command, "program", program, "dir", o.Dir,
		"sandbox", profile, "env_names", envLog)
	c := &stdioConn{
		name:   o.Name,
		cmd:    cmd,
		stdin:  stdin,
		grace:  o.TerminateGrace,
		log:    log,
		in:     make(chan Frame, 64),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); c.readStdout(stdout, o.MaxMessageBytes) }()
	go func() { defer readers.Done(); c.readStderr(stderr) }()
	go func() {
		readers.Wait() // Wait must follow the pipe reads (os/exec contract).
		err := cmd.Wait()
		if err == nil {
			err = errors.New("process exited")
		} else {
			err = fmt.Errorf("process exited: %w", err)
		}
		c.setErr(err)
		log.Info("upstream exited", "err", err)
		close(c.exited)
	}()
	return c, nil
}

type stdioConn struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	grace time.Duration
	log   *slog.Logger

	wmu sync.Mutex // serialises writes to stdin

	in     chan Frame
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when the process has been reaped

	mu        sync.Mutex
	err       error // why the conn ended
	closeOnce sync.Once
}

func (c *stdioConn) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *stdioConn) endErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return ErrClosed
	}
	return c.err
}

func (c *stdioConn) readStdout(r io.Reader, max int) {
	defer close(c.in)
	err := jsonrpc.ReadLines(r, max, func(line []byte) bool {
		msg, derr := jsonrpc.Decode(line)
		if derr != nil {
			c.log.Warn("upstream wrote a line that is not a JSON-RPC message; ignored (stdio servers must log to stderr)",
				"err", derr, "line", truncate(line, 200))
			return true
		}
		select {
		case c.in <- Frame{Msg: msg}:
			return true
		case <-c.done:
			return false
		}
	}, func() {
		c.log.Error("upstream wrote a message over the size limit; dropped it", "limit_bytes", max)
	})
	if err != nil {
		c.setErr(fmt.Errorf("reading stdout: %w", err))
	}
}

func (c *stdioConn) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		c.log.Info("upstream stderr", "line", sc.Text())
	}
	// Drain anything past an over-long line so the child never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// envNames lists the child's variable names (never values: they may be secrets).
func envNames(env []string) []string {
	names := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	return names
}

func truncate(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Send writes one message as one line.
func (c *stdioConn) Send(ctx context.Context, f Frame) error {
	select {
	case <-c.done:
		return ErrClosed
	case <-c.exited:
		return &Error{Server: c.name, Op: "send", Err: c.endErr()}
	default:
	}
	// One line for any line reader: a lone CR would end the line for Python and Node servers, and the rest
	// of the message could be read as another one.
	raw := jsonrpc.OneLine(f.Msg.Raw)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := make([]byte, 0, len(raw)+1)
	buf = append(append(buf, raw...), '\n')
	if _, err := c.stdin.Write(buf); err != nil {
		return &Error{Server: c.name, Op: "send", Err: err}
	}
	return nil
}

// Recv returns the next message from the child's stdout.
func (c *stdioConn) Recv(ctx context.Context) (Frame, error) {
	select {
	case f, ok := <-c.in:
		if !ok {
			<-c.exited // the exit status explains the EOF
			return Frame{}, &Error{Server: c.name, Op: "recv", Err: c.endErr()}
		}
		return f, nil
	case <-c.done:
		return Frame{}, ErrClosed
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Close closes stdin, waits up to the grace period, then terminates the process group (SIGTERM, then SIGKILL).
func (c *stdioConn) Close() error {
	c.closeOnce.Do(func() {
		c.setErr(ErrClosed)
		close(c.done)
		c.wmu.Lock()
		_ = c.stdin.Close()
		c.wmu.Unlock()
		pgid := -c.cmd.Process.Pid
		select {
		case <-c.exited:
		case <-time.After(c.grace):
			_ = syscall.Kill(pgid, syscall.SIGTERM)
			select {
			case <-c.exited:
			case <-time.After(c.grace):
				_ = syscall.Kill(pgid, syscall.SIGKILL)
				<-c.exited
			}
		}
		// Reap stragglers in the group (e.g. a grandchild that ignored stdin EOF).
		_ = syscall.Kill(pgid, syscall.SIGKILL)
	})
	return nil
}

// Pid returns the child's process id (for tests and logs).
func (c *stdioConn) Pid() int { return c.cmd.Process.Pid }

var _ Conn = (*stdioConn)(nil)
