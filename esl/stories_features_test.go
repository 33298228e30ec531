package esl_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

func online(u *store.User) { u.OnlineCallRecordEnabled = true }

func autoOut(u *store.User) { u.CallRecordOutgoingInternalEnabled = true }

// *3 starts a recording on demand, *48 pauses it (FreeSWITCH's own pause),
// the callee's *49 resumes it (trace b: real RFC 2833 digits on each
// party's leg); the call's end stops it, both paused spans in the row.
func TestStoryOnlineRecordPauseResume(t *testing.T) {
	s := newStory(t, "b_dtmf_feature_codes", user("1001", uuid1001, online), user("1002", uuid1002, online))
	s.replayUntil(dtmf("3", "sofia/internal/1001@"))
	s.waitCommand("uuid_record")
	r := s.one(recording.StateRecording)
	if r.StartedBy != string(recording.ByDTMF) {
		t.Fatalf("started by %q", r.StartedBy)
	}
	s.replayUntil(dtmf("8", "sofia/internal/1001@"))
	s.one(recording.StatePaused)
	if cmd := s.waitCommand("uuid_record " + s.leg(r) + " pause"); !strings.HasSuffix(cmd, r.UUID+".wav") {
		t.Fatalf("pause: %q", cmd)
	}
	path := s.fsDir + "/" + r.UUID + ".wav"
	s.eventually("FreeSWITCH paused", func() bool { return s.sim.pausedNow(path) })
	s.replayUntil(dtmf("9", "sofia/internal/1002@"))
	s.one(recording.StateRecording)
	s.eventually("FreeSWITCH resumed", func() bool { return !s.sim.pausedNow(path) })
	s.replayRest() // uuid_recv_dtmf *3 on the caller's leg (DTMF-Source APP) pauses again
	r = s.final(recording.StopHangup)
	if len(r.PausedIntervals) != 2 || r.PausedIntervals[0].End == nil {
		t.Fatalf("paused spans %+v", r.PausedIntervals)
	}
}

// Without online_call_record_enabled *3 is refused: a prompt to that party
// only, nothing recorded.
func TestStoryOnlineRecordDenied(t *testing.T) {
	s := newStory(t, "b_dtmf_feature_codes", user("1001", uuid1001, nil), user("1002", uuid1002, nil))
	s.replayUntil(dtmf("3", "sofia/internal/1001@"))
	cmd := s.waitCommand("uuid_broadcast")
	caller := s.trace[s.cursor-1].Get("Unique-ID")
	if !strings.HasPrefix(cmd, "api uuid_broadcast "+caller+" ") || !strings.Contains(cmd, esl.DefaultPrompts["recording-denied"]) {
		t.Fatalf("prompt %q, want the denied tone to %s", cmd, caller)
	}
	s.replayRest()
	if rs := s.recordings(); len(rs) != 0 || len(s.commands("uuid_record")) != 0 {
		t.Fatalf("recorded: %+v", rs)
	}
}

// *26 parked for callrecd (trace d3): the caller's automatic recording is
// switched on, "activated" is played, then the channel is hung up.
func TestStoryCallRecordToggle(t *testing.T) {
	s := newStory(t, "d3_feature_code_park_to_controller", user("1001", uuid1001, nil))
	s.replayUntil(named("CHANNEL_PARK", "sofia/internal/1001@"))
	leg := s.trace[s.cursor-1].Get("Unique-ID")
	play := s.waitCommand("uuid_broadcast")
	if !strings.Contains(play, esl.DefaultPrompts["callrecord-activated"]) {
		t.Fatalf("prompt %q", play)
	}
	if kill := s.waitCommand("uuid_kill"); kill != "api uuid_kill "+leg {
		t.Fatalf("hang-up %q", kill)
	}
	cmds := s.sim.srv.Commands()
	if i, j := indexOf(cmds, play), indexOf(cmds, "api uuid_kill "+leg); i > j {
		t.Fatalf("hung up before the prompt: %v", cmds)
	}
	s.eventually("the user's flags on", func() bool {
		u, err := s.sys.Store.GetUser(context.Background(), tenant, uuid1001)
		return err == nil && u.CallRecordIncomingExternalEnabled && u.CallRecordOutgoingInternalEnabled
	})
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// digitsOn makes the DTMF events a phone's keypresses give on its PBX leg:
// the leg's own headers (from a real event of that leg) with the digit.
func digitsOn(leg esl.Event, digits string) []esl.Event {
	var out []esl.Event
	for _, d := range digits {
		h := maps.Clone(leg.Headers)
		h["Event-Name"], h["DTMF-Digit"], h["DTMF-Duration"], h["DTMF-Source"] = "DTMF", string(d), "2080", "RTP"
		out = append(out, esl.Event{Name: "DTMF", Headers: h})
	}
	return out
}

// A callee reached through ring group 700 (trace e1: callrecd_group=sales
// exported onto the members' legs) may use *3 when the group's
// dtmf_record_toggle is on, whatever their own flag; through queue
// "support" (trace e2: the agent leg's cc_queue) the same.
func TestStoryGroupAndQueueToggle(t *testing.T) {
	cases := []struct {
		name, trace, kind, group, callee string
	}{
		{"ring group", "e1_ring_group_parallel", "group", "sales", "sofia/internal/1002@"},
		{"queue", "e2_callcenter_queue", "queue", "support", "sofia/internal/1001@127.0.0.1:5092"},
	}
	for _, c := range cases {
		for _, toggle := range []bool{true, false} {
			t.Run(c.name+map[bool]string{true: " on", false: " off"}[toggle], func(t *testing.T) {
				s := newStory(t, c.trace, user("1001", uuid1001, nil), user("1002", uuid1002, nil), user("1003", uuid1003, nil))
				if _, err := s.sys.Store.CreateGroup(context.Background(), store.Group{UUID: "6f1c2f35-3b4a-4a57-9e1b-7d6c5b4a3f2e",
					TenantUUID: tenant, Kind: c.kind, Name: c.group, Label: c.group, DTMFRecordToggle: toggle}); err != nil {
					t.Fatal(err)
				}
				s.replayUntil(func(ev esl.Event) bool {
					return ev.Name == "CHANNEL_BRIDGE" && ev.Get("Bridge-B-Unique-ID") != "" && !strings.HasPrefix(ev.Get("Channel-Name"), "sofia/sim/")
				})
				calleeLeg := s.trace[s.cursor-1].Get("Bridge-B-Unique-ID")
				var legEv esl.Event
				for _, ev := range s.trace {
					if ev.Get("Unique-ID") == calleeLeg && ev.Name == "CHANNEL_ANSWER" {
						legEv = ev
					}
				}
				if !strings.HasPrefix(legEv.Get("Channel-Name"), c.callee) {
					t.Fatalf("callee leg %q", legEv.Get("Channel-Name"))
				}
				s.sim.emit(digitsOn(legEv, "*3")...)
				if toggle {
					s.waitCommand("uuid_record")
					r := s.one(recording.StateRecording)
					s.replayRest()
					if r = s.final(recording.StopHangup); r.StartedBy != string(recording.ByDTMF) {
						t.Fatalf("%+v", r)
					}
					return
				}
				s.waitCommand("uuid_broadcast " + calleeLeg)
				s.replayRest()
				if rs := s.recordings(); len(rs) != 0 {
					t.Fatalf("recorded with the toggle off: %+v", rs)
				}
			})
		}
	}
}

// The REST call control (what the calld handlers call): start, pause,
// resume, stop, on FreeSWITCH's native pause.
func TestStoryRESTControl(t *testing.T) {
	ctx := context.Background()
	s := newStory(t, "a_record_mask_pause", user("1001", uuid1001, nil), user("1002", uuid1002, nil))
	s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
	x := s.sys.Executor
	s.eventually("the call connected", func() bool {
		calls := x.Calls(tenant)
		return len(calls) == 1 && len(calls[0].Parties) == 2 && calls[0].Parties[0].Answered && calls[0].Parties[1].Answered
	})
	ref := x.Calls(tenant)[0].PBXCallID
	rec, err := x.StartRecording(ctx, tenant, ref, recording.ByAPI)
	if err != nil {
		t.Fatal(err)
	}
	s.waitCommand("uuid_record " + rec.Channel + " start")
	if _, err := x.PauseRecording(ctx, tenant, ref, recording.ByAPI); err != nil {
		t.Fatal(err)
	}
	s.waitCommand("uuid_record " + rec.Channel + " pause")
	if _, err := x.ResumeRecording(ctx, tenant, ref, recording.ByAPI); err != nil {
		t.Fatal(err)
	}
	s.waitCommand("uuid_record " + rec.Channel + " resume")
	if _, err := x.StopRecording(ctx, tenant, ref, recording.ByAPI); err != nil {
		t.Fatal(err)
	}
	s.waitCommand("uuid_record " + rec.Channel + " stop")
	r := s.final(recording.StopAPI)
	if len(r.PausedIntervals) != 1 || r.StartedBy != string(recording.ByAPI) {
		t.Fatalf("%+v", r)
	}
	s.replayRest()
}

// PortSIP's pause by SIP MESSAGE, in all the forms FreeSWITCH delivers
// (traces g1–g4): out of dialog with JSON naming the caller's SIP Call-ID
// (and then its uuid), out of dialog as text/plain, in dialog as MESSAGE
// and as INFO with the plain bodies.
func TestStorySIPMessage(t *testing.T) {
	for _, trace := range []string{"g1_sip_message_ood_json", "g2_sip_message_ood_text", "g3_sip_message_in_dialog", "g4_sip_info_in_dialog"} {
		t.Run(trace, func(t *testing.T) {
			s := newStory(t, trace, user("1001", uuid1001, autoOut), user("1002", uuid1002, nil))
			s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
			s.waitCommand("uuid_record")
			r := s.one(recording.StateRecording)
			s.replayUntil(func(ev esl.Event) bool {
				return ev.Name == "MESSAGE" || ev.Name == "RECV_INFO" && strings.HasPrefix(ev.Get("SIP-Content-Type"), "text/")
			})
			s.one(recording.StatePaused)
			s.waitCommand("uuid_record " + s.leg(r) + " pause")
			s.replayRest()
			r = s.final(recording.StopHangup)
			if len(r.PausedIntervals) == 0 {
				t.Fatalf("%+v", r)
			}
			if strings.HasPrefix(trace, "g3") || strings.HasPrefix(trace, "g4") {
				// resume-audio-recording followed
				if len(s.commands("uuid_record "+s.leg(r)+" resume")) == 0 {
					t.Fatalf("not resumed: %v", s.commands("uuid_record"))
				}
			}
		})
	}
}

// A SIP MESSAGE from somebody who is not a party of the call (user 1003
// naming 1001's call) changes nothing and is counted for the administrator
// (callrecd_recording_control_refused_total{reason="not_a_party"}).
func TestStorySIPMessageFromANonPartyIsRefusedAndCounted(t *testing.T) {
	s := newStory(t, "g1_sip_message_ood_json", user("1001", uuid1001, autoOut), user("1002", uuid1002, nil), user("1003", uuid1003, nil))
	s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
	s.waitCommand("uuid_record")
	s.one(recording.StateRecording)
	var msg esl.Event
	for s.cursor < len(s.trace) && msg.Name == "" {
		if ev := s.trace[s.cursor]; ev.Name == "MESSAGE" {
			msg = ev
		} else {
			s.sim.emit(ev)
		}
		s.cursor++
	}
	h := maps.Clone(msg.Headers)
	h["from_user"], h["from"] = "1003", "1003@127.0.0.1"
	s.sim.emit(esl.Event{Name: "MESSAGE", Headers: h, Body: msg.Body})
	s.eventually("the refusal counted", func() bool { return refusedCount(t, s) == 1 })
	if r := s.one(recording.StateRecording); len(r.PausedIntervals) != 0 {
		t.Fatalf("a stranger paused it: %+v", r)
	}
	if cmds := s.commands("uuid_record " + s.leg(s.recordings()[0]) + " pause"); len(cmds) != 0 {
		t.Fatalf("paused on FreeSWITCH: %v", cmds)
	}
}

func refusedCount(t *testing.T, s *story) float64 {
	mfs, err := s.sys.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "callrecd_recording_control_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == "not_a_party" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
