package ari

import "testing"

// Every transition of a recording's current part: from a state (and its
// snoop), one event, the state and snoop after it, whether the part that
// was current ended (its done closed: an append waiting for it goes on)
// and what the event reported.
func TestPartTransitions(t *testing.T) {
	type event struct {
		op, snoop string // begin, started, endedOn, stop, end
	}
	for _, tc := range []struct {
		name      string
		from      partState
		snoop     string
		ev        event
		want      partState
		wantSnoop string
		ended     bool // the part current before the event ended
		ok        bool // endedOn / stop: what they report
	}{
		{"idle, begin", partIdle, "", event{"begin", "s1"}, partSnooping, "s1", false, false},
		{"snooping, begin another", partSnooping, "s1", event{"begin", "s2"}, partSnooping, "s2", true, false},
		{"recording, begin another", partRecording, "s1", event{"begin", "s2"}, partSnooping, "s2", true, false},
		{"stopping, begin another", partStopping, "s1", event{"begin", "s2"}, partSnooping, "s2", true, false},

		{"idle, started", partIdle, "", event{"started", "s1"}, partRecording, "s1", false, false},
		{"snooping, started on it", partSnooping, "s1", event{"started", "s1"}, partRecording, "s1", false, false},
		{"recording, started on it again", partRecording, "s1", event{"started", "s1"}, partRecording, "s1", false, false},
		{"stopping, started on it: still stopping", partStopping, "s1", event{"started", "s1"}, partStopping, "s1", false, false},
		{"snooping, started elsewhere", partSnooping, "s1", event{"started", "s2"}, partRecording, "s2", true, false},
		{"stopping, started elsewhere", partStopping, "s1", event{"started", "s2"}, partRecording, "s2", true, false},
		{"recording, started on no channel", partRecording, "s1", event{"started", ""}, partIdle, "", true, false},
		{"idle, started on no channel", partIdle, "", event{"started", ""}, partIdle, "", false, false},

		{"snooping, ended on it", partSnooping, "s1", event{"endedOn", "s1"}, partIdle, "", true, true},
		{"recording, ended on it", partRecording, "s1", event{"endedOn", "s1"}, partIdle, "", true, true},
		{"stopping, ended on it", partStopping, "s1", event{"endedOn", "s1"}, partIdle, "", true, true},
		{"recording, ended elsewhere", partRecording, "s1", event{"endedOn", "s2"}, partRecording, "s1", false, false},
		{"stopping, ended elsewhere", partStopping, "s1", event{"endedOn", "s2"}, partStopping, "s1", false, false},
		{"idle, ended on no channel", partIdle, "", event{"endedOn", ""}, partIdle, "", false, true},

		{"idle, stop: nothing to stop", partIdle, "", event{"stop", ""}, partIdle, "", false, false},
		{"snooping, stop", partSnooping, "s1", event{"stop", ""}, partStopping, "s1", false, true},
		{"recording, stop", partRecording, "s1", event{"stop", ""}, partStopping, "s1", false, true},
		{"stopping, stop again", partStopping, "s1", event{"stop", ""}, partStopping, "s1", false, true},

		{"recording, end", partRecording, "s1", event{"end", ""}, partIdle, "", true, false},
		{"stopping, end", partStopping, "s1", event{"end", ""}, partIdle, "", true, false},
		{"idle, end", partIdle, "", event{"end", ""}, partIdle, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := part{state: tc.from, snoop: tc.snoop}
			if tc.from != partIdle {
				p.done = make(chan struct{})
			}
			before := p.done
			ok := false
			switch tc.ev.op {
			case "begin":
				p.begin(tc.ev.snoop)
			case "started":
				p.started(tc.ev.snoop)
			case "endedOn":
				ok = p.endedOn(tc.ev.snoop)
			case "stop":
				var sid string
				var done <-chan struct{}
				sid, done, ok = p.stop()
				if ok && (sid != tc.snoop || done != before) {
					t.Errorf("stop returned %q %v, want the current part %q", sid, done, tc.snoop)
				}
			case "end":
				p.end()
			}
			if p.state != tc.want || p.snoop != tc.wantSnoop {
				t.Errorf("after %s: %s %q, want %s %q", tc.ev.op, p.state, p.snoop, tc.want, tc.wantSnoop)
			}
			if (p.state == partIdle) != (p.snoop == "") {
				t.Errorf("state %s with snoop %q: idle exactly when there is no snoop", p.state, p.snoop)
			}
			if ok != tc.ok {
				t.Errorf("%s reported %v, want %v", tc.ev.op, ok, tc.ok)
			}
			ended := false
			if before != nil {
				select {
				case <-before:
					ended = true
				default:
				}
			}
			if ended != tc.ended {
				t.Errorf("previous part ended: %v, want %v", ended, tc.ended)
			}
			if p.state != partIdle {
				open := p.done != nil
				if open {
					select {
					case <-p.done:
						open = false
					default:
					}
				}
				if !open {
					t.Error("the current part's done is nil or closed")
				}
			}
			if p.asked() != (p.state == partStopping) {
				t.Errorf("asked() %v in state %s", p.asked(), p.state)
			}
		})
	}
}

// Every (state, event) of a spare snoop, and what each state means for the
// commands: whether the snoop is still to be requested, whether a drop
// deletes it.
func TestSpareTransitions(t *testing.T) {
	for _, tc := range []struct {
		from spareState
		ev   spareEvent
		want spareState
	}{
		{spareAsked, spareSnoopMade, spareMade},
		{spareAsked, spareSnoopRefused, spareVoid},
		{spareAsked, spareReleased, spareVoid}, // never made
		{spareAsked, spareStartTakes, spareAsked},

		{spareMade, spareSnoopMade, spareMade},
		{spareMade, spareSnoopRefused, spareVoid},
		{spareMade, spareReleased, spareMade}, // made: the release's job deletes it
		{spareMade, spareStartTakes, spareTaken},

		{spareTaken, spareSnoopMade, spareTaken},
		{spareTaken, spareSnoopRefused, spareVoid},
		{spareTaken, spareReleased, spareTaken}, // its channel went during the wait: deleted after it
		{spareTaken, spareStartTakes, spareTaken},

		{spareVoid, spareSnoopMade, spareMade}, // released while the request was on its way
		{spareVoid, spareSnoopRefused, spareVoid},
		{spareVoid, spareReleased, spareVoid},
		{spareVoid, spareStartTakes, spareVoid},
	} {
		if got := tc.from.on(tc.ev); got != tc.want {
			t.Errorf("%s + %s = %s, want %s", tc.from, tc.ev, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s                spareState
		toMake, hasSnoop bool
	}{
		{spareAsked, true, false},
		{spareMade, false, true},
		{spareTaken, false, true},
		{spareVoid, false, false},
	} {
		if tc.s.toMake() != tc.toMake || tc.s.hasSnoop() != tc.hasSnoop {
			t.Errorf("%s: toMake %v hasSnoop %v, want %v %v", tc.s, tc.s.toMake(), tc.s.hasSnoop(), tc.toMake, tc.hasSnoop)
		}
	}
}
