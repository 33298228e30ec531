package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// Remote is a PBX that keeps finished recordings where callrecd cannot read
// them and hands each over its own API (ari.StoredRecordings). Fetch fails
// with an error wrapping fs.ErrNotExist when the PBX holds no such file.
type Remote interface {
	Fetch(ctx context.Context, name string, w io.Writer) (int64, error)
	Delete(ctx context.Context, name string) error
	List(ctx context.Context) ([]string, error)
}

// job is one recording's way into the layout; a retry resumes at the step
// that failed.
type job struct {
	row      engine.RecordingRow
	placed   *media.File // in the layout
	indexed  bool        // and in the index
	fetched  bool        // it came from Remote: delete it there once indexed
	listed   bool        // Remote listed it among the files it stores
	attempt  int
	lastSize int64 // a fetched file's size on the previous try
}

// errIncomplete: the fetched WAV's header disagrees with its length; the
// PBX may still be closing it, so try again before repairing it.
var errIncomplete = errors.New("the fetched WAV's header does not match its length yet")

// move places <spool>/<uuid>.wav (callrecd has the PBX record WAV whatever
// the tenant's format; transcoding comes after) or the file Remote hands
// over, indexes it, deletes the PBX's copy of a fetched file, and
// transcodes. It returns the job to try again, if a step failed that may
// succeed later.
func (c *Collector) move(ctx context.Context, j job) (job, bool) {
	row := j.row
	if j.placed == nil {
		if placed, retry := c.place(ctx, &j); !placed {
			return j, retry
		}
	}
	f := *j.placed
	if !j.indexed {
		fi := store.FileInfo{Filename: filepath.Base(f.Path), Format: string(recording.WAV), Size: f.Size, Duration: f.Duration, SHA256: f.SHA256}
		if err := c.index.SetRecordingFile(ctx, row.UUID, fi); err != nil {
			c.log.Error("recording file placed but not indexed", "recording", row.UUID, "path", f.Path, "err", err)
			c.count(false)
			return j, true
		}
		j.indexed = true
		c.log.Info("recording file in place", "recording", row.UUID, "path", f.Path, "bytes", f.Size, "duration", f.Duration)
		if want := recording.Format(row.Format); c.Transcoder != nil && (want == recording.MP3 || want == recording.AMR) {
			f = c.transcode(ctx, row, f, want)
		}
		c.count(true)
		if c.Moved != nil {
			c.Moved(row.UUID, f)
		}
	}
	if j.fetched {
		if err := c.Remote.Delete(ctx, row.UUID); err != nil {
			c.log.Warn("recording in place, but the PBX's copy could not be deleted yet", "recording", row.UUID, "err", err)
			return j, true
		}
	}
	return j, false
}

// place puts the job's file in the layout (j.placed), or reports whether
// to try again.
func (c *Collector) place(ctx context.Context, j *job) (placed, retry bool) {
	row := j.row
	src, err := c.locate(ctx, j)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if c.inLayout(j) {
			return true, false
		}
		if row.State == recording.StateStopped {
			c.log.Warn("recording stopped but no file in the PBX spool", "recording", row.UUID, "spool", c.where())
			c.count(false)
		}
		return false, false
	case err != nil:
		c.log.Error("cannot fetch the recording from the PBX; it stays there", "recording", row.UUID, "err", err)
		c.count(false)
		return false, true
	}
	f, err := c.mover.Place(c.root, src, row.Tenant, layoutName(row))
	if err != nil {
		if j.fetched {
			os.Remove(src)
		}
		c.log.Error("moving a recording into the storage layout failed; the file stays in the spool",
			"recording", row.UUID, "src", src, "err", err)
		c.count(false)
		return false, !errors.Is(err, media.ErrExists)
	}
	j.placed = &f
	return true, false
}

// inLayout takes the job's file as placed if it is in the layout already:
// a run that ended between placing a file and indexing it left it there
// and nowhere else (a fetched file's PBX copy may remain: it is deleted
// once indexed).
func (c *Collector) inLayout(j *job) bool {
	f, err := media.Placed(c.root, j.row.Tenant, layoutName(j.row))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Error("cannot read the recording's file in the storage layout", "recording", j.row.UUID, "err", err)
		}
		return false
	}
	c.log.Info("recording file in the storage layout but not in the index (an earlier run ended in between)",
		"recording", j.row.UUID, "path", f.Path)
	j.placed, j.fetched = &f, c.Remote != nil
	return true
}

// layoutName is the name a recording's WAV has in the layout.
func layoutName(row engine.RecordingRow) recording.Name {
	return recording.Name{Start: row.Start.UTC().Truncate(time.Second), CallID: row.CallID, RecordingUUID: row.UUID, Format: recording.WAV}
}

func (c *Collector) where() string {
	switch {
	case c.spool == "":
		return "the PBX's stored recordings"
	case c.Remote != nil:
		return c.spool + " and the PBX's stored recordings"
	}
	return c.spool
}

// locate returns the file to place: the spool's when callrecd can read it,
// else a verified copy of Remote's in a temp file under root (the same
// filesystem as the layout, so placing it is a link).
func (c *Collector) locate(ctx context.Context, j *job) (string, error) {
	if c.spool != "" {
		src := filepath.Join(c.spool, j.row.UUID+".wav")
		_, err := os.Lstat(src)
		// A failed start has a file only if the PBX began it, and then
		// the PBX wrote it here: asking its API for one would only fail
		// (loudly, while the link is cut) for a file that never existed.
		// Unless the PBX listed it: then this folder is not where it writes.
		nothing := errors.Is(err, fs.ErrNotExist) && j.row.State == recording.StateFailed && !j.listed
		if err == nil || c.Remote == nil || nothing {
			return src, err
		}
	}
	if c.Remote == nil {
		return "", fs.ErrNotExist
	}
	tmp := media.TempPath(c.root, "fetch-"+j.row.UUID+".wav")
	if err := c.fetch(ctx, j.row.UUID, tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	f, err := media.Inspect(tmp)
	if err == nil && f.WAV != nil && f.WAV.NeedsRepair() && f.Size != j.lastSize {
		// Place repairs a header left wrong by a crash; but only once the
		// PBX's file has stopped growing.
		j.lastSize, err = f.Size, errIncomplete
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	j.fetched = true
	return tmp, nil
}

// fetch writes Remote's file to path, durably.
func (c *Collector) fetch(ctx context.Context, name, path string) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	n, err := c.Remote.Fetch(ctx, name, out)
	if err == nil && n == 0 {
		err = fmt.Errorf("the PBX served an empty file")
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// transcode converts the placed WAV and re-indexes the recording under its
// new file. On any failure the WAV and its index entry stay as they are.
func (c *Collector) transcode(ctx context.Context, row engine.RecordingRow, wav media.File, want recording.Format) media.File {
	out, err := c.Transcoder.Transcode(ctx, wav.Path, want)
	if err != nil {
		c.log.Error("transcoding failed; the recording stays in WAV", "recording", row.UUID, "format", want, "err", err)
		return wav
	}
	if out.Duration == 0 {
		out.Duration = wav.Duration // compressed formats carry no duration header
	}
	fi := store.FileInfo{Filename: filepath.Base(out.Path), Format: string(want), Size: out.Size, Duration: out.Duration, SHA256: out.SHA256}
	if err := c.index.SetRecordingFile(ctx, row.UUID, fi); err != nil {
		// The WAV is gone, the index still names it: reindex will relink it.
		c.log.Error("recording transcoded but not re-indexed; run callrecd reindex", "recording", row.UUID, "path", out.Path, "err", err)
		return out
	}
	c.log.Info("recording transcoded", "recording", row.UUID, "path", out.Path, "bytes", out.Size)
	return out
}
