package discovery

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// HasFindings reports whether the inventory holds something `discover` exits 1 for: a shadow server,
// process or endpoint, or a server whose risk level is high or critical.
func (inv *Inventory) HasFindings() bool {
	for _, s := range inv.Servers {
		if s.Shadow || s.Risk.Level == "high" || s.Risk.Level == "critical" {
			return true
		}
	}
	for _, p := range inv.Processes {
		if p.Shadow {
			return true
		}
	}
	for _, e := range inv.Endpoints {
		if e.Shadow {
			return true
		}
	}
	return false
}

// WriteJSON writes the inventory as indented JSON (the documented, stable form).
func (inv *Inventory) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

// WriteTable writes a human-readable summary.
func (inv *Inventory) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSCOPE\tSERVER\tTRANSPORT\tTARGET\tPIN\tROUTED\tRISK\tREASONS")
	for _, s := range inv.Servers {
		target := s.URL
		if s.Transport == TransportStdio {
			target = strings.Join(append([]string{s.Command}, s.Args...), " ")
		}
		if len(target) > 60 {
			target = target[:57] + "..."
		}
		routed := "SHADOW"
		if s.Routed {
			routed = s.RoutedVia
		}
		var codes []string
		for _, r := range s.Risk.Reasons {
			codes = append(codes, r.Code)
		}
		name := s.Name
		if s.Disabled {
			name += " (disabled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d %s\t%s\n", s.Client, s.Scope, name, s.Transport, target,
			s.Package.Pin, routed, s.Risk.Score, s.Risk.Level, strings.Join(codes, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(inv.Processes) > 0 {
		fmt.Fprintln(w, "\nRUNNING PROCESSES")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PID\tCLIENT\tMATCH\tSHADOW\tCOMMAND")
		for _, p := range inv.Processes {
			cmd := strings.Join(p.Command, " ")
			if len(cmd) > 80 {
				cmd = cmd[:77] + "..."
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%s\n", p.PID, p.Client, p.Match, p.Shadow, cmd)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(inv.Endpoints) > 0 {
		fmt.Fprintln(w, "\nMCP ENDPOINTS")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "URL\tTRANSPORT\tERA\tSERVER\tAUTH\tSOURCE\tSHADOW")
		for _, e := range inv.Endpoints {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%t\n", e.URL, e.Transport, e.Era, strings.TrimSpace(e.ServerName+" "+e.ServerVersion), e.AuthRequired, e.Source, e.Shadow)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, e := range inv.Errors {
		fmt.Fprintf(w, "\nwarning: %s: %s", e.Path, e.Error)
	}
	if len(inv.Errors) > 0 {
		fmt.Fprintln(w)
	}
	shadow := 0
	for _, s := range inv.Servers {
		if s.Shadow {
			shadow++
		}
	}
	_, err := fmt.Fprintf(w, "\n%d server(s) in %d file(s), %d shadow, %d running process(es), %d endpoint(s)\n",
		len(inv.Servers), len(inv.Files), shadow, len(inv.Processes), len(inv.Endpoints))
	return err
}

// SARIF 2.1.0 document types (the subset mcpwarden writes).
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
	DefaultConfig    struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *struct {
			StartLine int `json:"startLine"`
		} `json:"region,omitempty"`
	} `json:"physicalLocation"`
}

var ruleText = map[string]string{
	ReasonShadow:          "MCP server not routed through mcpwarden (shadow MCP)",
	ReasonUnpinned:        "Package not pinned to an exact version",
	ReasonUnpinnedGit:     "Git source not pinned to a commit",
	ReasonDockerNoDigest:  "Docker image not pinned by digest",
	ReasonInlineSecret:    "Literal secret in an MCP client config",
	ReasonPlainHTTP:       "Plain HTTP to a non-loopback MCP server",
	ReasonBroadFilesystem: "Filesystem server given a broad root",
	ReasonUnknownPublish:  "Package from an unknown publisher",
	ReasonPipeToShell:     "Command pipes a download into a shell",
	ReasonToolFinding:     "Tool definition flagged by the scanner",
	"config-error":        "MCP client config could not be read",
}

func sarifLevel(points int) string {
	switch {
	case points >= 25:
		return "error"
	case points >= 15:
		return "warning"
	}
	return "note"
}

func fileURI(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

func newLocation(file string, line int) sarifLocation {
	var l sarifLocation
	l.PhysicalLocation.ArtifactLocation.URI = fileURI(file)
	if line > 0 {
		l.PhysicalLocation.Region = &struct {
			StartLine int `json:"startLine"`
		}{line}
	}
	return l
}

// WriteSARIF writes one SARIF 2.1.0 result per finding (risk reason) of every server, located at the
// config file (and line) that declares it, plus one result per unreadable config file.
func (inv *Inventory) WriteSARIF(w io.Writer) error {
	used := map[string]int{}
	var results []sarifResult
	for _, s := range inv.Servers {
		for _, r := range s.Risk.Reasons {
			lvl := sarifLevel(r.Points)
			if p, ok := used[r.Code]; !ok || r.Points > p {
				used[r.Code] = r.Points
			}
			results = append(results, sarifResult{
				RuleID: r.Code, Level: lvl,
				Message:   sarifMessage{Text: fmt.Sprintf("%s server %q: %s", s.Client, s.Name, r.Message)},
				Locations: []sarifLocation{newLocation(s.File, s.Line)},
				Properties: map[string]any{"server": s.Name, "server_id": s.ID, "client": s.Client, "scope": s.Scope,
					"risk_score": s.Risk.Score, "risk_level": s.Risk.Level},
			})
		}
	}
	for _, e := range inv.Errors {
		if e.Client == "" {
			continue
		}
		used["config-error"] = 15
		results = append(results, sarifResult{RuleID: "config-error", Level: "warning",
			Message: sarifMessage{Text: e.Error}, Locations: []sarifLocation{newLocation(e.Path, 0)}})
	}
	var rules []sarifRule
	for _, id := range sortedKeys(used) {
		r := sarifRule{ID: id, ShortDescription: sarifMessage{Text: ruleText[id]}}
		r.DefaultConfig.Level = sarifLevel(used[id])
		rules = append(rules, r)
	}
	sort.SliceStable(results, func(i, j int) bool {
		return results[i].Locations[0].PhysicalLocation.ArtifactLocation.URI < results[j].Locations[0].PhysicalLocation.ArtifactLocation.URI
	})
	if results == nil {
		results = []sarifResult{}
	}
	if rules == nil {
		rules = []sarifRule{}
	}
	doc := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool:    sarifTool{Driver: sarifDriver{Name: "mcpwarden", InformationURI: "https://github.com/mcpwarden/mcpwarden", Rules: rules}},
			Results: results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// Summary counts servers by risk level (for logs and reports).
func (inv *Inventory) Summary() string {
	counts := map[string]int{}
	shadow := 0
	for _, s := range inv.Servers {
		counts[s.Risk.Level]++
		if s.Shadow {
			shadow++
		}
	}
	parts := []string{strconv.Itoa(len(inv.Servers)) + " servers", strconv.Itoa(shadow) + " shadow"}
	sp, se := 0, 0
	for _, p := range inv.Processes {
		if p.Shadow {
			sp++
		}
	}
	for _, e := range inv.Endpoints {
		if e.Shadow {
			se++
		}
	}
	if sp > 0 {
		parts = append(parts, strconv.Itoa(sp)+" shadow processes")
	}
	if se > 0 {
		parts = append(parts, strconv.Itoa(se)+" shadow endpoints")
	}
	for _, l := range []string{"critical", "high", "medium", "low"} {
		if counts[l] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[l], l))
		}
	}
	return strings.Join(parts, ", ")
}
