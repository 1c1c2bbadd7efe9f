// Package conformance holds the end-to-end runs of the official MCP conformance suites
// (@modelcontextprotocol/conformance 0.1.16 for the 2025 era, 0.2.0-alpha.12 with --spec-version
// 2026-07-28 for the stateless era). It has no non-test code: the tests start real servers, run the CLIs
// through internal/testenv.RunConformance, and assert on the exact pass/fail counts.
//
// direct_test.go runs both suites directly against the go-sdk v1.8.0 everything-server: the baseline a
// run through the gateway must match.
package conformance
