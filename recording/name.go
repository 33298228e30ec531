package recording

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeLayout is Wazo's timestamp: always UTC, underscores instead of colons
// so the name is valid on every filesystem.
const timeLayout = "2006-01-02T15_04_05UTC"

// ErrBadName means a file name, UUID or other name is not valid; test with
// errors.Is. media returns it too (media.ErrBadName is this error).
var ErrBadName = errors.New("recording: invalid name")

// Name is what a recording's file name encodes, following Wazo:
//
//	2021-05-14T17_47_16UTC-<call id>-<recording uuid>.<format>
type Name struct {
	Start         time.Time // UTC, whole seconds
	CallID        int64     // >= 0
	RecordingUUID string    // canonical lower-case UUID
	Format        Format
}

// FileName returns the Wazo-style file name, or an error (ErrBadName) if a
// field is invalid. The start time is written in UTC, truncated to the
// second.
func (n Name) FileName() (string, error) {
	if n.CallID < 0 {
		return "", fmt.Errorf("%w: negative call id %d", ErrBadName, n.CallID)
	}
	if err := ValidateUUID(n.RecordingUUID); err != nil {
		return "", err
	}
	if _, err := ParseFormat(string(n.Format)); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadName, err)
	}
	if n.Start.IsZero() {
		return "", fmt.Errorf("%w: zero start time", ErrBadName)
	}
	return string(appendName(make([]byte, 0, nameLen(n.RecordingUUID, n.Format)),
		n.Start, n.CallID, n.RecordingUUID, n.Format)), nil
}

// Filename is Name{start, callID, uuid, format}.FileName() without the
// checks, for callers that built the fields themselves (the engine, on every
// recording start); an empty format means WAV. For valid fields the two
// return the same string.
func Filename(start time.Time, callID int64, uuid string, format Format) string {
	if format == "" {
		format = WAV
	}
	return string(appendName(make([]byte, 0, nameLen(uuid, format)), start, callID, uuid, format))
}

// nameLen bounds a name's length (a call id has at most 20 characters), to
// allocate once.
func nameLen(uuid string, f Format) int {
	return len(timeLayout) + 1 + 20 + 1 + len(uuid) + 1 + len(f)
}

// appendName is the rule itself, shared by FileName and Filename.
func appendName(b []byte, start time.Time, callID int64, uuid string, f Format) []byte {
	b = start.UTC().AppendFormat(b, timeLayout)
	b = append(b, '-')
	b = strconv.AppendInt(b, callID, 10)
	b = append(b, '-')
	b = append(b, uuid...)
	b = append(b, '.')
	return append(b, f...)
}

// ParseName parses a file name produced by FileName. It is strict: the name
// must round-trip exactly, so a file the index accepted always maps to a
// single (start, call id, uuid, format). Errors wrap ErrBadName.
func ParseName(name string) (Name, error) {
	bad := func(why string) (Name, error) {
		return Name{}, fmt.Errorf("%w: %q: %s", ErrBadName, name, why)
	}
	const tsLen = len(timeLayout)
	dot := strings.LastIndexByte(name, '.')
	if len(name) < tsLen+1+1+1+36+1 || dot < 0 {
		return bad("too short")
	}
	f, err := ParseFormat(name[dot+1:])
	if err != nil {
		return bad("unknown extension")
	}
	start, err := time.ParseInLocation(timeLayout, name[:tsLen], time.UTC)
	if err != nil || name[tsLen] != '-' {
		return bad("bad timestamp")
	}
	stem := name[tsLen+1 : dot] // <call id>-<uuid>
	if len(stem) < 1+1+36 || stem[len(stem)-37] != '-' {
		return bad("want <call id>-<recording uuid>")
	}
	id, uid := stem[:len(stem)-37], stem[len(stem)-36:]
	if err := ValidateUUID(uid); err != nil {
		return bad("bad recording uuid")
	}
	callID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || callID < 0 || strconv.FormatInt(callID, 10) != id {
		return bad("bad call id")
	}
	n := Name{Start: start, CallID: callID, RecordingUUID: uid, Format: f}
	if again, _ := n.FileName(); again != name {
		return bad("not canonical")
	}
	return n, nil
}

// ValidateUUID accepts only the canonical lower-case 8-4-4-4-12 form, so a
// UUID is always safe as a path element and has one spelling on disk. Errors
// wrap ErrBadName.
func ValidateUUID(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("%w: uuid %q", ErrBadName, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("%w: uuid %q", ErrBadName, s)
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return fmt.Errorf("%w: uuid %q", ErrBadName, s)
			}
		}
	}
	return nil
}
