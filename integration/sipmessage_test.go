//go:build lab

package integration

import (
	"fmt"
	"testing"
	"time"
)

// Pause and resume by SIP MESSAGE (PortSIP's form) on the real Asterisk: the called
// phone learns the session id from the X-Session-Id header of its INVITE (the lab's
// pre-dial hook) and sends an out-of-dialog MESSAGE with PortSIP's JSON body. Asterisk
// refuses PortSIP's Content-Type out of dialog (415), takes text/plain. A phone that is
// not in the call cannot pause it. The paused span is absent from the file.
func TestStorySIPMessagePauseResume(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
	caller, callee := e.call("1001", "1002", "1002")
	e.waitRecording(0)
	session, err := callee.SessionID(e.ctx)
	if err != nil || session == "" {
		t.Fatalf("X-Session-Id on 1002's INVITE: %q, %v", session, err)
	}
	body := func(op string) string { return fmt.Sprintf(`{"operation":%q,"session_id":%q}`, op, session) }
	send := func(from, ctype, op string, want int) {
		t.Helper()
		code, err := e.drv.SendMessage(e.ctx, from, ctype, body(op))
		if err != nil || code != want {
			t.Fatalf("MESSAGE %s from %s (%s): %d, %v; want %d", op, from, ctype, code, err, want)
		}
	}
	time.Sleep(talk)
	send("1002", "application/x-media-control+json", "pause", 415) // Asterisk's own refusal
	send("1003", "text/plain", "pause", 202)                       // not a party: callrecd ignores it
	time.Sleep(500 * time.Millisecond)
	if r := e.waitRecording(0); r.State != "recording" {
		t.Fatalf("a phone outside the call changed the recording: %+v", r)
	}
	send("1002", "text/plain", "pause", 202)
	pauseAt := time.Now()
	e.eventually(2*time.Second, "recording paused", func() bool { return e.waitRecording(0).State == "paused" })
	time.Sleep(3 * time.Second)
	send("1002", "text/plain", "resume", 202)
	pause := time.Since(pauseAt)
	e.eventually(2*time.Second, "recording resumed", func() bool { return e.waitRecording(0).State == "recording" })
	time.Sleep(talk)
	e.hangup(caller)
	r, w := e.oneRecording("hangup", "policy", 0)
	if len(r.PausedIntervals) != 1 || r.PausedIntervals[0].End == nil {
		t.Fatalf("paused intervals %+v", r.PausedIntervals)
	}
	near(t, "call minus file (the pause)", r.End.Sub(r.Start)-w.Duration(), pause, 400*time.Millisecond)
	e.tonesPresent(w, 3, []string{"1001", "1002"}, nil)
}
