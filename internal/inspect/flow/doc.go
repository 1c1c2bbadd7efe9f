// Package flow is mcpwarden's data-flow guard (part of the inspect stage ⑦): it labels tools by what their
// data is — private (reads non-public data), untrusted (returns content an outsider controls), sink (can
// send data outside) and destructive — and tracks, per client session, which labels, servers and detector
// findings have entered the session, with the calls that brought each in. Policy (④) reads that state
// (session.labels, session.servers, tool.labels in CEL) to stop toxic flows such as the "lethal trifecta":
// untrusted content and private data in one session, followed by a call to a sink.
//
// It also runs the data detectors of packages secrets, pii and injection over tool arguments and results
// and says what to do with what they find (Guard): redact, block, taint the session, or only record.
//
// Labels come from three places, in this order of authority (docs/dataflow.md):
//
//  1. configuration: servers[].labels (every tool of the server) and servers[].tool_labels (one tool);
//     a tool named in tool_labels gets exactly those labels plus the server's;
//  2. annotations of the tool: openWorldHint true with readOnlyHint true → untrusted; openWorldHint true
//     without readOnlyHint → untrusted and sink; destructiveHint true → destructive (MCP hints are only
//     believed when they add risk — a hint never removes a label);
//  3. heuristics over the tool's name (documented word lists; dataflow.heuristics: false turns them off).
//
// Contract: Labeler and Guard are safe for concurrent use and pure; Tracker is safe for concurrent use,
// bounded in memory (sessions idle past their TTL are forgotten, the number of sessions and of events kept
// per label are capped) and never blocks on I/O.
package flow
