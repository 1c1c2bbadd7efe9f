package policy

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
)

// waitFor polls cond until it holds or a generous deadline passes (no timing assertion: only progress).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func effectFor(h *Holder, tool string) Effect {
	return h.Policy().Evaluate(&Input{Method: "tools/call", Name: tool}).Effect
}

func TestHolderReloadsOnFileChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  - {id: a, tools: [x], effect: allow}\n")
	h, err := NewHolder(&Source{File: path, Name: path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.Watch(10*time.Millisecond, nil)
	t.Cleanup(func() { _ = h.Close() })
	if got := effectFor(h, "x"); got != Allow {
		t.Fatalf("x = %s, want allow", got)
	}
	write("rules:\n  - {id: a, tools: [x], effect: deny, message: now denied}\n")
	waitFor(t, "the changed policy to load", func() bool { return effectFor(h, "x") == Deny })

	// An invalid policy is rejected: the previous one stays active, and Reload says where the problem is.
	old := h.Policy().Version
	write("rules:\n  - {id: a, tools: [x], effect: allow}\n  - id: b\n    effect: deny\n    when: call.sql.nope\n")
	err = h.Reload()
	if err == nil || !strings.Contains(err.Error(), path+":5: rule \"b\": when: call.sql.nope is not a fact") {
		t.Fatalf("Reload error = %v", err)
	}
	time.Sleep(50 * time.Millisecond) // let the watcher see the change too; it must not swap
	if h.Policy().Version != old || effectFor(h, "x") != Deny {
		t.Fatal("an invalid policy replaced the active one")
	}
}

func TestHolderReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "mcpwarden.yaml")
	body := "servers:\n  - name: a\n    command: [srv]\npolicy:\n  rules:\n    - {id: a, tools: [x], effect: deny}\n"
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	src, err := SourceFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHolder(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.Watch(time.Hour, nil) // only SIGHUP can trigger a reload
	t.Cleanup(func() { _ = h.Close() })
	if got := effectFor(h, "x"); got != Deny {
		t.Fatalf("x = %s, want deny", got)
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(body, "deny}", "ask} ", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SIGHUP to reload the inline policy", func() bool { return effectFor(h, "x") == Ask })
}

func TestSourceFromConfig(t *testing.T) {
	dir := t.TempDir()
	pfile := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(pfile, []byte("default: deny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		policy  any
		mode    Mode
		def     Effect
		wantErr string
	}{
		{"absent: the shipped default", nil, Enforce, Allow, ""},
		{"a file path", "p.yaml", Enforce, Deny, ""},
		{"file with a mode override", map[string]any{"file": "p.yaml", "mode": "monitor"}, Monitor, Deny, ""},
		{"mode only: the default in monitor mode", map[string]any{"mode": "monitor"}, Monitor, Allow, ""},
		{"file plus rules", map[string]any{"file": "p.yaml", "rules": []any{}}, "", "", "policy.rules cannot be combined with policy.file"},
		{"bad type", 3, "", "", "policy must be a mapping"},
		{"missing file", "nope.yaml", "", "", "reading policy file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &config.Config{Path: filepath.Join(dir, "config.yaml"), Policy: c.policy}
			src, err := SourceFromConfig(cfg)
			var p *Policy
			if err == nil {
				p, err = Load(src, Options{})
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != c.mode || p.Default != c.def {
				t.Errorf("mode %s default %s, want %s %s", p.Mode, p.Default, c.mode, c.def)
			}
		})
	}
}
