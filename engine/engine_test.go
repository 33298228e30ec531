package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
)

type scenario struct {
	name  string
	setup func(h *harness)
	run   func(h *harness)
	check func(t *testing.T, h *harness)
}

func runScenarios(t *testing.T, sc []scenario) {
	t.Helper()
	runScenariosWith(t, newHarness, sc)
}

// runScenariosWith runs each scenario on a harness made by newH.
func runScenariosWith(t *testing.T, newH func(testing.TB) *harness, sc []scenario) {
	t.Helper()
	for _, s := range sc {
		t.Run(s.name, func(t *testing.T) {
			h := newH(t)
			if s.setup != nil {
				s.setup(h)
			}
			s.run(h)
			s.check(t, h)
		})
	}
}

func outInt(u *User) { u.CallRecordOutgoingInternal = true }
func inInt(u *User)  { u.CallRecordIncomingInternal = true }
func inExt(u *User)  { u.CallRecordIncomingExternal = true }
func outExt(u *User) { u.CallRecordOutgoingExternal = true }
func online(u *User) { u.OnlineCallRecordEnabled = true }
func all(u *User) {
	outInt(u)
	inInt(u)
	inExt(u)
	outExt(u)
	online(u)
}

// internalCall: 1001 (A) calls 1002 (B), answered and bridged.
func internalCall(h *harness) {
	h.send(dialTo(in("A", "L1", "1001"), "1002"), in("B", "L1", "1002"))
	h.wait(2 * time.Second)
	h.connect("A", "B", "br1")
}

// inboundCall: external +49151 (T) calls 1001 (A).
func inboundCall(h *harness) {
	h.send(dialTo(ext("T", "L1", "+4915112345678"), "49305551001"), in("A", "L1", "1001"))
	h.wait(time.Second)
	h.connect("T", "A", "br1")
}

func wantStop(t *testing.T, r RecordingRow, why recording.StopReason) {
	t.Helper()
	if r.State != recording.StateStopped || r.StopReason != why || r.End.IsZero() {
		t.Fatalf("want stopped/%s with end, got state=%s reason=%s end=%v", why, r.State, r.StopReason, r.End)
	}
}

func starts(h *harness) []string {
	var out []string
	for _, c := range h.pbx.ops("start") {
		out = append(out, c.Channel+":"+c.Name)
	}
	return out
}

func TestAutomaticPolicy(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "caller outgoing internal records, started at callee answer",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "1002"), in("B", "L1", "1002"))
				h.wait(2 * time.Second)
				h.send(ChannelAnswered{Channel: "B"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if r.StartedBy != recording.ByPolicy || r.State != recording.StateRecording || r.Format != "wav" {
					t.Fatalf("row %+v", r)
				}
				if want := t0.Add(2*time.Second + 20*time.Millisecond); !r.Start.Equal(want) {
					t.Fatalf("start %v want %v (the callee's answer)", r.Start, want)
				}
				if got := starts(h); len(got) != 1 || got[0] != "A:"+r.UUID {
					t.Fatalf("starts %v", got)
				}
				calls := h.store.callRows()
				if len(calls) != 1 || calls[0].Direction != DirInternal || calls[0].SourceUserUUID != "uuid-1001" ||
					calls[0].DestinationUserUUID != "uuid-1002" || calls[0].Answer.IsZero() || r.CallID != calls[0].ID {
					t.Fatalf("cdr %+v", calls)
				}
				if r.Filename != recording.Filename(r.Start, calls[0].ID, r.UUID, "wav") {
					t.Fatalf("filename %q", r.Filename)
				}
			},
		},
		{
			name:  "callee incoming internal records",
			setup: func(h *harness) { h.user("1001", nil); h.user("1002", inInt) },
			run:   internalCall,
			check: func(t *testing.T, h *harness) { h.one() },
		},
		{
			name:  "both parties flagged: one recording",
			setup: func(h *harness) { h.user("1001", all); h.user("1002", all) },
			run:   internalCall,
			check: func(t *testing.T, h *harness) {
				h.one()
				if n := len(h.pbx.ops("start")); n != 1 {
					t.Fatalf("%d starts", n)
				}
			},
		},
		{
			name:  "nobody flagged: nothing",
			setup: func(h *harness) { h.user("1001", inExt); h.user("1002", outExt) },
			run:   internalCall,
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name:  "inbound external: recorded on the trunk leg",
			setup: func(h *harness) { h.user("1001", inExt) },
			run:   inboundCall,
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if got := starts(h); got[0] != "T:"+r.UUID {
					t.Fatalf("starts %v", got)
				}
				if c := h.store.callRows()[0]; c.Direction != DirInbound || c.SourceNumber != "+4915112345678" || c.DestinationNumber != "1001" {
					t.Fatalf("cdr %+v", c)
				}
			},
		},
		{
			name:  "inbound external, callee only records internal calls: nothing",
			setup: func(h *harness) { h.user("1001", inInt) },
			run:   inboundCall,
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name:  "outbound: caller outgoing external, recorded on the external leg",
			setup: func(h *harness) { h.user("1001", outExt) },
			run: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "9005551234"), dialTo(ext("X", "L1", "005551234"), "005551234"))
				h.connect("A", "X", "br1")
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if got := starts(h); got[0] != "X:"+r.UUID {
					t.Fatalf("starts %v", got)
				}
				if c := h.store.callRows()[0]; c.Direction != DirOutbound {
					t.Fatalf("cdr %+v", c)
				}
			},
		},
		{
			name: "tenant recording disabled: nothing, *3 denied",
			setup: func(h *harness) {
				h.user("1001", all)
				h.user("1002", all)
				h.policy("acme", func(p *TenantPolicy) { p.AudioRecordingEnabled = false })
			},
			run: func(h *harness) { internalCall(h); h.digits("A", "*3") },
			check: func(t *testing.T, h *harness) {
				h.noRecordings()
				if p := h.pbx.ops("play"); len(p) != 1 || p[0].Prompt != PromptDenied || p[0].Channels[0] != "A" {
					t.Fatalf("plays %v", p)
				}
			},
		},
		{
			name:  "ring group: only the party who answers counts",
			setup: func(h *harness) { h.user("1001", nil); h.user("1002", inInt); h.user("1003", nil) },
			run: func(h *harness) {
				b, c := in("B", "L1", "1002"), in("C", "L1", "1003")
				b.Group, c.Group = "sales", "sales"
				a := dialTo(in("A", "L1", "1001"), "700")
				a.Group = "sales"
				h.send(a, b, c)
				h.connect("A", "C", "br1")
				h.send(Hangup{Channel: "B", Cause: 26})
			},
			check: func(t *testing.T, h *harness) {
				h.noRecordings()
				if c := h.store.callRows()[0]; c.DestinationUserUUID != "uuid-1003" {
					t.Fatalf("destination %+v", c)
				}
			},
		},
		{
			name:  "two simultaneous calls of one user are independent",
			setup: func(h *harness) { h.user("1001", online); h.user("1002", nil); h.user("1003", inInt) },
			run: func(h *harness) {
				h.send(in("A1", "L1", "1001"), in("B", "L1", "1002"))
				h.connect("A1", "B", "br1")
				h.send(in("A2", "L2", "1001"), in("C", "L2", "1003"))
				h.connect("A2", "C", "br2")
				h.digits("A1", "*3") // starts a recording on call 1
				h.digits("A2", "*3") // pauses call 2's policy recording
				h.send(Hangup{Channel: "A1"}, Hangup{Channel: "B"})
			},
			check: func(t *testing.T, h *harness) {
				rs := h.recs()
				if len(rs) != 2 || rs[0].CallID == rs[1].CallID {
					t.Fatalf("recs %+v", rs)
				}
				pol, dtmf := rs[0], rs[1]
				if pol.StartedBy != recording.ByPolicy || pol.State != recording.StatePaused || len(pol.Paused) != 1 {
					t.Fatalf("call 2 %+v", pol)
				}
				if dtmf.StartedBy != recording.ByDTMF {
					t.Fatalf("call 1 %+v", dtmf)
				}
				wantStop(t, dtmf, recording.StopHangup)
				if cs := h.e.Calls("acme"); len(cs) != 1 || cs[0].Record != recording.StatePaused {
					t.Fatalf("live calls %+v", cs)
				}
			},
		},
	})
}

func TestStar3(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "pause mode: start, pause, resume keep one file with intervals",
			setup: func(h *harness) { h.user("1001", online); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.digits("A", "*3")
				h.send(RecordingStarted{Name: h.recs()[0].UUID, Channel: "A"})
				h.wait(5 * time.Second)
				h.digits("A", "*3")
				h.wait(3 * time.Second)
				h.digits("A", "*3")
				h.wait(2 * time.Second)
				h.send(Hangup{Channel: "B"}, Hangup{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopHangup)
				if r.StartedBy != recording.ByDTMF || len(r.Paused) != 1 || r.Paused[0].End.Sub(r.Paused[0].Start) != 3*time.Second+320*time.Millisecond {
					t.Fatalf("row %+v", r)
				}
				var ops []string
				for _, c := range h.pbx.ops("") {
					ops = append(ops, c.Op)
				}
				if want := []string{"start", "pause", "resume", "stop"}; !slices.Equal(ops, want) {
					t.Fatalf("ops %v want %v", ops, want)
				}
			},
		},
		{
			name:  "user without online recording: denied",
			setup: func(h *harness) { h.user("1001", nil); h.user("1002", nil) },
			run:   func(h *harness) { internalCall(h); h.digits("A", "*3") },
			check: func(t *testing.T, h *harness) {
				h.noRecordings()
				if p := h.pbx.ops("play"); len(p) != 1 || p[0].Prompt != PromptDenied {
					t.Fatalf("plays %v", p)
				}
			},
		},
		{
			name: "group toggle on overrides the callee's setting",
			setup: func(h *harness) {
				h.user("1001", nil)
				h.user("1003", nil)
				h.store.groups["acme/group/sales"] = Group{Name: "sales", DTMFRecordToggle: true}
			},
			run: func(h *harness) {
				c := in("C", "L1", "1003")
				c.Group = "sales"
				h.send(in("A", "L1", "1001"), c)
				h.connect("A", "C", "br1")
				h.digits("C", "*3")
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.StartedBy != recording.ByDTMF {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name: "queue toggle off overrides the callee's setting; the caller keeps his own",
			setup: func(h *harness) {
				h.user("1001", online)
				h.user("1002", online)
				h.store.groups["acme/queue/support"] = Group{Name: "support", DTMFRecordToggle: false}
			},
			run: func(h *harness) {
				a, b := in("A", "L1", "1001"), in("B", "L1", "1002")
				a.Queue, b.Queue = "support", "support" // Asterisk sets it on both legs
				h.send(a, b)
				h.connect("A", "B", "br1")
				h.digits("B", "*3")
				h.wait(time.Second)
				h.digits("A", "*3")
			},
			check: func(t *testing.T, h *harness) {
				h.one()
				if p := h.pbx.ops("play"); len(p) != 1 || p[0].Channels[0] != "B" || p[0].Prompt != PromptDenied {
					t.Fatalf("plays %v", p)
				}
			},
		},
		{
			name:  "external party's digits never trigger",
			setup: func(h *harness) { h.user("1001", online) },
			run:   func(h *harness) { inboundCall(h); h.digits("T", "*3*48") },
			check: func(t *testing.T, h *harness) {
				h.noRecordings()
				if p := h.pbx.ops(""); len(p) != 0 {
					t.Fatalf("cmds %v", p)
				}
			},
		},
		{
			name:  "inter-digit timeout resets the sequence",
			setup: func(h *harness) { h.user("1001", online); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(DTMF{Channel: "A", Digit: '*'})
				h.wait(3100 * time.Millisecond)
				h.send(DTMF{Channel: "A", Digit: '3'})
			},
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name: "tenant timeout and codes are honoured, noise before the code is skipped",
			setup: func(h *harness) {
				h.user("1001", online)
				h.user("1002", nil)
				h.policy("acme", func(p *TenantPolicy) { p.DTMFTimeout = 5 * time.Second; p.Features.OnlineRecord.Code = "*7" })
			},
			run: func(h *harness) {
				internalCall(h)
				h.digits("A", "*3")
				h.digits("A", "55*")
				h.wait(4 * time.Second)
				h.digits("A", "7")
			},
			check: func(t *testing.T, h *harness) { h.one() },
		},
		{
			name: "disabled feature code: digits are ignored, no prompt",
			setup: func(h *harness) {
				h.user("1001", online)
				h.user("1002", nil)
				h.policy("acme", func(p *TenantPolicy) { p.Features.OnlineRecord.Enabled = false })
			},
			run: func(h *harness) { internalCall(h); h.digits("A", "*3") },
			check: func(t *testing.T, h *harness) {
				h.noRecordings()
				if p := h.pbx.ops(""); len(p) != 0 {
					t.Fatalf("cmds %v", p)
				}
			},
		},
		{
			name:  "digits are matched per channel",
			setup: func(h *harness) { h.user("1001", online); h.user("1002", online) },
			run: func(h *harness) {
				internalCall(h)
				h.digits("A", "*")
				h.digits("B", "3")
			},
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name: "stop mode: *3 stops, next *3 makes a second recording",
			setup: func(h *harness) {
				h.user("1001", func(u *User) { online(u); outInt(u) })
				h.user("1002", nil)
				h.policy("acme", func(p *TenantPolicy) { p.OnlineRecordMode = recording.OnlineRecordStop })
			},
			run: func(h *harness) {
				internalCall(h)
				h.wait(2 * time.Second)
				h.digits("A", "*3")
				h.wait(2 * time.Second)
				h.send(Transferred{Kind: TransferBlind, Transferee: "B"}) // a re-evaluation must not restart the policy
				h.digits("A", "*3")
			},
			check: func(t *testing.T, h *harness) {
				rs := h.recs()
				if len(rs) != 2 || rs[0].Filename == rs[1].Filename {
					t.Fatalf("recs %+v", rs)
				}
				wantStop(t, rs[0], recording.StopDTMF)
				if rs[0].StartedBy != recording.ByPolicy || rs[1].StartedBy != recording.ByDTMF || rs[1].State != recording.StateRecording {
					t.Fatalf("recs %+v", rs)
				}
			},
		},
		{
			name: "*48/*49 pause and resume a policy recording; no-ops otherwise",
			setup: func(h *harness) {
				h.user("1001", online)
				h.user("1002", inInt)
			},
			run: func(h *harness) {
				internalCall(h)
				h.digits("A", "*49") // not paused: no-op
				h.digits("A", "*48")
				h.digits("A", "*48") // already paused: no-op
				h.wait(time.Second)
				h.digits("A", "*49")
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if r.State != recording.StateRecording || len(r.Paused) != 1 || r.Paused[0].End.IsZero() {
					t.Fatalf("%+v", r)
				}
				// The PBX never confirmed the start: pause/resume wait for it.
				if n := len(h.pbx.ops("pause")) + len(h.pbx.ops("resume")); n != 0 {
					t.Fatalf("pause/resume sent before RecordingStarted: %v", h.pbx.ops(""))
				}
			},
		},
		{
			name: "*48 on a call without recording is a no-op",
			setup: func(h *harness) {
				h.user("1001", online)
				h.user("1002", nil)
			},
			run:   func(h *harness) { internalCall(h); h.digits("A", "*48") },
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
	})
}

func TestStar26(t *testing.T) {
	feature := func(h *harness) {
		h.send(dialTo(in("F", "L9", "1001"), "*26"), ChannelAnswered{Channel: "F"}, FeatureCall{Channel: "F", Feature: recording.FeatureCallRecord})
	}
	runScenarios(t, []scenario{
		{
			name:  "activates all four flags",
			setup: func(h *harness) { h.user("1001", nil) },
			run:   feature,
			check: func(t *testing.T, h *harness) {
				u := h.store.users["acme/1001"]
				if !u.CallRecordIncomingExternal || !u.CallRecordIncomingInternal || !u.CallRecordOutgoingExternal || !u.CallRecordOutgoingInternal {
					t.Fatalf("%+v", u)
				}
				ops := h.pbx.ops("")
				if len(ops) != 2 || ops[0].Prompt != PromptActivated || ops[1].Op != "hangup" || ops[1].Channel != "F" {
					t.Fatalf("cmds %v", ops)
				}
			},
		},
		{
			name:  "any flag on: all off",
			setup: func(h *harness) { h.user("1001", inExt) },
			run:   feature,
			check: func(t *testing.T, h *harness) {
				if u := h.store.users["acme/1001"]; u.anyAutoRecord() {
					t.Fatalf("%+v", u)
				}
				if ops := h.pbx.ops("play"); len(ops) != 1 || ops[0].Prompt != PromptDeactivated {
					t.Fatalf("cmds %v", ops)
				}
			},
		},
		{
			name: "disabled for the tenant: nothing",
			setup: func(h *harness) {
				h.user("1001", nil)
				h.policy("acme", func(p *TenantPolicy) { p.Features.CallRecord.Enabled = false })
			},
			run: feature,
			check: func(t *testing.T, h *harness) {
				if u := h.store.users["acme/1001"]; u.anyAutoRecord() {
					t.Fatalf("%+v", u)
				}
				if ops := h.pbx.ops(""); len(ops) != 0 {
					t.Fatalf("cmds %v", ops)
				}
			},
		},
		{
			name:  "toggled on, the next call is recorded",
			setup: func(h *harness) { h.user("1001", nil); h.user("1002", nil) },
			run: func(h *harness) {
				feature(h)
				h.send(Hangup{Channel: "F"})
				internalCall(h)
			},
			check: func(t *testing.T, h *harness) { h.one() },
		},
	})
}

func TestExternalToExternal(t *testing.T) {
	recorded := func(h *harness) { h.user("1001", all); h.user("1003", all) }
	runScenarios(t, []scenario{
		{
			name:  "blind transfer to external (REFER, trace c1 order)",
			setup: recorded,
			run: func(h *harness) {
				inboundCall(h)
				h.send(RecordingStarted{Name: h.one().UUID, Channel: "T"})
				h.wait(4 * time.Second)
				h.send(Transferred{Kind: TransferBlind, Transferer: "A", Transferee: "T", Exten: "9005551234"},
					ChannelUnbridged{Channel: "A", Bridge: "br1"}, ChannelUnbridged{Channel: "T", Bridge: "br1"},
					dialTo(ext("X", "L1", "005551234"), "005551234"), Hangup{Channel: "A"})
				h.wait(500 * time.Millisecond)
				h.send(ChannelAnswered{Channel: "X"}, ChannelBridged{Channel: "X", Bridge: "br2"}, ChannelBridged{Channel: "T", Bridge: "br2"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopExternalToExternal)
				if len(h.pbx.ops("start")) != 1 || len(h.pbx.ops("stop")) != 1 {
					t.Fatalf("cmds %v", h.pbx.ops(""))
				}
				if cs := h.e.Calls(""); len(cs) != 1 || !cs[0].ExternalOnly || cs[0].Record != "" {
					t.Fatalf("calls %+v", cs)
				}
			},
		},
		{
			name:  "attended transfer to external through Local channels (trace c3 order)",
			setup: recorded,
			run: func(h *harness) {
				inboundCall(h)
				h.digits("A", "*2")
				h.send(local("L;1", "L1"), local("L;2", "L1"), ChannelBridged{Channel: "A", Bridge: "br2"},
					ChannelBridged{Channel: "L;1", Bridge: "br2"}, ChannelUnbridged{Channel: "A", Bridge: "br1"},
					dialTo(ext("X", "L1", "005551234"), "005551234"), ChannelAnswered{Channel: "X"},
					ChannelAnswered{Channel: "L;2"}, ChannelBridged{Channel: "X", Bridge: "br3"}, ChannelBridged{Channel: "L;2", Bridge: "br3"})
				if r := h.one(); r.State != recording.StateRecording {
					h.t.Fatalf("stopped during the consultation: %+v", r)
				}
				h.send(Hangup{Channel: "A"}, BridgeMerged{From: "br2", To: "br1"},
					Transferred{Kind: TransferAttended, Transferer: "A", Transferee: "T", Target: "L;1"})
			},
			check: func(t *testing.T, h *harness) { wantStop(t, h.one(), recording.StopExternalToExternal) },
		},
		{
			name:  "call forwarded to an external number: never recorded",
			setup: func(h *harness) { h.user("1001", all) },
			run: func(h *harness) {
				h.send(ext("T", "L1", "+4915112345678"), in("A", "L1", "1001"))
				h.wait(time.Second)
				h.send(dialTo(ext("X", "L1", "0600"), "0600"), Hangup{Channel: "A"})
				h.connect("T", "X", "br1")
			},
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name:  "3-party bridge where the last internal hangs up",
			setup: recorded,
			run: func(h *harness) {
				inboundCall(h)
				h.send(ext("X", "L1", "+33"), ChannelAnswered{Channel: "X"}, ChannelBridged{Channel: "X", Bridge: "br1"})
				if r := h.one(); r.State != recording.StateRecording {
					h.t.Fatalf("%+v", r)
				}
				h.send(Hangup{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) { wantStop(t, h.one(), recording.StopExternalToExternal) },
		},
		{
			name:  "3-party bridge where the last internal only leaves the bridge",
			setup: recorded,
			run: func(h *harness) {
				inboundCall(h)
				h.send(ext("X", "L1", "+33"), ChannelAnswered{Channel: "X"}, ChannelBridged{Channel: "X", Bridge: "br1"},
					ChannelUnbridged{Channel: "A", Bridge: "br1"})
			},
			check: func(t *testing.T, h *harness) { wantStop(t, h.one(), recording.StopExternalToExternal) },
		},
		{
			name: "tenant allows external-to-external: recording goes on",
			setup: func(h *harness) {
				recorded(h)
				h.policy("acme", func(p *TenantPolicy) { p.RecordExternalToExternal = true })
			},
			run: func(h *harness) {
				inboundCall(h)
				h.send(ext("X", "L1", "+33"), ChannelAnswered{Channel: "X"}, ChannelBridged{Channel: "X", Bridge: "br1"}, Hangup{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateRecording {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "inbound blind transfer to an internal user keeps the trunk-leg recording",
			setup: recorded,
			run: func(h *harness) {
				inboundCall(h)
				h.send(Transferred{Kind: TransferBlind, Transferer: "A", Transferee: "T", Exten: "1003"},
					ChannelUnbridged{Channel: "A", Bridge: "br1"}, ChannelUnbridged{Channel: "T", Bridge: "br1"},
					in("C", "L1", "1003"), Hangup{Channel: "A"})
				h.wait(time.Second)
				h.send(ChannelAnswered{Channel: "C"}, ChannelBridged{Channel: "C", Bridge: "br2"}, ChannelBridged{Channel: "T", Bridge: "br2"})
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateRecording {
					t.Fatalf("%+v", r)
				}
				if n := len(h.pbx.ops("start")); n != 1 {
					t.Fatalf("starts %v", starts(h))
				}
			},
		},
		{
			name:  "internal→internal blind transfer: one recording, re-armed with the same name",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil); h.user("1003", nil) },
			run: func(h *harness) {
				internalCall(h) // recorded on A (the caller, oldest internal leg)
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "A"})
				h.send(ChannelUnbridged{Channel: "A", Bridge: "br1"}, ChannelUnbridged{Channel: "B", Bridge: "br1"},
					in("C", "L1", "1003"), Hangup{Channel: "A"})
				h.send(RecordingFinished{Name: name, Channel: "A"}) // the old part's end must not end the recording
				h.send(RecordingStarted{Name: name, Channel: "B"})
				h.send(ChannelAnswered{Channel: "C"}, ChannelBridged{Channel: "C", Bridge: "br2"}, ChannelBridged{Channel: "B", Bridge: "br2"})
				h.wait(5 * time.Second)
				h.send(Hangup{Channel: "C"}, Hangup{Channel: "B"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopHangup)
				if got := starts(h); !slices.Equal(got, []string{"A:" + r.UUID, "B:" + r.UUID}) {
					t.Fatalf("starts %v", got)
				}
			},
		},
		{
			name:  "internal→internal attended transfer through Local channels: one recording",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil); h.user("1003", nil) },
			run: func(h *harness) {
				internalCall(h) // 1001 (A) ↔ 1002 (B), recorded on A
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "A"})
				// A consults 1003 through a Local pair, B waits alone in br1.
				consultThroughLocal(h)
				// A hangs up: the transfer completes, the Local pair optimizes away.
				completeAttended(h, name)
				h.send(ChannelUnbridged{Channel: "C", Bridge: "br3"}, ChannelBridged{Channel: "C", Bridge: "br1"},
					Hangup{Channel: "L;1"}, Hangup{Channel: "L;2"})
				h.wait(5 * time.Second)
				h.send(Hangup{Channel: "C"}, Hangup{Channel: "B"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopHangup)
				if got := starts(h); !slices.Equal(got, []string{"A:" + r.UUID, "B:" + r.UUID}) {
					t.Fatalf("starts %v", got)
				}
				if n := len(h.store.callRows()); n != 1 {
					t.Fatalf("%d CDR rows", n)
				}
			},
		},
		{
			name:  "API start refused on an external-only call",
			setup: func(h *harness) { h.user("1001", nil) },
			run: func(h *harness) {
				inboundCall(h)
				h.send(ext("X", "L1", "+33"), ChannelAnswered{Channel: "X"}, ChannelBridged{Channel: "X", Bridge: "br1"}, Hangup{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) {
				_, err := h.api(h.e.StartRecording)(context.Background(), "acme", "T", recording.ByAPI)
				if !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("err %v", err)
				}
				h.noRecordings()
			},
		},
	})
}

func TestLifecycle(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "hangup while paused finalizes with the true end time",
			setup: func(h *harness) { h.user("1001", func(u *User) { outInt(u); online(u) }); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(RecordingStarted{Name: h.one().UUID, Channel: "A"})
				h.digits("A", "*3")
				h.wait(7 * time.Second)
				h.send(Hangup{Channel: "B", At: t0.Add(time.Minute)}, Hangup{Channel: "A", At: t0.Add(time.Minute + time.Millisecond)})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopHangup)
				if !r.End.Equal(t0.Add(time.Minute)) || len(r.Paused) != 1 || !r.Paused[0].End.Equal(r.End) {
					t.Fatalf("%+v", r)
				}
				if c := h.store.callRows()[0]; !c.End.Equal(t0.Add(time.Minute + time.Millisecond)) {
					t.Fatalf("cdr end %v", c.End)
				}
				if len(h.e.channels)+len(h.e.calls)+len(h.e.recs)+len(h.e.bridges) != 0 {
					t.Fatalf("leak: %d channels %d calls %d recs %d bridges", len(h.e.channels), len(h.e.calls), len(h.e.recs), len(h.e.bridges))
				}
			},
		},
		{
			name:  "PBX failure marks the recording failed, call untouched, no restart",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(RecordingFailed{Name: h.one().UUID, Reason: "disk full"})
				h.send(ChannelUnbridged{Channel: "A", Bridge: "br1"}, ChannelBridged{Channel: "A", Bridge: "br1"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				if r.State != recording.StateFailed || r.FailureReason != "disk full" || r.End.IsZero() {
					t.Fatalf("%+v", r)
				}
				if cs := h.e.Calls(""); len(cs) != 1 || len(cs[0].Parties) != 2 {
					t.Fatalf("calls %+v", cs)
				}
				if len(h.pbx.ops("hangup")) != 0 || len(h.pbx.ops("start")) != 1 {
					t.Fatalf("cmds %v", h.pbx.ops(""))
				}
			},
		},
		{
			name:  "start refused by the PBX: failed with its reason",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				h.pbx.OnStart = func(string, string, string) error { return errors.New("409 conflict") }
				internalCall(h)
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateFailed || r.FailureReason != "409 conflict" {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "store down: the PBX still records and stops",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				h.store.FailCreateCall, h.store.FailCreateRec, h.store.FailUpdateRec = true, true, true
				internalCall(h)
				h.send(Hangup{Channel: "B"}, Hangup{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) {
				if len(h.pbx.ops("start")) != 1 || len(h.pbx.ops("stop")) != 1 {
					t.Fatalf("cmds %v", h.pbx.ops(""))
				}
			},
		},
		{
			name:  "tenant policy unreadable: the last good one is used",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil); h.user("1003", nil) },
			run: func(h *harness) {
				h.policy("acme", func(p *TenantPolicy) { p.AudioRecordingEnabled = false })
				h.send(in("Z", "L0", "1003"), in("Y", "L0", "1002"))
				h.connect("Z", "Y", "br0") // reads and caches the policy (disabled)
				h.store.FailPolicy = true
				internalCall(h)
			},
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name:  "pause before the PBX confirms: paused once it does; stop before it does: stopped again",
			setup: func(h *harness) { h.user("1001", func(u *User) { outInt(u); online(u) }); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				name := h.one().UUID
				h.digits("A", "*3")
				h.send(RecordingStarted{Name: name, Channel: "A"})
				h.api(h.e.StopRecording)(context.Background(), "", "A", recording.ByAPI)
				h.api(h.e.StartRecording)(context.Background(), "", "A", recording.ByAPI)
				second := h.recs()[1].UUID
				h.api(h.e.StopRecording)(context.Background(), "", "A", recording.ByAPI)
				h.send(RecordingStarted{Name: second}, RecordingStarted{Name: second})
			},
			check: func(t *testing.T, h *harness) {
				var ops []string
				for _, c := range h.pbx.ops("") {
					ops = append(ops, c.Op)
				}
				if want := []string{"start", "pause", "stop", "start", "stop", "stop"}; !slices.Equal(ops, want) {
					t.Fatalf("ops %v want %v", ops, want)
				}
			},
		},
		{
			name: "announcements are played to all parties",
			setup: func(h *harness) {
				h.user("1001", online)
				h.user("1002", nil)
				h.policy("acme", func(p *TenantPolicy) { p.Announcements = true })
			},
			run: func(h *harness) { internalCall(h); h.digits("A", "*3") },
			check: func(t *testing.T, h *harness) {
				p := h.pbx.ops("play")
				if len(p) != 1 || p[0].Prompt != PromptRecordingStarted || !slices.Equal(p[0].Channels, []string{"A", "B"}) {
					t.Fatalf("plays %v", p)
				}
			},
		},
	})
}

// TestIdempotent replays scripts with every event duplicated, and with a few
// events out of order, and expects the same commands and rows.
func TestIdempotent(t *testing.T) {
	script := func(h *harness, dup bool) {
		h.user("1001", func(u *User) { outInt(u); online(u) })
		h.user("1002", nil)
		h.user("1003", nil)
		var name string
		evs := []func() Event{
			func() Event { return dialTo(in("A", "L1", "1001"), "1002") },
			func() Event { return in("B", "L1", "1002") },
			func() Event { return ChannelAnswered{Channel: "B"} },
			func() Event { return ChannelAnswered{Channel: "A"} },
			func() Event { return ChannelBridged{Channel: "B", Bridge: "br1"} },
			func() Event { return ChannelBridged{Channel: "A", Bridge: "br1"} },
			func() Event { name = h.one().UUID; return RecordingStarted{Name: name, Channel: "A"} },
			func() Event { return DTMF{Channel: "A", Digit: '*'} },
			func() Event { return DTMF{Channel: "A", Digit: '4'} },
			func() Event { return DTMF{Channel: "A", Digit: '8'} },
			func() Event { return DTMF{Channel: "A", Digit: '*'} },
			func() Event { return DTMF{Channel: "A", Digit: '4'} },
			func() Event { return DTMF{Channel: "A", Digit: '9'} },
			func() Event { return ChannelUnbridged{Channel: "A", Bridge: "br1"} },
			func() Event { return in("C", "L1", "1003") },
			func() Event { return Hangup{Channel: "A"} },
			func() Event { return RecordingFinished{Name: name, Channel: "A"} },
			func() Event { return RecordingStarted{Name: name, Channel: "B"} },
			func() Event { return ChannelAnswered{Channel: "C"} },
			func() Event { return ChannelBridged{Channel: "C", Bridge: "br1"} },
			func() Event { return Hangup{Channel: "C"} },
			func() Event { return Hangup{Channel: "B"} },
			func() Event { return RecordingFinished{Name: name, Channel: "B"} },
		}
		for _, f := range evs {
			ev := f()
			h.send(ev)
			if dup {
				if _, isDTMF := ev.(DTMF); !isDTMF { // a repeated digit is a new digit
					h.send(ev)
				}
			}
		}
	}
	once, twice := newHarness(t), newHarness(t)
	script(once, false)
	script(twice, true)
	if a, b := once.pbx.ops(""), twice.pbx.ops(""); !slices.EqualFunc(a, b, func(x, y cmd) bool { return x.String() == y.String() }) {
		t.Fatalf("commands differ:\n once %v\ntwice %v", a, b)
	}
	r1, r2 := once.one(), twice.one()
	if r1.State != r2.State || r1.StopReason != r2.StopReason || len(r1.Paused) != len(r2.Paused) || r1.State != recording.StateStopped || len(r1.Paused) != 1 {
		t.Fatalf("rows differ:\n%+v\n%+v", r1, r2)
	}

	t.Run("out of order", func(t *testing.T) {
		h := newHarness(t)
		h.user("1001", outInt)
		h.user("1002", nil)
		h.send(Hangup{Channel: "Z"}, in("Z", "L0", "1001")) // hangup before created: ignored
		h.send(ChannelAnswered{Channel: "Q"}, ChannelBridged{Channel: "Q", Bridge: "b"}, DTMF{Channel: "Q", Digit: '*'})
		h.send(RecordingStarted{Name: "nope"}, RecordingFinished{Name: "nope"})
		internalCall(h)
		name := h.one().UUID
		h.send(RecordingFinished{Name: name, Channel: "A"}, RecordingStarted{Name: name, Channel: "A"}) // finished first
		if cs := h.e.Calls(""); len(cs) != 1 || len(cs[0].Parties) != 2 {
			t.Fatalf("calls %+v", cs)
		}
		wantStop(t, h.one(), recording.StopPBXLost)
		h.send(Hangup{Channel: "A"}, Hangup{Channel: "A"}, Hangup{Channel: "B"}, ChannelAnswered{Channel: "B"}, in("B", "L1", "1002"))
		if len(h.e.channels) != 0 || len(h.e.calls) != 0 {
			t.Fatalf("leftovers %v %v", h.e.channels, h.e.calls)
		}
	})
}

func TestSnapshot(t *testing.T) {
	snap := func(h *harness, recs ...LiveRecording) Snapshot {
		var s Snapshot
		for _, c := range h.e.Calls("") {
			for _, p := range c.Parties {
				cc := in(p.Channel, c.PBXCallID, p.Endpoint)
				if p.Role == RoleExternal {
					cc = ext(p.Channel, c.PBXCallID, p.Number)
				}
				cc.Answered = p.Answered
				s.Channels = append(s.Channels, SnapshotChannel{ChannelCreated: cc, Bridge: p.Bridge})
			}
		}
		s.Recordings = recs
		return s
	}
	runScenarios(t, []scenario{
		{
			name:  "live recording adopted, no second one",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "A"})
				h.pbx.reset()
				h.send(snap(h, LiveRecording{Name: name, Channel: "A"}))
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateRecording {
					t.Fatalf("%+v", r)
				}
				if ops := h.pbx.ops(""); len(ops) != 0 {
					t.Fatalf("cmds %v", ops)
				}
			},
		},
		{
			name:  "fresh engine adopts from the store and reuses the CDR row",
			setup: func(h *harness) { h.user("1001", func(u *User) { outInt(u); online(u) }); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				name := h.one().UUID
				h.send(RecordingStarted{Name: name, Channel: "A"})
				h.digits("A", "*3") // paused in the store
				s := snap(h, LiveRecording{Name: name, Channel: "A", Paused: false})
				h.e = h.newEngine() // process restart
				h.pbx.reset()
				h.send(s)
				h.digits("A", "*3") // resume the adopted recording
				h.send(Hangup{Channel: "B"}, Hangup{Channel: "A"})
			},
			check: func(t *testing.T, h *harness) {
				r := h.one()
				wantStop(t, r, recording.StopHangup)
				if len(r.Paused) != 1 || r.Paused[0].End.IsZero() {
					t.Fatalf("%+v", r)
				}
				var ops []string
				for _, c := range h.pbx.ops("") {
					ops = append(ops, c.Op)
				}
				// the PBX had it running: the engine pauses it to match the row, then *3 resumes
				if want := []string{"pause", "resume", "stop"}; !slices.Equal(ops, want) {
					t.Fatalf("ops %v want %v", ops, want)
				}
				if h.store.creates != 1 {
					t.Fatalf("%d CDR rows created", h.store.creates)
				}
			},
		},
		{
			name:  "call vanished while away: closed with stop_reason hangup",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(RecordingStarted{Name: h.one().UUID, Channel: "A"})
				h.send(Snapshot{})
			},
			check: func(t *testing.T, h *harness) {
				wantStop(t, h.one(), recording.StopHangup)
				if c := h.store.callRows()[0]; c.End.IsZero() {
					t.Fatalf("cdr not closed %+v", c)
				}
				if len(h.e.Calls("")) != 0 {
					t.Fatal("call still live")
				}
			},
		},
		{
			name:  "recording lost by the PBX while the call lives: pbx_lost, policy starts a new one",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(RecordingStarted{Name: h.one().UUID, Channel: "A"})
				h.send(snap(h))
			},
			check: func(t *testing.T, h *harness) {
				rs := h.recs()
				if len(rs) != 2 || rs[1].State != recording.StateRecording {
					t.Fatalf("%+v", rs)
				}
				wantStop(t, rs[0], recording.StopPBXLost)
			},
		},
		{
			name:  "calls that started while away are evaluated",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				a, b := in("A", "L1", "1001"), in("B", "L1", "1002")
				a.Answered, b.Answered = true, true
				h.send(Snapshot{Channels: []SnapshotChannel{{ChannelCreated: a, Bridge: "br1"}, {ChannelCreated: b, Bridge: "br1"}}})
			},
			check: func(t *testing.T, h *harness) { h.one() },
		},
	})
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.user("1001", nil)
	h.user("1002", nil)
	internalCall(h)
	cid := h.e.Calls("acme")[0].ID

	check := func(err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("err %v want %v", err, want)
		}
	}
	_, err := h.api(h.e.StartRecording)(ctx, "acme", "nope", recording.ByAPI)
	check(err, ErrNoSuchCall)
	_, err = h.api(h.e.StartRecording)(ctx, "other", "A", recording.ByAPI)
	check(err, ErrNoSuchCall)
	_, err = h.api(h.e.PauseRecording)(ctx, "acme", "A", recording.ByAPI)
	check(err, ErrWrongState)
	_, err = h.api(h.e.StopRecording)(ctx, "acme", "L1", recording.ByAPI)
	check(err, ErrWrongState)
	r, err := h.api(h.e.StartRecording)(ctx, "acme", strconvI(cid), recording.ByAPI)
	check(err, nil)
	if r.StartedBy != recording.ByAPI || r.Channel != "A" || r.CallID != cid {
		t.Fatalf("%+v", r)
	}
	_, err = h.api(h.e.StartRecording)(ctx, "acme", "L1", recording.ByAPI)
	check(err, ErrWrongState)
	_, err = h.api(h.e.ResumeRecording)(ctx, "acme", "B", recording.ByAPI)
	check(err, ErrWrongState)
	_, err = h.session(h.e.PauseBySession)(ctx, "nope", recording.BySIPMessage)
	check(err, ErrNoSuchCall)
	r, err = h.session(h.e.PauseBySession)(ctx, "L1", recording.BySIPMessage)
	check(err, nil)
	if r.State != recording.StatePaused {
		t.Fatalf("%+v", r)
	}
	r, err = h.session(h.e.ResumeBySession)(ctx, "B", recording.BySIPMessage)
	check(err, nil)
	if r.State != recording.StateRecording {
		t.Fatalf("%+v", r)
	}
	r, err = h.api(h.e.StopRecording)(ctx, "acme", "L1", recording.ByAPI)
	check(err, nil)
	if r.StopReason != recording.StopAPI {
		t.Fatalf("%+v", r)
	}
	// stop + start makes a second recording; the policy does not restart by itself
	_, err = h.api(h.e.StartRecording)(ctx, "", "B", recording.ByAPI)
	check(err, nil)
	if rs := h.recs(); len(rs) != 2 || rs[0].UUID == rs[1].UUID {
		t.Fatalf("%+v", rs)
	}
	ci, err := h.e.Call("acme", "A")
	check(err, nil)
	if ci.Record != recording.StateRecording || len(ci.Recordings) != 2 || len(ci.Parties) != 2 {
		t.Fatalf("%+v", ci)
	}

	t.Run("tenant disabled", func(t *testing.T) {
		h := newHarness(t)
		h.policy("acme", func(p *TenantPolicy) { p.AudioRecordingEnabled = false })
		internalCall(h)
		_, err := h.api(h.e.StartRecording)(ctx, "acme", "A", recording.ByAPI)
		check(err, ErrNotAllowed)
	})
	t.Run("not answered", func(t *testing.T) {
		h := newHarness(t)
		h.send(in("A", "L1", "1001"), in("B", "L1", "1002"))
		_, err := h.api(h.e.StartRecording)(ctx, "acme", "A", recording.ByAPI)
		check(err, ErrWrongState)
	})
}

func strconvI(i int64) string { return itoa(i) }

func itoa(i int64) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestSIPMessage(t *testing.T) {
	body := func(op, session string) string {
		return `{"operation":"` + op + `","session_id":"` + session + `"}`
	}
	runScenarios(t, []scenario{
		{
			name:  "out of dialog pause/resume by session id",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(TextMessage{Endpoint: "1001", ContentType: mediactl.ContentType, Body: body("pause", "L1")})
				h.wait(time.Second)
				h.send(TextMessage{Endpoint: "1001", Headers: map[string]string{"content-type": mediactl.ContentType + ";charset=utf-8"}, Body: body("resume", "A")})
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateRecording || len(r.Paused) != 1 || r.Paused[0].End.IsZero() {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "in dialog command, from the dialog's own channel",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(TextMessage{Channel: "B", ContentType: "text/plain", Body: "pause-audio-recording"})
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StatePaused || len(r.Paused) != 1 {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			// Asterisk refuses application/x-media-control+json out of
			// dialog (415): the same JSON comes as text/plain.
			name:  "text/plain JSON out of dialog from the endpoint the PBX identified",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(TextMessage{Endpoint: "1002", ContentType: "text/plain", Body: body("pause", "L1")})
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StatePaused || len(r.Paused) != 1 {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "only an internal party of the call may pause it",
			setup: func(h *harness) { h.user("1001", inExt); h.user("1003", nil) },
			run: func(h *harness) {
				inboundCall(h)
				h.send(
					TextMessage{Endpoint: "1003", ContentType: mediactl.ContentType, Body: body("pause", "L1")},                             // another user
					TextMessage{Endpoint: "1003", From: "sip:1001@127.0.0.1", ContentType: mediactl.ContentType, Body: body("pause", "L1")}, // From says 1001
					TextMessage{Endpoint: "carrier", ContentType: mediactl.ContentType, Body: body("pause", "L1")},                          // the external caller
					TextMessage{ContentType: mediactl.ContentType, Body: body("pause", "L1")},                                               // nobody
					TextMessage{Channel: "T", ContentType: "text/plain", Body: "pause-audio-recording"},                                     // the trunk's dialog
				)
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateRecording || len(r.Paused) != 0 {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "bad JSON and unknown sessions are ignored",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run: func(h *harness) {
				internalCall(h)
				h.send(TextMessage{Endpoint: "1001", ContentType: mediactl.ContentType, Body: "{"},
					TextMessage{Endpoint: "1001", ContentType: mediactl.ContentType, Body: body("pause", "nope")},
					TextMessage{Endpoint: "1001", ContentType: mediactl.ContentType, Body: body("explode", "L1")})
			},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateRecording {
					t.Fatalf("%+v", r)
				}
			},
		},
	})
}

func TestFilename(t *testing.T) {
	start := time.Date(2021, 5, 14, 19, 47, 16, 701984000, time.FixedZone("CEST", 2*3600))
	got := recording.Filename(start, 2060, "5ea37d0b-0823-4d2b-a18c-b9082e551b50", "wav")
	if want := "2021-05-14T17_47_16UTC-2060-5ea37d0b-0823-4d2b-a18c-b9082e551b50.wav"; got != want {
		t.Fatalf("%s want %s", got, want)
	}
	if got := recording.Filename(start, 1, "x", ""); !strings.HasSuffix(got, ".wav") {
		t.Fatal(got)
	}
}

func TestNewUUID(t *testing.T) {
	a, b := newUUID(), newUUID()
	if a == b || len(a) != 36 || a[14] != '4' || strings.Count(a, "-") != 4 {
		t.Fatalf("%s %s", a, b)
	}
}

// TestConcurrentUse drives events and requests from several goroutines; run
// with -race to make it meaningful.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t)
	h.user("1001", online)
	h.user("1002", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			h.e.Calls("")
			h.session(h.e.PauseBySession)(context.Background(), "L1", recording.BySIPMessage)
			h.api(h.e.StartRecording)(context.Background(), "acme", "A", recording.ByAPI)
			h.session(h.e.ResumeBySession)(context.Background(), "L1", recording.BySIPMessage)
		}
	}()
	for i := 0; i < 50; i++ {
		internalCall(h)
		h.send(Hangup{Channel: "A"}, Hangup{Channel: "B"})
		h.wait(2 * time.Minute) // let tombstones expire so A and B can be reused
	}
	<-done
	if len(h.e.Calls("")) != 0 {
		t.Fatal("calls left")
	}
	for _, r := range h.recs() {
		if r.State.Active() || r.End.IsZero() {
			t.Fatalf("open recording %+v", r)
		}
	}
}
