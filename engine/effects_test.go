package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// effectString renders an effect for the rule tables: commands as
// Command.String, writes as call(…), rec(…), final(…), *26(…).
func effectString(f Effect) string {
	switch w := f.(type) {
	case Command:
		return w.String()
	case WriteCall:
		switch {
		case !w.Row.End.IsZero():
			return "call(ended)"
		case !w.Row.Answer.IsZero():
			return "call(answered)"
		}
		return "call(ringing)"
	case WriteRecording:
		s := fmt.Sprintf("rec(%s,%s", w.Row.UUID[len(w.Row.UUID)-1:], w.Row.State)
		if w.New {
			s = "new" + s
		}
		switch {
		case w.Row.StopReason != "":
			s += "," + string(w.Row.StopReason)
		case w.Row.FailureReason != "":
			s += "," + w.Row.FailureReason
		}
		return s + ")"
	case RecordingFinal:
		return "final(" + w.Row.UUID[len(w.Row.UUID)-1:] + ")"
	case SetAutoRecord:
		return fmt.Sprintf("*26(%s,%v)", w.User, w.Enabled)
	}
	return fmt.Sprintf("%T", f)
}

// The rules as pure functions: a state (built by events), one more event,
// and exactly the effects it returns, in order. Recording uuids end in 1,
// 2, … and are shortened to that digit in rec() and final().
func TestRuleEffects(t *testing.T) {
	id1 := "00000000-0000-4000-8000-000000000001"
	tests := []struct {
		name  string
		setup func(h *harness)
		state func(h *harness)
		event Event
		want  []string
	}{
		{
			name:  "the answer starts the recording the caller's flag asks for",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			state: func(h *harness) { h.send(dialTo(in("A", "L1", "1001"), "1002"), in("B", "L1", "1002")) },
			event: ChannelAnswered{Channel: "B"},
			want:  []string{"call(answered)", "start(A," + id1 + ")", "newrec(1,recording)"},
		},
		{
			name:  "nobody asks: the answer only writes the call",
			setup: func(h *harness) { h.user("1001", nil); h.user("1002", nil) },
			state: func(h *harness) { h.send(dialTo(in("A", "L1", "1001"), "1002"), in("B", "L1", "1002")) },
			event: ChannelAnswered{Channel: "B"},
			want:  []string{"call(answered)"},
		},
		{
			name:  "the callee hangs up: the recording stops (hangup) and is final",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			state: internalCall,
			event: Hangup{Channel: "B"},
			want:  []string{"stop(" + id1 + ")", "rec(1,stopped,hangup)", "final(1)"},
		},
		{
			name:  "the last channel goes: the call row is ended",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			state: func(h *harness) { internalCall(h); h.send(Hangup{Channel: "B"}) },
			event: Hangup{Channel: "A"},
			want:  []string{"call(ended)"},
		},
		{
			name:  "only outsiders remain (blind transfer to a mobile): stopped by the external-to-external rule",
			setup: func(h *harness) { h.user("1001", inExt) },
			state: func(h *harness) {
				inboundCall(h)
				h.send(ext("X", "L2", "+4917"), ChannelAnswered{Channel: "X"}, ChannelBridged{Channel: "X", Bridge: "br1"})
			},
			event: Hangup{Channel: "A"},
			want:  []string{"stop(" + id1 + ")", "rec(1,stopped,external_to_external)", "final(1)"},
		},
		{
			name:  "*3 pauses a live recording (Wazo's pause mode)",
			setup: func(h *harness) { h.user("1001", func(u *User) { outInt(u); online(u) }); h.user("1002", nil) },
			state: func(h *harness) {
				internalCall(h)
				h.send(RecordingStarted{Name: id1, Channel: "A"}, DTMF{Channel: "A", Digit: '*'})
			},
			event: DTMF{Channel: "A", Digit: '3'},
			want:  []string{"pause(" + id1 + ")", "rec(1,paused)"},
		},
		{
			name:  "*3 by a user without the right: denied prompt, nothing else",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			state: func(h *harness) { internalCall(h); h.send(DTMF{Channel: "A", Digit: '*'}) },
			event: DTMF{Channel: "A", Digit: '3'},
			want:  []string{"play([A],recording-denied)"},
		},
		{
			name:  "paused before the PBX confirmed the start: paused on the PBX once it does",
			setup: func(h *harness) { h.user("1001", func(u *User) { outInt(u); online(u) }); h.user("1002", nil) },
			state: func(h *harness) { internalCall(h); h.digits("A", "*3") },
			event: RecordingStarted{Name: id1, Channel: "A"},
			want:  []string{"pause(" + id1 + ")"},
		},
		{
			name:  "the recorded leg leaves and the talk goes on: re-armed on the remaining leg, same name",
			setup: func(h *harness) { h.user("1001", inExt) },
			state: func(h *harness) {
				inboundCall(h)
				h.send(in("C", "L3", "1003"), ChannelAnswered{Channel: "C"}, ChannelBridged{Channel: "C", Bridge: "br1"})
			},
			event: Hangup{Channel: "T"},
			want:  []string{"start(A," + id1 + ")"},
		},
		{
			name: "the disk guard vetoes: no start, the row failed with the reason",
			setup: func(h *harness) {
				h.user("1001", outInt)
				h.user("1002", nil)
				h.mayStart = func() error { return errors.New("disk full") }
				h.e = h.newEngine()
			},
			state: func(h *harness) { h.send(dialTo(in("A", "L1", "1001"), "1002"), in("B", "L1", "1002")) },
			event: ChannelAnswered{Channel: "B"},
			want:  []string{"call(answered)", "newrec(1,failed,disk full)", "final(1)"},
		},
		{
			name:  "the storage is back: the call the guard refused is recorded now, a second row (the refused one stays failed)",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil); h.withFullDisk() },
			state: func(h *harness) { internalCall(h); h.diskFull = false },
			event: StorageRecovered{},
			want:  []string{"start(A," + id(2) + ")", "newrec(2,recording)"},
		},
		{
			name:  "the storage is back, but the refused call now has only outsiders: nothing starts",
			setup: func(h *harness) { h.user("1001", outExt); h.withFullDisk() },
			state: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "+4930123"), ext("X", "L1", "+4930123"))
				h.connect("A", "X", "br1")
				h.send(ext("Y", "L1", "+4930999"), ChannelAnswered{Channel: "Y"}, ChannelBridged{Channel: "Y", Bridge: "br1"}, Hangup{Channel: "A"})
				h.diskFull = false
			},
			event: StorageRecovered{},
			want:  nil,
		},
		{
			name:  "the storage is back and nothing was refused: nothing to do",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			state: internalCall,
			event: StorageRecovered{},
			want:  nil,
		},
		{
			name:  "*26 toggles the caller's automatic recording, confirms and hangs up",
			setup: func(h *harness) { h.user("1001", nil) },
			state: func(h *harness) { h.send(dialTo(in("F", "L9", "1001"), "*26"), ChannelAnswered{Channel: "F"}) },
			event: FeatureCall{Channel: "F", Feature: recording.FeatureCallRecord},
			want:  []string{"*26(uuid-1001,true)", "play([F],callrecord-activated)", "hangup(F)"},
		},
		{
			name:  "a preparing PBX: a ringing call the policy will record is prepared on its leg",
			setup: func(h *harness) { h.prep = newPreparingPBX(h.pbx); h.e = h.newEngine(); h.user("1001", outInt) },
			state: func(h *harness) { h.send(dialTo(in("A", "L1", "1001"), "1002")) },
			event: in("B", "L1", "1002"),
			want:  []string{"call(ringing)", "prepare(A," + id1 + ")"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.setup(h)
			tc.state(h)
			h.wait(50 * time.Millisecond)
			var got []string
			for _, f := range h.e.Handle(context.Background(), tc.event) {
				got = append(got, effectString(f))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("effects\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
