// Package pin is the tool-pinning part of the inspect stage (⑦): trust on first use for everything an MCP
// server shows a model. Each tool, prompt, resource template, the server's instructions and the server's
// identity (how it is launched or reached, and the serverInfo it reports) is reduced to a
// canonical JSON definition (sorted keys, no insignificant whitespace, only the fields a model reads) and
// pinned by its SHA-256 in the store (data_dir/pins.db, or the audit PostgreSQL database shared by replicas). When a list
// shows a definition whose hash differs from the approved pin, the item is quarantined until an operator
// approves the new definition (`mcpwarden pins approve`).
//
// Contract: Check never approves a changed definition by itself; any store error is returned to the caller,
// which must fail closed (refuse the list or the call). State may answer from memory on SQLite, but only
// while pins.db and its log are provably unchanged since it read them (cache.go): a change by any process
// is seen by the next State. Canonical is deterministic for equal JSON values,
// whatever the key order, whitespace or number spelling of the input.
package pin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Kinds of pinned items.
const (
	KindTool             = "tool"
	KindPrompt           = "prompt"
	KindResourceTemplate = "resource_template"
	KindInstructions     = "instructions"
	// KindServer is the server's identity; its one item is named ServerIdentity.
	KindServer = "server"
)

// ServerIdentity is the name of a server's identity item (kind server).
const ServerIdentity = "identity"

// pinnedFields are, per kind, the fields of a list item that make up its definition; everything else
// (_meta, icons) is ignored so that cosmetic churn does not quarantine a tool.
var pinnedFields = map[string][]string{
	KindTool:             {"name", "title", "description", "inputSchema", "outputSchema", "annotations"},
	KindPrompt:           {"name", "title", "description", "arguments"},
	KindResourceTemplate: {"name", "title", "description", "uriTemplate", "mimeType"},
}

// Item is one pinnable definition.
type Item struct {
	// Kind is tool, prompt, resource_template or instructions.
	Kind string
	// Name is the item's name (for instructions: "instructions").
	Name string
	// Definition is the canonical JSON of the item's pinned fields.
	Definition []byte
	// Hash is hex SHA-256 of Definition.
	Hash string
}

// ItemFromList builds the Item of one element of a tools/list, prompts/list or resources/templates/list
// result (kind says which). It fails on an element that is not a JSON object with a string name.
func ItemFromList(kind string, raw json.RawMessage) (Item, error) {
	fields, ok := pinnedFields[kind]
	if !ok {
		return Item{}, fmt.Errorf("pin: unknown item kind %q", kind)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Item{}, fmt.Errorf("pin: a %s is not a JSON object: %w", kind, err)
	}
	var name string
	if err := json.Unmarshal(obj["name"], &name); err != nil || name == "" {
		return Item{}, fmt.Errorf("pin: a %s has no name", kind)
	}
	sel := map[string]json.RawMessage{}
	for _, f := range fields {
		if v, ok := obj[f]; ok {
			sel[f] = v
		}
	}
	b, err := json.Marshal(sel)
	if err != nil {
		return Item{}, fmt.Errorf("pin: %s %q: %w", kind, name, err)
	}
	return newItem(kind, name, b)
}

// InstructionsItem builds the Item of a server's initialize instructions.
func InstructionsItem(instructions string) Item {
	b, _ := json.Marshal(map[string]string{"instructions": instructions})
	it, _ := newItem(KindInstructions, KindInstructions, b)
	return it
}

// ServerInfo is the implementation a server reports (serverInfo of initialize or server/discover); only
// name and version are pinned.
type ServerInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// identityDef is the definition of a server identity item.
type identityDef struct {
	// Launch is how the gateway starts or reaches the server (from its config: command line, package,
	// program hash, or transport and URL).
	Launch json.RawMessage `json:"launch"`
	// ServerInfo is what the server says it is.
	ServerInfo ServerInfo `json:"serverInfo"`
}

// ServerItem builds the identity item of a server from its launch description (a JSON object) and the
// serverInfo it reported.
func ServerItem(launch json.RawMessage, info ServerInfo) (Item, error) {
	b, err := json.Marshal(identityDef{Launch: launch, ServerInfo: info})
	if err != nil {
		return Item{}, fmt.Errorf("pin: server identity: %w", err)
	}
	return newItem(KindServer, ServerIdentity, b)
}

// ParseServerItem splits a stored identity definition into its launch description and serverInfo.
func ParseServerItem(def string) (json.RawMessage, ServerInfo, error) {
	var d identityDef
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		return nil, ServerInfo{}, fmt.Errorf("pin: a stored server identity is not valid: %w", err)
	}
	return d.Launch, d.ServerInfo, nil
}

// DescribeServer summarises a stored server identity for people: how the server is launched or reached
// and what it reports, e.g. `stdio [npx -y pkg@1.2.3] (npm:pkg@1.2.3), reports "pkg" version "1.2.3"`.
func DescribeServer(def string) string {
	launch, info, err := ParseServerItem(def)
	if err != nil {
		return def
	}
	var l struct {
		Transport   string   `json:"transport"`
		Command     []string `json:"command"`
		Package     string   `json:"package"`
		SHA256      string   `json:"sha256"`
		URL         string   `json:"url"`
		QuerySHA256 string   `json:"query_sha256"`
	}
	_ = json.Unmarshal(launch, &l)
	var b strings.Builder
	b.WriteString(l.Transport)
	if l.Transport == "stdio" {
		fmt.Fprintf(&b, " [%s]", strings.Join(l.Command, " "))
	} else {
		b.WriteString(" " + l.URL)
		if l.QuerySHA256 != "" {
			b.WriteString("?… (query sha256 " + short(l.QuerySHA256) + ")")
		}
	}
	var extra []string
	if l.Package != "" {
		extra = append(extra, l.Package)
	}
	if l.SHA256 != "" {
		extra = append(extra, "program sha256 "+short(l.SHA256))
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	fmt.Fprintf(&b, ", reports %q version %q", info.Name, info.Version)
	return b.String()
}

func newItem(kind, name string, raw []byte) (Item, error) {
	c, err := Canonical(raw)
	if err != nil {
		return Item{}, fmt.Errorf("pin: %s %q: %w", kind, name, err)
	}
	sum := sha256.Sum256(c)
	return Item{Kind: kind, Name: name, Definition: c, Hash: hex.EncodeToString(sum[:])}, nil
}

// Canonical returns the canonical form of the JSON document raw: object keys sorted (by their UTF-8
// bytes), no insignificant whitespace, strings (keys and values) in Unicode NFC and re-encoded without HTML
// escaping, numbers by their exact decimal value (canonNumber: 10.50, 1.05e1 and 10.5 are one number). Duplicate object keys are an error: a definition that could be
// read two ways cannot be pinned.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := canonValue(dec, &buf); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("canonical JSON: trailing data after the value")
	}
	return buf.Bytes(), nil
}

func canonValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("canonical JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			type member struct {
				key string
				val []byte
			}
			var members []member
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return fmt.Errorf("canonical JSON: %w", err)
				}
				k, _ := kt.(string)
				if seen[k] {
					return fmt.Errorf("canonical JSON: duplicate key %q", k)
				}
				seen[k] = true
				var vb bytes.Buffer
				if err := canonValue(dec, &vb); err != nil {
					return err
				}
				members = append(members, member{k, vb.Bytes()})
			}
			if _, err := dec.Token(); err != nil {
				return fmt.Errorf("canonical JSON: %w", err)
			}
			sort.Slice(members, func(i, j int) bool { return members[i].key < members[j].key })
			buf.WriteByte('{')
			for i, m := range members {
				if i > 0 {
					buf.WriteByte(',')
				}
				writeString(buf, m.key)
				buf.WriteByte(':')
				buf.Write(m.val)
			}
			buf.WriteByte('}')
		case '[':
			buf.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := canonValue(dec, buf); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return fmt.Errorf("canonical JSON: %w", err)
			}
			buf.WriteByte(']')
		default:
			return fmt.Errorf("canonical JSON: unexpected %v", t)
		}
	case string:
		writeString(buf, t)
	case json.Number:
		buf.WriteString(canonNumber(t.String()))
	case bool:
		if t {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case nil:
		buf.WriteString("null")
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	s = norm.NFC.String(s)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// Pretty indents a canonical definition for humans (one member per line, keys still sorted), so that a
// line diff of two definitions shows exactly which field changed.
func Pretty(def []byte) string {
	if len(def) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, def, "", "  "); err != nil {
		return string(def)
	}
	return b.String()
}

// Diff returns a line diff of two texts: unchanged lines start with "  ", removed ones with "- ", added
// ones with "+ ".
func Diff(old, new string) string {
	a, b := splitLines(old), splitLines(new)
	// Longest common subsequence table; definitions are small.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + a[i] + "\n")
			i++
		default:
			out.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// canonNumber spells a JSON number by its exact decimal value, so that two spellings of one value (1, 1.0,
// 1e0, 10e-1; -0 and 0) are one definition while any change of value, however small, is another. No
// rounding to float64 happens: 9007199254740993 and 9007199254740992 stay apart. Values are written plainly
// (123000, 0.00015) when the plain form is short, else as d.ddde±N.
func canonNumber(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 32)
		if err != nil {
			if neg {
				return "-" + s
			}
			return s // an absurd exponent: as written
		}
		mant, exp = s[:i], e
	}
	digits := mant
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		digits = mant[:i] + mant[i+1:]
		exp -= int64(len(mant) - i - 1)
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0"
	}
	for strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		exp++
	}
	sign := ""
	if neg {
		sign = "-"
	}
	n := int64(len(digits))
	switch {
	case exp >= 0 && n+exp <= 21:
		return sign + digits + strings.Repeat("0", int(exp))
	case exp < 0 && n+exp > 0:
		return sign + digits[:n+exp] + "." + digits[n+exp:]
	case exp < 0 && n+exp > -7:
		return sign + "0." + strings.Repeat("0", int(-(n+exp))) + digits
	}
	out := sign + digits[:1]
	if n > 1 {
		out += "." + digits[1:]
	}
	return out + "e" + strconv.FormatInt(exp+n-1, 10)
}
