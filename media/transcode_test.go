package media

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// placedWAV puts a generated recording where Place would.
func placedWAV(t *testing.T, rate, channels int, samples []int16) string {
	t.Helper()
	p, err := BuildPath(t.TempDir(), tenant, testName.Start, testName.CallID, recID, recording.WAV)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, p, wavBytes(t, rate, channels, samples))
}

func TestTranscode(t *testing.T) {
	requireFFmpeg(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		rate, channels int
		f              recording.Format
		magic          string
	}{
		{"8k mono to mp3", 8000, 1, recording.MP3, ""},
		{"8k mono to amr", 8000, 1, recording.AMR, "#!AMR\n"},
		{"48k stereo to mp3", 48000, 2, recording.MP3, ""},
		{"48k stereo to amr", 48000, 2, recording.AMR, "#!AMR\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const d = 7 * time.Second
			wav := placedWAV(t, tc.rate, tc.channels, tone(tc.rate, tc.channels, d, 440))
			f, err := Transcoder{}.Transcode(ctx, wav, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(wav, "wav") + string(tc.f); f.Path != want {
				t.Fatalf("path %s, want %s", f.Path, want)
			}
			if _, err := os.Stat(wav); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("WAV kept after a verified transcode: %v", err)
			}
			if diff := f.Duration - d; diff > 100*time.Millisecond || diff < -100*time.Millisecond {
				t.Fatalf("duration %v, want %v", f.Duration, d)
			}
			head, _ := os.ReadFile(f.Path)
			if f.Size != int64(len(head)) || f.SHA256 == "" || !bytes.HasPrefix(head, []byte(tc.magic)) {
				t.Fatalf("size %d/%d sha %q head % x", f.Size, len(head), f.SHA256, head[:8])
			}
			if _, err := recording.ParseName(filepath.Base(f.Path)); err != nil {
				t.Fatal(err)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(wav), tempPrefix+"*")); len(left) > 0 {
				t.Fatalf("temp files left: %v", left)
			}
		})
	}
}

// A crashed recording is repaired before transcoding, so none of its audio
// is lost and verification compares against its real length.
func TestTranscodeCrashedWAV(t *testing.T) {
	requireFFmpeg(t)
	wav := placedWAV(t, 8000, 1, speechLike(8000, 6*time.Second, 4))
	b, _ := os.ReadFile(wav)
	clear(b[40:44]) // data size 0: never finalized
	writeFile(t, wav, b)
	f, err := Transcoder{}.Transcode(context.Background(), wav, recording.AMR)
	if err != nil {
		t.Fatal(err)
	}
	if diff := f.Duration - 6*time.Second; diff > 100*time.Millisecond || diff < -100*time.Millisecond {
		t.Fatalf("duration %v", f.Duration)
	}
}

// fakeTool writes a shell script standing in for ffmpeg when it transcodes;
// the verification decode (-progress) still runs the real ffmpeg.
func fakeTool(t *testing.T, script string) string {
	t.Helper()
	return writeFileMode(t, filepath.Join(t.TempDir(), "ffmpeg"),
		"#!/bin/sh\ncase \"$*\" in *-progress*) exec ffmpeg \"$@\";; esac\n"+script+"\n", 0o755)
}

func writeFileMode(t *testing.T, path, s string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// Whatever goes wrong, the WAV stays and no output or temp file is left.
func TestTranscodeFailureKeepsWAV(t *testing.T) {
	requireFFmpeg(t) // the real ffmpeg verifies
	for _, tc := range []struct {
		name   string
		tc     Transcoder
		f      recording.Format
		want   error
		errHas string
	}{
		{"ffmpeg fails, stderr in error", Transcoder{FFmpeg: fakeTool(t, `echo "Unknown encoder 'libopencore_amrnb'" >&2; exit 1`)}, recording.AMR, nil, "Unknown encoder 'libopencore_amrnb'"},
		{"empty output", Transcoder{FFmpeg: fakeTool(t, `for a; do last=$a; done; : > "$last"`)}, recording.MP3, ErrVerify, "empty"},
		{"wrong magic", Transcoder{FFmpeg: fakeTool(t, `for a; do last=$a; done; echo garbage > "$last"`)}, recording.AMR, ErrVerify, "bad magic"},
		{"too short", Transcoder{FFmpeg: fakeTool(t, `for a; do last=$a; done; exec ffmpeg -nostdin -loglevel error -y -f lavfi -i anullsrc=r=8000:cl=mono -t 1 -c:a libopencore_amrnb -b:a 12.2k -f amr "$last"`)}, recording.AMR, ErrVerify, "lasts"},
		{"timeout", Transcoder{FFmpeg: fakeTool(t, `exec sleep 30`), Timeout: 200 * time.Millisecond}, recording.MP3, context.DeadlineExceeded, ""},
		{"ffmpeg not installed", Transcoder{FFmpeg: "/nonexistent/ffmpeg"}, recording.MP3, ErrTools, "install-media-deps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wav := placedWAV(t, 8000, 1, tone(8000, 1, 5*time.Second, 440))
			orig, _ := os.ReadFile(wav)
			_, err := tc.tc.Transcode(context.Background(), wav, tc.f)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("got %v; want %v containing %q", err, tc.want, tc.errHas)
			}
			if now, _ := os.ReadFile(wav); !bytes.Equal(now, orig) {
				t.Fatal("WAV lost or changed")
			}
			ents, _ := os.ReadDir(filepath.Dir(wav))
			if len(ents) != 1 {
				t.Fatalf("left behind: %v", ents)
			}
		})
	}
}

// After a crash between linking the output and removing the WAV, a rerun
// adopts the verified output; a different, broken file is not replaced.
func TestTranscodeRerun(t *testing.T) {
	requireFFmpeg(t)
	ctx := context.Background()
	wav := placedWAV(t, 8000, 1, tone(8000, 1, 4*time.Second, 440))
	orig, _ := os.ReadFile(wav)
	first, err := Transcoder{}.Transcode(ctx, wav, recording.MP3)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, wav, orig) // as if the WAV removal never happened
	again, err := Transcoder{}.Transcode(ctx, wav, recording.MP3)
	if err != nil || again.SHA256 != first.SHA256 {
		t.Fatalf("rerun: %v", err)
	}
	writeFile(t, wav, orig)
	writeFile(t, first.Path, []byte("not an mp3"))
	if _, err := (Transcoder{}).Transcode(ctx, wav, recording.MP3); !errors.Is(err, ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
	if got, _ := os.ReadFile(first.Path); string(got) != "not an mp3" {
		t.Fatal("existing file replaced")
	}
}

// TestSizesPerMinute measures what a minute of speech-like audio costs on
// disk in each format (the seed's figures: WAV ~1 MB, MP3 ~256 KB, AMR ~100 KB).
func TestSizesPerMinute(t *testing.T) {
	requireFFmpeg(t)
	ctx := context.Background()
	samples := speechLike(8000, time.Minute, 42)
	for _, f := range []recording.Format{recording.WAV, recording.MP3, recording.AMR} {
		wav := placedWAV(t, 8000, 1, samples)
		res, err := Inspect(wav)
		if f != recording.WAV {
			res, err = Transcoder{}.Transcode(ctx, wav, f)
		}
		if err != nil {
			t.Fatal(err)
		}
		perMin := float64(res.Size) / res.Duration.Minutes()
		t.Logf("%s: %d bytes for %v = %.0f KB/min (%.2f MB/min, %.1f kbit/s)",
			f, res.Size, res.Duration.Round(time.Millisecond), perMin/1024, perMin/(1024*1024), perMin*8/60/1000)
	}
}
