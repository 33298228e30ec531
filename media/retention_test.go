package media_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

func TestRetentionDeletesOnlyOldFinishedRecordings(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	now := time.Date(2024, 6, 1, 3, 0, 0, 0, time.UTC)
	days := 30
	tn, _ := f.s.GetTenant(ctx, tenantA)
	tn.Retention.RecordingDays = &days
	if _, err := f.s.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	old := now.AddDate(0, 0, -40)
	// Five expired finished recordings (more than one batch), one expired
	// but still recording, one expired and missing its file, one expired
	// and already deleted, one recent.
	var expired []string
	for i := 1; i <= 5; i++ {
		_, p := f.recording(int64(i), uuidN(i), old.Add(time.Duration(i)*time.Minute), recording.StateStopped, wav(t, time.Second, 440), true)
		expired = append(expired, p)
	}
	_, livePath := f.recording(6, uuidN(6), old, recording.StateRecording, wav(t, time.Second, 440), false)
	f.recording(6, uuidN(7), old, recording.StateMissing, nil, false)
	_, deletedPath := f.recording(6, uuidN(8), old, recording.StateStopped, wav(t, time.Second, 440), true)
	deletedAt := old.Add(time.Hour)
	if err := f.s.MarkRecordingDeleted(ctx, tenantA, uuidN(8), deletedAt); err != nil {
		t.Fatal(err)
	}
	_, recentPath := f.recording(7, uuidN(9), now.AddDate(0, 0, -29), recording.StateStopped, wav(t, time.Second, 440), true)
	// Tenant B keeps recordings forever.
	if _, err := f.s.CreateTenant(ctx, store.NewTenant(tenantB, "Keep"), nil); err != nil {
		t.Fatal(err)
	}
	cb, _ := f.s.CreateCall(ctx, store.Call{TenantUUID: tenantB, PBXCallID: "b", Start: old})
	bName := recording.Name{Start: old, CallID: cb.ID, RecordingUUID: "afa37d0b-0823-4d2b-a18c-b9082e551b55", Format: recording.WAV}
	bFile, _ := bName.FileName()
	if err := f.s.CreateRecording(ctx, store.Recording{UUID: bName.RecordingUUID, CallID: cb.ID, TenantUUID: tenantB, Start: old,
		Filename: bFile, Format: "wav", State: string(recording.StateStopped), StartedBy: string(recording.ByAPI)}); err != nil {
		t.Fatal(err)
	}
	bPath := f.path(tenantB, bName)
	f.write(bPath, wav(t, time.Second, 440))

	ret := media.Retention{Root: f.root, Index: f.s, Now: func() time.Time { return now }, BatchSize: 2}
	sum, err := ret.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tenants != 1 || sum.Deleted != 6 || sum.ProblemCount != 0 {
		t.Fatalf("summary %+v", sum)
	}
	for _, p := range expired {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s kept (%v)", filepath.Base(p), err)
		}
	}
	// An already deleted row's leftover file is reindex's business (purged), not retention's.
	for _, p := range []string{livePath, recentPath, bPath, deletedPath} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed", filepath.Base(p))
		}
	}
	for i := 1; i <= 9; i++ {
		r := f.get(uuidN(i))
		wantDeleted := i <= 5 || i == 7 || i == 8
		if r.Deleted != wantDeleted {
			t.Errorf("%s (%s) deleted=%v", r.UUID, r.State, r.Deleted)
		}
		if i <= 5 && (r.DeletedAt == nil || !r.DeletedAt.Equal(now)) {
			t.Errorf("%s deleted at %v", r.UUID, r.DeletedAt)
		}
	}
	if r := f.get(uuidN(8)); !r.DeletedAt.Equal(deletedAt) {
		t.Errorf("already deleted row's time changed to %v", r.DeletedAt)
	}
	if r := f.get(bName.RecordingUUID); r.Deleted {
		t.Error("tenant without retention lost a recording")
	}
	audit, err := f.s.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 6 {
		t.Fatalf("%d audit entries, want 6: %+v", len(audit), audit)
	}
	seen := map[string]bool{}
	for _, e := range audit {
		if e.Actor != media.RetentionActor || e.Action != store.AuditRecordingDelete || e.ObjectType != "recording" ||
			e.TenantUUID != tenantA || !e.At.Equal(now) || e.Details["recording_days"] != float64(30) {
			t.Errorf("audit entry %+v", e)
		}
		seen[e.ObjectID] = true
	}
	for _, id := range []string{uuidN(1), uuidN(2), uuidN(3), uuidN(4), uuidN(5), uuidN(7)} {
		if !seen[id] {
			t.Errorf("no audit entry for %s", id)
		}
	}

	// Idempotent: nothing more to delete, no more audit entries.
	again, err := ret.Run(ctx)
	if err != nil || again.Deleted != 0 {
		t.Fatalf("second run %+v %v", again, err)
	}
	if audit, _ := f.s.ListAudit(ctx, store.AuditFilter{}); len(audit) != 6 {
		t.Fatalf("second run wrote audit entries: %d", len(audit))
	}
}

func TestRetentionFinishesAnInterruptedDeletion(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	now := time.Date(2024, 6, 1, 3, 0, 0, 0, time.UTC)
	days := 1
	tn, _ := f.s.GetTenant(ctx, tenantA)
	tn.Retention.RecordingDays = &days
	f.s.UpdateTenant(ctx, tn)
	_, p := f.recording(1, uuidN(1), now.AddDate(0, 0, -2), recording.StateStopped, wav(t, time.Second, 440), true)
	os.Remove(p) // a crash after the file was removed, before the row was flagged
	sum, err := media.Retention{Root: f.root, Index: f.s, Now: func() time.Time { return now }}.Run(ctx)
	if err != nil || sum.Deleted != 1 || !f.get(uuidN(1)).Deleted {
		t.Fatalf("%+v %v", sum, err)
	}
}

func TestNextDaily(t *testing.T) {
	at := 3 * time.Hour
	for _, c := range []struct{ now, want string }{
		{"2024-06-01T00:00:00Z", "2024-06-01T03:00:00Z"},
		{"2024-06-01T02:59:59Z", "2024-06-01T03:00:00Z"},
		{"2024-06-01T03:00:00Z", "2024-06-02T03:00:00Z"},
		{"2024-12-31T23:00:00Z", "2025-01-01T03:00:00Z"},
		{"2024-06-01T05:00:00+02:00", "2024-06-02T03:00:00Z"},
	} {
		now, _ := time.Parse(time.RFC3339, c.now)
		want, _ := time.Parse(time.RFC3339, c.want)
		if got := media.NextDaily(now, at); !got.Equal(want) {
			t.Errorf("NextDaily(%s) = %s, want %s", c.now, got, want)
		}
	}
}

// fakeClock drives RunDaily without sleeping: each wait is handed to the
// test, which moves the clock and fires it.
type fakeClock struct {
	now   time.Time
	waits chan time.Duration
	fire  chan time.Time
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.fire
}

func TestRetentionRunsDailyOnAFakeClock(t *testing.T) {
	f := newFixture(t)
	days := 30
	tn, _ := f.s.GetTenant(f.ctx, tenantA)
	tn.Retention.RecordingDays = &days
	f.s.UpdateTenant(f.ctx, tn)
	start := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	// Expires on the second day's run, not the first.
	_, p := f.recording(1, uuidN(1), start.AddDate(0, 0, -30).Add(10*time.Hour), recording.StateStopped, wav(t, time.Second, 440), true)

	clock := &fakeClock{now: start, waits: make(chan time.Duration), fire: make(chan time.Time)}
	runs := make(chan media.RetentionSummary)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error)
	go func() {
		done <- media.Retention{Root: f.root, Index: f.s, Now: clock.Now, After: clock.After,
			OnRun: func(s media.RetentionSummary, err error) {
				if err != nil {
					t.Error(err)
				}
				runs <- s
			}}.RunDaily(ctx)
	}()

	if s := <-runs; s.Deleted != 0 { // at start
		t.Fatalf("first run deleted %d", s.Deleted)
	}
	if d := <-clock.waits; d != 15*time.Hour { // 12:00 → 03:00 next day
		t.Fatalf("waits %s", d)
	}
	clock.now = start.Add(15 * time.Hour)
	clock.fire <- clock.now
	if s := <-runs; s.Deleted != 1 {
		t.Fatalf("second run deleted %d", s.Deleted)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("file kept")
	}
	if d := <-clock.waits; d != 24*time.Hour {
		t.Fatalf("then waits %s", d)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunDaily returned %v", err)
	}
}
