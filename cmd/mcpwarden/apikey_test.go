package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

func runBin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestAPIKeyCLIAndServe: keys made by the CLI authenticate against a running `serve`; a key revoked by the
// CLI is refused by the running gateway on its next use.
func TestAPIKeyCLIAndServe(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := writeConfig(t, "listen: "+addr+"\ndata_dir: "+t.TempDir()+"\nauth: {mode: api_key}\nservers:\n  - name: a\n    command: [/nonexistent/server]\n")

	out, _, code := runBin(t, "apikey", "create", "--config", cfg, "--subject", "ci-bot", "--group", "automation", "--json")
	if code != 0 {
		t.Fatalf("create exited %d", code)
	}
	var created struct {
		Key string `json:"key"`
		ID  string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.Key, identity.APIKeyPrefix) {
		t.Fatalf("create output %q: %v", out, err)
	}
	out, _, _ = runBin(t, "apikey", "list", "--config", cfg)
	if !strings.Contains(out, created.ID) || !strings.Contains(out, "ci-bot") || strings.Contains(out, created.Key) {
		t.Errorf("list output:\n%s", out)
	}

	p := testenv.StartProcess(t, []string{binary(t), "serve", "--config", cfg}, nil)
	p.WaitForPort(t, addr)
	status := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/mcp/a", strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(""); got != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", got)
	}
	if got := status(created.Key); got == http.StatusUnauthorized {
		t.Errorf("valid key refused\n%s", p.Output())
	}
	if _, _, code := runBin(t, "apikey", "revoke", "--config", cfg, created.ID); code != 0 {
		t.Fatalf("revoke exited %d", code)
	}
	if got := status(created.Key); got != http.StatusUnauthorized {
		t.Errorf("revoked key: %d, want 401", got)
	}
	if strings.Contains(p.Output(), created.Key) {
		t.Error("the gateway logged the API key")
	}
	if _, _, code := runBin(t, "apikey", "revoke", "--config", cfg, "nosuchid"); code != exitUsage {
		t.Errorf("revoking an unknown id exited %d, want %d", code, exitUsage)
	}
}

func TestServeRefusesNonLoopbackWithoutAuth(t *testing.T) {
	cfg := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+t.TempDir()+"\nservers:\n  - name: a\n    command: [x]\n")
	_, stderr, code := runBin(t, "serve", "--config", cfg, "--listen", "0.0.0.0:0")
	if code != exitUsage || !strings.Contains(stderr, "no auth: section is configured") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestCredentialsCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "listen: 127.0.0.1:0\ndata_dir: "+dir+"\nservers:\n  - name: a\n    command: [x]\n")
	set := exec.Command(binary(t), "credentials", "set", "--config", cfg, "--user", "oidc:alice@https://idp", "github_token")
	set.Stdin = strings.NewReader("ghp_topsecret\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("set: %v\n%s", err, out)
	}
	out, _, code := runBin(t, "credentials", "list", "--config", cfg, "--json")
	if code != 0 || !strings.Contains(out, `"name":"github_token"`) || strings.Contains(out, "topsecret") {
		t.Errorf("list: %d %s", code, out)
	}
	if _, stderr, code := runBin(t, "credentials", "rotate", "--config", cfg, "--new-key"); code != 0 || !strings.Contains(stderr, "re-encrypted 1") {
		t.Errorf("rotate: %d %s", code, stderr)
	}
	if _, _, code := runBin(t, "credentials", "delete", "--config", cfg, "--user", "oidc:alice@https://idp", "github_token"); code != 0 {
		t.Errorf("delete exited %d", code)
	}
	if _, _, code := runBin(t, "credentials", "delete", "--config", cfg, "--user", "oidc:alice@https://idp", "github_token"); code != exitUsage {
		t.Errorf("second delete exited %d, want %d", code, exitUsage)
	}
}
