// Package policy is stage ④ of mcpwarden's data path: it decides what a principal may do through the gateway.
//
// A policy is an ordered list of rules written in YAML (inline under the config's policy: key or in a file
// of its own). Each rule has static matchers (principal, client, server, method, tool/prompt/resource name,
// tool annotations, session labels, detector findings), an optional CEL condition (when:) over the call —
// including the structured destructive-action facts from package destructive, bound as `call` — and an
// effect: allow, deny, ask, redact or limit.
//
// The contract:
//
//   - Load/Compile read and compile a policy once; every error names the file, the line and the rule, and
//     CEL errors are reported with their position. A Policy is immutable and safe for concurrent use.
//   - Policy.Evaluate is pure: Input → Decision, no I/O, no clock, no shared mutable state. Rate limits are
//     evaluated to LimitHits; the stateful Limiter (owned by the caller) consumes them.
//   - Evaluation order is first match: redact and limit rules accumulate (every matching one applies) and
//     never end evaluation; the first matching allow, deny or ask rule decides; when none matches, the
//     policy's default effect decides for calls (tools/call, prompts/get, resources/read, …) and allow for
//     protocol plumbing (initialize, ping, lists, notifications).
//   - Names are compared in canonical form (NFKC, case folding, invisible characters removed, common
//     confusable letters mapped to ASCII), so a variant of a tool name never gets a weaker decision than
//     the name itself.
//   - Policy.Visible answers whether a listed item can be used at all; the gateway hides the others from
//     tools/list, prompts/list and resources/list and answers calls to them as unknown.
//
// Holder keeps the active policy and swaps it atomically on reload (file change or SIGHUP); a policy that
// does not compile is rejected and the previous one stays active. See docs/policy.md.
package policy
