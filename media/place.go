package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// tempPrefix starts every temp file we write into the layout.
// recording.ParseName rejects such names, so a crash never leaves something
// that looks like a recording; reindex may delete them (IsTempName).
const tempPrefix = ".callrecd-tmp-"

// IsTempName reports whether a file name is one of our temp files.
func IsTempName(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// TempPath names a temp file for name in dir, one IsTempName recognises
// (reindex skips it; a crash leaves nothing that looks like a recording).
func TempPath(dir, name string) string { return filepath.Join(dir, tempPrefix+name) }

// ErrExists means the destination holds a different file; it is never
// overwritten.
var ErrExists = errors.New("media: a different file already exists at the destination")

// File is what callrecd records about a file in the layout.
type File struct {
	Path     string
	Size     int64
	SHA256   string        // lower-case hex
	Duration time.Duration // from the WAV header; 0 for other formats (see Transcoder.Decode)
	WAV      *WAVInfo      // nil for other formats
	Copied   bool          // Place crossed filesystems (copy + fsync instead of a link)
	Repaired bool          // Place fixed the WAV header lengths left by a crash
}

// Inspect reads the file once, computing its size and sha256 and, for a .wav,
// parsing the header on the same bytes. On a WAV parse error the returned
// File still has Path, Size and SHA256 set.
func Inspect(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(f, h)}
	var werr error
	var w *WAVInfo
	if strings.EqualFold(filepath.Ext(path), ".wav") {
		w, werr = ParseWAV(cr)
	}
	if _, err := io.Copy(io.Discard, cr); err != nil { // whatever the parser left
		return File{}, err
	}
	out := File{Path: path, Size: cr.n, SHA256: hex.EncodeToString(h.Sum(nil)), WAV: w}
	if werr != nil {
		return out, fmt.Errorf("%s: %w", path, werr)
	}
	if w != nil {
		out.Duration = w.Duration()
	}
	return out, nil
}

// Mover moves finished recordings into the layout. The zero value uses the
// real filesystem; tests replace Link to force the cross-filesystem path.
type Mover struct {
	Link func(oldname, newname string) error // default os.Link
}

// Place moves src (a finished recording in the PBX's spool) to its place in
// the layout under root and inspects it. The destination appears complete or
// not at all:
//   - same filesystem: hard link src to the destination (atomic and, unlike
//     rename, never replaces an existing file), fsync the directory, remove src;
//   - across filesystems (EXDEV): copy to a temp name in the destination
//     directory, fsync it, link it to the final name, fsync the directory,
//     then remove src;
//   - where hard links are refused: check that the destination is free, then
//     rename.
//
// If the destination already holds identical bytes (a retry after a crash),
// src is removed and the existing file is returned. A different file there
// gives ErrExists and both files are left alone. src must be a regular file,
// not a symlink; root must exist. A WAV whose header lengths were left wrong
// by a crash is repaired once in place, so the size and sha256 returned are
// final.
func (m Mover) Place(root, src, tenantUUID string, n recording.Name) (File, error) {
	dst, err := BuildPath(root, tenantUUID, n.Start, n.CallID, n.RecordingUUID, n.Format)
	if err != nil {
		return File{}, err
	}
	if err := regularFile(src); err != nil {
		return File{}, err
	}
	if err := m.makeDir(root, tenantUUID); err != nil {
		return File{}, err
	}
	dir := filepath.Dir(dst)
	link := m.Link
	if link == nil {
		link = os.Link
	}

	err = link(src, dst)
	if err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, syscall.EXDEV) {
		// No hard link: a filesystem without them, or fs.protected_hardlinks
		// on a file the PBX owns. Rename instead.
		err = renameNoClobber(src, dst)
	}
	copied := errors.Is(err, syscall.EXDEV)
	if copied {
		err = copyInto(src, dst)
	}
	if errors.Is(err, os.ErrExist) {
		same, serr := sameContent(src, dst)
		if serr != nil {
			return File{}, serr
		}
		if !same {
			return File{}, fmt.Errorf("%w: %s", ErrExists, dst)
		}
		err = nil
	}
	if err != nil {
		return File{}, err
	}
	if err := syncDir(dir); err != nil {
		return File{}, err
	}
	// The destination is durable; only now let go of the source.
	if err := os.Remove(src); err != nil && !errors.Is(err, os.ErrNotExist) {
		return File{}, err
	}
	f, err := inspectPlaced(dst)
	f.Copied = copied
	return f, err
}

// Placed returns the file Place put at n's place under root (an error
// wrapping fs.ErrNotExist when there is none), its WAV header repaired as
// Place would. A run that ends between Place and indexing leaves the file
// there and nowhere else: the next run finds it here.
func Placed(root, tenantUUID string, n recording.Name) (File, error) {
	dst, err := BuildPath(root, tenantUUID, n.Start, n.CallID, n.RecordingUUID, n.Format)
	if err != nil {
		return File{}, err
	}
	if err := regularFile(dst); err != nil {
		return File{}, err
	}
	return inspectPlaced(dst)
}

// regularFile checks that path is a regular file, not following a symlink.
func regularFile(path string) error {
	st, err := os.Lstat(path)
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("media: %s is not a regular file", path)
	}
	return err
}

// inspectPlaced inspects a file in the layout, repairing once a WAV header
// a crash left wrong, so the size and sha256 returned are final.
func inspectPlaced(dst string) (File, error) {
	f, err := Inspect(dst)
	if err == nil && f.WAV != nil && f.WAV.NeedsRepair() {
		if _, _, err = RepairWAV(dst); err == nil {
			f, err = Inspect(dst)
			f.Repaired = true
		}
	}
	return f, err
}

// makeDir creates <root>/tenants/<tenant>/monitor without following a
// symlink out of root (os.Root refuses) and checks the result resolves
// inside root.
func (m Mover) makeDir(root, tenantUUID string) error {
	rel, err := MonitorDir(tenantUUID)
	if err != nil {
		return err
	}
	// The root is not created: if it is missing, a storage mount is
	// probably missing too, and writing to the disk underneath would fill it.
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("media: storage root: %w", err)
	}
	defer r.Close()
	if err := r.MkdirAll(rel, 0o750); err != nil {
		return fmt.Errorf("media: %w (%v)", ErrEscape, err)
	}
	_, err = Resolve(root, rel)
	return err
}

// renameNoClobber is the fallback where hard links are unavailable. Check
// then rename is not atomic, but only callrecd creates names in the layout.
func renameNoClobber(src, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return os.ErrExist
	}
	return os.Rename(src, dst)
}

// copyInto copies src to a temp file next to dst, makes it durable, then links
// it to dst so dst is never seen half-written and never replaced.
func copyInto(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), tempPrefix+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = os.Link(tmp.Name(), dst)
	if err != nil && !errors.Is(err, os.ErrExist) {
		err = renameNoClobber(tmp.Name(), dst) // no hard links here
	}
	return err
}

// sameContent compares two files by size, then sha256.
func sameContent(a, b string) (bool, error) {
	fa, err := Inspect(a)
	if err != nil && fa.SHA256 == "" {
		return false, err
	}
	fb, err := Inspect(b)
	if err != nil && fb.SHA256 == "" {
		return false, err
	}
	return fa.Size == fb.Size && fa.SHA256 == fb.SHA256, nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
