package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// toneGapTone is 1 s of tone, 1 s of silence, 1 s of tone.
func toneGapTone(rate, channels int) []int16 {
	s := tone(rate, channels, time.Second, 440)
	s = append(s, make([]int16, rate*channels)...)
	return append(s, tone(rate, channels, time.Second, 440)...)
}

// checkGap wants loud outer thirds and a quiet middle third, with two
// buckets of margin at each edge, and 25 ms at the file's ends: lossy
// codecs smear a few milliseconds, and AMR fades in and out over a frame.
func checkGap(t *testing.T, w Waveform, n int, loud float64) {
	t.Helper()
	if len(w.Peaks) != n {
		t.Fatalf("%d peaks, want %d", len(w.Peaks), n)
	}
	third, end := n/3, max(2, n/120)
	for i, v := range w.Peaks {
		switch {
		case v < 0 || v > 1:
			t.Fatalf("peak %d = %v: outside 0..1", i, v)
		case i > third+2 && i < 2*third-2 && v > 0.01:
			t.Fatalf("peak %d of %d = %v in the silent middle", i, n, v)
		case (i >= end && i < third-2 || i > 2*third+2 && i < n-end) && v < loud:
			t.Fatalf("peak %d of %d = %v in the tone, want ≥ %v", i, n, v, loud)
		}
	}
}

func TestWaveformWAV(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		rate, channels int
		n              int
		loud           float64
	}{
		{"8k mono, default buckets", 8000, 1, DefaultBuckets, 0.2},
		{"48k stereo", 48000, 2, 300, 0.2},
		// 6 frames a bucket, a third of the tone's period: no merge
		// happens, and a bucket may miss the crest.
		{"8k mono, 4000 buckets", 8000, 1, 4000, 0.15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(t.TempDir(), "r.wav"), wavBytes(t, tc.rate, tc.channels, toneGapTone(tc.rate, tc.channels)))
			w, err := Transcoder{}.Waveform(ctx, p, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if w.Duration != 3*time.Second {
				t.Fatalf("duration %v", w.Duration)
			}
			// tone() peaks at 8000 of 32768; the stereo's second channel too.
			checkGap(t, w, tc.n, tc.loud)
			if top := maxOf(w.Peaks); top < 0.24 || top > 0.25 {
				t.Fatalf("loudest peak %v, want 8000/32768", top)
			}
		})
	}
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// pcmWAV writes a PCM WAV of any width from full-scale-relative values.
func pcmWAV(t *testing.T, bits int, vals []float64) string {
	t.Helper()
	width := bits / 8
	var data []byte
	for _, v := range vals {
		s := int64(v * float64(int64(1)<<(bits-1)-1))
		switch bits {
		case 8:
			data = append(data, byte(s+128))
		case 24:
			data = append(data, byte(s), byte(s>>8), byte(s>>16))
		case 32:
			data = binary.LittleEndian.AppendUint32(data, uint32(int32(s)))
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(8000 * width), uint16(width), uint16(bits)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return writeFile(t, filepath.Join(t.TempDir(), "w.wav"), b.Bytes())
}

// Every PCM width WAV allows: 8-bit is unsigned around 128, 24-bit is
// sign-extended; negative samples count by their magnitude.
func TestWaveformSampleWidths(t *testing.T) {
	for _, bits := range []int{8, 24, 32} {
		vals := make([]float64, 8000)
		for i := range vals {
			if i < 4000 {
				vals[i] = -0.5 * float64(i%2) // alternate 0 and -0.5
			}
		}
		w, err := Transcoder{}.Waveform(context.Background(), pcmWAV(t, bits, vals), 2)
		if err != nil {
			t.Fatal(err)
		}
		if w.Duration != time.Second || w.Peaks[0] < 0.49 || w.Peaks[0] > 0.51 || w.Peaks[1] > 0.01 {
			t.Fatalf("%d-bit: %v %v", bits, w.Duration, w.Peaks)
		}
	}
}

// A crashed WAV (header data size 0) and an empty one.
func TestWaveformCrashedAndEmptyWAV(t *testing.T) {
	b := wavBytes(t, 8000, 1, toneGapTone(8000, 1))
	clear(b[40:44])
	w, err := Transcoder{}.Waveform(context.Background(), writeFile(t, filepath.Join(t.TempDir(), "c.wav"), b), 60)
	if err != nil || w.Duration != 3*time.Second {
		t.Fatalf("crashed: %v %v", w.Duration, err)
	}
	checkGap(t, w, 60, 0.2)
	w, err = Transcoder{}.Waveform(context.Background(), writeFile(t, filepath.Join(t.TempDir(), "e.wav"), wavBytes(t, 8000, 1, nil)), 10)
	if err != nil || w.Duration != 0 || len(w.Peaks) != 10 || maxOf(w.Peaks) != 0 {
		t.Fatalf("empty: %+v %v", w, err)
	}
}

// MP3 and AMR are decoded by ffmpeg through a pipe.
func TestWaveformCompressed(t *testing.T) {
	requireFFmpeg(t)
	ctx := context.Background()
	for _, f := range []recording.Format{recording.MP3, recording.AMR} {
		t.Run(string(f), func(t *testing.T) {
			out, err := Transcoder{}.Transcode(ctx, placedWAV(t, 8000, 1, toneGapTone(8000, 1)), f)
			if err != nil {
				t.Fatal(err)
			}
			w, err := Transcoder{}.Waveform(ctx, out.Path, DefaultBuckets)
			if err != nil {
				t.Fatal(err)
			}
			if d := w.Duration - 3*time.Second; d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Fatalf("duration %v", w.Duration)
			}
			checkGap(t, w, DefaultBuckets, 0.1)
		})
	}
}

// A WAV that is not PCM (μ-law, as some PBXs write) goes to ffmpeg too.
func TestWaveformMuLawWAV(t *testing.T) {
	requireFFmpeg(t)
	src := writeFile(t, filepath.Join(t.TempDir(), "pcm.wav"), wavBytes(t, 8000, 1, toneGapTone(8000, 1)))
	ulaw := filepath.Join(t.TempDir(), "ulaw.wav")
	if out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", src, "-c:a", "pcm_mulaw", ulaw).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := InspectWAV(ulaw); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("μ-law WAV: %v, want ErrUnsupported", err)
	}
	w, err := Transcoder{}.Waveform(context.Background(), ulaw, 300)
	if err != nil || w.Duration != 3*time.Second {
		t.Fatalf("%v %v", w.Duration, err)
	}
	checkGap(t, w, 300, 0.2)
}

func TestWaveformUndecodable(t *testing.T) {
	requireFFmpeg(t)
	p := writeFile(t, filepath.Join(t.TempDir(), "x.amr"), []byte("#!AMR\nnot really"))
	if _, err := (Transcoder{}).Waveform(context.Background(), p, 10); err == nil {
		t.Fatal("garbage decoded")
	}
	if _, err := (Transcoder{}).Waveform(context.Background(), filepath.Join(t.TempDir(), "none.wav"), 10); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}

// The playable copy of an AMR file is an MP3 of the same length, written
// under a temp name first.
func TestPlayableMP3(t *testing.T) {
	requireFFmpeg(t)
	ctx := context.Background()
	amr, err := Transcoder{}.Transcode(ctx, placedWAV(t, 8000, 1, speechLike(8000, 4*time.Second, 9)), recording.AMR)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst := filepath.Join(dir, "x.mp3")
	if err := (Transcoder{}).PlayableMP3(ctx, amr.Path, dst); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", dst).Output()
	if err != nil || strings.TrimSpace(string(out)) != "mp3" {
		t.Fatalf("ffprobe: %q %v", out, err)
	}
	if d, err := (Transcoder{}).Decode(ctx, dst); err != nil || d < 3900*time.Millisecond || d > 4200*time.Millisecond {
		t.Fatalf("decoded %v %v", d, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*")); len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}
	if _, err := os.Stat(amr.Path); err != nil {
		t.Fatalf("the source was touched: %v", err)
	}
}

// Concurrent asks for one recording's copy transcode once; a changed
// source is a new copy and the old one goes; Sweep removes old copies,
// those of gone recordings and a crash's temp files, a batch at a time,
// and leaves other files alone.
func TestPlayableCache(t *testing.T) {
	requireFFmpeg(t)
	ctx := context.Background()
	amr, err := Transcoder{}.Transcode(ctx, placedWAV(t, 8000, 1, speechLike(8000, 2*time.Second, 3)), recording.AMR)
	if err != nil {
		t.Fatal(err)
	}
	pc := &PlayableCache{Dir: filepath.Join(t.TempDir(), "cache")}
	st, _ := os.Stat(amr.Path)
	var wg sync.WaitGroup
	start := make(chan struct{})
	sizes := make([]int64, 4)
	for i := range sizes {
		wg.Go(func() {
			<-start
			f, err := pc.Open(ctx, recID, amr.Path, st)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			fi, _ := f.Stat()
			sizes[i] = fi.Size()
		})
	}
	close(start)
	wg.Wait()
	if pc.Transcodes() != 1 || sizes[0] == 0 || sizes[0] != sizes[3] {
		t.Fatalf("%d transcodes, sizes %v", pc.Transcodes(), sizes)
	}
	first := pc.copyPath(recID, st)
	// The source changes: a new copy, the old one removed.
	later := st.ModTime().Add(time.Second)
	if err := os.Chtimes(amr.Path, later, later); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(amr.Path)
	f, err := pc.Open(ctx, recID, amr.Path, st2)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(first); !os.IsNotExist(err) || pc.Transcodes() != 2 {
		t.Fatalf("old copy: %v, %d transcodes", err, pc.Transcodes())
	}

	const goneID, oldID = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
	now := time.Now()
	put := func(name string, age time.Duration) string {
		p := writeFile(t, filepath.Join(pc.Dir, name), []byte("x"))
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := put(goneID+"-1-2.mp3", time.Minute)
	old := put(oldID+"-1-2.mp3", 8*24*time.Hour)
	crash := put(tempPrefix+oldID+"-3-4.mp3.123", 2*time.Hour)
	running := put(tempPrefix+oldID+"-5-6.mp3.456", time.Minute)
	foreign := put("notes.txt", 30*24*time.Hour)
	isGone := func(uuid string) bool { return uuid == goneID }
	removed := 0
	for range 6 { // one file a batch: the cursor walks the folder
		n, err := pc.Sweep(now, 1, isGone)
		if err != nil {
			t.Fatal(err)
		}
		removed += n
	}
	if removed != 3 {
		t.Fatalf("removed %d, want 3", removed)
	}
	for p, want := range map[string]bool{gone: false, old: false, crash: false, running: true, foreign: true, pc.copyPath(recID, st2): true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
