package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/gateway"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

func init() { extraCommands = append(extraCommands, newAPIKeyCmd) }

// apiKeyStore opens the API key file of the config (auth.api_keys_file, default data_dir/apikeys.json).
func apiKeyStore(cfgPath string) (*identity.FileAPIKeyStore, *config.Config, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	s, err := identity.NewFileAPIKeyStore(gateway.APIKeysPath(cfg))
	if err != nil {
		return nil, nil, usageErr(err)
	}
	return s, cfg, nil
}

func newAPIKeyCmd() *cobra.Command {
	var cfgPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "apikey create|list|revoke --config FILE",
		Short: "Manage gateway API keys for machine clients",
		Long: `API keys let machine clients (CI, services) authenticate to the gateway with
Authorization: Bearer mcpw_... . Only a SHA-256 hash of each key is stored (in
auth.api_keys_file, default DATA_DIR/apikeys.json); the key itself is shown once, at creation.
A key acts as the subject and groups given at creation; revocation takes effect on the next request.`,
	}
	cmd.PersistentFlags().StringVar(&cfgPath, "config", "", "config file (YAML)")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")

	var subject, description string
	var groups []string
	create := &cobra.Command{
		Use:   "create --subject NAME [--group G]... [--description TEXT]",
		Short: "Create a key (printed once; store it in the client's secret store)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(subject) == "" {
				return usageErr(errors.New("--subject is required: the user or service the key acts as, e.g. --subject ci-bot"))
			}
			s, cfg, err := apiKeyStore(cfgPath)
			if err != nil {
				return err
			}
			key, rec, err := s.Create(cmd.Context(), subject, groups, description)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(struct {
					Key string `json:"key"`
					identity.APIKey
				}{key, rec})
			}
			fmt.Fprintf(out, "%s\n", key)
			fmt.Fprintf(cmd.ErrOrStderr(), "created API key %s for %s (shown once: store it now; revoke with mcpwarden apikey revoke %s)\n",
				rec.ID, rec.Subject, rec.ID)
			if cfg.Auth == nil || cfg.Auth.Mode == config.AuthModeNone {
				fmt.Fprintln(cmd.ErrOrStderr(), "mcpwarden: warning: the config has no auth section (or mode: none), so the gateway does not check API keys yet: add auth: {mode: api_key} or an oauth setup")
			}
			return nil
		},
	}
	create.Flags().StringVar(&subject, "subject", "", "the user or service the key acts as")
	create.Flags().StringSliceVar(&groups, "group", nil, "a group of the principal (repeatable)")
	create.Flags().StringVar(&description, "description", "", "what the key is for")

	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (ids, owners, last use; never the keys)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := apiKeyStore(cfgPath)
			if err != nil {
				return err
			}
			keys, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				for i := range keys {
					keys[i].Hash = "" // not a secret, but of no use to a reader
				}
				return json.NewEncoder(out).Encode(keys)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSUBJECT\tGROUPS\tCREATED\tLAST USED\tSTATUS\tDESCRIPTION")
			for _, k := range keys {
				status := "active"
				if k.RevokedAt != nil {
					status = "revoked " + k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Subject, strings.Join(k.Groups, ","),
					k.CreatedAt.Format(time.RFC3339), timeOrNever(k.LastUsedAt), status, k.Description)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key (effective on its next use)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := apiKeyStore(cfgPath)
			if err != nil {
				return err
			}
			if err := s.Revoke(cmd.Context(), args[0]); err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "revoked API key %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}
