package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/callrecd/callrecd/store"
	"github.com/spf13/cobra"
)

func newMigrateCmd(g *globals) *cobra.Command {
	var to int64
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema (safe to run again)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(nil)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(cfg.Database.Path), 0o750); err != nil {
				return err
			}
			s, err := store.Open(cmd.Context(), cfg.Database.Path)
			if err != nil {
				return err
			}
			defer s.Close()
			applied, err := s.Migrate(cmd.Context(), to)
			for _, v := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied migration %d\n", v)
			}
			if err != nil {
				return err
			}
			current, latest, err := s.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is up to date (schema version %d of %d)\n", cfg.Database.Path, current, latest)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is at schema version %d of %d\n", cfg.Database.Path, current, latest)
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&to, "to", 0, "migrate only up to this version (default: all)")
	return cmd
}
