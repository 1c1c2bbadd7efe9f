// Package e2e holds end-to-end tests of mcpwarden against real third-party MCP servers (the npm reference
// servers), driven by real go-sdk clients through an in-process gateway.
package e2e
