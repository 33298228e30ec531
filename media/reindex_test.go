package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

const (
	tenantA = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	tenantB = "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f" // only on disk, through a symlink out of root
)

// fixture is a real SQLite index and a real storage root.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	s     *store.Store
	root  string
	calls map[int64]bool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, "callrecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, store.NewTenant(tenantA, "Acme"), nil); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(root, 0o750); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, s: s, root: root, calls: map[int64]bool{}}
}

// wav returns a real 8 kHz mono 16-bit WAV of d.
func wav(t testing.TB, d time.Duration, freq float64) []byte {
	t.Helper()
	n := int(8000 * d / time.Second)
	samples := make([]int16, n)
	for i := range samples {
		samples[i] = int16(6000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	var b bytes.Buffer
	if err := media.WritePCM16(&b, 8000, 1, samples); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// crashed is a WAV as Asterisk leaves it when it dies mid-recording: both
// header lengths still 0.
func crashed(t testing.TB, d time.Duration) []byte {
	b := wav(t, d, 440)
	binary.LittleEndian.PutUint32(b[4:8], 0)
	binary.LittleEndian.PutUint32(b[40:44], 0)
	return b
}

func sum256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (f *fixture) path(tenant string, n recording.Name) string {
	p, err := media.BuildPath(f.root, tenant, n.Start, n.CallID, n.RecordingUUID, n.Format)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) write(path string, b []byte) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o640); err != nil {
		f.t.Fatal(err)
	}
}

// call makes sure call id exists (ids are assigned in order from 1).
func (f *fixture) call(id int64, start time.Time) {
	f.t.Helper()
	for !f.calls[id] {
		c, err := f.s.CreateCall(f.ctx, store.Call{TenantUUID: tenantA, PBXCallID: "pbx-" + strconv.Itoa(len(f.calls)+1), Start: start})
		if err != nil {
			f.t.Fatal(err)
		}
		f.calls[c.ID] = true
		if c.ID > id {
			f.t.Fatalf("call ids ran past %d", id)
		}
	}
}

// recording creates a row; with content it also writes the file and, if
// hashed, records its size, duration and sha256 as placement does.
func (f *fixture) recording(callID int64, uuid string, start time.Time, state recording.State, content []byte, hashed bool) (recording.Name, string) {
	f.t.Helper()
	f.call(callID, start)
	n := recording.Name{Start: start.UTC().Truncate(time.Second), CallID: callID, RecordingUUID: uuid, Format: recording.WAV}
	name, _ := n.FileName()
	rec := store.Recording{UUID: uuid, CallID: callID, TenantUUID: tenantA, Start: n.Start, Filename: name,
		Format: "wav", State: string(state), StartedBy: string(recording.ByPolicy)}
	if err := f.s.CreateRecording(f.ctx, rec); err != nil {
		f.t.Fatal(err)
	}
	path := f.path(tenantA, n)
	if content != nil {
		f.write(path, content)
		if hashed {
			fi, err := media.Inspect(path)
			if err != nil {
				f.t.Fatal(err)
			}
			if err := f.s.SetRecordingFile(f.ctx, uuid, store.FileInfo{Filename: name, Format: "wav", Size: fi.Size,
				Duration: fi.Duration, SHA256: fi.SHA256}); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	return n, path
}

func (f *fixture) get(uuid string) store.Recording {
	f.t.Helper()
	r, err := f.s.GetRecording(f.ctx, "", uuid)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) rows() []store.Recording {
	f.t.Helper()
	rs, err := f.s.ListRecordings(f.ctx, store.RecordingFilter{IncludeDeleted: true})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs
}

// tree maps every path under dir (symlinks not followed) to its content's
// sha256, or "->target" for a symlink.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[p] = "->" + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[p] = sum256(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func uuidN(i int) string {
	return strings.Replace("00000000-0000-4000-8000-000000000000", "000000000000", strings.Repeat("0", 11)+string(rune('0'+i)), 1)
}

func TestReindexReconcilesEveryKindOfMismatch(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	t0 := time.Date(2021, 5, 14, 17, 47, 16, 0, time.UTC)
	now := t0.Add(48 * time.Hour)
	monitor := filepath.Join(f.root, "tenants", tenantA, "monitor")

	// 1. Intact: row and file agree.
	_, intactPath := f.recording(1, uuidN(1), t0, recording.StateStopped, wav(t, 2*time.Second, 440), true)
	// 2. Missing: the row has a hashed file that is gone.
	_, missingPath := f.recording(2, uuidN(2), t0.Add(time.Minute), recording.StateStopped, wav(t, time.Second, 300), true)
	os.Remove(missingPath)
	// 3. Corrupt: one byte flipped, same size.
	_, corruptPath := f.recording(3, uuidN(3), t0.Add(2*time.Minute), recording.StateStopped, wav(t, time.Second, 500), true)
	b, _ := os.ReadFile(corruptPath)
	b[len(b)-10] ^= 0xFF
	f.write(corruptPath, b)
	// 4. Back intact: marked missing by an earlier reindex, the file is restored from backup.
	f.recording(4, uuidN(4), t0.Add(3*time.Minute), recording.StateStopped, wav(t, time.Second, 600), true)
	if err := f.s.SetRecordingIntegrity(ctx, uuidN(4), recording.StateMissing); err != nil {
		t.Fatal(err)
	}
	// 5. Live: still recording; its (crashed-looking) file and its row are not touched.
	_, livePath := f.recording(5, uuidN(5), t0.Add(4*time.Minute), recording.StateRecording, crashed(t, time.Second), false)
	f.recording(5, uuidN(6), t0.Add(5*time.Minute), recording.StatePaused, nil, false) // live, no file yet: not missing
	// 6. Deleted row whose file was left behind: purged.
	_, deletedPath := f.recording(6, uuidN(7), t0.Add(6*time.Minute), recording.StateStopped, wav(t, time.Second, 700), true)
	if err := f.s.MarkRecordingDeleted(ctx, tenantA, uuidN(7), t0); err != nil {
		t.Fatal(err)
	}
	// 7. Never hashed (stopped, but placement was never recorded), crashed header: repaired and filled in.
	_, unhashedPath := f.recording(7, uuidN(8), t0.Add(7*time.Minute), recording.StateStopped, crashed(t, 1500*time.Millisecond), false)

	// 8. Orphans: no row. One on an existing call, one on a call the
	// index lost, one truncated by a crash, one MP3 (duration from ffmpeg).
	orphanOnCall := recording.Name{Start: t0.Add(10 * time.Minute), CallID: 1, RecordingUUID: uuidN(9), Format: recording.WAV}
	f.write(f.path(tenantA, orphanOnCall), wav(t, 3*time.Second, 440))
	orphanNewCall := recording.Name{Start: t0.Add(11 * time.Minute), CallID: 4242, RecordingUUID: "5ea37d0b-0823-4d2b-a18c-b9082e551b50", Format: recording.WAV}
	f.write(f.path(tenantA, orphanNewCall), wav(t, 2*time.Second, 440))
	orphanCrashed := recording.Name{Start: t0.Add(12 * time.Minute), CallID: 4243, RecordingUUID: "6fa37d0b-0823-4d2b-a18c-b9082e551b51", Format: recording.WAV}
	crashedPath := f.path(tenantA, orphanCrashed)
	f.write(crashedPath, crashed(t, 2500*time.Millisecond))
	orphanMP3 := recording.Name{Start: t0.Add(13 * time.Minute), CallID: 4244, RecordingUUID: "7fa37d0b-0823-4d2b-a18c-b9082e551b52", Format: recording.MP3}
	mp3Path := f.path(tenantA, orphanMP3)
	src := filepath.Join(t.TempDir(), "x.wav")
	os.WriteFile(src, wav(t, 4*time.Second, 440), 0o640)
	mp3, err := media.Transcoder{}.Transcode(ctx, src, recording.MP3)
	if err != nil {
		t.Fatalf("ffmpeg with libmp3lame is required (scripts/install-media-deps): %v", err)
	}
	mp3Bytes, _ := os.ReadFile(mp3.Path)
	f.write(mp3Path, mp3Bytes)
	// An orphan that is not audio at all: adopted as corrupt.
	orphanJunk := recording.Name{Start: t0.Add(14 * time.Minute), CallID: 4245, RecordingUUID: "8fa37d0b-0823-4d2b-a18c-b9082e551b53", Format: recording.WAV}
	f.write(f.path(tenantA, orphanJunk), []byte("this is not a wav"))

	// 9. Temp files: an old leftover is removed, a fresh one (a placement
	// running now) is kept.
	oldTemp := filepath.Join(monitor, ".callrecd-tmp-x.wav.123")
	f.write(oldTemp, []byte("partial"))
	os.Chtimes(oldTemp, now.Add(-2*time.Hour), now.Add(-2*time.Hour))
	freshTemp := filepath.Join(monitor, ".callrecd-tmp-y.wav.456")
	f.write(freshTemp, []byte("partial"))
	os.Chtimes(freshTemp, now.Add(-time.Minute), now.Add(-time.Minute))

	// 10. Symlinks out of root: a recording-named link to a WAV outside,
	// and a whole tenant folder outside. Neither is followed.
	outside := t.TempDir()
	outsideWAV := filepath.Join(outside, "secret.wav")
	os.WriteFile(outsideWAV, crashed(t, time.Second), 0o640)
	linkName := recording.Name{Start: t0.Add(15 * time.Minute), CallID: 4246, RecordingUUID: "9fa37d0b-0823-4d2b-a18c-b9082e551b54", Format: recording.WAV}
	if err := os.Symlink(outsideWAV, f.path(tenantA, linkName)); err != nil {
		t.Fatal(err)
	}
	outsideTenant := filepath.Join(outside, "tenantB")
	bName := recording.Name{Start: t0, CallID: 1, RecordingUUID: "afa37d0b-0823-4d2b-a18c-b9082e551b55", Format: recording.WAV}
	bFile, _ := bName.FileName()
	f.write(filepath.Join(outsideTenant, "monitor", bFile), wav(t, time.Second, 440))
	if err := os.Symlink(outsideTenant, filepath.Join(f.root, "tenants", tenantB)); err != nil {
		t.Fatal(err)
	}
	// 11. A file that is not a recording.
	f.write(filepath.Join(monitor, "notes.txt"), []byte("hello"))

	outsideBefore := tree(t, outside)
	liveBefore, _ := os.ReadFile(livePath)
	liveRows := []store.Recording{f.get(uuidN(5)), f.get(uuidN(6))}

	var progress [][2]int
	var findings []media.Finding
	rx := media.Reindexer{Root: f.root, Index: f.s, Now: func() time.Time { return now }, BatchSize: 2,
		Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) },
		Report:   func(x media.Finding) { findings = append(findings, x) }}

	// A dry run reports everything and changes nothing.
	rowsBefore, treeBefore := f.rows(), tree(t, f.root)
	dry := rx
	dry.DryRun = true
	drySum, err := dry.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.rows(), rowsBefore) || !reflect.DeepEqual(tree(t, f.root), treeBefore) {
		t.Fatal("dry run changed the index or the tree")
	}

	findings, progress = nil, nil
	sum, err := rx.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary: %+v", sum)
	for _, x := range findings {
		t.Log(x)
	}
	want := media.ReindexSummary{Tenants: 1, Rows: 8, Intact: 1, Live: 2, Adopted: 5, Missing: 1, Corrupt: 1,
		Restored: 1, Updated: 1, Repaired: 2, Temps: 1, Purged: 1}
	got := sum
	got.Files, got.Skipped, got.Problems, got.ProblemCount = 0, 0, nil, 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary\n got %+v\nwant %+v", got, want)
	}
	// Skipped: fresh temp, link to outside, notes.txt, tenant B's link.
	if sum.Skipped != 4 {
		t.Errorf("skipped %d, want 4", sum.Skipped)
	}
	if sum.ProblemCount != 0 {
		t.Errorf("problems: %v", sum.Problems)
	}
	drySum.DryRun = false
	if !reflect.DeepEqual(drySum, sum) {
		t.Errorf("dry run reported\n%+v\nthe run did\n%+v", drySum, sum)
	}
	if last := progress[len(progress)-1]; last[0] != last[1] || last[1] != sum.Files || sum.Files != 15 {
		t.Errorf("progress ends at %v, files %d", last, sum.Files)
	}

	// States.
	for uuid, state := range map[string]string{uuidN(1): "stopped", uuidN(2): "missing", uuidN(3): "corrupt",
		uuidN(4): "stopped", uuidN(8): "stopped", uuidN(9): "stopped", orphanNewCall.RecordingUUID: "stopped",
		orphanCrashed.RecordingUUID: "stopped", orphanMP3.RecordingUUID: "stopped", orphanJunk.RecordingUUID: "corrupt"} {
		if r := f.get(uuid); r.State != state {
			t.Errorf("%s is %s, want %s", uuid, r.State, state)
		}
	}
	// Live rows and file untouched.
	if got := []store.Recording{f.get(uuidN(5)), f.get(uuidN(6))}; !reflect.DeepEqual(got, liveRows) {
		t.Errorf("live rows changed: %+v", got)
	}
	if b, _ := os.ReadFile(livePath); !bytes.Equal(b, liveBefore) {
		t.Error("the live recording's file was modified")
	}
	// Intact file untouched; purged and temp files gone; the fresh temp kept.
	if _, err := os.Stat(intactPath); err != nil {
		t.Error(err)
	}
	for _, p := range []string{deletedPath, oldTemp} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	if _, err := os.Stat(freshTemp); err != nil {
		t.Error("fresh temp removed")
	}
	// Nothing outside root was read into the index or changed.
	if !reflect.DeepEqual(tree(t, outside), outsideBefore) {
		t.Error("files outside the root changed")
	}
	for _, uuid := range []string{linkName.RecordingUUID, bName.RecordingUUID} {
		if _, err := f.s.GetRecording(ctx, "", uuid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s was indexed through a symlink (%v)", uuid, err)
		}
	}

	// Adopted rows say what the name and content say.
	r := f.get(orphanNewCall.RecordingUUID)
	data := wav(t, 2*time.Second, 440)
	if r.CallID != 4242 || !r.Start.Equal(orphanNewCall.Start) || r.Size != int64(len(data)) || r.SHA256 != sum256(data) ||
		r.Duration != 2*time.Second || r.Format != "wav" || r.TenantUUID != tenantA {
		t.Errorf("adopted %+v", r)
	}
	c, err := f.s.GetCall(ctx, tenantA, 4242)
	if err != nil || c.PBXCallID != store.PlaceholderPBXCallID(4242) || !slices.Equal(c.Tags, []string{store.TagReindexed, store.TagGuessedDirection}) ||
		len(c.Recordings) != 1 || c.Answer == nil || c.End == nil || c.End.Sub(*c.Answer) != 2*time.Second ||
		c.Direction != store.DirectionInternal {
		t.Errorf("placeholder call %+v, %v", c, err)
	}
	if r := f.get(uuidN(9)); r.CallID != 1 {
		t.Errorf("orphan on call 1 adopted on call %d", r.CallID)
	}
	if c, _ := f.s.GetCall(ctx, tenantA, 1); c.PBXCallID == store.PlaceholderPBXCallID(1) || len(c.Recordings) != 2 {
		t.Errorf("call 1: %+v", c)
	}
	// The crashed orphan was repaired before adoption: header fixed, all its audio counted.
	w, err := media.InspectWAV(crashedPath)
	if err != nil || w.NeedsRepair() {
		t.Fatalf("crashed orphan not repaired: %+v %v", w, err)
	}
	if r := f.get(orphanCrashed.RecordingUUID); r.Duration != 2500*time.Millisecond {
		t.Errorf("crashed orphan duration %v", r.Duration)
	}
	fi, _ := media.Inspect(crashedPath)
	if r := f.get(orphanCrashed.RecordingUUID); r.SHA256 != fi.SHA256 || r.Size != fi.Size {
		t.Error("crashed orphan indexed with its pre-repair bytes")
	}
	// The unhashed row: repaired and filled in.
	fi, _ = media.Inspect(unhashedPath)
	if r := f.get(uuidN(8)); r.SHA256 != fi.SHA256 || r.Size != fi.Size || r.Duration != 1500*time.Millisecond || fi.WAV.NeedsRepair() {
		t.Errorf("unhashed row %+v, file %+v", r, fi)
	}
	// MP3 duration from a real decode (codec framing adds a little).
	if r := f.get(orphanMP3.RecordingUUID); r.Format != "mp3" || r.Duration < 4*time.Second || r.Duration > 4250*time.Millisecond {
		t.Errorf("mp3 adopted %+v", r)
	}

	// Idempotent: a second run changes nothing, in the index or on disk.
	rowsAfter, treeAfter := f.rows(), tree(t, f.root)
	findings = nil
	again, err := rx.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changes() != 0 || again.ProblemCount != 0 {
		t.Errorf("second run: %+v\n%v", again, findings)
	}
	if !reflect.DeepEqual(f.rows(), rowsAfter) || !reflect.DeepEqual(tree(t, f.root), treeAfter) {
		t.Error("second run changed something")
	}
	if again.Intact != 8 || again.Live != 2 { // 1, 4, 8, the 5 orphans (the junk one stays corrupt)
		t.Errorf("second run: %+v", again)
	}
}

func TestReindexRelinksATranscodeTheIndexMissed(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	n, wavPath := f.recording(1, uuidN(1), t0, recording.StateStopped, wav(t, 2*time.Second, 440), true)
	// ffmpeg finished and the WAV was replaced, but callrecd died before
	// recording the new file.
	out, err := media.Transcoder{}.Transcode(ctx, wavPath, recording.AMR)
	if err != nil {
		t.Fatalf("ffmpeg with libopencore_amrnb is required (scripts/install-media-deps): %v", err)
	}
	sum, err := media.Reindexer{Root: f.root, Index: f.s}.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := f.get(n.RecordingUUID)
	if sum.Updated != 1 || sum.Missing != 0 || r.State != "stopped" || r.Format != "amr" ||
		r.Filename != filepath.Base(out.Path) || r.SHA256 != out.SHA256 || r.Duration < 2*time.Second {
		t.Fatalf("summary %+v, row %+v", sum, r)
	}
	if again, _ := (media.Reindexer{Root: f.root, Index: f.s}).Run(ctx); again.Changes() != 0 || again.Intact != 1 {
		t.Fatalf("second run %+v", again)
	}
}

func TestReindexFailsClearlyWithoutRoot(t *testing.T) {
	f := newFixture(t)
	_, err := media.Reindexer{Root: filepath.Join(f.root, "nope"), Index: f.s}.Run(f.ctx)
	if err == nil || !strings.Contains(err.Error(), "storage root") {
		t.Fatalf("err = %v", err)
	}
}

func TestReindexWaitsForAJustStoppedRecordingToBePlaced(t *testing.T) {
	f := newFixture(t)
	stop := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f.recording(1, uuidN(1), stop.Add(-time.Minute), recording.StateStopped, nil, false)
	r := f.get(uuidN(1))
	r.End = &stop
	if err := f.s.UpdateRecordingState(f.ctx, r); err != nil {
		t.Fatal(err)
	}
	now := stop.Add(time.Minute)
	rx := media.Reindexer{Root: f.root, Index: f.s, Now: func() time.Time { return now }}
	sum, err := rx.Run(f.ctx)
	if err != nil || sum.Live != 1 || sum.Missing != 0 || f.get(uuidN(1)).State != string(recording.StateStopped) {
		t.Fatalf("a minute after the stop: %+v %v", sum, err)
	}
	now = stop.Add(2 * time.Hour) // the spool never delivered it
	if sum, err = rx.Run(f.ctx); err != nil || sum.Missing != 1 || f.get(uuidN(1)).State != string(recording.StateMissing) {
		t.Fatalf("two hours later: %+v %v", sum, err)
	}
}
