//go:build lab

package integration

import (
	"testing"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/store"
)

const talk = 2 * time.Second

// oneRecording checks the call produced exactly one recording, stopped for
// why, started by by, whose WAV lasts what the row says (± 0.3 s) and about
// want.
func (e *env) oneRecording(why, by string, want time.Duration) (store.Recording, *lab.WAV) {
	e.t.Helper()
	r := e.waitRecording(0)
	r, w := e.finished(r.UUID)
	if rs := e.recordings(); len(rs) != 1 {
		e.t.Errorf("%d recordings, want 1: %+v", len(rs), rs)
	}
	if r.State != "stopped" || r.StopReason != why || r.StartedBy != by {
		e.t.Errorf("recording state=%s stop_reason=%s started_by=%s; want stopped/%s/%s", r.State, r.StopReason, r.StartedBy, why, by)
	}
	e.t.Logf("recording %s: %s, WAV %.2f s, row span %.2f s", r.UUID, r.StopReason, w.Duration().Seconds(), recordedSpan(r).Seconds())
	near(e.t, "WAV duration vs the row's recorded span", w.Duration(), recordedSpan(r), 300*time.Millisecond)
	if want > 0 {
		near(e.t, "WAV duration", w.Duration(), want, 300*time.Millisecond)
	}
	return r, w
}

// Automatic recording by each of the four direction flags, and none without.
func TestStoryAutomaticRecordingByDirectionFlag(t *testing.T) {
	cases := []struct {
		name    string
		flags   map[string]userFlags
		inbound bool   // the carrier calls 1001's DID
		dial    string // else 1001 dials this (answered by callee)
		callee  string
		parties []string
		record  bool
	}{
		{"outgoing_internal", map[string]userFlags{"1001": {outInt: true}}, false, "1002", "1002", []string{"1001", "1002"}, true},
		{"incoming_internal", map[string]userFlags{"1002": {inInt: true}}, false, "1002", "1002", []string{"1001", "1002"}, true},
		{"outgoing_external", map[string]userFlags{"1001": {outExt: true}}, false, "95551234", "5551234", []string{"1001", lab.ToneExternal}, true},
		{"incoming_external", map[string]userFlags{"1001": {inExt: true}}, true, "", "1001", []string{"1001", lab.ToneCarrier}, true},
		{"outgoing_internal_flag_does_not_record_external", map[string]userFlags{"1001": {outInt: true}}, false, "95551234", "5551234", nil, false},
		{"no_flags", nil, false, "1002", "1002", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.flags)
			var caller *lab.Party
			if tc.inbound {
				caller, _ = e.inbound("49305551001", tc.callee)
			} else {
				caller, _ = e.call("1001", tc.dial, tc.callee)
			}
			time.Sleep(talk)
			e.hangup(caller)
			if !tc.record {
				time.Sleep(500 * time.Millisecond)
				if rs := e.recordings(); len(rs) != 0 {
					t.Fatalf("recorded without a flag: %+v", rs)
				}
				return
			}
			_, w := e.oneRecording("hangup", "policy", talk)
			e.tonesPresent(w, 1.2, tc.parties, nil)
		})
	}
}
