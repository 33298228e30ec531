package engine

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// startRec starts a new recording of c (one row, one file).
func (e *Engine) startRec(c *call, by recording.StartedBy, pol TenantPolicy, at time.Time) *rec {
	leg := c.pickLeg(false)
	if leg == nil {
		return nil
	}
	if !c.rowStored {
		e.describeCall(c)
		e.storeCall(c)
	}
	id, prepared := e.takeSpare(c, leg)
	r := &rec{call: c, key: c.key, channel: leg.id}
	r.row = RecordingRow{
		UUID: id, CallID: c.row.ID, Tenant: c.tenant, Start: at,
		Filename: recording.Filename(at, c.row.ID, id, pol.Format), Format: pol.Format,
		State: recording.StateRecording, StartedBy: by,
	}
	c.recs = append(c.recs, r)
	e.recs[id] = r
	if e.mayStart != nil {
		if err := e.mayStart(); err != nil {
			e.log.Error("engine: recording refused", "recording", id, "channel", leg.id, "err", err)
			if prepared {
				e.command(c, Command{Op: OpRelease, Name: id})
			}
			r.row.State, r.row.End, r.row.FailureReason = recording.StateFailed, at, err.Error()
			if by == recording.ByPolicy {
				c.lowDisk = true // StorageRecovered tries again
			} else {
				c.autoOff = true // somebody asked and was refused: the policy does not step in later
			}
			e.storeRec(r)
			return r
		}
	}
	e.command(c, Command{Op: OpStart, Channel: leg.id, Name: id, Format: pol.Format})
	e.storeRec(r)
	if pol.Announcements {
		e.play(c, c.partyIDs(), PromptRecordingStarted)
	}
	return r
}

// retryAfterResync: the policy's recording name failed to start because
// the PBX could not be reached (not refused), so the next Snapshot — the
// link back — tries again instead of leaving the call unrecorded.
func (e *Engine) retryAfterResync(name string) {
	r := e.recs[name]
	if r == nil || r.confirmed || r.row.StartedBy != recording.ByPolicy || r.row.State != recording.StateFailed || r.call.ended {
		return
	}
	r.call.autoOff, r.call.unreachable = false, true
}

// onStorageRecovered starts the recordings the disk guard refused, for the
// calls that still want them (a new recording: the refused row stays
// failed, with its reason).
func (e *Engine) onStorageRecovered(ctx context.Context, at time.Time) {
	var waiting []*call
	for id, c := range e.calls {
		if c.lowDisk && !c.ended && id == c.pbxID { // once each: aliases map to the same call
			waiting = append(waiting, c)
		}
	}
	slices.SortFunc(waiting, func(a, b *call) int { return cmp.Compare(a.seq, b.seq) }) // oldest call first
	for _, c := range waiting {
		c.lowDisk = false
		e.evaluate(ctx, c, at)
	}
}

// rearm records the same recording (same name: the PBX appends) on a
// remaining leg after the recorded channel left the call.
func (e *Engine) rearm(r *rec, at time.Time) {
	leg := r.call.pickLeg(false)
	if leg == nil {
		return
	}
	r.channel, r.legDead, r.live = leg.id, false, false
	e.command(r.call, Command{Op: OpStart, Channel: leg.id, Name: r.row.UUID, Format: r.row.Format})
	e.log.Debug("engine: recording re-armed", "recording", r.row.UUID, "channel", leg.id)
}

// onLegDeaf notes that recording ch no longer captures what ch hears and
// moves an active recording running on ch to the best leg that does: stop
// the current part, start the next one with the same name (the PBX appends
// after the stopped part's end). A paused recording only loses its part; it
// is re-armed, on the best leg then, when it is resumed.
func (e *Engine) onLegDeaf(id string, at time.Time) {
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
	e.command(c, Command{Op: OpStop, Name: r.row.UUID})
	r.legDead, r.live = true, false
	r.oldParts++
	if r.row.State == recording.StateRecording {
		e.rearm(r, at)
	}
}

func (e *Engine) stopRec(r *rec, why recording.StopReason, at time.Time) {
	if !r.row.State.Active() {
		return
	}
	if !r.legDead {
		e.command(r.call, Command{Op: OpStop, Name: r.row.UUID})
	}
	r.row.State, r.row.StopReason = recording.StateStopped, why
	e.closeRec(r, at)
	e.storeRec(r)
}

func (e *Engine) failRec(r *rec, reason string, at time.Time) {
	if !r.row.State.Active() {
		return
	}
	r.row.State, r.row.FailureReason = recording.StateFailed, reason
	r.call.autoOff = true
	e.closeRec(r, at)
	e.storeRec(r)
}

func (e *Engine) closeRec(r *rec, at time.Time) {
	if at.Before(r.row.Start) {
		at = r.row.Start
	}
	r.row.End = at
	if n := len(r.row.Paused); n > 0 && r.row.Paused[n-1].End.IsZero() {
		r.row.Paused[n-1].End = at
	}
}

func (e *Engine) pauseRec(r *rec, pol TenantPolicy, at time.Time) {
	if r.row.State != recording.StateRecording {
		return
	}
	r.row.State = recording.StatePaused
	r.row.Paused = append(r.row.Paused, Interval{Start: at})
	if r.live {
		e.command(r.call, Command{Op: OpPause, Name: r.row.UUID})
	}
	e.storeRec(r)
	if pol.Announcements {
		e.play(r.call, r.call.partyIDs(), PromptRecordingPaused)
	}
}

func (e *Engine) resumeRec(r *rec, pol TenantPolicy, at time.Time) {
	if r.row.State != recording.StatePaused {
		return
	}
	r.row.State = recording.StateRecording
	if n := len(r.row.Paused); n > 0 && r.row.Paused[n-1].End.IsZero() {
		if at.Before(r.row.Paused[n-1].Start) {
			at = r.row.Paused[n-1].Start
		}
		r.row.Paused[n-1].End = at
	}
	switch {
	case r.legDead:
		e.rearm(r, at)
	case r.live:
		e.command(r.call, Command{Op: OpResume, Name: r.row.UUID})
	}
	e.storeRec(r)
	if pol.Announcements {
		e.play(r.call, r.call.partyIDs(), PromptRecordingResumed)
	}
}

func (e *Engine) play(c *call, ids []string, p Prompt) {
	if len(ids) == 0 {
		return
	}
	e.command(c, Command{Op: OpPlay, Channels: ids, Prompt: p})
}

// ---- recording events ----

func (e *Engine) onRecStarted(ev RecordingStarted) {
	r := e.recs[ev.Name]
	if r == nil {
		e.log.Debug("engine: unknown recording started", "name", ev.Name)
		return
	}
	if ev.Channel != "" && ev.Channel != r.channel {
		return // an older part (re-armed since)
	}
	if !r.row.State.Active() {
		// We stopped it before the PBX confirmed the start: stop it again.
		if !r.restopped && !r.legDead {
			r.restopped = true
			e.command(r.call, Command{Op: OpStop, Name: r.row.UUID})
		}
		return
	}
	if r.live || r.legDead {
		return // duplicate, or its leg already died
	}
	r.live = true
	if !r.confirmed {
		r.confirmed = true
		// The file begins when the PBX starts writing it, which under load
		// (a re-sync starting many recordings at once) can be seconds after
		// the command: the row starts with the audio.
		if ev.At.After(r.row.Start) && len(r.row.Paused) == 0 {
			r.row.Start = ev.At
			e.storeRec(r)
		}
	}
	if r.row.State == recording.StatePaused {
		// Paused before the PBX confirmed the start.
		e.command(r.call, Command{Op: OpPause, Name: r.row.UUID})
	}
}

// onRecEnded handles RecordingFinished (reason "") and RecordingFailed.
func (e *Engine) onRecEnded(ctx context.Context, name, chID, reason string, at time.Time) {
	r := e.recs[name]
	if r == nil {
		return
	}
	if reason != "" && !r.confirmed && r.row.State == recording.StateStopped && (chID == "" || chID == r.channel) {
		// Stopped (a hang-up) before the PBX wrote any part, and now it says
		// the start failed: no file will come, and the row says so instead
		// of pointing at one.
		r.row.State, r.row.FailureReason = recording.StateFailed, reason
		e.storeRec(r)
		if r.call.ended {
			delete(e.recs, name)
		}
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
	if !r.row.State.Active() {
		if r.call.ended || r.call.active() != r {
			delete(e.recs, name)
		}
		return
	}
	if reason != "" {
		e.log.Warn("engine: recording failed", "recording", name, "reason", reason)
		r.live = false
		e.failRec(r, reason, at)
		return
	}
	// The PBX ended the current part on its own while the leg still talks
	// (someone stopped it behind our back): do not fight it with new ones.
	r.legDead, r.live = true, false
	r.call.autoOff = true
	r.row.State, r.row.StopReason = recording.StateStopped, recording.StopPBXLost
	e.closeRec(r, at)
	e.storeRec(r)
	e.evaluate(ctx, r.call, at)
}
