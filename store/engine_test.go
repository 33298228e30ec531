package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
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

func (p *recordingPBX) StartRecording(_ context.Context, ch, name, _ string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = append(p.started, name)
	if p.channels == nil {
		p.channels = map[string]string{}
	}
	p.channels[name] = ch
	return name, nil
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

// The real engine on the real store: an outside caller reaches a user whose
// incoming_external flag is on; the call and its recording land in SQLite
// as the engine decided them, and *26 writes the user's flags.
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
	e := engine.New(engine.Config{PBX: pbx, Settings: ForEngine{s}, Records: ForEngine{s}})
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
	if r.State != StateStopped || r.StopReason != StopHangup || r.StartedBy != StartedByPolicy || r.End == nil ||
		r.Filename == "" || r.Format != FormatWAV {
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
	e.Handle(ctx, engine.FeatureCall{At: at(20010), Channel: "user-2", Feature: engine.FeatureCallRecord})
	got, _ := s.GetUser(ctx, tenantA, userOlga)
	if got.AutoRecordAny() {
		t.Fatalf("*26 with a flag on must switch all off: %+v", got)
	}
	if len(pbx.hungUp) != 1 || len(pbx.prompts) == 0 || pbx.prompts[len(pbx.prompts)-1] != engine.PromptDeactivated {
		t.Fatalf("hung up %v, prompts %v", pbx.hungUp, pbx.prompts)
	}

	// Policy reads come from the tenant's settings and feature codes.
	tn, _ := s.GetTenant(ctx, tenantA)
	tn.OnlineRecordMode, tn.RecordExternalToExternal = OnlineRecordStop, true
	if _, err := s.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	p, err := ForEngine{s}.TenantPolicy(ctx, tenantA)
	if err != nil || p.StarMode != engine.StarStop || !p.RecordExternalToExternal ||
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
