package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
)

// Every value of the vocabulary is accepted by the schema and read back as
// written, and the SQL that picks live rows (ListRecordings' LiveOnly,
// IndexedRecordings' SkipLive) agrees with recording.State.Live.
func TestVocabularyRoundTripsAndLiveAgrees(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	c, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "a", Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	create := func(st recording.State, by recording.StartedBy, f recording.Format) string {
		t.Helper()
		n++
		uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		if err := s.CreateRecording(ctx, Recording{UUID: uuid, CallID: c.ID, TenantUUID: tenantA,
			Start: start.Add(time.Duration(n) * time.Minute), Filename: uuid + "." + string(f), Format: string(f),
			State: string(st), StartedBy: string(by)}); err != nil {
			t.Fatalf("state %s, started_by %s, format %s: %v", st, by, f, err)
		}
		r, err := s.GetRecording(ctx, tenantA, uuid)
		if err != nil || r.State != string(st) || r.StartedBy != string(by) || r.Format != string(f) || r.Live() != st.Live() {
			t.Fatalf("read back %+v, %v", r, err)
		}
		return uuid
	}
	var live []string
	for _, st := range recording.States() {
		if uuid := create(st, recording.ByPolicy, recording.WAV); st.Live() {
			live = append(live, uuid)
		}
	}
	for _, by := range recording.StartedBys() {
		create(recording.StateStopped, by, recording.WAV)
	}
	for _, f := range recording.Formats() {
		create(recording.StateStopped, recording.ByAPI, f)
	}
	for _, why := range recording.StopReasons() {
		uuid := create(recording.StateRecording, recording.ByDTMF, recording.WAV)
		end := start.Add(time.Hour)
		if err := s.UpdateRecordingState(ctx, Recording{UUID: uuid, State: string(recording.StateStopped), End: &end,
			StopReason: string(why)}); err != nil {
			t.Fatalf("stop_reason %s: %v", why, err)
		}
		if r, err := s.GetRecording(ctx, tenantA, uuid); err != nil || r.StopReason != string(why) {
			t.Fatalf("stop_reason %s read back as %q, %v", why, r.StopReason, err)
		}
	}
	rs, err := s.ListRecordings(ctx, RecordingFilter{Tenant: tenantA, LiveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.UUID)
	}
	if !slices.Equal(got, live) {
		t.Fatalf("LiveOnly lists %v; live states give %v", got, live)
	}
	idx, err := s.IndexedRecordings(ctx, media.IndexQuery{Tenant: tenantA, Limit: 1000, SkipLive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != n-len(live) {
		t.Fatalf("SkipLive kept %d of %d rows, want %d", len(idx), n, n-len(live))
	}
	for _, r := range idx {
		if r.State.Live() {
			t.Fatalf("SkipLive kept %s (%s)", r.UUID, r.State)
		}
	}
}

func TestAdoptRecordingCreatesTheCallWithItsIDAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	start := time.Date(2021, 5, 14, 17, 47, 16, 0, time.UTC)
	a := media.Adoption{Tenant: tenantA, UUID: "5ea37d0b-0823-4d2b-a18c-b9082e551b50", CallID: 2060, Start: start,
		Filename: "2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav", Format: recording.WAV,
		Size: 16044, SHA256: "ab", Duration: 1500 * time.Millisecond, State: recording.StateStopped}
	if err := s.AdoptRecording(ctx, a); err != nil {
		t.Fatal(err)
	}
	c, err := s.GetCall(ctx, tenantA, 2060)
	if err != nil {
		t.Fatal(err)
	}
	if c.PBXCallID != "reindex:2060" || !c.Start.Equal(start) || c.End == nil || !c.End.Equal(start.Add(1500*time.Millisecond)) ||
		!slices.Equal(c.Tags, []string{TagReindexed, TagGuessedDirection}) || len(c.Recordings) != 1 {
		t.Fatalf("placeholder call %+v", c)
	}
	// What the file tells (answered, its duration) and Wazo's values for
	// the rest: Wazo's database has no "unknown" direction.
	if c.Answer == nil || !c.Answer.Equal(start) || c.Direction != DirectionInternal {
		t.Fatalf("placeholder call answer %v, direction %q", c.Answer, c.Direction)
	}
	r := c.Recordings[0]
	if r.UUID != a.UUID || r.Size != 16044 || r.SHA256 != "ab" || r.Duration != 1500*time.Millisecond || r.State != string(recording.StateStopped) ||
		r.Filename != a.Filename || r.Format != "wav" || r.End == nil {
		t.Fatalf("adopted %+v", r)
	}
	// A new call gets a fresh id past the adopted one.
	next, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "x", Start: start})
	if err != nil || next.ID <= 2060 {
		t.Fatalf("next call %d, %v", next.ID, err)
	}

	// The same uuid again: already indexed.
	if err := s.AdoptRecording(ctx, a); !errors.Is(err, media.ErrAlreadyIndexed) {
		t.Fatalf("again: %v", err)
	}
	// A second recording of the same call reuses it.
	b := a
	b.UUID, b.Filename = "6ea37d0b-0823-4d2b-a18c-b9082e551b50", "2021-05-14T17_47_16UTC-2060-6ea37d0b-0823-4d2b-a18c-b9082e551b50.wav"
	if err := s.AdoptRecording(ctx, b); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.GetCall(ctx, tenantA, 2060); len(c.Recordings) != 2 {
		t.Fatalf("call has %d recordings", len(c.Recordings))
	}
	// The call id belongs to another tenant: refused.
	other := b
	other.Tenant, other.UUID = tenantB, "7ea37d0b-0823-4d2b-a18c-b9082e551b50"
	if err := s.AdoptRecording(ctx, other); !errors.Is(err, ErrConflict) {
		t.Fatalf("other tenant's call: %v", err)
	}
	// A row the schema refuses leaves no placeholder call behind.
	bad := a
	bad.UUID, bad.CallID, bad.Format = "8ea37d0b-0823-4d2b-a18c-b9082e551b50", 3000, "ogg"
	if err := s.AdoptRecording(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad format: %v", err)
	}
	if _, err := s.GetCall(ctx, "", 3000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("placeholder call left behind: %v", err)
	}
	bad.Format, bad.State = recording.WAV, recording.StateRecording
	if err := s.AdoptRecording(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("live state: %v", err)
	}
}

func TestIndexedRecordingsFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustTenant(t, s, tenantB)
	c, _ := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "a", Start: time.Now()})
	cb, _ := s.CreateCall(ctx, Call{TenantUUID: tenantB, PBXCallID: "b", Start: time.Now()})
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(uuid, tenant string, call int64, start time.Time, state string) {
		t.Helper()
		if err := s.CreateRecording(ctx, Recording{UUID: uuid, CallID: call, TenantUUID: tenant, Start: start,
			Filename: uuid + ".wav", Format: string(recording.WAV), State: state, StartedBy: string(recording.ByPolicy)}); err != nil {
			t.Fatal(err)
		}
	}
	mk("a1", tenantA, c.ID, t0, string(recording.StateStopped))
	mk("a2", tenantA, c.ID, t0.Add(time.Hour), string(recording.StateRecording))
	mk("a3", tenantA, c.ID, t0.Add(2*time.Hour), string(recording.StateMissing))
	mk("a4", tenantA, c.ID, t0.Add(3*time.Hour), string(recording.StateStopped))
	mk("b1", tenantB, cb.ID, t0, string(recording.StateStopped))
	if err := s.MarkRecordingDeleted(ctx, tenantA, "a1", t0); err != nil {
		t.Fatal(err)
	}
	uuids := func(q media.IndexQuery) []string {
		t.Helper()
		var out []string
		for {
			page, err := s.IndexedRecordings(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				out = append(out, r.UUID)
			}
			if len(page) < q.Limit {
				return out
			}
			q.After = page[len(page)-1].UUID
		}
	}
	if got := uuids(media.IndexQuery{Tenant: tenantA, Limit: 1}); len(got) != 4 {
		t.Errorf("all of A: %v", got)
	}
	if got := uuids(media.IndexQuery{Tenant: tenantA, Limit: 2, SkipDeleted: true, SkipLive: true,
		StartedBefore: t0.Add(3 * time.Hour)}); len(got) != 1 || got[0] != "a3" {
		t.Errorf("expirable of A: %v", got)
	}
	if _, err := s.IndexedRecordings(ctx, media.IndexQuery{Limit: 1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no tenant: %v", err)
	}
	tenants, err := s.IndexedTenants(ctx)
	if err != nil || len(tenants) != 2 {
		t.Errorf("tenants %v %v", tenants, err)
	}

	// UpdateIndexedFile never touches a live row.
	if err := s.UpdateIndexedFile(ctx, "a2", media.IndexedFile{Filename: "x.wav", Format: recording.WAV, State: recording.StateStopped}); !errors.Is(err, ErrNotFound) {
		t.Errorf("live row updated: %v", err)
	}
	if err := s.UpdateIndexedFile(ctx, "a3", media.IndexedFile{Filename: "a3.mp3", Format: recording.MP3, Size: 9, SHA256: "cd",
		Duration: time.Second, State: recording.StateStopped}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetRecording(ctx, "", "a3"); r.Filename != "a3.mp3" || r.Format != "mp3" || r.Size != 9 || r.State != string(recording.StateStopped) {
		t.Errorf("updated %+v", r)
	}
}

func TestRetireRecordingAuditsOnce(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	days := 7
	tn := mustTenant(t, s, tenantA)
	tn.Retention.RecordingDays = &days
	if _, err := s.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	mustTenant(t, s, tenantB)
	pol, err := s.RecordingRetention(ctx)
	if err != nil || len(pol) != 1 || pol[0] != (media.TenantRetention{Tenant: tenantA, Days: 7}) {
		t.Fatalf("retention %v %v", pol, err)
	}
	c, _ := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "a", Start: time.Now()})
	for uuid, state := range map[string]string{"done": string(recording.StateStopped), "live": string(recording.StatePaused)} {
		if err := s.CreateRecording(ctx, Recording{UUID: uuid, CallID: c.ID, TenantUUID: tenantA, Start: time.Now(),
			Filename: "f.wav", Format: string(recording.WAV), State: state, StartedBy: string(recording.ByPolicy)}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2024, 6, 1, 3, 0, 0, 0, time.UTC)
	ret := media.Retirement{Tenant: tenantA, UUID: "done", At: at, Actor: "retention", Details: map[string]any{"recording_days": 7}}
	for range 2 {
		if err := s.RetireRecording(ctx, ret); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := s.GetRecording(ctx, "", "done"); !r.Deleted || !r.DeletedAt.Equal(at) {
		t.Fatalf("retired %+v", r)
	}
	live := ret
	live.UUID = "live"
	if err := s.RetireRecording(ctx, live); !errors.Is(err, ErrInvalid) {
		t.Fatalf("live retired: %v", err)
	}
	wrongTenant := ret
	wrongTenant.Tenant = tenantB
	if err := s.RetireRecording(ctx, wrongTenant); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant's recording: %v", err)
	}
	audit, _ := s.ListAudit(ctx, AuditFilter{})
	if len(audit) != 1 || audit[0].Actor != "retention" || audit[0].Action != AuditRecordingDelete || audit[0].ObjectID != "done" {
		t.Fatalf("audit %+v", audit)
	}
}
