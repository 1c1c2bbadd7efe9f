package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Capture modes: what of arguments, results and error data a record keeps.
const (
	// CaptureFull keeps payloads as sent (still size-capped). Secrets are stored: opt in knowingly.
	CaptureFull = "full"
	// CaptureRedacted (default) keeps payloads with secret-looking fields and values replaced by Redacted.
	CaptureRedacted = "redacted"
	// CaptureHashed replaces every scalar value with a keyed HMAC-SHA256, so equal values can be
	// correlated without storing them.
	CaptureHashed = "hashed"
	// CaptureNone keeps no payloads at all.
	CaptureNone = "none"
)

// Redacted replaces a secret in a stored record.
const Redacted = "[REDACTED]"

// Capturer turns a live payload into what a record stores. It never modifies its input.
type Capturer struct {
	// Mode is one of the Capture* constants ("" means CaptureRedacted).
	Mode string
	// MaxBytes caps one stored payload; a larger one is replaced by a stub with its size and SHA-256.
	// 0 means 64 KiB.
	MaxBytes int
	// HMACKey keys CaptureHashed.
	HMACKey []byte
	// Redact is an optional detector-based redactor for string values in CaptureRedacted mode (the
	// data-flow detectors plug in here: secrets and personal data inside a longer text are replaced, the
	// rest of the text kept). It returns the text and whether it changed. Nil: only the built-in patterns
	// apply.
	Redact func(s string) (string, bool)
}

func (c *Capturer) mode() string {
	if c.Mode == "" {
		return CaptureRedacted
	}
	return c.Mode
}

// Payload returns the stored form of a JSON payload (nil stays nil).
func (c *Capturer) Payload(raw json.RawMessage) json.RawMessage { return c.payload(raw, true) }

// PayloadScanned is Payload for a payload in which the caller already ran the detectors Redact runs and
// they found nothing, at any confidence (the data-flow stage scans every tool result before it is
// recorded): Redact is not run over its strings again. The built-in field-name and credential-shape
// patterns still apply, and every other mode behaves as Payload.
func (c *Capturer) PayloadScanned(raw json.RawMessage) json.RawMessage { return c.payload(raw, false) }

func (c *Capturer) payload(raw json.RawMessage, detect bool) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	max := c.MaxBytes
	if max <= 0 {
		max = 64 << 10
	}
	var out json.RawMessage
	switch c.mode() {
	case CaptureNone:
		return nil
	case CaptureFull:
		out = raw
	default:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return stub(raw, "not valid JSON")
		}
		if c.mode() == CaptureHashed {
			v = c.hash(v)
		} else {
			v = c.redact(v, "", detect)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return stub(raw, "could not re-encode")
		}
		out = b
	}
	if len(out) > max {
		return stub(raw, fmt.Sprintf("larger than the %d-byte capture limit", max))
	}
	return out
}

func stub(raw []byte, why string) json.RawMessage {
	sum := sha256.Sum256(raw)
	b, _ := json.Marshal(map[string]any{"_omitted": why, "bytes": len(raw), "sha256": hex.EncodeToString(sum[:])})
	return b
}

func (c *Capturer) hash(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = c.hash(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = c.hash(e)
		}
		return t
	case nil:
		return nil
	default:
		b, _ := json.Marshal(t)
		m := hmac.New(sha256.New, c.HMACKey)
		m.Write(b)
		return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
	}
}

func (c *Capturer) redact(v any, key string, detect bool) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if SecretKey(k) {
				switch e.(type) {
				case nil, bool, json.Number:
					// Counts and flags (max_tokens, has_password) are not credentials.
				default:
					t[k] = Redacted
					continue
				}
			}
			t[k] = c.redact(e, k, detect)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = c.redact(e, key, detect)
		}
		return t
	case string:
		if SecretValue(t) {
			return Redacted
		}
		if detect && c.Redact != nil && len(t) >= 8 {
			if out, changed := c.Redact(t); changed {
				return out
			}
		}
		return t
	default:
		return v
	}
}

// secretKeyWords are substrings of field names whose values are credentials.
var secretKeyWords = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "api-key", "accesskey",
	"access_key", "private_key", "privatekey", "authorization", "cookie", "credential", "session_key",
	"client_secret", "signing_key",
}

// SecretKey reports whether a field or header name names a credential (api_key, X-Api-Key, password,
// client_secret, access_token, Authorization, Cookie, …).
func SecretKey(name string) bool {
	n := strings.ToLower(name)
	if n == "progresstoken" || n == "nextcursor" || n == "cursor" {
		return false
	}
	for _, w := range secretKeyWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// secretValue matches well-known credential shapes: bearer tokens, JWTs, PEM private keys, and the
// prefixed key formats of common providers.
var secretValue = regexp.MustCompile(`(?i)^(bearer|basic)\s+\S{8,}|` +
	`^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.|` +
	`-----BEGIN [A-Z ]*PRIVATE KEY-----|` +
	`\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{16,}|\bsk-[A-Za-z0-9_-]{20,}|\bgh[pousr]_[A-Za-z0-9]{30,}|` +
	`\bgithub_pat_[A-Za-z0-9_]{30,}|\bAKIA[0-9A-Z]{16}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{35}\b|` +
	`\bglpat-[A-Za-z0-9_-]{20,}`)

// SecretValue reports whether a string value looks like a credential.
func SecretValue(s string) bool {
	return len(s) >= 16 && maybeSecretValue(s) && secretValue.MatchString(s)
}

// maybeSecretValue is a quick test run before secretValue, false only when secretValue cannot match: every
// alternative of secretValue needs one of a few literals (case-insensitive), so an ASCII string holding none
// of them is skipped without running the regexp. A string with any non-ASCII byte goes to the regexp (its
// case folding also matches ſ for s and K for k).
func maybeSecretValue(s string) bool {
	if hasPrefixFold(s, "bearer") || hasPrefixFold(s, "basic") || hasPrefixFold(s, "eyj") {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return true
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		rest := s[i:]
		switch c {
		case '-':
			if hasPrefixFold(rest, "-----begin") {
				return true
			}
		case '_':
			if hasPrefixFold(rest, "_live_") || hasPrefixFold(rest, "_test_") {
				return true
			}
		case 's':
			if hasPrefixFold(rest, "sk-") {
				return true
			}
		case 'g':
			if hasPrefixFold(rest, "github_pat_") || hasPrefixFold(rest, "glpat-") {
				return true
			}
			if len(rest) >= 4 && (rest[1]|0x20) == 'h' && strings.IndexByte("pousrPOUSR", rest[2]) >= 0 && rest[3] == '_' {
				return true
			}
		case 'a':
			if hasPrefixFold(rest, "akia") || hasPrefixFold(rest, "aiza") {
				return true
			}
		case 'x':
			if hasPrefixFold(rest, "xox") {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold reports whether s starts with lower (ASCII, lower case), ignoring ASCII case.
func hasPrefixFold(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Headers returns a copy of h for a record: credential headers are redacted, and the result is nil when
// h is empty.
func Headers(h http.Header) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string][]string, len(h))
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := h[k]
		if SecretKey(k) || strings.EqualFold(k, "Proxy-Authorization") || strings.EqualFold(k, "Set-Cookie") {
			red := make([]string, len(vs))
			for i := range red {
				red[i] = Redacted
			}
			out[k] = red
			continue
		}
		cp := make([]string, len(vs))
		for i, v := range vs {
			if SecretValue(v) {
				v = Redacted
			}
			cp[i] = v
		}
		out[k] = cp
	}
	return out
}
