package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/config"
)

func init() { extraCommands = append(extraCommands, newAuditCmd) }

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Query, verify and export the audit trail",
		Long: `Every JSON-RPC message through the gateway is one audit record (see docs/audit.md).

  mcpwarden audit list --config FILE [filters] [--json]   records, oldest first
  mcpwarden audit show --config FILE ID [--json]          one record with its chain status
  mcpwarden audit tail --config FILE [-f]                 the newest records; -f keeps following
  mcpwarden audit verify --config FILE [--json]           check the hash chain and signed checkpoints
  mcpwarden audit export --config FILE --format jsonl     one JSON object per line, for a SIEM
  mcpwarden audit prune --config FILE --older-than 90d    delete old records, keeping the rest verifiable`,
	}
	cmd.AddCommand(newAuditListCmd(), newAuditShowCmd(), newAuditTailCmd(), newAuditVerifyCmd(), newAuditExportCmd(), newAuditPruneCmd())
	return cmd
}

// auditFlags are the flags every audit subcommand shares.
type auditFlags struct {
	cfgPath string
	json    bool
}

func (f *auditFlags) register(cmd *cobra.Command, withJSON bool) {
	cmd.Flags().StringVar(&f.cfgPath, "config", "", "config file (YAML)")
	if withJSON {
		cmd.Flags().BoolVar(&f.json, "json", false, "print JSON")
	}
}

// openAudit loads the config and opens its audit store.
func (f *auditFlags) open(ctx context.Context) (*config.Config, *audit.SQLSink, error) {
	cfg, err := loadConfig(f.cfgPath)
	if err != nil {
		return nil, nil, err
	}
	sink, err := audit.OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the audit store of %s)", err, f.cfgPath)
	}
	return cfg, sink, nil
}

// filterFlags are the record filters of list, tail and export.
type filterFlags struct {
	since, until                                  string
	user, server, tool, method, decision, session string
	limit                                         int
}

func (ff *filterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&ff.since, "since", "", "only records at or after this time (RFC 3339, or a duration ago like 1h)")
	cmd.Flags().StringVar(&ff.until, "until", "", "only records before this time (RFC 3339, or a duration ago)")
	cmd.Flags().StringVar(&ff.user, "user", "", "only records of this user")
	cmd.Flags().StringVar(&ff.server, "server", "", "only records of this upstream server")
	cmd.Flags().StringVar(&ff.tool, "tool", "", "only records naming this tool (or prompt, or resource URI)")
	cmd.Flags().StringVar(&ff.method, "method", "", "only records of this JSON-RPC method, e.g. tools/call")
	cmd.Flags().StringVar(&ff.decision, "decision", "", "only records with this policy decision (allow, deny, ask …)")
	cmd.Flags().StringVar(&ff.session, "session", "", "only records of this client session id")
	cmd.Flags().IntVar(&ff.limit, "limit", 0, "at most this many records (0: all)")
}

func (ff *filterFlags) filter(now time.Time) (audit.Filter, error) {
	f := audit.Filter{User: ff.user, Server: ff.server, Tool: ff.tool, Method: ff.method, Decision: ff.decision,
		Session: ff.session, Limit: ff.limit}
	var err error
	if f.Since, err = parseWhen(ff.since, now, "--since"); err != nil {
		return f, err
	}
	if f.Until, err = parseWhen(ff.until, now, "--until"); err != nil {
		return f, err
	}
	if ff.limit < 0 {
		return f, usageErr(errors.New("--limit must be 0 or more"))
	}
	return f, nil
}

// parseWhen reads an RFC 3339 time or a duration before now ("90m", "2d").
func parseWhen(s string, now time.Time, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := parseAge(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, usageErr(fmt.Errorf("%s %q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (90m, 24h, 7d)", flag, s))
}

// parseAge reads a Go duration or a number of days ("7d").
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

func newAuditListCmd() *cobra.Command {
	var af auditFlags
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "list --config FILE [filters] [--json]",
		Short: "List audit records, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			_, sink, err := af.open(cmd.Context())
			if err != nil {
				return err
			}
			defer sink.Close()
			var entries []audit.Entry
			if err := sink.Scan(cmd.Context(), f, func(r *audit.StoredRecord) error {
				entries = append(entries, audit.EntryOf(r))
				return nil
			}); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if af.json {
				if entries == nil {
					entries = []audit.Entry{}
				}
				return writeJSON(out, entries)
			}
			printEntries(out, entries)
			return nil
		},
	}
	af.register(cmd, true)
	ff.register(cmd)
	return cmd
}

// writeJSON prints v as indented JSON (every command's --json output).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printEntries(w io.Writer, entries []audit.Entry) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tDIRECTION\tKIND\tSERVER\tMETHOD\tNAME\tUSER\tDECISION\tOUTCOME")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Time.Local().Format("2006-01-02 15:04:05.000"),
			arrow(e.Direction), e.Kind, dash(e.Server), dash(e.Method), dash(e.Name), dash(e.Principal.User),
			dash(e.DecisionAction()), outcome(&e.Record))
	}
	_ = tw.Flush()
}

func arrow(d string) string {
	if d == "server_to_client" {
		return "server→client"
	}
	return "client→server"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func outcome(r *audit.Record) string {
	if r.Error != nil {
		return fmt.Sprintf("error %d: %s", r.Error.Code, truncate(r.Error.Message, 60))
	}
	if r.Kind == "result" {
		return fmt.Sprintf("ok %.1fms", r.LatencyMS)
	}
	return "-"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func newAuditShowCmd() *cobra.Command {
	var af auditFlags
	cmd := &cobra.Command{
		Use:   "show --config FILE ID [--json]",
		Short: "Show one audit record in full, with its chain status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErr(fmt.Errorf("%q is not a record id: give the number from the ID column of audit list", args[0]))
			}
			_, sink, err := af.open(cmd.Context())
			if err != nil {
				return err
			}
			defer sink.Close()
			r, err := sink.Get(cmd.Context(), id)
			if err != nil {
				return err
			}
			if r == nil {
				return &exitError{code: exitFindings, err: fmt.Errorf("no audit record with id %d (audit list shows the ids)", id)}
			}
			st, err := audit.Status(cmd.Context(), sink, r)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			view := struct {
				audit.Entry
				ChainStatus audit.RecordStatus `json:"chain_status"`
			}{audit.EntryOf(r), st}
			if af.json {
				return writeJSON(out, view)
			}
			body, _ := json.MarshalIndent(view.Entry, "", "  ")
			fmt.Fprintf(out, "%s\n", body)
			fmt.Fprintf(out, "chain status: hash %s, link %s", okWord(st.HashOK), okWord(st.LinkOK))
			switch {
			case st.Interrupted:
				fmt.Fprint(out, ", response: interrupted (no response record: the gateway stopped before it was written)")
			case st.Response != 0:
				fmt.Fprintf(out, ", response: record %d", st.Response)
			}
			fmt.Fprintln(out)
			if st.Note != "" {
				fmt.Fprintln(out, st.Note)
			}
			if !st.HashOK || !st.LinkOK {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	af.register(cmd, true)
	return cmd
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "BROKEN"
}

func newAuditTailCmd() *cobra.Command {
	var af auditFlags
	var follow bool
	var n int
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "tail --config FILE [-n N] [-f] [--json]",
		Short: "Show the newest audit records; -f follows new ones as they are written",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, sink, err := af.open(ctx)
			if err != nil {
				return err
			}
			defer sink.Close()
			out := cmd.OutOrStdout()
			var last []audit.Entry
			if err := sink.Scan(ctx, audit.Filter{Desc: true, Limit: n}, func(r *audit.StoredRecord) error {
				last = append(last, audit.EntryOf(r))
				return nil
			}); err != nil {
				return err
			}
			var after int64
			for i := len(last) - 1; i >= 0; i-- {
				emit(out, last[i], af.json)
				after = last[i].ID
			}
			for follow {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
				err := sink.Scan(ctx, audit.Filter{AfterID: after}, func(r *audit.StoredRecord) error {
					emit(out, audit.EntryOf(r), af.json)
					after = r.ID
					return nil
				})
				if err != nil && ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "mcpwarden: audit tail:", err, "(retrying)")
				}
			}
			return nil
		},
	}
	af.register(cmd, true)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new records until interrupted")
	cmd.Flags().IntVarP(&n, "lines", "n", 20, "how many of the newest records to print first")
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "how often -f polls the store")
	return cmd
}

func emit(w io.Writer, e audit.Entry, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(e)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "%d %s %s %s %s %s %s %s\n", e.ID, e.Time.Local().Format(time.RFC3339Nano), arrow(e.Direction), e.Kind,
		dash(e.Server), dash(e.Method), dash(e.Name), outcome(&e.Record))
}

func newAuditVerifyCmd() *cobra.Command {
	var af auditFlags
	var anchorFile string
	cmd := &cobra.Command{
		Use:   "verify --config FILE [--json] [--anchor REPORT.json]",
		Short: "Verify the audit trail's hash chains and signed checkpoints",
		Long: `Verify recomputes every record's hash, checks each record follows its predecessor, checks the
signed checkpoints, and reports the first modified, deleted, inserted or reordered record.
Requests whose response was never recorded (the gateway was killed mid-call) are listed as interrupted;
they do not fail verification.

The database alone cannot show a tail deleted together with its checkpoints, records after the last
checkpoint rewritten and rehashed, or a chain deleted whole. Keep the --json report of each verify
outside the database and pass it to the next one with --anchor: every chain must still reach the head
that report saw, with the same hash.

Exit status: 0 intact, 1 tampering found, 2 usage or configuration error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, sink, err := af.open(cmd.Context())
			if err != nil {
				return err
			}
			defer sink.Close()
			signer, err := audit.LoadSigner(cfg.Audit.SigningKey)
			if err != nil {
				return usageErr(err)
			}
			var opts audit.VerifyOptions
			if anchorFile != "" {
				b, err := os.ReadFile(anchorFile)
				if err != nil {
					return usageErr(fmt.Errorf("--anchor: %w", err))
				}
				var prev audit.Report
				if err := json.Unmarshal(b, &prev); err != nil || len(prev.Chains) == 0 {
					return usageErr(fmt.Errorf("--anchor %s is not the --json report of an earlier audit verify (%v)", anchorFile, err))
				}
				opts.Anchors = prev.Anchors()
			}
			rep, err := audit.VerifyWith(cmd.Context(), sink, signer, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if af.json {
				if err := writeJSON(out, rep); err != nil {
					return err
				}
			} else {
				printReport(out, rep)
			}
			if !rep.OK {
				first := rep.Problems[0]
				return &exitError{code: exitFindings, err: fmt.Errorf("audit trail verification FAILED: %s", first.Message)}
			}
			return nil
		},
	}
	af.register(cmd, true)
	cmd.Flags().StringVar(&anchorFile, "anchor", "", "the --json report of an earlier verify, kept outside the database: each chain must still reach the head it saw")
	return cmd
}

func printReport(w io.Writer, rep *audit.Report) {
	for _, c := range rep.Chains {
		anchor := ""
		if c.Anchored {
			anchor = ", start anchored by a signed checkpoint"
		}
		unsealed := ""
		if c.Records > 0 && c.SealedSeq < c.LastSeq {
			unsealed = fmt.Sprintf(", seq %d–%d not sealed by a checkpoint yet", max(c.SealedSeq+1, c.FirstSeq), c.LastSeq)
		}
		fmt.Fprintf(w, "chain %s: %d records (seq %d–%d), %d checkpoints%s%s\n", c.Chain, c.Records, c.FirstSeq, c.LastSeq, c.Checkpoints, anchor, unsealed)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "PROBLEM (%s): %s\n", p.Kind, p.Message)
	}
	for _, i := range rep.Interrupted {
		fmt.Fprintf(w, "interrupted: record %d (%s) %s %s on %s: no response was recorded (the gateway stopped mid-call)\n",
			i.RecordID, i.Ref, i.Method, i.Name, dash(i.Server))
	}
	if rep.OK {
		fmt.Fprintf(w, "OK: %d records verified, %d interrupted calls\n", rep.Records, len(rep.Interrupted))
	}
}

func newAuditExportCmd() *cobra.Command {
	var af auditFlags
	var ff filterFlags
	var format, output string
	cmd := &cobra.Command{
		Use:   "export --config FILE --format jsonl [filters] [--output FILE]",
		Short: "Export audit records as JSON lines (one object per line, for a SIEM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jsonl" {
				return usageErr(fmt.Errorf("unknown --format %q: use jsonl", format))
			}
			f, err := ff.filter(time.Now())
			if err != nil {
				return err
			}
			_, sink, err := af.open(cmd.Context())
			if err != nil {
				return err
			}
			defer sink.Close()
			w := cmd.OutOrStdout()
			if output != "" && output != "-" {
				file, err := os.Create(output)
				if err != nil {
					return usageErr(fmt.Errorf("cannot create --output %s: %w", output, err))
				}
				defer file.Close()
				w = file
			}
			n, err := audit.ExportJSONL(cmd.Context(), sink, f, w)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "mcpwarden: exported %d audit records\n", n)
			return nil
		},
	}
	af.register(cmd, false)
	ff.register(cmd)
	cmd.Flags().StringVar(&format, "format", "jsonl", "output format: jsonl")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

func newAuditPruneCmd() *cobra.Command {
	var af auditFlags
	var olderThan string
	cmd := &cobra.Command{
		Use:   "prune --config FILE --older-than AGE",
		Short: "Delete records older than AGE (e.g. 90d), sealing what remains with a signed checkpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			age, err := parseAge(olderThan)
			if err != nil || olderThan == "" {
				return usageErr(fmt.Errorf("--older-than %q: give an age such as 90d or 12h", olderThan))
			}
			cfg, sink, err := af.open(cmd.Context())
			if err != nil {
				return err
			}
			defer sink.Close()
			signer, err := audit.LoadOrCreateSigner(cfg.Audit.SigningKey)
			if err != nil {
				return usageErr(err)
			}
			n, err := sink.Prune(cmd.Context(), time.Now().Add(-age), signer)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pruned %d audit records older than %s\n", n, olderThan)
			return nil
		},
	}
	af.register(cmd, false)
	cmd.Flags().StringVar(&olderThan, "older-than", "", "delete records older than this (90d, 12h)")
	return cmd
}
