package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// writeChecks writes checks.json for scenario under dir the way the CLI names result directories.
func writeChecks(t *testing.T, dir, scenario string, checks []Check) {
	t.Helper()
	sub := filepath.Join(dir, "server-"+scenario+"-2026-11-23T23-42-28-213Z")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(checks)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "checks.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseConformanceRun(t *testing.T) {
	ok := func(id string) Check { return Check{ID: id, Name: id, Description: "d", Status: StatusSuccess} }
	bad := func(id string) Check {
		return Check{ID: id, Name: id, Description: "d", Status: StatusFailure, ErrorMessage: "boom"}
	}
	in := func(s string, c Check) Check { c.Scenario = s; return c }

	tests := []struct {
		name           string
		files          map[string][]Check // scenario -> checks.json
		stdout, stderr string
		want           conformanceRun
	}{
		{
			name:   "suite run in CLI order",
			files:  map[string][]Check{"ping": {ok("ping")}, "elicitation-sep1034-defaults": {ok("a"), bad("b")}},
			stdout: "=== Running scenario: ping ===\n=== Running scenario: elicitation-sep1034-defaults ===\n\nTotal: 2 passed, 1 failed\n",
			want: conformanceRun{
				scenarios: []string{"ping", "elicitation-sep1034-defaults"},
				checks:    []Check{in("ping", ok("ping")), in("elicitation-sep1034-defaults", ok("a")), in("elicitation-sep1034-defaults", bad("b"))},
				cliTotal:  &Counts{Passed: 2, Failed: 1, Total: 3},
			},
		},
		{
			name:   "scenario that threw becomes one failure",
			files:  map[string][]Check{"ping": {ok("ping")}},
			stdout: "=== Running scenario: ping ===\n=== Running scenario: tools-list ===\nTotal: 1 passed, 1 failed\n",
			stderr: "Failed to run scenario tools-list: TypeError: fetch failed\n    at x.js:1\n",
			want: conformanceRun{
				scenarios: []string{"ping", "tools-list"},
				checks: []Check{in("ping", ok("ping")), {Scenario: "tools-list", ID: "tools-list", Name: "tools-list",
					Status: StatusFailure, Description: "Failed to run scenario", ErrorMessage: "TypeError: fetch failed"}},
				cliTotal: &Counts{Passed: 1, Failed: 1, Total: 2},
			},
		},
		{
			name:   "announced scenario without results",
			stdout: "=== Running scenario: caching ===\n",
			want: conformanceRun{
				scenarios: []string{"caching"},
				checks: []Check{{Scenario: "caching", ID: "caching", Name: "caching", Status: StatusNoResults,
					Description: "the CLI announced this scenario but wrote no checks.json for it"}},
			},
		},
		{
			name:   "single scenario run",
			files:  map[string][]Check{"tools-list": {bad("tools-list"), ok("wire-schema-valid")}},
			stdout: "Checks:\n...\nTest Results:\nPassed: 1/2, 1 failed, 0 warnings\n",
			want: conformanceRun{
				scenarios: []string{"tools-list"},
				checks:    []Check{in("tools-list", bad("tools-list")), in("tools-list", ok("wire-schema-valid"))},
				cliTotal:  &Counts{Passed: 1, Failed: 1, Total: 2},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for s, cs := range tt.files {
				writeChecks(t, dir, s, cs)
			}
			got, err := parseConformanceRun(dir, tt.stdout, tt.stderr)
			if err != nil {
				t.Fatalf("parseConformanceRun: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(conformanceRun{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseConformanceRun mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConformanceRunRejectsUnknownLayout(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "something-else"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "something-else", "checks.json"), []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := parseConformanceRun(dir, "", "")
	if err == nil || !strings.Contains(err.Error(), "something-else") {
		t.Fatalf("parseConformanceRun error = %v, want one naming the unexpected directory", err)
	}
}

// TestRunConformanceReportsFailures proves the harness sees real failures: the legacy suite needs
// sessions for server→client requests, so against a stateless server exactly the sampling and
// elicitation scenarios fail.
func TestRunConformanceReportsFailures(t *testing.T) {
	t.Parallel()
	url, _ := StartEverythingServer(t, true)
	res := RunConformance(t, SuiteLegacy, url)

	if diff := cmp.Diff(Counts{Passed: 26, Failed: 4, Total: 30}, res.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if res.ExitCode != 1 {
		t.Errorf("ExitCode = %d, want 1 (the CLI exits 1 when a check fails)", res.ExitCode)
	}
	var failed []string
	for _, c := range res.FailedChecks() {
		failed = append(failed, c.Scenario)
	}
	slices.Sort(failed)
	want := []string{"elicitation-sep1034-defaults", "elicitation-sep1330-enums", "tools-call-elicitation", "tools-call-sampling"}
	if diff := cmp.Diff(want, failed); diff != "" {
		t.Errorf("failed scenarios (-want +got):\n%s", diff)
	}
}

// TestRunConformanceSingleScenario runs one scenario through extraArgs.
func TestRunConformanceSingleScenario(t *testing.T) {
	t.Parallel()
	url, _ := StartEverythingServer(t, true)
	res := RunConformance(t, SuiteModern, url, "--scenario", "tools-list")
	if res.Failed != 0 || res.Passed == 0 {
		t.Errorf("tools-list against the fixture server: %+v, want passes and no failures", res.Counts)
	}
	if diff := cmp.Diff([]string{"tools-list"}, res.Scenarios); diff != "" {
		t.Errorf("scenarios (-want +got):\n%s", diff)
	}
}
