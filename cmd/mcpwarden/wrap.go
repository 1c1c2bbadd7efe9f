package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/gateway"
	"github.com/mcpwarden/mcpwarden/internal/memtrim"
)

func newWrapCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "wrap --config FILE SERVER",
		Short: "Front one configured server over stdio (for desktop MCP clients)",
		Long: `Speak MCP over stdin/stdout to a desktop client and run the configured server SERVER
behind the same chain as the HTTP gateway. Put it in a client's config in place of the server's own command:

  "command": "mcpwarden", "args": ["wrap", "--config", "/path/mcpwarden.yaml", "github"]

Logs go to stderr; stdout carries only MCP messages.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			for _, sc := range cfg.Servers {
				if sc.Name == args[0] && sc.OAuth != nil {
					return usageErr(fmt.Errorf("server %q has oauth:, whose per-user consent needs the browser endpoints of "+
						"mcpwarden serve; wrap cannot serve them: run serve and connect the client to /mcp/%s", sc.Name, sc.Name))
				}
			}
			log := newLogger(cfg)
			if cfg.Metrics != nil {
				// Every client runs a wrap process of its own: they would all want the one metrics port.
				log.Debug("metrics: not served by wrap (run serve for a metrics endpoint)")
				cfg.Metrics = nil
			}
			stages, closeStages, err := gateway.BuildStages(cmd.Context(), cfg, log)
			if err != nil {
				return usageErr(err)
			}
			defer func() { _ = closeStages() }()
			trimCtx, stopTrim := context.WithCancel(cmd.Context())
			defer stopTrim()
			go memtrim.Run(trimCtx) // as in serve: the warm-up's and the bursts' garbage, given back when quiet
			upstreamHeaders, credStore, err := gateway.UpstreamCredentials(cfg)
			if err != nil {
				return usageErr(err)
			}
			g, err := gateway.New(cfg, gateway.Options{Logger: log, Stages: stages, UpstreamHeaders: upstreamHeaders,
				UpstreamEnv: gateway.UpstreamEnv(cfg, credStore)})
			if err != nil {
				return usageErr(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			defer g.Close(ctx)
			found := false
			for _, n := range g.Servers() {
				found = found || n == args[0]
			}
			if !found {
				return usageErr(errors.New("no server named " + args[0] + " in " + cfgPath))
			}
			return g.ServeStdio(ctx, args[0], os.Stdin, os.Stdout)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file (YAML)")
	return cmd
}
