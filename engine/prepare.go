package engine

import "context"

// Preparer is implemented by a PBX that can get a recording ready before the
// call is answered, so that the answer only has to start it (Asterisk: the
// snoop channel exists already, and the answer costs one request instead of
// two round trips). The engine prepares a ringing call it expects to record,
// on the leg it expects to record, under the name the recording will have;
// StartRecording with that leg and name then uses the preparation. Release
// drops a preparation the engine will not use. Both are commands like the
// others: queue, do not block.
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
	p, ok := e.pbx.(Preparer)
	if !ok {
		return
	}
	var leg *channel
	if !c.autoOff && !c.noSpare && c.partyCount() >= 2 && c.autoWanted(true) {
		pol := e.policy(ctx, c.tenant)
		if pol.AudioRecordingEnabled && (pol.RecordExternalToExternal || !c.externalOnly()) {
			leg = c.pickLeg(true)
		}
	}
	if c.spare != nil {
		if leg != nil && c.spare.leg == leg.id {
			return
		}
		e.releaseSpare(ctx, c)
	}
	if leg == nil {
		return
	}
	name := e.newID()
	if err := p.PrepareRecording(ctx, leg.id, name); err != nil {
		// Not worth retrying on every event: the answer starts it the
		// ordinary way.
		e.log.Debug("engine: prepare recording", "channel", leg.id, "err", err)
		c.noSpare = true
		return
	}
	c.spare = &spare{name: name, leg: leg.id}
}

// takeSpare returns the name a recording starting now on leg takes: the
// prepared one when it was prepared on that leg (prepared reports it), a
// new one otherwise (and the preparation is released).
func (e *Engine) takeSpare(ctx context.Context, c *call, leg *channel) (name string, prepared bool) {
	s := c.spare
	if s == nil {
		return e.newID(), false
	}
	c.spare = nil
	if s.leg == leg.id {
		return s.name, true
	}
	e.release(ctx, s.name)
	return e.newID(), false
}

func (e *Engine) releaseSpare(ctx context.Context, c *call) {
	if c.spare == nil {
		return
	}
	e.release(ctx, c.spare.name)
	c.spare = nil
}

func (e *Engine) release(ctx context.Context, name string) {
	if p, ok := e.pbx.(Preparer); ok {
		if err := p.ReleasePrepared(ctx, name); err != nil {
			e.log.Warn("engine: release prepared recording", "name", name, "err", err)
		}
	}
}
