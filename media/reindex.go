package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/callrecd/callrecd/recording"
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
		if recording.ValidateUUID(e.Name()) != nil {
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
	name recording.Name
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
			n, perr := recording.ParseName(e.Name())
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
func (r *reindexRun) setState(ctx context.Context, row Indexed, state recording.State, path, detail string) bool {
	if !r.DryRun {
		if err := r.Index.SetRecordingIntegrity(ctx, row.UUID, state); err != nil {
			r.problem(Finding{Tenant: row.Tenant, UUID: row.UUID, Path: path, Err: err})
			return false
		}
	}
	kind := string(state) // FoundMissing, FoundCorrupt
	if state == recording.StateStopped {
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
