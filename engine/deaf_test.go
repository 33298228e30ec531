package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// LegDeaf (Asterisk: a snoop on a leg kept through a transfer stops hearing
// the party swapped in): the engine moves the recording to the best leg that
// hears the call, with the same name (one row, one file).
func TestDeafLegMovesRecording(t *testing.T) {
	recorded := func(h *harness) { h.user("1001", outInt); h.user("1002", nil); h.user("1003", nil) }
	// 1001 (A) calls 1002 (B), recorded on A; B blind-transfers A to 1003 (C).
	calleeTransfers := func(h *harness) string {
		internalCall(h)
		name := h.one().UUID
		h.send(RecordingStarted{Name: name, Channel: "A"})
		h.wait(2 * time.Second)
		h.send(ChannelUnbridged{Channel: "B", Bridge: "br1"},
			Transferred{Kind: TransferBlind, Transferer: "B", Transferee: "A", Exten: "1003"},
			ChannelUnbridged{Channel: "A", Bridge: "br1"}, in("C", "L1", "1003"), Hangup{Channel: "B"})
		h.wait(time.Second)
		h.send(ChannelAnswered{Channel: "C"}, ChannelBridged{Channel: "C", Bridge: "br2"}, ChannelBridged{Channel: "A", Bridge: "br2"})
		return name
	}
	runScenarios(t, []scenario{
		{
			name:  "kept caller deaf after the callee's blind transfer: moved to the new party",
			setup: recorded,
			run: func(h *harness) {
				name := calleeTransfers(h)
				h.pbx.reset()
				h.send(LegDeaf{Channel: "A"})
				h.send(RecordingFinished{Name: name, Channel: "A"}) // the stopped part: not the end
				h.send(RecordingStarted{Name: name, Channel: "C"})
				h.wait(2 * time.Second)
				h.send(Hangup{Channel: "A"}, Hangup{Channel: "C"})
				h.send(RecordingFinished{Name: name, Channel: "C"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopHangup)
				var ops []string
				for _, c := range h.pbx.ops("") {
					ops = append(ops, c.String())
				}
				want := []string{"stop(" + r.UUID + ")", "start(C," + r.UUID + ")"}
				if len(ops) < 2 || !slices.Equal(ops[:2], want) {
					t.Fatalf("commands %v, want first %v", ops, want)
				}
				if n := len(h.store.callRows()); n != 1 {
					t.Fatalf("%d CDR rows", n)
				}
			},
		},
		{
			name:  "attended transfer: re-armed on the kept leg at the transferer's hangup, then moved when it turns deaf",
			setup: recorded,
			run: func(h *harness) {
				internalCall(h) // 1001 (A) ↔ 1002 (B), recorded on A
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "A"})
				consultThroughLocal(h)
				completeAttended(h, name)
				h.wait(400 * time.Millisecond) // the Local pair optimises away: C swapped in
				h.send(ChannelUnbridged{Channel: "C", Bridge: "br3"}, ChannelBridged{Channel: "C", Bridge: "br1"},
					LegDeaf{Channel: "B"}, Hangup{Channel: "L;1"}, Hangup{Channel: "L;2"},
					RecordingFinished{Name: name, Channel: "B"}, RecordingStarted{Name: name, Channel: "C"})
				h.wait(5 * time.Second)
				h.send(Hangup{Channel: "C"}, Hangup{Channel: "B"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopHangup)
				if got := starts(h); !slices.Equal(got, []string{"A:" + r.UUID, "B:" + r.UUID, "C:" + r.UUID}) {
					t.Fatalf("starts %v", got)
				}
				if n := len(h.pbx.ops("stop")); n != 1 { // the move (C's part ends with C)
					t.Fatalf("stops %v", h.pbx.ops("stop"))
				}
			},
		},
		{
			name:  "re-arm after the recorded leg left avoids a deaf leg",
			setup: recorded,
			run: func(h *harness) {
				internalCall(h) // recorded on A
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "A"})
				// B is deaf (kept through someone's transfer) and C hears; A leaves.
				h.send(in("C", "L1", "1003"), ChannelAnswered{Channel: "C"}, ChannelBridged{Channel: "C", Bridge: "br1"},
					LegDeaf{Channel: "B"}, Hangup{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if got := starts(h); !slices.Equal(got, []string{"A:" + r.UUID, "C:" + r.UUID}) {
					t.Fatalf("starts %v", got)
				}
				if n := len(h.pbx.ops("stop")); n != 0 {
					t.Fatalf("stops %v (B was not recorded)", h.pbx.ops("stop"))
				}
			},
		},
		{
			name:  "paused recording on a deaf leg: its part is stopped, re-armed on the hearing leg only at resume",
			setup: func(h *harness) { recorded(h); h.user("1001", func(u *User) { outInt(u); online(u) }) },
			run: func(h *harness) {
				name := calleeTransfers(h)
				h.send(DTMF{Channel: "A", Digit: '*'}, DTMF{Channel: "A", Digit: '4'}, DTMF{Channel: "A", Digit: '8'})
				if r := h.one(); r.State != recording.StatePaused {
					h.t.Fatalf("not paused: %+v", r)
				}
				h.pbx.reset()
				h.send(LegDeaf{Channel: "A"}, RecordingFinished{Name: name, Channel: "A"})
				if got := starts(h); len(got) != 0 {
					h.t.Fatalf("started while paused: %v", got)
				}
				h.wait(time.Second)
				h.send(DTMF{Channel: "A", Digit: '*'}, DTMF{Channel: "A", Digit: '4'}, DTMF{Channel: "A", Digit: '9'})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if r.State != recording.StateRecording || len(r.Paused) != 1 || r.Paused[0].End.IsZero() {
					t.Fatalf("%+v", r)
				}
				if got := starts(h); !slices.Equal(got, []string{"C:" + r.UUID}) {
					t.Fatalf("starts %v", got)
				}
			},
		},
		{
			name:  "no leg that hears: the part stays where it is",
			setup: recorded,
			run: func(h *harness) {
				internalCall(h)
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "A"}, LegDeaf{Channel: "B"}, LegDeaf{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) {
				if n := len(h.pbx.ops("stop")) + len(h.pbx.ops("start")); n != 1 {
					t.Fatalf("commands %v", h.pbx.ops(""))
				}
			},
		},
		{
			name:  "inbound: the trunk leg turned deaf, the user's leg takes over",
			setup: func(h *harness) { h.user("1001", inExt) },
			run: func(h *harness) {
				inboundCall(h) // recorded on T
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "T"}, LegDeaf{Channel: "T"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if got := starts(h); !slices.Equal(got, []string{"T:" + r.UUID, "A:" + r.UUID}) {
					t.Fatalf("starts %v", got)
				}
			},
		},
		{
			name:  "deaf leg after an external-to-external stop: nothing to move",
			setup: func(h *harness) { h.user("1001", inExt) },
			run: func(h *harness) {
				inboundCall(h)
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "T"}, ext("X", "L1", "+33"), ChannelAnswered{Channel: "X"},
					ChannelUnbridged{Channel: "A", Bridge: "br1"}, Hangup{Channel: "A"},
					ChannelBridged{Channel: "X", Bridge: "br1"})
				h.pbx.reset()
				h.send(LegDeaf{Channel: "T"})
			},
			check: func(t *testing.T, h *harness) {
				wantStop(t, h.one(), recording.StopExternalToExternal)
				if ops := h.pbx.ops(""); len(ops) != 0 {
					t.Fatalf("commands %v", ops)
				}
			},
		},
	})
}
