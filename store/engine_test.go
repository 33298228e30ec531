package store

import (
	"context"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// ForEngine maps the engine's rows both ways: a call and its recording
// written as the executor writes them read back as the engine wrote them,
// *26 sets the user's four flags, and the policy reads come from the
// tenant's settings and feature codes. (The engine and executor on this
// store, as serve builds them, are tested in wiring.)
func TestForEngineRows(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustUser(t, s, tenantA, userOlga, "1001", "1001")
	fe := ForEngine{s}
	t0 := time.Date(2026, 11, 21, 19, 12, 2, 0, time.UTC)
	row := engine.CallRow{Tenant: tenantA, PBXCallID: "pbx-1", Start: t0, Direction: engine.DirInbound,
		SourceNumber: "+4915112345678", DestinationNumber: "1001", DestinationUserUUID: userOlga, DestinationExtension: "1001"}
	id, err := fe.CreateCall(ctx, row)
	if err != nil {
		t.Fatal(err)
	}
	row.ID, row.Answer = id, t0.Add(2*time.Second)
	if err := fe.UpdateCall(ctx, row); err != nil {
		t.Fatal(err)
	}
	const name = "0b7f3c1e-5d2a-4f6b-8c9d-0e1f2a3b4c5d"
	rec := engine.RecordingRow{UUID: name, CallID: id, Tenant: tenantA, Start: row.Answer, Format: recording.WAV,
		Filename: recording.Filename(row.Answer, id, name, recording.WAV), State: recording.StateRecording, StartedBy: recording.ByPolicy}
	if err := fe.CreateRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.State, rec.StopReason, rec.End = recording.StateStopped, recording.StopHangup, t0.Add(9*time.Second)
	rec.Paused = []engine.Interval{{Start: t0.Add(3 * time.Second), End: t0.Add(4 * time.Second)}}
	if err := fe.UpdateRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, found, err := fe.FindRecording(ctx, name)
	if err != nil || !found || got.State != rec.State || got.StopReason != rec.StopReason || !got.End.Equal(rec.End) ||
		got.CallID != id || got.Format != recording.WAV || len(got.Paused) != 1 || !got.Paused[0].End.Equal(rec.Paused[0].End) {
		t.Fatalf("FindRecording = %+v, %v, %v", got, found, err)
	}
	c, err := s.GetCall(ctx, tenantA, id)
	if err != nil || c.Direction != DirectionInbound || c.Answer == nil || c.DestinationUserUUID != userOlga ||
		c.SourceExtension != "+4915112345678" || len(c.Recordings) != 1 {
		t.Fatalf("call row = %+v, %v", c, err)
	}

	if err := fe.SetUserAutoRecord(ctx, tenantA, userOlga, true); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, tenantA, userOlga); !u.CallRecordIncomingExternalEnabled || !u.CallRecordOutgoingInternalEnabled {
		t.Fatalf("*26 on: %+v", u)
	}

	tn, _ := s.GetTenant(ctx, tenantA)
	tn.OnlineRecordMode, tn.RecordExternalToExternal = string(recording.OnlineRecordStop), true
	if _, err := s.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	p, err := fe.TenantPolicy(ctx, tenantA)
	if err != nil || p.OnlineRecordMode != recording.OnlineRecordStop || !p.RecordExternalToExternal ||
		p.Features.OnlineRecord.Code != "*3" || p.Features.CallRecord.Code != "*26" || !p.Features.Pause.Enabled {
		t.Fatalf("policy = %+v, %v", p, err)
	}
	if p, err := fe.TenantPolicy(ctx, tenantB); err != nil || !p.AudioRecordingEnabled {
		t.Fatalf("unknown tenant policy = %+v, %v", p, err)
	}
}

// The engine's settings reads are cached, yet see every change at once:
// made through this store, inside a transaction once it commits, or by
// another process (another Store on the same file, as `callrecd import`).
func TestEngineSettingsCacheSeesEveryChange(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	mustUser(t, s, tenantA, userOlga, "1001", "1001")
	fe := ForEngine{s}
	other, err := Open(ctx, s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	u, found, err := fe.UserByEndpoint(ctx, tenantA, "1001")
	if err != nil || !found || u.OnlineCallRecordEnabled {
		t.Fatalf("first read %+v %v %v", u, found, err)
	}
	// Through this store.
	full, _ := s.GetUser(ctx, tenantA, userOlga)
	full.OnlineCallRecordEnabled = true
	if _, err := s.UpdateUser(ctx, full); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := fe.UserByEndpoint(ctx, tenantA, "1001"); !u.OnlineCallRecordEnabled {
		t.Fatal("change through this store not seen")
	}
	// By another process.
	if err := other.SetUserAutoRecord(ctx, userOlga, true); err != nil {
		t.Fatal(err)
	}
	if u, _, _ := fe.UserByEndpoint(ctx, tenantA, "1001"); !u.CallRecordIncomingExternal {
		t.Fatal("change by another process not seen")
	}
	// A new endpoint, a renamed group, a disabled feature code.
	if _, found, _ := fe.UserByEndpoint(ctx, tenantA, "1001-desk"); found {
		t.Fatal("unknown endpoint found")
	}
	full, _ = s.GetUser(ctx, tenantA, userOlga)
	full.Endpoints = append(full.Endpoints, "1001-desk")
	if _, err := other.UpdateUser(ctx, full); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := fe.UserByEndpoint(ctx, tenantA, "1001-desk"); !found {
		t.Fatal("a cached miss hides a new endpoint")
	}
	if _, err := s.CreateGroup(ctx, Group{UUID: "6d2f1e4c-0000-4000-8000-000000000001", TenantUUID: tenantA,
		Kind: KindQueue, Name: "support"}); err != nil {
		t.Fatal(err)
	}
	if g, found, _ := fe.Group(ctx, tenantA, engine.KindQueue, "support"); !found || g.DTMFRecordToggle {
		t.Fatalf("group %+v %v", g, found)
	}
	err = s.InTx(ctx, func(ts *Store) error {
		g, _ := ts.GetGroup(ctx, tenantA, KindQueue, "6d2f1e4c-0000-4000-8000-000000000001")
		g.DTMFRecordToggle = true
		_, err := ts.UpdateGroup(ctx, g)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if g, _, _ := fe.Group(ctx, tenantA, engine.KindQueue, "support"); !g.DTMFRecordToggle {
		t.Fatal("change committed in a transaction not seen")
	}
	p, _ := fe.TenantPolicy(ctx, tenantA)
	if !p.Features.OnlineRecord.Enabled {
		t.Fatal("onlinerec disabled by default")
	}
	feats, _ := other.ListFeatureExtensions(ctx, tenantA, string(recording.FeatureOnlineRecord))
	feats[0].Enabled = false
	if _, err := other.UpdateFeatureExtension(ctx, feats[0]); err != nil {
		t.Fatal(err)
	}
	if p, _ := fe.TenantPolicy(ctx, tenantA); p.Features.OnlineRecord.Enabled {
		t.Fatal("feature change by another process not seen")
	}
}

// BenchmarkEngineSettingsReads: what one engine event costs in settings
// reads (a tenant policy and a user), cached versus read through.
func BenchmarkEngineSettingsReads(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir()+"/x.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, NewTenant(tenantA, "A"), nil); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, User{UUID: userOlga, TenantUUID: tenantA, Extension: "1001", Endpoints: []string{"1001"}}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"cached", "uncached"} {
		b.Run(mode, func(b *testing.B) {
			st := *s
			if mode == "uncached" {
				st.settings = nil
			}
			fe := ForEngine{&st}
			for b.Loop() {
				if _, err := fe.TenantPolicy(ctx, tenantA); err != nil {
					b.Fatal(err)
				}
				if _, _, err := fe.UserByEndpoint(ctx, tenantA, "1001"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
