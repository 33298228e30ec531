package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/recording"
	"golang.org/x/sync/singleflight"
)

// What a browser needs of a recording besides its bytes: peaks to draw
// (Waveform) and a copy in a format it can play (PlayableMP3, kept in a
// PlayableCache: no browser plays AMR).

// DefaultBuckets is the waveform resolution the API serves by default:
// about one bar per pixel of a page-wide player.
const DefaultBuckets = 600

// Waveform is a recording's length and, for each of len(Peaks) equal slices
// of it, the largest |sample| of any channel, 0 (silence) to 1 (full scale).
type Waveform struct {
	Duration time.Duration
	Peaks    []float64
}

// decodeRate is the rate ffmpeg decodes to for peaks: telephone audio has
// nothing above 4 kHz worth drawing, and a fixed rate turns the sample
// count into the exact duration.
const decodeRate = 8000

// Waveform computes the peaks of the file at path in n buckets, streaming
// (memory is O(n) whatever the length): a PCM WAV is read directly, any
// other file (MP3, AMR, a non-PCM WAV) is decoded by ffmpeg to 8 kHz mono
// PCM through a pipe.
func (t Transcoder) Waveform(ctx context.Context, path string, n int) (Waveform, error) {
	if n < 1 {
		return Waveform{}, fmt.Errorf("media: waveform of %d buckets", n)
	}
	w, err := wavWaveform(path, n)
	if errors.Is(err, ErrNotWAV) || errors.Is(err, ErrUnsupported) {
		return t.decodedWaveform(ctx, path, n)
	}
	return w, err
}

func wavWaveform(path string, n int) (Waveform, error) {
	f, err := os.Open(path)
	if err != nil {
		return Waveform{}, err
	}
	defer f.Close()
	// ParseWAV reads to the end to find the real data length (a crashed
	// file's header says 0); the samples are then read in a second pass.
	info, err := ParseWAV(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return Waveform{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(info.DataOffset, io.SeekStart); err != nil {
		return Waveform{}, err
	}
	p := newPeaks(n)
	if err := p.readPCM(io.LimitReader(f, info.DataSize), info.Channels, info.BitsPerSample); err != nil {
		return Waveform{}, fmt.Errorf("%s: %w", path, err)
	}
	return Waveform{Duration: info.Duration(), Peaks: p.result()}, nil
}

func (t Transcoder) decodedWaveform(ctx context.Context, path string, n int) (Waveform, error) {
	ctx, cancel := context.WithTimeout(ctx, orDefaultDur(t.Timeout, 10*time.Minute))
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, t.ffmpeg(), "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0",
		"-ac", "1", "-ar", fmt.Sprint(decodeRate), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1")
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Waveform{}, err
	}
	if err := cmd.Start(); err != nil {
		return Waveform{}, fmt.Errorf("media: %w: %v", ErrTools, err)
	}
	p := newPeaks(n)
	rerr := p.readPCM(out, 1, 16)
	if rerr != nil {
		_, _ = io.Copy(io.Discard, out) // let ffmpeg finish rather than block on a full pipe
	}
	werr := cmd.Wait()
	if werr != nil || rerr != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		if ctx.Err() != nil {
			werr = ctx.Err()
		}
		return Waveform{}, fmt.Errorf("media: ffmpeg decode %s: %w %s", path, errors.Join(werr, rerr), msg)
	}
	frames := p.seen
	d := time.Duration(frames/decodeRate)*time.Second + time.Duration(frames%decodeRate)*time.Second/decodeRate
	return Waveform{Duration: d, Peaks: p.result()}, nil
}

// peaks folds a stream of frame amplitudes into n buckets without knowing
// the length in advance (a decoder's pipe does not say): frames go into at
// most 8n blocks; when they are all full, neighbours merge and a block
// holds twice as many frames (so a block is at most a quarter of a
// bucket). result resamples the blocks to n buckets.
type peaks struct {
	n      int
	blocks []float64
	block  int64 // frames per block
	fill   int64 // frames in the last block
	seen   int64 // frames in all
}

func newPeaks(n int) *peaks {
	return &peaks{n: n, blocks: make([]float64, 0, 8*n), block: 1}
}

func (p *peaks) add(v float64) {
	if p.fill == 0 {
		if len(p.blocks) == cap(p.blocks) {
			half := len(p.blocks) / 2
			for i := range half {
				p.blocks[i] = max(p.blocks[2*i], p.blocks[2*i+1])
			}
			p.blocks = p.blocks[:half]
			p.block *= 2
		}
		p.blocks = append(p.blocks, 0)
	}
	if last := &p.blocks[len(p.blocks)-1]; v > *last {
		*last = v
	}
	p.seen++
	if p.fill++; p.fill == p.block {
		p.fill = 0
	}
}

// result gives each block to the bucket holding its middle frame (a peak
// lands at most half a block, an eighth of a bucket, off; never in two
// buckets). A bucket no block's middle falls in (a file shorter than 4n
// frames) takes the block under its own middle, so there are no gaps.
func (p *peaks) result() []float64 {
	out := make([]float64, p.n)
	if len(p.blocks) == 0 {
		return out
	}
	total, n := p.seen, int64(p.n)
	filled := make([]bool, n)
	for i, v := range p.blocks {
		mid := min(int64(i)*p.block+p.block/2, total-1)
		j := mid * n / total
		out[j], filled[j] = max(out[j], v), true
	}
	for j := range n {
		if !filled[j] {
			out[j] = p.blocks[min((2*j+1)*total/(2*n)/p.block, int64(len(p.blocks))-1)]
		}
	}
	return out
}

// readPCM adds every frame of interleaved little-endian PCM (8-bit
// unsigned, 16/24/32-bit signed, as WAV stores them), the loudest channel
// of each, scaled by full scale. A trailing partial frame is ignored.
func (p *peaks) readPCM(r io.Reader, channels, bits int) error {
	width := bits / 8
	frame := channels * width
	buf := make([]byte, (32<<10)/frame*frame)
	full := float64(int64(1) << (bits - 1))
	for {
		m, err := io.ReadFull(r, buf)
		for off := 0; off+frame <= m; off += frame {
			var peak int64
			for c := range channels {
				b := buf[off+c*width:]
				var v int64
				switch width {
				case 1:
					v = int64(b[0]) - 128
				case 2:
					v = int64(int16(binary.LittleEndian.Uint16(b)))
				case 3:
					v = int64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8)
				case 4:
					v = int64(int32(binary.LittleEndian.Uint32(b)))
				}
				peak = max(peak, v, -v)
			}
			p.add(min(float64(peak)/full, 1))
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return err
		}
	}
}

// PlayableMP3 writes an MP3 copy of src (any audio ffmpeg reads; AMR is
// the case) to dst. ffmpeg writes a temp name next to dst; the copy must
// decode completely to src's length (Transcode's check) before it is
// renamed to dst, so a reader of dst never sees half a file.
func (t Transcoder) PlayableMP3(ctx context.Context, src, dst string) error {
	want, err := t.Decode(ctx, src)
	if err != nil {
		return err
	}
	args, _ := t.codecArgs(recording.MP3)
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // no-op once renamed
	cmd := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-i", src, "-vn", "-map_metadata", "-1"}, args...)
	if _, err := t.run(ctx, t.ffmpeg(), append(cmd, tmp.Name())...); err != nil {
		return err
	}
	if _, err := t.verify(ctx, tmp.Name(), recording.MP3, want); err != nil {
		return err
	}
	if err := fsyncFile(tmp.Name()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return syncDir(dir)
}

// PlayableCache keeps MP3 copies of recordings (AMR) in Dir, one per
// recording and version of its file. The zero value with Dir set is ready.
type PlayableCache struct {
	Dir        string
	Transcoder Transcoder
	// Keep: a copy older than this is removed by Sweep (and made again when
	// next asked for), so copies nobody plays go away; 0 = 7 days.
	Keep time.Duration

	flight     singleflight.Group
	transcodes atomic.Int64
	mu         sync.Mutex
	cursor     string // the next Sweep starts after this name
}

// Transcodes counts the copies made since start.
func (pc *PlayableCache) Transcodes() int64 { return pc.transcodes.Load() }

// copyPath names a copy by its recording and the source's size and mtime:
// a changed source is a new name, never a stale copy.
func (pc *PlayableCache) copyPath(uuid string, st os.FileInfo) string {
	return filepath.Join(pc.Dir, uuid+"-"+strconv.FormatInt(st.Size(), 36)+"-"+
		strconv.FormatInt(st.ModTime().UnixNano(), 36)+".mp3")
}

// Open opens the MP3 copy of recording uuid, whose file is src (st its
// stat), transcoding it first if the cache lacks it: once, however many ask
// meanwhile, and not cancelled by one of them leaving.
func (pc *PlayableCache) Open(ctx context.Context, uuid, src string, st os.FileInfo) (*os.File, error) {
	if err := recording.ValidateUUID(uuid); err != nil {
		return nil, err
	}
	dst := pc.copyPath(uuid, st)
	if f, err := os.Open(dst); !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	_, err, _ := pc.flight.Do(dst, func() (any, error) {
		if _, err := os.Stat(dst); err == nil {
			return nil, nil // made by the flight that ended as this one began
		}
		if err := os.MkdirAll(pc.Dir, 0o750); err != nil {
			return nil, err
		}
		pc.transcodes.Add(1)
		if err := pc.Transcoder.PlayableMP3(context.WithoutCancel(ctx), src, dst); err != nil {
			return nil, err
		}
		old, _ := filepath.Glob(filepath.Join(pc.Dir, uuid+"-*.mp3"))
		for _, o := range old {
			if o != dst {
				_ = os.Remove(o) // a copy of the file as it was before
			}
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return os.Open(dst)
}

// Sweep looks at up to batch files, after where the last Sweep stopped (so
// every file is seen in turn, however many there are, and a call costs at
// most batch lookups), and removes copies older than Keep, copies whose
// recording gone says is gone, and temp files a crash left. Other files
// are left alone.
func (pc *PlayableCache) Sweep(now time.Time, batch int, gone func(uuid string) bool) (removed int, err error) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	entries, err := os.ReadDir(pc.Dir) // sorted: the cursor is a name
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	keep := orDefaultDur(pc.Keep, 7*24*time.Hour)
	i := sort.Search(len(entries), func(i int) bool { return entries[i].Name() > pc.cursor })
	for n := 0; n < batch && i < len(entries); i, n = i+1, n+1 {
		name := entries[i].Name()
		pc.cursor = name
		info, err := entries[i].Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		age := now.Sub(info.ModTime())
		var evict bool
		switch {
		case IsTempName(name):
			evict = age > time.Hour // a running transcode's is younger: ffmpeg times out sooner
		case len(name) < 38 || name[36] != '-' || !strings.HasSuffix(name, ".mp3") || recording.ValidateUUID(name[:36]) != nil:
			continue // not a copy
		default:
			evict = age > keep || gone(name[:36])
		}
		if !evict {
			continue
		}
		if err := os.Remove(filepath.Join(pc.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed++
	}
	if i >= len(entries) {
		pc.cursor = "" // the next Sweep starts over
	}
	return removed, nil
}
