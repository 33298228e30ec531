package wiring

import (
	"context"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// The engine and executor on the real store, as Build makes them: an
// outside caller reaches a user whose incoming_external flag is on; the
// call and its recording land in SQLite as the engine decided them (the
// recording's Wazo file name carries the CDR id the store gave the call),
// and *26 writes the user's flags.
func TestEngineOnStore(t *testing.T) {
	ctx := context.Background()
	sys := newTestSystem(t, Options{})
	const olga = "b2e98781-7118-4010-8da3-b93b1b7e1389"
	if _, err := sys.Store.CreateUser(ctx, store.User{UUID: olga, TenantUUID: tenant, Extension: "1001",
		Endpoints: []string{"1001"}, CallRecordIncomingExternalEnabled: true}); err != nil {
		t.Fatal(err)
	}
	x := sys.Executor
	t0 := time.Date(2026, 11, 21, 19, 12, 2, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, ev := range []engine.Event{
		engine.ChannelCreated{At: at(0), Channel: "trunk-1", CallID: "pbx-1", Tenant: tenant, Endpoint: "carrier",
			Role: engine.RoleExternal, CallerNumber: "+4915112345678", CalleeNumber: "49305551001"},
		engine.ChannelCreated{At: at(10), Channel: "user-1", CallID: "pbx-1", Tenant: tenant, Endpoint: "1001",
			Role: engine.RoleInternal, CallerNumber: "+4915112345678", CalleeNumber: "1001"},
		engine.ChannelAnswered{At: at(2000), Channel: "user-1"},
		engine.ChannelAnswered{At: at(2001), Channel: "trunk-1"},
		engine.ChannelBridged{At: at(2002), Channel: "trunk-1", Bridge: "b1"},
		engine.ChannelBridged{At: at(2003), Channel: "user-1", Bridge: "b1"},
	} {
		x.Handle(ctx, ev)
	}
	x.Flush()
	recs, err := sys.Store.ListRecordings(ctx, store.RecordingFilter{Tenant: tenant})
	if err != nil || len(recs) != 1 {
		t.Fatalf("recordings %+v, %v", recs, err)
	}
	name := recs[0].UUID
	x.Handle(ctx, engine.RecordingStarted{At: at(2010), Name: name, Channel: "trunk-1"})
	x.Handle(ctx, engine.Hangup{At: at(9000), Channel: "user-1", Cause: 16})
	x.Handle(ctx, engine.Hangup{At: at(9001), Channel: "trunk-1", Cause: 16})
	x.Handle(ctx, engine.RecordingFinished{At: at(9005), Name: name})
	x.Flush()

	r, err := sys.Store.GetRecording(ctx, tenant, name)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != string(recording.StateStopped) || r.StopReason != string(recording.StopHangup) ||
		r.StartedBy != string(recording.ByPolicy) || r.End == nil || r.Format != string(recording.WAV) ||
		r.Filename != recording.Filename(at(2000), r.CallID, name, recording.WAV) {
		t.Fatalf("recording row = %+v", r)
	}
	// The row was created at the answer; the PBX's RecordingStarted moved
	// its start to the audio's, and the index must say so (the soak found
	// rows up to 1.6 s longer than their files after a burst of starts).
	if !r.Start.Equal(at(2010)) {
		t.Fatalf("recording start %s, want the RecordingStarted's %s", r.Start, at(2010))
	}
	c, err := sys.Store.GetCall(ctx, tenant, r.CallID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Direction != store.DirectionInbound || c.PBXCallID != "pbx-1" || c.Answer == nil || c.End == nil ||
		c.DestinationUserUUID != olga || c.SourceExtension != "+4915112345678" || len(c.Recordings) != 1 {
		t.Fatalf("call row = %+v", c)
	}

	// *26 dialed by the user: a flag is on, so all four go off.
	x.Handle(ctx, engine.ChannelCreated{At: at(20000), Channel: "user-2", CallID: "pbx-2", Tenant: tenant,
		Endpoint: "1001", Role: engine.RoleInternal, CallerNumber: "1001", CalleeNumber: "*26"})
	x.Handle(ctx, engine.FeatureCall{At: at(20010), Channel: "user-2", Feature: recording.FeatureCallRecord})
	x.Flush()
	if got, _ := sys.Store.GetUser(ctx, tenant, olga); got.AutoRecordAny() {
		t.Fatalf("*26 with a flag on must switch all off: %+v", got)
	}
}
