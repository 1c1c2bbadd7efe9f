package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Suite selects one of the two official MCP conformance CLIs.
type Suite string

const (
	// SuiteLegacy is @modelcontextprotocol/conformance@0.1.16 (protocol 2025-06-18/2025-11-25: initialize,
	// sessions, server→client requests). Its default "active" suite is 30 scenarios, 40 checks.
	SuiteLegacy Suite = "legacy"
	// SuiteModern is @modelcontextprotocol/conformance@0.2.0-alpha.12 run with
	// --spec-version ModernSpecVersion (stateless protocol): 20 scenarios, 42 checks.
	SuiteModern Suite = "modern"
)

// ModernSpecVersion is the protocol revision SuiteModern is run against.
const ModernSpecVersion = "2026-07-28"

// Check statuses the CLIs write. Only SUCCESS and FAILURE count toward Total; WARNING and INFO are
// advisory. StatusNoResults is ours: a scenario the CLI announced but wrote no checks for.
const (
	StatusSuccess   = "SUCCESS"
	StatusFailure   = "FAILURE"
	StatusWarning   = "WARNING"
	StatusInfo      = "INFO"
	StatusNoResults = "NO_RESULTS"
)

// Check is one conformance check result, as the CLI wrote it to <output-dir>/<scenario>/checks.json.
type Check struct {
	Scenario     string          `json:"-"`
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Status       string          `json:"status"`
	ErrorMessage string          `json:"errorMessage,omitempty"`
	Details      json.RawMessage `json:"details,omitempty"`
}

// Counts is the part of a result that tests assert on.
type Counts struct {
	Passed int // checks with status SUCCESS
	Failed int // checks with status FAILURE (a scenario that crashed counts as one)
	Total  int // Passed + Failed, the CLI's own "Total" arithmetic
}

// ConformanceResult is the outcome of one RunConformance.
type ConformanceResult struct {
	Counts
	Warnings  int      // WARNING checks (advisory; the CLI does not fail on them in server mode)
	Other     int      // INFO and NO_RESULTS checks
	Scenarios []string // in the order the CLI ran them
	Checks    []Check  // in scenario order
	ExitCode  int      // 0: no FAILURE; 1: some FAILURE (or a CLI error)
	Duration  time.Duration
	Output    string // the CLI's stdout and stderr
}

// FailedChecks returns the FAILURE checks.
func (r ConformanceResult) FailedChecks() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == StatusFailure {
			out = append(out, c)
		}
	}
	return out
}

// RunConformance runs the official conformance CLI of suite in server mode against the Streamable HTTP
// endpoint url (`conformance server --url URL -o DIR`, plus `--spec-version 2026-07-28` for SuiteModern
// unless extraArgs set --spec-version or --requirements), parses every check from the results directory,
// logs each failure and warning with its details, and returns the counts. extraArgs go to the CLI as is,
// e.g. "--scenario", "tools-list" or "--suite", "all".
//
// It fails the test only when the harness itself breaks (CLI missing, crashed with an unexpected exit
// code, or its own totals disagree with the parsed checks); conformance failures are returned for the
// caller to assert on. Every check that is not SUCCESS is logged. A run takes about a second against a
// local server.
func RunConformance(t testing.TB, suite Suite, url string, extraArgs ...string) ConformanceResult {
	t.Helper()
	node := NodePath(t)
	cli := ConformanceCLI(t, suite)
	outDir := t.TempDir()

	args := []string{cli, "server", "--url", url, "-o", outDir}
	if suite == SuiteModern && !slices.Contains(extraArgs, "--spec-version") && !slices.Contains(extraArgs, "--requirements") {
		args = append(args, "--spec-version", ModernSpecVersion)
	}
	args = append(args, extraArgs...)

	timeout := 10 * time.Minute
	if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dl.Deadline(); ok && time.Until(d)-30*time.Second < timeout {
			timeout = max(time.Until(d)-30*time.Second, time.Minute)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	setProcessGroup(cmd)
	cmd.Cancel = func() error { kill(cmd); return nil }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr

	start := time.Now()
	runErr := cmd.Run()
	res := ConformanceResult{Duration: time.Since(start)}
	res.Output = stdout.String() + stderr.String()
	cmdline := "node " + strings.Join(args, " ")

	var ee *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &ee) && ee.ExitCode() == 1:
		res.ExitCode = 1
	case ctx.Err() != nil:
		t.Fatalf("testenv: conformance CLI timed out after %v: %s\n%s", timeout, cmdline, res.Output)
	default:
		t.Fatalf("testenv: conformance CLI failed to run (%v): %s\n%s", runErr, cmdline, res.Output)
	}

	run, err := parseConformanceRun(outDir, stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("testenv: reading conformance results of %s: %v\n%s", cmdline, err, res.Output)
	}
	res.Scenarios = run.scenarios
	res.Checks = run.checks
	for _, c := range res.Checks {
		switch c.Status {
		case StatusSuccess:
			res.Passed++
		case StatusFailure:
			res.Failed++
		case StatusWarning:
			res.Warnings++
		default:
			res.Other++
		}
	}
	res.Total = res.Passed + res.Failed

	t.Logf("conformance %s against %s: %d passed, %d failed, %d warnings in %d scenarios, %.1fs (exit %d)",
		suite, url, res.Passed, res.Failed, res.Warnings, len(res.Scenarios), res.Duration.Seconds(), res.ExitCode)
	for _, c := range res.Checks {
		if c.Status == StatusSuccess {
			continue
		}
		t.Logf("  %s [%s] %s: %s%s%s", c.Status, c.Scenario, c.ID, c.Description,
			prefixed(" — ", c.ErrorMessage), prefixed("\n      details: ", clip(compactJSON(c.Details), 2000)))
	}

	// The harness must agree with the CLI, or a broken parser could turn failures into passes.
	if run.cliTotal == nil {
		t.Errorf("testenv: conformance CLI printed no summary (\"Total: N passed, M failed\" or \"Passed: N/T\"); output:\n%s", res.Output)
	} else if got := (Counts{Passed: res.Passed, Failed: res.Failed, Total: res.Total}); *run.cliTotal != got {
		t.Errorf("testenv: parsed checks (%+v) disagree with the CLI's summary (%+v); output:\n%s", got, *run.cliTotal, res.Output)
	}
	if res.ExitCode == 1 && res.Failed == 0 {
		t.Errorf("testenv: conformance CLI exited 1 but no FAILURE check was found; output:\n%s", res.Output)
	}
	return res
}

// conformanceRun is what parseConformanceRun reads from one CLI run.
type conformanceRun struct {
	scenarios []string
	checks    []Check
	cliTotal  *Counts // from the "Total: N passed, M failed" line; nil if absent
}

var (
	scenarioLine  = regexp.MustCompile(`(?m)^=== Running scenario: (.+?) ===\s*$`)
	totalLine     = regexp.MustCompile(`(?m)^Total: (\d+) passed, (\d+) failed`)
	singleLine    = regexp.MustCompile(`(?m)^Passed: (\d+)/(\d+), (\d+) failed`) // --scenario X runs
	failedLine    = regexp.MustCompile(`(?m)^Failed to run scenario (.+?): (.*)$`)
	resultDirName = regexp.MustCompile(`^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$`)
)

// parseConformanceRun reads the checks.json files the CLI wrote under outDir (one directory per scenario,
// named server-<scenario>-<timestamp>) and the scenario list and totals from its stdout. A scenario that
// threw (stderr "Failed to run scenario X: ...") has no checks.json; it becomes one FAILURE check, as the
// CLI counts it.
func parseConformanceRun(outDir, stdout, stderr string) (conformanceRun, error) {
	var run conformanceRun
	for _, m := range scenarioLine.FindAllStringSubmatch(stdout, -1) {
		run.scenarios = append(run.scenarios, m[1])
	}
	if m := totalLine.FindStringSubmatch(stdout); m != nil {
		p, _ := strconv.Atoi(m[1])
		f, _ := strconv.Atoi(m[2])
		run.cliTotal = &Counts{Passed: p, Failed: f, Total: p + f}
	} else if m := singleLine.FindStringSubmatch(stdout); m != nil {
		p, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		f, _ := strconv.Atoi(m[3])
		run.cliTotal = &Counts{Passed: p, Failed: f, Total: n}
	}
	crashed := map[string]string{}
	for _, m := range failedLine.FindAllStringSubmatch(stderr, -1) {
		crashed[m[1]] = m[2]
	}

	byScenario := map[string][]Check{}
	err := filepath.WalkDir(outDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "checks.json" {
			return nil
		}
		rel, err := filepath.Rel(outDir, filepath.Dir(path))
		if err != nil {
			return err
		}
		m := resultDirName.FindStringSubmatch(filepath.ToSlash(rel))
		if m == nil {
			return fmt.Errorf("unexpected results directory %q (want server-<scenario>-<timestamp>)", rel)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var checks []Check
		if err := json.Unmarshal(data, &checks); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i := range checks {
			checks[i].Scenario = m[1]
		}
		byScenario[m[1]] = append(byScenario[m[1]], checks...)
		return nil
	})
	if err != nil {
		return run, err
	}

	order := slices.Clone(run.scenarios)
	var extra []string
	for s := range byScenario {
		if !slices.Contains(order, s) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra)
	order = append(order, extra...)
	if len(run.scenarios) == 0 {
		run.scenarios = order
	}
	for _, s := range order {
		checks, ok := byScenario[s]
		switch {
		case ok:
			run.checks = append(run.checks, checks...)
		case crashed[s] != "":
			run.checks = append(run.checks, Check{Scenario: s, ID: s, Name: s, Status: StatusFailure,
				Description: "Failed to run scenario", ErrorMessage: crashed[s]})
		default:
			run.checks = append(run.checks, Check{Scenario: s, ID: s, Name: s, Status: StatusNoResults,
				Description: "the CLI announced this scenario but wrote no checks.json for it"})
		}
	}
	return run, nil
}

func prefixed(prefix, s string) string {
	if s == "" || s == "null" {
		return ""
	}
	return prefix + s
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
