package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newExportCmd(g *globals) *cobra.Command {
	var o struct {
		tenant, from, until, search, direction, number, out string
		tags, users                                         []string
		ids                                                 []int64
		fromID                                              int64
	}
	cmd := &cobra.Command{
		Use:   "export --tenant UUID --out FILE.zip [--from T] [--until T] [filters]",
		Short: "Export a tenant's recordings into a zip, here and now (and export status|list)",
		Long: `Build the same zip as POST /api/call-logd/1.0/cdr/recordings/media/export, straight to
--out (written under a temporary name and renamed when complete): every recording of the
calls that start at or after --from and before --until and match the filters, as
<cdr_id>/<file>, stored as recorded, with manifest.csv and manifest.json (sha256 of each
file; unreadable files are listed as missing). Times are RFC 3339 or Wazo's forms
(2021-04-01T00:00:00-0500; without an offset: UTC). The export is recorded and audited like
one made over the API. A progress bar is drawn on a terminal, plain lines otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.tenant == "" || o.out == "" {
				return usageError{errors.New("--tenant and --out are required")}
			}
			if _, err := uuid.Parse(o.tenant); err != nil {
				return usageError{fmt.Errorf("--tenant: not a UUID: %q", o.tenant)}
			}
			f := export.Filter{Search: o.search, CallDirection: o.direction, Number: o.number, Tags: o.tags,
				UserUUIDs: o.users, CDRIDs: o.ids, FromID: o.fromID}
			var err error
			if f.From, err = cliTime("--from", o.from); err != nil {
				return err
			}
			if f.Until, err = cliTime("--until", o.until); err != nil {
				return err
			}
			out, err := filepath.Abs(o.out)
			if err != nil {
				return usageError{err}
			}
			return runExport(cmd.Context(), g, o.tenant, f, out, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.tenant, "tenant", "", "tenant UUID (required)")
	fl.StringVar(&o.out, "out", "", "the zip to write (required)")
	fl.StringVar(&o.from, "from", "", "calls that start at or after this time")
	fl.StringVar(&o.until, "until", "", "calls that start before this time (default: now)")
	fl.StringVar(&o.search, "search", "", "a part of a name or number")
	fl.StringVar(&o.direction, "call-direction", "", "internal, inbound, outbound or unknown")
	fl.StringVar(&o.number, "number", "", "a number (a leading or trailing _ is a wildcard)")
	fl.StringSliceVar(&o.tags, "tags", nil, "calls with every one of these tags")
	fl.StringSliceVar(&o.users, "user-uuid", nil, "calls of one of these users")
	fl.Int64SliceVar(&o.ids, "cdr-id", nil, "only these calls")
	fl.Int64Var(&o.fromID, "from-id", 0, "calls whose id is at least this")
	cmd.AddCommand(newExportStatusCmd(g), newExportListCmd(g))
	return cmd
}

// cliTime reads a --from/--until value as the API reads from/until.
func cliTime(flag, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700",
		"2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return &t, nil
		}
	}
	return nil, usageError{fmt.Errorf("%s: not an ISO 8601 date-time: %q", flag, v)}
}

func runExport(ctx context.Context, g *globals, tenant string, f export.Filter, out string, stdout, stderr io.Writer) error {
	st, cfg, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if f.Validate() != nil {
		return usageError{f.Validate()}
	}
	root, err := filepath.Abs(cfg.Storage.Root)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(cfg.Exports.Dir)
	if err != nil {
		return err
	}
	svc, err := export.New(export.Config{Store: st, Root: root, Dir: dir})
	if err != nil {
		return err
	}
	if _, err := st.GetTenant(ctx, tenant); err != nil {
		return usageError{fmt.Errorf("--tenant %s: %w", tenant, err)}
	}
	j, err := svc.Prepare(ctx, export.Request{Tenant: tenant, Actor: "cli", Filter: f}, out)
	if errors.Is(err, export.ErrNothingToExport) {
		return fmt.Errorf("no recording to export: no call of tenant %s that matches has a recording file", tenant)
	} else if err != nil {
		return err
	}
	p := newExportProgress(stderr)
	j, err = svc.RunJob(ctx, j.UUID, export.RunOptions{Out: out, Progress: p.update})
	p.finish()
	if err != nil {
		return fmt.Errorf("export %s: %w", j.UUID, err)
	}
	fmt.Fprintf(stdout, "export %s: %d recording(s), %d byte(s) written to %s\n", j.UUID, j.FilesDone, j.Size, out)
	if j.FilesMissing > 0 {
		fmt.Fprintf(stdout, "%d recording(s) could not be read; manifest.csv lists them\n", j.FilesMissing)
	}
	return nil
}

// exportProgress draws a bar on a terminal; elsewhere (logs, pipes) it
// prints a plain line at each tenth of the files.
type exportProgress struct {
	w     io.Writer
	pb    *progressbar.ProgressBar
	tty   bool
	tenth int
}

func newExportProgress(w io.Writer) *exportProgress {
	f, ok := w.(*os.File)
	return &exportProgress{w: w, tty: ok && term.IsTerminal(int(f.Fd())), tenth: -1}
}

func (p *exportProgress) update(done, total int, bytes int64) {
	if p.tty {
		if p.pb == nil {
			p.pb = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("export"), progressbar.OptionShowCount(),
				progressbar.OptionSetItsString("files"), progressbar.OptionShowIts(),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		}
		_ = p.pb.Set(done)
		return
	}
	if t := done * 10 / max(total, 1); t != p.tenth || done == total {
		p.tenth = t
		fmt.Fprintf(p.w, "export: %d/%d files, %d bytes\n", done, total, bytes)
	}
}

func (p *exportProgress) finish() {
	if p.pb != nil {
		_ = p.pb.Finish()
	}
}

func newExportStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status UUID",
		Short: "Show an export's status as GET /api/call-logd/1.0/exports/{uuid} does",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			j, err := st.GetExportJob(cmd.Context(), "", strings.ToLower(args[0]))
			if errors.Is(err, store.ErrNotFound) {
				return usageError{fmt.Errorf("no export %s", args[0])}
			} else if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(export.StatusOf(j))
		},
	}
}

func newExportListCmd(g *globals) *cobra.Command {
	var tenant string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--tenant UUID]",
		Short: "List exports, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, _, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			jobs, err := st.ListExportJobs(cmd.Context(), tenant, store.Page{Limit: limit})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UUID\tTENANT\tREQUESTED\tSTATUS\tFILES\tMISSING\tSIZE\tBY")
			for _, j := range jobs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\n", j.UUID, j.TenantUUID,
					j.CreatedAt.Format(time.RFC3339), j.Status, j.FilesDone, j.FilesTotal, j.FilesMissing, j.Size, j.RequestedBy)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's exports")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many")
	return cmd
}
