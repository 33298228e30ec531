package engine

import (
	"context"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// onSnapshot reconciles the engine with the PBX after a (re)connect:
//   - unknown channels are created (a fresh engine finds their open CDR row
//     in the index), known ones get their answer state and bridge;
//   - known channels missing from the snapshot hung up while we were away;
//     a call left without channels is closed, its recordings stopped with
//     stop_reason hangup, at the best known time (vanishedAt), not at the
//     snapshot;
//   - live recordings the engine knows are adopted (no second recording);
//     a live recording it does not know is adopted from its row in the
//     index; an active recording the PBX
//     no longer has, on a call that still exists, is stopped with
//     stop_reason pbx_lost (the policy may then start a new one);
//   - at the first snapshot, a row an earlier run left between two parts
//     of a call still up is taken back (takeBackBetweenParts);
//   - finally every call is evaluated again;
//   - at the first snapshot only, rows an earlier run left open that the
//     engine does not hold now are closed (see closeLost).
func (e *Engine) onSnapshot(ctx context.Context, ev Snapshot, at time.Time) {
	e.frozen = true
	// Preparations may not have survived what happened while we were away:
	// drop them; the final evaluation prepares again what still rings.
	for _, c := range e.calls {
		e.releaseSpare(c)
	}
	idx := ev.index
	if idx == nil {
		idx = &indexView{}
	}
	seen := make(map[string]bool, len(ev.Channels))
	for _, sc := range ev.Channels {
		if sc.Channel == "" {
			continue
		}
		seen[sc.Channel] = true
		if e.channels[sc.Channel] != nil {
			if sc.Answered {
				e.onAnswered(ctx, sc.Channel, at)
			}
			continue
		}
		delete(e.tombs, sc.Channel)
		pbxID := sc.CallID
		if pbxID == "" {
			pbxID = sc.Channel
		}
		if e.calls[pbxID] == nil && sc.Role.isParty() {
			if row, ok := idx.openCall(sc.Tenant, pbxID); ok {
				c := e.newCall(pbxID, sc.Tenant)
				delete(e.byKey, c.key) // its id is known
				c.row, c.rowStored, c.srcSet = row, true, true
				c.dstFrozen, c.connected = !row.Answer.IsZero(), !row.Answer.IsZero()
			}
		}
		cc := sc.ChannelCreated
		cc.At = at
		e.onCreated(ctx, cc, at)
	}
	for _, sc := range ev.Channels {
		ch := e.channels[sc.Channel]
		if ch == nil {
			continue
		}
		switch {
		case sc.Bridge == "" && ch.bridge != nil:
			e.leaveBridge(ch)
		case sc.Bridge != "" && (ch.bridge == nil || ch.bridge.id != sc.Bridge):
			e.onBridged(ctx, ch.id, sc.Bridge, at)
		}
	}
	var gone []string
	for id := range e.channels {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	goneCalls := map[*call]bool{}
	for _, id := range gone {
		goneCalls[e.channels[id].call] = true
		e.onHangup(ctx, id, at)
	}

	live := make(map[string]LiveRecording, len(ev.Recordings))
	for _, lr := range ev.Recordings {
		live[lr.Name] = lr
	}
	for name, r := range e.recs {
		if !r.row.State.Active() {
			continue
		}
		lr, ok := live[name]
		switch {
		case ok:
			e.adopt(r, lr)
		case r.call.partyCount() == 0:
			// The call vanished: evaluate closes it (stop_reason hangup).
		case r.legDead && r.row.State == recording.StatePaused:
			// Waiting for resume to re-arm: nothing runs on the PBX.
		default:
			r.legDead, r.live = true, false
			r.row.State, r.row.StopReason = recording.StateStopped, recording.StopPBXLost
			e.closeRec(r, at)
			e.storeRec(r)
		}
	}
	for _, lr := range ev.Recordings {
		if e.recs[lr.Name] != nil {
			continue
		}
		row, ok := idx.recordings[lr.Name]
		ch := e.channels[lr.Channel]
		if !ok || ch == nil {
			e.log.Info("engine: live recording not ours, left alone", "name", lr.Name, "channel", lr.Channel)
			continue
		}
		if !row.State.Active() || ch.call.active() != nil {
			e.command(ch.call, Command{Op: OpStop, Name: lr.Name})
			continue
		}
		r := &rec{row: row, rowStored: true, key: ch.call.key, call: ch.call, channel: ch.id}
		ch.call.recs = append(ch.call.recs, r)
		e.recs[lr.Name] = r
		e.adopt(r, lr)
	}
	if !e.synced && e.appends {
		e.takeBackBetweenParts(idx)
	}
	e.frozen = false
	var calls []*call
	for id, c := range e.calls {
		if id == c.pbxID {
			calls = append(calls, c)
		}
	}
	for _, c := range calls {
		c.unreachable = false // the link is back: a start it cut off is tried again
		end := at
		if goneCalls[c] && c.partyCount() == 0 {
			end = vanishedAt(c, idx, at)
		}
		e.evaluate(ctx, c, end)
	}
	if !e.synced {
		e.synced = true
		e.closeLost(idx, at)
	}
}

// takeBackBetweenParts binds the rows an earlier run left recording or
// paused on a call that is still up but with nothing live on the PBX: that
// run ended between two parts (stopping the part on a leg that went deaf,
// before starting the next). The final evaluation re-arms a recording one
// (the next part appends to the same file); a paused one is re-armed when
// it is resumed. A row the PBX has no file for never began: closeLost
// fails it, and the call is recorded anew. Only where a start appends
// (Config.StartsAppend).
func (e *Engine) takeBackBetweenParts(idx *indexView) {
	byID := map[int64]*call{}
	for id, c := range e.calls {
		if id == c.pbxID && c.row.ID != 0 {
			byID[c.row.ID] = c
		}
	}
	for _, o := range idx.open {
		c := byID[o.Row.CallID]
		if e.recs[o.Row.UUID] != nil || o.NoAudio || c == nil || c.ended || c.active() != nil || c.partyCount() == 0 {
			continue
		}
		e.log.Info("engine: taking back a recording an earlier run left between two parts", "recording", o.Row.UUID)
		r := &rec{row: o.Row, rowStored: true, key: c.key, call: c, legDead: true, confirmed: true}
		c.recs = append(c.recs, r)
		e.recs[o.Row.UUID] = r
	}
}

// vanishedAt is when a call that vanished while we were away (every party
// gone from the snapshot: the link was cut, the call ended meanwhile) is
// best known to have ended: the latest sign its active recordings were
// running (the index's Seen: the spool file's last write), as closeLost
// dates the rows an earlier run left open; never after the snapshot, never
// before a recording's start. Without such a sign: at, the snapshot.
func vanishedAt(c *call, idx *indexView, at time.Time) time.Time {
	seen := make(map[string]time.Time, len(idx.open))
	for _, o := range idx.open {
		seen[o.Row.UUID] = o.Seen
	}
	var end time.Time
	for _, r := range c.recs {
		s, ok := seen[r.row.UUID]
		if !r.row.State.Active() || !ok {
			continue
		}
		// only a sign beyond what the row itself says (its start, its pause
		// boundaries) tells when it stopped: a spool file's last write; a PBX
		// whose files callrecd cannot see gives none
		known := r.row.Start
		for _, p := range r.row.Paused {
			known = later(later(known, p.Start), p.End)
		}
		if !s.After(known) {
			continue
		}
		end = later(end, clampTime(s, r.row.Start, at))
	}
	if end.IsZero() {
		return at
	}
	return end
}

// adopt binds a recording the PBX reports live and makes the PBX match the
// engine's state (paused or not).
func (e *Engine) adopt(r *rec, lr LiveRecording) {
	if lr.Channel != "" {
		r.channel = lr.Channel
	}
	r.live, r.legDead, r.oldParts, r.confirmed = true, false, 0, true
	switch want := r.row.State == recording.StatePaused; {
	case lr.PauseUnknown && want:
		e.command(r.call, Command{Op: OpPause, Name: r.row.UUID})
	case lr.PauseUnknown:
		e.command(r.call, Command{Op: OpResume, Name: r.row.UUID})
	case lr.Paused == want:
	case want:
		e.command(r.call, Command{Op: OpPause, Name: r.row.UUID})
	default:
		e.command(r.call, Command{Op: OpResume, Name: r.row.UUID})
	}
}
