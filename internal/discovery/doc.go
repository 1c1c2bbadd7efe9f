// Package discovery finds MCP servers on a machine and scores their risk: the "discovery" capability of
// mcpwarden (DESIGN.md §1).
//
// Contract:
//   - Scan reads the configuration files of the known MCP clients (Clients) at their user, project and
//     managed (MDM) locations for one OS layout, tolerating JSONC, TOML and YAML. A malformed file becomes a
//     FileError in the Inventory, never a failure of the scan. Project roots are searched with a bounded depth
//     and a bounded number of directories; the scan never walks whole trees.
//   - Every configured server becomes one Server entry: transport, argv or URL, the *names* of its
//     environment variables and headers (values are never copied into the inventory), package pin status,
//     whether it is routed through mcpwarden, and a Risk with reasons. A server that is not routed through
//     mcpwarden is a shadow server.
//   - ScanProcesses (a /proc tree) and Probe (host:port targets, bounded in count, rate and time) find
//     running servers; Connect (opt-in) lists tools of configured servers and hands them to a ToolScanner.
//   - Enroll rewrites client configs so every server goes through the gateway, keeping a backup of the
//     original bytes; Unenroll restores those bytes exactly.
//
// Nothing in this package prints secrets: inline secrets are reported by location (env:NAME, header:NAME,
// arg:N), never by value.
package discovery
