package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// How reindex settles one indexed row against the files found for it, and
// adopts the files no row claims.

// row checks one row against the files carrying its uuid.
func (r *reindexRun) row(ctx context.Context, row Indexed, dir string, cands []recFile) {
	r.sum.Rows++
	switch {
	case row.Deleted:
		for _, c := range cands {
			if !r.DryRun {
				if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					r.problem(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: c.path, Detail: "removing a deleted recording's file", Err: err})
					continue
				}
			}
			r.sum.Purged++
			r.report(Finding{Kind: FoundPurged, Tenant: row.Tenant, UUID: row.UUID, Path: c.path, Detail: "the recording is deleted"})
		}
		return
	case row.State.Live():
		r.sum.Live++
		return
	case row.State == recording.StateFailed:
		for _, c := range cands {
			r.skip(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: c.path, Detail: "the recording failed"})
		}
		return
	}
	var own *recFile
	var others []recFile
	for i, c := range cands {
		if c.base == row.Filename && own == nil {
			own = &cands[i]
		} else {
			others = append(others, c)
		}
	}
	relinked := false
	if own == nil && len(others) > 0 {
		// The row's file is gone but another file of the recording is
		// there: a transcode that finished without the index hearing of it.
		if facts, err, ok := r.inspect(row.Tenant, row.UUID, others[0]); ok &&
			r.update(ctx, row, others[0], facts, err, "the index had "+row.Filename, true) {
			others, relinked = others[1:], true
		}
	}
	for _, c := range others {
		r.skip(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: c.path,
			Detail: "another file of recording " + row.UUID + " (the index has " + row.Filename + ")"})
	}
	switch {
	case own != nil:
		r.check(ctx, row, *own)
	case relinked:
	case row.SHA256 == "" && !row.End.IsZero() && r.Now().Sub(row.End) < r.TempMinAge:
		// Just stopped: its file may still be on its way from the PBX's
		// spool into the layout.
		r.sum.Live++
	case row.State != recording.StateMissing:
		path := ""
		if dir != "" {
			path = filepath.Join(dir, row.Filename)
		}
		if r.setState(ctx, row, recording.StateMissing, path, "file not found: "+row.Filename) {
			r.sum.Missing++
		}
	}
}

// inspect reads a file's size, sha256 and WAV header. ok is false (and a
// problem reported) when it could not be read at all; err is a WAV parse
// error.
func (r *reindexRun) inspect(tenant, uuid string, f recFile) (File, error, bool) {
	facts, err := Inspect(f.path)
	if err != nil && facts.SHA256 == "" {
		r.problem(Finding{Tenant: tenant, UUID: uuid, Path: f.path, Err: err})
		return File{}, nil, false
	}
	return facts, err, true
}

// check compares a row's file with what the index recorded.
func (r *reindexRun) check(ctx context.Context, row Indexed, f recFile) {
	facts, err, ok := r.inspect(row.Tenant, row.UUID, f)
	if !ok {
		return
	}
	if row.SHA256 == "" {
		// Never hashed (stopped, but the index never heard the file was
		// placed): record what is there.
		r.update(ctx, row, f, facts, err, "file facts recorded", false)
		return
	}
	if facts.Size != row.Size || facts.SHA256 != row.SHA256 {
		if row.State == recording.StateCorrupt {
			return
		}
		detail := "sha256 differs from the index"
		if facts.Size != row.Size {
			detail = fmt.Sprintf("%d bytes, the index says %d", facts.Size, row.Size)
		}
		if r.setState(ctx, row, recording.StateCorrupt, f.path, detail) {
			r.sum.Corrupt++
		}
		return
	}
	if row.State != recording.StateMissing && row.State != recording.StateCorrupt {
		r.sum.Intact++
		return
	}
	// The recorded bytes are back: restore the row if they also decode.
	_, decodes, cerr := r.content(ctx, f, facts, err)
	switch {
	case cerr != nil:
		r.problem(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: f.path, Err: cerr})
	case decodes:
		if r.setState(ctx, row, recording.StateStopped, f.path, "file back intact") {
			r.sum.Restored++
		}
	case row.State != recording.StateCorrupt:
		if r.setState(ctx, row, recording.StateCorrupt, f.path, "matches the index but does not decode") {
			r.sum.Corrupt++
		}
	default:
		r.sum.Intact++ // still the same undecodable file
	}
}

// update records a file's facts (repairing a crashed WAV first) on the row.
// With good set, a file that does not decode is left alone. It reports
// whether it changed the row.
func (r *reindexRun) update(ctx context.Context, row Indexed, f recFile, facts File, ierr error, why string, good bool) bool {
	facts, dur, state, ok := r.facts(ctx, row.Tenant, row.UUID, f, facts, ierr, good)
	if !ok {
		return false
	}
	if !r.DryRun {
		err := r.Index.UpdateIndexedFile(ctx, row.UUID, IndexedFile{Filename: f.base, Format: f.name.Format,
			Size: facts.Size, SHA256: facts.SHA256, Duration: dur, State: state})
		if err != nil {
			r.problem(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: f.path, Err: err})
			return false
		}
	}
	r.sum.Updated++
	r.report(Finding{Kind: FoundUpdated, Tenant: row.Tenant, UUID: row.UUID, Path: f.path,
		Detail: fmt.Sprintf("%s (%d bytes, %s, %s)", why, facts.Size, dur.Round(time.Millisecond), state)})
	return true
}

// orphans adopts the files of a recording the index does not have. If there
// are several (a transcode that crashed before removing its WAV), the
// transcoded one is preferred when it decodes.
func (r *reindexRun) orphans(ctx context.Context, tenant string, files []recFile) {
	slices.SortFunc(files, func(a, b recFile) int {
		if (a.name.Format == recording.WAV) != (b.name.Format == recording.WAV) {
			if a.name.Format == recording.WAV {
				return 1
			}
			return -1
		}
		return strings.Compare(a.base, b.base)
	})
	for i, f := range files {
		if r.adopt(ctx, tenant, f, i < len(files)-1) {
			for _, o := range files[i+1:] {
				r.skip(Finding{Tenant: tenant, UUID: f.name.RecordingUUID, Path: o.path, Detail: "another file of recording " + f.name.RecordingUUID + " (adopted " + f.base + ")"})
			}
			return
		}
	}
}

// adopt indexes one file. With fallback set, a file that does not decode is
// not adopted (another file of the same recording may be better) and adopt
// reports false.
func (r *reindexRun) adopt(ctx context.Context, tenant string, f recFile, fallback bool) bool {
	pre, ierr, ok := r.inspect(tenant, f.name.RecordingUUID, f)
	if !ok {
		return false
	}
	facts, dur, state, ok := r.facts(ctx, tenant, f.name.RecordingUUID, f, pre, ierr, fallback)
	if !ok {
		return false
	}
	if !r.DryRun {
		err := r.Index.AdoptRecording(ctx, Adoption{Tenant: tenant, UUID: f.name.RecordingUUID, CallID: f.name.CallID,
			Start: f.name.Start, Filename: f.base, Format: f.name.Format, Size: facts.Size, SHA256: facts.SHA256,
			Duration: dur, State: state})
		if err != nil {
			r.problem(Finding{Tenant: tenant, UUID: f.name.RecordingUUID, Path: f.path, Detail: "not adopted", Err: err})
			return true // the other files would fail the same way
		}
	}
	r.sum.Adopted++
	r.report(Finding{Kind: FoundAdopted, Tenant: tenant, UUID: f.name.RecordingUUID, Path: f.path,
		Detail: fmt.Sprintf("call %d, %d bytes, %s, %s", f.name.CallID, facts.Size, dur.Round(time.Millisecond), state)})
	return true
}

// facts completes what inspect read for the index: a WAV left by a crash
// is repaired (in a dry run only counted) and the audio checked. With good
// set, a file whose audio does not decode gives ok false and is not
// repaired; otherwise its state is corrupt. ok is also false when the check
// could not run (a problem was reported).
func (r *reindexRun) facts(ctx context.Context, tenant, uuid string, f recFile, facts File, ierr error, good bool) (File, time.Duration, recording.State, bool) {
	dur, decodes, err := r.content(ctx, f, facts, ierr)
	if err != nil {
		r.problem(Finding{Tenant: tenant, UUID: uuid, Path: f.path, Err: err})
		return File{}, 0, "", false
	}
	if !decodes {
		return facts, 0, recording.StateCorrupt, !good
	}
	if facts.WAV != nil && facts.WAV.NeedsRepair() {
		if !r.DryRun {
			if _, _, err := RepairWAV(f.path); err != nil {
				r.problem(Finding{Tenant: tenant, UUID: uuid, Path: f.path, Detail: "WAV repair", Err: err})
				return File{}, 0, "", false
			}
			if facts, err = Inspect(f.path); err != nil {
				r.problem(Finding{Tenant: tenant, UUID: uuid, Path: f.path, Err: err})
				return File{}, 0, "", false
			}
			dur = facts.Duration
		}
		r.sum.Repaired++
		r.report(Finding{Kind: FoundRepaired, Tenant: tenant, UUID: uuid, Path: f.path, Detail: "WAV header lengths fixed"})
	}
	return facts, dur, recording.StateStopped, true
}

// content tells whether a file's audio decodes, and its duration. inspectErr
// is Inspect's error for that file. err is set only when the check itself
// could not run (ffmpeg missing, context cancelled).
func (r *reindexRun) content(ctx context.Context, f recFile, facts File, inspectErr error) (time.Duration, bool, error) {
	if f.name.Format == recording.WAV {
		if inspectErr != nil || facts.WAV == nil {
			return 0, false, nil
		}
		return facts.Duration, true, nil
	}
	d, err := r.Decode(ctx, f.path)
	switch {
	case err == nil:
		return d, true, nil
	case errors.Is(err, ErrTools), ctx.Err() != nil:
		return 0, false, err
	}
	return 0, false, nil
}
