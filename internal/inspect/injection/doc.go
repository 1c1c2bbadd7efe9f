// Package injection is the prompt-injection detector of the inspect stage (⑦): it scores text that an
// MCP server hands to a model — tool results, resource contents, prompts — for instructions aimed at the
// model rather than the user: overrides ("ignore previous instructions"), new instructions and persona
// changes, requests for the system prompt, concealment from the user, chat-template role markers,
// requests to call tools or to send data somewhere, credential paths, exfiltration URLs (markdown images
// or links whose URL carries data or template placeholders), text hidden in HTML comments or invisible
// styles, invisible Unicode (tags, zero-width, bidi, variation selectors), terminal escape sequences,
// base64/hex-encoded instructions, and the same phrases in other languages.
//
// Contract: Scan and ScanJSON are pure (no I/O, no global mutable state), deterministic and safe for
// concurrent use; they never panic on any input, and their cost is linear in the input (a keyword pass,
// then anchored expressions only where a keyword starts). Keyword rules run on a normalised copy of the
// text (escape sequences and invisible characters removed via package sanitize, compatibility forms
// folded, Latin, Greek and Cyrillic diacritics stripped, lower case); locations are byte offsets in the
// original text. The Report's Score (0–100) sums the strongest finding of each category, with bonuses
// when an instruction comes with an action (call a tool, send data) or arrives through a hidden channel,
// and a discount for phrases quoted in text that discusses prompt injection. Level grades the score with
// the severity scale of package poison; LevelBlock is the level a gateway should block at by default.
//
// The calibration is tested by testdata/corpus: no benign fixture (real READMEs, source files, logs,
// API responses, mail, documentation about prompt injection) may reach LevelBlock.
//
// An optional external classifier (Classifier, HTTPClassifier) can add a model's opinion; it is I/O and
// so is never called by Scan.
package injection
