package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// RetentionActor is the audit actor of recordings the retention job deletes.
const RetentionActor = "retention"

// Retention deletes recordings older than their tenant's recording retention
// (days, counted from the recording's start): the file is removed, the row
// flagged deleted and an audit entry written (actor "retention"). Live
// recordings are never touched. Rows are read in batches of BatchSize, so a
// first run over years of recordings never holds them all in memory. Running
// it again deletes nothing more until more recordings expire; a run cut short
// (crash, file that cannot be removed) is finished by the next one.
type Retention struct {
	Root  string
	Index RetentionIndex

	Now       func() time.Time // default time.Now
	BatchSize int              // rows per index query; default 200
	Log       *slog.Logger     // default: discard

	// RunDaily's schedule: At is the time of day, in UTC, of the daily
	// run (zero: 03:00, when PBXs are quiet); After waits (default
	// time.After; tests pass a fake clock's). OnRun, if set, is called
	// after every run (for metrics and tests).
	At    time.Duration
	After func(d time.Duration) <-chan time.Time
	OnRun func(RetentionSummary, error)
}

// RetentionSummary is what one retention run did.
type RetentionSummary struct {
	Tenants      int // tenants with a recording retention
	Deleted      int
	Problems     []Finding // the first maxProblems
	ProblemCount int
}

func (r Retention) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r Retention) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Run deletes every expired recording now. It fails only when the index or
// the root cannot be read; a recording it cannot delete is a problem in the
// summary (and is tried again next run).
func (r Retention) Run(ctx context.Context) (RetentionSummary, error) {
	var sum RetentionSummary
	if r.Index == nil {
		return sum, errors.New("media: retention: no index")
	}
	batch := r.BatchSize
	if batch <= 0 {
		batch = 200
	}
	policies, err := r.Index.RecordingRetention(ctx)
	if err != nil {
		return sum, fmt.Errorf("media: retention: %w", err)
	}
	if len(policies) == 0 {
		return sum, nil
	}
	// os.Root removes the last element itself (a symlink is unlinked, not
	// followed) and refuses any path that leaves the root.
	root, err := os.OpenRoot(r.Root)
	if err != nil {
		return sum, fmt.Errorf("media: storage root: %w", err)
	}
	defer root.Close()
	now := r.now().UTC()
	for _, p := range policies {
		if p.Days <= 0 {
			continue
		}
		sum.Tenants++
		cutoff := now.Add(-time.Duration(p.Days) * 24 * time.Hour)
		after := ""
		for {
			page, err := r.Index.IndexedRecordings(ctx, IndexQuery{Tenant: p.Tenant, After: after, Limit: batch,
				StartedBefore: cutoff, SkipDeleted: true, SkipLive: true})
			if err != nil {
				return sum, fmt.Errorf("media: retention: %w", err)
			}
			for _, rec := range page {
				if err := ctx.Err(); err != nil {
					return sum, err
				}
				if rec.Deleted || rec.State.Live() || !rec.Start.Before(cutoff) {
					continue // the index filters these; never trust a filter with a delete
				}
				if err := r.retire(ctx, root, rec, p.Days, now); err != nil {
					f := Finding{Kind: FoundProblem, Tenant: rec.Tenant, UUID: rec.UUID, Err: err}
					sum.ProblemCount++
					if len(sum.Problems) < maxProblems {
						sum.Problems = append(sum.Problems, f)
					}
					r.log().Warn("retention: recording not deleted", "tenant", rec.Tenant, "recording", rec.UUID, "err", err)
					continue
				}
				sum.Deleted++
			}
			if len(page) < batch {
				break
			}
			after = page[len(page)-1].UUID
		}
	}
	return sum, nil
}

// retire removes one recording's file, then flags its row deleted with an
// audit entry. A crash in between leaves a row whose file is gone, which the
// next run retires (removing a missing file is not an error).
func (r Retention) retire(ctx context.Context, root *os.Root, rec Indexed, days int, now time.Time) error {
	if rec.Filename != "" {
		if err := CheckElement(rec.Filename); err != nil {
			return err
		}
		dir, err := MonitorDir(rec.Tenant)
		if err != nil {
			return err
		}
		if err := root.Remove(filepath.Join(dir, rec.Filename)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("media: retention: %w", err)
		}
	}
	err := r.Index.RetireRecording(ctx, Retirement{Tenant: rec.Tenant, UUID: rec.UUID, At: now, Actor: RetentionActor,
		Details: map[string]any{
			"reason":         "retention",
			"recording_days": days,
			"filename":       rec.Filename,
			"start":          rec.Start.UTC().Format(time.RFC3339),
		}})
	if err != nil {
		return err
	}
	r.log().Info("retention: recording deleted", "tenant", rec.Tenant, "recording", rec.UUID,
		"start", rec.Start, "recording_days", days)
	return nil
}

// NextDaily is the first instant strictly after now at time of day at (UTC).
func NextDaily(now time.Time, at time.Duration) time.Time {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	next := day.Add(at)
	for !next.After(now) {
		day = day.AddDate(0, 0, 1)
		next = day.Add(at)
	}
	return next
}

// RunDaily runs the job once at start (a day missed while callrecd was down
// is caught up), then every day at At (UTC), until ctx ends; it returns
// ctx's error. A failed run is logged and does not stop the schedule.
func (r Retention) RunDaily(ctx context.Context) error {
	at := r.At
	if at == 0 {
		at = 3 * time.Hour
	}
	if at < 0 || at >= 24*time.Hour {
		return fmt.Errorf("media: retention: time of day %s out of range", at)
	}
	after := r.After
	if after == nil {
		after = time.After
	}
	for {
		sum, err := r.Run(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			r.log().Error("retention run failed", "err", err)
		} else {
			r.log().Info("retention run", "tenants", sum.Tenants, "deleted", sum.Deleted, "problems", sum.ProblemCount)
		}
		if r.OnRun != nil {
			r.OnRun(sum, err)
		}
		now := r.now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-after(NextDaily(now, at).Sub(now)):
		}
	}
}
