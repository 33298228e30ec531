package engine

import "context"

// Preparer is implemented by a PBX that can get a recording ready before the
// call is answered, so that the answer only has to start it (Asterisk: the
// snoop channel exists already, and the answer costs one request instead of
// two round trips). An engine whose Config.Prepares is set prepares a
// ringing call it expects to record (OpPrepare), on the leg it expects to
// record, under the name the recording will have; OpStart with that leg and
// name then uses the preparation. OpRelease drops a preparation the engine
// will not use. Both are commands like the others: queue, do not block.
type Preparer interface {
	PrepareRecording(ctx context.Context, channelID, name string) error
	ReleasePrepared(ctx context.Context, name string) error
}

// spare is a prepared recording: its future name and the leg it is on.
type spare struct {
	name string
	leg  string
}

// prepareForAnswer keeps a ringing call's preparation in line with what the
// answer would do: prepared on the leg the recording would take when the
// policy would record the call once its callees answer, released otherwise.
func (e *Engine) prepareForAnswer(ctx context.Context, c *call) {
	if !e.prepares {
		return
	}
	var leg *channel
	if !c.autoOff && !c.lowDisk && !c.unreachable && c.partyCount() >= 2 && c.autoWanted(true) {
		pol := e.policy(ctx, c.tenant)
		if pol.AudioRecordingEnabled && (pol.RecordExternalToExternal || !c.externalOnly()) {
			leg = c.pickLeg(true)
		}
	}
	if c.spare != nil {
		if leg != nil && c.spare.leg == leg.id {
			return
		}
		e.releaseSpare(c)
	}
	if leg == nil {
		return
	}
	// A preparation the PBX could not make costs nothing: the start then
	// goes the ordinary way.
	name := e.newID()
	e.command(c, Command{Op: OpPrepare, Channel: leg.id, Name: name})
	c.spare = &spare{name: name, leg: leg.id}
}

// takeSpare returns the name a recording starting now on leg takes: the
// prepared one when it was prepared on that leg (prepared reports it), a
// new one otherwise (and the preparation is released).
func (e *Engine) takeSpare(c *call, leg *channel) (name string, prepared bool) {
	s := c.spare
	if s == nil {
		return e.newID(), false
	}
	c.spare = nil
	if s.leg == leg.id {
		return s.name, true
	}
	e.command(c, Command{Op: OpRelease, Name: s.name})
	return e.newID(), false
}

func (e *Engine) releaseSpare(c *call) {
	if c.spare == nil {
		return
	}
	e.command(c, Command{Op: OpRelease, Name: c.spare.name})
	c.spare = nil
}
