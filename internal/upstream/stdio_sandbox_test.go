//go:build linux

package upstream

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/upstream/sandbox"
)

// TestStdioSandbox: a sandboxed stdio server sees its declared env but not the gateway's secrets, and the
// launch log names the exact command and the profile applied.
func TestStdioSandbox(t *testing.T) {
	t.Setenv("MCPWARDEN_CREDENTIAL_KEY", "gateway-key")
	logs := &logBuf{}
	script := `printf '{"jsonrpc":"2.0","method":"env","params":{"key":"%s","declared":"%s"}}\n' "$MCPWARDEN_CREDENTIAL_KEY" "$DECLARED"; sleep 30`
	st := NewStdio(StdioOptions{Name: "boxed", Command: []string{"sh", "-c", script}, Env: map[string]string{"DECLARED": "yes"},
		TerminateGrace: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Sandbox: &sandbox.Profile{Limits: sandbox.DefaultLimits}})
	c, err := st.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.Recv(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Params map[string]string `json:"params"`
	}
	if err := json.Unmarshal(f.Msg.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"key": "", "declared": "yes"}, got.Params); diff != "" {
		t.Errorf("child environment (-want +got):\n%s", diff)
	}
	_ = c.Close()
	out := logs.String()
	for _, want := range []string{`msg="upstream started"`, `command="[sh -c `, "program=/", `sandbox="env=scrubbed no_new_privs core=0 nofile=4096`, "DECLARED"} {
		if !strings.Contains(out, want) {
			t.Errorf("launch log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gateway-key") {
		t.Errorf("launch log leaks a secret value:\n%s", out)
	}
}

// TestStdioSandboxLandlock: through the stdio launcher, a server confined to a work directory cannot read a
// file next to it; without the file system rules the same script can.
func TestStdioSandboxLandlock(t *testing.T) {
	if sandbox.LandlockABI() < 1 {
		t.Skip("kernel feature missing: Landlock (landlock_create_ruleset reports no ABI)")
	}
	secretDir, work := t.TempDir(), t.TempDir()
	secret := secretDir + "/secret.txt"
	if err := os.WriteFile(secret, []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `if cat "$1" >/dev/null 2>&1; then r=read; else r=denied; fi
printf '{"jsonrpc":"2.0","method":"fs","params":{"r":"%s"}}\n' "$r"; sleep 30`
	for _, tt := range []struct {
		name string
		box  *sandbox.Profile
		want string
	}{
		{"no file rules", &sandbox.Profile{}, "read"},
		{"landlock", &sandbox.Profile{ReadWrite: []string{work}, Strict: true}, "denied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := NewStdio(StdioOptions{Name: "fs", Command: []string{"sh", "-c", script, "sh", secret}, Dir: work,
				TerminateGrace: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logBuf{}, nil)), Sandbox: tt.box})
			c, err := st.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f, err := c.Recv(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(f.Msg.Raw), `"r":"`+tt.want+`"`) {
				t.Errorf("got %s, want r=%s", f.Msg.Raw, tt.want)
			}
		})
	}
}
