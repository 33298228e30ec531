package engine

import (
	"context"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// The rules: what a call wants recorded, re-applied after every change.

// evaluate re-applies the rules to a call after any change.
func (e *Engine) evaluate(ctx context.Context, c *call, at time.Time) {
	if c == nil || c.ended || e.frozen {
		return
	}
	if !c.connected && c.partyCount() > 0 {
		e.prepareForAnswer(ctx, c)
		return
	}
	e.applyRules(ctx, c, at)
	// Connected (or over): a preparation the rules did not take is dropped.
	e.releaseSpare(c)
}

func (e *Engine) applyRules(ctx context.Context, c *call, at time.Time) {
	if c.partyCount() == 0 {
		if len(c.channels) == 0 {
			e.endCall(ctx, c, at)
		} else {
			for _, r := range c.recs {
				if r.row.State.Active() {
					e.stopRec(r, recording.StopHangup, at)
				}
			}
		}
		return
	}
	rec := c.active()
	if c.partyCount() < 2 {
		// The conversation is over (someone hung up): finalize — unless the
		// PBX leaves a transferee alone for a moment (TransfersLeaveLegAlone):
		// then the last party's own hang-up (partyCount 0) or its next
		// bridge decides.
		if rec != nil && !e.loneLeg {
			e.stopRec(rec, recording.StopHangup, at)
		}
		return
	}
	pol := e.policy(ctx, c.tenant)
	if c.externalOnly() && !pol.RecordExternalToExternal {
		if rec != nil {
			e.stopRec(rec, recording.StopExternalToExternal, at)
		}
		return
	}
	if rec != nil {
		if rec.legDead && rec.row.State == recording.StateRecording {
			e.rearm(rec, at)
		}
		return
	}
	if !c.autoOff && !c.lowDisk && !c.unreachable && pol.AudioRecordingEnabled && c.autoWanted(false) {
		e.startRec(c, recording.ByPolicy, pol, at)
	}
}

// autoWanted: some answered party P and the originator O (the oldest party)
// ask for it: O's outgoing flag for P's kind, or P's incoming flag for O's.
// ifAnswered counts every party as answered (what a ringing call would want).
func (c *call) autoWanted(ifAnswered bool) bool {
	o := c.originator()
	if o == nil {
		return false
	}
	for _, p := range c.channels {
		if p == o || !p.role.isParty() || !(ifAnswered || p.answered || p.talking()) {
			continue
		}
		if u := o.user; u != nil && o.role == RoleInternal {
			if p.role == RoleInternal && u.CallRecordOutgoingInternal || p.role != RoleInternal && u.CallRecordOutgoingExternal {
				return true
			}
		}
		if u := p.user; u != nil && p.role == RoleInternal {
			if o.role == RoleInternal && u.CallRecordIncomingInternal || o.role != RoleInternal && u.CallRecordIncomingExternal {
				return true
			}
		}
	}
	return false
}

func (e *Engine) endCall(ctx context.Context, c *call, at time.Time) {
	for _, r := range c.recs {
		if r.row.State.Active() {
			e.stopRec(r, recording.StopHangup, at)
		}
		if e.recs[r.row.UUID] == r {
			if r.confirmed {
				delete(e.recs, r.row.UUID)
			} else { // its failure may still come (onRecEnded); purgeTombs drops it after ttl
				e.tombFIFO = append(e.tombFIFO, tomb{at: at, rec: r.row.UUID})
			}
		}
	}
	e.releaseSpare(c)
	c.ended = true
	delete(e.byKey, c.key)
	if c.srcSet {
		c.row.End = at
		e.storeCall(c)
	}
	if e.calls[c.pbxID] == c {
		delete(e.calls, c.pbxID)
	}
	for _, al := range c.aliases {
		if e.calls[al] == c {
			delete(e.calls, al)
		}
	}
}

// ---- call helpers ----

func (c *call) originator() *channel {
	var o *channel
	for _, ch := range c.channels {
		if ch.role.isParty() && (o == nil || ch.seq < o.seq) {
			o = ch
		}
	}
	return o
}

func (c *call) partyCount() int {
	n := 0
	for _, ch := range c.channels {
		if ch.role.isParty() {
			n++
		}
	}
	return n
}

func (ch *channel) talking() bool {
	return ch.bridge != nil && len(ch.bridge.members) >= 2
}

// externalOnly: at least two parties and no internal one among those talking
// (or among all parties when nobody talks). Unknown roles count as external.
func (c *call) externalOnly() bool {
	parties, talking, internalTalking, internalAny := 0, 0, false, false
	for _, ch := range c.channels {
		if !ch.role.isParty() {
			continue
		}
		parties++
		in := ch.role == RoleInternal
		internalAny = internalAny || in
		if ch.talking() {
			talking++
			internalTalking = internalTalking || in
		}
	}
	if parties < 2 {
		return false
	}
	if talking > 0 {
		return !internalTalking
	}
	return !internalAny
}

func (c *call) active() *rec {
	for _, r := range c.recs {
		if r.row.State.Active() {
			return r
		}
	}
	return nil
}

// partyIDs lists the channels prompts for "all parties" go to.
func (c *call) partyIDs() []string {
	ids := make([]string, 0, len(c.channels))
	for _, ch := range c.channels {
		if ch.role.isParty() {
			ids = append(ids, ch.id)
		}
	}
	return ids
}

// pickLeg chooses the channel to record. Only legs that carry the
// conversation qualify before ringing ones (the originator, answered or
// bridged legs); among those a leg that hears the call before a deaf one
// (LegDeaf: recording it would capture only its own voice), then an
// external (trunk) leg, since it survives the users' transfers, then the
// oldest. ifAnswered ranks every party as answered (the leg a ringing call
// would be recorded on).
func (c *call) pickLeg(ifAnswered bool) *channel {
	orig := c.originator()
	var best *channel
	rank := func(ch *channel) int {
		r := 0
		if ifAnswered || ch == orig || ch.answered || ch.talking() {
			r += 8
		}
		if !ch.deaf {
			r += 4
		}
		if ch.role != RoleInternal {
			r += 2
		}
		return r
	}
	for _, ch := range c.channels {
		if !ch.role.isParty() {
			continue
		}
		if best == nil || rank(ch) > rank(best) || rank(ch) == rank(best) && ch.seq < best.seq {
			best = ch
		}
	}
	return best
}

func (e *Engine) policy(ctx context.Context, tenant string) TenantPolicy {
	p, err := e.settings.TenantPolicy(ctx, tenant)
	if err == nil {
		p = p.normalized()
		e.policies[tenant] = p
		return p
	}
	e.log.Error("engine: tenant policy", "tenant", tenant, "err", err)
	if p, ok := e.policies[tenant]; ok {
		return p
	}
	return DefaultTenantPolicy()
}
