package media

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// tone returns interleaved 16-bit samples of a sine at freq Hz (a slightly
// different frequency per channel, so stereo is really stereo).
func tone(rate, channels int, d time.Duration, freq float64) []int16 {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	s := make([]int16, 0, n*channels)
	for i := range n {
		for c := range channels {
			f := freq * (1 + 0.25*float64(c))
			s = append(s, int16(8000*math.Sin(2*math.Pi*f*float64(i)/float64(rate))))
		}
	}
	return s
}

// speechLike is a mono signal with the rough shape of a phone conversation:
// voiced "syllables" (a 100-250 Hz fundamental with harmonics, rising and
// falling envelope) separated by short pauses, over line noise. Lossy codecs
// size it much like real speech, unlike a pure tone or white noise.
func speechLike(rate int, d time.Duration, seed uint64) []int16 {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := int(int64(rate) * int64(d) / int64(time.Second))
	s := make([]int16, n)
	for i := 0; i < n; {
		syl := rate * (120 + rnd.IntN(200)) / 1000 // 120-320 ms
		f0 := 100 + 150*rnd.Float64()
		for j := 0; j < syl && i < n; j, i = j+1, i+1 {
			t := float64(j) / float64(rate)
			env := math.Sin(math.Pi * float64(j) / float64(syl))
			v := 0.0
			for h := 1.0; h <= 12 && h*f0 < float64(rate)/2; h++ {
				v += math.Sin(2*math.Pi*h*f0*(1+0.05*t)*t) / h
			}
			s[i] = int16(5000*env*v + 300*rnd.NormFloat64())
		}
		pause := rate * rnd.IntN(250) / 1000
		for j := 0; j < pause && i < n; j, i = j+1, i+1 {
			s[i] = int16(300 * rnd.NormFloat64())
		}
	}
	return s
}

func wavBytes(t testing.TB, rate, channels int, samples []int16) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WritePCM16(&b, rate, channels, samples); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	toolsOnce sync.Once
	toolsErr  error
)

// requireFFmpeg fails (never skips) so a machine without the tools cannot
// pass the suite by accident.
func requireFFmpeg(t testing.TB) {
	t.Helper()
	toolsOnce.Do(func() { toolsErr = Transcoder{}.Check(context.Background()) })
	if toolsErr != nil {
		t.Fatalf("ffmpeg with libmp3lame and libopencore_amrnb is required: run scripts/install-media-deps\n%v", toolsErr)
	}
}
