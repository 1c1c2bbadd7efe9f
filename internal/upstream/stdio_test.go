package upstream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/jsonrpc"
)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func openSh(t *testing.T, script string, logs *logBuf) Conn {
	t.Helper()
	st := NewStdio(StdioOptions{Name: "shelly", Command: []string{"sh", "-c", script}, MaxMessageBytes: 200,
		TerminateGrace: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	c, err := st.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStdioFramingAndLogs(t *testing.T) {
	logs := &logBuf{}
	long := strings.Repeat("x", 300)
	script := `echo "diagnostic on stderr" >&2
echo "not json at all"
echo '{"jsonrpc":"2.0","method":"notifications/message","params":{"long":"` + long + `"}}'
echo '{"jsonrpc":"2.0","id":"a1","result":{}}'
exit 3`
	c := openSh(t, script, logs)
	f, err := c.Recv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.Msg.Kind != jsonrpc.KindResult || f.Msg.ID.String() != `"a1"` {
		t.Fatalf("first message = %s, want the result (non-JSON and oversize lines are skipped)", f.Msg.Raw)
	}
	_, err = c.Recv(context.Background())
	var ue *Error
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "exit status 3") || ue.Server != "shelly" {
		t.Errorf("after exit: err = %v, want an *Error naming the server and the exit status", err)
	}
	out := logs.String()
	for _, want := range []string{`msg="upstream stderr" server=shelly`, "diagnostic on stderr", "not a JSON-RPC message", "over the size limit"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestStdioSendAndClose(t *testing.T) {
	logs := &logBuf{}
	// Echo each stdin line back, and ignore SIGTERM-free stdin EOF by sleeping on after it.
	c := openSh(t, `while read -r line; do printf '%s\n' "$line"; done; trap '' TERM; sleep 30`, logs)
	msg := jsonrpc.MustDecode([]byte(`{"jsonrpc":"2.0","id":7,"method":"ping"}`))
	if err := c.Send(context.Background(), Frame{Msg: msg}); err != nil {
		t.Fatal(err)
	}
	f, err := c.Recv(context.Background())
	if err != nil || !bytes.Equal(f.Msg.Raw, msg.Raw) {
		t.Fatalf("echo: %v %s", err, f.Msg.Raw)
	}
	pid := c.(*stdioConn).Pid()
	done := make(chan struct{})
	go func() { _ = c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a process that ignores stdin EOF and SIGTERM")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("process %d still alive after Close", pid)
	}
	if err := c.Send(context.Background(), Frame{Msg: msg}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestStdioStartFailure(t *testing.T) {
	st := NewStdio(StdioOptions{Name: "missing", Command: []string{"/nonexistent/mcp-server"}})
	_, err := st.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), `upstream "missing": start`) || !strings.Contains(err.Error(), "exists and is executable") {
		t.Errorf("err = %v", err)
	}
}

// TestStdioPinCheckedAtEveryOpen: with PinSHA256 set, every Open hashes the program first; a program whose
// hash differs is not started, and the error names no host path.
func TestStdioPinCheckedAtEveryOpen(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ProgramSHA256(sh)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	opts := StdioOptions{Name: "pinned", Command: []string{"sh", "-c", "cat"}, PinSHA256: sum,
		TerminateGrace: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for range 2 {
		c, err := NewStdio(opts).Open(context.Background())
		if err != nil {
			t.Fatalf("matching pin: %v", err)
		}
		_ = c.Close()
	}
	opts.PinSHA256 = strings.Repeat("0", 64)
	_, err = NewStdio(opts).Open(context.Background())
	var pe *PinMismatchError
	if !errors.As(err, &pe) || pe.Got != sum || strings.Contains(err.Error(), sh) || !strings.Contains(err.Error(), "changed since it was pinned") {
		t.Fatalf("wrong pin: %v", err)
	}
	if !strings.Contains(logs.String(), "upstream program does not match its pin") {
		t.Errorf("no log line:\n%s", logs.String())
	}
}
