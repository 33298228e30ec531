package ari

import (
	"strconv"
	"strings"
)

// The recorder's two small state machines, kept apart from the commands
// so that a table test covers every transition. Both are changed under
// recorder.mu only.

// partState is where a recording's current part is on the PBX.
type partState uint8

const (
	partIdle      partState = iota // no part: the spool file is complete for now
	partSnooping                   // its snoop is in the application and its record is asked
	partRecording                  // RecordingStarted seen (or found live at a re-sync)
	partStopping                   // callrecd asked the PBX to stop it
)

func (s partState) String() string {
	return [...]string{"idle", "snooping", "recording", "stopping"}[s]
}

// part is a recording's current part: the snoop it records on.
type part struct {
	state partState
	snoop string        // "" exactly when idle
	done  chan struct{} // closed when the part ends (an append waits for it)
}

// begin starts a part on snoop sid, which is in the application: its
// record is asked now. A different part still current ends.
func (p *part) begin(sid string) {
	if p.snoop != "" && p.snoop != sid {
		p.end()
	}
	p.snoop, p.done, p.state = sid, make(chan struct{}), partSnooping
}

// started: RecordingStarted on target, or a re-sync found the recording
// live there. A part on another snoop ends; one being stopped stays so.
func (p *part) started(target string) {
	switch {
	case target == "":
		p.end() // not a channel: no part of ours
	case p.snoop != target:
		p.end()
		p.snoop, p.done, p.state = target, make(chan struct{}), partRecording
	case p.state != partStopping:
		p.state = partRecording
	}
}

// endedOn ends the current part if it is the one on target (its
// RecordingFinished/Failed, its stop done, its record refused) and reports
// whether it was.
func (p *part) endedOn(target string) bool {
	if p.snoop != target {
		return false
	}
	p.end()
	return true
}

// stop marks the current part as being stopped by callrecd and returns its
// snoop and end; ok is false when there is no part.
func (p *part) stop() (sid string, done <-chan struct{}, ok bool) {
	if p.snoop == "" {
		return "", nil, false
	}
	p.state = partStopping
	return p.snoop, p.done, true
}

// asked reports whether callrecd asked for the current part's end.
func (p *part) asked() bool { return p.state == partStopping }

// end ends the current part, if any: whoever waits for it goes on.
func (p *part) end() {
	if p.done != nil {
		select {
		case <-p.done:
		default:
			close(p.done)
		}
	}
	p.snoop, p.state = "", partIdle
}

// spareState is where a spare snoop is (see spare). Whether the spare is
// still on offer is its presence in recorder.spares, not a state.
type spareState uint8

const (
	spareAsked spareState = iota // its snoop is to be made: the request is queued or on its way
	spareMade                    // its snoop exists (deleted by whoever releases it)
	spareTaken                   // a start records on it (first waiting for its StasisStart)
	spareVoid                    // no snoop and none to make: released before it was made, or refused
)

func (s spareState) String() string {
	return [...]string{"asked", "made", "taken", "void"}[s]
}

// spareEvent is what happens to a spare.
type spareEvent uint8

const (
	spareSnoopMade    spareEvent = iota // the snoop request succeeded
	spareSnoopRefused                   // it failed: the start will make its own snoop
	spareReleased                       // nobody will record on it (released, its channel gone, unusable)
	spareStartTakes                     // StartRecording records on it
)

func (e spareEvent) String() string {
	return [...]string{"snoop made", "snoop refused", "released", "start takes"}[e]
}

// on returns the state after e.
func (s spareState) on(e spareEvent) spareState {
	switch e {
	case spareSnoopMade:
		// Also after a release while the request was on its way (void):
		// the release's job, queued behind, deletes the snoop.
		if s == spareAsked || s == spareVoid {
			return spareMade
		}
	case spareSnoopRefused:
		return spareVoid
	case spareReleased:
		if s == spareAsked {
			return spareVoid // never make it
		}
	case spareStartTakes:
		if s == spareMade {
			return spareTaken
		}
	}
	return s
}

// toMake reports whether the snoop must still be requested.
func (s spareState) toMake() bool { return s == spareAsked }

// hasSnoop reports whether the spare's snoop exists on the PBX (to delete
// when it is not recorded on).
func (s spareState) hasSnoop() bool { return s == spareMade || s == spareTaken }

// parseSnoopID splits "callrecd-<name>-<part>".
func parseSnoopID(id string) (name string, part int, ok bool) {
	rest, ok := strings.CutPrefix(id, SnoopPrefix)
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", 0, false
	}
	return rest[:i], n, true
}
