package recording

// FuzzParseName targets ParseName / Name.FileName (formerly media.ParseName,
// same behaviour) through unqualified names only (ParseName, Name,
// FileName, Filename, ValidateUUID, ParseFormat, Formats, ErrBadName), so it
// moves with them by its package clause alone.

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// fuzzNameSeeds are file names of the media tests (good and bad), the
// recording file names of the Asterisk lab (Asterisk's own naming, which the
// layout refuses) and edge values.
var fuzzNameSeeds = []string{
	"2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC-1-5ea37d0b-0823-4d2b-a18c-b9082e551b50.mp3",
	"2026-11-21T19_12_02UTC-42-2c8f4a1e-7b39-4d0c-9e5a-1f6b3d2c4e8a.amr",
	"2038-01-19T03_14_08UTC-9223372036854775807-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"1999-12-31T23_59_59UTC-0-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"0001-01-01T00_00_00UTC-0-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50",
	"2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.WAV",
	"2021-05-14T17:47:16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-13-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC-02060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC-+2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC--5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC-99999999999999999999-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC-2060-5EA37D0B-0823-4D2B-A18C-B9082E551B50.wav",
	"2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav.tmp",
	"../2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav\x00",
	"2021-02-29T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
	"a-1795288323.wav", "c1-user1001-1795288931.wav", "", ".wav",
}

// FuzzParseName: the recording file name parser. Promised ("strict: the
// name must round-trip exactly"): no panic; a refusal wraps ErrBadName;
// whatever ParseName accepts, Name.FileName gives back byte for byte, with a
// UTC whole-second start, a call id >= 0, a canonical uuid and a known
// format. The other way ("ParseName parses a file name produced by
// FileName"): a Name built from the fuzzer's start (years 0000-9999, the
// four digits of the layout), call id, uuid bytes and format whose
// FileName succeeds parses back to the same Name, and Filename (FileName
// without the checks) writes the same string for it.
func FuzzParseName(f *testing.F) {
	for i, s := range fuzzNameSeeds {
		f.Add(s, int64(1621014436+i), int64(i*1000), []byte("\x5e\xa3\x7d\x0b\x08\x23\x4d\x2b\xa1\x8c\xb9\x08\x2e\x55\x1b\x50"), uint8(i))
	}
	f.Add("", int64(math.MaxInt64), int64(-1), []byte{}, uint8(0))
	f.Add("", int64(253402300799), int64(math.MaxInt64), []byte("0123456789abcdef"), uint8(2))
	f.Add("", int64(-62135596800), int64(0), []byte("0123456789abcdef"), uint8(1))
	f.Fuzz(func(t *testing.T, name string, sec, callID int64, id []byte, format uint8) {
		n, err := ParseName(name)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("ParseName(%q): %v, not ErrBadName", name, err)
			}
		} else {
			back, ferr := n.FileName()
			if ferr != nil || back != name {
				t.Fatalf("ParseName(%q) = %+v, but FileName = %q, %v", name, n, back, ferr)
			}
			if n.Start.Location() != time.UTC || n.Start.Nanosecond() != 0 || n.CallID < 0 ||
				ValidateUUID(n.RecordingUUID) != nil {
				t.Fatalf("ParseName(%q) = %+v", name, n)
			}
			if _, err := ParseFormat(string(n.Format)); err != nil {
				t.Fatalf("ParseName(%q) = %+v: %v", name, n, err)
			}
		}

		// Build a Name from the other arguments.
		const minSec, maxSec = -62167219200, 253402300799 // 0000-01-01 .. 9999-12-31T23:59:59 UTC
		if sec < minSec || sec > maxSec {
			return
		}
		var u [16]byte
		copy(u[:], id)
		h := hex.EncodeToString(u[:])
		uid := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		built := Name{Start: time.Unix(sec, 0).UTC(), CallID: callID, RecordingUUID: uid, Format: Formats()[int(format)%len(Formats())]}
		fn, err := built.FileName()
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("FileName(%+v): %v, not ErrBadName", built, err)
			}
			if callID >= 0 && !built.Start.IsZero() {
				t.Fatalf("FileName(%+v) refused a valid name: %v", built, err)
			}
			return
		}
		if again := Filename(built.Start, built.CallID, built.RecordingUUID, built.Format); again != fn {
			t.Fatalf("FileName(%+v) = %q, Filename = %q", built, fn, again)
		}
		if strings.ContainsAny(fn, "/\\:\x00") {
			t.Fatalf("FileName(%+v) = %q: not a safe file name", built, fn)
		}
		got, err := ParseName(fn)
		if err != nil {
			t.Fatalf("FileName(%+v) = %q, which ParseName refuses: %v", built, fn, err)
		}
		if !got.Start.Equal(built.Start) || got.CallID != built.CallID || got.RecordingUUID != built.RecordingUUID || got.Format != built.Format {
			t.Fatalf("FileName(%+v) = %q parses to %+v", built, fn, got)
		}
	})
}
