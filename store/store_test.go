package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

const (
	tenantA  = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	tenantB  = "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f"
	userOlga = "b2e98781-7118-4010-8da3-b93b1b7e1389"
	userAna  = "def42192-837a-41e0-aa4e-86390e46eb17"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "callrecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustTenant(t *testing.T, s *Store, uuid string) Tenant {
	t.Helper()
	tn, err := s.CreateTenant(context.Background(), NewTenant(uuid, "tenant "+uuid[:4]), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func mustUser(t *testing.T, s *Store, tenant, uuid, ext string, endpoints ...string) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), User{UUID: uuid, TenantUUID: tenant, Extension: ext,
		Firstname: "User", Lastname: ext, Endpoints: endpoints, RecordAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil || cur != latest || latest < 3 {
		t.Fatalf("version = %d/%d, %v", cur, latest, err)
	}
	applied, err := s.Migrate(ctx, 0)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, %v", applied, err)
	}
}

func TestOpenCurrentRequiresMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	_, err := OpenCurrent(ctx, path)
	if !errors.Is(err, ErrSchemaOutdated) {
		t.Fatalf("err = %v, want ErrSchemaOutdated", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	_, latest, _ := s.SchemaVersion(ctx)
	if _, err := s.q.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, latest+5); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, s.Path())
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("err = %v, want ErrSchemaTooNew", err)
	}
}

// A database left at the first schema version by an older callrecd keeps its
// data when migrated forward.
func TestMigrateFromOlderSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	mustTenant(t, s, tenantA)
	mustUser(t, s, tenantA, userOlga, "1015", "1015")
	s.Close()

	if _, err := OpenCurrent(ctx, path); !errors.Is(err, ErrSchemaOutdated) {
		t.Fatalf("old schema: err = %v, want ErrSchemaOutdated", err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	applied, err := s.Migrate(ctx, 0)
	if err != nil || int64(len(applied)) != LatestSchemaVersion()-1 {
		t.Fatalf("applied %v, %v", applied, err)
	}
	u, err := s.GetUser(ctx, tenantA, userOlga)
	if err != nil || u.Extension != "1015" {
		t.Fatalf("user after migration: %+v, %v", u, err)
	}
	if _, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "1.1", Start: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func TestTenantCreateReadUpdate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tn := mustTenant(t, s, tenantA)
	got, err := s.GetTenant(ctx, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	if !got.AudioRecordingEnabled || got.RecordExternalToExternal || got.Format != string(recording.WAV) ||
		got.OnlineRecordMode != string(recording.OnlineRecordPause) || got.DTMFTimeout != 3*time.Second || got.Timezone != "UTC" {
		t.Fatalf("defaults wrong: %+v", got)
	}
	days := 90
	tn.RecordExternalToExternal, tn.Format, tn.Timezone = true, string(recording.MP3), "Europe/Paris"
	tn.Retention.RecordingDays = &days
	tn.DTMFTimeout = 1500 * time.Millisecond
	got, err = s.UpdateTenant(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	if !got.RecordExternalToExternal || got.Format != string(recording.MP3) || got.Timezone != "Europe/Paris" ||
		got.Retention.RecordingDays == nil || *got.Retention.RecordingDays != 90 || got.Retention.CDRDays != nil ||
		got.DTMFTimeout != 1500*time.Millisecond {
		t.Fatalf("update lost: %+v", got)
	}
	tn.Format = "ogg"
	if _, err := s.UpdateTenant(ctx, tn); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad format: err = %v, want ErrInvalid", err)
	}
	tn.Format, tn.Timezone = string(recording.WAV), "Mars/Olympus"
	if _, err := s.UpdateTenant(ctx, tn); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad timezone: err = %v, want ErrInvalid", err)
	}
	if _, err := s.CreateTenant(ctx, NewTenant(tenantA, "again"), nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate tenant: err = %v, want ErrConflict", err)
	}
	if _, err := s.GetTenant(ctx, tenantB); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tenant: err = %v", err)
	}
	created, err := s.EnsureTenant(ctx, tenantA, "ignored", nil)
	if err != nil || created {
		t.Fatalf("EnsureTenant existing = %v, %v", created, err)
	}
	created, err = s.EnsureTenant(ctx, tenantB, "B", map[string]string{string(recording.FeatureCallRecord): "*96"})
	if err != nil || !created {
		t.Fatalf("EnsureTenant new = %v, %v", created, err)
	}
	all, err := s.ListTenants(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("list = %d, %v", len(all), err)
	}
}

func TestFeatureExtensions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	if _, err := s.CreateTenant(ctx, NewTenant(tenantB, "B"), map[string]string{string(recording.FeatureOnlineRecord): "*1"}); err != nil {
		t.Fatal(err)
	}
	fs, err := s.ListFeatureExtensions(ctx, tenantA, "")
	if err != nil || len(fs) != 4 {
		t.Fatalf("features = %v, %v", fs, err)
	}
	codes := map[string]string{}
	for _, f := range fs {
		codes[f.Feature] = f.Exten
		if !f.Enabled {
			t.Fatalf("%s disabled by default", f.Feature)
		}
	}
	for _, f := range recording.Features() {
		if want := recording.DefaultCode(f); codes[string(f)] != want {
			t.Fatalf("%s = %q, want %q", f, codes[string(f)], want)
		}
	}
	rec, err := s.ListFeatureExtensions(ctx, tenantB, string(recording.FeatureOnlineRecord))
	if err != nil || len(rec) != 1 || rec[0].Exten != "*1" {
		t.Fatalf("tenant B onlinerec = %v, %v", rec, err)
	}
	cr, _ := s.ListFeatureExtensions(ctx, tenantA, string(recording.FeatureCallRecord))
	f := cr[0]
	f.Enabled = false
	got, err := s.UpdateFeatureExtension(ctx, f)
	if err != nil || got.Enabled {
		t.Fatalf("disable: %+v, %v", got, err)
	}
	if _, err := s.GetFeatureExtension(ctx, tenantB, f.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant's feature visible: %v", err)
	}
	f.Exten = "*3" // taken by onlinerec
	if _, err := s.UpdateFeatureExtension(ctx, f); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate exten: err = %v", err)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	u := mustUser(t, s, tenantA, userOlga, "1015", "1015", "1015-desk")
	mustUser(t, s, tenantA, userAna, "1011", "1011")
	if len(u.Endpoints) != 2 || u.Name() != "User 1015" {
		t.Fatalf("created %+v", u)
	}
	byEP, err := s.UserByEndpoint(ctx, tenantA, "1015-desk")
	if err != nil || byEP.UUID != userOlga {
		t.Fatalf("by endpoint: %+v, %v", byEP, err)
	}
	if _, err := s.UserByEndpoint(ctx, tenantB, "1015-desk"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("endpoint leaked across tenants: %v", err)
	}
	u.CallRecordOutgoingExternalEnabled, u.OnlineCallRecordEnabled = true, true
	u.Endpoints = []string{"1015"}
	got, err := s.UpdateUser(ctx, u)
	if err != nil || !got.CallRecordOutgoingExternalEnabled || !got.OnlineCallRecordEnabled || len(got.Endpoints) != 1 || !got.AutoRecordAny() {
		t.Fatalf("update: %+v, %v", got, err)
	}
	if err := s.SetUserAutoRecord(ctx, userOlga, true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetUser(ctx, tenantA, userOlga)
	if !(got.CallRecordIncomingInternalEnabled && got.CallRecordIncomingExternalEnabled &&
		got.CallRecordOutgoingInternalEnabled && got.CallRecordOutgoingExternalEnabled) {
		t.Fatalf("auto record on: %+v", got)
	}
	if err := s.SetUserAutoRecord(ctx, userOlga, false); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetUser(ctx, tenantA, userOlga)
	if got.AutoRecordAny() {
		t.Fatalf("auto record off: %+v", got)
	}
	if _, err := s.GetUser(ctx, tenantB, userOlga); !errors.Is(err, ErrNotFound) {
		t.Fatalf("user visible from other tenant: %v", err)
	}
	// Another user may not take an endpoint already in use.
	if _, err := s.CreateUser(ctx, User{UUID: "0c5e3f5a-0000-4000-8000-000000000001", TenantUUID: tenantA,
		Extension: "1099", Endpoints: []string{"1011"}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate endpoint: err = %v", err)
	}
	if _, err := s.CreateUser(ctx, User{UUID: "0c5e3f5a-0000-4000-8000-000000000002", TenantUUID: tenantB + "x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown tenant: err = %v", err)
	}
	list, total, err := s.ListUsers(ctx, UserFilter{Tenant: tenantA, Search: "101", Page: Page{Limit: 1}})
	if err != nil || total != 2 || len(list) != 1 || list[0].Extension != "1011" {
		t.Fatalf("list: %v total %d, %v", list, total, err)
	}
	if _, total, _ := s.ListUsers(ctx, UserFilter{Tenant: tenantA, Search: "%"}); total != 0 {
		t.Fatalf("%% must match literally, got %d", total)
	}
	if err := s.DeleteUser(ctx, tenantB, userAna); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete across tenants: %v", err)
	}
	if err := s.DeleteUser(ctx, tenantA, userAna); err != nil {
		t.Fatal(err)
	}
}

func TestGroupsAndQueues(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	mustUser(t, s, tenantA, userOlga, "1015")
	mustUser(t, s, tenantB, userAna, "1011")
	for _, kind := range []string{KindGroup, KindQueue} {
		g, err := s.CreateGroup(ctx, Group{UUID: "6d2f1e4c-0000-4000-8000-00000000000" + map[string]string{KindGroup: "1", KindQueue: "2"}[kind],
			TenantUUID: tenantA, Kind: kind, Name: "sales", Members: []string{userOlga}})
		if err != nil {
			t.Fatal(err)
		}
		if g.DTMFRecordToggle || len(g.Members) != 1 {
			t.Fatalf("created %+v", g)
		}
		g.DTMFRecordToggle = true
		if g, err = s.UpdateGroup(ctx, g); err != nil || !g.DTMFRecordToggle {
			t.Fatalf("update %+v, %v", g, err)
		}
		byName, err := s.GroupByName(ctx, tenantA, kind, "sales")
		if err != nil || byName.UUID != g.UUID || !byName.DTMFRecordToggle {
			t.Fatalf("by name %+v, %v", byName, err)
		}
		g.Members = []string{userAna} // a user of another tenant
		if _, err := s.UpdateGroup(ctx, g); !errors.Is(err, ErrInvalid) {
			t.Fatalf("foreign member: err = %v", err)
		}
		if got, _ := s.GetGroup(ctx, tenantA, kind, g.UUID); len(got.Members) != 1 || got.Members[0] != userOlga {
			t.Fatalf("failed update changed members: %+v", got)
		}
		if _, err := s.GetGroup(ctx, tenantB, kind, g.UUID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("visible from other tenant: %v", err)
		}
		list, total, err := s.ListGroups(ctx, tenantA, kind, Page{})
		if err != nil || total != 1 || len(list) != 1 {
			t.Fatalf("list %v %d %v", list, total, err)
		}
	}
	// A group and a queue may share a name; two groups may not.
	if _, err := s.CreateGroup(ctx, Group{UUID: "6d2f1e4c-0000-4000-8000-000000000003", TenantUUID: tenantA,
		Kind: KindGroup, Name: "sales"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate name: err = %v", err)
	}
	if err := s.DeleteGroup(ctx, tenantA, KindQueue, "6d2f1e4c-0000-4000-8000-000000000002"); err != nil {
		t.Fatal(err)
	}
}

func TestCallsAndRecordings(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	start := time.Date(2021, 5, 14, 17, 47, 15, 632882000, time.UTC)
	c, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "1621014435.12", Start: start,
		Direction: DirectionInternal, SourceExtension: "1015", SourceName: "Olga Romanov",
		SourceUserUUID: userOlga, DestinationExtension: "1011", DestinationName: "Anastasia Romanov",
		Tags: []string{"olga"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "1621014435.12", Start: start})
	if err != nil || again.ID != c.ID {
		t.Fatalf("replayed create made %d (first %d), %v", again.ID, c.ID, err)
	}
	answer := start.Add(2513207 * time.Microsecond)
	end := start.Add(7347 * time.Millisecond)
	if err := s.SetCallAnswered(ctx, c.ID, answer); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCallAnswered(ctx, c.ID, end); err != nil { // duplicate: ignored
		t.Fatal(err)
	}
	if err := s.SetCallEnded(ctx, c.ID, end); err != nil {
		t.Fatal(err)
	}
	recStart := start.Add(time.Second)
	rec := Recording{UUID: "5ea37d0b-0823-4d2b-a18c-b9082e551b50", CallID: c.ID, TenantUUID: tenantA,
		Start: recStart, Filename: "2021-05-14T17_47_16UTC-1-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav",
		Format: string(recording.WAV), Channel: "PJSIP/1011-00000001", State: string(recording.StateRecording), StartedBy: string(recording.ByPolicy)}
	if err := s.CreateRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRecording(ctx, rec); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate recording: %v", err)
	}
	live, err := s.ListRecordings(ctx, RecordingFilter{LiveOnly: true})
	if err != nil || len(live) != 1 {
		t.Fatalf("live = %v, %v", live, err)
	}
	// The PBX confirms the start later than the row was created: the start
	// moves; an update without a start keeps it.
	recStart = recStart.Add(300 * time.Millisecond)
	rec.Start = recStart
	if err := s.UpdateRecordingState(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRecordingState(ctx, Recording{UUID: rec.UUID, State: rec.State}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.GetRecording(ctx, tenantA, rec.UUID); err != nil || !r.Start.Equal(recStart) {
		t.Fatalf("start after the PBX's confirmation: %+v, %v (want %s)", r.Start, err, recStart)
	}
	p1, p1end := recStart.Add(time.Second), recStart.Add(2*time.Second)
	rec.PausedIntervals = []Interval{{Start: p1, End: &p1end}, {Start: recStart.Add(3 * time.Second)}}
	rec.State = string(recording.StatePaused)
	if err := s.UpdateRecordingState(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.State, rec.End, rec.StopReason = string(recording.StateStopped), &end, string(recording.StopHangup)
	rec.PausedIntervals[1].End = &end
	if err := s.UpdateRecordingState(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRecordingFile(ctx, rec.UUID, FileInfo{Filename: rec.Filename, Format: string(recording.WAV),
		Size: 98604, Duration: 6163 * time.Millisecond, SHA256: "ab"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCall(ctx, tenantA, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Answer == nil || !got.Answer.Equal(answer) || got.End == nil || !got.End.Equal(end) ||
		len(got.Tags) != 1 || got.SourceUserUUID != userOlga || got.DestinationUserUUID != "" {
		t.Fatalf("call = %+v", got)
	}
	if len(got.Recordings) != 1 {
		t.Fatalf("recordings = %+v", got.Recordings)
	}
	r := got.Recordings[0]
	if r.State != string(recording.StateStopped) || r.StopReason != string(recording.StopHangup) || r.Size != 98604 || r.Duration != 6163*time.Millisecond ||
		len(r.PausedIntervals) != 2 || !r.PausedIntervals[0].End.Equal(p1end) || !r.PausedIntervals[1].End.Equal(end) || r.Live() {
		t.Fatalf("recording = %+v", r)
	}
	if _, err := s.GetCall(ctx, tenantB, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("call visible from other tenant: %v", err)
	}
	if _, err := s.GetRecording(ctx, tenantB, rec.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("recording visible from other tenant: %v", err)
	}
	if err := s.MarkRecordingDeleted(ctx, tenantA, rec.UUID, end); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.ListRecordings(ctx, RecordingFilter{Tenant: tenantA}); len(rs) != 0 {
		t.Fatalf("deleted recording listed: %v", rs)
	}
	if err := s.SetRecordingIntegrity(ctx, rec.UUID, recording.StateMissing); err != nil {
		t.Fatal(err)
	}
	bad := rec
	bad.UUID, bad.StartedBy = "5ea37d0b-0823-4d2b-a18c-b9082e551b51", "magic"
	if err := s.CreateRecording(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad started_by: %v", err)
	}
	c.Direction, c.Tags = DirectionOutbound, []string{"a", "b"}
	if err := s.UpdateCall(ctx, c); err != nil {
		t.Fatal(err)
	}
}

func TestListCallsFilters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		dir := DirectionInbound
		if i%2 == 0 {
			dir = DirectionOutbound
		}
		c, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: fmt.Sprint("a", i), Start: base.Add(time.Duration(i) * time.Hour),
			Direction: dir, SourceExtension: fmt.Sprint(1000 + i), SourceUserUUID: map[bool]string{true: userOlga}[i < 3]})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := s.CreateRecording(ctx, Recording{UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), CallID: c.ID,
				TenantUUID: tenantA, Start: c.Start, Filename: "f.wav", Format: string(recording.WAV), State: string(recording.StateStopped), StartedBy: string(recording.ByAPI)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.CreateCall(ctx, Call{TenantUUID: tenantB, PBXCallID: "b", Start: base}); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	from, until := base.Add(2*time.Hour), base.Add(8*time.Hour)
	cases := []struct {
		name           string
		f              CallFilter
		total, matched int
		first          string
	}{
		{"tenant only", CallFilter{Tenant: tenantA}, 10, 10, "1000"},
		{"all tenants", CallFilter{}, 11, 11, ""},
		{"window", CallFilter{Tenant: tenantA, From: &from, Until: &until}, 10, 6, "1002"},
		{"direction", CallFilter{Tenant: tenantA, Direction: DirectionInbound}, 10, 5, "1001"},
		{"user", CallFilter{Tenant: tenantA, UserUUID: userOlga}, 10, 3, "1000"},
		{"search", CallFilter{Tenant: tenantA, Search: "1007"}, 10, 1, "1007"},
		{"recorded", CallFilter{Tenant: tenantA, Recorded: &yes}, 10, 4, "1000"},
		{"not recorded", CallFilter{Tenant: tenantA, Recorded: &no}, 10, 6, "1001"},
		{"desc paged", CallFilter{Tenant: tenantA, Desc: true, Page: Page{Limit: 2, Offset: 1}}, 10, 10, "1008"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls, total, filtered, err := s.ListCalls(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if total != tc.total || filtered != tc.matched {
				t.Fatalf("total/filtered = %d/%d, want %d/%d", total, filtered, tc.total, tc.matched)
			}
			if tc.first != "" && (len(calls) == 0 || calls[0].SourceExtension != tc.first) {
				t.Fatalf("first = %+v, want %s", calls, tc.first)
			}
			if tc.f.Limit > 0 && len(calls) != tc.f.Limit {
				t.Fatalf("page = %d, want %d", len(calls), tc.f.Limit)
			}
		})
	}
	calls, _, _, _ := s.ListCalls(ctx, CallFilter{Tenant: tenantA, Recorded: &yes})
	for _, c := range calls {
		if len(c.Recordings) != 1 {
			t.Fatalf("call %d recordings = %v", c.ID, c.Recordings)
		}
	}
}

func TestExportJobsAndSchedules(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	j, err := s.CreateExportJob(ctx, ExportJob{UUID: "11111111-0000-4000-8000-000000000001", TenantUUID: tenantA,
		RequestedBy: "token:abc", Query: []byte(`{"from":"2021-04-01T00:00:00-05:00"}`), Email: "a@example.com"})
	if err != nil || j.Status != ExportPending {
		t.Fatalf("create %+v, %v", j, err)
	}
	now := time.Now()
	j.Status, j.Path, j.Size, j.FinishedAt = ExportFinished, "/x.zip", 1234, &now
	if err := s.UpdateExportJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetExportJob(ctx, tenantA, j.UUID)
	if err != nil || got.Status != ExportFinished || got.Size != 1234 || got.FinishedAt == nil || string(got.Query) != string(j.Query) {
		t.Fatalf("get %+v, %v", got, err)
	}
	if _, err := s.GetExportJob(ctx, tenantB, j.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("export visible across tenants: %v", err)
	}
	j.Status = "exploded"
	if err := s.UpdateExportJob(ctx, j); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad status: %v", err)
	}
	if list, _ := s.ListExportJobs(ctx, tenantA, Page{}); len(list) != 1 {
		t.Fatalf("list %v", list)
	}

	sc, err := s.CreateExportSchedule(ctx, ExportSchedule{UUID: "22222222-0000-4000-8000-000000000001", TenantUUID: tenantA,
		Name: "weekly", Cron: "22 1 * * 1", Period: PeriodPreviousWeek, Email: "c@example.com", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	sc.LastRunAt, sc.Enabled = &now, false
	if sc, err = s.UpdateExportSchedule(ctx, sc); err != nil || sc.Enabled || sc.LastRunAt == nil {
		t.Fatalf("update %+v, %v", sc, err)
	}
	if _, err := s.CreateExportSchedule(ctx, ExportSchedule{UUID: "22222222-0000-4000-8000-000000000002", TenantUUID: tenantA,
		Name: "weekly", Cron: "* * * * *", Period: PeriodPreviousDay}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate schedule name: %v", err)
	}
	if list, _ := s.ListExportSchedules(ctx, ""); len(list) != 1 {
		t.Fatalf("list %v", list)
	}
	if err := s.DeleteExportSchedule(ctx, tenantB, sc.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete across tenants: %v", err)
	}
	if err := s.DeleteExportSchedule(ctx, tenantA, sc.UUID); err != nil {
		t.Fatal(err)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustUser(t, s, tenantA, userOlga, "1015")
	admin, plain, err := s.CreateToken(ctx, Token{Role: RoleAdmin, TenantUUID: tenantA, Description: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	// The secret is nowhere in the database.
	var n int
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE hash = ? OR id = ? OR description = ?`,
		plain, plain, plain).Scan(&n); err != nil || n != 0 {
		t.Fatalf("plaintext stored (%d, %v)", n, err)
	}
	got, err := s.Authenticate(ctx, plain)
	if err != nil || got.ID != admin.ID || got.Role != RoleAdmin || got.TenantUUID != tenantA || got.LastUsedAt == nil {
		t.Fatalf("authenticate %+v, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, plain+"x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("wrong token accepted: %v", err)
	}
	if _, _, err := s.CreateToken(ctx, Token{Role: RoleSystem}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateToken(ctx, Token{Role: RoleUser, TenantUUID: tenantA, UserUUID: userOlga}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Token{{Role: RoleSystem, TenantUUID: tenantA}, {Role: RoleAdmin}, {Role: RoleUser, TenantUUID: tenantA}, {Role: "root"}} {
		if _, _, err := s.CreateToken(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("token %+v: err = %v, want ErrInvalid", bad, err)
		}
	}
	if list, _ := s.ListTokens(ctx, tenantA); len(list) != 2 {
		t.Fatalf("tenant tokens %v", list)
	}
	if list, _ := s.ListTokens(ctx, ""); len(list) != 3 {
		t.Fatalf("all tokens %v", list)
	}
	if err := s.RevokeToken(ctx, "", admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, plain); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token accepted: %v", err)
	}
	if err := s.RevokeToken(ctx, "", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	e, err := s.AppendAudit(ctx, AuditEntry{TenantUUID: tenantA, Actor: "token:abc", Action: "recording.download",
		ObjectType: "recording", ObjectID: "5ea37d0b", RemoteAddr: "127.0.0.1", Details: map[string]any{"call_id": 2060}})
	if err != nil || e.ID == 0 {
		t.Fatalf("append %+v, %v", e, err)
	}
	if _, err := s.AppendAudit(ctx, AuditEntry{Actor: "system", Action: "retention.run"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.q.ExecContext(ctx, `UPDATE audit_log SET actor = 'someone else'`); err == nil {
		t.Fatal("audit log accepted an UPDATE")
	}
	if _, err := s.q.ExecContext(ctx, `DELETE FROM audit_log`); err == nil {
		t.Fatal("audit log accepted a DELETE")
	}
	list, err := s.ListAudit(ctx, AuditFilter{Tenant: tenantA})
	if err != nil || len(list) != 1 || list[0].Actor != "token:abc" || list[0].Details["call_id"] != float64(2060) {
		t.Fatalf("list %+v, %v", list, err)
	}
	if all, _ := s.ListAudit(ctx, AuditFilter{}); len(all) != 2 {
		t.Fatalf("all %v", all)
	}
}

// Many goroutines writing calls and recordings at once: nothing lost, no
// SQLITE_BUSY surfaced.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	const writers, perWriter = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				c, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: fmt.Sprintf("%d.%d", w, i), Start: time.Now()})
				if err != nil {
					errs <- err
					return
				}
				rec := Recording{UUID: fmt.Sprintf("%08d-0000-4000-8000-%012d", w, i), CallID: c.ID, TenantUUID: tenantA,
					Start: time.Now(), Filename: "f.wav", Format: string(recording.WAV), State: string(recording.StateRecording), StartedBy: string(recording.ByPolicy)}
				if err := s.CreateRecording(ctx, rec); err != nil {
					errs <- err
					return
				}
				rec.State = string(recording.StateStopped)
				if err := s.UpdateRecordingState(ctx, rec); err != nil {
					errs <- err
					return
				}
				if _, err := s.AppendAudit(ctx, AuditEntry{Actor: "test", Action: "write"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var calls, stopped int
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM calls`).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if err := s.q.QueryRowContext(ctx, `SELECT count(*) FROM recordings WHERE state = 'stopped'`).Scan(&stopped); err != nil {
		t.Fatal(err)
	}
	if calls != writers*perWriter || stopped != writers*perWriter {
		t.Fatalf("calls %d, stopped recordings %d, want %d", calls, stopped, writers*perWriter)
	}
}

func TestWALAndForeignKeysAreOn(t *testing.T) {
	s := newStore(t)
	var mode string
	var fk int
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if err := s.db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
	if err := s.rdb.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("read pool: foreign_keys = %d, %v", fk, err)
	}
}

// The read pool maps the file (readMmapSize); the read-write pool does not.
func TestReadPoolMapsTheFile(t *testing.T) {
	s := newStore(t)
	var n int64
	if err := s.rdb.QueryRow(`PRAGMA mmap_size`).Scan(&n); err != nil || n != readMmapSize {
		t.Fatalf("read pool: mmap_size = %d, %v; want %d", n, err, readMmapSize)
	}
	if err := s.db.QueryRow(`PRAGMA mmap_size`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("read-write pool: mmap_size = %d, %v; want 0", n, err)
	}
	var qo int
	if err := s.rdb.QueryRow(`PRAGMA query_only`).Scan(&qo); err != nil || qo != 1 {
		t.Fatalf("read pool: query_only = %d, %v", qo, err)
	}
}
