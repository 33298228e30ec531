package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
)

// ControlBySession: the SIP listener's request, sender authenticated. Each
// case runs on a fresh recorded call (1001 calls 1002, or the carrier
// calls 1001), optionally after some steps, then sends one request.
func TestControlBySession(t *testing.T) {
	type step struct {
		session, sender string
		op              mediactl.Operation
	}
	cases := []struct {
		name    string
		inbound bool
		before  []step // applied first, each must succeed
		req     step
		err     error // nil: success
		state   recording.State
		paused  int // paused intervals of the recording afterwards
	}{
		{name: "caller pauses by PBX call id", req: step{"L1", "1001", mediactl.Pause}, state: recording.StatePaused, paused: 1},
		{name: "callee pauses by its channel id", req: step{"B", "1002", mediactl.Pause}, state: recording.StatePaused, paused: 1},
		{name: "pause then resume", before: []step{{"L1", "1002", mediactl.Pause}}, req: step{"L1", "1001", mediactl.Resume},
			state: recording.StateRecording, paused: 1},
		{name: "another user is not a party", req: step{"L1", "1003", mediactl.Pause}, err: ErrNotAParty, state: recording.StateRecording},
		{name: "no sender is not a party", req: step{"L1", "", mediactl.Pause}, err: ErrNotAParty, state: recording.StateRecording},
		{name: "the external caller is not an internal party", inbound: true, req: step{"L1", "carrier", mediactl.Pause},
			err: ErrNotAParty, state: recording.StateRecording},
		{name: "the called user of an inbound call is", inbound: true, req: step{"L1", "1001", mediactl.Pause}, state: recording.StatePaused, paused: 1},
		{name: "unknown session", req: step{"nope", "1001", mediactl.Pause}, err: ErrNoSuchCall, state: recording.StateRecording},
		{name: "unknown session is checked before the party", req: step{"nope", "1003", mediactl.Pause}, err: ErrNoSuchCall, state: recording.StateRecording},
		{name: "resume while recording", req: step{"L1", "1001", mediactl.Resume}, err: ErrWrongState, state: recording.StateRecording},
		{name: "pause twice", before: []step{{"L1", "1001", mediactl.Pause}}, req: step{"L1", "1001", mediactl.Pause},
			err: ErrWrongState, state: recording.StatePaused, paused: 1},
		{name: "unknown operation", req: step{"L1", "1001", mediactl.Operation("explode")}, err: errUnknownOpForTest, state: recording.StateRecording},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			if c.inbound {
				h.user("1001", inExt)
				inboundCall(h)
			} else {
				h.user("1001", outInt)
				h.user("1002", nil)
				h.user("1003", nil)
				internalCall(h)
			}
			ctx := context.Background()
			do := func(s step) (RecordingInfo, error) {
				h.applyMu.Lock()
				defer h.applyMu.Unlock()
				info, fx, err := h.e.ControlBySession(ctx, s.session, s.op, s.sender, recording.BySIPMessage)
				if err != nil && len(fx) > 0 {
					t.Fatalf("an error came with effects: %v", fx)
				}
				h.apply(fx)
				return info, err
			}
			for _, s := range c.before {
				if _, err := do(s); err != nil {
					t.Fatalf("step %+v: %v", s, err)
				}
				h.wait(time.Second)
			}
			info, err := do(c.req)
			switch {
			case c.err == errUnknownOpForTest:
				if err == nil {
					t.Fatal("an unknown operation succeeded")
				}
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
			case err != nil:
				t.Fatalf("err %v", err)
			case info.State != c.state:
				t.Fatalf("answer says %s, want %s", info.State, c.state)
			}
			r := h.one()
			if r.State != c.state || len(r.Paused) != c.paused {
				t.Fatalf("row %s with %d paused intervals, want %s with %d", r.State, len(r.Paused), c.state, c.paused)
			}
		})
	}
}

// errUnknownOpForTest marks the case whose error has no sentinel.
var errUnknownOpForTest = errors.New("any error")

// A call that ended is no longer a session, even while its channel ids are
// still known.
func TestControlBySessionEndedCall(t *testing.T) {
	h := newHarness(t)
	h.user("1001", outInt)
	h.user("1002", nil)
	internalCall(h)
	h.send(Hangup{Channel: "A"}, Hangup{Channel: "B"})
	_, fx, err := h.e.ControlBySession(context.Background(), "L1", mediactl.Pause, "1001", recording.BySIPMessage)
	if !errors.Is(err, ErrNoSuchCall) || len(fx) != 0 {
		t.Fatalf("%v, %v", err, fx)
	}
}
