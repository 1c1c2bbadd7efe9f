package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
	"github.com/mcpwarden/mcpwarden/internal/inspect/poison"
)

func init() { extraCommands = append(extraCommands, newScanCmd) }

// scanServer is one server's scan outcome (the --json form).
type scanServer struct {
	Server string `json:"server"`
	// Error says why the server could not be scanned (then Report is empty).
	Error  string        `json:"error,omitempty"`
	Report poison.Report `json:"report"`
	Tools  int           `json:"tools"`
	// Prompts, Resources and ResourceTemplates count what was listed.
	Prompts           int `json:"prompts"`
	Resources         int `json:"resources"`
	ResourceTemplates int `json:"resourceTemplates"`
}

func newScanCmd() *cobra.Command {
	var (
		cfgPath, failOn, only string
		asJSON, asSARIF       bool
		timeout               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "scan --config FILE [--json|--sarif] [--fail-on high] [--server S]",
		Short: "Connect to each configured server and scan what it shows a model for tool poisoning",
		Long: `Connect to every server of the config (stdio servers are started; http and sse servers are called), list
their tools, prompts, resources and resource templates and the server instructions, and run the poisoning
scanner over them (rules in docs/poisoning.md), with the other servers' tool names for cross-server
shadowing. Prints a table, JSON (--json) or SARIF 2.1.0 (--sarif).

Exit 0 when no finding reaches --fail-on (default high); 1 when one does, or when a server could not be
scanned (an unscanned server is not a clean one); 2 on usage or config errors.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON && asSARIF {
				return usageErr(errors.New("choose one of --json and --sarif"))
			}
			threshold, err := poison.ParseSeverity(failOn)
			if err != nil {
				return usageErr(fmt.Errorf("--fail-on: %w", err))
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if err := gateway.VerifyServerPins(cfg); err != nil {
				return usageErr(err)
			}
			var servers []config.Server
			for _, s := range cfg.Servers {
				if only == "" || s.Name == only {
					servers = append(servers, s)
				}
			}
			if len(servers) == 0 {
				return usageErr(fmt.Errorf("no server %q in %s", only, cfgPath))
			}
			results := scanServers(cmd.Context(), servers, timeout)
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				if err := writeJSON(out, results); err != nil {
					return err
				}
			case asSARIF:
				if err := writeJSON(out, scanSARIF(results)); err != nil {
					return err
				}
			default:
				printScanTable(out, results)
			}
			for _, r := range results {
				if r.Error != "" || len(r.Report.Findings) > 0 && r.Report.Verdict >= threshold {
					return &exitError{code: exitFindings, err: fmt.Errorf("findings at or above %s, or servers that could not be scanned", threshold)}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the config file whose servers to scan")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&asSARIF, "sarif", false, "print SARIF 2.1.0")
	cmd.Flags().StringVar(&failOn, "fail-on", "high", "exit 1 when a finding is at least this severe: info, low, medium, high or critical")
	cmd.Flags().StringVar(&only, "server", "", "scan only this server")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "time allowed per server to start, connect and list")
	return cmd
}

// scanServers lists every server (one after another: stdio servers are processes) and scans each surface
// with the others' tool names as context.
func scanServers(ctx context.Context, servers []config.Server, timeout time.Duration) []scanServer {
	surfaces := make([]poison.Surface, len(servers))
	results := make([]scanServer, len(servers))
	for i, s := range servers {
		results[i].Server = s.Name
		surf, err := listSurface(ctx, s, timeout)
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		surfaces[i] = surf
		results[i].Tools, results[i].Prompts = len(surf.Tools), len(surf.Prompts)
		results[i].Resources, results[i].ResourceTemplates = len(surf.Resources), len(surf.ResourceTemplates)
	}
	for i := range servers {
		if results[i].Error != "" {
			continue
		}
		others := map[string][]string{}
		for j := range servers {
			if j == i || results[j].Error != "" {
				continue
			}
			for _, t := range surfaces[j].Tools {
				others[servers[j].Name] = append(others[servers[j].Name], t.Name)
			}
		}
		results[i].Report = poison.Scan(surfaces[i], poison.Context{OtherServers: others})
		if results[i].Report.Findings == nil {
			results[i].Report.Findings = []poison.Finding{}
		}
	}
	return results
}

// headerRoundTripper adds configured headers to every request to a remote server.
type headerRoundTripper struct {
	headers map[string]string
}

func (h headerRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// listSurface connects to one server with the go-sdk client and lists everything it shows a model.
func listSurface(ctx context.Context, s config.Server, timeout time.Duration) (poison.Surface, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	surf := poison.Surface{Server: s.Name}
	var t mcp.Transport
	switch s.Transport {
	case config.TransportStdio:
		c := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
		c.Env = os.Environ()
		for k, v := range s.Env {
			c.Env = append(c.Env, k+"="+v)
		}
		c.Dir = s.Cwd
		t = &mcp.CommandTransport{Command: c, TerminateDuration: 2 * time.Second}
	case config.TransportHTTP:
		t = &mcp.StreamableClientTransport{Endpoint: s.URL, HTTPClient: &http.Client{Transport: headerRoundTripper{s.Headers}},
			MaxRetries: -1, DisableStandaloneSSE: true}
	case config.TransportSSE:
		t = &mcp.SSEClientTransport{Endpoint: s.URL, HTTPClient: &http.Client{Transport: headerRoundTripper{s.Headers}}}
	default:
		return surf, fmt.Errorf("unknown transport %q", s.Transport)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden-scan", Version: gateway.Version}, nil)
	sess, err := client.Connect(ctx, t, nil)
	if err != nil {
		return surf, fmt.Errorf("connect: %w", err)
	}
	defer sess.Close()
	init := sess.InitializeResult()
	caps := &mcp.ServerCapabilities{}
	if init != nil {
		surf.Instructions = init.Instructions
		if init.Capabilities != nil {
			caps = init.Capabilities
		}
	}
	const limit = 5000
	if caps.Tools != nil {
		for tool, err := range sess.Tools(ctx, nil) {
			if err != nil {
				return surf, fmt.Errorf("tools/list: %w", err)
			}
			var pt poison.Tool
			if err := recode(tool, &pt); err != nil {
				return surf, fmt.Errorf("tools/list: %w", err)
			}
			if surf.Tools = append(surf.Tools, pt); len(surf.Tools) >= limit {
				break
			}
		}
	}
	if caps.Prompts != nil {
		for p, err := range sess.Prompts(ctx, nil) {
			if err != nil {
				return surf, fmt.Errorf("prompts/list: %w", err)
			}
			var pp poison.Prompt
			if err := recode(p, &pp); err != nil {
				return surf, fmt.Errorf("prompts/list: %w", err)
			}
			if surf.Prompts = append(surf.Prompts, pp); len(surf.Prompts) >= limit {
				break
			}
		}
	}
	if caps.Resources != nil {
		for r, err := range sess.Resources(ctx, nil) {
			if err != nil {
				return surf, fmt.Errorf("resources/list: %w", err)
			}
			var pr poison.Resource
			if err := recode(r, &pr); err != nil {
				return surf, fmt.Errorf("resources/list: %w", err)
			}
			if surf.Resources = append(surf.Resources, pr); len(surf.Resources) >= limit {
				break
			}
		}
		for r, err := range sess.ResourceTemplates(ctx, nil) {
			if err != nil {
				return surf, fmt.Errorf("resources/templates/list: %w", err)
			}
			var pr poison.ResourceTemplate
			if err := recode(r, &pr); err != nil {
				return surf, fmt.Errorf("resources/templates/list: %w", err)
			}
			if surf.ResourceTemplates = append(surf.ResourceTemplates, pr); len(surf.ResourceTemplates) >= limit {
				break
			}
		}
	}
	return surf, nil
}

// recode converts a go-sdk value to the scanner's type through its wire JSON.
func recode(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

func printScanTable(out io.Writer, results []scanServer) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tSEVERITY\tRULE\tLOCATION\tMESSAGE")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\tnot scanned: %s\n", r.Server, oneLine(r.Error))
			continue
		}
		if len(r.Report.Findings) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\tclean (%d tools, %d prompts, %d resources, %d templates)\n", r.Server, r.Tools, r.Prompts, r.Resources, r.ResourceTemplates)
			continue
		}
		fs := append([]poison.Finding(nil), r.Report.Findings...)
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity > fs[j].Severity })
		for _, f := range fs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Server, f.Severity, f.RuleID, f.Location, oneLine(f.Message))
		}
	}
	_ = tw.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// SARIF 2.1.0, the subset code-scanning tools read.
type (
	sarifDoc struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID               string       `json:"id"`
		ShortDescription sarifMessage `json:"shortDescription"`
	}
	sarifMessage struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID     string          `json:"ruleId"`
		Level      string          `json:"level"`
		Message    sarifMessage    `json:"message"`
		Locations  []sarifLocation `json:"locations"`
		Properties map[string]any  `json:"properties,omitempty"`
	}
	sarifLocation struct {
		LogicalLocations []sarifLogical `json:"logicalLocations"`
	}
	sarifLogical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
)

func sarifLevel(s poison.Severity) string {
	switch {
	case s >= poison.High:
		return "error"
	case s >= poison.Medium:
		return "warning"
	}
	return "note"
}

func scanSARIF(results []scanServer) sarifDoc {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "mcpwarden-scan", Version: gateway.Version,
		InformationURI: "https://github.com/mcpwarden/mcpwarden/blob/main/docs/poisoning.md", Rules: []sarifRule{}}}, Results: []sarifResult{}}
	seen := map[string]bool{}
	addRule := func(id, text string) {
		if !seen[id] {
			seen[id] = true
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{ID: id, ShortDescription: sarifMessage{Text: text}})
		}
	}
	for _, r := range results {
		if r.Error != "" {
			addRule("MW-SCAN-ERROR", "the server could not be scanned")
			run.Results = append(run.Results, sarifResult{RuleID: "MW-SCAN-ERROR", Level: "error", Message: sarifMessage{Text: "not scanned: " + r.Error},
				Locations: []sarifLocation{{LogicalLocations: []sarifLogical{{Name: r.Server, FullyQualifiedName: r.Server, Kind: "module"}}}}})
			continue
		}
		for _, f := range r.Report.Findings {
			addRule(f.RuleID, f.Message)
			run.Results = append(run.Results, sarifResult{RuleID: f.RuleID, Level: sarifLevel(f.Severity), Message: sarifMessage{Text: f.Message},
				Locations:  []sarifLocation{{LogicalLocations: []sarifLogical{{Name: f.Location, FullyQualifiedName: r.Server + "/" + f.Location, Kind: "member"}}}},
				Properties: map[string]any{"severity": f.Severity.String(), "evidence": f.Evidence, "server": r.Server}})
		}
	}
	sort.Slice(run.Tool.Driver.Rules, func(i, j int) bool { return run.Tool.Driver.Rules[i].ID < run.Tool.Driver.Rules[j].ID })
	return sarifDoc{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
}
