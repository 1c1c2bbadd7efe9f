package conformance

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/internal/gateway/gatewaytest"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// TestThroughGateway runs the official conformance suites through /mcp/{name}: the gateway must be as
// conformant as the server behind it (same counts as TestDirect).
func TestThroughGateway(t *testing.T) {
	t.Parallel()
	bin := testenv.EverythingServer(t)
	tests := []struct {
		name     string
		suite    testenv.Suite
		upstream string // http-stateful | http-stateless | stdio
		args     []string
		want     testenv.Counts
	}{
		{name: "legacy/http", suite: testenv.SuiteLegacy, upstream: "http-stateful", want: testenv.Counts{Passed: 40, Total: 40}},
		{name: "legacy/stdio", suite: testenv.SuiteLegacy, upstream: "stdio", want: testenv.Counts{Passed: 40, Total: 40}},
		{name: "modern/http", suite: testenv.SuiteModern, upstream: "http-stateless", want: testenv.Counts{Passed: 42, Total: 42}},
		{name: "legacy-all/http", suite: testenv.SuiteLegacy, upstream: "http-stateful", args: []string{"--suite", "all"},
			want: testenv.Counts{Passed: 44, Total: 44}},
		{name: "modern-all/http", suite: testenv.SuiteModern, upstream: "http-stateless", args: []string{"--suite", "all"},
			want: testenv.Counts{Passed: 153, Total: 153}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var entry string
			switch tt.upstream {
			case "stdio":
				entry = fmt.Sprintf("  - name: everything\n    command: [%q]\n", bin)
			default:
				url, _ := testenv.StartEverythingServer(t, tt.upstream == "http-stateless")
				entry = fmt.Sprintf("  - name: everything\n    url: %s\n", url)
			}
			base := gatewaytest.Start(t, "servers:\n"+entry).URL
			res := testenv.RunConformance(t, tt.suite, base+"/mcp/everything", tt.args...)
			if diff := cmp.Diff(tt.want, res.Counts); diff != "" {
				t.Errorf("%s suite through the gateway (%s upstream): counts (-want +got):\n%s", tt.suite, tt.upstream, diff)
			}
		})
	}
}
