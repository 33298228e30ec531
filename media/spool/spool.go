// Package spool moves finished recordings out of the PBX's recording spool
// into callrecd's storage layout and records the file in the index.
//
// A recording's file is final when two things are true, in either order:
// the engine has ended the recording (its row is stopped or failed) and the
// PBX adapter has no part of it live and nothing queued for it (the last
// part's RecordingFinished arrived). The executor reports the first (Final,
// on the engine's RecordingFinal effect), the adapter the second through its
// idle hook (PBXIdle) and its Idle query. The engine stays pure: it never
// hears of files. The collector knows nothing of the PBX but the folder it
// writes to.
package spool

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// Index is where the collector records a placed file (store.Store).
type Index interface {
	SetRecordingFile(ctx context.Context, uuid string, f store.FileInfo) error
}

// Transcoder turns a placed WAV into the tenant's format (media.Transcoder):
// the WAV is removed only once the new file is verified.
type Transcoder interface {
	Transcode(ctx context.Context, wavPath string, f recording.Format) (media.File, error)
}

// Collector moves finished recordings. Create it with New, run Run.
type Collector struct {
	spool string
	root  string
	index Index
	mover media.Mover
	log   *slog.Logger
	// Transcoder, if set, converts recordings whose row asks for MP3 or
	// AMR after they are placed; without it (or when it fails) the WAV
	// stays, and the index says WAV.
	Transcoder Transcoder
	// Idle reports whether the PBX adapter is done with a recording;
	// Forget lets the adapter drop it once moved. Both optional.
	Idle   func(name string) bool
	Forget func(name string)
	// Moved, if set, is called after a file was placed and indexed (tests,
	// metrics).
	Moved func(uuid string, f media.File)

	mu    sync.Mutex
	final map[string]engine.RecordingRow
	queue []engine.RecordingRow
	wake  chan struct{}
	moves int64
	fails int64
}

// New returns a collector moving files from spool (the PBX's recording
// folder as callrecd sees it) to the layout under root.
func New(spool, root string, index Index, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{spool: spool, root: root, index: index, log: log,
		final: map[string]engine.RecordingRow{}, wake: make(chan struct{}, 1)}
}

// Final notes that the engine ended a recording (row state stopped or
// failed), once its row is written.
func (c *Collector) Final(row engine.RecordingRow) {
	if row.State != recording.StateStopped && row.State != recording.StateFailed {
		return
	}
	c.mu.Lock()
	c.final[row.UUID] = row
	c.mu.Unlock()
	if c.Idle == nil || c.Idle(row.UUID) {
		c.schedule(row.UUID)
	}
}

// PBXIdle notes that the PBX has no live part of recording name.
func (c *Collector) PBXIdle(name string) { c.schedule(name) }

func (c *Collector) schedule(name string) {
	c.mu.Lock()
	row, ok := c.final[name]
	if ok {
		delete(c.final, name)
		c.queue = append(c.queue, row)
	}
	c.mu.Unlock()
	if ok {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Stats: files moved and moves that failed.
func (c *Collector) Stats() (moved, failed int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moves, c.fails
}

// Run moves files until ctx ends (then it finishes the queued moves).
func (c *Collector) Run(ctx context.Context) error {
	for {
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, row := range q {
			c.move(context.WithoutCancel(ctx), row)
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.wake:
		}
	}
}

// move places <spool>/<uuid>.wav (callrecd has Asterisk record WAV whatever
// the tenant's format; transcoding comes after) and indexes it.
func (c *Collector) move(ctx context.Context, row engine.RecordingRow) {
	src := filepath.Join(c.spool, row.UUID+".wav")
	defer func() {
		if c.Forget != nil {
			c.Forget(row.UUID)
		}
	}()
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		if row.State == recording.StateStopped {
			c.log.Warn("recording stopped but no file in the PBX spool", "recording", row.UUID, "path", src)
			c.count(false)
		}
		return
	}
	f, err := c.mover.Place(c.root, src, row.Tenant, recording.Name{
		Start: row.Start.UTC().Truncate(time.Second), CallID: row.CallID, RecordingUUID: row.UUID, Format: recording.WAV})
	if err != nil {
		c.log.Error("moving a recording into the storage layout failed; the file stays in the spool",
			"recording", row.UUID, "src", src, "err", err)
		c.count(false)
		return
	}
	fi := store.FileInfo{Filename: filepath.Base(f.Path), Format: string(recording.WAV), Size: f.Size, Duration: f.Duration, SHA256: f.SHA256}
	if err := c.index.SetRecordingFile(ctx, row.UUID, fi); err != nil {
		c.log.Error("recording file placed but not indexed", "recording", row.UUID, "path", f.Path, "err", err)
		c.count(false)
		return
	}
	c.log.Info("recording file in place", "recording", row.UUID, "path", f.Path, "bytes", f.Size, "duration", f.Duration)
	if want := recording.Format(row.Format); c.Transcoder != nil && (want == recording.MP3 || want == recording.AMR) {
		f = c.transcode(ctx, row, f, want)
	}
	c.count(true)
	if c.Moved != nil {
		c.Moved(row.UUID, f)
	}
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

// Recover queues the files a previous run left in the spool: every
// <uuid>.wav whose recording the index knows as ended (a crash between the
// end of a recording and its move). Live recordings are left to the engine.
func (c *Collector) Recover(ctx context.Context, find func(ctx context.Context, uuid string) (engine.RecordingRow, bool, error)) (int, error) {
	entries, err := os.ReadDir(c.spool)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || filepath.Ext(name) != ".wav" {
			continue
		}
		uuid := name[:len(name)-len(".wav")]
		if recording.ValidateUUID(uuid) != nil {
			continue // not one of ours
		}
		row, found, err := find(ctx, uuid)
		if err != nil {
			return n, err
		}
		if !found || (row.State != recording.StateStopped && row.State != recording.StateFailed) {
			continue
		}
		c.mu.Lock()
		c.queue = append(c.queue, row)
		c.mu.Unlock()
		n++
	}
	if n > 0 {
		c.log.Info("recovering recordings left in the PBX spool", "count", n)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return n, nil
}

func (c *Collector) count(ok bool) {
	c.mu.Lock()
	if ok {
		c.moves++
	} else {
		c.fails++
	}
	c.mu.Unlock()
}
