package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// WAV is a decoded 16-bit PCM WAV file (what Asterisk writes for format=wav: mono,
// 8 kHz, signed linear).
type WAV struct {
	SampleRate    int
	Channels      int
	BitsPerSample int
	// HeaderDataSize is the data chunk size the header claims; Asterisk fixes it up when
	// the recording ends, so a mismatch with len(Samples)*2 means the file is still open
	// or was not finished.
	HeaderDataSize uint32
	Samples        []int16 // interleaved if Channels > 1
}

// ReadWAV reads a RIFF/WAVE 16-bit PCM file.
func ReadWAV(path string) (*WAV, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, err := ParseWAV(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// ParseWAV decodes a RIFF/WAVE 16-bit PCM file held in memory.
func ParseWAV(b []byte) (*WAV, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF/WAVE file")
	}
	w := &WAV{}
	haveFmt := false
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := binary.LittleEndian.Uint32(b[off+4 : off+8])
		body := off + 8
		switch id {
		case "fmt ":
			if body+16 > len(b) {
				return nil, errors.New("short fmt chunk")
			}
			if f := binary.LittleEndian.Uint16(b[body:]); f != 1 {
				return nil, fmt.Errorf("audio format %d, want 1 (PCM)", f)
			}
			w.Channels = int(binary.LittleEndian.Uint16(b[body+2:]))
			w.SampleRate = int(binary.LittleEndian.Uint32(b[body+4:]))
			w.BitsPerSample = int(binary.LittleEndian.Uint16(b[body+14:]))
			if w.BitsPerSample != 16 || w.Channels < 1 || w.SampleRate <= 0 {
				return nil, fmt.Errorf("unsupported WAV: %d channels, %d Hz, %d bits", w.Channels, w.SampleRate, w.BitsPerSample)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("data chunk before fmt chunk")
			}
			w.HeaderDataSize = size
			end := len(b) // take what is there, even if the header is not fixed up yet
			if size > 0 && uint64(body)+uint64(size) <= uint64(len(b)) {
				end = body + int(size)
			}
			n := (end - body) / 2
			w.Samples = make([]int16, n)
			for i := range n {
				w.Samples[i] = int16(binary.LittleEndian.Uint16(b[body+2*i:]))
			}
			return w, nil
		}
		off = body + int(size) + int(size&1)
	}
	return nil, errors.New("no data chunk")
}

// Duration is the audio length.
func (w *WAV) Duration() time.Duration {
	frames := len(w.Samples) / w.Channels
	return time.Duration(frames) * time.Second / time.Duration(w.SampleRate)
}

// Complete reports whether the header's data size matches the samples present.
func (w *WAV) Complete() bool { return int(w.HeaderDataSize) == 2*len(w.Samples) }

// Mono returns the first channel's samples.
func (w *WAV) Mono() []int16 {
	if w.Channels == 1 {
		return w.Samples
	}
	out := make([]int16, len(w.Samples)/w.Channels)
	for i := range out {
		out[i] = w.Samples[i*w.Channels]
	}
	return out
}

// Tones runs DetectTones over the file with the defaults (100 ms windows).
func (w *WAV) Tones(freqs ...int) ToneReport {
	return DetectTones(w.Mono(), w.SampleRate, freqs, ToneOptions{})
}

// Goertzel returns the share of the window's energy at freq (0..1): 1 for a pure tone at
// freq, about 1/k for k equally loud tones, ~0 when freq is absent.
func Goertzel(samples []int16, sampleRate int, freq float64) float64 {
	n := len(samples)
	if n == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(sampleRate)
	coeff := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range samples {
		x := float64(v)
		energy += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if energy == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return power / (float64(n) / 2 * energy)
}

// ToneOptions tunes DetectTones; zero values take the defaults.
type ToneOptions struct {
	Window    time.Duration // analysis window (default 100 ms)
	Threshold float64       // energy share for "present" (default 0.1)
	MinRMS    float64       // windows quieter than this are silence (default 100 of 32768)
}

// ToneReport says in how many analysis windows each frequency was present.
type ToneReport struct {
	Window  time.Duration
	Windows int         // analysed windows
	Silent  int         // windows below MinRMS
	Present map[int]int // Hz -> windows where the tone was present
}

// Fraction is the share of all windows in which freq was present.
func (r ToneReport) Fraction(freq int) float64 {
	if r.Windows == 0 {
		return 0
	}
	return float64(r.Present[freq]) / float64(r.Windows)
}

// Seconds is how long freq was present.
func (r ToneReport) Seconds(freq int) float64 {
	return float64(r.Present[freq]) * r.Window.Seconds()
}

func (r ToneReport) String() string {
	s := fmt.Sprintf("%d windows of %v (%d silent):", r.Windows, r.Window, r.Silent)
	for f, n := range r.Present {
		s += fmt.Sprintf(" %d Hz %.0f%%", f, 100*float64(n)/math.Max(1, float64(r.Windows)))
	}
	return s
}

// DetectTones finds which of freqs (the parties' tones, see DefaultTones) are audible in
// each window of mono samples.
func DetectTones(samples []int16, sampleRate int, freqs []int, o ToneOptions) ToneReport {
	if o.Window <= 0 {
		o.Window = 100 * time.Millisecond
	}
	if o.Threshold <= 0 {
		o.Threshold = 0.1
	}
	if o.MinRMS <= 0 {
		o.MinRMS = 100
	}
	r := ToneReport{Window: o.Window, Present: map[int]int{}}
	for _, f := range freqs {
		r.Present[f] = 0
	}
	n := int(o.Window.Seconds() * float64(sampleRate))
	if n <= 0 {
		return r
	}
	for off := 0; off+n <= len(samples); off += n {
		win := samples[off : off+n]
		r.Windows++
		var e float64
		for _, v := range win {
			e += float64(v) * float64(v)
		}
		if math.Sqrt(e/float64(n)) < o.MinRMS {
			r.Silent++
			continue
		}
		for _, f := range freqs {
			if Goertzel(win, sampleRate, float64(f)) >= o.Threshold {
				r.Present[f]++
			}
		}
	}
	return r
}
