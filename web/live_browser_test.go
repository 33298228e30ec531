//go:build browser

package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// startLiveCall: Bob (whom nothing records) calls a mobile, and they talk.
func (s *site) startLiveCall() {
	ctx, x, now := context.Background(), s.sys.Executor, time.Now()
	for _, ev := range []engine.Event{
		engine.ChannelCreated{At: now, Channel: "live-a", CallID: "pbx-live", Tenant: tenantAcme, Endpoint: bob.endpoint,
			Role: engine.RoleInternal, CallerNumber: bob.number, CallerName: bob.name, CalleeNumber: mobile.number},
		engine.ChannelCreated{At: now, Channel: "live-b", CallID: "pbx-live", Tenant: tenantAcme, Endpoint: "carrier",
			Role: engine.RoleExternal, CallerNumber: bob.number, CallerName: bob.name, CalleeNumber: mobile.number},
		engine.ChannelAnswered{At: now, Channel: "live-b"},
		engine.ChannelAnswered{At: now, Channel: "live-a"},
		engine.ChannelBridged{At: now, Channel: "live-a", Bridge: "br-live"},
		engine.ChannelBridged{At: now, Channel: "live-b", Bridge: "br-live"},
	} {
		x.Handle(ctx, ev)
	}
	x.Flush()
}

// liveRecording is the live call's recording, as the engine knows it.
func (s *site) liveRecording() engine.RecordingInfo {
	s.t.Helper()
	ci, err := s.sys.Executor.Call(tenantAcme, "pbx-live")
	if err != nil || len(ci.Recordings) == 0 {
		s.t.Fatalf("the live call's recording: %+v, %v", ci, err)
	}
	return ci.Recordings[len(ci.Recordings)-1]
}

// The live calls panel polls the calls going on and controls their
// recording through the API: start, pause, resume, stop, each reaching the
// engine and the index.
func TestLiveCallsPanelControlsRecording(t *testing.T) {
	s := newLiveSite(t)
	b := newTab(t, s)
	b.open("/ui/", `document.querySelector('#signin-username') !== null`)
	b.signIn("admin", adminPassword)
	b.waitFor("no live call yet", `!document.querySelector('#live-empty').hidden && document.querySelector('#live-table').hidden`)

	s.startLiveCall()
	b.waitFor("the live call, not recorded", `document.querySelectorAll('#live-table tbody tr').length === 1 &&
		document.querySelector('#live-table tr[data-state="none"] button[data-verb="start"]') !== null`)
	b.checkA11y("live calls")
	b.shoot("live-calls")

	b.click(`#live-table button[data-verb="start"]`)
	b.waitFor("recording", `document.querySelector('#live-table tr[data-state="recording"] button[data-verb="pause"]') !== null`)
	rec := s.liveRecording()
	if rec.StartedBy != recording.ByAPI || rec.State != recording.StateRecording {
		t.Fatalf("the panel's start: %+v", rec)
	}
	// The PBX confirms (its command went to the fake ARI).
	s.sys.Executor.Handle(context.Background(), engine.RecordingStarted{At: time.Now(), Name: rec.UUID, Channel: rec.Channel})

	b.click(`#live-table button[data-verb="pause"]`)
	b.waitFor("paused", `document.querySelector('#live-table tr[data-state="paused"] button[data-verb="resume"]') !== null`)
	if r := s.liveRecording(); r.State != recording.StatePaused {
		t.Fatalf("after Pause the engine has %s", r.State)
	}
	b.click(`#live-table button[data-verb="resume"]`)
	b.waitFor("recording again", `document.querySelector('#live-table tr[data-state="recording"]') !== null`)
	b.click(`#live-table button[data-verb="stop"]`)
	b.waitFor("stopped", `document.querySelector('#live-table tr[data-state="none"] button[data-verb="start"]') !== null`)
	s.sys.Executor.Flush()
	r, err := s.sys.Store.GetRecording(context.Background(), tenantAcme, rec.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if r.StopReason != string(recording.StopAPI) || len(r.PausedIntervals) != 1 {
		t.Fatalf("the recording's row after the panel's pause, resume and stop: %+v", r)
	}

	// The call ends: the panel empties.
	for _, ch := range []string{"live-a", "live-b"} {
		s.sys.Executor.Handle(context.Background(), engine.Hangup{At: time.Now(), Channel: ch, Cause: 16})
	}
	b.waitFor("no live call", `!document.querySelector('#live-empty').hidden`)
}
