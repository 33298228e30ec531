package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newReindexCmd(g *globals) *cobra.Command {
	var dryRun, verbose bool
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Reconcile the recordings on disk with the index (safe to run again)",
		Long: `Walk storage.root/tenants/*/monitor and reconcile it with the index:
  - files without a row are adopted (start, call and recording from the name; size,
    duration and sha256 from the content; a WAV left by a crash is repaired first);
  - rows whose file is gone are marked missing, rows whose size or sha256 differ are
    marked corrupt, and missing/corrupt rows whose file is back intact are restored;
  - leftover temp files and files of deleted recordings are removed.
Live recordings are never touched and symlinks out of the root are never followed.
A second run over an unchanged tree changes nothing. Exits 1 if anything could not
be checked or changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, cfg, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if !dryRun {
				// Files of configured tenants can be adopted even before
				// `serve` has registered them.
				for _, t := range cfg.Tenants {
					created, err := s.EnsureTenant(ctx, t.UUID, t.Name, cfg.Defaults.FeatureCodes)
					if err != nil {
						return fmt.Errorf("tenant %s from the configuration: %w", t.UUID, err)
					}
					if created {
						fmt.Fprintf(out, "registered tenant %s (%s) from the configuration\n", t.UUID, t.Name)
					}
				}
			}
			var index media.Index = s
			if dryRun {
				// The configured tenants a real run would register.
				ct := configuredTenants{Index: s}
				for _, t := range cfg.Tenants {
					ct.uuids = append(ct.uuids, t.UUID)
				}
				index = ct
			}
			bar := newBar(errw)
			rx := media.Reindexer{Root: cfg.Storage.Root, Index: index, DryRun: dryRun,
				Progress: bar.progress,
				Report: func(f media.Finding) {
					if verbose || f.Kind == media.FoundProblem {
						bar.clear()
						fmt.Fprintln(errw, f)
					}
				}}
			sum, err := rx.Run(ctx)
			bar.finish()
			if err != nil {
				return fmt.Errorf("reindex of storage.root %s: %w", cfg.Storage.Root, err)
			}
			printReindexSummary(out, cfg.Storage.Root, sum)
			if sum.ProblemCount > 0 {
				return fmt.Errorf("reindex: %d file(s) or row(s) could not be checked or changed (listed above)", sum.ProblemCount)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change without changing anything")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every change and skipped file (on stderr)")
	return cmd
}

// configuredTenants adds the configuration's tenants to the index's, for a
// dry run that must not register them.
type configuredTenants struct {
	media.Index
	uuids []string
}

func (c configuredTenants) IndexedTenants(ctx context.Context) ([]string, error) {
	known, err := c.Index.IndexedTenants(ctx)
	for _, u := range c.uuids {
		if !slices.Contains(known, u) {
			known = append(known, u)
		}
	}
	return known, err
}

func printReindexSummary(w io.Writer, root string, s media.ReindexSummary) {
	fmt.Fprintf(w, "reindex of %s: %d tenant(s), %d file(s), %d indexed recording(s)\n", root, s.Tenants, s.Files, s.Rows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, l := range []struct {
		n    int
		what string
	}{
		{s.Intact, "intact"},
		{s.Adopted, "adopted (file without a row)"},
		{s.Missing, "marked missing (file gone)"},
		{s.Corrupt, "marked corrupt (size or sha256 differ)"},
		{s.Restored, "restored (file back intact)"},
		{s.Updated, "file facts recorded"},
		{s.Repaired, "WAV headers repaired"},
		{s.Temps, "temp files removed"},
		{s.Purged, "files of deleted recordings removed"},
		{s.Live, "live recordings left alone"},
		{s.Skipped, "skipped (symlinks, other names, stray copies)"},
		{s.ProblemCount, "problems"},
	} {
		fmt.Fprintf(tw, "  %d\t  %s\n", l.n, l.what)
	}
	tw.Flush()
	switch {
	case s.DryRun:
		fmt.Fprintf(w, "dry run: %d change(s) would be made; nothing was changed\n", s.Changes())
	default:
		fmt.Fprintf(w, "%d change(s) made\n", s.Changes())
	}
}

// bar is a progress bar on a terminal, nothing elsewhere (logs, pipes, tests).
type bar struct {
	w   io.Writer
	tty bool
	pb  *progressbar.ProgressBar
}

func newBar(w io.Writer) *bar {
	f, ok := w.(*os.File)
	return &bar{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (b *bar) progress(done, total int) {
	if !b.tty {
		return
	}
	if b.pb == nil {
		b.pb = progressbar.NewOptions(total, progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetDescription("reindex"), progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("files"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	if int64(total) != b.pb.GetMax64() {
		b.pb.ChangeMax(total)
	}
	_ = b.pb.Set(done)
}

func (b *bar) clear() {
	if b.pb != nil {
		_ = b.pb.Clear()
	}
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}
