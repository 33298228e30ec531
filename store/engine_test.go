package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/executor"
	"github.com/callrecd/callrecd/recording"
)

// recordingPBX is a PBX that accepts every command and remembers them.
type recordingPBX struct {
	mu       sync.Mutex
	started  []string
	stopped  []string
	prompts  []engine.Prompt
	hungUp   []string
	channels map[string]string // recording name → channel
}

func (p *recordingPBX) StartRecording(_ context.Context, ch, name string, _ recording.Format) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = append(p.started, name)
	if p.channels == nil {
		p.channels = map[string]string{}
	}
	p.channels[name] = ch
	return nil
}
func (p *recordingPBX) PauseRecording(context.Context, string) error  { return nil }
func (p *recordingPBX) ResumeRecording(context.Context, string) error { return nil }
func (p *recordingPBX) StopRecording(_ context.Context, h string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = append(p.stopped, h)
	return nil
}
func (p *recordingPBX) Play(_ context.Context, _ []string, pr engine.Prompt) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prompts = append(p.prompts, pr)
	return nil
}
func (p *recordingPBX) Hangup(_ context.Context, ch string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hungUp = append(p.hungUp, ch)
	return nil
}

// The real engine and executor on the real store: an outside caller
// reaches a user whose incoming_external flag is on; the call and its
// recording land in SQLite as the engine decided them, and *26 writes the
// user's flags.
func TestEngineOnStore(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	u := mustUser(t, s, tenantA, userOlga, "1001", "1001")
	u.CallRecordIncomingExternalEnabled = true
	if _, err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	pbx := &recordingPBX{}
	eng, err := engine.New(engine.Config{Settings: ForEngine{s}, Index: ForEngine{s}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := executor.New(executor.Config{Engine: eng, PBX: pbx, Records: ForEngine{s}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 19, 12, 2, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, ev := range []engine.Event{
		engine.ChannelCreated{At: at(0), Channel: "trunk-1", CallID: "pbx-1", Tenant: tenantA, Endpoint: "carrier",
			Role: engine.RoleExternal, CallerNumber: "+4915112345678", CalleeNumber: "49305551001"},
		engine.ChannelCreated{At: at(10), Channel: "user-1", CallID: "pbx-1", Tenant: tenantA, Endpoint: "1001",
			Role: engine.RoleInternal, CallerNumber: "+4915112345678", CalleeNumber: "1001"},
		engine.ChannelAnswered{At: at(2000), Channel: "user-1"},
		engine.ChannelAnswered{At: at(2001), Channel: "trunk-1"},
		engine.ChannelBridged{At: at(2002), Channel: "trunk-1", Bridge: "b1"},
		engine.ChannelBridged{At: at(2003), Channel: "user-1", Bridge: "b1"},
	} {
		e.Handle(ctx, ev)
	}
	if len(pbx.started) != 1 {
		t.Fatalf("recordings started: %v", pbx.started)
	}
	name := pbx.started[0]
	e.Handle(ctx, engine.RecordingStarted{At: at(2010), Name: name, Channel: pbx.channels[name]})
	e.Handle(ctx, engine.Hangup{At: at(9000), Channel: "user-1", Cause: 16})
	e.Handle(ctx, engine.Hangup{At: at(9001), Channel: "trunk-1", Cause: 16})
	e.Handle(ctx, engine.RecordingFinished{At: at(9005), Name: name})

	r, err := s.GetRecording(ctx, tenantA, name)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != string(recording.StateStopped) || r.StopReason != string(recording.StopHangup) || r.StartedBy != string(recording.ByPolicy) || r.End == nil ||
		r.Filename == "" || r.Format != string(recording.WAV) {
		t.Fatalf("recording row = %+v", r)
	}
	c, err := s.GetCall(ctx, tenantA, r.CallID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Direction != DirectionInbound || c.PBXCallID != "pbx-1" || c.Answer == nil || c.End == nil ||
		c.DestinationUserUUID != userOlga || c.SourceExtension != "+4915112345678" || len(c.Recordings) != 1 {
		t.Fatalf("call row = %+v", c)
	}

	// *26 dialed by the user: all four flags flip on, the prompt plays, the
	// feature call is hung up.
	e.Handle(ctx, engine.ChannelCreated{At: at(20000), Channel: "user-2", CallID: "pbx-2", Tenant: tenantA,
		Endpoint: "1001", Role: engine.RoleInternal, CallerNumber: "1001", CalleeNumber: "*26"})
	e.Handle(ctx, engine.FeatureCall{At: at(20010), Channel: "user-2", Feature: recording.FeatureCallRecord})
	got, _ := s.GetUser(ctx, tenantA, userOlga)
	if got.AutoRecordAny() {
		t.Fatalf("*26 with a flag on must switch all off: %+v", got)
	}
	if len(pbx.hungUp) != 1 || len(pbx.prompts) == 0 || pbx.prompts[len(pbx.prompts)-1] != engine.PromptDeactivated {
		t.Fatalf("hung up %v, prompts %v", pbx.hungUp, pbx.prompts)
	}

	// Policy reads come from the tenant's settings and feature codes.
	tn, _ := s.GetTenant(ctx, tenantA)
	tn.OnlineRecordMode, tn.RecordExternalToExternal = string(recording.OnlineRecordStop), true
	if _, err := s.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	p, err := ForEngine{s}.TenantPolicy(ctx, tenantA)
	if err != nil || p.OnlineRecordMode != recording.OnlineRecordStop || !p.RecordExternalToExternal ||
		p.Features.OnlineRecord.Code != "*3" || p.Features.CallRecord.Code != "*26" || !p.Features.Pause.Enabled {
		t.Fatalf("policy = %+v, %v", p, err)
	}
	if p, err := (ForEngine{s}).TenantPolicy(ctx, tenantB); err != nil || !p.AudioRecordingEnabled {
		t.Fatalf("unknown tenant policy = %+v, %v", p, err)
	}
	if _, found, err := (ForEngine{s}).FindRecording(ctx, name); !found || err != nil {
		t.Fatalf("FindRecording: %v %v", found, err)
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
