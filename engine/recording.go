package engine

import (
	"context"
	"time"
)

// startRec starts a new recording of c (one row, one file).
func (e *Engine) startRec(ctx context.Context, c *call, by StartedBy, pol TenantPolicy, at time.Time) *recording {
	leg := c.pickLeg(false)
	if leg == nil {
		return nil
	}
	if !c.rowStored {
		e.describeCall(c)
		e.storeCall(ctx, c) // retry a failed CreateCall: the file name needs the id
	}
	id, prepared := e.takeSpare(ctx, c, leg)
	r := &recording{call: c, channel: leg.id}
	r.row = RecordingRow{
		UUID: id, CallID: c.row.ID, Tenant: c.tenant, Start: at,
		Filename: Filename(at, c.row.ID, id, pol.Format), Format: pol.Format,
		State: StateRecording, StartedBy: by,
	}
	c.recs = append(c.recs, r)
	e.recs[id] = r
	h, err := e.pbx.StartRecording(ctx, leg.id, id, pol.Format)
	if err != nil {
		e.log.Error("engine: start recording", "recording", id, "channel", leg.id, "err", err)
		if prepared {
			e.release(ctx, id)
		}
		r.row.State, r.row.End, r.row.FailureReason = StateFailed, at, err.Error()
		c.autoOff = true
		e.storeRec(ctx, r)
		return r
	}
	if h == "" {
		h = id
	}
	r.handle = h
	e.storeRec(ctx, r)
	if pol.Announcements {
		e.play(ctx, c.partyIDs(), PromptRecordingStarted)
	}
	return r
}

// rearm records the same recording (same name: the PBX appends) on a
// remaining leg after the recorded channel left the call.
func (e *Engine) rearm(ctx context.Context, r *recording, at time.Time) {
	leg := r.call.pickLeg(false)
	if leg == nil {
		return
	}
	r.channel, r.legDead, r.live = leg.id, false, false
	h, err := e.pbx.StartRecording(ctx, leg.id, r.row.UUID, r.row.Format)
	if err != nil {
		e.log.Error("engine: re-arm recording", "recording", r.row.UUID, "channel", leg.id, "err", err)
		e.failRec(ctx, r, err.Error(), at)
		return
	}
	if h == "" {
		h = r.row.UUID
	}
	r.handle = h
	e.log.Debug("engine: recording re-armed", "recording", r.row.UUID, "channel", leg.id)
}

// onLegDeaf notes that recording ch no longer captures what ch hears and
// moves an active recording running on ch to the best leg that does: stop
// the current part, start the next one with the same name (the PBX appends
// after the stopped part's end). A paused recording only loses its part; it
// is re-armed, on the best leg then, when it is resumed.
func (e *Engine) onLegDeaf(ctx context.Context, id string, at time.Time) {
	ch := e.channels[id]
	if ch == nil || ch.deaf {
		return
	}
	ch.deaf = true
	c := ch.call
	r := c.active()
	if r == nil || r.channel != id || r.legDead {
		return
	}
	leg := c.pickLeg(false)
	if leg == nil || leg == ch || leg.deaf {
		e.log.Info("engine: recorded leg is deaf and no other leg hears the call; kept", "recording", r.row.UUID, "channel", id)
		return
	}
	e.log.Info("engine: moving recording off a deaf leg", "recording", r.row.UUID, "from", id, "to", leg.id)
	if err := e.pbx.StopRecording(ctx, r.handle); err != nil {
		e.log.Warn("engine: stop recording part", "recording", r.row.UUID, "err", err)
	}
	r.legDead, r.live = true, false
	r.oldParts++
	if r.row.State == StateRecording {
		e.rearm(ctx, r, at)
	}
}

func (e *Engine) stopRec(ctx context.Context, r *recording, why StopReason, at time.Time) {
	if !r.row.State.active() {
		return
	}
	if !r.legDead {
		if err := e.pbx.StopRecording(ctx, r.handle); err != nil {
			e.log.Warn("engine: stop recording", "recording", r.row.UUID, "err", err)
		}
	}
	r.row.State, r.row.StopReason = StateStopped, why
	e.closeRec(r, at)
	e.storeRec(ctx, r)
}

func (e *Engine) failRec(ctx context.Context, r *recording, reason string, at time.Time) {
	if !r.row.State.active() {
		return
	}
	r.row.State, r.row.FailureReason = StateFailed, reason
	r.call.autoOff = true
	e.closeRec(r, at)
	e.storeRec(ctx, r)
}

func (e *Engine) closeRec(r *recording, at time.Time) {
	if at.Before(r.row.Start) {
		at = r.row.Start
	}
	r.row.End = at
	if n := len(r.row.Paused); n > 0 && r.row.Paused[n-1].End.IsZero() {
		r.row.Paused[n-1].End = at
	}
}

func (e *Engine) pauseRec(ctx context.Context, r *recording, pol TenantPolicy, at time.Time) {
	if r.row.State != StateRecording {
		return
	}
	r.row.State = StatePaused
	r.row.Paused = append(r.row.Paused, Interval{Start: at})
	if r.live {
		if err := e.pbx.PauseRecording(ctx, r.handle); err != nil {
			e.log.Warn("engine: pause recording", "recording", r.row.UUID, "err", err)
		}
	}
	e.storeRec(ctx, r)
	if pol.Announcements {
		e.play(ctx, r.call.partyIDs(), PromptRecordingPaused)
	}
}

func (e *Engine) resumeRec(ctx context.Context, r *recording, pol TenantPolicy, at time.Time) {
	if r.row.State != StatePaused {
		return
	}
	r.row.State = StateRecording
	if n := len(r.row.Paused); n > 0 && r.row.Paused[n-1].End.IsZero() {
		if at.Before(r.row.Paused[n-1].Start) {
			at = r.row.Paused[n-1].Start
		}
		r.row.Paused[n-1].End = at
	}
	switch {
	case r.legDead:
		e.rearm(ctx, r, at)
	case r.live:
		if err := e.pbx.ResumeRecording(ctx, r.handle); err != nil {
			e.log.Warn("engine: resume recording", "recording", r.row.UUID, "err", err)
		}
	}
	if r.row.State.active() {
		e.storeRec(ctx, r)
		if pol.Announcements {
			e.play(ctx, r.call.partyIDs(), PromptRecordingResumed)
		}
	}
}

func (e *Engine) storeRec(ctx context.Context, r *recording) {
	if e.records == nil {
		return
	}
	if !r.rowStored {
		if err := e.records.CreateRecording(ctx, r.row); err != nil {
			e.log.Error("engine: create recording", "recording", r.row.UUID, "err", err)
			return
		}
		r.rowStored = true
		return
	}
	if err := e.records.UpdateRecording(ctx, r.row); err != nil {
		e.log.Error("engine: update recording", "recording", r.row.UUID, "err", err)
	}
}

func (e *Engine) play(ctx context.Context, ids []string, p Prompt) {
	if len(ids) == 0 {
		return
	}
	if err := e.pbx.Play(ctx, ids, p); err != nil {
		e.log.Warn("engine: play", "prompt", p, "err", err)
	}
}

// ---- recording events ----

func (e *Engine) onRecStarted(ctx context.Context, ev RecordingStarted, at time.Time) {
	r := e.recs[ev.Name]
	if r == nil {
		e.log.Debug("engine: unknown recording started", "name", ev.Name)
		return
	}
	if ev.Channel != "" && ev.Channel != r.channel {
		return // an older part (re-armed since)
	}
	if !r.row.State.active() {
		// We stopped it before the PBX confirmed the start: stop it again.
		if !r.restopped && !r.legDead {
			r.restopped = true
			if err := e.pbx.StopRecording(ctx, r.handle); err != nil {
				e.log.Warn("engine: stop recording", "recording", r.row.UUID, "err", err)
			}
		}
		return
	}
	if r.live || r.legDead {
		return // duplicate, or its leg already died
	}
	r.live = true
	if r.row.State == StatePaused {
		// Paused before the PBX confirmed the start.
		if err := e.pbx.PauseRecording(ctx, r.handle); err != nil {
			e.log.Warn("engine: pause recording", "recording", r.row.UUID, "err", err)
		}
	}
}

// onRecEnded handles RecordingFinished (reason "") and RecordingFailed.
func (e *Engine) onRecEnded(ctx context.Context, name, chID, reason string, at time.Time) {
	r := e.recs[name]
	if r == nil {
		return
	}
	old := false
	switch {
	case chID != "":
		old = chID != r.channel || r.legDead
	default:
		old = r.oldParts > 0
	}
	if old {
		if r.oldParts > 0 {
			r.oldParts--
		}
		return
	}
	if !r.row.State.active() {
		if r.call.ended || r.call.active() != r {
			delete(e.recs, name)
		}
		return
	}
	if reason != "" {
		e.log.Warn("engine: recording failed", "recording", name, "reason", reason)
		r.live = false
		e.failRec(ctx, r, reason, at)
		return
	}
	// The PBX ended the current part on its own while the leg still talks
	// (someone stopped it behind our back): do not fight it with new ones.
	r.legDead, r.live = true, false
	r.call.autoOff = true
	r.row.State, r.row.StopReason = StateStopped, StopPBXLost
	e.closeRec(r, at)
	e.storeRec(ctx, r)
	e.evaluate(ctx, r.call, at)
}
