package main

import (
	"errors"
	"time"

	"github.com/callrecd/callrecd/doctor"
	"github.com/spf13/cobra"
)

func newDoctorCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the set-up: the PBX link, its recording folder, storage, database, ffmpeg, mail",
		Long: `doctor runs every check callrecd can make of its set-up and prints one line each
(✓ fine, ! warning, ✗ will not work) with the fix for what fails. The exit status is 1
when something fails. serve runs the same checks at start and logs what fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(nil)
			if err != nil {
				return err
			}
			r := doctor.Run(cmd.Context(), cfg, timeout)
			r.Print(cmd.OutOrStdout())
			if r.Failed() {
				return errors.New("doctor: some checks failed (see the fixes above)")
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "bound on each network check")
	return cmd
}
