package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

// BuildStages builds the chain's stages from the config: each stage package is opened here and adapted to
// a Middleware. The returned close function releases what the stages hold (stores, watchers); call it after
// Gateway.Close. A stage that cannot start is an error: the gateway never starts half-protected.
func BuildStages(ctx context.Context, cfg *config.Config, log *slog.Logger) (Stages, func() error, error) {
	var st Stages
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}

	// ③ identity: not built yet — the principal is the local OS user.

	// ⑧ audit: every message is recorded (SQLite in data_dir, or PostgreSQL); requests are committed before
	// they go further, and refused when they cannot be (fail closed) unless audit.fail_open.
	if cfg.Audit.Enabled == nil || *cfg.Audit.Enabled {
		a, err := audit.Open(ctx, cfg, log)
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		closers = append(closers, func() error {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return a.Close(cctx)
		})
		st.Audit = AuditStage(a, log)
		log.Info("audit trail on", "store", cfg.Audit.Store, "capture", cfg.Audit.Capture, "fail_open", cfg.Audit.FailOpen)
	}

	// ④ policy: the config's policy: (inline, a file, or the shipped default when absent), compiled once,
	// reloaded on file change and SIGHUP (an invalid new policy is rejected and the old one stays).
	{
		src, err := policy.SourceFromConfig(cfg)
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		holder, err := policy.NewHolder(src, policy.Options{})
		if err != nil {
			return Stages{}, nil, errors.Join(fmt.Errorf("policy: %w", err), closeAll())
		}
		holder.Watch(0, log)
		closers = append(closers, holder.Close)
		trusted := map[string]bool{}
		for _, sc := range cfg.Servers {
			trusted[sc.Name] = sc.Trusted
		}
		mw, err := NewPolicyStage(PolicyStageConfig{Policy: holder, Logger: log,
			Trusted: func(server string) bool { return trusted[server] }})
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		st.Policy = mw
		p := holder.Policy()
		log.Info("policy loaded", "source", p.Source, "version", p.Version, "rules", p.Rules(), "mode", p.Mode, "default", p.Default)
	}

	// ⑤ approval: not built yet.

	// ⑦ inspect: not built yet.

	_ = ctx
	_ = log
	return st, closeAll, nil
}
