package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/upstream"
)

type nopConn struct{ upstream.Conn }

func (nopConn) Close() error { return nil }

func TestProcessLimit(t *testing.T) {
	rt := &serverRuntime{name: "s"}
	open := rt.limitProcesses(func(context.Context) (upstream.Conn, error) { return nopConn{}, nil }, 2)
	a, err := open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := open(context.Background()); err == nil || !strings.Contains(err.Error(), "already runs 2 processes") {
		t.Fatalf("third process: err = %v", err)
	}
	_ = a.Close()
	_ = a.Close() // closing twice frees one slot only
	if _, err := open(context.Background()); err != nil {
		t.Fatalf("after a close: %v", err)
	}
	if _, err := open(context.Background()); err == nil {
		t.Fatalf("a double close freed two slots")
	}
}
