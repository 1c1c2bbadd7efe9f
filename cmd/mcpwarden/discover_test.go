package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/discovery"
	"github.com/mcpwarden/mcpwarden/internal/discovery/fleet"
)

const discoveryTestdata = "../../internal/discovery/testdata"

// runCmd executes a command constructor with args and returns stdout and the exit code main would use.
func runCmd(t *testing.T, newCmd func() *cobra.Command, args ...string) (string, int) {
	t.Helper()
	cmd := newCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return out.String(), exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return out.String() + errOut.String() + "\nerror: " + err.Error(), ee.code
	}
	t.Fatalf("command returned an error without an exit code: %v", err)
	return "", -1
}

func fakeTree(t *testing.T, osName string) (home, root string) {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(discoveryTestdata, osName))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(abs, "home"), filepath.Join(abs, "root")
}

func TestDiscoverJSONAndExitCodes(t *testing.T) {
	home, root := fakeTree(t, "linux")
	out, code := runCmd(t, newDiscoverCmd, "--home", home, "--root", root, "--os", "linux", "--json")
	if code != exitFindings {
		t.Fatalf("exit code %d, want 1 (shadow servers found); output:\n%s", code, out)
	}
	var inv discovery.Inventory
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&inv); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if len(inv.Servers) < 20 || inv.ReportID == "" || inv.SchemaVersion != 1 {
		t.Errorf("inventory has %d servers, report id %q, schema %d", len(inv.Servers), inv.ReportID, inv.SchemaVersion)
	}
	if len(inv.Processes) != 0 {
		t.Errorf("a --home scan listed %d processes of this machine", len(inv.Processes))
	}

	// One client only: cursor still has a shadow server; an empty home has none → exit 0.
	out, code = runCmd(t, newDiscoverCmd, "--home", home, "--root", root, "--os", "linux", "--client", "cursor", "--project-root", t.TempDir())
	if code != exitFindings || !strings.Contains(out, "SHADOW") {
		t.Errorf("cursor scan: exit %d, output:\n%s", code, out)
	}
	empty := t.TempDir()
	if out, code = runCmd(t, newDiscoverCmd, "--home", empty, "--root", empty); code != exitOK {
		t.Errorf("empty home: exit %d, want 0; output:\n%s", code, out)
	}

	for _, args := range [][]string{
		{"--home", home, "--json", "--sarif"},
		{"--home", home, "--os", "plan9"},
		{"--home", home, "--no-such-flag"},
		{"--home", home, "--probe", "127.0.0.1:1-70000"},
		{"--home", home, "--report", "http://127.0.0.1:1"},
		{"--home", filepath.Join(empty, "missing")},
		{"--home", home, "--client", "nope"},
	} {
		if out, code := runCmd(t, newDiscoverCmd, args...); code != exitUsage {
			t.Errorf("discover %v: exit %d, want 2; output:\n%s", args, code, out)
		}
	}
}

func TestDiscoverSARIF(t *testing.T) {
	home, root := fakeTree(t, "windows")
	out, code := runCmd(t, newDiscoverCmd, "--home", home, "--root", root, "--os", "windows", "--sarif")
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &doc); err != nil {
		t.Fatalf("SARIF: %v\n%s", err, out)
	}
	if doc["version"] != "2.1.0" {
		t.Errorf("version = %v", doc["version"])
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnrollUnenrollCommands(t *testing.T) {
	home, root := fakeTree(t, "linux")
	dir := t.TempDir()
	copyDir(t, home, filepath.Join(dir, "home"))
	copyDir(t, root, filepath.Join(dir, "root"))
	home, root = filepath.Join(dir, "home"), filepath.Join(dir, "root")
	cursor := filepath.Join(home, ".cursor", "mcp.json")
	claude := filepath.Join(home, ".claude.json")
	origCursor, _ := os.ReadFile(cursor)
	origClaude, _ := os.ReadFile(claude)
	gw := filepath.Join(dir, "gateway.yaml")
	common := []string{"--home", home, "--root", root, "--os", "linux", "--gateway-config", gw}

	out, code := runCmd(t, newEnrollCmd, append([]string{"--client", "cursor", "--client", "claude-code", "--command", "/usr/local/bin/mcpwarden"}, common...)...)
	if code != exitOK {
		t.Fatalf("enroll: exit %d\n%s", code, out)
	}
	enrolled, _ := os.ReadFile(cursor)
	t.Logf("enroll output:\n%s\nenrolled cursor config:\n%s", out, enrolled)
	if !strings.Contains(string(enrolled), `"url": "http://127.0.0.1:8740/mcp/events"`) || !strings.Contains(string(enrolled), "/* already behind the gateway */") {
		t.Errorf("cursor config after enroll:\n%s", enrolled)
	}
	claudeEnrolled, _ := os.ReadFile(claude)
	if !strings.Contains(string(claudeEnrolled), `"/usr/local/bin/mcpwarden"`) || !strings.Contains(string(claudeEnrolled), `"numStartups": 12`) {
		t.Errorf("claude config after enroll:\n%s", claudeEnrolled)
	}

	out, code = runCmd(t, newEnrollCmd, append([]string{"--client", "cursor", "--client", "claude-code"}, common...)...)
	if code != exitOK || !strings.Contains(out, "nothing to enrol") {
		t.Errorf("second enroll: exit %d\n%s", code, out)
	}
	if again, _ := os.ReadFile(cursor); !bytes.Equal(again, enrolled) {
		t.Error("second enroll changed the file")
	}

	out, code = runCmd(t, newUnenrollCmd, append([]string{"--all"}, common...)...)
	if code != exitOK {
		t.Fatalf("unenroll: exit %d\n%s", code, out)
	}
	for file, want := range map[string][]byte{cursor: origCursor, claude: origClaude} {
		if got, _ := os.ReadFile(file); !bytes.Equal(got, want) {
			t.Errorf("%s not restored byte for byte:\n%s", file, cmp.Diff(string(want), string(got)))
		}
	}
	if _, code := runCmd(t, newEnrollCmd, common...); code != exitUsage {
		t.Errorf("enroll without --client: exit %d, want 2", code)
	}
	if _, code := runCmd(t, newUnenrollCmd, append([]string{"--client", "nope"}, common...)...); code != exitUsage {
		t.Errorf("unenroll --client nope: exit %d, want 2", code)
	}
}

func TestDiscoverReport(t *testing.T) {
	store := fleet.NewMemoryStore()
	srv := httptest.NewServer(fleet.NewHandler(store, fleet.NewAPIKeys(map[string]string{"laptops": "k-123456"})))
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("k-123456\n"), 0o600)
	home, root := fakeTree(t, "darwin")
	out, code := runCmd(t, newDiscoverCmd, "--home", home, "--root", root, "--os", "darwin", "--json", "--hostname", "mac-1",
		"--report", srv.URL, "--api-key-file", keyFile)
	if code != exitFindings {
		t.Fatalf("exit %d\n%s", code, out)
	}
	hosts, _ := store.Hosts(t.Context())
	if len(hosts) != 1 || hosts[0].Host != "mac-1" || hosts[0].Servers == 0 {
		t.Errorf("hosts after report = %+v", hosts)
	}
	os.WriteFile(keyFile, []byte("wrong"), 0o600)
	if out, code := runCmd(t, newDiscoverCmd, "--home", home, "--root", root, "--report", srv.URL, "--api-key-file", keyFile); code != exitUsage || !strings.Contains(out, "401") {
		t.Errorf("report with a wrong key: exit %d\n%s", code, out)
	}
}

func TestDiscoverProbe(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "probe-me", Version: "1.2.3"}, nil)
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	defer ts.Close()
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	empty := t.TempDir()
	out, code := runCmd(t, newDiscoverCmd, "--home", empty, "--root", empty, "--json",
		"--probe", fmt.Sprintf("127.0.0.1:%d-%d", port, port+2), "--probe-rate", "200")
	if code != exitFindings {
		t.Fatalf("exit %d, want 1 (a shadow endpoint)\n%s", code, out)
	}
	var inv discovery.Inventory
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&inv); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range inv.Endpoints {
		if e.Address == ts.Listener.Addr().String() && e.ServerName == "probe-me" && e.Shadow && e.URL == ts.URL+"/mcp" {
			found = true
		}
	}
	if !found {
		t.Errorf("endpoint not in inventory: %+v", inv.Endpoints)
	}
	// Pointing --gateway-url at it makes it routed: nothing left to report.
	out, code = runCmd(t, newDiscoverCmd, "--home", empty, "--root", empty, "--probe", ts.Listener.Addr().String(), "--gateway-url", ts.URL)
	if code != exitOK {
		t.Errorf("probe of a configured gateway: exit %d\n%s", code, out)
	}
}
