package esl_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// An external caller reaches 1001 (incoming external flag: recorded); 1001
// transfers the caller to another external number — by SIP REFER (c1), by
// uuid_transfer (c2), by uuid_bridge (c3). FreeSWITCH keeps the recording
// running on its leg; once only the two external legs talk, callrecd stops
// it: external_to_external.
func TestStoryTransferToExternalStops(t *testing.T) {
	for _, trace := range []string{"c1_external_call_blind_transfer_refer", "c2_external_call_uuid_transfer", "c3_external_call_uuid_bridge"} {
		t.Run(trace, func(t *testing.T) {
			s := newStory(t, trace, user("1001", uuid1001, func(u *store.User) { u.CallRecordIncomingExternalEnabled = true }))
			s.replayUntil(named("CHANNEL_BRIDGE", "sofia/carrier/+15551234567"))
			s.waitCommand("uuid_record")
			r := s.one(recording.StateRecording)
			// up to the bridge of the two external legs
			s.replayUntil(func(ev esl.Event) bool {
				return ev.Name == "CHANNEL_BRIDGE" && strings.HasPrefix(ev.Get("Other-Leg-Channel-Name"), "sofia/carrier/+15557654321") ||
					ev.Name == "CHANNEL_BRIDGE" && strings.HasPrefix(ev.Get("Channel-Name"), "sofia/carrier/+15557654321")
			})
			s.eventually("stopped external_to_external", func() bool {
				rs := s.recordings()
				return len(rs) == 1 && rs[0].StopReason == string(recording.StopExternalToExternal)
			})
			s.waitCommand("uuid_record " + s.leg(r) + " stop")
			s.replayRest()
			s.final(recording.StopExternalToExternal)
		})
	}
}

// Controller restart while a recorded call is up: the new run re-syncs
// from FreeSWITCH (show channels, uuid_dump, show calls, uuid_buglist),
// adopts the running recording (no second row, no second uuid_record
// start), re-applies the row's pause state, and the call's end stops it.
func TestStoryRestartAdoptsTheRunningRecording(t *testing.T) {
	s := newStory(t, "a_record_mask_pause", user("1001", uuid1001, func(u *store.User) { autoOut(u); online(u) }), user("1002", uuid1002, nil))
	s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
	s.waitCommand("uuid_record")
	r := s.one(recording.StateRecording)
	s.halt()
	s.start()
	s.waitCommand("uuid_buglist")
	if starts := s.commands("uuid_record " + s.leg(r) + " start"); len(starts) != 1 {
		t.Fatalf("recording started again: %v", starts)
	}
	s.waitCommand("uuid_record " + s.leg(r) + " resume") // the row says recording: made sure
	s.one(recording.StateRecording)
	s.replayRest()
	s.final(recording.StopHangup)
}

// Controller down while the call ends: at restart the call is gone from
// FreeSWITCH, the rows the stopped run left open are closed (pbx_lost: nobody
// saw how it ended, as on Asterisk), and the file FreeSWITCH finished
// meanwhile is moved into the layout.
func TestStoryRestartClosesWhatEndedMeanwhile(t *testing.T) {
	s := newStory(t, "a_record_mask_pause", user("1001", uuid1001, autoOut), user("1002", uuid1002, nil))
	s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
	s.waitCommand("uuid_record")
	s.one(recording.StateRecording)
	s.halt()
	s.replayRest() // the call ends while callrecd is down
	s.start()
	r := s.final(recording.StopPBXLost)
	if r.End == nil {
		t.Fatalf("%+v", r)
	}
	calls, _, _, err := s.sys.Store.ListCalls(context.Background(), store.CallFilter{Tenant: tenant})
	if err != nil || len(calls) != 1 || calls[0].End == nil {
		t.Fatalf("call row %+v, %v", calls, err)
	}
}

// The link dies again in the middle of the re-sync, while uuid_buglist is
// asked: that snapshot is incomplete, so it must not close the leg's
// recording as lost; the next connection re-syncs and the recording carries
// on to the call's hangup.
func TestStoryLinkLostDuringResyncKeepsTheRecording(t *testing.T) {
	s := newStory(t, "a_record_mask_pause", user("1001", uuid1001, autoOut), user("1002", uuid1002, nil))
	s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
	s.waitCommand("uuid_record")
	r := s.one(recording.StateRecording)
	var cut atomic.Bool
	s.sim.srv.HandleAPI("uuid_buglist", func(cmd string) (string, []esl.Event) {
		if cut.CompareAndSwap(false, true) {
			s.sim.srv.Drop()
			return "", nil
		}
		return s.sim.uuidBuglist(cmd)
	})
	before := len(s.commands("show channels"))
	s.sim.srv.Drop()
	s.eventually("re-synced after the cut re-sync", func() bool {
		return cut.Load() && len(s.commands("show channels")) > before+1 && s.sys.Ready() == nil
	})
	s.one(recording.StateRecording)
	s.replayRest()
	s.final(recording.StopHangup)
	if starts := s.commands("uuid_record " + s.leg(r) + " start"); len(starts) != 1 {
		t.Fatalf("recording started %d times", len(starts))
	}
}

// The call hangs up while the re-sync after a cut link reads its
// recordings: the channels read before still show it up, its recording is
// gone. That is a hangup, not a recording FreeSWITCH lost (no pbx_lost row,
// no new start on a leg already gone).
func TestStoryHangupDuringResyncIsAHangup(t *testing.T) {
	s := newStory(t, "a_record_mask_pause", user("1001", uuid1001, autoOut), user("1002", uuid1002, nil))
	s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
	s.waitCommand("uuid_record")
	first := s.one(recording.StateRecording)
	var cut, hungUp atomic.Bool
	s.sim.srv.HandleAPI("uuid_buglist", func(cmd string) (string, []esl.Event) {
		if cut.Load() && hungUp.CompareAndSwap(false, true) {
			s.replayRest()
		}
		return s.sim.uuidBuglist(cmd)
	})
	cut.Store(true)
	s.sim.srv.Drop()
	r := s.final(recording.StopHangup)
	if !hungUp.Load() {
		t.Fatal("the re-sync read no recordings: the hangup did not fall in it")
	}
	if r.UUID != first.UUID {
		t.Fatalf("final row %s, want the first one %s", r.UUID, first.UUID)
	}
	if starts := s.commands("uuid_record " + s.leg(r) + " start"); len(starts) != 1 {
		t.Fatalf("recording started %d times", len(starts))
	}
}

// The TCP connection drops mid-call without a notice, and a garbled frame
// arrives on another connection: each time the adapter redials, re-syncs
// and the one recording carries on; nothing panics, nothing is doubled.
func TestStoryConnectionFaults(t *testing.T) {
	for _, fault := range []string{"drop", "garbled frame", "disconnect notice"} {
		t.Run(fault, func(t *testing.T) {
			s := newStory(t, "a_record_mask_pause", user("1001", uuid1001, autoOut), user("1002", uuid1002, nil))
			s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
			s.waitCommand("uuid_record")
			r := s.one(recording.StateRecording)
			before := len(s.commands("show channels"))
			switch fault {
			case "drop":
				s.sim.srv.Drop()
			case "garbled frame":
				s.sim.srv.SendRaw([]byte("Content-Length: lots\n\n"))
			case "disconnect notice":
				s.sim.srv.DisconnectNotice()
			}
			s.eventually("redialled and re-synced", func() bool {
				return len(s.commands("show channels")) > before && s.sys.Ready() == nil
			})
			s.one(recording.StateRecording)
			s.replayRest()
			s.final(recording.StopHangup)
			if starts := s.commands("uuid_record " + s.leg(r) + " start"); len(starts) != 1 {
				t.Fatalf("recording started %d times", len(starts))
			}
			if got := s.sys.ESL.Stats().Reconnects; got < 1 {
				t.Errorf("reconnects %d", got)
			}
		})
	}
}
