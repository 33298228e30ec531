package spool

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
)

type openRowsFake struct {
	engine.Index
	recs []engine.OpenRecording
}

func (f openRowsFake) OpenRecordings(context.Context) ([]engine.OpenRecording, error) {
	return slices.Clone(f.recs), nil
}

// The spool file's last write is the best known time a lost recording ran.
func TestSeenIndexTakesTheSpoolFilesLastWrite(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	const withFile, without = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
	path := filepath.Join(dir, withFile+".wav")
	writeWAV(t, path, 1)
	mtime := start.Add(90 * time.Second)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	r := SeenIndex{Index: openRowsFake{recs: []engine.OpenRecording{
		{Row: engine.RecordingRow{UUID: withFile, Start: start}, Seen: start},
		{Row: engine.RecordingRow{UUID: without, Start: start}, Seen: start.Add(time.Second)},
	}}, C: New(dir, t.TempDir(), nil, nil)}
	got, err := r.OpenRecordings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Seen.Equal(mtime) || !got[1].Seen.Equal(start.Add(time.Second)) {
		t.Errorf("seen %v / %v, want %v / %v", got[0].Seen, got[1].Seen, mtime, start.Add(time.Second))
	}
	// The PBX creates the file as it begins: none means it never began.
	if got[0].NoAudio || !got[1].NoAudio {
		t.Errorf("no audio %v / %v, want false / true", got[0].NoAudio, got[1].NoAudio)
	}
	// Without a spool folder (files on the PBX's host) nothing is known.
	r.C = New("", t.TempDir(), nil, nil)
	if got, _ = r.OpenRecordings(context.Background()); got[1].NoAudio {
		t.Error("no audio claimed without a spool to look in")
	}
}

// A spool folder that is not where the PBX writes shows no file for a
// recording the PBX does store: its own list says the audio exists, so the
// row is not taken for one the PBX never began.
func TestSeenIndexAsksThePBXBeforeClaimingNoAudio(t *testing.T) {
	s := newRemoteSite(t, t.TempDir())
	const stored, never = "00000000-0000-4000-8000-000000000003", "00000000-0000-4000-8000-000000000004"
	s.pbx.files[stored] = wavBytes(t, 1)
	r := SeenIndex{Index: openRowsFake{recs: []engine.OpenRecording{
		{Row: engine.RecordingRow{UUID: stored}}, {Row: engine.RecordingRow{UUID: never}},
	}}, C: s.c}
	got, err := r.OpenRecordings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got[0].NoAudio || !got[1].NoAudio {
		t.Errorf("no audio %v / %v, want false (the PBX stores it) / true", got[0].NoAudio, got[1].NoAudio)
	}
}
