package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/callrecd/callrecd/store"
)

// RunOptions changes how RunJob runs one job.
type RunOptions struct {
	// Out writes the zip to this file instead of the exports dir (the
	// CLI): the job is then recorded without a downloadable path.
	Out string
	// Progress is told after each recording: done of total, bytes so far.
	Progress func(done, total int, bytes int64)
}

// progressEvery: a running job writes its counters at most this often (a
// 10,000-file export would otherwise write 10,000 rows).
const progressEvery = 500 * time.Millisecond

// RunJob builds one export now: processing, the zip streamed to a
// temporary name in the target folder, renamed when complete, then
// finished (or error, with the reason) and the notifications. When ctx ends
// first the temporary file is removed and the job left processing, so the
// next start runs it again.
func (s *Service) RunJob(ctx context.Context, id string, opts RunOptions) (store.ExportJob, error) {
	j, err := s.st.GetExportJob(ctx, "", id)
	if err != nil {
		return j, err
	}
	f, err := ParseFilter(j.Query)
	if err != nil {
		return s.fail(ctx, j, fmt.Errorf("stored filter: %w", err))
	}
	var items []item
	if err := each(ctx, s.st, j.TenantUUID, f, func(it item) bool { items = append(items, it); return true }); err != nil {
		return s.fail(ctx, j, err)
	}
	started := s.now().UTC()
	j.Status, j.StartedAt, j.Attempts = store.ExportProcessing, &started, j.Attempts+1
	j.FilesTotal, j.FilesDone, j.FilesMissing, j.BytesDone, j.Error, j.Path = len(items), 0, 0, 0, "", ""
	if err := s.st.UpdateExportJob(ctx, j); err != nil {
		return j, err
	}

	final := filepath.Join(s.cfg.Dir, j.UUID+".zip")
	if opts.Out != "" {
		final = opts.Out
	}
	// The folder is made on first use: building callrecd (tests, the CLI)
	// must not need the default /var/lib path.
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return s.fail(ctx, j, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(final), tempPrefix+j.UUID+"-*.zip")
	if err != nil {
		return s.fail(ctx, j, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	a := newArchive(tmp, s.cfg.Root)
	last := time.Now()
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			tmp.Close()
			return j, err
		}
		if err := a.add(it); err != nil {
			tmp.Close()
			return s.fail(ctx, j, fmt.Errorf("writing the zip: %w", err))
		}
		j.FilesDone, j.FilesMissing, j.BytesDone = i+1-a.missing, a.missing, a.bytes
		if opts.Progress != nil {
			opts.Progress(i+1, len(items), a.bytes)
		}
		if time.Since(last) >= progressEvery {
			last = time.Now()
			if err := s.st.SetExportProgress(ctx, j.UUID, j.FilesDone, j.FilesMissing, j.BytesDone); err != nil && ctx.Err() == nil {
				s.log.Warn("export progress not written", "export", j.UUID, "err", err)
			}
		}
	}
	err = a.finish(Manifest{ExportUUID: j.UUID, TenantUUID: j.TenantUUID, RequestedAt: formatTS(j.CreatedAt), Filter: f})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameDurably(tmp.Name(), final)
	}
	if err != nil {
		if ctx.Err() != nil {
			return j, ctx.Err()
		}
		return s.fail(ctx, j, fmt.Errorf("writing the zip: %w", err))
	}
	st, err := os.Stat(final)
	if err != nil {
		return s.fail(ctx, j, err)
	}
	if opts.Out == "" {
		j.NotifyError = s.deliver(j, final)
	}
	done := s.now().UTC()
	j.Status, j.Size, j.FinishedAt = store.ExportFinished, st.Size(), &done
	if opts.Out == "" {
		j.Path = final
	}
	if j.FilesMissing > 0 {
		j.Error = fmt.Sprintf("%d of %d recordings could not be read; manifest.csv lists them", j.FilesMissing, j.FilesTotal)
	}
	if err := s.st.UpdateExportJob(ctx, j); err != nil {
		return j, err
	}
	if opts.Out == "" {
		j.NotifyError = s.notify(ctx, j)
		if j.NotifyError != "" {
			if err := s.st.UpdateExportJob(ctx, j); err != nil {
				return j, err
			}
		}
	}
	s.auditEnd(ctx, j)
	return j, nil
}

// fail marks the job error with the reason and tells the webhook.
func (s *Service) fail(ctx context.Context, j store.ExportJob, cause error) (store.ExportJob, error) {
	if ctx.Err() != nil {
		return j, ctx.Err()
	}
	now := s.now().UTC()
	j.Status, j.Error, j.FinishedAt, j.Path = store.ExportError, cause.Error(), &now, ""
	if err := s.st.UpdateExportJob(ctx, j); err != nil {
		return j, errors.Join(cause, err)
	}
	if n := s.notify(ctx, j); n != "" {
		j.NotifyError = n
		_ = s.st.UpdateExportJob(ctx, j)
	}
	s.auditEnd(ctx, j)
	return j, cause
}

// renameDurably renames and syncs the folder, so a finished export never
// comes back as missing after a crash.
func renameDurably(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(to))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func jobDestinations(j store.ExportJob) destinations {
	var d destinations
	_ = json.Unmarshal(j.Destinations, &d)
	return d
}
