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
