package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

var tomlHeader = regexp.MustCompile(`^\s*\[(\[)?\s*(.+?)\s*\](\])?\s*(#.*)?$`)

// splitTOMLKey splits a dotted TOML key (bare, "basic" or 'literal' parts).
func splitTOMLKey(s string) ([]string, error) {
	var parts []string
	for {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, errors.New("empty key")
		}
		var part string
		switch s[0] {
		case '"':
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, errors.New("unterminated quoted key")
			}
			u, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil, err
			}
			part, s = u, s[end+1:]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated literal key")
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexAny(s, ". \t")
			if end < 0 {
				end = len(s)
			}
			part, s = s[:end], s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimSpace(s)
		if s == "" {
			return parts, nil
		}
		if s[0] != '.' {
			return nil, fmt.Errorf("unexpected %q in key", s)
		}
		s = s[1:]
	}
}

// tomlServerSpan finds the byte span of the [mcp_servers.NAME] table and its sub-tables, without the
// blank and comment lines that trail it (they belong to what follows).
func tomlServerSpan(data []byte, name string) (start, end int, ok bool) {
	start, end = -1, -1
	off := 0
	lastContent := -1
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		text := strings.TrimRight(string(line), "\r\n")
		trimmed := strings.TrimSpace(text)
		if m := tomlHeader.FindStringSubmatch(text); m != nil && !strings.HasPrefix(trimmed, "#") {
			path, err := splitTOMLKey(m[2])
			mine := err == nil && m[1] == "" && len(path) >= 2 && path[0] == "mcp_servers" && path[1] == name
			if start >= 0 && !mine {
				return start, lastContent, true
			}
			if start < 0 && mine && len(path) == 2 {
				start = off
			}
		}
		if start >= 0 && trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			lastContent = off + len(line)
		}
		off += len(line)
	}
	if start >= 0 {
		return start, lastContent, true
	}
	return 0, 0, false
}

// planTOMLFile prepares the rewrite of a Codex config.toml: each shadow server's [mcp_servers.NAME] table is
// replaced by one that runs `mcpwarden wrap` (stdio) or points at the gateway (HTTP). Keys the server table
// has besides command/args/env/url/http_headers are kept; comments inside the rewritten tables are not.
func planTOMLFile(file string, servers []*Server, gc *gatewayFile, opts *EnrollOptions, fc *FileChange) ([]gatewayServer, func() error, error) {
	orig, err := readLimited(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", file, err)
	}
	out := bytes.Clone(orig)
	var added []gatewayServer
	var problems []string
	for _, s := range servers {
		start, end, ok := tomlServerSpan(out, s.Name)
		if !ok {
			problems = append(problems, fmt.Sprintf("server %q is not written as a [mcp_servers.%s] table; enrol it by hand", s.Name, s.Name))
			continue
		}
		var section map[string]any
		if _, err := toml.Decode(string(out[start:end]), &section); err != nil {
			problems = append(problems, fmt.Sprintf("server %q: %v", s.Name, err))
			continue
		}
		ms, _ := section["mcp_servers"].(map[string]any)
		entry, _ := ms[s.Name].(map[string]any)
		if entry == nil {
			problems = append(problems, fmt.Sprintf("server %q: table not found", s.Name))
			continue
		}
		if _, ok := entry["bearer_token_env_var"]; ok {
			problems = append(problems, fmt.Sprintf("server %q reads its token from $%v; add it to the gateway config with that token and point Codex at the gateway by hand",
				s.Name, entry["bearer_token_env_var"]))
			continue
		}
		gs := gatewayServer{Name: sanitizeName(s.Name)}
		if s.Transport == TransportStdio {
			gs.Command = append([]string{s.Command}, s.rawArgs...)
			gs.Env = s.env
		} else {
			gs.URL, gs.Headers = s.rawURL, s.headers
		}
		gs.Name = pickGatewayName(gs, s.Client, gc, added)
		if s.Transport == TransportStdio {
			entry["command"] = opts.Command
			entry["args"] = []string{"wrap", "--config", opts.GatewayConfig, gs.Name}
			delete(entry, "env")
		} else {
			entry["url"] = opts.GatewayURL + "/mcp/" + gs.Name
			delete(entry, "http_headers")
			delete(entry, "env_http_headers")
		}
		var buf bytes.Buffer
		enc := toml.NewEncoder(&buf)
		enc.Indent = ""
		if err := enc.Encode(map[string]any{"mcp_servers": map[string]any{s.Name: entry}}); err != nil {
			problems = append(problems, fmt.Sprintf("server %q: %v", s.Name, err))
			continue
		}
		text := strings.TrimPrefix(buf.String(), "[mcp_servers]\n")
		text = strings.TrimRight(text, "\n")
		if end > start && out[end-1] == '\n' {
			text += "\n"
		}
		out = append(out[:start:start], append([]byte(text), out[end:]...)...)
		if !containsServer(gc.Servers, gs) && !containsServer(added, gs) {
			added = append(added, gs)
		}
		fc.Servers = append(fc.Servers, s.Name)
	}
	var perr error
	if len(problems) > 0 {
		perr = fmt.Errorf("%s: %s", file, strings.Join(problems, "; "))
	}
	if bytes.Equal(out, orig) {
		return nil, nil, perr
	}
	var check map[string]any
	if _, err := toml.Decode(string(out), &check); err != nil {
		return nil, nil, fmt.Errorf("internal error: the rewritten %s does not parse (%v); nothing was written", file, err)
	}
	fc.Backup = file + BackupSuffix
	gc.Servers = append(gc.Servers, added...)
	return added, commitFunc(file, orig, out, append([]string(nil), fc.Servers...), opts), perr
}
