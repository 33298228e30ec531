package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

var testName = recording.Name{Start: time.Date(2021, 5, 14, 17, 47, 16, 0, time.UTC), CallID: 2060, RecordingUUID: recID, Format: recording.WAV}

// spool writes a finished recording where the PBX would leave it.
func spool(t *testing.T, dir string, b []byte) string {
	return writeFile(t, filepath.Join(dir, "asterisk-spool", "rec-"+recID+".wav"), b)
}

func newRoot(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o750); err != nil {
		t.Fatal(err)
	}
	return root
}

func checkPlaced(t *testing.T, f File, root, src string, want []byte) {
	t.Helper()
	dst, _ := BuildPath(root, tenant, testName.Start, testName.CallID, testName.RecordingUUID, recording.WAV)
	if f.Path != dst {
		t.Fatalf("path %s, want %s", f.Path, dst)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("destination content differs (err %v)", err)
	}
	sum := sha256.Sum256(want)
	if f.Size != int64(len(want)) || f.SHA256 != hex.EncodeToString(sum[:]) || f.Duration != 3*time.Second {
		t.Fatalf("inspect: size %d sha %s duration %v", f.Size, f.SHA256, f.Duration)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), tempPrefix+"*")); len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestPlaceSameFilesystem(t *testing.T) {
	dir := t.TempDir()
	root := newRoot(t, dir)
	b := wavBytes(t, 8000, 1, tone(8000, 1, 3*time.Second, 440))
	src := spool(t, dir, b)
	f, err := Mover{}.Place(root, src, tenant, testName)
	if err != nil {
		t.Fatal(err)
	}
	if f.Copied || f.Repaired {
		t.Fatalf("copied=%v repaired=%v", f.Copied, f.Repaired)
	}
	checkPlaced(t, f, root, src, b)
}

// The copy path, forced by a link that reports EXDEV as a real cross-device
// link would.
func TestPlaceCrossFilesystemInjected(t *testing.T) {
	dir := t.TempDir()
	root := newRoot(t, dir)
	b := wavBytes(t, 8000, 1, tone(8000, 1, 3*time.Second, 440))
	src := spool(t, dir, b)
	exdev := func(o, n string) error { return &os.LinkError{Op: "link", Old: o, New: n, Err: syscall.EXDEV} }
	f, err := Mover{Link: exdev}.Place(root, src, tenant, testName)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Copied {
		t.Fatal("copy path not taken")
	}
	checkPlaced(t, f, root, src, b)
}

// The copy path for real when /dev/shm (tmpfs) and the test's temp dir are
// different filesystems, as they are on most Linux machines.
func TestPlaceCrossFilesystemReal(t *testing.T) {
	var a, b syscall.Stat_t
	if syscall.Stat("/dev/shm", &a) != nil || syscall.Stat(t.TempDir(), &b) != nil || a.Dev == b.Dev {
		t.Skip("/dev/shm is not a separate filesystem here; the injected test covers the copy path")
	}
	shm, err := os.MkdirTemp("/dev/shm", "callrecd-media-test-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	root := newRoot(t, t.TempDir())
	wav := wavBytes(t, 8000, 1, tone(8000, 1, 3*time.Second, 440))
	src := spool(t, shm, wav)
	f, err := Mover{}.Place(root, src, tenant, testName)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Copied {
		t.Fatal("expected EXDEV and the copy path")
	}
	checkPlaced(t, f, root, src, wav)
}

func TestPlaceNeverOverwrites(t *testing.T) {
	for _, linkErr := range []error{nil, syscall.EXDEV, syscall.EPERM} {
		dir := t.TempDir()
		root := newRoot(t, dir)
		m := Mover{}
		if linkErr != nil { // EXDEV: copy path; EPERM: protected_hardlinks, rename path
			m.Link = func(o, n string) error { return &os.LinkError{Op: "link", Old: o, New: n, Err: linkErr} }
		}
		first := wavBytes(t, 8000, 1, tone(8000, 1, 3*time.Second, 440))
		if _, err := m.Place(root, spool(t, dir, first), tenant, testName); err != nil {
			t.Fatal(err)
		}
		// A different file for the same name: refused, both kept.
		other := wavBytes(t, 8000, 1, tone(8000, 1, 3*time.Second, 880))
		src := spool(t, dir, other)
		if _, err := m.Place(root, src, tenant, testName); !errors.Is(err, ErrExists) {
			t.Fatalf("link error %v: got %v, want ErrExists", linkErr, err)
		}
		if got, _ := os.ReadFile(src); !bytes.Equal(got, other) {
			t.Fatal("source lost")
		}
		// The same bytes again (a retry after a crash): adopted, source removed.
		src = spool(t, dir, first)
		f, err := m.Place(root, src, tenant, testName)
		if err != nil {
			t.Fatalf("link error %v: retry: %v", linkErr, err)
		}
		checkPlaced(t, f, root, src, first)
	}
}

func TestPlaceRefusesUnsafe(t *testing.T) {
	dir := t.TempDir()
	root := newRoot(t, dir)
	wav := wavBytes(t, 8000, 1, tone(8000, 1, time.Second, 440))

	// A symlink in the spool must not smuggle another file into the archive.
	link := filepath.Join(dir, "link.wav")
	mustSymlink(t, spool(t, dir, wav), link)
	if _, err := (Mover{}).Place(root, link, tenant, testName); err == nil {
		t.Fatal("symlink source accepted")
	}
	if _, err := (Mover{}).Place(root, spool(t, dir, wav), "../../etc", testName); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad tenant: %v", err)
	}
	// tenants/<t> pointing outside the root.
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(outside, 0o750)
	os.Mkdir(filepath.Join(root, "tenants"), 0o750)
	mustSymlink(t, outside, filepath.Join(root, "tenants", tenant))
	if _, err := (Mover{}).Place(root, spool(t, dir, wav), tenant, testName); !errors.Is(err, ErrEscape) {
		t.Fatalf("escaping tenant dir: %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside the root: %v", ents)
	}
}

// A recording left by a crashed PBX is repaired once it is in the layout, so
// the size and sha256 returned are those of the final file.
func TestPlaceRepairsCrashedWAV(t *testing.T) {
	dir := t.TempDir()
	root := newRoot(t, dir)
	b := wavBytes(t, 8000, 1, speechLike(8000, 3*time.Second, 3))
	binary.LittleEndian.PutUint32(b[4:], 0)
	binary.LittleEndian.PutUint32(b[40:], 0)
	f, err := Mover{}.Place(root, spool(t, dir, b), tenant, testName)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Repaired || f.Duration != 3*time.Second || f.WAV.NeedsRepair() {
		t.Fatalf("repaired=%v duration=%v", f.Repaired, f.Duration)
	}
	again, err := Inspect(f.Path)
	if err != nil || again.SHA256 != f.SHA256 || again.Size != f.Size {
		t.Fatalf("returned hash is not the file's: %v", err)
	}
}

func TestPlaceMissingRoot(t *testing.T) {
	dir := t.TempDir()
	src := spool(t, dir, wavBytes(t, 8000, 1, tone(8000, 1, time.Second, 440)))
	if _, err := (Mover{}).Place(filepath.Join(dir, "not-mounted"), src, tenant, testName); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal("source lost")
	}
}

func TestInspectNonWAV(t *testing.T) {
	p := writeFile(t, filepath.Join(t.TempDir(), "x.wav"), []byte("garbage"))
	f, err := Inspect(p)
	if !errors.Is(err, ErrNotWAV) || f.Size != 7 || f.SHA256 == "" {
		t.Fatalf("%+v %v", f, err)
	}
	p = writeFile(t, filepath.Join(t.TempDir(), "x.mp3"), []byte("ID3 whatever"))
	if f, err = Inspect(p); err != nil || f.Size != 12 || f.WAV != nil {
		t.Fatalf("%+v %v", f, err)
	}
}
