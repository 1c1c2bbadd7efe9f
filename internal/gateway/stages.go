package gateway

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mcpwarden/mcpwarden/internal/config"
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

	// ⑧ audit: (filled in by the audit stage)

	// ④ policy: (filled in by the policy stage)

	// ⑤ approval: not built yet.

	// ⑦ inspect: not built yet.

	_ = ctx
	_ = log
	return st, closeAll, nil
}
