package engine

import (
	"context"
	"testing"
)

// The answer that starts a recording decides the start, then writes the
// call row with its answer time and the recording row, in that order. The
// executor sends the command before it writes anything (executor tests), so
// no store write stands between the answer and the recording.
func TestAnswerStartsRecordingThenWritesRows(t *testing.T) {
	h := newHarness(t)
	h.user("1001", func(u *User) { u.CallRecordOutgoingInternal = true })
	h.user("1002", nil)
	h.send(in("a", "c1", "1001"), dialTo(in("b", "c1", "1002"), "1002"))
	fx := h.e.Handle(context.Background(), ChannelAnswered{At: h.clock.Now(), Channel: "b"})
	cmds := Commands(fx)
	if len(cmds) != 1 || cmds[0].Op != OpStart || cmds[0].Channel != "a" {
		t.Fatalf("commands %v, want the start on a", cmds)
	}
	var writes []Effect
	for _, f := range fx {
		if _, ok := f.(Command); !ok {
			writes = append(writes, f)
		}
	}
	if len(writes) != 2 {
		t.Fatalf("writes %+v", writes)
	}
	call, ok := writes[0].(WriteCall)
	if !ok || call.Row.Answer.IsZero() || call.Row.ID == 0 {
		t.Fatalf("first write %+v, want the call row (known id) with its answer", writes[0])
	}
	rec, ok := writes[1].(WriteRecording)
	if !ok || !rec.New || rec.Row.UUID != cmds[0].Name || rec.Row.CallID != call.Row.ID {
		t.Fatalf("second write %+v, want the new recording row of call %d", writes[1], call.Row.ID)
	}
}
