package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// ProcCPU is a process's CPU time so far.
type ProcCPU struct {
	User, System time.Duration
}

// ReadProcCPU samples /proc/PID/stat (Linux only).
func ReadProcCPU(pid int) (ProcCPU, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcCPU{}, fmt.Errorf("reading the CPU time of pid %d: %w (needs Linux /proc and a running process)", pid, err)
	}
	c, err := ParseProcStat(data)
	if err != nil {
		return ProcCPU{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return c, nil
}

// ParseProcStat reads utime and stime (fields 14 and 15) from the text of /proc/PID/stat. The command name
// (field 2) is in parentheses and may itself hold spaces and parentheses: fields are counted after its last
// closing parenthesis.
func ParseProcStat(data []byte) (ProcCPU, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ProcCPU{}, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return ProcCPU{}, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks [2]int64
	for k, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return ProcCPU{}, fmt.Errorf("/proc stat: CPU time %q is not a number of clock ticks", s)
		}
		ticks[k] = n
	}
	tick := time.Second / clockTicks
	return ProcCPU{User: time.Duration(ticks[0]) * tick, System: time.Duration(ticks[1]) * tick}, nil
}

// ProcStatus is what loadgen reads from /proc/PID/status.
type ProcStatus struct {
	RSSBytes int64 `json:"rss_bytes"` // VmRSS
	Threads  int   `json:"threads"`   // OS threads (not goroutines)
}

// ReadProcStatus samples /proc/PID/status (Linux only).
func ReadProcStatus(pid int) (ProcStatus, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStatus{}, fmt.Errorf("reading the memory of pid %d: %w (RSS sampling needs Linux /proc and a running process)", pid, err)
	}
	st, err := ParseProcStatus(data)
	if err != nil {
		return ProcStatus{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return st, nil
}

// ParseProcStatus reads VmRSS and Threads from the text of /proc/PID/status. A missing VmRSS (a kernel
// thread, a zombie) is an error.
func ParseProcStatus(data []byte) (ProcStatus, error) {
	var st ProcStatus
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "VmRSS":
			n, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil || n < 0 {
				return ProcStatus{}, fmt.Errorf("/proc status: VmRSS value %q is not a number of kB", fields[0])
			}
			mult := int64(1)
			if len(fields) > 1 && strings.EqualFold(fields[1], "kB") {
				mult = 1024
			}
			if n > (1<<62)/mult {
				return ProcStatus{}, fmt.Errorf("/proc status: VmRSS value %q is out of range", fields[0])
			}
			st.RSSBytes, found = n*mult, true
		case "Threads":
			n, err := strconv.Atoi(fields[0])
			if err == nil && n >= 0 {
				st.Threads = n
			}
		}
	}
	if !found {
		return ProcStatus{}, errors.New("/proc status has no VmRSS line (is the process a zombie?)")
	}
	return st, nil
}

// ParseGoroutines reads the go_goroutines gauge from Prometheus text exposition; ok is false when the
// metric is absent.
func ParseGoroutines(data []byte) (n int, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, found := strings.CutPrefix(line, "go_goroutines")
		if !found || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		f, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || !(f >= 0 && f <= 1e12) {
			continue
		}
		return int(f), true
	}
	return 0, false
}

// FetchGoroutines reads go_goroutines from a Prometheus metrics URL (bounded: 5 s, 4 MiB).
func FetchGoroutines(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("metrics URL %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics URL %q: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics URL %q: HTTP %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fmt.Errorf("metrics URL %q: %w", url, err)
	}
	n, ok := ParseGoroutines(data)
	if !ok {
		return 0, fmt.Errorf("metrics URL %q has no go_goroutines gauge", url)
	}
	return n, nil
}

// Gateway is a `mcpwarden serve` process started by StartGateway.
type Gateway struct {
	// Addr is "127.0.0.1:PORT", the address it listens on.
	Addr string
	// MetricsAddr is "127.0.0.1:PORT", the address of its metrics listener when GatewayOptions.Metrics was
	// set ("" otherwise). Its path is the config's metrics.path (default /metrics).
	MetricsAddr string
	// Started is when the process was exec'd; Listening is when its port first accepted a connection.
	Started, Listening time.Time

	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed when Wait returns; owned by the goroutine StartGateway starts
	err  error
}

// PID is the process id.
func (g *Gateway) PID() int { return g.cmd.Process.Pid }

// BaseURL is "http://127.0.0.1:PORT".
func (g *Gateway) BaseURL() string { return "http://" + g.Addr }

// Output is the tail of what the process printed.
func (g *Gateway) Output() string { return g.out.String() }

// Stop sends SIGTERM, waits up to grace, then kills the process; it always waits for it to exit.
func (g *Gateway) Stop(grace time.Duration) {
	select {
	case <-g.done:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(grace):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// startAttempts is how often StartGateway retries on a new port when the process exits before listening
// (another process took the free port).
const startAttempts = 3

// GatewayOptions are optional settings of a gateway StartGateway starts.
type GatewayOptions struct {
	// Metrics starts it with a metrics listener on a second free loopback port (serve --metrics-listen),
	// whatever its config says: the soak mode samples go_goroutines there.
	Metrics bool
}

// StartGateway runs `exe serve --config config --listen 127.0.0.1:PORT` on a free loopback port and waits,
// at most timeout, until the port accepts connections. exe is normally os.Executable().
func StartGateway(ctx context.Context, exe, config string, timeout time.Duration, opts GatewayOptions) (*Gateway, error) {
	var lastErr error
	for range startAttempts {
		g, err := startGatewayOnce(ctx, exe, config, timeout, opts)
		if err == nil {
			return g, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, lastErr
}

var errExitedEarly = errors.New("gateway exited before listening")

func startGatewayOnce(ctx context.Context, exe, config string, timeout time.Duration, opts GatewayOptions) (*Gateway, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"serve", "--config", config, "--listen", addr}
	metricsAddr := ""
	if opts.Metrics {
		mport, err := freePort()
		if err != nil {
			return nil, err
		}
		metricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(mport))
		args = append(args, "--metrics-listen", metricsAddr) // bound before the gateway's own port
	}
	cmd := exec.Command(exe, args...)
	g := &Gateway{Addr: addr, MetricsAddr: metricsAddr, cmd: cmd, out: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = g.out, g.out
	g.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s serve: %w", exe, err)
	}
	go func() {
		g.err = cmd.Wait()
		close(g.done)
	}()
	if err := g.waitListening(ctx, timeout); err != nil {
		g.Stop(5 * time.Second)
		return nil, err
	}
	return g, nil
}

// waitListening polls the port every millisecond until it accepts a connection.
func (g *Gateway) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	d := net.Dialer{Timeout: time.Second}
	for {
		c, err := d.DialContext(ctx, "tcp", g.Addr)
		if err == nil {
			g.Listening = time.Now()
			_ = c.Close()
			return nil
		}
		select {
		case <-g.done:
			return fmt.Errorf("%w on %s (%v); its output:\n%s", errExitedEarly, g.Addr, g.err, g.Output())
		default:
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not listening on %s after %v (check the config with `mcpwarden serve --config FILE`); its output:\n%s", g.Addr, timeout, g.Output())
		}
		time.Sleep(time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free TCP port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
