package discovery

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

func yamlMapValue(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func yamlSet(m *yaml.Node, key string, v *yaml.Node) {
	if _, old := yamlMapValue(m, key); old != nil {
		*old = *v
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func yamlDel(m *yaml.Node, keys ...string) {
	out := m.Content[:0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		drop := false
		for _, k := range keys {
			drop = drop || m.Content[i].Value == k
		}
		if !drop {
			out = append(out, m.Content[i], m.Content[i+1])
		}
	}
	m.Content = out
}

func yamlStr(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func yamlList(items []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, it := range items {
		n.Content = append(n.Content, yamlStr(it))
	}
	return n
}

// yamlWalk calls f for n and every node below it.
func yamlWalk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	for _, c := range n.Content {
		yamlWalk(c, f)
	}
}

// yamlEntryLines returns the 0-based line range [from, to) an entry's block occupies: from its first line to
// the line before the next node outside it, without trailing blank and comment lines.
func yamlEntryLines(doc, entry *yaml.Node, lines []string) (from, to int) {
	inside := map[*yaml.Node]bool{}
	yamlWalk(entry, func(n *yaml.Node) { inside[n] = true })
	next := len(lines) + 1
	yamlWalk(doc, func(n *yaml.Node) {
		if !inside[n] && n.Line > entry.Line && n.Line < next {
			next = n.Line
		}
	})
	from, to = entry.Line-1, next-1
	if to > len(lines) {
		to = len(lines)
	}
	for to > from+1 {
		t := strings.TrimSpace(lines[to-1])
		if t != "" && !strings.HasPrefix(t, "#") {
			break
		}
		to--
	}
	return from, to
}

// linePrefix is the text before a node's column on its line (for a list item: the indentation and "- ").
func linePrefix(lines []string, n *yaml.Node) string {
	if n.Line-1 < len(lines) {
		l := lines[n.Line-1]
		if n.Column-1 <= len(l) {
			return strings.Map(func(r rune) rune {
				if r == '\t' || r == '-' {
					return r
				}
				return ' '
			}, l[:n.Column-1])
		}
	}
	return strings.Repeat(" ", max(n.Column-3, 0)) + "- "
}

// planYAMLFile prepares the rewrite of a Goose or Continue YAML config. Only the lines of each rewritten
// server entry change (re-encoded by yaml.v3, keeping its comments); everything else stays byte for byte.
func planYAMLFile(file string, servers []*Server, gc *gatewayFile, opts *EnrollOptions, fc *FileChange) ([]gatewayServer, func() error, error) {
	orig, err := readLimited(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", file, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(orig, &doc); err != nil || len(doc.Content) == 0 {
		return nil, nil, fmt.Errorf("parse %s: %v", file, err)
	}
	root := doc.Content[0]
	lines := strings.SplitAfter(string(orig), "\n")
	unit := 2
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	var added []gatewayServer
	var problems []string
	for _, s := range servers {
		var entry *yaml.Node
		listItem := false
		switch {
		case s.dialect == dialectGoose:
			_, exts := yamlMapValue(root, "extensions")
			_, entry = yamlMapValue(exts, s.Name)
		case s.dialect == dialectContinue && len(s.pointer) == 2 && s.pointer[0] == "mcpServers":
			_, list := yamlMapValue(root, "mcpServers")
			i, err := strconv.Atoi(s.pointer[1])
			if err == nil && list != nil && list.Kind == yaml.SequenceNode && i < len(list.Content) {
				entry, listItem = list.Content[i], true
			}
		}
		if entry == nil || entry.Kind != yaml.MappingNode || entry.Style&yaml.FlowStyle != 0 || len(entry.Content) == 0 {
			problems = append(problems, fmt.Sprintf("server %q is not a block mapping this tool can rewrite; enrol it by hand", s.Name))
			continue
		}
		from, to := yamlEntryLines(&doc, entry, lines)
		gs := gatewayServer{Name: sanitizeName(s.Name)}
		if s.Transport == TransportStdio {
			gs.Command = append([]string{s.Command}, s.rawArgs...)
			gs.Env = s.env
		} else {
			gs.URL, gs.Headers = s.rawURL, s.headers
			if s.Transport == TransportSSE {
				gs.Transport = TransportSSE
			}
		}
		gs.Name = pickGatewayName(gs, s.Client, gc, added)
		wrap := []string{"wrap", "--config", opts.GatewayConfig, gs.Name}
		if s.Transport == TransportStdio {
			if s.dialect == dialectGoose {
				yamlSet(entry, "cmd", yamlStr(opts.Command))
			} else {
				yamlSet(entry, "command", yamlStr(opts.Command))
			}
			yamlSet(entry, "args", yamlList(wrap))
			yamlDel(entry, "env", "envs")
		} else {
			key := s.urlKey
			if key == "" {
				key = "url"
			}
			yamlSet(entry, key, yamlStr(opts.GatewayURL+"/mcp/"+gs.Name))
			yamlDel(entry, "headers", "requestOptions")
			if _, t := yamlMapValue(entry, "type"); t != nil && strings.EqualFold(t.Value, "sse") {
				if s.dialect == dialectGoose {
					t.Value = "streamable_http"
				} else {
					t.Value = "streamable-http"
				}
			}
		}
		entry.HeadComment = ""
		entry.Content[0].HeadComment = "" // stays in the file above the entry
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(unit)
		if err := enc.Encode(entry); err != nil {
			problems = append(problems, fmt.Sprintf("server %q: %v", s.Name, err))
			continue
		}
		enc.Close()
		indent := strings.Repeat(" ", entry.Column-1)
		var b strings.Builder
		for i, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			switch {
			case i == 0 && listItem:
				b.WriteString(linePrefix(lines, entry) + l) // keep the original "- " marker and spacing
			case l == "":
			default:
				b.WriteString(indent + l)
			}
			b.WriteString("\n")
		}
		if listItem {
			from = entry.Line - 1 // the "- " marker is on the first key's line
		}
		edits = append(edits, edit{from, to, b.String()})
		if !containsServer(gc.Servers, gs) && !containsServer(added, gs) {
			added = append(added, gs)
		}
		fc.Servers = append(fc.Servers, s.Name)
	}
	var perr error
	if len(problems) > 0 {
		perr = fmt.Errorf("%s: %s", file, strings.Join(problems, "; "))
	}
	if len(edits) == 0 {
		return nil, nil, perr
	}
	// Apply bottom-up so earlier line numbers stay valid.
	for i := 0; i < len(edits); i++ {
		for j := i + 1; j < len(edits); j++ {
			if edits[j].from > edits[i].from {
				edits[i], edits[j] = edits[j], edits[i]
			}
		}
	}
	for _, e := range edits {
		tail := append([]string{}, lines[e.to:]...)
		lines = append(append(lines[:e.from], e.text), tail...)
	}
	out := []byte(strings.Join(lines, ""))
	if len(orig) > 0 && orig[len(orig)-1] != '\n' && len(out) > 0 && out[len(out)-1] == '\n' && !bytes.HasSuffix(orig, []byte("\n")) {
		out = out[:len(out)-1]
	}
	var check yaml.Node
	if err := yaml.Unmarshal(out, &check); err != nil {
		return nil, nil, fmt.Errorf("internal error: the rewritten %s does not parse (%v); nothing was written", file, err)
	}
	fc.Backup = file + BackupSuffix
	gc.Servers = append(gc.Servers, added...)
	return added, commitFunc(file, orig, out, append([]string(nil), fc.Servers...), opts), perr
}
