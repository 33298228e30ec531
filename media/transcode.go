package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// ErrTools means ffmpeg or a needed encoder is missing.
var ErrTools = errors.New("media: ffmpeg tools missing (run scripts/install-media-deps)")

// ErrVerify means a transcode produced something that does not check out;
// the WAV is kept.
var ErrVerify = errors.New("media: transcode failed verification")

// Transcoder converts finished WAV recordings with ffmpeg. The zero value
// uses ffmpeg from PATH.
type Transcoder struct {
	FFmpeg     string        // default "ffmpeg"
	Timeout    time.Duration // per ffmpeg run; default 10 minutes
	MP3Bitrate string        // default "32k": ~240 KB per minute, plenty for telephone speech
}

func (t Transcoder) ffmpeg() string { return orDefault(t.FFmpeg, "ffmpeg") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Check verifies ffmpeg runs and has the libmp3lame and libopencore_amrnb
// encoders (Debian: ffmpeg + libavcodec-extra). Call it at startup when a
// tenant's format is MP3 or AMR.
func (t Transcoder) Check(ctx context.Context) error {
	out, err := t.run(ctx, t.ffmpeg(), "-hide_banner", "-encoders")
	if err != nil && !errors.Is(err, ErrTools) {
		err = fmt.Errorf("%w: %v", ErrTools, err)
	}
	if err != nil {
		return err
	}
	for _, enc := range []string{"libmp3lame", "libopencore_amrnb"} {
		if !bytes.Contains(out, []byte(" "+enc+" ")) {
			return fmt.Errorf("%w: ffmpeg has no %s encoder", ErrTools, enc)
		}
	}
	return nil
}

// codecArgs are the ffmpeg output options per format. AMR-NB only exists at
// 8 kHz mono; 12.2k is its best mode (~96 KB per minute with frame headers).
func (t Transcoder) codecArgs(f recording.Format) ([]string, error) {
	switch f {
	case recording.MP3:
		return []string{"-c:a", "libmp3lame", "-b:a", orDefault(t.MP3Bitrate, "32k"), "-f", "mp3"}, nil
	case recording.AMR:
		return []string{"-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1", "-b:a", "12.2k", "-f", "amr"}, nil
	}
	return nil, fmt.Errorf("media: cannot transcode to %q", f)
}

// Transcode converts the WAV at wavPath to format f next to it (same name,
// new extension). The WAV is removed only after the new file exists under its
// final name, is durable, has the right magic bytes, and decodes completely
// to a duration within 250 ms of the WAV's. Re-running after a crash is safe:
// an existing output that verifies is adopted, one that does not is left
// alone (ErrExists).
func (t Transcoder) Transcode(ctx context.Context, wavPath string, f recording.Format) (File, error) {
	if _, err := t.codecArgs(f); err != nil {
		return File{}, err
	}
	if filepath.Ext(wavPath) != ".wav" {
		return File{}, fmt.Errorf("media: %s: not a .wav file", wavPath)
	}
	w, _, err := RepairWAV(wavPath) // so ffmpeg sees all the audio of a crashed file
	if err != nil {
		return File{}, err
	}
	out := strings.TrimSuffix(wavPath, ".wav") + "." + string(f)
	var got time.Duration
	if _, err := os.Lstat(out); err == nil {
		if got, err = t.verify(ctx, out, f, w.Duration()); err != nil {
			return File{}, fmt.Errorf("%w: %s (%v)", ErrExists, out, err)
		}
	} else if got, err = t.encode(ctx, wavPath, out, f, w.Duration()); err != nil {
		return File{}, err
	}
	// The output is durable under its final name; only now drop the WAV.
	if err := os.Remove(wavPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return File{}, err
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return File{}, err
	}
	res, err := Inspect(out)
	res.Duration = got
	return res, err
}

// encode runs ffmpeg into a temp file next to out, verifies it, makes it
// durable and links it to out (a link never replaces an existing file).
func (t Transcoder) encode(ctx context.Context, wavPath, out string, f recording.Format, want time.Duration) (time.Duration, error) {
	args, _ := t.codecArgs(f)
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(out)+".*")
	if err != nil {
		return 0, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-i", wavPath, "-vn", "-map_metadata", "-1"}, args...)
	if _, err := t.run(ctx, t.ffmpeg(), append(cmd, tmp.Name())...); err != nil {
		return 0, err
	}
	got, err := t.verify(ctx, tmp.Name(), f, want)
	if err != nil {
		return 0, err
	}
	if err := fsyncFile(tmp.Name()); err != nil {
		return 0, err
	}
	if err := os.Link(tmp.Name(), out); err != nil {
		return 0, err
	}
	return got, syncDir(dir)
}

// verify checks a transcoded file before the WAV is let go.
func (t Transcoder) verify(ctx context.Context, path string, f recording.Format, want time.Duration) (time.Duration, error) {
	head := make([]byte, 10)
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	n, _ := fh.Read(head)
	fh.Close()
	head = head[:n]
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: %s is empty", ErrVerify, path)
	case f == recording.AMR && !bytes.HasPrefix(head, []byte("#!AMR\n")),
		f == recording.MP3 && !bytes.HasPrefix(head, []byte("ID3")) && !(n >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0):
		return 0, fmt.Errorf("%w: %s: bad magic % x", ErrVerify, path, head)
	}
	got, err := t.Decode(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrVerify, err)
	}
	// Codecs round up to whole frames (AMR 20 ms, MP3 72 ms at 8 kHz);
	// anything beyond that is lost audio, however long the call.
	const tol = 250 * time.Millisecond
	if d := got - want; d > tol || d < -tol {
		return got, fmt.Errorf("%w: %s lasts %v, the WAV %v", ErrVerify, path, got, want)
	}
	return got, nil
}

// Decode decodes the whole file with ffmpeg and returns its audio duration.
// It fails if the file does not decode. Header-based durations (ffprobe's
// format=duration) are estimates: +200 ms on an 8 kHz MP3 from encoder
// padding, and for AMR a guess from the bitrate that is 3% off on a minute.
func (t Transcoder) Decode(ctx context.Context, path string) (time.Duration, error) {
	out, err := t.run(ctx, t.ffmpeg(), "-nostdin", "-v", "error", "-i", path,
		"-map", "0:a:0", "-f", "null", "-progress", "pipe:1", "-")
	if err != nil {
		return 0, err
	}
	// -progress prints key=value blocks; the last out_time_us is the total.
	us := int64(-1)
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "out_time_us="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				us = n
			}
		}
	}
	if us < 0 {
		return 0, fmt.Errorf("media: ffmpeg %s: no duration in progress output", path)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// run executes a tool with a timeout and returns stdout; on failure the
// error carries the tool's stderr, which is where ffmpeg says what went wrong.
func (t Transcoder) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, orDefaultDur(t.Timeout, 10*time.Minute))
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case !errors.As(err, &exit):
			err = fmt.Errorf("%w: %v", ErrTools, err) // it did not even start
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("media: %s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

func orDefaultDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func fsyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
