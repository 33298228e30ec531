package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseWAVGenerated(t *testing.T) {
	for _, tc := range []struct {
		name           string
		rate, channels int
		d              time.Duration
	}{
		{"asterisk 8k mono", 8000, 1, 3 * time.Second},
		{"48k stereo", 48000, 2, 1500 * time.Millisecond},
		{"16k mono", 16000, 1, 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := wavBytes(t, tc.rate, tc.channels, tone(tc.rate, tc.channels, tc.d, 440))
			w, err := ParseWAV(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if w.Channels != tc.channels || w.SampleRate != tc.rate || w.BitsPerSample != 16 {
				t.Fatalf("format %+v", w)
			}
			if w.Duration() != tc.d || w.DataOffset != 44 || w.FileSize != int64(len(b)) || w.NeedsRepair() {
				t.Fatalf("duration %v offset %d size %d repair %v", w.Duration(), w.DataOffset, w.FileSize, w.NeedsRepair())
			}
		})
	}
}

// rawWAV assembles a WAV from chunks, with correct sizes.
func rawWAV(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

func chunk(id string, payload []byte) []byte {
	b := append(binary.LittleEndian.AppendUint32([]byte(id), uint32(len(payload))), payload...)
	if len(payload)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func fmtPayload(tag uint16, channels, rate, bits int) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))
	return binary.LittleEndian.AppendUint16(b, uint16(bits))
}

func TestParseWAVChunks(t *testing.T) {
	list := chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00Lavf\x00")) // odd size: padded
	pcm8 := bytes.Repeat([]byte{0x80, 0x90, 0x70}, 2667)              // 8001 bytes: odd data
	ext := append(fmtPayload(0xFFFE, 1, 8000, 16), 22, 0, 16, 0, 4, 0, 0, 0, 1, 0)
	ext = append(ext, make([]byte, 14)...) // rest of the subformat GUID

	for _, tc := range []struct {
		name string
		b    []byte
		dur  time.Duration
	}{
		{"LIST before data", rawWAV(chunk("fmt ", fmtPayload(1, 1, 8000, 16)), list, chunk("data", make([]byte, 16000))), time.Second},
		{"LIST after data", rawWAV(chunk("fmt ", fmtPayload(1, 1, 8000, 16)), chunk("data", make([]byte, 16000)), list), time.Second},
		{"8-bit odd length", rawWAV(chunk("fmt ", fmtPayload(1, 1, 8000, 8)), chunk("data", pcm8), list), 1000125 * time.Microsecond},
		{"extensible PCM", rawWAV(chunk("fmt ", ext), chunk("data", make([]byte, 8000))), 500 * time.Millisecond},
		{"fmt with extra bytes", rawWAV(chunk("fmt ", append(fmtPayload(1, 2, 8000, 16), 0, 0)), chunk("data", make([]byte, 32000))), time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWAV(bytes.NewReader(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			if w.Duration() != tc.dur || w.NeedsRepair() {
				t.Fatalf("duration %v, needs repair %v, %+v", w.Duration(), w.NeedsRepair(), w)
			}
		})
	}
}

func TestParseWAVRejects(t *testing.T) {
	good := wavBytes(t, 8000, 1, tone(8000, 1, 100*time.Millisecond, 440))
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrNotWAV},
		{"text", []byte("this is not a recording, just some text\n"), ErrNotWAV},
		{"mp3", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), make([]byte, 100)...), ErrNotWAV},
		{"amr", []byte("#!AMR\n\x3c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotWAV},
		{"AVI", append(append([]byte("RIFF"), good[4:8]...), append([]byte("AVI "), good[12:]...)...), ErrNotWAV},
		{"RF64", append([]byte("RF64"), good[4:]...), ErrUnsupported},
		{"gsm wav49", rawWAV(chunk("fmt ", fmtPayload(0x31, 1, 8000, 0)), chunk("data", make([]byte, 65))), ErrUnsupported},
		{"float", rawWAV(chunk("fmt ", fmtPayload(3, 1, 8000, 32)), chunk("data", make([]byte, 64))), ErrUnsupported},
		{"12-bit", rawWAV(chunk("fmt ", fmtPayload(1, 1, 8000, 12)), chunk("data", make([]byte, 64))), ErrUnsupported},
		{"zero channels", rawWAV(chunk("fmt ", fmtPayload(1, 0, 8000, 16)), chunk("data", nil)), ErrCorruptWAV},
		{"zero rate", rawWAV(chunk("fmt ", fmtPayload(1, 1, 0, 16)), chunk("data", nil)), ErrCorruptWAV},
		{"short fmt", rawWAV(chunk("fmt ", make([]byte, 8)), chunk("data", nil)), ErrCorruptWAV},
		{"data before fmt", rawWAV(chunk("data", make([]byte, 8)), chunk("fmt ", fmtPayload(1, 1, 8000, 16))), ErrCorruptWAV},
		{"no data", rawWAV(chunk("fmt ", fmtPayload(1, 1, 8000, 16))), ErrCorruptWAV},
		{"header only", good[:20], ErrCorruptWAV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w, err := ParseWAV(bytes.NewReader(tc.b)); !errors.Is(err, tc.want) {
				t.Fatalf("got %+v, %v; want %v", w, err, tc.want)
			}
		})
	}
}

// crash damages a generated 8 kHz mono WAV the ways a crashed recorder does.
func TestRepairTruncatedWAV(t *testing.T) {
	const rate = 8000
	full := wavBytes(t, rate, 1, speechLike(rate, 10*time.Second, 1))
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		want   time.Duration
	}{
		{"header sizes zeroed (never finalized)", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[4:], 0)
			binary.LittleEndian.PutUint32(b[40:], 0)
			return b
		}, 10 * time.Second},
		{"cut mid-file, header says full length", func(b []byte) []byte {
			return b[:44+4*rate*2] // 4 s left
		}, 4 * time.Second},
		{"cut mid-sample and zeroed", func(b []byte) []byte {
			b = b[:44+2*rate*2+1] // 2 s and half a sample
			binary.LittleEndian.PutUint32(b[4:], 0)
			binary.LittleEndian.PutUint32(b[40:], 0)
			return b
		}, 2 * time.Second},
		{"streaming writer 0xFFFFFFFF", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[4:], 0xFFFFFFFF)
			binary.LittleEndian.PutUint32(b[40:], 0xFFFFFFFF)
			return b
		}, 10 * time.Second},
		{"only RIFF size wrong", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[4:], 12345)
			return b
		}, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "r.wav"), tc.damage(bytes.Clone(full)))
			before, err := InspectWAV(path)
			if err != nil {
				t.Fatal(err)
			}
			if !before.NeedsRepair() {
				t.Fatal("damage not detected")
			}
			w, repaired, err := RepairWAV(path)
			if err != nil || !repaired {
				t.Fatalf("repaired=%v err=%v", repaired, err)
			}
			if w.NeedsRepair() || w.Duration() != tc.want || int64(w.DeclaredData) != w.DataSize || int64(w.DeclaredRIFF) != w.FileSize-8 {
				t.Fatalf("after repair: %+v duration %v", w, w.Duration())
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got[44:], full[44:44+w.DataSize]) {
				t.Fatal("audio changed by repair")
			}
			if _, again, _ := RepairWAV(path); again {
				t.Fatal("second repair changed the file")
			}
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix+"*"))
			if len(matches) != 0 {
				t.Fatalf("temp files left: %v", matches)
			}
		})
	}
}

// A repaired file must be readable by ffmpeg with its full length: that is
// the point of repairing it.
func TestRepairedWAVPlaysInFFmpeg(t *testing.T) {
	requireFFmpeg(t)
	b := wavBytes(t, 8000, 1, speechLike(8000, 5*time.Second, 2))
	binary.LittleEndian.PutUint32(b[4:], 0)
	binary.LittleEndian.PutUint32(b[40:], 0)
	path := writeFile(t, filepath.Join(t.TempDir(), "r.wav"), b)
	if _, _, err := RepairWAV(path); err != nil {
		t.Fatal(err)
	}
	d, err := Transcoder{}.Decode(context.Background(), path)
	if err != nil || d != 5*time.Second {
		t.Fatalf("ffmpeg decode: %v, %v", d, err)
	}
}

func FuzzParseWAV(f *testing.F) {
	good := wavBytes(f, 8000, 1, tone(8000, 1, 20*time.Millisecond, 440))
	f.Add(good)
	f.Add(good[:50])
	f.Add(rawWAV(chunk("fmt ", fmtPayload(1, 2, 8000, 8)), chunk("LIST", []byte("INFOx")), chunk("data", make([]byte, 33))))
	zeroed := bytes.Clone(good)
	binary.LittleEndian.PutUint32(zeroed[40:], 0)
	f.Add(zeroed)
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ParseWAV(bytes.NewReader(b))
		if err != nil {
			return
		}
		if w.FileSize != int64(len(b)) || w.DataSize < 0 || w.DataOffset+w.DataSize > w.FileSize || w.Duration() < 0 {
			t.Fatalf("inconsistent: %+v", w)
		}
		if !w.NeedsRepair() {
			return
		}
		// Repair must yield a file that parses clean with the same audio.
		var out bytes.Buffer
		if err := writeRepaired(&out, bytes.NewReader(b), w); err != nil {
			return
		}
		w2, err := ParseWAV(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("repaired file does not parse: %v", err)
		}
		if w2.NeedsRepair() || w2.DataSize != w.DataSize || w2.Duration() != w.Duration() {
			t.Fatalf("repair not stable: before %+v after %+v", w, w2)
		}
		if !bytes.Equal(out.Bytes()[w2.DataOffset:w2.DataOffset+w2.DataSize], b[w.DataOffset:w.DataOffset+w.DataSize]) {
			t.Fatal("repair changed the audio")
		}
	})
}
