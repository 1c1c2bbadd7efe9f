package conformance

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestDirect runs the conformance suites straight against the go-sdk fixture server, with no gateway in
// between. The counts are the baseline for the through-the-gateway runs: a gateway that is transparent
// must reach the same numbers.
func TestDirect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		suite     testenv.Suite
		stateless bool
		args      []string
		want      testenv.Counts
	}{
		// conformance 0.1.16 default ("active") suite: 30 scenarios.
		{name: "legacy", suite: testenv.SuiteLegacy, stateless: false, want: testenv.Counts{Passed: 40, Total: 40}},
		// conformance 0.2.0-alpha.12 --spec-version 2026-07-28, active suite: 20 scenarios.
		{name: "modern", suite: testenv.SuiteModern, stateless: true, want: testenv.Counts{Passed: 42, Total: 42}},
		// --suite all adds the pending scenarios: 32 legacy, 40 modern (stateless, caching,
		// header validation, input_required multi-round-trip, json-schema-2020-12, ...).
		{name: "legacy all", suite: testenv.SuiteLegacy, stateless: false, args: []string{"--suite", "all"},
			want: testenv.Counts{Passed: 44, Total: 44}},
		{name: "modern all", suite: testenv.SuiteModern, stateless: true, args: []string{"--suite", "all"},
			want: testenv.Counts{Passed: 153, Total: 153}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, _ := testenv.StartEverythingServer(t, tt.stateless)
			res := testenv.RunConformance(t, tt.suite, url, tt.args...)
			if diff := cmp.Diff(tt.want, res.Counts); diff != "" {
				t.Errorf("%s suite against everything-server (stateless=%v): counts (-want +got):\n%s",
					tt.suite, tt.stateless, diff)
			}
			if res.ExitCode != 0 {
				t.Errorf("conformance CLI exit code = %d, want 0", res.ExitCode)
			}
		})
	}
}
