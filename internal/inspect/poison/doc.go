// Package poison is the tool-poisoning scanner of the inspect stage (⑦): it reads an MCP server's
// surface — server instructions, tools (names, titles, descriptions and every string inside their input
// and output schemas and annotations), prompts, resources and resource templates — and reports text aimed
// at the model rather than the user: hidden instruction blocks, concealment and override wording,
// credential paths, exfiltration sinks, side-channel parameters, invisible-character and escape-sequence
// smuggling, padding, and cross-server shadowing.
//
// Contract: Scan is pure (no I/O, no global mutable state), deterministic (findings are sorted by location
// then rule) and safe for concurrent use; it never panics on any input. Keyword rules run on a normalised
// copy of each text (escapes and invisible characters removed, NFKC, case-folded, diacritics stripped,
// confusable letters and light leetspeak folded) so that casing, spacing, punctuation and
// compatibility-form variants do not evade them; character rules run on the original text. Text recovered
// from a hidden channel (Unicode tags, variation selectors, base64/hex) is scanned as well and raises the
// severity of what it contains. Rule IDs are stable and documented in docs/poisoning.md.
//
// Severity is calibrated on real servers: no description of the reference and well-known public MCP
// servers in testdata/corpus/benign rates high or critical; a hidden block with an imperative and a
// credential path rates critical.
package poison
