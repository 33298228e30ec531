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
)

// Kinds of findings a reindex reports.
const (
	FoundAdopted  = "adopted"      // a file without a row was indexed
	FoundMissing  = "missing"      // a row's file is gone: row marked missing
	FoundCorrupt  = "corrupt"      // size/sha256 differ from the index, or it does not decode: row marked corrupt
	FoundRestored = "restored"     // a missing/corrupt row's file is back intact: row back to stopped
	FoundUpdated  = "updated"      // a row's file facts recorded (never hashed, or renamed by a transcode)
	FoundRepaired = "repaired"     // a WAV header left by a crash was fixed
	FoundTemp     = "temp_removed" // a leftover temp file was removed
	FoundPurged   = "purged"       // the file of a deleted recording was removed
	FoundSkipped  = "skipped"      // left alone: symlink, unknown name, stray copy, unknown tenant
	FoundProblem  = "problem"      // could not be checked or changed (see Err)
)

// Finding is one thing a reindex found (and, unless dry-running, did).
type Finding struct {
	Kind   string
	Tenant string
	UUID   string
	Path   string
	Detail string
	Err    error
}

func (f Finding) String() string {
	s := f.Kind + " " + f.Path
	if f.Path == "" {
		s = f.Kind + " recording " + f.UUID
	}
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// maxProblems bounds the problems a summary lists (all are counted).
const maxProblems = 100

// ReindexSummary counts what a reindex found. In a dry run the counts are
// what it would have changed.
type ReindexSummary struct {
	DryRun  bool
	Tenants int // tenant folders and index tenants looked at
	Files   int // directory entries in the monitor folders
	Rows    int // index rows looked at

	Intact   int // rows whose file matches the index
	Live     int // live recordings left alone (and ones just stopped, still being placed)
	Adopted  int
	Missing  int
	Corrupt  int
	Restored int
	Updated  int
	Repaired int
	Temps    int // temp files removed
	Purged   int
	Skipped  int

	Problems     []Finding // the first maxProblems
	ProblemCount int
}

// Changes is how many rows and files the reindex changed (or would change).
// A second run over an unchanged tree reports 0.
func (s ReindexSummary) Changes() int {
	return s.Adopted + s.Missing + s.Corrupt + s.Restored + s.Updated + s.Repaired + s.Temps + s.Purged
}

// Reindexer reconciles the files under Root with the index:
//   - a file without a row is adopted with what its name (start, call id,
//     recording uuid, format) and content (size, sha256, duration from the
//     WAV header or an ffmpeg decode) tell; a WAV left by a crash is repaired
//     first; content that does not decode is adopted as corrupt;
//   - a row whose file is gone is marked missing, one whose size or sha256
//     differ is marked corrupt, and a missing/corrupt row whose file is back
//     intact returns to stopped;
//   - a row never hashed gets its file's facts; a row whose file was
//     transcoded without the index hearing of it is pointed at the new file;
//   - leftover temp files older than TempMinAge are removed, and so are
//     files of recordings the index says are deleted.
//
// Live recordings (pending, recording, paused) and their files are never
// touched, symlinks are never followed out of Root (files that are symlinks
// are not followed at all), and names that are not recordings are left
// alone. Running it again over an unchanged tree changes nothing.
type Reindexer struct {
	Root   string
	Index  Index
	DryRun bool // report without changing anything

	// Decode returns an MP3 or AMR file's duration by decoding it; default
	// Transcoder{}.Decode (ffmpeg).
	Decode func(ctx context.Context, path string) (time.Duration, error)
	// Now is the clock temp file ages are measured with; default time.Now.
	Now func() time.Time
	// TempMinAge: younger temp files may belong to a placement or transcode
	// running now and are kept; default 1 hour.
	TempMinAge time.Duration
	// BatchSize is the number of rows read per index query; default 500.
	BatchSize int

	// Progress, if set, is called as directory entries are settled, with
	// the number of entries found in the monitor folders as total.
	Progress func(done, total int)
	// Report, if set, is called with every finding but intact and live ones.
	Report func(Finding)
}

type reindexRun struct {
	Reindexer
	sum         ReindexSummary
	done, total int
}

// Run walks Root once and reconciles it with the index. It fails only when
// the root or the index cannot be read at all; a file or row it cannot deal
// with is a problem in the summary, and the walk goes on.
func (r Reindexer) Run(ctx context.Context) (ReindexSummary, error) {
	if r.Decode == nil {
		r.Decode = Transcoder{}.Decode
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.TempMinAge <= 0 {
		r.TempMinAge = time.Hour
	}
	if r.BatchSize <= 0 {
		r.BatchSize = 500
	}
	run := &reindexRun{Reindexer: r, sum: ReindexSummary{DryRun: r.DryRun}}
	return run.sum, run.run(ctx)
}

func (r *reindexRun) run(ctx context.Context) error {
	if r.Index == nil {
		return errors.New("media: reindex: no index")
	}
	realRoot, err := filepath.EvalSymlinks(r.Root)
	if err != nil {
		return fmt.Errorf("media: storage root: %w", err)
	}
	if st, err := os.Stat(realRoot); err != nil || !st.IsDir() {
		return fmt.Errorf("media: storage root %s is not a directory", r.Root)
	}
	disk, err := r.scanTenants(realRoot)
	if err != nil {
		return err
	}
	known, err := r.Index.IndexedTenants(ctx)
	if err != nil {
		return fmt.Errorf("media: reindex: %w", err)
	}
	tenants := slices.Clone(known)
	for t := range disk {
		if !slices.Contains(known, t) {
			tenants = append(tenants, t)
		}
	}
	slices.Sort(tenants)
	r.progress(0)
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.sum.Tenants++
		if !slices.Contains(known, t) {
			r.unknownTenant(t, disk[t])
			continue
		}
		if err := r.tenant(ctx, t, disk[t]); err != nil {
			return err
		}
	}
	r.done = r.total
	r.progress(0)
	return nil
}

// scanTenants finds <root>/tenants/<uuid>/monitor folders that resolve
// inside root and counts their entries (for progress).
func (r *reindexRun) scanTenants(root string) (map[string]string, error) {
	out := map[string]string{}
	tenantsDir, err := Resolve(root, "tenants")
	if err != nil {
		r.skip(Finding{Path: filepath.Join(root, "tenants"), Detail: "not followed", Err: err})
		return out, nil
	}
	entries, err := os.ReadDir(tenantsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("media: reindex: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(tenantsDir, e.Name())
		if ValidateUUID(e.Name()) != nil {
			r.skip(Finding{Path: path, Detail: "not a tenant uuid"})
			continue
		}
		rel, _ := MonitorDir(e.Name())
		dir, err := Resolve(root, rel)
		if err != nil {
			r.skip(Finding{Tenant: e.Name(), Path: path, Detail: "not followed", Err: err})
			continue
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			out[e.Name()] = "" // no monitor folder: rows only
			continue
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("media: reindex: %w", err)
		}
		r.total += len(files)
		out[e.Name()] = dir
	}
	return out, nil
}

// recFile is a regular file in a monitor folder whose name parses.
type recFile struct {
	path string
	base string
	name Name
}

// tenant reconciles one tenant: its monitor folder (dir, may be "") with its
// rows.
func (r *reindexRun) tenant(ctx context.Context, tenant, dir string) error {
	files := map[string][]recFile{} // by recording uuid
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("media: reindex: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			n, perr := ParseName(e.Name())
			switch {
			case IsTempName(e.Name()):
				r.temp(tenant, path, e)
			case e.Type()&fs.ModeSymlink != 0:
				r.skip(Finding{Tenant: tenant, Path: path, Detail: "symlink, not followed"})
			case !e.Type().IsRegular():
				r.skip(Finding{Tenant: tenant, Path: path, Detail: "not a regular file"})
			case perr != nil:
				r.skip(Finding{Tenant: tenant, Path: path, Detail: "not a recording name"})
			default:
				files[n.RecordingUUID] = append(files[n.RecordingUUID], recFile{path: path, base: e.Name(), name: n})
				continue
			}
			r.progress(1)
		}
	}
	after := ""
	for {
		page, err := r.Index.IndexedRecordings(ctx, IndexQuery{Tenant: tenant, After: after, Limit: r.BatchSize})
		if err != nil {
			return fmt.Errorf("media: reindex: %w", err)
		}
		for _, row := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			r.row(ctx, row, dir, files[row.UUID])
			r.progress(len(files[row.UUID]))
			delete(files, row.UUID)
		}
		if len(page) < r.BatchSize {
			break
		}
		after = page[len(page)-1].UUID
	}
	for _, id := range slices.Sorted(mapKeys(files)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.orphans(ctx, tenant, files[id])
		r.progress(len(files[id]))
	}
	return nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (r *reindexRun) unknownTenant(tenant, dir string) {
	n := 0
	if dir != "" {
		entries, _ := os.ReadDir(dir)
		n = len(entries)
		r.progress(n)
	}
	r.problem(Finding{Tenant: tenant, Path: dir,
		Detail: fmt.Sprintf("tenant %s is not in the index (add it to the configuration); its %d file(s) were left alone", tenant, n)})
}

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
	case LiveState(row.State):
		r.sum.Live++
		return
	case row.State == StateFailed:
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
	case row.State != StateMissing:
		path := ""
		if dir != "" {
			path = filepath.Join(dir, row.Filename)
		}
		if r.setState(ctx, row, StateMissing, path, "file not found: "+row.Filename) {
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
		if row.State == StateCorrupt {
			return
		}
		detail := "sha256 differs from the index"
		if facts.Size != row.Size {
			detail = fmt.Sprintf("%d bytes, the index says %d", facts.Size, row.Size)
		}
		if r.setState(ctx, row, StateCorrupt, f.path, detail) {
			r.sum.Corrupt++
		}
		return
	}
	if row.State != StateMissing && row.State != StateCorrupt {
		r.sum.Intact++
		return
	}
	// The recorded bytes are back: restore the row if they also decode.
	_, decodes, cerr := r.content(ctx, f, facts, err)
	switch {
	case cerr != nil:
		r.problem(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: f.path, Err: cerr})
	case decodes:
		if r.setState(ctx, row, StateStopped, f.path, "file back intact") {
			r.sum.Restored++
		}
	case row.State != StateCorrupt:
		if r.setState(ctx, row, StateCorrupt, f.path, "matches the index but does not decode") {
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
		if (a.name.Format == WAV) != (b.name.Format == WAV) {
			if a.name.Format == WAV {
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
func (r *reindexRun) facts(ctx context.Context, tenant, uuid string, f recFile, facts File, ierr error, good bool) (File, time.Duration, string, bool) {
	dur, decodes, err := r.content(ctx, f, facts, ierr)
	if err != nil {
		r.problem(Finding{Tenant: tenant, UUID: uuid, Path: f.path, Err: err})
		return File{}, 0, "", false
	}
	if !decodes {
		return facts, 0, StateCorrupt, !good
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
	return facts, dur, StateStopped, true
}

// content tells whether a file's audio decodes, and its duration. inspectErr
// is Inspect's error for that file. err is set only when the check itself
// could not run (ffmpeg missing, context cancelled).
func (r *reindexRun) content(ctx context.Context, f recFile, facts File, inspectErr error) (time.Duration, bool, error) {
	if f.name.Format == WAV {
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

// temp removes a leftover temp file old enough not to belong to a running
// placement or transcode.
func (r *reindexRun) temp(tenant, path string, e fs.DirEntry) {
	info, err := e.Info()
	if err != nil {
		r.problem(Finding{Tenant: tenant, Path: path, Err: err})
		return
	}
	if !info.Mode().IsRegular() && info.Mode()&fs.ModeSymlink == 0 {
		r.skip(Finding{Tenant: tenant, Path: path, Detail: "temp name, not a regular file"})
		return
	}
	if age := r.Now().Sub(info.ModTime()); age < r.TempMinAge {
		r.skip(Finding{Tenant: tenant, Path: path, Detail: fmt.Sprintf("temp file only %s old, may be in use", age.Round(time.Second))})
		return
	}
	if !r.DryRun {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.problem(Finding{Tenant: tenant, Path: path, Detail: "removing a temp file", Err: err})
			return
		}
	}
	r.sum.Temps++
	r.report(Finding{Kind: FoundTemp, Tenant: tenant, Path: path, Detail: "leftover temp file"})
}

// setState changes a row's state and reports it; false on failure.
func (r *reindexRun) setState(ctx context.Context, row Indexed, state, path, detail string) bool {
	if !r.DryRun {
		if err := r.Index.SetRecordingIntegrity(ctx, row.UUID, state); err != nil {
			r.problem(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: path, Err: err})
			return false
		}
	}
	kind := state
	if state == StateStopped {
		kind = FoundRestored
	}
	r.report(Finding{Kind: kind, Tenant: row.Tenant, UUID: row.UUID, Path: path, Detail: detail})
	return true
}

func (r *reindexRun) skip(f Finding) {
	f.Kind = FoundSkipped
	r.sum.Skipped++
	r.report(f)
}

func (r *reindexRun) problem(f Finding) {
	f.Kind = FoundProblem
	r.sum.ProblemCount++
	if len(r.sum.Problems) < maxProblems {
		r.sum.Problems = append(r.sum.Problems, f)
	}
	r.report(f)
}

func (r *reindexRun) report(f Finding) {
	if r.Report != nil {
		r.Report(f)
	}
}

func (r *reindexRun) progress(n int) {
	r.done += n
	r.sum.Files = r.done
	if r.Progress != nil {
		r.Progress(r.done, max(r.total, r.done))
	}
}
