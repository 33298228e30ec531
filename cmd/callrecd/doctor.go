package main

import (
	"errors"
	"log/slog"
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

// logDoctor runs the checks at serve's start and logs what is not fine:
// an administrator sees a wrong set-up in the first lines of the log.
func logDoctor(r doctor.Report, log *slog.Logger) {
	for _, x := range r {
		switch x.Status {
		case doctor.Fail:
			log.Error("set-up check failed", "check", x.Check, "found", x.Detail, "fix", x.Fix)
		case doctor.Warn:
			log.Warn("set-up check", "check", x.Check, "found", x.Detail, "fix", x.Fix)
		}
	}
}
