package spool

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

type fakeIndex struct {
	mu    sync.Mutex
	files map[string]store.FileInfo
}

func (f *fakeIndex) SetRecordingFile(_ context.Context, uuid string, fi store.FileInfo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[uuid] = fi
	return nil
}

func (f *fakeIndex) get(uuid string) (store.FileInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, ok := f.files[uuid]
	return fi, ok
}

// fakeRecovery is a RecoveryIndex of func fields.
type fakeRecovery struct {
	find     func(uuid string) (engine.RecordingRow, bool, error)
	unplaced func(endedSince time.Time) ([]engine.RecordingRow, error)
}

func (f fakeRecovery) FindRecording(_ context.Context, uuid string) (engine.RecordingRow, bool, error) {
	return f.find(uuid)
}

func (f fakeRecovery) UnplacedRecordings(_ context.Context, endedSince time.Time) ([]engine.RecordingRow, error) {
	if f.unplaced == nil {
		return nil, nil
	}
	return f.unplaced(endedSince)
}

// rowsIndex is an index holding rows (stopped rows count as placed).
func rowsIndex(rows map[string]engine.RecordingRow) fakeRecovery {
	return fakeRecovery{find: func(uuid string) (engine.RecordingRow, bool, error) {
		r, ok := rows[uuid]
		return r, ok, nil
	}}
}

const tenant = "6f1c2b4e-8a7d-4c3b-9e2f-1a2b3c4d5e6f"

func writeWAV(t *testing.T, path string, seconds int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := media.WritePCM16(f, 8000, 1, make([]int16, 8000*seconds)); err != nil {
		t.Fatal(err)
	}
}

// The file moves only once both the engine ended the recording and the PBX
// is idle, in either order; the index gets the placed file.
func TestCollectorMovesWhenEngineFinalAndPBXIdle(t *testing.T) {
	for _, order := range []string{"final-then-idle", "idle-then-final"} {
		t.Run(order, func(t *testing.T) {
			spoolDir, root := t.TempDir(), t.TempDir()
			idx := &fakeIndex{files: map[string]store.FileInfo{}}
			c := New(spoolDir, root, idx, nil)
			var mu sync.Mutex
			idle := false
			c.Idle = func(string) bool { mu.Lock(); defer mu.Unlock(); return idle }
			moved := make(chan string, 1)
			c.Moved = func(uuid string, _ media.File) { moved <- uuid }
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go c.Run(ctx)

			id := "0b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d"
			writeWAV(t, filepath.Join(spoolDir, id+".wav"), 2)
			start := time.Date(2026, 11, 21, 19, 12, 2, 581e6, time.UTC)
			row := engine.RecordingRow{UUID: id, CallID: 42, Tenant: tenant, Start: start, Format: "wav", State: recording.StateStopped}
			setIdle := func() { mu.Lock(); idle = true; mu.Unlock(); c.PBXIdle(id) }
			if order == "final-then-idle" {
				c.Final(row)
				select {
				case <-moved:
					t.Fatal("moved while the PBX still recorded")
				case <-time.After(50 * time.Millisecond):
				}
				setIdle()
			} else {
				c.PBXIdle(id) // idle before the engine ended it: nothing yet
				mu.Lock()
				idle = true
				mu.Unlock()
				c.Final(engine.RecordingRow{UUID: id, State: recording.StateRecording}) // not final
				select {
				case <-moved:
					t.Fatal("moved before the engine ended the recording")
				case <-time.After(50 * time.Millisecond):
				}
				c.Final(row)
			}
			select {
			case <-moved:
			case <-time.After(5 * time.Second):
				t.Fatal("not moved")
			}
			fi, ok := idx.get(id)
			want := "2026-11-21T19_12_02UTC-42-" + id + ".wav"
			if !ok || fi.Filename != want || fi.Duration != 2*time.Second || fi.Size != 44+2*16000 || len(fi.SHA256) != 64 {
				t.Fatalf("indexed %+v (ok %v), want %s", fi, ok, want)
			}
			if _, err := os.Stat(filepath.Join(root, "tenants", tenant, "monitor", want)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(spoolDir, id+".wav")); !os.IsNotExist(err) {
				t.Fatalf("spool file still there: %v", err)
			}
			if m, f := c.Stats(); m != 1 || f != 0 {
				t.Fatalf("stats moved=%d failed=%d", m, f)
			}
		})
	}
}

// A failed recording without a file is not an error; a stopped one without
// a file is counted as a failure and indexed nowhere.
func TestCollectorMissingFile(t *testing.T) {
	idx := &fakeIndex{files: map[string]store.FileInfo{}}
	c := New(t.TempDir(), t.TempDir(), idx, nil)
	c.Final(engine.RecordingRow{UUID: "a", Tenant: tenant, State: recording.StateFailed})
	c.Final(engine.RecordingRow{UUID: "b", Tenant: tenant, State: recording.StateStopped})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c.Run(ctx)
	if m, f := c.Stats(); m != 0 || f != 1 || len(idx.files) != 0 {
		t.Fatalf("moved=%d failed=%d indexed=%v", m, f, idx.files)
	}
}

// runUntilMoved runs the collector until n files were handled.
func runUntilMoved(t *testing.T, c *Collector, n int) []media.File {
	t.Helper()
	moved := make(chan media.File, n)
	c.Moved = func(_ string, f media.File) { moved <- f }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	var out []media.File
	for range n {
		select {
		case f := <-moved:
			out = append(out, f)
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d moved", len(out), n)
		}
	}
	return out
}

// A tenant recording in MP3 or AMR: the WAV is placed, transcoded with the
// real ffmpeg, and the index ends up naming the compressed file; the WAV is
// gone once the new file is verified.
func TestCollectorTranscodesToTheTenantFormat(t *testing.T) {
	for _, format := range []recording.Format{recording.MP3, recording.AMR} {
		t.Run(string(format), func(t *testing.T) {
			spoolDir, root := t.TempDir(), t.TempDir()
			idx := &fakeIndex{files: map[string]store.FileInfo{}}
			c := New(spoolDir, root, idx, nil)
			c.Transcoder = media.Transcoder{}
			id := "0b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d"
			writeWAV(t, filepath.Join(spoolDir, id+".wav"), 3)
			start := time.Date(2026, 11, 21, 19, 12, 2, 0, time.UTC)
			c.Final(engine.RecordingRow{UUID: id, CallID: 7, Tenant: tenant, Start: start, Format: format, State: recording.StateStopped})
			f := runUntilMoved(t, c, 1)[0]
			fi, _ := idx.get(id)
			want := "2026-11-21T19_12_02UTC-7-" + id + "." + string(format)
			// The decoded length of a compressed file is whole frames: ±100 ms.
			if d := fi.Duration - 3*time.Second; fi.Filename != want || fi.Format != string(format) || d < -100*time.Millisecond ||
				d > 100*time.Millisecond || fi.Size == 0 || fi.Size >= 44+3*16000 {
				t.Fatalf("indexed %+v, want %s", fi, want)
			}
			dir := filepath.Join(root, "tenants", tenant, "monitor")
			if _, err := os.Stat(filepath.Join(dir, want)); err != nil || f.Path != filepath.Join(dir, want) {
				t.Fatalf("transcoded file: %v (%s)", err, f.Path)
			}
			if _, err := os.Stat(filepath.Join(dir, "2026-11-21T19_12_02UTC-7-"+id+".wav")); !os.IsNotExist(err) {
				t.Fatalf("WAV kept after a verified transcode: %v", err)
			}
		})
	}
}

type failingTranscoder struct{}

func (failingTranscoder) Transcode(context.Context, string, recording.Format) (media.File, error) {
	return media.File{}, media.ErrTools
}

// When transcoding fails the WAV stays and the index says WAV: nothing lost.
func TestCollectorKeepsTheWAVWhenTranscodingFails(t *testing.T) {
	spoolDir, root := t.TempDir(), t.TempDir()
	idx := &fakeIndex{files: map[string]store.FileInfo{}}
	c := New(spoolDir, root, idx, nil)
	c.Transcoder = failingTranscoder{}
	id := "0b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d"
	writeWAV(t, filepath.Join(spoolDir, id+".wav"), 1)
	c.Final(engine.RecordingRow{UUID: id, CallID: 7, Tenant: tenant, Start: time.Now(), Format: "amr", State: recording.StateStopped})
	f := runUntilMoved(t, c, 1)[0]
	fi, _ := idx.get(id)
	if fi.Format != "wav" || filepath.Ext(fi.Filename) != ".wav" {
		t.Fatalf("indexed %+v", fi)
	}
	if _, err := os.Stat(f.Path); err != nil {
		t.Fatalf("WAV lost: %v", err)
	}
}

// After a crash, files of ended recordings still in the spool are moved at
// start; files of live recordings, unknown recordings and foreign files stay.
func TestCollectorRecoversEndedRecordingsLeftInTheSpool(t *testing.T) {
	spoolDir, root := t.TempDir(), t.TempDir()
	idx := &fakeIndex{files: map[string]store.FileInfo{}}
	c := New(spoolDir, root, idx, nil)
	ended, live, unknown := "0b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d", "1b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d", "2b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d"
	for _, id := range []string{ended, live, unknown, "voicemail-1"} {
		writeWAV(t, filepath.Join(spoolDir, id+".wav"), 1)
	}
	rows := map[string]engine.RecordingRow{
		ended: {UUID: ended, CallID: 1, Tenant: tenant, Start: time.Now(), Format: "wav", State: recording.StateStopped},
		live:  {UUID: live, CallID: 2, Tenant: tenant, Start: time.Now(), Format: "wav", State: recording.StateRecording},
	}
	n, err := c.Recover(context.Background(), rowsIndex(rows))
	if err != nil || n != 1 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	runUntilMoved(t, c, 1)
	if _, ok := idx.get(ended); !ok {
		t.Fatal("ended recording not indexed")
	}
	for _, id := range []string{live, unknown, "voicemail-1"} {
		if _, err := os.Stat(filepath.Join(spoolDir, id+".wav")); err != nil {
			t.Fatalf("%s moved or lost: %v", id, err)
		}
	}
}

// A run killed between placing a file and indexing it leaves the file in the
// layout, nothing in the spool and the row without a file (the soak's
// SIGKILL found one: the row stayed file-less through two more restarts).
// The next start indexes it; rows whose file is nowhere are left alone, and
// the index is asked only for rows ended within the lookback.
func TestCollectorIndexesAFilePlacedByARunKilledBeforeIndexingIt(t *testing.T) {
	spoolDir, root, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	idx := &fakeIndex{files: map[string]store.FileInfo{}}
	c := New(spoolDir, root, idx, nil)
	placed, nowhere := "0b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d", "1b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d"
	start := time.Date(2026, 12, 3, 17, 49, 40, 120e6, time.UTC)
	rows := map[string]engine.RecordingRow{
		placed:  {UUID: placed, CallID: 7, Tenant: tenant, Start: start, Format: "wav", State: recording.StateStopped},
		nowhere: {UUID: nowhere, CallID: 8, Tenant: tenant, Start: start, Format: "wav", State: recording.StateStopped},
	}
	// What the killed run did: Place, and no SetRecordingFile.
	src := filepath.Join(elsewhere, placed+".wav")
	writeWAV(t, src, 2)
	want, err := media.Mover{}.Place(root, src, tenant, layoutName(rows[placed]))
	if err != nil {
		t.Fatal(err)
	}
	var asked time.Time
	ri := rowsIndex(rows)
	ri.unplaced = func(since time.Time) ([]engine.RecordingRow, error) {
		asked = since
		return []engine.RecordingRow{rows[placed], rows[nowhere]}, nil
	}
	n, err := c.Recover(context.Background(), ri)
	if err != nil || n != 1 {
		t.Fatalf("recovered %d, %v; want 1", n, err)
	}
	if ago := time.Since(asked); ago < UnplacedLookback || ago > UnplacedLookback+time.Minute {
		t.Fatalf("asked for rows ended since %v ago, want %v", ago, UnplacedLookback)
	}
	runUntilMoved(t, c, 1)
	fi, ok := idx.get(placed)
	if !ok || fi.Filename != filepath.Base(want.Path) || fi.SHA256 != want.SHA256 || fi.Size != want.Size || fi.Duration != 2*time.Second {
		t.Fatalf("indexed %+v (ok %v), want the placed file %+v", fi, ok, want)
	}
	if _, ok := idx.get(nowhere); ok {
		t.Fatal("a row whose file is nowhere got a file")
	}
	if _, failed := c.Stats(); failed != 0 {
		t.Fatalf("%d failed moves counted", failed)
	}
}
