package engine

import (
	"context"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// The call graph: channels, bridges and calls, and how events change them.

func (e *Engine) onCreated(ctx context.Context, ev ChannelCreated, at time.Time) {
	if ev.Channel == "" {
		return
	}
	if _, dead := e.tombs[ev.Channel]; dead {
		e.log.Debug("engine: created after hangup, ignored", "channel", ev.Channel)
		return
	}
	if ch := e.channels[ev.Channel]; ch != nil {
		// Duplicate: only learn what we did not know.
		if ev.Answered && !ch.answered {
			e.onAnswered(ctx, ch.id, at)
		}
		return
	}
	e.seq++
	ch := &channel{
		id: ev.Channel, seq: e.seq, tenant: ev.Tenant, endpoint: ev.Endpoint, sipCallID: ev.SIPCallID,
		role: ev.Role, callerNum: ev.CallerNumber, callerNam: ev.CallerName,
		calleeNum: ev.CalleeNumber, group: ev.Group, queue: ev.Queue,
	}
	if ch.role == RoleInternal && ev.Endpoint != "" {
		u, ok, err := e.settings.UserByEndpoint(ctx, ev.Tenant, ev.Endpoint)
		if err != nil {
			e.log.Error("engine: user lookup", "tenant", ev.Tenant, "endpoint", ev.Endpoint, "err", err)
		} else if ok {
			ch.user = &u
		}
	}
	e.channels[ch.id] = ch
	pbxID := ev.CallID
	if pbxID == "" {
		pbxID = ch.id
	}
	c := e.calls[pbxID]
	if c == nil {
		c = e.newCall(pbxID, ev.Tenant)
		c.row = CallRow{Tenant: ev.Tenant, PBXCallID: pbxID, Start: at}
	}
	ch.call = c
	c.channels = append(c.channels, ch)
	if ch.role.isParty() {
		e.describeCall(c)
		e.storeCall(c)
	}
	if ev.Answered {
		ch.answered = true
		e.markConnected(ctx, c, ch, at)
	}
	e.evaluate(ctx, c, at)
}

// describeCall fills the CDR's source (the originator, once) and destination
// (the best other party; frozen once an answered destination is known).
func (e *Engine) describeCall(c *call) {
	src := c.originator()
	if src == nil {
		return
	}
	r := &c.row
	if !c.srcSet {
		c.srcSet = true
		r.SourceNumber, r.SourceName = src.callerNum, src.callerNam
		if src.user != nil {
			r.SourceUserUUID, r.SourceExtension = src.user.UUID, src.user.Extension
			if r.SourceName == "" {
				r.SourceName = src.user.Name
			}
			if r.SourceNumber == "" {
				r.SourceNumber = src.user.Extension
			}
		}
		r.DestinationNumber = src.calleeNum
		if src.role == RoleInternal {
			r.Direction = DirInternal
		} else {
			r.Direction = DirInbound
		}
	}
	if r.RequestedNumber == "" {
		r.RequestedNumber = src.calleeNum
	}
	if c.dstFrozen {
		return
	}
	var dst *channel
	for _, ch := range c.channels {
		if ch == src || !ch.role.isParty() {
			continue
		}
		if dst == nil || ch.answered && !dst.answered {
			dst = ch
		}
	}
	if dst == nil {
		return
	}
	switch {
	case src.role == RoleInternal && dst.role == RoleInternal:
		r.Direction = DirInternal
	case src.role == RoleInternal:
		r.Direction = DirOutbound
	default:
		r.Direction = DirInbound
	}
	r.DestinationUserUUID, r.DestinationExtension, r.DestinationName = "", "", ""
	if dst.user != nil {
		r.DestinationUserUUID, r.DestinationExtension = dst.user.UUID, dst.user.Extension
		r.DestinationName = dst.user.Name
	}
	switch {
	case dst.user != nil && dst.user.Extension != "":
		r.DestinationNumber = dst.user.Extension
	case dst.calleeNum != "":
		r.DestinationNumber = dst.calleeNum
	case src.calleeNum != "":
		r.DestinationNumber = src.calleeNum
	}
	if c.connected && dst.answered {
		c.dstFrozen = true
	}
}

// newCall registers a call (its row is written once it has a party).
func (e *Engine) newCall(pbxID, tenant string) *call {
	e.seq++
	c := &call{seq: e.seq, key: RowKey(e.seq), pbxID: pbxID, tenant: tenant}
	e.calls[pbxID] = c
	e.byKey[c.key] = c
	return c
}

func (e *Engine) onAnswered(ctx context.Context, id string, at time.Time) {
	ch := e.channels[id]
	if ch == nil || ch.answered {
		return
	}
	ch.answered = true
	c := ch.call
	e.markConnected(ctx, c, ch, at)
	e.evaluate(ctx, c, at)
}

// markConnected notes that the conversation began: a channel other than the
// originator answered (or two channels were bridged).
func (e *Engine) markConnected(ctx context.Context, c *call, ch *channel, at time.Time) {
	if c.connected || ch == nil || !ch.role.isParty() {
		return
	}
	if orig := c.originator(); orig == nil || orig == ch || c.partyCount() < 2 {
		return
	}
	e.setConnected(ctx, c, at)
}

func (e *Engine) setConnected(ctx context.Context, c *call, at time.Time) {
	if c.connected {
		return
	}
	c.connected = true
	c.row.Answer = at
	e.describeCall(c)
	e.storeCall(c)
}

func (e *Engine) onBridged(ctx context.Context, chID, bID string, at time.Time) {
	ch := e.channels[chID]
	if ch == nil || bID == "" {
		return
	}
	if ch.bridge != nil {
		if ch.bridge.id == bID {
			return // duplicate
		}
		e.leaveBridge(ch)
	}
	b := e.bridges[bID]
	if b == nil {
		b = &bridge{id: bID}
		e.bridges[bID] = b
	}
	b.members = append(b.members, ch)
	ch.bridge = b
	c := ch.call
	for _, m := range b.members {
		if m.call != c {
			c = e.merge(ctx, c, m.call, at)
		}
	}
	if len(b.members) >= 2 {
		n := 0
		for _, m := range b.members {
			if m.role.isParty() {
				n++
			}
		}
		if n >= 2 || c.partyCount() >= 2 {
			e.setConnected(ctx, c, at)
		}
	}
	e.evaluate(ctx, c, at)
}

func (e *Engine) leaveBridge(ch *channel) {
	b := ch.bridge
	if b == nil {
		return
	}
	ch.bridge = nil
	for i, m := range b.members {
		if m == ch {
			last := len(b.members) - 1
			b.members[i] = b.members[last]
			b.members[last] = nil
			b.members = b.members[:last]
			break
		}
	}
	if len(b.members) == 0 {
		delete(e.bridges, b.id)
	}
}

func (e *Engine) onUnbridged(ctx context.Context, chID, bID string, at time.Time) {
	ch := e.channels[chID]
	if ch == nil || ch.bridge == nil || (bID != "" && ch.bridge.id != bID) {
		return
	}
	e.leaveBridge(ch)
	e.evaluate(ctx, ch.call, at)
}

func (e *Engine) onBridgeMerged(ctx context.Context, ev BridgeMerged, at time.Time) {
	from := e.bridges[ev.From]
	if from == nil || ev.From == ev.To || ev.To == "" {
		return
	}
	members := append([]*channel(nil), from.members...)
	for _, m := range members {
		e.onBridged(ctx, m.id, ev.To, at)
	}
}

func (e *Engine) onTransferred(ctx context.Context, ev Transferred, at time.Time) {
	a, b := e.channels[ev.Transferee], e.channels[ev.Target]
	if a != nil && b != nil && a.call != b.call {
		c := e.merge(ctx, a.call, b.call, at)
		e.evaluate(ctx, c, at)
		return
	}
	if a != nil {
		e.evaluate(ctx, a.call, at)
	}
}

// merge joins two calls; the older survives and is returned.
func (e *Engine) merge(ctx context.Context, a, b *call, at time.Time) *call {
	if a == b {
		return a
	}
	if b.seq < a.seq {
		a, b = b, a
	}
	for _, ch := range b.channels {
		ch.call = a
	}
	a.channels = append(a.channels, b.channels...)
	b.channels = nil
	// One active recording per call: keep the survivor's, else b's.
	keep := a.active()
	for _, r := range b.recs {
		r.call = a
		if r.row.State.Active() && keep != nil {
			e.stopRec(r, recording.StopHangup, at)
		} else if r.row.State.Active() {
			keep = r
		}
	}
	a.recs = append(a.recs, b.recs...)
	b.recs = nil
	a.connected = a.connected || b.connected
	a.autoOff = a.autoOff || b.autoOff
	a.lowDisk = a.lowDisk || b.lowDisk
	a.unreachable = a.unreachable || b.unreachable
	a.aliases = append(a.aliases, b.pbxID)
	a.aliases = append(a.aliases, b.aliases...)
	e.calls[b.pbxID] = a
	for _, al := range b.aliases {
		e.calls[al] = a
	}
	b.aliases = nil
	e.releaseSpare(b)
	b.ended = true
	delete(e.byKey, b.key)
	switch {
	case b.rowStored && !a.rowStored:
		// a never had a party: it takes b's row (and its key) over.
		delete(e.byKey, a.key)
		a.key, a.row, a.rowStored, a.srcSet, a.dstFrozen = b.key, b.row, true, b.srcSet, b.dstFrozen
		if a.row.ID == 0 {
			e.byKey[a.key] = a
		}
	case b.rowStored:
		b.row.End = at
		e.storeCall(b)
	}
	e.describeCall(a)
	if a.partyCount() > 0 {
		e.storeCall(a)
	}
	return a
}

func (e *Engine) onHangup(ctx context.Context, id string, at time.Time) {
	ch := e.channels[id]
	if ch == nil {
		if id != "" {
			e.addTomb(id, at)
		}
		return
	}
	e.leaveBridge(ch)
	delete(e.channels, id)
	e.addTomb(id, at)
	c := ch.call
	for i, m := range c.channels {
		if m == ch {
			c.channels = append(c.channels[:i], c.channels[i+1:]...)
			break
		}
	}
	for _, r := range c.recs {
		if r.row.State.Active() && r.channel == id && !r.legDead {
			r.legDead = true
			r.live = false
			r.oldParts++
		}
	}
	e.evaluate(ctx, c, at)
}

func (e *Engine) addTomb(id string, at time.Time) {
	if _, ok := e.tombs[id]; ok {
		return
	}
	e.tombs[id] = at
	e.tombFIFO = append(e.tombFIFO, tomb{id: id, at: at})
}

func (e *Engine) purgeTombs(now time.Time) {
	n := 0
	for n < len(e.tombFIFO) && now.Sub(e.tombFIFO[n].at) > e.ttl {
		if t := e.tombFIFO[n]; t.rec != "" {
			if r := e.recs[t.rec]; r != nil && r.call.ended {
				delete(e.recs, t.rec)
			}
		} else {
			delete(e.tombs, t.id)
		}
		n++
	}
	if n > 0 {
		e.tombFIFO = e.tombFIFO[n:]
		if cap(e.tombFIFO) > 1024 && len(e.tombFIFO) < cap(e.tombFIFO)/4 {
			e.tombFIFO = append([]tomb(nil), e.tombFIFO...)
		}
	}
}
