package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/policy"
)

func init() { extraCommands = append(extraCommands, newPolicyCmd) }

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check, test and replay the policy",
		Long: `The policy decides what agents may do through the gateway (see docs/policy.md).

  mcpwarden policy lint [--config FILE] [POLICY_FILE...]        compile and check; exit 1 on problems
  mcpwarden policy test [--config FILE] [--policy FILE] FIXTURE...  run fixtures; exit 1 if one fails
  mcpwarden policy replay --config FILE --policy CANDIDATE [--since 7d]
                                                              re-decide the audit history with a candidate`,
	}
	cmd.AddCommand(newPolicyLintCmd(), newPolicyTestCmd(), newPolicyReplayCmd())
	return cmd
}

// policyFromFlags compiles the policy named by --policy, else the config's, else the shipped default.
func policyFromFlags(cfgPath, policyPath string) (*policy.Policy, error) {
	if policyPath != "" {
		return policy.Load(&policy.Source{File: policyPath, Name: policyPath}, policy.Options{})
	}
	if cfgPath == "" {
		return policy.Compile("default policy", policy.DefaultPolicy(), policy.Options{})
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	return policyFromConfig(cfg)
}

func policyFromConfig(cfg *config.Config) (*policy.Policy, error) {
	src, err := policy.SourceFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	return policy.Load(src, policy.Options{})
}

func newPolicyLintCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "lint [--config FILE] [POLICY_FILE...]",
		Short: "Compile policies and report errors (file:line) and warnings",
		Long: `Compile the given policy files, or the config's policy (the shipped default when it has none), and
report every error with its file, line and rule, plus warnings (rules that are never reached, rules that
trust server-supplied hints; with --config, approval.rules entries naming a rule id the policy lacks or a
rule that never asks). Exit 0 when every policy compiles, 1 otherwise, 2 on usage errors.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			type target struct {
				name string
				load func() (*policy.Policy, error)
			}
			var targets []target
			for _, f := range args {
				targets = append(targets, target{f, func() (*policy.Policy, error) {
					if _, err := os.Stat(f); err != nil {
						return nil, usageErr(fmt.Errorf("policy file: %w", err))
					}
					return policy.Load(&policy.Source{File: f, Name: f}, policy.Options{})
				}})
			}
			if len(args) == 0 {
				name := "default policy"
				if cfgPath != "" {
					name = cfgPath
				}
				targets = append(targets, target{name, func() (*policy.Policy, error) { return policyFromFlags(cfgPath, "") }})
			}
			// With --config, its approval rules are checked against every linted policy (they name rule ids).
			var approvalCfg *config.Approval
			if cfgPath != "" {
				cfg, err := loadConfig(cfgPath)
				if err != nil {
					return err
				}
				approvalCfg = cfg.Approval
			}
			bad := false
			for _, t := range targets {
				p, err := t.load()
				if err != nil {
					var ee *exitError
					if errors.As(err, &ee) {
						return err
					}
					fmt.Fprintln(out, err)
					bad = true
					continue
				}
				for _, w := range append(policy.Lint(p), policy.LintApproval(p, cfgPath, approvalCfg)...) {
					fmt.Fprintln(out, "warning:", w)
				}
				fmt.Fprintf(out, "%s: ok: %d rules, mode %s, default %s (version %s)\n", t.name, p.Rules(), p.Mode, p.Default, p.Version)
			}
			if bad {
				return &exitError{code: exitFindings, err: errors.New("")}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file whose policy to lint (default: the shipped default policy)")
	return cmd
}

func newPolicyTestCmd() *cobra.Command {
	var cfgPath, policyPath string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [--config FILE] [--policy FILE] FIXTURE...",
		Short: "Run policy fixtures: inputs and the decisions they must get",
		Long: `Evaluate every case of each fixture file and compare the decision with the expected one.
The policy under test is --policy FILE, else the fixture file's policy: key, else the config's policy,
else the shipped default. Fixture format: docs/policy.md. Exit 0 when all pass, 1 otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			failed, total := 0, 0
			for _, f := range args {
				src, cases, err := policy.LoadFixtures(f)
				if err != nil {
					return usageErr(err)
				}
				var p *policy.Policy
				switch {
				case policyPath == "" && src != nil:
					p, err = policy.Load(src, policy.Options{})
				default:
					p, err = policyFromFlags(cfgPath, policyPath)
				}
				if err != nil {
					return usageErr(err)
				}
				for _, r := range policy.RunFixtures(p, f, cases) {
					total++
					if r.Pass {
						if verbose {
							fmt.Fprintf(out, "PASS %s:%d %s\n", r.File, r.Line, r.Name)
						}
						continue
					}
					failed++
					fmt.Fprintf(out, "FAIL %s:%d %s: %s\n", r.File, r.Line, r.Name, r.Problem)
				}
			}
			fmt.Fprintf(out, "%d/%d cases passed\n", total-failed, total)
			if failed > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("%d policy fixture(s) failed", failed)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file whose policy to test")
	cmd.Flags().StringVar(&policyPath, "policy", "", "policy file to test (overrides the fixture's policy: and --config)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing cases too")
	return cmd
}

func newPolicyReplayCmd() *cobra.Command {
	var cfgPath, policyPath, since string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay --config FILE --policy CANDIDATE [--since 7d] [--json]",
		Short: "Re-decide the recorded audit history with a candidate policy",
		Long: `Read the calls recorded in the audit store since --since, decide each again with the candidate policy,
and report what would newly be denied, asked or allowed compared with what was decided then. Calls
recorded without arguments (audit capture off) are decided without them; the report counts them.
Without --policy the config's current policy is the candidate. Exit 0; 2 on usage errors.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			var cand *policy.Policy
			if policyPath != "" {
				cand, err = policy.Load(&policy.Source{File: policyPath, Name: policyPath}, policy.Options{})
			} else {
				cand, err = policyFromConfig(cfg)
			}
			if err != nil {
				return usageErr(err)
			}
			from, err := parseWhen(since, time.Now(), "--since")
			if err != nil {
				return err
			}
			rep, err := replay(cmd.Context(), cfg, cand, from)
			if err != nil {
				return err
			}
			return printReplay(cmd.OutOrStdout(), rep, asJSON)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "config file (its audit store is replayed)")
	cmd.Flags().StringVar(&policyPath, "policy", "", "candidate policy file (default: the config's policy)")
	cmd.Flags().StringVar(&since, "since", "7d", "replay records since this time (RFC 3339 or a duration ago: 24h, 7d)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func replay(ctx context.Context, cfg *config.Config, cand *policy.Policy, since time.Time) (*audit.ReplayReport, error) {
	store, err := audit.OpenStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (policy replay reads the audit store of %s)", err, cfg.Path)
	}
	defer store.DB().Close()
	return audit.Replay(ctx, store, cand, since, 0)
}

func printReplay(w io.Writer, rep *audit.ReplayReport, asJSON bool) error {
	if asJSON {
		return writeJSON(w, rep)
	}
	fmt.Fprintf(w, "replayed %d recorded messages since %s with %s (version %s)\n", rep.Evaluated, rep.Since.Format(time.RFC3339), rep.Policy, rep.Version)
	fmt.Fprintf(w, "  newly denied: %d   newly asked: %d   newly allowed: %d   unchanged: %d\n", rep.NewlyDenied, rep.NewlyAsked, rep.NewlyAllowed, rep.Unchanged)
	if rep.WithoutArguments > 0 {
		fmt.Fprintf(w, "  %d tool calls were recorded without arguments (audit capture); rules on arguments saw none\n", rep.WithoutArguments)
	}
	if len(rep.Changes) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nTIME\tRECORD\tUSER\tSERVER\tNAME\tWAS\tNOW\tRULE")
	for _, c := range rep.Changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Time.Format(time.RFC3339), c.Record, c.User, c.Server, orDash(c.Name), c.Was, c.Now, orDash(c.Rule))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
