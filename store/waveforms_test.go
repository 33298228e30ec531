package store

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// mustRecording creates a call of tenant between two users and one stopped
// recording of it.
func mustRecording(t *testing.T, s *Store, tenant, uuid, pbxID, src, dst string, start time.Time, r Recording) Recording {
	t.Helper()
	ctx := context.Background()
	c, err := s.CreateCall(ctx, Call{TenantUUID: tenant, PBXCallID: pbxID, Start: start, Direction: DirectionInternal,
		SourceUserUUID: src, DestinationUserUUID: dst})
	if err != nil {
		t.Fatal(err)
	}
	r.UUID, r.CallID, r.TenantUUID, r.Start = uuid, c.ID, tenant, start
	r.Filename, r.Format, r.StartedBy = uuid+".wav", string(recording.WAV), string(recording.ByPolicy)
	if r.State == "" {
		r.State = string(recording.StateStopped)
	}
	if err := s.CreateRecording(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWaveformCache(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	const rec = "5ea37d0b-0823-4d2b-a18c-b9082e551b50"
	mustRecording(t, s, tenantA, rec, "1.1", "", "", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Recording{})
	mtime := time.Date(2026, 12, 1, 9, 5, 0, 123456789, time.UTC)
	k := WaveformKey{RecordingUUID: rec, FileSize: 48044, FileMTime: mtime, SHA256: "ab", Buckets: 4}
	if _, err := s.GetWaveform(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty cache: %v", err)
	}
	w := Waveform{WaveformKey: k, Duration: 3*time.Second + 5*time.Millisecond, Peaks: []float64{0, 0.25, 1, 0.5}}
	if err := s.PutWaveform(ctx, w); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWaveform(ctx, k)
	if err != nil || got.Duration != w.Duration || len(got.Peaks) != 4 || got.ComputedAt.IsZero() {
		t.Fatalf("%+v %v", got, err)
	}
	for i, p := range got.Peaks {
		if math.Abs(p-w.Peaks[i]) > 1.0/65535 {
			t.Fatalf("peak %d = %v, want %v", i, p, w.Peaks[i])
		}
	}
	// Any change to the file, its checksum or the resolution is a miss.
	for name, change := range map[string]func(*WaveformKey){
		"size":       func(k *WaveformKey) { k.FileSize++ },
		"mtime, 1ns": func(k *WaveformKey) { k.FileMTime = k.FileMTime.Add(time.Nanosecond) },
		"sha256":     func(k *WaveformKey) { k.SHA256 = "cd" },
		"buckets":    func(k *WaveformKey) { k.Buckets = 600 },
	} {
		other := k
		change(&other)
		if _, err := s.GetWaveform(ctx, other); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s changed: %v, want a miss", name, err)
		}
	}
	// A new computation replaces the old row.
	k2 := k
	k2.FileSize, k2.Buckets = 50000, 2
	if err := s.PutWaveform(ctx, Waveform{WaveformKey: k2, Peaks: []float64{1, 0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWaveform(ctx, k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old row kept: %v", err)
	}
	if got, err := s.GetWaveform(ctx, k2); err != nil || got.Peaks[0] != 1 || got.Peaks[1] != 0 {
		t.Fatalf("%+v %v", got, err)
	}
	if err := s.PutWaveform(ctx, Waveform{WaveformKey: k2, Peaks: []float64{1}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("peaks and buckets disagree: %v", err)
	}
	if err := s.PutWaveform(ctx, Waveform{WaveformKey: WaveformKey{RecordingUUID: "no-such", Buckets: 1}, Peaks: []float64{0}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown recording: %v", err)
	}
	// Deleting the recording drops its waveform.
	if err := s.MarkRecordingDeleted(ctx, tenantA, rec, time.Now()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM waveforms`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d waveforms after the delete, %v", n, err)
	}
}
