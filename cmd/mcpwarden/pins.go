package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/inspect/pin"
)

func init() { extraCommands = append(extraCommands, newPinsCmd) }

func newPinsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "pins",
		Short:         "Review and approve pinned tool definitions and server identities",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `The gateway pins every tool, prompt, resource template and server instructions the first time it sees
them, and each server's identity (its command line or URL from the config, with the name and version it
reports; kind server, item identity) (see docs/pinning.md). A definition that changes later, or that the
poisoning scan flags, is quarantined: hidden from clients and refused when called, until it is approved
here. A server whose identity is quarantined gets no request forwarded at all.

  mcpwarden pins list    --config FILE [--server S] [--json]        every pin and its state
  mcpwarden pins diff    --config FILE [--server S] [--item NAME]   what changed in quarantined items
  mcpwarden pins approve --config FILE --server S --item NAME       accept the new definition`,
	}
	cmd.AddCommand(newPinsListCmd(), newPinsDiffCmd(), newPinsApproveCmd())
	return cmd
}

type pinsFlags struct {
	cfgPath, server, item, kind string
	asJSON                      bool
}

func (f *pinsFlags) register(cmd *cobra.Command, item bool) {
	cmd.Flags().StringVar(&f.cfgPath, "config", "", "the gateway's config file (its data_dir or audit.postgres_dsn holds the pins)")
	cmd.Flags().StringVar(&f.server, "server", "", "only this server")
	if item {
		cmd.Flags().StringVar(&f.item, "item", "", "only this tool, prompt or resource template (\"instructions\" for the server instructions, \"identity\" for the server identity)")
		cmd.Flags().StringVar(&f.kind, "kind", "", "the item's kind when its name is ambiguous: tool, prompt, resource_template, instructions or server")
	}
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")
}

func (f *pinsFlags) open(cmd *cobra.Command) (*pin.Store, error) {
	cfg, err := loadConfig(f.cfgPath)
	if err != nil {
		return nil, err
	}
	s, err := pin.Open(cmd.Context(), cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (is data_dir right, and readable by you?)", err)
	}
	return s, nil
}

func (f *pinsFlags) match(p *pin.Pin) bool {
	return (f.server == "" || p.Server == f.server) && (f.item == "" || p.Name == f.item) && (f.kind == "" || p.Kind == f.kind)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func newPinsListCmd() *cobra.Command {
	var f pinsFlags
	cmd := &cobra.Command{
		Use:   "list --config FILE [--server S] [--json]",
		Short: "List pinned items and whether they are quarantined",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			pins, err := s.List(cmd.Context(), f.server)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				type row struct {
					pin.Pin
					State string `json:"state"`
				}
				rows := []row{}
				for i := range pins {
					p := pins[i]
					p.ApprovedDef, p.PendingDef = "", ""
					rows = append(rows, row{p, pins[i].State()})
				}
				return writeJSON(out, rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVER\tKIND\tNAME\tSTATE\tAPPROVED\tBY\tPENDING\tREASON")
			for i := range pins {
				p := &pins[i]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Server, p.Kind, p.Name, p.State(), shortHash(p.ApprovedHash),
					p.ApprovedBy, shortHash(p.PendingHash), p.PendingReason)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, false)
	return cmd
}

// pinDiff is one quarantined item's change, as printed by pins diff --json.
type pinDiff struct {
	Server       string `json:"server"`
	Kind         string `json:"kind"`
	Name         string `json:"name"`
	Reason       string `json:"reason"`
	ApprovedHash string `json:"approved_hash,omitempty"`
	PendingHash  string `json:"pending_hash"`
	Old          string `json:"old,omitempty"`
	New          string `json:"new"`
	Diff         string `json:"diff"`
}

func newPinsDiffCmd() *cobra.Command {
	var f pinsFlags
	cmd := &cobra.Command{
		Use:   "diff --config FILE [--server S] [--item NAME] [--json]",
		Short: "Show what changed in quarantined items (old vs new canonical JSON, and a line diff)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			pins, err := s.List(cmd.Context(), f.server)
			if err != nil {
				return err
			}
			diffs := []pinDiff{}
			for i := range pins {
				p := &pins[i]
				if !f.match(p) || p.PendingHash == "" {
					continue
				}
				diffs = append(diffs, pinDiff{Server: p.Server, Kind: p.Kind, Name: p.Name, Reason: p.PendingReason,
					ApprovedHash: p.ApprovedHash, PendingHash: p.PendingHash, Old: p.ApprovedDef, New: p.PendingDef,
					Diff: pin.Diff(pin.Pretty([]byte(p.ApprovedDef)), pin.Pretty([]byte(p.PendingDef)))})
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				return writeJSON(out, diffs)
			}
			if len(diffs) == 0 {
				fmt.Fprintln(out, "nothing is quarantined: every pinned definition is approved")
				return nil
			}
			for _, d := range diffs {
				printPinDiff(out, f.cfgPath, d)
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

func printPinDiff(out io.Writer, cfgPath string, d pinDiff) {
	fmt.Fprintf(out, "%s %q on server %q: %s\n", d.Kind, d.Name, d.Server, d.Reason)
	if d.Kind == pin.KindServer {
		// The server's identity: how it is launched or reached, and what it says it is.
		if d.Old != "" {
			fmt.Fprintf(out, "  old identity: %s\n", pin.DescribeServer(d.Old))
		}
		fmt.Fprintf(out, "  new identity: %s\n", pin.DescribeServer(d.New))
	}
	if d.Old != "" {
		fmt.Fprintf(out, "  approved %s: %s\n", shortHash(d.ApprovedHash), d.Old)
	} else {
		fmt.Fprintln(out, "  approved: (never)")
	}
	fmt.Fprintf(out, "  pending  %s: %s\n", shortHash(d.PendingHash), d.New)
	fmt.Fprintln(out, "--- approved")
	fmt.Fprintln(out, "+++ pending")
	fmt.Fprint(out, d.Diff)
	fmt.Fprintf(out, "approve with: mcpwarden pins approve --config %s --server %s --kind %s --item %s --hash %s\n\n",
		cfgPath, d.Server, d.Kind, d.Name, d.PendingHash)
}

func newPinsApproveCmd() *cobra.Command {
	var f pinsFlags
	var hash string
	cmd := &cobra.Command{
		Use:   "approve --config FILE --server S --item NAME [--kind K] [--hash H]",
		Short: "Accept the pending definition of a quarantined item",
		Long: `Accept the pending definition of a quarantined item: it becomes the item's pin, and the gateway lists
it and forwards calls to it again (every replica sharing the store, on their next request). With --hash,
the approval only succeeds if the pending definition is still the one reviewed (its hash from pins diff).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.server == "" || f.item == "" {
				return usageErr(errors.New("pins approve needs --server S and --item NAME (see `mcpwarden pins diff` for what is quarantined)"))
			}
			s, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			pins, err := s.List(cmd.Context(), f.server)
			if err != nil {
				return err
			}
			var cands []*pin.Pin
			for i := range pins {
				if f.match(&pins[i]) && pins[i].PendingHash != "" {
					cands = append(cands, &pins[i])
				}
			}
			switch {
			case len(cands) == 0:
				return &exitError{code: exitFindings, err: fmt.Errorf("nothing to approve: no quarantined item %q on server %q (run `mcpwarden pins list --config %s`)", f.item, f.server, f.cfgPath)}
			case len(cands) > 1:
				return usageErr(fmt.Errorf("%q on server %q names more than one quarantined item (a %s and a %s): add --kind", f.item, f.server, cands[0].Kind, cands[1].Kind))
			}
			p, err := s.Approve(cmd.Context(), f.server, cands[0].Kind, f.item, hash, approverName())
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "approved %s %q on server %q: pin %s (by %s)\n", p.Kind, p.Name, p.Server, shortHash(p.ApprovedHash), p.ApprovedBy)
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&hash, "hash", "", "approve only if the pending definition has this SHA-256 (from pins diff)")
	return cmd
}

// approverName is who approves on the command line: the OS user.
func approverName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return "unknown"
}
