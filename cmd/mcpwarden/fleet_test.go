package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/discovery/fleet"
	"github.com/mcpwarden/mcpwarden/internal/identity"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestFleetReportsToServe: two hosts run `discover --report` against a real `mcpwarden serve`; both appear in
// its inventory, and a server added on one host between two reports comes back flagged as a new shadow.
func TestFleetReportsToServe(t *testing.T) {
	bin := binary(t)
	dataDir := t.TempDir()
	keys, err := identity.NewFileAPIKeyStore(filepath.Join(dataDir, "apikeys.json"))
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := keys.Create(t.Context(), "fleet-reporter", nil, "laptops")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := writeConfig(t, fmt.Sprintf("listen: %s\ndata_dir: %s\nservers:\n  - name: x\n    command: [\"true\"]\n", addr, dataDir))
	p := testenv.StartProcess(t, []string{bin, "serve", "--config", cfg}, nil)
	p.WaitForPort(t, addr)

	homeFor := func(servers string) string {
		home := t.TempDir()
		if err := os.MkdirAll(filepath.Join(home, ".cursor"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".cursor", "mcp.json"), []byte(`{"mcpServers":{`+servers+`}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return home
	}
	report := func(host, home string) {
		t.Helper()
		out, code := runCmd(t, newDiscoverCmd, "--home", home, "--root", t.TempDir(), "--os", "linux", "--hostname", host,
			"--no-processes", "--sockets=false", "--report", "http://"+addr, "--api-key-file", keyFile)
		if code != exitFindings && code != exitOK {
			t.Fatalf("discover --report from %s: exit %d\n%s\n%s", host, code, out, p.Output())
		}
	}
	memory := `"memory":{"command":"npx","args":["-y","@modelcontextprotocol/server-memory@2025.1.1"]}`
	homeA := homeFor(memory)
	report("host-a", homeA)
	report("host-b", homeFor(memory))
	// A second server appears on host-a.
	if err := os.WriteFile(filepath.Join(homeA, ".cursor", "mcp.json"),
		[]byte(`{"mcpServers":{`+memory+`,"files":{"command":"npx","args":["-y","@modelcontextprotocol/server-filesystem","/"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	report("host-a", homeA)

	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, res.Status)
		}
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var hosts struct {
		Hosts []fleet.HostSummary `json:"hosts"`
	}
	get("/api/v1/fleet/hosts", &hosts)
	seen := map[string]bool{}
	for _, h := range hosts.Hosts {
		seen[h.Host] = true
	}
	if !seen["host-a"] || !seen["host-b"] {
		t.Errorf("fleet hosts = %+v, want host-a and host-b", hosts.Hosts)
	}
	var servers struct {
		Servers []fleet.ServerRecord `json:"servers"`
	}
	get("/api/v1/fleet/servers?shadow=1", &servers)
	var newShadow []string
	for _, s := range servers.Servers {
		if s.New && s.Shadow {
			newShadow = append(newShadow, s.Host+"/"+s.Name)
		}
	}
	if len(newShadow) != 1 || newShadow[0] != "host-a/files" {
		t.Errorf("new shadow servers = %v, want [host-a/files]; all: %+v", newShadow, servers.Servers)
	}

	// Without a valid key the API refuses.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/api/v1/fleet/hosts", nil)
	req.Header.Set("Authorization", "Bearer mcpw_wrong")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %s, want 401", res.Status)
	}
}
