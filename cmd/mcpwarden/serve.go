package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/cluster"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/dashboard"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
	"github.com/mcpwarden/mcpwarden/internal/memtrim"
	"github.com/mcpwarden/mcpwarden/internal/metrics"
)

func newServeCmd() *cobra.Command {
	var cfgPath, listen, metricsListen string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the HTTP gateway",
		Long: `Run the gateway on the configured listen address.

Endpoints:
  /mcp/{server}   transparent endpoint for one configured server (both protocol eras)
  /mcp            aggregate endpoint: every server's tools and prompts as {server}.{name}
  /healthz        liveness
  /api/v1/fleet/  fleet inventory: discover --report posts here (API key auth)
  /oauth/upstream/{server}/start, /callback
                  per-user consent for servers with oauth: (see docs/identity.md)
  /ui/            web dashboard, when the config has a dashboard: section (see docs/dashboard.md)

Prometheus metrics are served on a listener of their own when the config has a metrics: section (or with
--metrics-listen), at metrics.path (default /metrics); see docs/deploy.md#metrics.

SIGINT/SIGTERM shut down gracefully: in-flight calls get http.shutdown_timeout to finish.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Listen = listen
			}
			if metricsListen != "" {
				if cfg.Metrics == nil {
					cfg.Metrics = &config.Metrics{Path: config.DefaultMetricsPath}
				}
				cfg.Metrics.Listen = metricsListen
			}
			log := newLogger(cfg)
			auth, err := gateway.BuildHTTPAuth(cmd.Context(), cfg, log)
			if err != nil {
				return usageErr(err)
			}
			stages, closeStages, err := gateway.BuildStages(cmd.Context(), cfg, log)
			if err != nil {
				return usageErr(err)
			}
			defer func() { _ = closeStages() }()
			// The detectors' warm-up and every burst of calls leave garbage that the runtime keeps resident
			// up to twice the live heap: given back once the gateway is quiet.
			trimCtx, stopTrim := context.WithCancel(cmd.Context())
			defer stopTrim()
			go memtrim.Run(trimCtx)
			// cluster: sealed session ids any replica can adopt, DELETEs shared through PostgreSQL.
			sessions, err := cluster.OpenSessions(cmd.Context(), cfg, log)
			if err != nil {
				return usageErr(err)
			}
			defer func() { _ = sessions.Close() }()
			gopts := gateway.Options{Logger: log, Stages: stages,
				HTTPMiddleware: auth.Middleware, SessionOwner: auth.SessionOwner, UpstreamHeaders: auth.UpstreamHeaders,
				UpstreamEnv: auth.UpstreamEnv, UpstreamTransport: auth.UpstreamTransport}
			if sessions != nil {
				gopts.Cluster = sessions.Options()
			}
			g, err := gateway.New(cfg, gopts)
			if err != nil {
				return usageErr(err)
			}
			sessions.Listen(func(h string) { g.EndSessions(func(id string) bool { return cluster.IDHash(id) == h }) })
			// The metrics listener is up before the gateway's: whoever waits for the gateway's port can scrape.
			metricsNote := ""
			if stages.Metrics != nil {
				ms, err := metrics.Listen(cfg.Metrics.Listen, cfg.Metrics.Path, cfg.Metrics.Pprof, stages.Metrics, log)
				if err != nil {
					return usageErr(err)
				}
				defer func() {
					cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = ms.Close(cctx)
				}()
				log.Info("metrics: serving", "url", ms.URL())
				metricsNote = "; metrics: " + ms.URL()
			}
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return usageErr(fmt.Errorf("cannot listen on %s: %w (choose another port with listen: or --listen)", cfg.Listen, err))
			}
			if auth.UpstreamOAuth != nil && (cfg.Auth == nil || cfg.Auth.Resource == "") {
				auth.UpstreamOAuth.SetBaseURL("http://" + ln.Addr().String()) // consent links and callbacks
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := g.Start(ctx); err != nil {
				_ = ln.Close()
				return err
			}
			fleetAPI, closeFleet, err := gateway.OpenFleetAPI(cmd.Context(), cfg)
			if err != nil {
				_ = ln.Close()
				return err
			}
			defer func() { _ = closeFleet() }()
			routes := http.NewServeMux()
			routes.Handle(gateway.FleetPath, fleetAPI)
			if dashboard.Enabled(cfg) {
				dash, err := dashboard.Open(cmd.Context(), cfg, dashboard.Options{Logger: log})
				if err != nil {
					_ = ln.Close()
					return err
				}
				defer func() { _ = dash.Close() }()
				routes.Handle(dashboard.Path, dash)
				log.Info("dashboard: serving", "url", cfg.DashboardURL())
			}
			routes.Handle("/", g.Handler())
			srv := &http.Server{
				Handler:           auth.Wrap(routes),
				ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
				IdleTimeout:       2 * time.Minute,
			}
			// Shutdown waits for handlers; open GET event streams would hold it for the whole timeout.
			srv.RegisterOnShutdown(g.Drain)
			addr := ln.Addr().String()
			fmt.Fprintf(os.Stderr, "mcpwarden %s listening on http://%s (servers: %s; aggregate: http://%s/mcp%s)\n",
				gateway.Version, addr, strings.Join(g.Servers(), ", "), addr, metricsNote)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				g.Close(context.Background())
				if errors.Is(err, http.ErrServerClosed) {
					return nil
				}
				return err
			case <-ctx.Done():
			}
			log.Info("shutting down; letting in-flight calls finish", "timeout", cfg.HTTP.ShutdownTimeout.D())
			sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout.D())
			defer cancel()
			// Refuse new connections, let in-flight requests finish, then end sessions and upstreams.
			_ = srv.Shutdown(sctx)
			g.Close(sctx)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file (YAML)")
	cmd.Flags().StringVar(&listen, "listen", "", "override the config's listen address (host:port)")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "serve Prometheus metrics on this address (host:port), overriding metrics.listen")
	return cmd
}
