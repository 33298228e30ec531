package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The configuration's schedules become exactly the index's config
// schedules: added, changed (keeping their last run), removed; API
// schedules are left alone.
func TestSyncConfigSchedules(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	api, err := s.CreateExportSchedule(ctx, ExportSchedule{UUID: "33333333-0000-4000-8000-000000000001", TenantUUID: tenantA,
		Name: "by-api", Cron: "@daily", Period: PeriodPreviousDay, Enabled: true})
	if err != nil || api.Source != ScheduleFromAPI {
		t.Fatalf("%+v %v", api, err)
	}
	weekly := ExportSchedule{UUID: "33333333-0000-4000-8000-000000000002", TenantUUID: tenantA, Name: "weekly",
		Cron: "22 1 * * 1", Period: PeriodPreviousWeek, Enabled: true, Filters: []byte(`{"call_direction":"inbound"}`)}
	if err := s.SyncConfigSchedules(ctx, []ExportSchedule{weekly}, t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetExportSchedule(ctx, tenantA, weekly.UUID)
	if err != nil || got.Source != ScheduleFromConfig || !got.CreatedAt.Equal(t0) || string(got.Filters) != `{"call_direction":"inbound"}` {
		t.Fatalf("created %+v %v", got, err)
	}
	last := t0.Add(6 * 24 * time.Hour)
	if err := s.SetScheduleLastRun(ctx, weekly.UUID, nil, last); err != nil {
		t.Fatal(err)
	}
	// A second runner with the old last run loses.
	if err := s.SetScheduleLastRun(ctx, weekly.UUID, nil, last); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stale last run accepted: %v", err)
	}
	changed := weekly
	changed.UUID, changed.Cron, changed.Email = "33333333-0000-4000-8000-0000000000ff", "@weekly", "c@example.com"
	if err := s.SyncConfigSchedules(ctx, []ExportSchedule{changed}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetExportSchedule(ctx, tenantA, weekly.UUID)
	if err != nil || got.Cron != "@weekly" || got.Email != "c@example.com" || got.LastRunAt == nil || !got.LastRunAt.Equal(last) {
		t.Fatalf("changed %+v %v", got, err)
	}
	if err := s.SyncConfigSchedules(ctx, nil, t0); err != nil {
		t.Fatal(err)
	}
	list, _ := s.ListExportSchedules(ctx, tenantA)
	if len(list) != 1 || list[0].UUID != api.UUID {
		t.Fatalf("after removal %+v", list)
	}
}

// An e-mailed link's token is kept as a hash and found by its plain value.
func TestExportDownloadTokens(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	j, err := s.CreateExportJob(ctx, ExportJob{UUID: "11111111-0000-4000-8000-000000000009", TenantUUID: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateExportDownloadToken(ctx, j.UUID, tenantA, "plain-secret", now, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM export_download_tokens WHERE hash = 'plain-secret'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("plain token stored: %d %v", n, err)
	}
	tok, err := s.LookupExportDownloadToken(ctx, "plain-secret")
	if err != nil || tok.ExportUUID != j.UUID || !tok.ExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("%+v %v", tok, err)
	}
	if _, err := s.LookupExportDownloadToken(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}
