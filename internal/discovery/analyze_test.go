package discovery

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAnalyzePackage(t *testing.T) {
	tests := []struct {
		command string
		args    []string
		url     string
		want    Package
	}{
		{"npx", []string{"-y", "@modelcontextprotocol/server-memory@2025.4.25"}, "", Package{Ecosystem: "npm", Name: "@modelcontextprotocol/server-memory", Version: "2025.4.25", Pin: "exact", Pinned: true, Publisher: "Model Context Protocol"}},
		{"npx", []string{"--package", "foo@^1", "foo-cli"}, "", Package{Ecosystem: "npm", Name: "foo", Version: "^1", Pin: "range"}},
		{"npx", []string{"github:acme/mcp"}, "", Package{Ecosystem: "git", Name: "github:acme/mcp", Pin: "none"}},
		{"npm", []string{"exec", "x-mcp@latest"}, "", Package{Ecosystem: "npm", Name: "x-mcp", Version: "latest", Pin: "latest"}},
		{`C:\nodejs\npx.cmd`, []string{"-y", "y@1.2.3"}, "", Package{Ecosystem: "npm", Name: "y", Version: "1.2.3", Pin: "exact", Pinned: true}},
		{"uvx", []string{"--from", "awslabs.core-mcp-server==1.0.3", "awslabs.core-mcp-server"}, "", Package{Ecosystem: "pypi", Name: "awslabs.core-mcp-server", Version: "1.0.3", Pin: "exact", Pinned: true, Publisher: "AWS"}},
		{"uvx", []string{"mcp-server-fetch"}, "", Package{Ecosystem: "pypi", Name: "mcp-server-fetch", Pin: "none", Publisher: "Model Context Protocol"}},
		{"uvx", []string{"pkg>=2"}, "", Package{Ecosystem: "pypi", Name: "pkg", Version: ">=2", Pin: "range"}},
		{"uv", []string{"tool", "run", "git+https://x/y@0123456789abcdef0123456789abcdef01234567"}, "", Package{Ecosystem: "git", Name: "git+https://x/y@0123456789abcdef0123456789abcdef01234567", Pin: "digest", Pinned: true}},
		{"docker", []string{"run", "-i", "--rm", "-e", "A", "-v", "/x:/y", "mcp/github:1.0"}, "", Package{Ecosystem: "docker", Name: "mcp/github", Version: "1.0", Pin: "tag", Publisher: "Docker MCP Catalog"}},
		{"docker", []string{"run", "ghcr.io/a/b"}, "", Package{Ecosystem: "docker", Name: "ghcr.io/a/b", Pin: "latest"}},
		{"docker", []string{"run", "localhost:5000/img@sha256:ab"}, "", Package{Ecosystem: "docker", Name: "localhost:5000/img", Version: "sha256:ab", Pin: "digest", Pinned: true}},
		{"python", []string{"-m", "my_server"}, "", Package{Ecosystem: "local", Name: "my_server", Pin: "n/a"}},
		{"/usr/bin/github-mcp-server", nil, "", Package{Ecosystem: "binary", Name: "/usr/bin/github-mcp-server", Pin: "n/a"}},
		{"", nil, "https://mcp.example.com/mcp", Package{Ecosystem: "remote", Name: "mcp.example.com", Pin: "n/a"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, analyzePackage(tc.command, tc.args, tc.url)); diff != "" {
			t.Errorf("analyzePackage(%q, %q) (-want +got):\n%s", tc.command, tc.args, diff)
		}
	}
}

func TestInlineSecrets(t *testing.T) {
	n := normalized{
		env:     map[string]string{"GITHUB_TOKEN": "${GITHUB_TOKEN}", "DB_PASSWORD": "hunter2hunter2", "LOG": "debug", "X": "sk-abcdefghijklmnopqrstu"},
		headers: map[string]string{"Authorization": "Bearer ${input:token}", "X-Api-Key": "k-1234567890"},
		args:    []string{"--token", "abcdefgh1234", "--api-key=zzzzzzzzzz", "postgres://u:pw@db/x", "--verbose"},
		url:     "https://u:p@h/mcp?api_key=abcdefghij&q=1",
	}
	want := []string{"env:DB_PASSWORD", "env:X", "header:X-Api-Key", "arg:1", "arg:2", "arg:3", "url:userinfo", "url:query:api_key"}
	if diff := cmp.Diff(want, inlineSecrets(n)); diff != "" {
		t.Errorf("inlineSecrets (-want +got):\n%s", diff)
	}
	got := redactArgs(n.args, inlineSecrets(n))
	wantArgs := []string{"--token", "[REDACTED]", "--api-key=[REDACTED]", "postgres://u:REDACTED@db/x", "--verbose"}
	if diff := cmp.Diff(wantArgs, got); diff != "" {
		t.Errorf("redactArgs (-want +got):\n%s", diff)
	}
}

func TestGatewayRoute(t *testing.T) {
	gws := []string{"http://127.0.0.1:8740", "https://gw.corp.example/base"}
	tests := map[string]bool{
		"http://localhost:8740/mcp/github":   true,
		"http://127.0.0.1:8740/mcp":          true,
		"http://[::1]:8740/mcp/x/":           true,
		"http://127.0.0.1:8741/mcp/github":   false,
		"http://127.0.0.1:8740/other":        false,
		"https://gw.corp.example/base/mcp/a": true,
		"https://gw.corp.example/mcp/a":      false,
		"https://evil.example/mcp/a":         false,
		"http://127.0.0.1:8740/mcpx":         false,
		"not a url":                          false,
	}
	for u, want := range tests {
		if got := gatewayRoute(u, gws); got != want {
			t.Errorf("gatewayRoute(%q) = %v, want %v", u, got, want)
		}
	}
}
