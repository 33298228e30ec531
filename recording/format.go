package recording

import (
	"fmt"
	"slices"
)

// Format is a recording file format; its value is the file extension (lower
// case) and what tenants.format and recordings.format hold.
type Format string

// Recording formats. The PBX always records WAV; MP3 and AMR are made from it
// once the recording is over (media's transcoder).
const (
	WAV Format = "wav" // 16-bit PCM WAV, as the PBX writes it
	MP3 Format = "mp3"
	AMR Format = "amr" // AMR-NB, 8 kHz mono
)

// Formats lists every format, WAV first.
func Formats() []Format { return []Format{WAV, MP3, AMR} }

// Valid reports whether f is one of Formats.
func (f Format) Valid() bool { return slices.Contains(Formats(), f) }

// ParseFormat accepts "wav", "mp3" or "amr" (the extension, lower case).
func ParseFormat(s string) (Format, error) {
	if f := Format(s); f.Valid() {
		return f, nil
	}
	return "", fmt.Errorf("recording: unknown format %q (want wav, mp3 or amr)", s)
}

// ContentType is the media type a file of this format is served as, or ""
// for an unknown format.
func (f Format) ContentType() string {
	switch f {
	case WAV:
		return "audio/wav"
	case MP3:
		return "audio/mpeg"
	case AMR:
		return "audio/amr"
	}
	return ""
}
