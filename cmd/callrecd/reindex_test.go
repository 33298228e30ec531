package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

const reindexTenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"

// reindexSetup writes a configuration with one tenant, migrates the index
// and puts one recording without a row in the layout.
func reindexSetup(t *testing.T) (cfgPath, root, db, recUUID string) {
	t.Helper()
	dir := t.TempDir()
	root, db = filepath.Join(dir, "recordings"), filepath.Join(dir, "callrecd.db")
	cfgPath = filepath.Join(dir, "callrecd.yaml")
	cfg := "storage:\n  root: " + root + "\ndatabase:\n  path: " + db + "\n" +
		"tenants:\n  - uuid: " + reindexTenant + "\n    name: Acme\n    default: true\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, e := callrecd(t, "migrate", "-c", cfgPath); code != 0 {
		t.Fatal(e)
	}
	recUUID = "5ea37d0b-0823-4d2b-a18c-b9082e551b50"
	path, err := media.BuildPath(root, reindexTenant, time.Date(2021, 5, 14, 17, 47, 16, 0, time.UTC), 2060, recUUID, recording.WAV)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	media.WritePCM16(&b, 8000, 1, make([]int16, 8000))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	return cfgPath, root, db, recUUID
}

func recordingCount(t *testing.T, db string) int {
	t.Helper()
	s, err := store.OpenCurrent(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs, err := s.ListRecordings(context.Background(), store.RecordingFilter{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

func TestReindexCommandDryRunThenAdoptThenNothing(t *testing.T) {
	cfg, _, db, recUUID := reindexSetup(t)

	code, out, errOut := callrecd(t, "reindex", "-c", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "1  adopted") || !strings.Contains(out, "dry run: 1 change(s) would be made; nothing was changed") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if n := recordingCount(t, db); n != 0 {
		t.Fatalf("dry run indexed %d recordings", n)
	}
	// Plain output when not on a terminal: no progress bar escape codes.
	if strings.Contains(out+errOut, "\r") || strings.Contains(out+errOut, "\x1b[") {
		t.Fatalf("progress bar drawn off a terminal: %q %q", out, errOut)
	}

	code, out, errOut = callrecd(t, "reindex", "-c", cfg, "-v")
	if code != 0 || !strings.Contains(out, "1  adopted") || !strings.Contains(out, "1 change(s) made") ||
		!strings.Contains(out, "registered tenant "+reindexTenant) || !strings.Contains(errOut, "adopted ") {
		t.Fatalf("reindex: exit %d\n%s%s", code, out, errOut)
	}
	s, err := store.OpenCurrent(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.GetRecording(context.Background(), reindexTenant, recUUID)
	s.Close()
	if err != nil || r.CallID != 2060 || r.Duration != time.Second || r.State != string(recording.StateStopped) {
		t.Fatalf("adopted %+v, %v", r, err)
	}

	code, out, errOut = callrecd(t, "reindex", "-c", cfg)
	if code != 0 || !strings.Contains(out, "0 change(s) made") || !strings.Contains(out, "1  intact") {
		t.Fatalf("second reindex: exit %d\n%s%s", code, out, errOut)
	}
}

func TestReindexCommandFailsClearly(t *testing.T) {
	cfg, root, db, _ := reindexSetup(t)

	// A tenant folder the index does not know: reported, exit 1.
	stranger := filepath.Join(root, "tenants", "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f", "monitor")
	os.MkdirAll(stranger, 0o750)
	code, out, errOut := callrecd(t, "reindex", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "is not in the index") || !strings.Contains(errOut, "1 file(s) or row(s) could not be checked") ||
		!strings.Contains(out, "1  problems") {
		t.Fatalf("unknown tenant: exit %d\n%s%s", code, out, errOut)
	}
	os.RemoveAll(filepath.Dir(stranger))

	// No storage root (an unmounted disk): exit 1 naming it.
	os.RemoveAll(root)
	code, _, errOut = callrecd(t, "reindex", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "storage.root "+root) {
		t.Fatalf("no root: exit %d, %q", code, errOut)
	}

	// An index that was never migrated.
	code, _, errOut = callrecd(t, "reindex", "-c", cfg, "--db", filepath.Join(filepath.Dir(db), "new.db"))
	if code != 1 || !strings.Contains(errOut, "callrecd migrate") {
		t.Fatalf("unmigrated: exit %d, %q", code, errOut)
	}
	// A bad flag is a usage error.
	if code, _, _ := callrecd(t, "reindex", "--dry"); code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}
	if code, out, _ := callrecd(t, "--help"); code != 0 || !strings.Contains(out, "\n  reindex ") {
		t.Fatalf("--help does not list reindex:\n%s", out)
	}
}
