package export

import (
	"context"
	"path"
	"strconv"
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
)

// The seed's weekly schedule, fired by the injected clock on Monday 01:22
// in the tenant's zone (Europe/Paris), exports exactly the calls of the
// previous Monday 00:00 → Monday 00:00 week, in that zone.
func TestScheduleFiresTheSeedWeek(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	paris := mustLoc(t, "Europe/Paris")
	local := func(d, h, m int) time.Time { return time.Date(2024, 5, d, h, m, 0, 0, paris) }
	// Week of Monday 6 May → Monday 13 May (Paris).
	before, _ := f.addCall(tenantA, local(5, 23, 59), wav(t, 1, 10)) // Sunday before: out
	first, r1 := f.addCall(tenantA, local(6, 0, 0), wav(t, 2, 10))   // Monday 00:00: in (from is >=)
	last, r2 := f.addCall(tenantA, local(12, 23, 59), wav(t, 3, 10)) // Sunday 23:59: in
	after, _ := f.addCall(tenantA, local(13, 0, 0), wav(t, 4, 10))   // Monday 00:00: out (until is <)
	f.addCall(tenantB, local(8, 12, 0), wav(t, 5, 10))               // another tenant: out
	// Created on Monday 13 May at midnight: its first fire time is 01:22
	// that day (nothing before it is caught up).
	f.setNow(local(13, 0, 0))
	s, done := f.service(Config{})
	if _, err := f.st.CreateExportSchedule(ctx, store.ExportSchedule{UUID: "22222222-0000-4000-8000-000000000001",
		TenantUUID: tenantA, Name: "weekly", Cron: "22 1 * * 1", Period: store.PeriodPreviousWeek, Enabled: true,
		CreatedAt: f.clock()}); err != nil {
		t.Fatal(err)
	}
	// The ticks come before Run: Run's own scheduler ticks at once, and on a
	// busy machine that tick could land after the clock moved and take the
	// fire this test makes.
	f.setNow(local(13, 1, 21)) // a minute early: nothing
	if made, err := s.Tick(ctx); err != nil || len(made) != 0 {
		t.Fatalf("early tick made %d, %v", len(made), err)
	}
	f.setNow(local(13, 1, 22))
	made, err := s.Tick(ctx)
	if err != nil || len(made) != 1 {
		t.Fatalf("tick made %d, %v", len(made), err)
	}
	run(t, s)
	j := done.wait(t, made[0].UUID)
	if j.Status != store.ExportFinished || j.ScheduleUUID != "22222222-0000-4000-8000-000000000001" || j.RequestedBy != "schedule:"+j.ScheduleUUID {
		t.Fatalf("job %+v", j)
	}
	files := readZip(t, j.Path)
	for _, c := range []store.Call{before, after} {
		for name := range files {
			if path.Dir(name) == strconv.FormatInt(c.ID, 10) {
				t.Errorf("call %d (%s) is outside the week but exported", c.ID, c.Start)
			}
		}
	}
	for _, e := range []struct {
		c store.Call
		r store.Recording
	}{{first, r1}, {last, r2}} {
		if _, ok := files[path.Join(strconv.FormatInt(e.c.ID, 10), e.r.Filename)]; !ok {
			t.Errorf("call %d (%s) is missing", e.c.ID, e.c.Start)
		}
	}
	if len(files) != 4 {
		t.Errorf("%d entries", len(files))
	}
	fl, _ := ParseFilter(j.Query)
	if !fl.From.Equal(local(6, 0, 0)) || !fl.Until.Equal(local(13, 0, 0)) {
		t.Fatalf("window %s .. %s", fl.From, fl.Until)
	}
	// The same fire time never runs twice.
	if made, err := s.Tick(ctx); err != nil || len(made) != 0 {
		t.Fatalf("second tick made %d, %v", len(made), err)
	}
	sc, _ := f.st.GetExportSchedule(ctx, tenantA, "22222222-0000-4000-8000-000000000001")
	if sc.LastRunAt == nil || !sc.LastRunAt.Equal(local(13, 1, 22)) {
		t.Fatalf("last run %v", sc.LastRunAt)
	}
	if n, ok := s.NextRun(ctx, sc); !ok || !n.Equal(local(20, 1, 22)) {
		t.Fatalf("next run %s", n)
	}
}

// Down across three Mondays: at start the schedule runs once, for the
// latest missed Monday, and a second process starting on the same index
// at the same moment does not run it again.
func TestScheduleCatchUpRunsOnceAfterDowntime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	paris := mustLoc(t, "Europe/Paris")
	local := func(m time.Month, d, h int) time.Time { return time.Date(2024, m, d, h, 0, 0, 0, paris) }
	f.addCall(tenantA, local(5, 21, 10), wav(t, 1, 10)) // in the week before Monday 27 May
	f.addCall(tenantA, local(5, 14, 10), wav(t, 2, 10)) // an older week: not in the catch-up
	lastRun := time.Date(2024, 5, 6, 1, 22, 0, 0, paris)
	if _, err := f.st.CreateExportSchedule(ctx, store.ExportSchedule{UUID: "22222222-0000-4000-8000-000000000002",
		TenantUUID: tenantA, Name: "weekly", Cron: "22 1 * * 1", Period: store.PeriodPreviousWeek, Enabled: true,
		CreatedAt: local(4, 1, 0), LastRunAt: &lastRun}); err != nil {
		t.Fatal(err)
	}
	f.setNow(local(5, 29, 9)) // Wednesday after the third missed Monday
	a, done := f.service(Config{})
	b, _ := f.service(Config{})
	madeA, errA := a.Tick(ctx)
	madeB, errB := b.Tick(ctx)
	if errA != nil || errB != nil || len(madeA)+len(madeB) != 1 {
		t.Fatalf("catch-up made %d and %d jobs (%v, %v); want 1 in all", len(madeA), len(madeB), errA, errB)
	}
	run(t, a)
	j := done.wait(t, madeA[0].UUID)
	files := readZip(t, j.Path)
	if m := manifestOf(t, files); m.Files != 1 || m.Entries[0].Start != formatTS(local(5, 21, 10)) {
		t.Fatalf("catch-up exported %+v", m.Entries)
	}
	jobs, _ := f.st.ListExportJobs(ctx, tenantA, store.Page{})
	if len(jobs) != 1 {
		t.Fatalf("%d jobs", len(jobs))
	}
}

// A disabled schedule never fires; one whose window holds nothing still
// counts as run (no retry storm), and the audit log says why.
func TestScheduleDisabledAndEmpty(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.setNow(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	for _, sc := range []store.ExportSchedule{
		{UUID: "22222222-0000-4000-8000-000000000003", Name: "off", Cron: "@daily", Enabled: false},
		{UUID: "22222222-0000-4000-8000-000000000004", Name: "empty", Cron: "@daily", Enabled: true},
	} {
		sc.TenantUUID, sc.Period, sc.CreatedAt = tenantA, store.PeriodPreviousDay, f.clock()
		if _, err := f.st.CreateExportSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := f.service(Config{})
	f.setNow(f.clock().Add(36 * time.Hour))
	made, err := s.Tick(ctx)
	if err != nil || len(made) != 0 {
		t.Fatalf("made %d, %v", len(made), err)
	}
	off, _ := f.st.GetExportSchedule(ctx, tenantA, "22222222-0000-4000-8000-000000000003")
	empty, _ := f.st.GetExportSchedule(ctx, tenantA, "22222222-0000-4000-8000-000000000004")
	if off.LastRunAt != nil || empty.LastRunAt == nil {
		t.Fatalf("last runs: off %v, empty %v", off.LastRunAt, empty.LastRunAt)
	}
	audit, _ := f.st.ListAudit(ctx, store.AuditFilter{Tenant: tenantA})
	if len(audit) != 1 || audit[0].Action != "export.schedule_empty" {
		t.Fatalf("audit %+v", audit)
	}
}
