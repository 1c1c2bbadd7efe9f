// Package pii finds personal data and identifying tokens in the text that flows through the gateway —
// tool arguments, tool results, resource contents and prompts — and redacts them: e-mail addresses,
// phone numbers (E.164 and common national formats), payment card numbers (Luhn-validated, known IIN
// ranges), IBANs (mod-97 validated), US social security numbers (invalid ranges excluded), IPv4 and
// IPv6 addresses, PEM private keys and JSON Web Tokens.
//
// Contract: Scan, Redact, ScanJSON and RedactJSON are pure (no I/O, no global mutable state),
// deterministic (findings sorted by offset) and safe for concurrent use; they never panic on any
// input. Each finding has a confidence: High when a checksum or a structural check validates it (Luhn
// with a known IIN, IBAN mod 97, a PEM block with its END line, a JWT whose header decodes to JSON with
// "alg"), Medium for a well-formed match without a checksum, Low for shapes that honest data sometimes
// shares. Honest numbers — versions, dates, times, UUIDs, hashes, timestamps, ports — are rejected by
// boundary and shape checks, not by confidence. A Finding never holds the matched value itself, only
// a masked preview.
//
// The JSON functions visit every key and string value of a document with the walker of package
// secrets, and keep the input bytes when nothing matched.
package pii
