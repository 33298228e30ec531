package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/spf13/cobra"
)

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (X-Auth-Token)",
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return cmd
}

func newTokenCreateCmd(g *globals) *cobra.Command {
	var tenant, role, user, description string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print it once (it cannot be shown again)",
		Long: `Create an API token. Roles:
  system  every tenant (the Wazo-Tenant header selects one); no --tenant
  admin   one tenant's settings, calls and recordings; needs --tenant
  user    one user's own calls and recordings (the users/me API); needs --tenant and --user`,
		Example: `  callrecd token create --role system
  callrecd token create --tenant 2c34c282-433e-4bb8-8d56-fec14ff7e1e9 --role admin
  callrecd token create --tenant 2c34c282-... --role user --user b2e98781-...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := store.Token{Role: role, TenantUUID: tenant, UserUUID: user, Description: description}
			if err := checkTokenFlags(t); err != nil {
				return usageError{err}
			}
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if t.TenantUUID != "" {
				if _, err := s.GetTenant(cmd.Context(), t.TenantUUID); err != nil {
					return usageError{fmt.Errorf("--tenant %s: no such tenant", t.TenantUUID)}
				}
			}
			if t.UserUUID != "" {
				if _, err := s.GetUser(cmd.Context(), t.TenantUUID, t.UserUUID); err != nil {
					return usageError{fmt.Errorf("--user %s: no such user in tenant %s", t.UserUUID, t.TenantUUID)}
				}
			}
			created, plain, err := s.CreateToken(cmd.Context(), t)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), plain)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %s created (role %s); store it now, it will not be shown again\n", created.ID, created.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant uuid (admin and user tokens)")
	cmd.Flags().StringVar(&role, "role", "", "system, admin or user (required)")
	cmd.Flags().StringVar(&user, "user", "", "user uuid (user tokens)")
	cmd.Flags().StringVar(&description, "description", "", "a note on what the token is for")
	return cmd
}

// checkTokenFlags explains a wrong role/tenant/user combination before the
// database refuses it less clearly.
func checkTokenFlags(t store.Token) error {
	return checkRoleFlags("token", t.Role, t.TenantUUID, t.UserUUID)
}

func newTokenListCmd(g *globals) *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			tokens, err := s.ListTokens(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tROLE\tTENANT\tUSER\tCREATED\tLAST USED\tREVOKED\tDESCRIPTION")
			for _, t := range tokens {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, dash(t.TenantUUID), dash(t.UserUUID),
					t.CreatedAt.Format(time.RFC3339), timeOrDash(t.LastUsedAt), timeOrDash(t.RevokedAt), t.Description)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's tokens")
	return cmd
}

func newTokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token by its id (from `token list`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.RevokeToken(cmd.Context(), "", args[0]); err != nil {
				if store.IsNotFound(err) {
					return usageError{fmt.Errorf("no token with id %q", args[0])}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked\n", args[0])
			return nil
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
