package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// WAV errors.
var (
	ErrNotWAV      = errors.New("media: not a RIFF/WAVE file")
	ErrUnsupported = errors.New("media: unsupported WAV encoding")
	ErrCorruptWAV  = errors.New("media: corrupt WAV")
)

// Chunk is one RIFF chunk as found in the file.
type Chunk struct {
	ID       string
	Offset   int64 // of the 8-byte chunk header
	Declared uint32
	Size     int64 // payload bytes actually present
}

// WAVInfo describes a PCM WAV file as it is on disk, including where its
// header disagrees with its content (a recording cut short by a crash).
type WAVInfo struct {
	Channels      int
	SampleRate    int
	BitsPerSample int
	BlockAlign    int // bytes per frame (all channels)

	DataOffset   int64  // first audio byte
	DataSize     int64  // audio bytes present, whole frames only
	DeclaredData uint32 // data chunk size in the header
	DeclaredRIFF uint32 // RIFF size in the header
	FileSize     int64
	Chunks       []Chunk

	trailing bool // bytes after the last chunk that are not a whole chunk
}

// Duration is the audio length from the data actually present, so a crashed
// file whose header still says 0 reports its real length.
func (w *WAVInfo) Duration() time.Duration {
	frames := w.DataSize / int64(w.BlockAlign)
	rate := int64(w.SampleRate)
	return time.Duration(frames/rate)*time.Second + time.Duration(frames%rate)*time.Second/time.Duration(rate)
}

// NeedsRepair reports whether the header lengths disagree with the file.
func (w *WAVInfo) NeedsRepair() bool {
	if w.trailing || int64(w.DeclaredData) != w.DataSize || int64(w.DeclaredRIFF) != w.FileSize-8 {
		return true
	}
	for _, c := range w.Chunks {
		if int64(c.Declared) != c.Size {
			return true
		}
	}
	return false
}

// countingReader tracks the offset so the parser can stream (and a caller can
// hash the same bytes through a TeeReader in one pass).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) skip(n int64) int64 {
	m, _ := io.CopyN(io.Discard, c, n)
	return m
}

// unfinalized is the data size a writer leaves while still recording: 0
// (Asterisk, sox) or 0xFFFFFFFF (streaming writers).
func unfinalized(size uint32) bool { return size == 0 || size == math.MaxUint32 }

// ParseWAV reads a whole RIFF/WAVE stream (reading to EOF so it can see how
// much data is really there). Unknown chunks such as LIST are skipped. It
// never allocates according to sizes read from the file.
func ParseWAV(r io.Reader) (*WAVInfo, error) {
	cr := &countingReader{r: r}
	var hdr [12]byte
	if _, err := io.ReadFull(cr, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %d-byte file", ErrNotWAV, cr.n)
	}
	if string(hdr[0:4]) == "RF64" {
		return nil, fmt.Errorf("%w: RF64", ErrUnsupported)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, ErrNotWAV
	}
	w := &WAVInfo{DeclaredRIFF: binary.LittleEndian.Uint32(hdr[4:8])}
	haveFmt, haveData := false, false
	for {
		var ch [8]byte
		off := cr.n
		n, err := io.ReadFull(cr, ch[:])
		if n == 0 && err == io.EOF {
			break
		}
		if err != nil {
			w.trailing = true // a crash cut inside a chunk header
			break
		}
		c := Chunk{ID: string(ch[0:4]), Offset: off, Declared: binary.LittleEndian.Uint32(ch[4:8])}
		switch {
		case c.ID == "fmt " && !haveFmt:
			var f [40]byte
			m := min(int64(c.Declared), int64(len(f)))
			got, _ := io.ReadFull(cr, f[:m])
			c.Size = int64(got) + cr.skip(int64(c.Declared)-m)
			if c.Declared < 16 || got < 16 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrCorruptWAV, c.Declared)
			}
			if err := w.setFormat(f[:got]); err != nil {
				return nil, err
			}
			haveFmt = true
		case c.ID == "data" && !haveData:
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt", ErrCorruptWAV)
			}
			haveData = true
			w.DataOffset, w.DeclaredData = cr.n, c.Declared
			if unfinalized(c.Declared) {
				// Still being written when the writer died: the rest of
				// the file is audio.
				c.Size = cr.skip(math.MaxInt64)
			} else {
				c.Size = cr.skip(int64(c.Declared))
			}
			w.DataSize = c.Size - c.Size%int64(w.BlockAlign)
		default:
			c.Size = cr.skip(int64(c.Declared))
		}
		w.Chunks = append(w.Chunks, c)
		if c.Size < int64(c.Declared) || (c.ID == "data" && unfinalized(c.Declared)) {
			break // ran into EOF
		}
		if c.Declared%2 == 1 {
			cr.skip(1) // RIFF pads chunks to even length; a missing pad is harmless
		}
	}
	w.FileSize = cr.n
	if !haveFmt {
		return nil, fmt.Errorf("%w: no fmt chunk", ErrCorruptWAV)
	}
	if !haveData {
		return nil, fmt.Errorf("%w: no data chunk", ErrCorruptWAV)
	}
	return w, nil
}

func (w *WAVInfo) setFormat(f []byte) error {
	tag := binary.LittleEndian.Uint16(f[0:2])
	w.Channels = int(binary.LittleEndian.Uint16(f[2:4]))
	w.SampleRate = int(binary.LittleEndian.Uint32(f[4:8]))
	w.BlockAlign = int(binary.LittleEndian.Uint16(f[12:14]))
	w.BitsPerSample = int(binary.LittleEndian.Uint16(f[14:16]))
	if tag == 0xFFFE && len(f) >= 26 { // WAVE_FORMAT_EXTENSIBLE: subformat GUID starts at 24
		tag = binary.LittleEndian.Uint16(f[24:26])
	}
	if tag != 1 {
		return fmt.Errorf("%w: format tag %#x (only PCM)", ErrUnsupported, tag)
	}
	switch w.BitsPerSample {
	case 8, 16, 24, 32:
	default:
		return fmt.Errorf("%w: %d bits per sample", ErrUnsupported, w.BitsPerSample)
	}
	if w.Channels < 1 || w.SampleRate < 1 || w.BlockAlign != w.Channels*w.BitsPerSample/8 {
		return fmt.Errorf("%w: %d channels, %d Hz, block align %d", ErrCorruptWAV, w.Channels, w.SampleRate, w.BlockAlign)
	}
	return nil
}

// InspectWAV parses the WAV file at path.
func InspectWAV(path string) (*WAVInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w, err := ParseWAV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// RepairWAV fixes the header lengths of a WAV file left by a crash so that
// players and ffmpeg see all of its audio. It rewrites the file to a temp name
// in the same directory and renames it over the original, so a crash during
// repair leaves the original untouched. Chunks after the audio that were cut
// short, and a trailing partial frame, are dropped. It reports whether it
// changed anything.
func RepairWAV(path string) (*WAVInfo, bool, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer src.Close()
	w, err := ParseWAV(src)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	if !w.NeedsRepair() {
		return w, false, nil
	}
	st, err := src.Stat()
	if err != nil {
		return nil, false, err
	}
	err = writeAtomic(path, st.Mode().Perm(), func(dst io.Writer) error {
		return writeRepaired(dst, src, w)
	})
	if err != nil {
		return nil, false, err
	}
	fixed, err := InspectWAV(path)
	return fixed, err == nil, err
}

// writeRepaired writes a consistent copy of the WAV described by w.
func writeRepaired(dst io.Writer, src io.ReaderAt, w *WAVInfo) error {
	type part struct {
		id      string
		from, n int64
	}
	var parts []part
	riff := int64(4) // "WAVE"
	for _, c := range w.Chunks {
		p := part{id: c.ID, from: c.Offset + 8, n: c.Size}
		if c.ID == "data" && c.Offset+8 == w.DataOffset {
			p.n = w.DataSize
			if p.n == 0 {
				// An empty data chunk must be last: a parser reads size 0
				// as "never finalized" and takes what follows as audio.
				parts = append(parts, p)
				riff += 8
				break
			}
		} else if c.Size < int64(c.Declared) {
			continue // cut short: unusable
		}
		parts = append(parts, p)
		riff += 8 + p.n + p.n%2
	}
	if riff > math.MaxUint32 {
		return fmt.Errorf("%w: larger than 4 GiB", ErrUnsupported)
	}
	hdr := make([]byte, 0, 12)
	hdr = append(hdr, "RIFF"...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(riff))
	hdr = append(hdr, "WAVE"...)
	if _, err := dst.Write(hdr); err != nil {
		return err
	}
	for _, p := range parts {
		ch := binary.LittleEndian.AppendUint32([]byte(p.id), uint32(p.n))
		if _, err := dst.Write(ch); err != nil {
			return err
		}
		if _, err := io.Copy(dst, io.NewSectionReader(src, p.from, p.n)); err != nil {
			return err
		}
		if p.n%2 == 1 {
			if _, err := dst.Write([]byte{0}); err != nil {
				return err
			}
		}
	}
	return nil
}

// WritePCM16 writes a 16-bit PCM WAV (the format Asterisk records in) with
// interleaved samples. Used to generate real files for tests and fixtures.
func WritePCM16(dst io.Writer, rate, channels int, samples []int16) error {
	data := 2 * len(samples)
	b := make([]byte, 0, 44+data)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+data))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1) // PCM
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*2))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*2))
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(data))
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	_, err := dst.Write(b)
	return err
}

// writeAtomic replaces path with what fill writes: temp file in the same
// directory, fsync, rename, fsync the directory.
func writeAtomic(path string, perm os.FileMode, fill func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, tempPrefix+base+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
