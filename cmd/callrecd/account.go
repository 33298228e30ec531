package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newAccountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Create, list and delete the web page's sign-in accounts, and set their passwords",
		Long: `An account signs in to the web page (POST /api/callrecd/1.0/session) with a username and
password, and then acts with its role exactly as an API token of that role:
  system  every tenant (the page picks one); no --tenant
  admin   one tenant's settings, calls and recordings; needs --tenant
  user    one user's own calls and recordings; needs --tenant and --user
Only a bcrypt hash of the password is stored.`,
	}
	cmd.AddCommand(newAccountCreateCmd(g), newAccountListCmd(g), newAccountDeleteCmd(g), newAccountPasswdCmd(g))
	return cmd
}

func newAccountCreateCmd(g *globals) *cobra.Command {
	var tenant, role, user string
	cmd := &cobra.Command{
		Use:   "create NAME --role system|admin|user [--tenant UUID] [--user UUID]",
		Short: "Create an account; the password is read from standard input",
		Long: `Create an account. The password (8 characters to 72 bytes) is read from standard input
(its first line), or asked for twice without echo on a terminal: never on the command line,
where other users of the machine could read it.`,
		Example: `  callrecd account create root --role system
  callrecd account create alice --role admin --tenant 2c34c282-433e-4bb8-8d56-fec14ff7e1e9
  printf '%s\n' "$PASSWORD" | callrecd account create olga --role user --tenant 2c34c282-... --user b2e98781-...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := store.Account{Username: args[0], Role: role, TenantUUID: tenant, UserUUID: user}
			if err := checkAccountArgs(a); err != nil {
				return usageError{err}
			}
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if a.TenantUUID != "" {
				if _, err := s.GetTenant(cmd.Context(), a.TenantUUID); err != nil {
					return usageError{fmt.Errorf("--tenant %s: no such tenant", a.TenantUUID)}
				}
			}
			if a.UserUUID != "" {
				if _, err := s.GetUser(cmd.Context(), a.TenantUUID, a.UserUUID); err != nil {
					return usageError{fmt.Errorf("--user %s: no such user in tenant %s", a.UserUUID, a.TenantUUID)}
				}
			}
			// Refuse a taken name before asking for a password.
			if _, err := s.GetAccount(cmd.Context(), a.Username); err == nil {
				return usageError{fmt.Errorf("account %q already exists (callrecd account passwd %s sets its password)", a.Username, a.Username)}
			}
			password, err := readNewPassword(cmd, "create "+a.Username)
			if err != nil {
				return usageError{err}
			}
			created, err := s.CreateAccount(cmd.Context(), a, password)
			switch {
			case errors.Is(err, store.ErrConflict):
				return usageError{fmt.Errorf("account %q already exists", a.Username)}
			case errors.Is(err, store.ErrInvalid):
				return usageError{err}
			case err != nil:
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "account %s created (role %s)\n", created.Username, created.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "system, admin or user (required)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant uuid (admin and user accounts)")
	cmd.Flags().StringVar(&user, "user", "", "user uuid (user accounts)")
	return cmd
}

// checkAccountArgs explains a bad name or role/tenant/user combination
// before anything is opened.
func checkAccountArgs(a store.Account) error {
	if !store.ValidAccountName(a.Username) {
		return fmt.Errorf("name %q: 1-64 letters, digits or ._@+-", a.Username)
	}
	return checkRoleFlags("account", a.Role, a.TenantUUID, a.UserUUID)
}

// readNewPassword reads a new password: the first line of a pipe, or, on a
// terminal, twice without echo, since a typo nobody saw would lock the
// account out.
func readNewPassword(cmd *cobra.Command, usage string) (string, error) {
	in, prompt := cmd.InOrStdin(), cmd.ErrOrStderr()
	f, ok := in.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	example := "callrecd account " + usage + " …"
	password, err := readPassword(in, prompt, "Password: ", example)
	if err != nil {
		return "", err
	}
	if err := store.ValidPassword(password); err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))
	}
	if tty {
		again, err := readPassword(in, prompt, "Password again: ", example)
		if err != nil {
			return "", err
		}
		if again != password {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
	}
	return password, nil
}

func newAccountListCmd(g *globals) *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list [--tenant UUID]",
		Short: "List accounts (never a password or hash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := uuid.Parse(tenant); tenant != "" && (err != nil || len(tenant) != 36) {
				return usageError{fmt.Errorf("--tenant %q is not a UUID", tenant)}
			}
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			accounts, err := s.ListAccounts(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "USERNAME\tROLE\tTENANT\tUSER\tCREATED\tUPDATED")
			for _, a := range accounts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Username, a.Role, dash(a.TenantUUID), dash(a.UserUUID),
					a.CreatedAt.Format(time.RFC3339), a.UpdatedAt.Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's accounts")
	return cmd
}

func newAccountDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an account and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.DeleteAccount(cmd.Context(), args[0]); err != nil {
				if store.IsNotFound(err) {
					return usageError{fmt.Errorf("no account %q", args[0])}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "account %s deleted\n", args[0])
			return nil
		},
	}
}

func newAccountPasswdCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set an account's password (read as for create) and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.GetAccount(cmd.Context(), args[0]); store.IsNotFound(err) {
				return usageError{fmt.Errorf("no account %q", args[0])}
			} else if err != nil {
				return err
			}
			password, err := readNewPassword(cmd, "passwd "+args[0])
			if err != nil {
				return usageError{err}
			}
			if err := s.SetAccountPassword(cmd.Context(), args[0], password); err != nil {
				if store.IsNotFound(err) {
					return usageError{fmt.Errorf("no account %q", args[0])}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of account %s changed; its sessions were ended\n", args[0])
			return nil
		},
	}
}
