package engine

import (
	"testing"
	"time"
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
		h := newHarness(t)
		h.user("1001", outInt)
		h.user("1002", nil)
		internalCall(h)
		name := h.one().UUID
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
