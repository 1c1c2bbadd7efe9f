package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpwarden/mcpwarden/internal/gateway"
	"github.com/mcpwarden/mcpwarden/internal/identity"
)

func init() { extraCommands = append(extraCommands, newCredentialsCmd) }

func newCredentialsCmd() *cobra.Command {
	var cfgPath, user string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "credentials set|list|delete|rotate --config FILE",
		Short: "Manage per-user upstream credentials (encrypted)",
		Long: `Per-user credentials are secrets (e.g. a personal GitHub token) that the gateway sends to a remote
server on behalf of the user making the call, for servers configured with credentials: {name: NAME}.
They are stored in DATA_DIR/credentials.json, encrypted with AES-256-GCM under the key in
$MCPWARDEN_CREDENTIAL_KEY or DATA_DIR/credentials.key (created on first use, mode 0600).

--user is the principal id the gateway logs and audits: oidc:SUBJECT@ISSUER for OAuth users,
api_key:SUBJECT for API keys, local:USER@HOST for the local user (the default).`,
	}
	cmd.PersistentFlags().StringVar(&cfgPath, "config", "", "config file (YAML)")
	cmd.PersistentFlags().StringVar(&user, "user", "", "principal id (default: the local user, "+identity.Local().ID()+")")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	open := func() (*identity.CredentialStore, error) {
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			return nil, err
		}
		s, err := gateway.OpenCredentialStore(cfg)
		if err != nil {
			return nil, usageErr(err)
		}
		return s, nil
	}
	who := func() string {
		if user == "" {
			return identity.Local().ID()
		}
		return user
	}

	set := &cobra.Command{
		Use:   "set NAME < secret",
		Short: "Store the user's secret NAME, read from standard input (never from the command line)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
			if err != nil {
				return err
			}
			secret := strings.TrimRight(string(b), "\r\n")
			if secret == "" {
				return usageErr(errors.New("no secret on standard input: pipe it in, e.g. mcpwarden credentials set NAME < token.txt"))
			}
			if strings.ContainsFunc(secret, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return usageErr(errors.New("the secret contains a control character or a line break, which cannot be sent in an HTTP header"))
			}
			if err := s.Set(cmd.Context(), who(), args[0], []byte(secret)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "stored credential %q for %s\n", args[0], who())
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List stored credentials (names and owners, never the secrets); all users unless --user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			infos, err := s.List(cmd.Context(), user)
			if err != nil {
				return err
			}
			if asJSON {
				if infos == nil {
					infos = []identity.CredentialInfo{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(infos)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tNAME\tKEY\tUPDATED")
			for _, i := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.User, i.Name, i.KeyID, i.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete the user's secret NAME",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			if err := s.Delete(cmd.Context(), who(), args[0]); err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "deleted credential %q of %s\n", args[0], who())
			return nil
		},
	}
	var newKey bool
	rotate := &cobra.Command{
		Use:   "rotate [--new-key]",
		Short: "Re-encrypt every credential with the current key (--new-key: generate one first)",
		Long: `rotate re-encrypts every stored credential with the current key. With a key file, --new-key first
generates a new key; keys no credential needs any more are then removed from the file. With
$MCPWARDEN_CREDENTIAL_KEY, set the new key there, list the old one in $MCPWARDEN_CREDENTIAL_OLD_KEYS,
run rotate, then drop the old key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			n, err := s.Rotate(cmd.Context(), newKey)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "re-encrypted %d credential(s) with the current key\n", n)
			return nil
		},
	}
	rotate.Flags().BoolVar(&newKey, "new-key", false, "generate a new key first (key file only)")
	cmd.AddCommand(set, list, del, rotate)
	return cmd
}
