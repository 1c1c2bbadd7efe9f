package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnpinnedCommand(t *testing.T) {
	sha := &ServerPin{SHA256: strings.Repeat("ab", 32)}
	tests := []struct {
		argv   []string
		pin    *ServerPin
		wantOK bool
	}{
		{[]string{"npx", "-y", "@modelcontextprotocol/server-everything@2025.11.25"}, nil, true},
		{[]string{"npx", "-y", "some-server@1.2.3"}, nil, true},
		{[]string{"/usr/local/bin/npx", "some-server@v1.2.3-beta.1"}, nil, true},
		{[]string{"npx", "-y", "some-server"}, nil, false},
		{[]string{"npx", "some-server@latest"}, nil, false},
		{[]string{"npx", "some-server@^1.2.0"}, nil, false},
		{[]string{"npx", "-y"}, nil, false},
		{[]string{"npm", "exec", "some-server@1.2.3"}, nil, true},
		{[]string{"npm", "exec", "some-server"}, nil, false},
		{[]string{"uvx", "mcp-server-fetch==2025.4.7"}, nil, true},
		{[]string{"uvx", "--from", "mcp-server-git==1.0.0", "mcp-server-git"}, nil, true},
		{[]string{"uvx", "mcp-server-fetch"}, nil, false},
		{[]string{"uvx", "mcp-server-fetch>=1.0"}, nil, false},
		{[]string{"pipx", "run", "mcp-server-fetch==1.0.0"}, nil, true},
		{[]string{"docker", "run", "-i", "--rm", "mcp/github@sha256:" + strings.Repeat("0", 64)}, nil, true},
		{[]string{"docker", "run", "-i", "--rm", "mcp/github:latest"}, nil, false},
		{[]string{"/opt/mcp/server"}, nil, false},
		{[]string{"/opt/mcp/server"}, sha, true},
		{[]string{"npx", "some-server"}, sha, false}, // a hash pins npx itself, not the package it downloads
	}
	for _, tt := range tests {
		msg := UnpinnedCommand(tt.argv, tt.pin)
		if got := msg == ""; got != tt.wantOK {
			t.Errorf("UnpinnedCommand(%q) = %q, want pinned=%v", tt.argv, msg, tt.wantOK)
		}
	}
}

func TestInspectSections(t *testing.T) {
	const base = "data_dir: /tmp/x\nservers:\n  - name: s\n    command: [npx, -y, some-server]\n"
	tests := []struct {
		name, extra string
		wantErr     []string
	}{
		{"defaults", "pinning: {}\nscan: {}\n", nil},
		{"bad mode", "pinning: {mode: sometimes}\n", []string{"pinning.mode"}},
		{"bad severity", "scan: {quarantine_at: severe}\n", []string{"scan.quarantine_at"}},
		{"allowlist refuses unpinned npx", "allowlist: {require_pinned: true}\n", []string{"servers[0].command", "npx runs some-server without an exact version", "some-server@1.2.3"}},
		{"unknown key", "pinning: {mod: tofu}\n", []string{`pinning: unknown key "mod"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+tt.extra), "/tmp/x/mcpwarden.yaml")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				got := []string{cfg.Pinning.Mode, cfg.Scan.QuarantineAt}
				if diff := cmp.Diff([]string{"tofu", "high"}, got); diff != "" {
					t.Errorf("defaults (-want +got):\n%s", diff)
				}
				if !*cfg.Scan.SanitizeDescriptions || !*cfg.Scan.SanitizeResults {
					t.Error("sanitising is off by default")
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := Parse([]byte(base[:len(base)-len("[npx, -y, some-server]\n")]+"[/bin/true]\n    pin: {sha256: nothex}\n"), "/tmp/x/c.yaml"); err == nil ||
		!strings.Contains(err.Error(), "servers[0].pin.sha256") {
		t.Errorf("bad sha256: %v", err)
	}
}

func TestCommandPackage(t *testing.T) {
	digest := "ghcr.io/x/server@sha256:" + strings.Repeat("ab", 32)
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"npx", "-y", "@scope/server@1.2.3"}, "npm:@scope/server@1.2.3"},
		{[]string{"/usr/bin/npx", "--package", "srv@2.0.0", "srv"}, "npm:srv@2.0.0"},
		{[]string{"pnpm", "dlx", "srv@latest"}, "npm:srv@latest"},
		{[]string{"uvx", "mcp-server-x==1.2.3"}, "pypi:mcp-server-x==1.2.3"},
		{[]string{"pipx", "run", "--from", "x==1", "x"}, "pypi:x==1"},
		{[]string{"docker", "run", "-i", "--rm", "-e", "A=b", digest}, "image:" + digest},
		{[]string{"docker", "run", "-i", "server:latest"}, ""},
		{[]string{"/opt/bin/server", "--flag"}, ""},
		{nil, ""},
	} {
		if got := CommandPackage(tt.argv); got != tt.want {
			t.Errorf("CommandPackage(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}
