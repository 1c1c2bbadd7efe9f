package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testdataAbs is the absolute path of testdata/, replaced by "testdata" in goldens.
func testdataAbs(t testing.TB) string {
	t.Helper()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func treeOptions(t testing.TB, osName string, clients ...string) Options {
	base := filepath.Join(testdataAbs(t), osName)
	return Options{OS: osName, Home: filepath.Join(base, "home"), Root: filepath.Join(base, "root"), Clients: clients,
		Host: Host{Hostname: "test-host", User: "alice", OS: osName}}
}

func inventoryJSON(t testing.TB, inv *Inventory) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := inv.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(buf.Bytes(), []byte(testdataAbs(t)), []byte("testdata"))
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s: %v (run go test -run %s -update)", path, err, t.Name())
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("inventory differs from %s (-want +got):\n%s", path, diff)
	}
}

// TestGoldenPerClient scans each OS's fake machine once per client and compares the inventory JSON with
// testdata/golden/<os>/<client>.json (refresh with -update).
func TestGoldenPerClient(t *testing.T) {
	for _, osName := range []string{"linux", "darwin", "windows"} {
		for _, c := range Clients() {
			t.Run(osName+"/"+c.ID, func(t *testing.T) {
				inv, err := Scan(context.Background(), treeOptions(t, osName, c.ID))
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, filepath.Join("testdata", "golden", osName, c.ID+".json"), inventoryJSON(t, inv))
			})
		}
	}
}

// TestEveryClientFound checks that the fake trees cover all 17 clients across the three OS layouts.
func TestEveryClientFound(t *testing.T) {
	found := map[string]bool{}
	for _, osName := range []string{"linux", "darwin", "windows"} {
		inv, err := Scan(context.Background(), treeOptions(t, osName))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range inv.Servers {
			found[s.Client] = true
		}
		for _, e := range inv.Errors {
			found[e.Client] = true
		}
	}
	var missing []string
	for _, id := range ClientIDs() {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	if len(ClientIDs()) < 17 || len(missing) > 0 {
		t.Errorf("clients = %d, missing from the fake trees: %v", len(ClientIDs()), missing)
	}
}

// TestScanFacts spells out the properties the goldens encode, so a careless -update cannot hide a regression.
func TestScanFacts(t *testing.T) {
	inv, err := Scan(context.Background(), treeOptions(t, "linux"))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Server{}
	for _, s := range inv.Servers {
		by[s.Client+"/"+s.Name] = s
	}
	codes := func(s Server) []string {
		var out []string
		for _, r := range s.Risk.Reasons {
			out = append(out, r.Code)
		}
		return out
	}
	tests := []struct {
		key           string
		scope         Scope
		transport     string
		routed        bool
		pin           string
		reasons       []string
		inlineSecrets []string
	}{
		{"claude-desktop/filesystem", ScopeUser, "stdio", false, "none", []string{ReasonBroadFilesystem, ReasonShadow, ReasonUnpinned}, nil},
		{"claude-desktop/search", ScopeUser, "stdio", false, "range", []string{ReasonInlineSecret, ReasonShadow, ReasonUnpinned, ReasonUnknownPublish}, []string{"env:API_KEY"}},
		{"claude-code/memory", ScopeUser, "stdio", false, "exact", []string{ReasonShadow}, nil},
		{"claude-code/db", ScopeProject, "stdio", false, "exact", []string{ReasonShadow}, nil},
		{"claude-code/remote", ScopeProject, "http", false, "n/a", []string{ReasonPlainHTTP, ReasonShadow}, nil},
		{"claude-code/scraper", ScopeUser, "stdio", false, "tag", []string{ReasonShadow, ReasonDockerNoDigest, ReasonUnknownPublish}, nil},
		{"claude-code/corp", ScopeManaged, "http", true, "n/a", nil, nil},
		{"cursor/github", ScopeUser, "stdio", true, "n/a", nil, nil},
		{"cursor/events", ScopeUser, "sse", false, "n/a", []string{ReasonShadow}, nil},
		{"cursor/installer", ScopeProject, "stdio", false, "n/a", []string{ReasonPipeToShell, ReasonShadow}, nil},
		{"vscode/time", ScopeUser, "stdio", false, "none", []string{ReasonShadow, ReasonUnpinned}, nil},
		{"vscode/git", ScopeProject, "stdio", false, "exact", []string{ReasonShadow}, nil},
		{"windsurf/brave", ScopeUser, "http", false, "n/a", []string{ReasonInlineSecret, ReasonShadow}, []string{"header:Authorization"}},
		{"gemini-cli/sse-one", ScopeUser, "sse", false, "n/a", []string{ReasonShadow}, nil},
		{"codex/context7", ScopeUser, "stdio", false, "exact", []string{ReasonShadow}, nil},
		{"crush/gh-docker", ScopeUser, "stdio", false, "digest", []string{ReasonShadow}, nil},
		{"sema4ai/actions", ScopeUser, "http", false, "n/a", []string{ReasonPlainHTTP, ReasonShadow}, nil},
		{"opencode/local-fs", ScopeUser, "stdio", false, "exact", []string{ReasonBroadFilesystem, ReasonShadow}, nil},
	}
	for _, tc := range tests {
		s, ok := by[tc.key]
		if !ok {
			t.Errorf("%s not found", tc.key)
			continue
		}
		got := []any{s.Scope, s.Transport, s.Routed, s.Shadow, s.Package.Pin, codes(s), s.InlineSecrets}
		want := []any{tc.scope, tc.transport, tc.routed, !tc.routed, tc.pin, tc.reasons, tc.inlineSecrets}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.key, diff)
		}
	}
	if _, ok := by["claude-code/hidden"]; ok {
		t.Error("project search descended into node_modules")
	}
	if len(inv.Errors) != 1 || !strings.Contains(inv.Errors[0].Path, ".kiro") {
		t.Errorf("errors = %+v, want only the malformed Kiro file", inv.Errors)
	}
	raw := inventoryJSON(t, inv)
	for _, secret := range []string{"not-a-real-key-1234", "abcdefghijklmnop"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("inventory JSON contains the secret value %q", secret)
		}
	}
	if !inv.HasFindings() {
		t.Error("HasFindings = false with shadow servers present")
	}
}

func TestSARIF(t *testing.T) {
	inv, err := Scan(context.Background(), treeOptions(t, "linux", "claude-desktop"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := inv.WriteSARIF(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, s := range inv.Servers {
		want += len(s.Risk.Reasons)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Results) != want {
		t.Fatalf("SARIF version %q with %d results, want 2.1.0 with %d", doc.Version, len(doc.Runs[0].Results), want)
	}
	for _, r := range doc.Runs[0].Results {
		loc := r.Locations[0].PhysicalLocation
		if !strings.HasPrefix(loc.ArtifactLocation.URI, "file:///") || !strings.HasSuffix(loc.ArtifactLocation.URI, "claude_desktop_config.json") || loc.Region.StartLine < 2 {
			t.Errorf("result %s located at %+v, want the config file and the server's line", r.RuleID, loc)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, o := range []Options{{OS: "plan9", Home: "/tmp"}, {Home: "/tmp", Clients: []string{"nope"}}} {
		if _, err := Scan(context.Background(), o); err == nil {
			t.Errorf("Scan(%+v) succeeded, want an error", o)
		}
	}
}
