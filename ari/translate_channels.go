package ari

// The translator's model of the PBX's channels: what each channel is (a
// party, a Local half, a snoop, a helper), when the engine learns of it,
// which call and tenant it belongs to, and the full rebuild at a re-sync.

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callrecd/callrecd/engine"
)

type chanKind uint8

const (
	kindParty   chanKind = iota // PJSIP, SIP, IAX2, DAHDI …: a phone or a trunk
	kindLocal                   // Local/…;1 and ;2
	kindSnoop                   // Snoop/… (ours or someone's)
	kindIgnored                 // Message/, Announcer/, Recorder/, UnicastRTP/ …
)

func kindOf(name string) chanKind {
	tech, _ := channelTech(name)
	switch tech {
	case "Local":
		return kindLocal
	case "Snoop":
		return kindSnoop
	case "Message", "Announcer", "Recorder", "UnicastRTP", "MulticastRTP", "AudioSocket", "WebSocket", "ExternalMedia", "CBAnn", "CBRec":
		return kindIgnored
	}
	return kindParty
}

type chanState struct {
	id      string
	kind    chanKind
	snap    Channel // latest snapshot (until created: the one used to create it)
	created bool    // ChannelCreated emitted to the engine
	hungup  bool    // Hangup emitted (or never created and gone)
	up      bool    // ChannelAnswered emitted
	callID  string
	tenant  string
	queue   string // queue this channel is waiting in (Queue app): its members inherit it
	spied   string // snoops: the spied channel id
	dialed  string // dial string that created it, if known
	leftAt  time.Time
	bridge  string // bridge it is in ("" if none)
	// keptAt: the channel stayed through a transfer (the transferee) at
	// this time; by whom lists the transferer's legs. See checkDeaf.
	keptAt time.Time
	keptBy []string
}

func (t *Translator) onCreated(ch Channel, at time.Time, out *[]engine.Event) {
	if ch.ID == "" {
		return
	}
	if old := t.chans[ch.ID]; old != nil {
		return // duplicate
	}
	cs := &chanState{id: ch.ID, kind: kindOf(ch.Name), snap: ch}
	t.chans[ch.ID] = cs
	switch cs.kind {
	case kindSnoop:
		cs.spied = spiedOf(ch.Name)
		return
	case kindIgnored:
		return
	}
	if ch.State == "Down" {
		return // an outgoing channel: wait for the Dial that names its caller
	}
	t.emitCreated(cs, nil, at, out)
}

func (t *Translator) onDial(r rawEvent, at time.Time, out *[]engine.Event) {
	if r.Peer == nil {
		return
	}
	var caller *chanState
	if r.Caller != nil && r.Caller.ID != "" {
		caller = t.flush(r.Caller, nil, at, out)
	}
	cs := t.chans[r.Peer.ID]
	if cs == nil || cs.created {
		t.flush(r.Peer, nil, at, out)
	} else {
		cs.snap = *r.Peer
		if r.DialString != "" {
			cs.dialed = r.DialString
		}
		t.flush(r.Peer, caller, at, out)
	}
	if caller != nil && t.xfer[caller.id] != nil {
		t.releaseXfer(caller.id, out) // the transferee dials the target: now the transferer may go
	}
}

// flush makes sure the engine knows the channel (emitting a held
// ChannelCreated), and returns its state; nil for channels the engine must
// not see (snoops, helpers) or that are gone.
func (t *Translator) flush(ch *Channel, caller *chanState, at time.Time, out *[]engine.Event) *chanState {
	if ch == nil || ch.ID == "" {
		return nil
	}
	cs := t.chans[ch.ID]
	if cs == nil {
		// Created before we were connected and not in the last snapshot.
		cs = &chanState{id: ch.ID, kind: kindOf(ch.Name), snap: *ch}
		if cs.kind == kindSnoop {
			cs.spied = spiedOf(ch.Name)
		}
		t.chans[ch.ID] = cs
	}
	if cs.kind == kindSnoop || cs.kind == kindIgnored || cs.hungup {
		return nil
	}
	if !cs.created {
		cs.snap = *ch
		t.emitCreated(cs, caller, at, out)
	}
	return cs
}

// partyID is the id of a channel the engine knows (or learns now), also
// when it already hung up; "" for snoops, helpers and absent channels.
func (t *Translator) partyID(ch *Channel, at time.Time, out *[]engine.Event) string {
	if cs := t.flush(ch, nil, at, out); cs != nil {
		return cs.id
	}
	if ch != nil {
		if cs := t.chans[ch.ID]; cs != nil && cs.created {
			return cs.id
		}
	}
	return ""
}

func (t *Translator) emitCreated(cs *chanState, caller *chanState, at time.Time, out *[]engine.Event) {
	ch := cs.snap
	cs.created = true
	var partner *chanState
	if cs.kind == kindLocal {
		base := localBase(ch.Name)
		for _, o := range t.chans {
			if o != cs && o.kind == kindLocal && localBase(o.snap.Name) == base {
				partner = o
				break
			}
		}
	}
	switch {
	case ch.ChannelVars[t.m.LinkedIDVar] != "":
		cs.callID = ch.ChannelVars[t.m.LinkedIDVar]
	case caller != nil:
		cs.callID = caller.callID
	case partner != nil && partner.created:
		cs.callID = partner.callID
	default:
		cs.callID = cs.id
	}
	cs.tenant = t.tenantFor(ch)
	if cs.tenant == "" && caller != nil {
		cs.tenant = caller.tenant
	}
	if cs.tenant == "" && partner != nil && partner.created {
		cs.tenant = partner.tenant
	}
	if cs.tenant == "" {
		cs.tenant = t.defaultTenant()
	}
	ev := engine.ChannelCreated{
		At: at, Channel: cs.id, CallID: cs.callID, Tenant: cs.tenant,
		CallerNumber: ch.Caller.Number, CallerName: ch.Caller.Name,
		Group: ch.ChannelVars[t.m.GroupVar], Queue: ch.ChannelVars[t.m.QueueVar],
		Answered: ch.State == "Up",
	}
	cs.up = ev.Answered
	if cs.kind == kindLocal {
		ev.Role = engine.RoleLocal
	} else {
		ev.Endpoint = endpointOf(ch.Name)
		ev.Role = t.roleOf(ev.Endpoint)
	}
	if ev.Queue == "" && caller != nil {
		ev.Queue = caller.queue
	}
	switch {
	case caller != nil && cs.dialed != "":
		d, _, _ := strings.Cut(cs.dialed, "@")
		if i := strings.LastIndexByte(d, '/'); i >= 0 { // Queue dials "PJSIP/1002"
			d = d[i+1:]
		}
		ev.CalleeNumber = d
	case caller != nil:
		ev.CalleeNumber = ch.Dialplan.Exten
	default:
		ev.CalleeNumber = ch.Dialplan.Exten
		if ev.CalleeNumber == "s" {
			ev.CalleeNumber = ""
		}
	}
	*out = append(*out, ev)
	if partner != nil && !partner.created && !partner.hungup {
		t.emitCreated(partner, cs, at, out)
	}
}

func (t *Translator) roleOf(endpoint string) engine.Role {
	if slices.Contains(t.m.TrunkEndpoints, endpoint) {
		return engine.RoleExternal
	}
	for _, p := range t.m.TrunkEndpointPrefixes {
		if p != "" && strings.HasPrefix(endpoint, p) {
			return engine.RoleExternal
		}
	}
	return engine.RoleInternal
}

func (t *Translator) tenantFor(ch Channel) string {
	ep := ""
	if kindOf(ch.Name) == kindParty {
		ep = endpointOf(ch.Name)
	}
	for _, r := range t.m.Tenants {
		for _, p := range r.EndpointPrefixes {
			if ep != "" && p != "" && strings.HasPrefix(ep, p) {
				return r.UUID
			}
		}
		if ch.Dialplan.Context != "" && slices.Contains(r.Contexts, ch.Dialplan.Context) {
			return r.UUID
		}
	}
	return ""
}

func (t *Translator) defaultTenant() string {
	for _, r := range t.m.Tenants {
		if r.Default {
			return r.UUID
		}
	}
	return ""
}

func (t *Translator) onDestroyed(ch Channel, cause int, causeTxt string, at time.Time, out *[]engine.Event) {
	cs := t.chans[ch.ID]
	if cs == nil {
		return
	}
	if cs.kind == kindSnoop {
		if evs, ok := t.held[ch.ID]; ok && !t.hangupHeld(cs.spied) {
			*out = append(*out, evs...)
			delete(t.held, ch.ID)
		}
	} else {
		t.onHangup(ch.ID, cause, causeTxt, at, out)
	}
	delete(t.chans, ch.ID)
}

// Resync rebuilds the channel model from a full read of the PBX (after a
// (re)connect) and returns the engine's Snapshot. live are the recordings the
// PBX reports live (by name), with the snoop each runs on.
func (t *Translator) Resync(at time.Time, chans []Channel, bridges []Bridge, live []LiveRecording) engine.Snapshot {
	bridgeOf := map[string]string{}
	members := map[string][]string{}
	for _, b := range bridges {
		for _, id := range b.Channels {
			bridgeOf[id] = b.ID
		}
		members[b.ID] = b.Channels
	}
	slices.SortStableFunc(chans, func(a, b Channel) int {
		return cmp.Or(cmp.Compare(a.CreationTime, b.CreationTime), cmp.Compare(seqOf(a.ID), seqOf(b.ID)))
	})
	old := t.chans
	t.chans = make(map[string]*chanState, len(chans))
	t.held = map[string][]engine.Event{}
	t.xfer = map[string]*xferHold{}
	t.maybe = nil
	byID := map[string]Channel{}
	for _, ch := range chans {
		byID[ch.ID] = ch
	}
	snap := engine.Snapshot{At: at}
	for _, ch := range chans {
		cs := &chanState{id: ch.ID, kind: kindOf(ch.Name), snap: ch, bridge: bridgeOf[ch.ID]}
		if o := old[ch.ID]; o != nil {
			cs.queue, cs.dialed = o.queue, o.dialed
			if o.created {
				cs.callID, cs.tenant = o.callID, o.tenant
			}
		}
		t.chans[ch.ID] = cs
		switch cs.kind {
		case kindSnoop:
			cs.spied = spiedOf(ch.Name)
			continue
		case kindIgnored:
			continue
		}
		var events []engine.Event
		var via *chanState
		if cs.callID == "" && ch.ChannelVars[t.m.LinkedIDVar] == "" {
			// Unknown call id: take the oldest member of its bridge (the
			// originator, usually), so a fresh engine finds the call's row.
			if b := bridgeOf[ch.ID]; b != "" {
				for _, id := range members[b] {
					if o := t.chans[id]; o != nil && o != cs && o.created && o.kind != kindSnoop {
						via = o
						break
					}
				}
			}
		}
		if cs.callID != "" {
			via = &chanState{callID: cs.callID, tenant: cs.tenant}
		}
		t.emitCreated(cs, via, at, &events)
		for _, ev := range events {
			if cc, ok := ev.(engine.ChannelCreated); ok {
				if c := t.chans[cc.Channel]; c != nil {
					c.up = cc.Answered
				}
				snap.Channels = append(snap.Channels, engine.SnapshotChannel{ChannelCreated: cc, Bridge: bridgeOf[cc.Channel]})
			}
		}
	}
	// emitCreated may have created a Local partner early; keep one entry each.
	seen := map[string]bool{}
	snap.Channels = slices.DeleteFunc(snap.Channels, func(sc engine.SnapshotChannel) bool {
		dup := seen[sc.Channel]
		seen[sc.Channel] = true
		return dup
	})
	for _, lr := range live {
		snoop := targetChannel(lr.TargetURI)
		spied := snoop
		if cs := t.chans[snoop]; cs != nil && cs.kind == kindSnoop {
			spied = cs.spied
		}
		snap.Recordings = append(snap.Recordings, engine.LiveRecording{Name: lr.Name, Channel: spied, Paused: lr.State == "paused"})
	}
	return snap
}

// seqOf orders Asterisk unique ids ("pbx-1795288322.4") by their sequence.
func seqOf(id string) int {
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(id[i+1:])
	return n
}
