package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// A recording's row starts when the PBX starts writing its file: under
// load (a re-sync starting many at once) that can be seconds after the
// command. Only the first part moves it; a re-armed part, an adopted
// recording or a time before the command does not.
func TestRecordingRowStartsWithItsAudio(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(h *harness, start time.Time, name string)
		want  func(start time.Time) time.Time
	}{
		{"confirmed 2.5 s after the command", func(h *harness, start time.Time, name string) {
			h.send(RecordingStarted{At: start.Add(2500 * time.Millisecond), Name: name, Channel: "A"})
		}, func(start time.Time) time.Time { return start.Add(2500 * time.Millisecond) }},
		{"a confirmation stamped before the command", func(h *harness, start time.Time, name string) {
			h.send(RecordingStarted{At: start.Add(-time.Second), Name: name, Channel: "A"})
		}, func(start time.Time) time.Time { return start }},
		{"a second part later does not move it", func(h *harness, start time.Time, name string) {
			h.send(RecordingStarted{At: start.Add(100 * time.Millisecond), Name: name, Channel: "A"})
			h.send(RecordingFinished{At: start.Add(5 * time.Second), Name: name, Channel: "A"})
			h.send(RecordingStarted{At: start.Add(6 * time.Second), Name: name, Channel: "A"})
		}, func(start time.Time) time.Time { return start.Add(100 * time.Millisecond) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.user("1001", outInt)
			h.user("1002", nil)
			internalCall(h)
			r := h.one()
			tc.after(h, r.Start, r.UUID)
			if got := h.one().Start; !got.Equal(tc.want(r.Start)) {
				t.Fatalf("row start %v, want %v (commanded at %v)", got, tc.want(r.Start), r.Start)
			}
		})
	}
}

// The call hangs up right after the recording was asked for, and then the
// PBX says the start failed (the channel was already gone): the row is
// failed with that reason, not "stopped" pointing at a file that never
// comes. A recording whose audio the PBX confirmed stays stopped.
func TestRecordingStoppedBeforeItStartedThenFailedIsFailed(t *testing.T) {
	for _, confirmed := range []bool{false, true} {
		h, name := recordedInternalCall(t)
		if confirmed {
			h.send(RecordingStarted{Name: name, Channel: "A"})
		}
		h.send(Hangup{Channel: "A"}, Hangup{Channel: "B"})
		h.send(RecordingFailed{Name: name, Channel: "A", Reason: "snoop: 404 Provided channel was not found"})
		r := h.one()
		switch {
		case !confirmed && (r.State != "failed" || r.FailureReason == ""):
			t.Fatalf("never started, then failed: %+v", r)
		case confirmed && (r.State != "stopped" || r.StopReason != "hangup"):
			t.Fatalf("recorded, hung up, then a late failure: %+v", r)
		}
	}
}

// The policy's recording could not start because the link to the PBX was
// cut: no new attempt on every event while the link is down, one after the
// re-sync (the Snapshot) if the call still must be recorded. A start the
// PBX refused is not tried again.
func TestStartCutOffByTheLinkIsTriedAfterTheResync(t *testing.T) {
	for _, unreachable := range []bool{true, false} {
		h, name := recordedInternalCall(t)
		h.send(RecordingFailed{Name: name, Channel: "A", Reason: "snoop: EOF", Unreachable: unreachable})
		h.send(ChannelUnbridged{Channel: "B", Bridge: "br1"}, ChannelBridged{Channel: "B", Bridge: "br1"})
		if n := len(h.recs()); n != 1 {
			t.Fatalf("unreachable=%v: %d recordings before the re-sync, want the failed one", unreachable, n)
		}
		a, b := in("A", "L1", "1001"), in("B", "L1", "1002")
		a.Answered, b.Answered = true, true
		h.send(Snapshot{Channels: []SnapshotChannel{{ChannelCreated: a, Bridge: "br1"}, {ChannelCreated: b, Bridge: "br1"}}})
		want := 1
		if unreachable {
			want = 2
		}
		rs := h.recs()
		if len(rs) != want {
			t.Fatalf("unreachable=%v: %d recordings after the re-sync, want %d: %+v", unreachable, len(rs), want, rs)
		}
		// The failed row says which it was (the index keeps it beside the retry).
		if got := rs[0].FailureReason; (got == recording.FailureUnreachable+"snoop: EOF") != unreachable || !strings.HasSuffix(got, "snoop: EOF") {
			t.Errorf("unreachable=%v: failure reason %q", unreachable, got)
		}
	}
}

// recordedInternalCall: 1001 (outgoing internal calls recorded) calls 1002,
// both answer; it returns the harness and the recording's name.
func recordedInternalCall(t *testing.T) (*harness, string) {
	h := newHarness(t)
	h.user("1001", outInt)
	h.user("1002", nil)
	internalCall(h)
	return h, h.one().UUID
}

// A start that found the recorded channel gone says the call hung up first:
// the PBX's own words ("404 Provided channel was not found") come after.
func TestStartOnAGoneChannelSaysTheCallHungUp(t *testing.T) {
	h, name := recordedInternalCall(t)
	h.send(RecordingFailed{Name: name, Channel: "A", Reason: "snoop: 404 Provided channel was not found", ChannelGone: true})
	rs := h.recs()
	if len(rs) != 1 || rs[0].State != recording.StateFailed ||
		rs[0].FailureReason != recording.FailureChannelGone+"snoop: 404 Provided channel was not found" {
		t.Fatalf("%+v", rs)
	}
}
