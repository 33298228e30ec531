package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

func newSIPCredentialCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sip-credential",
		Short: "Set, list and delete the SIP digest users of callrecd's SIP listener (sip.*)",
		Long: `The SIP listener (sip.enabled) authenticates PortSIP's recording-control MESSAGE by SIP
digest. Each credential belongs to a tenant and names the PBX endpoint of the user's phone
(default: the username): only a party of the call may pause or resume it. Only the HA1 of
each algorithm (MD5, SHA-256) for sip.realm is stored, never the password.`,
	}
	cmd.AddCommand(newSIPCredentialSetCmd(g), newSIPCredentialListCmd(g), newSIPCredentialDeleteCmd(g))
	return cmd
}

func newSIPCredentialSetCmd(g *globals) *cobra.Command {
	var tenant, endpoint string
	cmd := &cobra.Command{
		Use:   "set USERNAME --tenant UUID [--endpoint NAME]",
		Short: "Create or replace a credential; the password is read from standard input",
		Long: `Create or replace a credential. The password is read from standard input (its first
line), or asked for without echo on a terminal: never on the command line, where other users
of the machine could read it.`,
		Example: `  callrecd sip-credential set 1002 --tenant 2c34c282-433e-4bb8-8d56-fec14ff7e1e9
  printf '%s\n' "$PASSWORD" | callrecd sip-credential set 1002 --tenant 2c34c282-... --endpoint 1002`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			username := args[0]
			if err := checkSIPCredentialArgs(tenant, username, endpoint); err != nil {
				return usageError{err}
			}
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.GetTenant(cmd.Context(), tenant); err != nil {
				return usageError{fmt.Errorf("--tenant %s: no such tenant", tenant)}
			}
			password, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), "SIP password: ", "callrecd sip-credential set …")
			if err != nil {
				return usageError{err}
			}
			// Hash for the configured realm, as serve will challenge with it.
			if _, err := s.SetSIPRealm(cmd.Context(), cfg.SIP.Realm); err != nil {
				return err
			}
			c, created, err := s.PutSIPCredential(cmd.Context(), store.SIPCredential{TenantUUID: tenant, Username: username,
				Endpoint: endpoint}, password)
			if errors.Is(err, store.ErrConflict) {
				return usageError{fmt.Errorf("username %q is already used by another tenant in realm %q", username, cfg.SIP.Realm)}
			}
			if err != nil {
				return err
			}
			verb := "replaced"
			if created {
				verb = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "SIP credential %s %s (tenant %s, endpoint %s, realm %s)\n", c.Username, verb,
				c.TenantUUID, c.Endpoint, c.Realm)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant uuid (required)")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "the PBX endpoint of the user's phone (default: the username)")
	return cmd
}

// checkSIPCredentialArgs explains a bad command line before anything is
// opened.
func checkSIPCredentialArgs(tenant, username, endpoint string) error {
	if _, err := uuid.Parse(tenant); err != nil || len(tenant) != 36 {
		return fmt.Errorf("--tenant %q: a tenant uuid is required", tenant)
	}
	if !store.ValidSIPName(username) {
		return fmt.Errorf("username %q: 1-64 SIP user characters (letters, digits, -_.!~*'()&=+$,;?/)", username)
	}
	if endpoint != "" && !store.ValidSIPName(endpoint) {
		return fmt.Errorf("--endpoint %q: 1-64 SIP user characters", endpoint)
	}
	return nil
}

func newSIPCredentialListCmd(g *globals) *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List credentials (never a password or hash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			cs, err := s.ListSIPCredentials(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TENANT\tUSERNAME\tENDPOINT\tREALM\tUPDATED")
			for _, c := range cs {
				realm := c.Realm
				if realm != cfg.SIP.Realm {
					realm += " (not sip.realm: set the password again)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.TenantUUID, c.Username, c.Endpoint, realm, c.UpdatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's credentials")
	return cmd
}

func newSIPCredentialDeleteCmd(g *globals) *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "delete USERNAME --tenant UUID",
		Short: "Delete a credential",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := uuid.Parse(tenant); err != nil || len(tenant) != 36 {
				return usageError{fmt.Errorf("--tenant %q: a tenant uuid is required", tenant)}
			}
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.DeleteSIPCredential(cmd.Context(), tenant, args[0]); err != nil {
				if store.IsNotFound(err) {
					return usageError{fmt.Errorf("tenant %s has no SIP credential %q", tenant, args[0])}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "SIP credential %s deleted\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant uuid (required)")
	return cmd
}
