package conformance

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// authScenarios are the client-mode auth/* scenarios the gateway passes as the OAuth client of the
// scenario server (through test/conformance/oauthclient). Left out, and why (see docs/identity.md):
//   - auth/client-credentials-jwt, auth/client-credentials-basic: the client_credentials grant
//     (machine-to-machine, no user); the gateway acts for each user with the authorization code grant.
//   - auth/cross-app-access-complete-flow (0.1.16), auth/enterprise-managed-authorization: identity
//     assertion authorization grants (ID-JAG, token exchange then JWT bearer), not implemented.
//   - auth/dpop, auth/dpop-nonce: DPoP sender-constrained tokens, not implemented.
//   - auth/wif-jwt-bearer: workload identity federation, not implemented.
var authScenarios = map[testenv.Suite][]string{
	testenv.SuiteLegacy: {
		"auth/metadata-default", "auth/metadata-var1", "auth/metadata-var2", "auth/metadata-var3",
		"auth/basic-cimd", "auth/scope-from-www-authenticate", "auth/scope-from-scopes-supported",
		"auth/scope-omitted-when-undefined", "auth/scope-step-up", "auth/scope-retry-limit",
		"auth/token-endpoint-auth-basic", "auth/token-endpoint-auth-post", "auth/token-endpoint-auth-none",
		"auth/pre-registration", "auth/2025-03-26-oauth-metadata-backcompat",
		"auth/2025-03-26-oauth-endpoint-fallback", "auth/resource-mismatch", "auth/offline-access-scope",
		"auth/offline-access-not-supported",
	},
	testenv.SuiteModern: {
		"auth/metadata-default", "auth/metadata-var1", "auth/metadata-var2", "auth/metadata-var3",
		"auth/basic-cimd", "auth/scope-from-www-authenticate", "auth/scope-from-scopes-supported",
		"auth/scope-omitted-when-undefined", "auth/scope-step-up", "auth/scope-retry-limit",
		"auth/token-endpoint-auth-basic", "auth/token-endpoint-auth-post", "auth/token-endpoint-auth-none",
		"auth/pre-registration", "auth/2025-03-26-oauth-metadata-backcompat",
		"auth/2025-03-26-oauth-endpoint-fallback", "auth/resource-mismatch", "auth/offline-access-scope",
		"auth/offline-access-not-supported", "auth/authorization-server-migration", "auth/iss-supported",
		"auth/iss-not-advertised", "auth/iss-supported-missing", "auth/iss-wrong-issuer",
		"auth/iss-unexpected", "auth/iss-normalized", "auth/metadata-issuer-mismatch",
	},
}

var scenarioSummary = regexp.MustCompile(`(?m)^Passed: (\d+)/(\d+), (\d+) failed, (\d+) warnings`)

// TestClientAuthThroughGateway runs the conformance CLIs in client mode: the client under test is
// oauthclient, an MCP client behind an in-process gateway that is the OAuth client of the scenario
// server, authorizing headlessly through the gateway's consent page. Every check of every listed
// scenario must pass, without warnings.
func TestClientAuthThroughGateway(t *testing.T) {
	t.Parallel()
	node := testenv.NodePath(t)
	bin := filepath.Join(t.TempDir(), "oauthclient")
	build := exec.Command("go", "build", "-o", bin, "github.com/mcpwarden/mcpwarden/test/conformance/oauthclient")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building oauthclient: %v\n%s", err, out)
	}
	for _, suite := range []testenv.Suite{testenv.SuiteLegacy, testenv.SuiteModern} {
		cli := testenv.ConformanceCLI(t, suite)
		for _, scenario := range authScenarios[suite] {
			t.Run(string(suite)+"/"+scenario, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, node, cli, "client", "--command", bin, "--scenario", scenario, "-o", t.TempDir())
				cmd.Env = append(os.Environ(), "NO_COLOR=1")
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatalf("conformance CLI: %v\n%s", err, out)
				}
				m := scenarioSummary.FindSubmatch(out)
				if m == nil {
					t.Fatalf("no \"Passed: N/T\" summary in the CLI output:\n%s", out)
				}
				passed, _ := strconv.Atoi(string(m[1]))
				total, _ := strconv.Atoi(string(m[2]))
				failed, _ := strconv.Atoi(string(m[3]))
				warnings, _ := strconv.Atoi(string(m[4]))
				if failed != 0 || warnings != 0 || passed != total || total == 0 || err != nil {
					t.Errorf("%s (%s): %d/%d passed, %d failed, %d warnings, exit error %v; output:\n%s",
						scenario, suite, passed, total, failed, warnings, err, out)
				}
			})
		}
	}
}
