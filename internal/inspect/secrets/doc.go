// Package secrets finds credentials in the text that flows through the gateway — tool arguments, tool
// results, resource contents and prompts — and redacts them, for the inspect stage (⑦) and for the audit
// trail (⑧), which must never store a secret unless capture is configured.
//
// Detection uses the rule set of gitleaks (github.com/zricethezav/gitleaks/v8) as a library: its
// default configuration, compiled once, and its detector, one per rule, run only on windows around the
// rule's keywords (sized from the rule's expression; see docs/detectors.md). The allowlists' stop words
// are checked by this package rather than by gitleaks, with the same meaning, and the per-rule detectors
// have no keyword prefilter of their own: gitleaks' tries for both took most of the engine's memory. This
// package adds byte offsets, a confidence level, a redacted preview, JSON handling and field-name rules.
// Base64-, hex- and percent-encoded credentials are found by decoding candidate runs (found by a byte
// scan) one level deep, with the rules of gitleaks' decoder, and scanning the decoded text with the same
// rules; those findings span the encoded bytes (see scanEncoded).
//
// Contract: Scan, ScanJSON, Redact and RedactJSON are pure (no I/O, no mutable global state beyond the
// rule set compiled on first use and WalkJSON's copy of the last document it walked, which only saves
// the next walk of equal bytes — pii and injection walk the same tool result), deterministic (findings sorted by offset, then rule) and safe for
// concurrent use; they never panic on any input. A Finding never holds the secret itself, only a
// redacted preview, so findings may be logged and audited.
//
// JSON: ScanJSON and RedactJSON visit every string of a document, object keys included (a key that is
// itself a credential is redacted like a value), and additionally flag every scalar value whose key names
// a secret (api_key, password, token, authorization, private_key, client_secret, …, compared without
// case, underscores, dashes, dots or spaces), whatever the value looks like. RedactJSON returns the very
// input slice when nothing matched; otherwise only the strings that changed are re-encoded and every
// other byte is kept.
package secrets
