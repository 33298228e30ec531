//go:build lab

package integration

import (
	"strings"
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
				e.noRecordingAfterHangup()
				return
			}
			_, w := e.oneRecording("hangup", "policy", talk)
			e.tonesPresent(w, 1.2, tc.parties, nil)
		})
	}
}

// *3 on demand: allowed (online_call_record_enabled) starts a recording, a
// second *3 pauses it (Wazo); denied without the right.
func TestStoryStar3OnDemand(t *testing.T) {
	t.Run("allowed", func(t *testing.T) {
		e := newEnv(t, map[string]userFlags{"1001": {online: true}})
		caller, _ := e.call("1001", "1002", "1002")
		time.Sleep(500 * time.Millisecond)
		if rs := e.recordings(); len(rs) != 0 {
			t.Fatalf("recording before *3: %+v", rs)
		}
		e.dtmf(caller, "*3")
		e.waitRecording(0)
		time.Sleep(talk)
		e.dtmf(caller, "*3") // pause
		time.Sleep(1500 * time.Millisecond)
		e.hangup(caller)
		r, w := e.oneRecording("hangup", "dtmf", 0)
		if len(r.PausedIntervals) != 1 {
			t.Errorf("paused intervals %+v, want one", r.PausedIntervals)
		}
		// recorded: the talk plus the second *3's keying (0.54 s), not the pause
		near(t, "WAV duration", w.Duration(), talk+540*time.Millisecond, 400*time.Millisecond)
		e.tonesPresent(w, 1.5, []string{"1001", "1002"}, nil)
	})
	t.Run("denied", func(t *testing.T) {
		e := newEnv(t, nil)
		caller, _ := e.call("1001", "1002", "1002")
		time.Sleep(300 * time.Millisecond)
		e.dtmf(caller, "*3")
		time.Sleep(time.Second)
		e.hangup(caller)
		time.Sleep(300 * time.Millisecond)
		if rs := e.recordings(); len(rs) != 0 {
			t.Fatalf("*3 without the right recorded: %+v", rs)
		}
	})
}

// *48 pauses, *49 resumes (PortSIP): one file, the paused time absent.
func TestStoryPauseResumeStar48Star49(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true, online: true}})
	caller, _ := e.call("1001", "1002", "1002")
	e.waitRecording(0)
	time.Sleep(talk)
	e.dtmf(caller, "*48")
	pauseAt := time.Now()
	time.Sleep(3 * time.Second)
	e.dtmf(caller, "*49")
	pause := time.Since(pauseAt)
	time.Sleep(talk)
	e.hangup(caller)
	r, w := e.oneRecording("hangup", "policy", 0)
	if len(r.PausedIntervals) != 1 || r.PausedIntervals[0].End == nil {
		t.Fatalf("paused intervals %+v", r.PausedIntervals)
	}
	total := r.End.Sub(r.Start)
	near(t, "call minus file (the pause)", total-w.Duration(), pause, 400*time.Millisecond)
	e.tonesPresent(w, 3, []string{"1001", "1002"}, nil)
}

// Inbound carrier call to 1001 (recorded), 1001 transfers it to an external
// number: REFER, DTMF blind (#1), DTMF attended (*2, talk, hang up). The
// recording stops with external_to_external; the file holds the carrier
// and 1001, never the external callee.
func TestStoryTransferToExternalStopsRecording(t *testing.T) {
	for _, how := range []string{"refer", "dtmf_blind", "attended"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, map[string]userFlags{"1001": {inExt: true}})
			_, phone := e.inbound("49305551001", "1001")
			r0 := e.waitRecording(0)
			time.Sleep(talk)
			switch how {
			case "refer":
				if err := phone.BlindTransfer(e.ctx, "95551234"); err != nil {
					t.Fatal(err)
				}
			case "dtmf_blind":
				e.dtmf(phone, "#195551234")
			case "attended":
				e.dtmf(phone, "*295551234")
			}
			ext, err := e.drv.Incoming(e.ctx, "5551234")
			if err != nil {
				t.Fatal(err)
			}
			if err := ext.WaitUp(e.ctx); err != nil {
				t.Fatal(err)
			}
			if how == "attended" {
				time.Sleep(time.Second) // 1001 talks to the external party, then hangs up
				e.hangup(phone)
			}
			r, w := e.finished(r0.UUID)
			if r.StopReason != "external_to_external" {
				t.Errorf("stop_reason %q, want external_to_external", r.StopReason)
			}
			t.Logf("WAV %.2f s, span %.2f s", w.Duration().Seconds(), recordedSpan(r).Seconds())
			near(t, "WAV duration vs row", w.Duration(), recordedSpan(r), 300*time.Millisecond)
			e.tonesPresent(w, 1.5, []string{lab.ToneCarrier, "1001"}, nil)
			if how != "attended" {
				e.tonesPresent(w, 0, nil, []string{lab.ToneExternal})
			}
			time.Sleep(time.Second)
			if rs := e.recordings(); len(rs) != 1 {
				t.Errorf("%d recordings after the transfer, want 1", len(rs))
			}
			ext.Hangup(e.ctx)
		})
	}
}

// Internal to internal transfer: one recording continues across it. 1001
// calls 1002; 1002 (not recorded) blind-transfers 1001 to 1003; and the
// recorded leg itself transferring (1001 sends 1002 to 1003: the recording
// is re-armed on a remaining leg and appended to the same file).
func TestStoryInternalTransferOneRecordingContinues(t *testing.T) {
	for _, who := range []string{"callee_transfers", "recorded_leg_transfers"} {
		t.Run(who, func(t *testing.T) {
			e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
			caller, callee := e.call("1001", "1002", "1002")
			r0 := e.waitRecording(0)
			time.Sleep(talk)
			transferer, stays := callee, caller
			if who == "recorded_leg_transfers" {
				transferer, stays = caller, callee
			}
			if err := transferer.BlindTransfer(e.ctx, "1003"); err != nil {
				t.Fatal(err)
			}
			third, err := e.drv.Incoming(e.ctx, "1003")
			if err != nil {
				t.Fatal(err)
			}
			if err := third.WaitUp(e.ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(talk)
			e.hangup(stays)
			r, w := e.finished(r0.UUID)
			if rs := e.recordings(); len(rs) != 1 {
				t.Errorf("%d recordings, want one continuing", len(rs))
			}
			if r.StopReason != "hangup" {
				t.Errorf("stop_reason %q", r.StopReason)
			}
			t.Logf("WAV %.2f s, span %.2f s", w.Duration().Seconds(), recordedSpan(r).Seconds())
			e.tonesPresent(w, 1.2, []string{"1001", "1002", "1003"}, nil)
		})
	}
}

// Attended transfer between internal users: 1001 calls 1002 (recorded on
// 1001's leg), presses *2 + 1003, talks to 1003, hangs up. 1002 and 1003 go
// on talking: one recording continues (re-armed on a leg that hears the
// call: Asterisk's snoop on the kept leg 1002 would not hear 1003) and
// 1003's audio is in the file.
func TestStoryInternalAttendedTransferOneRecordingContinues(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
	caller, callee := e.call("1001", "1002", "1002")
	r0 := e.waitRecording(0)
	start := time.Now()
	time.Sleep(talk)
	e.dtmf(caller, "*21003")
	third, err := e.drv.Incoming(e.ctx, "1003")
	if err != nil {
		t.Fatal(err)
	}
	if err := third.WaitUp(e.ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // 1001 consults 1003
	e.hangup(caller)        // completes the transfer: 1002 ↔ 1003
	time.Sleep(talk)
	e.hangup(callee)
	total := time.Since(start)
	r, w := e.finished(r0.UUID)
	if rs := e.recordings(); len(rs) != 1 {
		t.Errorf("%d recordings, want one continuing", len(rs))
	}
	if r.StopReason != "hangup" {
		t.Errorf("stop_reason %q", r.StopReason)
	}
	t.Logf("WAV %.2f s, span %.2f s, call %.2f s", w.Duration().Seconds(), recordedSpan(r).Seconds(), total.Seconds())
	near(t, "WAV duration vs the row's recorded span", w.Duration(), recordedSpan(r), 300*time.Millisecond)
	near(t, "WAV duration vs the call", w.Duration(), total, 300*time.Millisecond)
	e.tonesPresent(w, 1.2, []string{"1001", "1002", "1003"}, nil)
	third.Hangup(e.ctx)
}

// *26 toggles the caller's four automatic recording flags (on, then off):
// callrecd answers, plays, hangs up.
func TestStoryStar26TogglesFlags(t *testing.T) {
	e := newEnv(t, nil)
	for i, want := range []bool{true, false} {
		p, err := e.drv.CallPhone(e.ctx, "1001", "*26")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitUp(e.ctx); err != nil {
			t.Fatalf("*26 #%d not answered by callrecd: %v", i+1, err)
		}
		if err := p.WaitEnded(e.ctx); err != nil {
			t.Fatalf("*26 #%d not hung up by callrecd: %v", i+1, err)
		}
		u, err := e.st.GetUser(e.ctx, tenantID, e.users["1001"].UUID)
		if err != nil {
			t.Fatal(err)
		}
		if u.CallRecordIncomingExternalEnabled != want || u.CallRecordIncomingInternalEnabled != want ||
			u.CallRecordOutgoingExternalEnabled != want || u.CallRecordOutgoingInternalEnabled != want {
			t.Fatalf("after *26 #%d: flags %+v, want all %v", i+1, u, want)
		}
	}
}

// Queue and ring group callees: the group's/queue's dtmf_record_toggle
// decides *3, not the user's online_call_record_enabled.
func TestStoryGroupAndQueueDTMFRecordToggle(t *testing.T) {
	cases := []struct {
		name, kind, group, dial, callee string
		toggle, online, record          bool
	}{
		{"ring_group_toggle_on_user_off", "group", "sales", "700", "1003", true, false, true},
		{"ring_group_toggle_off_user_on", "group", "sales", "700", "1003", false, true, false},
		{"queue_toggle_on_user_off", "queue", "support", "600", "1002", true, false, true},
		{"queue_toggle_off_user_on", "queue", "support", "600", "1002", false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]userFlags{"1002": {online: tc.online}, "1003": {online: tc.online}})
			if _, err := e.st.CreateGroup(e.ctx, store.Group{UUID: "a0000000-0000-4000-8000-00000000000" + map[string]string{"group": "1", "queue": "2"}[tc.kind],
				TenantUUID: tenantID, Kind: tc.kind, Name: tc.group, Label: tc.group, DTMFRecordToggle: tc.toggle}); err != nil {
				t.Fatal(err)
			}
			other := map[string]string{"1003": "1004", "1002": "1003"}[tc.callee]
			e.drv.SetAnswer(other, lab.Answer{Never: true})
			caller, callee := e.call("1001", tc.dial, tc.callee)
			time.Sleep(500 * time.Millisecond)
			e.dtmf(callee, "*3")
			time.Sleep(talk)
			e.hangup(caller)
			if !tc.record {
				e.noRecordingAfterHangup()
				return
			}
			_, w := e.oneRecording("hangup", "dtmf", talk)
			e.tonesPresent(w, 1.2, []string{"1001", tc.callee}, nil)
		})
	}
}

// The controller is killed mid-recording and started again (fresh engine,
// same index):
//   - the call goes on: the recording is adopted (found by its snoop),
//     stopped at hangup; one row, one file holding the whole call (Asterisk
//     kept recording);
//   - the call ends while callrecd is down: the first snapshot after the
//     start closes the call's and the recording's rows (stop_reason
//     pbx_lost, end = the spool file's last write) and the file is moved.
func TestStoryControllerRestartAdoptsRecording(t *testing.T) {
	t.Run("call_goes_on", func(t *testing.T) {
		e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
		caller, _ := e.call("1001", "1002", "1002")
		r0 := e.waitRecording(0)
		start := time.Now()
		time.Sleep(talk)
		e.stop()
		time.Sleep(1500 * time.Millisecond)
		e.start()
		calls := e.calls().Calls(tenantID)
		if len(calls) != 1 || len(calls[0].Recordings) != 1 || calls[0].Recordings[0].UUID != r0.UUID {
			t.Fatalf("after restart the engine does not hold the recording: %+v", calls)
		}
		time.Sleep(talk)
		e.hangup(caller)
		total := time.Since(start)
		r, w := e.finished(r0.UUID)
		if rs := e.recordings(); len(rs) != 1 {
			t.Errorf("%d recordings, want the one adopted", len(rs))
		}
		if r.StopReason != "hangup" {
			t.Errorf("stop_reason %q", r.StopReason)
		}
		near(t, "WAV duration (whole call)", w.Duration(), total, 400*time.Millisecond)
		e.tonesPresent(w, 4.5, []string{"1001", "1002"}, nil)
	})
	t.Run("call_ended_while_down", func(t *testing.T) {
		e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
		caller, _ := e.call("1001", "1002", "1002")
		r0 := e.waitRecording(0)
		time.Sleep(talk)
		e.stop()
		e.hangup(caller)
		time.Sleep(1500 * time.Millisecond)
		e.start()
		r, w := e.finished(r0.UUID)
		if rs := e.recordings(); len(rs) != 1 {
			t.Errorf("%d recordings, want 1", len(rs))
		}
		if r.State != "stopped" || r.StopReason != "pbx_lost" || r.End == nil {
			t.Fatalf("recording state=%s stop_reason=%s end=%v; want stopped/pbx_lost with an end", r.State, r.StopReason, r.End)
		}
		t.Logf("WAV %.2f s, row span %.2f s", w.Duration().Seconds(), recordedSpan(r).Seconds())
		near(t, "WAV duration vs the row's recorded span", w.Duration(), recordedSpan(r), 300*time.Millisecond)
		near(t, "WAV duration", w.Duration(), talk, 400*time.Millisecond)
		c, err := e.st.GetCall(e.ctx, tenantID, r.CallID)
		if err != nil {
			t.Fatal(err)
		}
		if c.End == nil {
			t.Fatalf("call row still open: %+v", c)
		}
		near(t, "call end vs recording end", c.End.Sub(*r.End), 0, 300*time.Millisecond)
		if calls := e.calls().Calls(tenantID); len(calls) != 0 {
			t.Errorf("the engine holds calls: %+v", calls)
		}
		e.tonesPresent(w, 1.2, []string{"1001", "1002"}, nil)
	})
}

// The websocket (and REST) to Asterisk is cut for 5 s; the caller hangs up
// meanwhile. After the reconnect the re-sync closes the call and the
// recording (stopped, hangup) and the file is moved.
func TestStoryWebsocketCutReconciled(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
	p := newProxy(t, "127.0.0.1:8088")
	e.stop()
	e.ariURL = "http://" + p.addr()
	e.start()
	caller, _ := e.call("1001", "1002", "1002")
	r0 := e.waitRecording(0)
	time.Sleep(talk)
	p.cut()
	cutAt := time.Now()
	time.Sleep(time.Second)
	e.hangup(caller)
	time.Sleep(5*time.Second - time.Since(cutAt))
	p.restore()
	r, w := e.finished(r0.UUID)
	if r.StopReason != "hangup" {
		t.Errorf("stop_reason %q", r.StopReason)
	}
	near(t, "WAV duration", w.Duration(), talk+time.Second, 400*time.Millisecond)
	if calls := e.calls().Calls(tenantID); len(calls) != 0 {
		t.Errorf("calls still open after the re-sync: %+v", calls)
	}
	e.tonesPresent(w, 2, []string{"1001", "1002"}, nil)
	// callrecd doctor runs again once the link is back, and finds the set-up fine.
	e.eventually(15*time.Second, "the set-up checked after the reconnect", func() bool {
		return strings.Contains(e.logBuf.String(), "set-up checked again after the PBX link came back")
	})
	if log := e.logBuf.String(); !strings.Contains(log, "failed=false") || strings.Contains(log, "set-up check failed") {
		t.Errorf("the checks after the reconnect failed:\n%s", log)
	}
}

// The watchdog on the real Asterisk: while a recorded call runs, its checks
// (GET /applications/callrecd, a user event back through our own
// websocket, through the app's eventFilter) pass every 300 ms and never
// force a reconnect.
func TestStoryWatchdogQuietOnAHealthyLink(t *testing.T) {
	e := newEnv(t, map[string]userFlags{"1001": {outInt: true}})
	e.stop()
	e.watchdog = 300 * time.Millisecond
	e.start()
	caller, _ := e.call("1001", "1002", "1002")
	e.waitRecording(0)
	time.Sleep(3 * time.Second)
	e.hangup(caller)
	e.oneRecording("hangup", "policy", 0)
	e.mu.Lock()
	a := e.link.sys.ARI
	e.mu.Unlock()
	probes := a.Stream().Counts()["ChannelUserevent"]
	t.Logf("watchdog: %d probes came back, %d trips, %d reconnects", probes, a.WatchdogTrips(), a.Stream().Reconnects())
	if probes < 5 {
		t.Errorf("only %d watchdog probes came back through the websocket", probes)
	}
	if a.WatchdogTrips() != 0 || a.Stream().Reconnects() != 0 {
		t.Errorf("the watchdog forced %d reconnects on a healthy link", a.WatchdogTrips())
	}
}
