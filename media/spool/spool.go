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
//
// The file comes from the PBX's spool folder when callrecd can read it (same
// host or a shared mount) and otherwise from the PBX's own API (Remote:
// Asterisk's /recordings/stored), verified before the PBX's copy is deleted.
// A move that fails is retried with backoff; a file is never deleted from the
// PBX before it is in the layout and indexed.
package spool

import (
	"cmp"
	"context"
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
	spool string // "" = no local spool: every file comes from Remote
	root  string
	index Index
	mover media.Mover
	log   *slog.Logger
	// Transcoder, if set, converts recordings whose row asks for MP3 or
	// AMR after they are placed; without it (or when it fails) the WAV
	// stays, and the index says WAV.
	Transcoder Transcoder
	// Remote, if set, hands over the files the spool folder does not
	// hold (a PBX on another host); see Remote.
	Remote Remote
	// Idle reports whether the PBX adapter is done with a recording;
	// Forget lets the adapter drop it once moved. Both optional.
	Idle   func(name string) bool
	Forget func(name string)
	// Moved, if set, is called after a file was placed and indexed (tests,
	// metrics).
	Moved func(uuid string, f media.File)
	// MaxBackoff caps the wait between two tries of a failed move
	// (default 5 minutes; the first retry comes after a second).
	MaxBackoff time.Duration

	mu     sync.Mutex
	final  map[string]engine.RecordingRow
	queue  []job
	queued map[string]bool // recordings in the queue or waiting for a retry
	timers map[*time.Timer]struct{}
	wake   chan struct{}
	moves  int64
	fails  int64
}

// New returns a collector moving files from spool (the PBX's recording
// folder as callrecd sees it; "" when it has none and Remote serves every
// file) to the layout under root.
func New(spool, root string, index Index, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{spool: spool, root: root, index: index, log: log,
		final: map[string]engine.RecordingRow{}, queued: map[string]bool{},
		timers: map[*time.Timer]struct{}{}, wake: make(chan struct{}, 1)}
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
	}
	c.mu.Unlock()
	if ok {
		c.enqueue(job{row: row})
	}
}

// enqueue adds j unless its recording is queued already (a recovery that
// meets a recording the engine ends at the same moment).
func (c *Collector) enqueue(j job) {
	c.mu.Lock()
	if c.queued[j.row.UUID] && j.attempt == 0 {
		c.mu.Unlock()
		return
	}
	c.queued[j.row.UUID] = true
	c.queue = append(c.queue, j)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// retryLater queues j again after a backoff that doubles with each try.
func (c *Collector) retryLater(j job) {
	j.attempt++
	d := time.Second << min(j.attempt-1, 20)
	if max := cmp.Or(c.MaxBackoff, 5*time.Minute); d > max {
		d = max
	}
	c.log.Info("retrying the recording's move", "recording", j.row.UUID, "attempt", j.attempt+1, "in", d)
	c.mu.Lock()
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		c.mu.Lock()
		delete(c.timers, t)
		c.mu.Unlock()
		c.enqueue(j)
	})
	c.timers[t] = struct{}{}
	c.mu.Unlock()
}

// done forgets a finished job (moved, or nothing left to try).
func (c *Collector) done(uuid string) {
	c.mu.Lock()
	delete(c.queued, uuid)
	c.mu.Unlock()
	if c.Forget != nil {
		c.Forget(uuid)
	}
}

// Stats: files moved and moves that failed.
func (c *Collector) Stats() (moved, failed int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moves, c.fails
}

// Run moves files until ctx ends (then it finishes the queued moves; moves
// waiting for a retry are left to the next start's Recover).
func (c *Collector) Run(ctx context.Context) error {
	defer c.stopTimers()
	for {
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, j := range q {
			if again, retry := c.move(context.WithoutCancel(ctx), j); retry {
				c.retryLater(again)
			} else {
				c.done(j.row.UUID)
			}
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

func (c *Collector) stopTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.timers {
		t.Stop()
	}
	clear(c.timers)
}

// Recover queues the files a previous run left behind for recordings the
// index knows as ended: every <uuid>.wav in the spool (and, with a Remote,
// every recording the PBX still stores), and the file of every row ended in
// the last UnplacedLookback that has none in the index yet but whose file
// is in the layout (a run that ended between placing a file and indexing
// it). Live recordings are left to the engine. The PBX's list is read in
// the background, retried until the PBX answers or ctx ends.
func (c *Collector) Recover(ctx context.Context, idx RecoveryIndex) (int, error) {
	n := 0
	if c.spool != "" {
		entries, err := os.ReadDir(c.spool)
		if err != nil && c.Remote == nil {
			return 0, err
		}
		if err != nil {
			c.log.Warn("cannot read the recording spool; recordings come over the PBX's API only", "spool", c.spool, "err", err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if e.Type().IsRegular() && filepath.Ext(e.Name()) == ".wav" {
				names = append(names, e.Name()[:len(e.Name())-len(".wav")])
			}
		}
		if n, err = c.recoverNames(ctx, names, idx, false); err != nil {
			return n, err
		}
	}
	unplaced, err := idx.UnplacedRecordings(ctx, time.Now().Add(-UnplacedLookback))
	if err != nil {
		return n, err
	}
	for _, row := range unplaced {
		if j := (job{row: row}); c.inLayout(&j) {
			c.enqueue(j)
			n++
		}
	}
	if c.Remote != nil {
		go c.recoverRemote(ctx, idx)
	}
	return n, nil
}

// UnplacedLookback bounds how far back Recover looks for ended rows without
// a file (older ones are `callrecd reindex`'s): a row whose PBX never wrote
// a file would otherwise be looked for at every start, forever.
const UnplacedLookback = 7 * 24 * time.Hour

// RecoveryIndex is what Recover reads of the index (store.ForEngine).
type RecoveryIndex interface {
	// FindRecording finds a recording row by uuid, whatever its state.
	FindRecording(ctx context.Context, uuid string) (engine.RecordingRow, bool, error)
	// UnplacedRecordings lists the rows stopped since then that have no
	// file in the index.
	UnplacedRecordings(ctx context.Context, endedSince time.Time) ([]engine.RecordingRow, error)
}

// recoverNames queues the ended recordings among names; listed says the
// PBX's API listed them (it holds their files, whatever the spool shows).
func (c *Collector) recoverNames(ctx context.Context, names []string, idx RecoveryIndex, listed bool) (int, error) {
	n := 0
	for _, uuid := range names {
		if recording.ValidateUUID(uuid) != nil {
			continue // not one of ours
		}
		row, found, err := idx.FindRecording(ctx, uuid)
		if err != nil {
			return n, err
		}
		if !found || (row.State != recording.StateStopped && row.State != recording.StateFailed) {
			continue
		}
		c.enqueue(job{row: row, listed: listed})
		n++
	}
	if n > 0 {
		c.log.Info("recovering recordings left in the PBX spool", "count", n)
	}
	return n, nil
}

// recoverRemote lists the PBX's stored recordings once it answers.
func (c *Collector) recoverRemote(ctx context.Context, idx RecoveryIndex) {
	wait := time.Second
	for {
		names, err := c.Remote.List(ctx)
		if err == nil {
			if _, err = c.recoverNames(ctx, names, idx, true); err == nil {
				return
			}
		}
		c.log.Warn("cannot list the recordings the PBX stores; trying again", "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, cmp.Or(c.MaxBackoff, 5*time.Minute))
	}
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
