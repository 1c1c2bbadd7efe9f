package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/cluster"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/inspect/flow"
	"github.com/mcpwarden/mcpwarden/internal/inspect/injection"
	"github.com/mcpwarden/mcpwarden/internal/inspect/pii"
	"github.com/mcpwarden/mcpwarden/internal/inspect/poison"
	"github.com/mcpwarden/mcpwarden/internal/inspect/secrets"
	"github.com/mcpwarden/mcpwarden/internal/metrics"
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

	// ④ policy compiles its conditions below; the CEL machinery that the first one builds (≈1.5 ms) is
	// built now, beside opening the audit store.
	go policy.Warm()

	// ③ identity: not built yet — the principal is the local OS user.

	// Metrics (config metrics:, served by `mcpwarden serve`): request counters around the chain, and the
	// audit writer's and the approvals' figures below.
	if m := cfg.Metrics; m != nil && m.Listen != "" {
		names := make([]string, 0, len(cfg.Servers))
		for _, sc := range cfg.Servers {
			names = append(names, sc.Name)
		}
		st.Metrics = metrics.New(names, Version)
	}

	// ⑧ audit: every message is recorded (SQLite in data_dir, or PostgreSQL); requests are in the store before
	// they go further and on disk before their answers go back, and are refused when they cannot be (fail
	// closed) unless audit.fail_open.
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
		minConf := pii.High
		if cfg.DataFlow != nil {
			minConf = piiConfidence(cfg.DataFlow.PIIConfidence)
		}
		// Stored payloads lose the secrets and personal data the data-flow detectors find, whatever the
		// live traffic was allowed to carry (capture: redacted, the default).
		a.SetRedactor(func(s string) (string, bool) { return flow.RedactText(s, minConf) })
		st.Audit = AuditStage(a, log)
		st.Metrics.WatchAudit(a.Writer())
		log.Info("audit trail on", "store", cfg.Audit.Store, "capture", cfg.Audit.Capture, "fail_open", cfg.Audit.FailOpen)
	}

	// On unless the config says approval: {enabled: false} (config loading fills in the section).
	approvalOn := cfg.Approval == nil || cfg.Approval.Enabled == nil || *cfg.Approval.Enabled
	if approvalOn && cfg.Approval == nil {
		cfg.Approval = &config.Approval{Timeout: config.Duration(config.DefaultApprovalTimeout),
			PendingTTL: config.Duration(config.DefaultApprovalPendingTTL), DefaultOnTimeout: config.DefaultApprovalOnTimeout}
	}

	// Detector findings about the tool a call targets, for policy rules' findings: (④ runs before the stages
	// that record them; each source is read at every call). ⑦ inspect adds its source below.
	var findingSources []func(x *Exchange) []string

	var flowCfg FlowStageConfig                              // ⑦ data flow: configured with policy, made once approvals exist
	var onQuarantine func(server, kind, name, reason string) // the webhook hears of quarantines too

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
		// With a PostgreSQL store, limit rules count for every replica in the database (cluster.Counter).
		limiter := policy.NewLimiter()
		var sharedFlow flow.Shared
		if db, err := cluster.OpenDB(ctx, cfg); err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		} else if db != nil {
			closers = append(closers, db.Close)
			limiter.Shared = cluster.NewCounter(db)
			if cfg.Cluster != nil {
				sharedFlow = cluster.NewFlowState(db) // replicas: a session's data-flow state follows it
			}
		}
		// ⑦ data flow wraps policy: it shows policy the session's labels and the arguments' findings, and
		// treats the result last (redact, refuse, taint). Policy labels tools for it (tool.labels).
		var toolLabels func(server, name string, def *policy.ToolDef) []flow.Assigned
		flowCfg, toolLabels, err = buildFlow(cfg, sharedFlow, log)
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		mw, err := NewPolicyStage(PolicyStageConfig{Policy: holder, Logger: log, PassAsk: approvalOn, Limiter: limiter,
			Trusted: func(server string) bool { return trusted[server] }, ToolLabels: toolLabels,
			Findings: func(x *Exchange) []string {
				var out []string
				for _, f := range findingSources {
					out = append(out, f(x)...)
				}
				return out
			}})
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		st.Policy = mw
		p := holder.Policy()
		log.Info("policy loaded", "source", p.Source, "version", p.Version, "rules", p.Rules(), "mode", p.Mode, "default", p.Default)
	}

	// ⑤ approval (on unless approval: {enabled: false}): ask decisions park the call as a pending approval in
	// the gateway's database (the audit store) until a human decides (CLI, API, in-band), and grants let
	// identical or covered calls through; when off, the policy stage refuses ask decisions itself.
	if approvalOn {
		ast, err := approval.OpenStore(ctx, cfg, nil)
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		closers = append(closers, ast.Close)
		bc := approval.BrokerConfigFrom(cfg.Approval, ast)
		bc.Logger = log
		if wh := cfg.Approval.Webhook; wh != nil {
			hook, err := approval.NewWebhook(approval.WebhookConfig{URL: wh.URL, Secret: wh.Secret, Logger: log,
				DashboardURL: cfg.DashboardURL()})
			if err != nil {
				return Stages{}, nil, errors.Join(err, closeAll())
			}
			closers = append(closers, hook.Close)
			bc.OnPark = hook.Notify
			onQuarantine = hook.NotifyQuarantine
		}
		broker, err := approval.NewBroker(bc)
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		closers = append(closers, broker.Close)
		mw, err := NewApprovalStage(ApprovalStageConfig{Broker: broker, Annotate: st.Audit != nil, Logger: log, Metrics: st.Metrics})
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		st.Approval = mw
		flowCfg.Approvals = broker // results the dataflow rules ask about wait for a human too
		log.Info("approvals on", "timeout", cfg.Approval.Timeout, "default_on_timeout", cfg.Approval.DefaultOnTimeout, "rules", len(cfg.Approval.Rules))
	}

	// ⑦ data flow (built once approvals exist: results it asks about are released by a human).
	flowMW, err := NewFlowStage(flowCfg)
	if err != nil {
		return Stages{}, nil, errors.Join(err, closeAll())
	}
	st.Flow = flowMW
	// The secret detector's rule set (gitleaks') compiles in about 30 ms: in the background, so the gateway
	// listens at once and the first call rarely waits for it. A rule set that cannot compile refuses every
	// payload the detectors would scan (flow.Guard), and is reported here.
	go func() {
		if err := secrets.Init(); err != nil {
			log.Error("data flow: the secret detector cannot start; payloads it would scan are refused", "err", err)
		}
	}()
	// The poisoning scan (every list) and the prompt-injection scan (every result) compile their
	// expressions on first use, 3 and 4 ms: in the background too, so that neither the binary's start nor
	// the first list or result pays for them. Their tables are static and checked by their tests; one
	// that broke its invariants would panic here as it did at package initialisation.
	go func() {
		poison.Init()
		injection.Init()
	}()

	// ⑦ inspect: tool pinning (TOFU by default; pins in the audit database), the poisoning scan of every
	// list that passes back, quarantine of changed or poisoned items, and sanitising. A pin store that
	// cannot be opened stops the gateway; one that fails later refuses lists and calls (fail closed).
	{
		ib, err := buildInspect(ctx, cfg, onQuarantine, log)
		if err != nil {
			return Stages{}, nil, errors.Join(err, closeAll())
		}
		closers = append(closers, ib.Close)
		st.Inspect = ib.Middleware
		findingSources = append(findingSources, ib.Findings)
		st.UpstreamHello = ib.UpstreamHello
	}

	_ = ctx
	_ = log
	return st, closeAll, nil
}
