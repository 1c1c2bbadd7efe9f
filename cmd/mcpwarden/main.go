// Command mcpwarden is a security gateway for the Model Context Protocol: it sits between MCP clients and
// MCP servers, and discovers, audits and controls what agents do through them.
//
// Exit codes: 0 ok; 1 findings, denial or failed verification; 2 usage or configuration error.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as a usage or configuration error (exit 2).
func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "mcpwarden:", ee.err)
		}
		return ee.code
	}
	// cobra's own errors (unknown flag, missing argument) are usage errors.
	fmt.Fprintln(os.Stderr, "mcpwarden:", err)
	return exitUsage
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mcpwarden",
		Short: "A security gateway for the Model Context Protocol",
		Long: `mcpwarden sits between MCP clients (Claude, Cursor, VS Code, …) and MCP servers.
It forwards every message of both protocol eras, records what agents do, and controls it.

  mcpwarden serve --config FILE         run the HTTP gateway (/mcp/{server} and /mcp)
  mcpwarden wrap --config FILE SERVER   front one server over stdio, for desktop clients`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       gateway.Version,
	}
	root.AddCommand(newServeCmd(), newWrapCmd())
	for _, c := range extraCommands {
		root.AddCommand(c())
	}
	return root
}

// extraCommands are registered by other files of this package (one per feature area).
var extraCommands []func() *cobra.Command

// loadConfig loads and validates the config file; any problem is a usage error.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, usageErr(errors.New("--config FILE is required (start from examples/quickstart.yaml)"))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageErr(err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(os.Stderr, "mcpwarden: warning:", w)
	}
	// The data directory holds the databases and keys; create it (private) on first use.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, usageErr(fmt.Errorf("data_dir %s: %w (choose a writable data_dir in %s)", cfg.DataDir, err, path))
	}
	return cfg, nil
}

// newLogger builds the operational logger (always on stderr: stdout may be an MCP stream).
func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(cfg.Log.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.ToLower(cfg.Log.Format) == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
