package lab

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"
)

func sine(rate int, d time.Duration, amp float64, freqs ...float64) []int16 {
	n := int(d.Seconds() * float64(rate))
	out := make([]int16, n)
	for i := range out {
		var v float64
		for _, f := range freqs {
			v += amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate))
		}
		out[i] = int16(v)
	}
	return out
}

func wavBytes(rate int, samples []int16, dataSize int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+2*len(samples)))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, uint32(16))
	_ = binary.Write(&b, le, uint16(1))
	_ = binary.Write(&b, le, uint16(1))
	_ = binary.Write(&b, le, uint32(rate))
	_ = binary.Write(&b, le, uint32(rate*2))
	_ = binary.Write(&b, le, uint16(2))
	_ = binary.Write(&b, le, uint16(16))
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(dataSize))
	_ = binary.Write(&b, le, samples)
	return b.Bytes()
}

func TestParseWAVAndTones(t *testing.T) {
	// 1 s of 400+600 Hz, 0.5 s of silence, 1 s of 600 Hz only
	s := sine(8000, time.Second, 4000, 400, 600)
	s = append(s, make([]int16, 4000)...)
	s = append(s, sine(8000, time.Second, 4000, 600)...)
	w, err := ParseWAV(wavBytes(8000, s, 2*len(s)))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Duration(); got != 2500*time.Millisecond {
		t.Fatalf("duration %v, want 2.5s", got)
	}
	if !w.Complete() {
		t.Fatal("header data size should match")
	}
	r := w.Tones(400, 600, 800)
	t.Log(r)
	if r.Windows != 25 || r.Silent != 5 {
		t.Fatalf("windows %d silent %d, want 25/5", r.Windows, r.Silent)
	}
	if r.Present[400] != 10 || r.Present[600] != 20 || r.Present[800] != 0 {
		t.Fatalf("present %v, want 400:10 600:20 800:0", r.Present)
	}
	if math.Abs(r.Seconds(600)-2) > 1e-9 {
		t.Fatalf("600 Hz for %v s, want 2", r.Seconds(600))
	}
}

func TestParseWAVUnfinishedHeader(t *testing.T) {
	// a recording still being written: Asterisk's header says 0 data bytes
	s := sine(8000, 300*time.Millisecond, 1000, 1000)
	w, err := ParseWAV(wavBytes(8000, s, 0))
	if err != nil {
		t.Fatal(err)
	}
	if w.Complete() || len(w.Samples) != len(s) {
		t.Fatalf("complete=%v samples=%d", w.Complete(), len(w.Samples))
	}
	if _, err := ParseWAV([]byte("RIFF....WAVX")); err == nil {
		t.Fatal("want an error for a non-WAVE file")
	}
}

func TestGoertzel(t *testing.T) {
	s := sine(8000, 100*time.Millisecond, 3000, 1000)
	if g := Goertzel(s, 8000, 1000); g < 0.95 || g > 1.05 {
		t.Fatalf("pure tone share %v, want ~1", g)
	}
	if g := Goertzel(s, 8000, 1400); g > 0.01 {
		t.Fatalf("absent tone share %v, want ~0", g)
	}
}
