package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/approval"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

func init() { extraCommands = append(extraCommands, newApprovalsCmd) }

func newApprovalsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "Decide parked calls and manage grants",
		Long: `Calls the policy marks "ask" wait for a human decision (see docs/approval.md). The decision is recorded
with you (the OS user) as the approver, and releases the waiting call in the running gateway.

  mcpwarden approvals list --config FILE [--all] [--json]        pending approvals (--all: every one)
  mcpwarden approvals show --config FILE ID [--json]              one approval with its call
  mcpwarden approvals approve --config FILE ID [--scope once|args|session|user] [--ttl 10m] [--reason TEXT]
  mcpwarden approvals deny --config FILE ID [--reason TEXT]
  mcpwarden approvals grants --config FILE [--all] [--json]      active grants (--all: also expired, revoked, used)
  mcpwarden approvals revoke --config FILE GRANT_ID`,
	}
	cmd.AddCommand(newApprovalsListCmd(), newApprovalsShowCmd(), newApprovalsDecideCmd(true), newApprovalsDecideCmd(false),
		newApprovalsGrantsCmd(), newApprovalsRevokeCmd())
	return cmd
}

type approvalFlags struct {
	cfgPath string
	json    bool
}

func (f *approvalFlags) register(cmd *cobra.Command, withJSON bool) {
	cmd.Flags().StringVar(&f.cfgPath, "config", "", "config file (YAML)")
	if withJSON {
		cmd.Flags().BoolVar(&f.json, "json", false, "print JSON")
	}
}

func (f *approvalFlags) open(ctx context.Context) (*approval.Store, error) {
	cfg, err := loadConfig(f.cfgPath)
	if err != nil {
		return nil, err
	}
	st, err := approval.OpenStore(ctx, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (the approval store of %s)", err, f.cfgPath)
	}
	return st, nil
}

// cliApprover is the OS user running the command, with its OS groups (approver groups match them).
func cliApprover() approval.Approver {
	p := identity.Local()
	a := approval.Approver{ID: p.ID(), User: p.Subject}
	if u, err := user.Current(); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if g, err := user.LookupGroupId(id); err == nil {
					a.Groups = append(a.Groups, g.Name)
				}
			}
		}
	}
	return a
}

func newApprovalsListCmd() *cobra.Command {
	var f approvalFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pending approvals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			status := approval.StatusPending
			if all {
				status = ""
			}
			list, err := st.List(cmd.Context(), status)
			if err != nil {
				return err
			}
			if f.json {
				if list == nil {
					list = []*approval.Approval{}
				}
				return writeJSON(cmd.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tCREATED\tUSER\tSERVER\tTOOL\tRULE\tARGUMENTS")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.Created.Local().Format(time.DateTime),
					a.Call.User, a.Call.Server, a.Call.Tool, a.Call.Rule, clip(string(a.Call.Arguments), 60))
			}
			if len(list) == 0 {
				fmt.Fprintln(tw, "(none)")
			}
			return tw.Flush()
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&all, "all", false, "list decided and expired approvals too")
	return cmd
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func newApprovalsShowCmd() *cobra.Command {
	var f approvalFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one approval",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := st.Get(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), a)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "approval   %s (%s)\ncreated    %s\nexpires    %s\n", a.ID, a.Status, a.Created.Local().Format(time.RFC3339), a.Expires.Local().Format(time.RFC3339))
			fmt.Fprintf(w, "caller     %s (%s), session %s\ncall       %s %s on %s\narguments  %s\n", a.Call.User, a.Call.Principal,
				orDash(a.Call.SessionID), a.Call.Method, a.Call.Tool, a.Call.Server, string(a.Call.Arguments))
			fmt.Fprintf(w, "policy     rule %s: %s\n", orDash(a.Call.Rule), a.Call.Reason)
			if a.Require.FourEyes || len(a.Require.Approvers) > 0 {
				fmt.Fprintf(w, "requires   four_eyes=%v approvers=%s\n", a.Require.FourEyes, strings.Join(a.Require.Approvers, ","))
			}
			if a.Status != approval.StatusPending {
				fmt.Fprintf(w, "decided    %s by %s at %s (%s)\n", a.Status, a.DecidedBy, a.DecidedAt.Local().Format(time.RFC3339), orDash(a.Reason))
			}
			if a.GrantID != "" {
				fmt.Fprintf(w, "grant      %s (scope %s)\n", a.GrantID, a.Scope)
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

func newApprovalsDecideCmd(approve bool) *cobra.Command {
	var f approvalFlags
	var scope, reason string
	var ttl time.Duration
	use, short := "deny ID", "Deny a parked call (the agent gets the reason)"
	if approve {
		use, short = "approve ID", "Approve a parked call, creating a grant"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := approval.Decision{Approve: approve, By: cliApprover(), Reason: reason, TTL: ttl}
			if approve {
				sc, err := approval.ParseScope(scope)
				if err != nil {
					return usageErr(err)
				}
				d.Scope = sc
			}
			if ttl < 0 {
				return usageErr(errors.New("--ttl must be positive, e.g. 10m"))
			}
			st, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			a, g, err := st.Decide(cmd.Context(), args[0], d)
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			if f.json {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"approval": a, "grant": g})
			}
			if g != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "approved %s: grant %s (scope %s) until %s\n", a.ID, g.ID, g.Scope, g.Expires.Local().Format(time.RFC3339))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "denied %s\n", a.ID)
			}
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded, and told to the agent on deny)")
	if approve {
		cmd.Flags().StringVar(&scope, "scope", "once", "what the grant covers: once (this call), args (same tool and arguments), session (this tool in this session) or user (this tool for this user)")
		cmd.Flags().DurationVar(&ttl, "ttl", 0, "how long the grant lasts (default: once 24h, args 10m, session and user 8h)")
	}
	return cmd
}

func newApprovalsGrantsCmd() *cobra.Command {
	var f approvalFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "List grants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			gs, err := st.Grants(cmd.Context(), all)
			if err != nil {
				return err
			}
			if f.json {
				if gs == nil {
					gs = []*approval.Grant{}
				}
				return writeJSON(cmd.OutOrStdout(), gs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSCOPE\tSERVER\tTOOL\tPRINCIPAL\tEXPIRES\tUSES\tGRANTED BY\tAPPROVAL\tREVOKED")
			for _, g := range gs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", g.ID, g.Scope, g.Server, g.Tool, g.Principal,
					g.Expires.Local().Format(time.DateTime), g.Uses, g.GrantedBy, g.ApprovalID, orDash(g.RevokedBy))
			}
			if len(gs) == 0 {
				fmt.Fprintln(tw, "(none)")
			}
			return tw.Flush()
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&all, "all", false, "also list expired, revoked and used-up grants")
	return cmd
}

func newApprovalsRevokeCmd() *cobra.Command {
	var f approvalFlags
	cmd := &cobra.Command{
		Use:   "revoke GRANT_ID",
		Short: "Revoke a grant now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Revoke(cmd.Context(), args[0], cliApprover().ID); err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}
