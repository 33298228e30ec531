package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// WaveformKey is what a cached waveform was computed from: the recording,
// its file as stat sees it, the sha256 the index holds, and the number of
// buckets. A waveform is served only for the same key.
type WaveformKey struct {
	RecordingUUID string
	FileSize      int64
	FileMTime     time.Time
	SHA256        string
	Buckets       int
}

// Waveform is a recording's cached peaks (0..1, one per bucket).
type Waveform struct {
	WaveformKey
	Duration   time.Duration
	Peaks      []float64
	ComputedAt time.Time
}

// GetWaveform returns the waveform cached for k, or ErrNotFound when there
// is none or it was computed from another version of the file or at
// another resolution.
func (s *Store) GetWaveform(ctx context.Context, k WaveformKey) (Waveform, error) {
	w := Waveform{WaveformKey: k}
	var durUS, computed int64
	var blob []byte
	err := s.r.QueryRowContext(ctx, `SELECT duration_us, peaks, computed_at FROM waveforms
		WHERE recording_uuid = ? AND file_size = ? AND file_mtime_ns = ? AND sha256 = ? AND buckets = ?`,
		k.RecordingUUID, k.FileSize, k.FileMTime.UnixNano(), k.SHA256, k.Buckets).Scan(&durUS, &blob, &computed)
	if err != nil {
		return Waveform{}, classify("get waveform "+k.RecordingUUID, err)
	}
	if len(blob) != 2*k.Buckets {
		return Waveform{}, fmt.Errorf("get waveform %s: %d bytes of peaks for %d buckets", k.RecordingUUID, len(blob), k.Buckets)
	}
	w.Duration, w.ComputedAt = time.Duration(durUS)*time.Microsecond, fromMicros(computed)
	w.Peaks = make([]float64, k.Buckets)
	for i := range w.Peaks {
		w.Peaks[i] = float64(binary.LittleEndian.Uint16(blob[2*i:])) / math.MaxUint16
	}
	return w, nil
}

// PutWaveform caches a recording's waveform, replacing whatever was cached
// for it (one row per recording: an older file's peaks are of no use).
func (s *Store) PutWaveform(ctx context.Context, w Waveform) error {
	if len(w.Peaks) != w.Buckets {
		return fmt.Errorf("put waveform %s: %d peaks for %d buckets: %w", w.RecordingUUID, len(w.Peaks), w.Buckets, ErrInvalid)
	}
	blob := make([]byte, 0, 2*len(w.Peaks))
	for _, p := range w.Peaks {
		blob = binary.LittleEndian.AppendUint16(blob, uint16(math.Round(min(max(p, 0), 1)*math.MaxUint16)))
	}
	if w.ComputedAt.IsZero() {
		w.ComputedAt = s.now()
	}
	_, err := s.q.ExecContext(ctx, `INSERT INTO waveforms (recording_uuid, file_size, file_mtime_ns, sha256, buckets,
		duration_us, peaks, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (recording_uuid) DO UPDATE SET file_size = excluded.file_size, file_mtime_ns = excluded.file_mtime_ns,
		sha256 = excluded.sha256, buckets = excluded.buckets, duration_us = excluded.duration_us, peaks = excluded.peaks,
		computed_at = excluded.computed_at`,
		w.RecordingUUID, w.FileSize, w.FileMTime.UnixNano(), w.SHA256, w.Buckets, w.Duration.Microseconds(), blob,
		micros(w.ComputedAt))
	return classify("put waveform "+w.RecordingUUID, err)
}
