package media

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Format is a recording file format; its value is the file extension.
type Format string

const (
	WAV Format = "wav"
	MP3 Format = "mp3"
	AMR Format = "amr"
)

// ParseFormat accepts "wav", "mp3" or "amr" (the extension, lower case).
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case WAV, MP3, AMR:
		return f, nil
	}
	return "", fmt.Errorf("media: unknown format %q (want wav, mp3 or amr)", s)
}

// timeLayout is Wazo's timestamp: always UTC, underscores instead of colons
// so the name is valid on every filesystem.
const timeLayout = "2006-01-02T15_04_05UTC"

// Errors a caller may want to tell apart.
var (
	ErrBadName = errors.New("media: invalid name")
	ErrEscape  = errors.New("media: path escapes the storage root")
)

// Name is what a recording's file name encodes.
type Name struct {
	Start         time.Time // UTC, whole seconds
	CallID        int64     // >= 0
	RecordingUUID string    // canonical lower-case UUID
	Format        Format
}

// FileName returns the Wazo-style file name, or an error if a field is invalid.
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
	return n.Start.UTC().Format(timeLayout) + "-" + strconv.FormatInt(n.CallID, 10) + "-" +
		n.RecordingUUID + "." + string(n.Format), nil
}

// ParseName parses a file name produced by FileName. It is strict: the name
// must round-trip exactly, so a file the index accepted always maps to a
// single (start, call id, uuid, format).
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
// UUID is always safe as a path element and has one spelling on disk.
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

// MonitorDir is <root>/tenants/<tenant>/monitor, relative to root.
func MonitorDir(tenantUUID string) (string, error) {
	if err := ValidateUUID(tenantUUID); err != nil {
		return "", err
	}
	return filepath.Join("tenants", tenantUUID, "monitor"), nil
}

// BuildPath returns the absolute path of a recording in the layout. It does
// not touch the disk; Place and Resolve check symlinks.
func BuildPath(root, tenantUUID string, start time.Time, callID int64, recordingUUID string, f Format) (string, error) {
	if !filepath.IsAbs(root) {
		return "", fmt.Errorf("%w: storage root %q is not absolute", ErrBadName, root)
	}
	dir, err := MonitorDir(tenantUUID)
	if err != nil {
		return "", err
	}
	name, err := Name{Start: start.UTC().Truncate(time.Second), CallID: callID, RecordingUUID: recordingUUID, Format: f}.FileName()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, dir, name), nil
}

// CheckElement validates one path element received from outside (a file
// name in a PBX event, an API parameter): no separators, no NUL, not "." or
// "..", not empty.
func CheckElement(s string) error {
	switch {
	case s == "", s == ".", s == "..":
		return fmt.Errorf("%w: %q", ErrBadName, s)
	case strings.ContainsAny(s, "/\\\x00"):
		return fmt.Errorf("%w: %q contains a separator or NUL", ErrBadName, s)
	}
	return nil
}

// Resolve joins a relative path received from outside to root and returns the
// real path, refusing absolute paths, ".." elements, NUL, and any symlink
// (in root's subtree) that leads outside root. The target need not exist; its
// nearest existing ancestor is resolved instead. Root itself may be a symlink.
func Resolve(root, rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) || strings.ContainsAny(rel, "\\\x00") {
		return "", fmt.Errorf("%w: %q", ErrBadName, rel)
	}
	for _, el := range strings.Split(rel, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: %q", ErrBadName, rel)
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("media: storage root: %w", err)
	}
	p := filepath.Join(realRoot, rel)
	// Resolve the longest existing prefix; what does not exist yet cannot be
	// a symlink.
	existing, rest := p, ""
	for {
		r, err := filepath.EvalSymlinks(existing)
		if err == nil {
			p = filepath.Join(r, rest)
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if _, lerr := os.Lstat(existing); lerr == nil {
			// It exists but does not resolve: a dangling symlink, whose
			// target we cannot check.
			return "", fmt.Errorf("%w: %q: dangling symlink", ErrEscape, rel)
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
	}
	if !within(realRoot, p) {
		return "", fmt.Errorf("%w: %q", ErrEscape, rel)
	}
	return p, nil
}

func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}
