package media

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// Errors a caller may want to tell apart.
var (
	// ErrBadName is recording.ErrBadName: an invalid file name, UUID or
	// path element.
	ErrBadName = recording.ErrBadName
	ErrEscape  = errors.New("media: path escapes the storage root")
)

// MonitorDir is <root>/tenants/<tenant>/monitor, relative to root.
func MonitorDir(tenantUUID string) (string, error) {
	if err := recording.ValidateUUID(tenantUUID); err != nil {
		return "", err
	}
	return filepath.Join("tenants", tenantUUID, "monitor"), nil
}

// BuildPath returns the absolute path of a recording in the layout. It does
// not touch the disk; Place and Resolve check symlinks.
func BuildPath(root, tenantUUID string, start time.Time, callID int64, recordingUUID string, f recording.Format) (string, error) {
	if !filepath.IsAbs(root) {
		return "", fmt.Errorf("%w: storage root %q is not absolute", ErrBadName, root)
	}
	dir, err := MonitorDir(tenantUUID)
	if err != nil {
		return "", err
	}
	name, err := recording.Name{Start: start.UTC().Truncate(time.Second), CallID: callID, RecordingUUID: recordingUUID,
		Format: f}.FileName()
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
