package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/discovery"
	"github.com/mcpwarden/mcpwarden/internal/discovery/fleet"
)

func init() {
	extraCommands = append(extraCommands, newDiscoverCmd, newEnrollCmd, newUnenrollCmd)
}

// discoverToolScanner scans the tools `discover --connect` lists (e.g. an adapter over
// internal/inspect/poison). Nil means tools are listed but not scanned.
var discoverToolScanner discovery.ToolScanner

// discoverUsage is a usage or configuration error of discover/enroll/unenroll (exit 2).
func discoverUsage(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// scanFlags are the flags shared by discover, enroll and unenroll.
type scanFlags struct {
	home, root, osName string
	projectRoots       []string
	maxDepth, maxDirs  int
	clients            []string
	gatewayURLs        []string
	gatewayConfig      string
}

func (f *scanFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.home, "home", "", "home folder to scan (default: the current user's)")
	fl.StringVar(&f.root, "root", "", "prefix for system paths such as /etc and /Library (default /)")
	fl.StringVar(&f.osName, "os", "", "path layout: linux, darwin or windows (default: this OS)")
	fl.StringSliceVar(&f.projectRoots, "project-root", nil, "folder to search for project configs (repeatable; default: the home folder)")
	fl.IntVar(&f.maxDepth, "max-depth", 4, "how deep the project search goes below each project root")
	fl.IntVar(&f.maxDirs, "max-dirs", 20000, "how many directories the project search reads at most")
	fl.StringVar(&f.gatewayConfig, "gateway-config", "", "mcpwarden config file of the gateway")
}

func (f *scanFlags) options() (discovery.Options, error) {
	o := discovery.Options{OS: f.osName, Home: f.home, Root: f.root, ProjectRoots: f.projectRoots,
		MaxDepth: f.maxDepth, MaxDirs: f.maxDirs, Clients: f.clients}
	if f.home == "" {
		o.Getenv = os.Getenv
	}
	if f.home != "" {
		if st, err := os.Stat(f.home); err != nil || !st.IsDir() {
			return o, discoverUsage("--home %q is not a folder", f.home)
		}
	}
	if len(f.gatewayURLs) > 0 {
		o.Gateways = append([]string{discovery.DefaultGatewayURL}, f.gatewayURLs...)
	}
	return o, nil
}

func hostInfo(osName string) discovery.Host {
	h := discovery.Host{OS: osName}
	h.Hostname, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	} else {
		h.User = os.Getenv("USER")
	}
	return h
}

func newReportID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newDiscoverCmd() *cobra.Command {
	var (
		sf                          scanFlags
		asJSON, asSARIF             bool
		procRoot                    string
		noProcesses, sockets        bool
		probe                       string
		probeMax                    int
		probeRate                   float64
		probeTimeout, connectTimout time.Duration
		connect                     bool
		reportURL, apiKeyFile       string
		hostname                    string
	)
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "Find MCP servers configured or running on this machine, score their risk, flag shadow servers",
		Long: `discover reads the MCP configuration of known clients (Claude Desktop, Claude Code, Cursor, VS Code,
Windsurf, Cline, Gemini CLI, Codex, Zed, Continue, Goose, Kiro, OpenCode, LM Studio, Crush, Amazon Q,
Sema4.ai) in user, project and managed scopes, lists running MCP server processes and local endpoints, and
scores each server's risk. A server not routed through mcpwarden is a shadow server.

Exit codes: 0 nothing to report; 1 shadow or high/critical-risk servers found; 2 usage or config error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && asSARIF {
				return discoverUsage("--json and --sarif exclude each other: pick one output format")
			}
			if (reportURL == "") != (apiKeyFile == "") {
				return discoverUsage("--report and --api-key-file go together: pass both")
			}
			opts, err := sf.options()
			if err != nil {
				return err
			}
			if sf.gatewayConfig != "" {
				if u, ok := gatewayURLFromConfig(sf.gatewayConfig); ok {
					opts.Gateways = append(opts.Gateways, u)
				}
			}
			var targets []string
			if probe != "" {
				if targets, err = discovery.ParseTargets(probe, probeMax); err != nil {
					return discoverUsage("%v", err)
				}
			}
			var endpoint, apiKey string
			if reportURL != "" {
				if endpoint, err = fleet.ReportURL(reportURL); err != nil {
					return discoverUsage("%v", err)
				}
				kb, err := os.ReadFile(apiKeyFile)
				if err != nil {
					return discoverUsage("read --api-key-file: %v", err)
				}
				if apiKey = strings.TrimSpace(string(kb)); apiKey == "" {
					return discoverUsage("--api-key-file %s is empty", apiKeyFile)
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			opts.Host = hostInfo(opts.OS)
			if hostname != "" {
				opts.Host.Hostname = hostname
			}
			inv, err := discovery.Scan(ctx, opts)
			if err != nil {
				return discoverUsage("%v", err)
			}
			inv.ReportID = newReportID()
			inv.GeneratedAt = time.Now().UTC().Format(time.RFC3339)
			gateways := opts.Gateways
			if gateways == nil {
				gateways = []string{discovery.DefaultGatewayURL}
			}
			// A fake --home tree describes another machine: do not mix in this machine's processes.
			scanProcs := !noProcesses && (sf.home == "" || cmd.Flags().Changed("proc"))
			if scanProcs {
				procs, err := discovery.ScanProcesses(discovery.ProcOptions{Root: procRoot, Servers: inv.Servers})
				if err != nil {
					inv.Errors = append(inv.Errors, discovery.FileError{Path: procRoot, Error: err.Error()})
				}
				inv.Processes = procs
				if sockets {
					eps, err := discovery.ProbeSockets(ctx, procRoot, 256, discovery.ProbeOptions{Gateways: gateways, Timeout: 10 * time.Second})
					if err != nil {
						inv.Errors = append(inv.Errors, discovery.FileError{Path: filepath.Join(procRoot, "net", "tcp"), Error: err.Error()})
					}
					inv.Endpoints = append(inv.Endpoints, eps...)
				}
			}
			if len(targets) > 0 {
				eps, err := discovery.Probe(ctx, targets, discovery.ProbeOptions{MaxTargets: probeMax, Rate: probeRate,
					Timeout: probeTimeout, Gateways: gateways})
				if err != nil {
					return discoverUsage("%v", err)
				}
				inv.Endpoints = append(inv.Endpoints, eps...)
			}
			if connect {
				discovery.Connect(ctx, inv, discovery.ConnectOptions{Timeout: connectTimout, Home: opts.Home, Scanner: discoverToolScanner})
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				err = inv.WriteJSON(out)
			case asSARIF:
				err = inv.WriteSARIF(out)
			default:
				err = inv.WriteTable(out)
			}
			if err != nil {
				return err
			}
			if endpoint != "" {
				res, err := fleet.Send(ctx, nil, endpoint, apiKey, inv)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "report %s sent to %s: %d new (%d new shadow), %d changed, %d removed\n",
					res.ReportID, endpoint, len(res.New), res.NewShadow, len(res.Changed), len(res.Removed))
			}
			if inv.HasFindings() {
				return &exitError{code: exitFindings, err: fmt.Errorf("findings: %s", inv.Summary())}
			}
			return nil
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&sf.clients, "client", nil, "only scan these clients (repeatable): "+strings.Join(discovery.ClientIDs(), ", "))
	fl.StringSliceVar(&sf.gatewayURLs, "gateway-url", nil, "base URL of an mcpwarden gateway; servers under it are routed (repeatable)")
	fl.BoolVar(&asJSON, "json", false, "print the inventory as JSON (fields documented in docs/discovery.md)")
	fl.BoolVar(&asSARIF, "sarif", false, "print findings as SARIF 2.1.0")
	fl.StringVar(&procRoot, "proc", "/proc", "proc filesystem to read running processes and sockets from")
	fl.BoolVar(&noProcesses, "no-processes", false, "skip the running-process and socket scan")
	fl.BoolVar(&sockets, "sockets", true, "probe local listening TCP sockets for MCP endpoints")
	fl.StringVar(&probe, "probe", "", "probe these targets for MCP endpoints: host:port or host:low-high, comma-separated")
	fl.IntVar(&probeMax, "probe-max", 1024, "maximum number of probe targets")
	fl.Float64Var(&probeRate, "probe-rate", 50, "maximum probe requests per second")
	fl.DurationVar(&probeTimeout, "probe-timeout", 30*time.Second, "total time the probe may take")
	fl.BoolVar(&connect, "connect", false, "start stdio servers and connect to HTTP servers to list their tools (runs their commands)")
	fl.DurationVar(&connectTimout, "connect-timeout", 15*time.Second, "time allowed to connect to one server and list its tools")
	fl.StringVar(&reportURL, "report", "", "send the inventory to this gateway (fleet inventory); needs --api-key-file")
	fl.StringVar(&apiKeyFile, "api-key-file", "", "file holding the API key for --report")
	fl.StringVar(&hostname, "hostname", "", "host name to report (default: this machine's)")
	cmd.SilenceUsage = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return discoverUsage("%v", err) })
	return cmd
}

// gatewayURLFromConfig reads `listen:` from a gateway config.
func gatewayURLFromConfig(path string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "listen:"); ok && !strings.HasPrefix(line, " ") {
			v = strings.Trim(strings.TrimSpace(v), `"'`)
			if v != "" {
				return "http://" + v, true
			}
		}
	}
	return "", false
}

func newEnrollCmd() *cobra.Command   { return newEnrolmentCmd(true) }
func newUnenrollCmd() *cobra.Command { return newEnrolmentCmd(false) }

func newEnrolmentCmd(enroll bool) *cobra.Command {
	var (
		sf          scanFlags
		all, force  bool
		asJSON      bool
		gatewayURL  string
		commandPath string
	)
	use, short := "enroll", "Route a client's MCP servers through mcpwarden (backs up the original config)"
	if !enroll {
		use, short = "unenroll", "Restore a client's MCP config to its exact bytes before enroll"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

enroll rewrites the selected clients' configs: every stdio server runs through
"mcpwarden wrap --config GATEWAY_CONFIG NAME" and every HTTP server points at GATEWAY_URL/mcp/NAME; the
original server definitions are appended to the gateway config. The original file is kept beside it as
FILE` + discovery.BackupSuffix + `. Enrolling twice changes nothing. unenroll restores the backup byte for byte.

Exit codes: 0 done; 1 a file could not be changed (e.g. it changed while being read); 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all && len(sf.clients) == 0 {
				return discoverUsage("name a client with --client NAME (one of %s) or pass --all", strings.Join(discovery.ClientIDs(), ", "))
			}
			if all && len(sf.clients) > 0 {
				return discoverUsage("--all and --client exclude each other")
			}
			opts, err := sf.options()
			if err != nil {
				return err
			}
			if commandPath == "" {
				commandPath = "mcpwarden"
				if exe, err := os.Executable(); err == nil && strings.HasPrefix(filepath.Base(exe), "mcpwarden") && !strings.HasSuffix(exe, ".test") {
					commandPath = exe
				}
			}
			eo := discovery.EnrollOptions{Scan: opts, All: all, GatewayConfig: sf.gatewayConfig, GatewayURL: gatewayURL,
				Command: commandPath, Force: force}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			var res *discovery.EnrollResult
			if enroll {
				res, err = discovery.Enroll(ctx, eo)
			} else {
				res, err = discovery.Unenroll(ctx, eo)
			}
			if err != nil {
				if res == nil {
					return discoverUsage("%v", err)
				}
				return &exitError{code: exitFindings, err: err}
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				writeEnrollResult(cmd.OutOrStdout(), res, enroll)
			}
			if res.Failed() {
				return &exitError{code: exitFindings, err: errors.New("some files were not changed (see above)")}
			}
			return nil
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&sf.clients, "client", nil, "client to "+use+" (repeatable): "+strings.Join(discovery.ClientIDs(), ", "))
	fl.BoolVar(&all, "all", false, use+" every known client")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if enroll {
		fl.StringVar(&gatewayURL, "gateway-url", "", "gateway base URL for HTTP servers (default: from the gateway config's listen, else "+discovery.DefaultGatewayURL+")")
		fl.StringVar(&commandPath, "command", "", "mcpwarden executable to write into client configs (default: this executable)")
	} else {
		fl.BoolVar(&force, "force", false, "restore even if the file changed since enroll (those changes are lost)")
	}
	cmd.SilenceUsage = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return discoverUsage("%v", err) })
	return cmd
}

func writeEnrollResult(w io.Writer, res *discovery.EnrollResult, enroll bool) {
	verb := "enrolled"
	if !enroll {
		verb = "restored"
	}
	if len(res.Files) == 0 {
		if enroll {
			fmt.Fprintln(w, "nothing to enrol: every server found already goes through mcpwarden")
		} else {
			fmt.Fprintln(w, "nothing to restore: no enrolled config with a backup was found")
		}
	}
	for _, f := range res.Files {
		if f.Changed {
			fmt.Fprintf(w, "%s %s (%s): %s\n", verb, f.File, f.Client, strings.Join(f.Servers, ", "))
		}
		if f.Error != "" {
			fmt.Fprintf(w, "error   %s (%s): %s\n", f.File, f.Client, f.Error)
		}
		if !f.Changed && f.Error == "" {
			fmt.Fprintf(w, "unchanged %s (%s)\n", f.File, f.Client)
		}
	}
	if len(res.GatewayAdded) > 0 {
		fmt.Fprintf(w, "added to %s: %s\n", res.GatewayConfig, strings.Join(res.GatewayAdded, ", "))
	}
}
