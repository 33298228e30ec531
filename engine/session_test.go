package engine

import (
	"context"
	"testing"

	"github.com/callrecd/callrecd/recording"
)

// A phone knows its own dialog's SIP Call-ID without any PBX set-up: it
// names the call as well as the call id and the channel ids do.
func TestSessionBySIPCallID(t *testing.T) {
	h := newHarness(t)
	h.user("1001", outInt)
	h.user("1002", nil)
	a := dialTo(in("A", "L1", "1001"), "1002")
	a.SIPCallID = "5bb06056-6082-1240-88a5-1a87ccf3cdf8"
	h.send(a, in("B", "L1", "1002"))
	h.connect("A", "B", "br1")
	ctx := context.Background()
	if _, err := h.session(h.e.PauseBySession)(ctx, "no-such-call-id", recording.BySIPMessage); err == nil {
		t.Fatal("an unknown Call-ID found a call")
	}
	r, err := h.session(h.e.PauseBySession)(ctx, a.SIPCallID, recording.BySIPMessage)
	if err != nil || r.State != recording.StatePaused {
		t.Fatalf("pause by Call-ID: %+v, %v", r, err)
	}
	h.send(Hangup{Channel: "A"}, Hangup{Channel: "B"})
	if _, err := h.session(h.e.ResumeBySession)(ctx, a.SIPCallID, recording.BySIPMessage); err == nil {
		t.Fatal("the Call-ID of a channel that hung up still names the call")
	}
}

// FreeSWITCH cannot tell whether a live recording is paused: adopting it,
// the engine sets the state its row holds, pause or resume.
func TestSnapshotPauseUnknownSetsTheRowsState(t *testing.T) {
	for _, paused := range []bool{false, true} {
		h := newHarness(t)
		h.user("1001", func(u *User) { outInt(u); online(u) })
		h.user("1002", nil)
		internalCall(h)
		name := h.one().UUID
		h.send(RecordingStarted{Name: name, Channel: "A"})
		if paused {
			h.digits("A", "*3")
		}
		var s Snapshot
		for _, c := range h.e.Calls("") {
			for _, p := range c.Parties {
				cc := in(p.Channel, c.PBXCallID, p.Endpoint)
				cc.Answered = p.Answered
				s.Channels = append(s.Channels, SnapshotChannel{ChannelCreated: cc, Bridge: p.Bridge})
			}
		}
		s.Recordings = []LiveRecording{{Name: name, Channel: "A", PauseUnknown: true}}
		h.e = h.newEngine() // process restart
		h.pbx.reset()
		h.send(s)
		want := "resume"
		if paused {
			want = "pause"
		}
		ops := h.pbx.ops("")
		if len(ops) != 1 || ops[0].Op != want {
			t.Errorf("paused=%v: commands %+v, want one %s", paused, ops, want)
		}
	}
}

// TransfersLeaveLegAlone (FreeSWITCH): the transferer hangs up before the
// transferee's new leg exists. The recording waits for what comes next: a
// new external partner stops it external_to_external, a new internal one
// keeps it (one row through the transfer), the last party's hang-up stops
// it. Without the capability a lone party ends the recording at once.
func TestTransfersLeaveLegAlone(t *testing.T) {
	cases := []struct {
		name    string
		loneLeg bool
		then    func(h *harness)
		want    recording.StopReason
		state   recording.State
	}{
		{"to an external number", true, func(h *harness) {
			h.send(ext("X", "L1", "+15557654321"))
			h.connect("T", "X", "br2")
		}, recording.StopExternalToExternal, recording.StateStopped},
		{"to an internal user", true, func(h *harness) {
			h.send(in("B", "L1", "1002"))
			h.connect("T", "B", "br2")
		}, "", recording.StateRecording},
		{"the transferee hangs up", true, func(h *harness) { h.send(Hangup{Channel: "T"}) }, recording.StopHangup, recording.StateStopped},
		{"capability off: the lone party ends it", false, func(*harness) {}, recording.StopHangup, recording.StateStopped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.loneLeg = c.loneLeg
			h.e = h.newEngine()
			h.user("1001", func(u *User) { u.CallRecordIncomingExternal = true })
			h.user("1002", nil)
			inboundCall(h)
			h.send(RecordingStarted{Name: h.one().UUID, Channel: h.pbx.ops("start")[0].Channel})
			h.send(ChannelUnbridged{Channel: "A", Bridge: "br1"}, Hangup{Channel: "A"}, ChannelUnbridged{Channel: "T", Bridge: "br1"})
			c.then(h)
			r := h.one()
			if r.State != c.state || r.StopReason != c.want {
				t.Fatalf("state %s stop %q, want %s %q", r.State, r.StopReason, c.state, c.want)
			}
		})
	}
}

// Wazo's requested_* is what the caller dialled, destination_* who
// answered: a ring group's number stays the request when a member answers,
// and an external number keeps the digits the caller dialled even when the
// trunk leg was given other ones.
func TestRequestedIsWhatWasDialled(t *testing.T) {
	h := newHarness(t)
	h.user("1001", nil)
	h.user("1002", nil)
	h.send(dialTo(in("A", "L1", "1001"), "700"), dialTo(in("B", "L1", "1002"), "1002"))
	h.connect("A", "B", "br1")
	h.send(dialTo(in("C", "L2", "1001"), "9005551234"), dialTo(ext("X", "L2", "1001"), "005551234"))
	h.connect("C", "X", "br2")
	rows := h.store.callRows()
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, want := range []struct{ requested, destination string }{{"700", "1002"}, {"9005551234", "005551234"}} {
		found := false
		for _, r := range rows {
			if r.RequestedNumber == want.requested {
				found = true
				if r.DestinationNumber != want.destination {
					t.Errorf("requested %s: destination %q, want %q", want.requested, r.DestinationNumber, want.destination)
				}
			}
		}
		if !found {
			t.Errorf("no row requested %s: %+v", want.requested, rows)
		}
	}
}
