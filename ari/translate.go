package ari

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// TenantRule maps channels to a tenant: by the dialplan context the channel
// starts in, or by a prefix of its endpoint name. Default catches the rest.
type TenantRule struct {
	UUID             string
	Contexts         []string
	EndpointPrefixes []string
	Default          bool
}

// Mapping says how Asterisk channels map to the engine's notions.
type Mapping struct {
	// Tenants are tried in order; the first match wins. A channel dialed by
	// another one that no rule matches takes its caller's tenant, then the
	// Default tenant.
	Tenants []TenantRule
	// TrunkEndpoints and TrunkEndpointPrefixes name the external (carrier)
	// endpoints; every other endpoint is a user's phone.
	TrunkEndpoints        []string
	TrunkEndpointPrefixes []string
	// GroupVar and QueueVar are the inherited channel variables the dialplan
	// sets on calls to a ring group or queue (ari.conf channelvars must list
	// them). Defaults: CALLRECD_GROUP, CALLRECD_QUEUE.
	GroupVar string
	QueueVar string
	// LinkedIDVar is the channelvars key that carries the linkedid (ari.conf
	// channelvars = …,CHANNEL(linkedid)); without it the call id is inferred
	// from Dial events and Local pairs. Default "CHANNEL(linkedid)".
	LinkedIDVar string
}

func (m Mapping) withDefaults() Mapping {
	if m.GroupVar == "" {
		m.GroupVar = "CALLRECD_GROUP"
	}
	if m.QueueVar == "" {
		m.QueueVar = "CALLRECD_QUEUE"
	}
	if m.LinkedIDVar == "" {
		m.LinkedIDVar = "CHANNEL(linkedid)"
	}
	return m
}

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

// Translator turns raw ARI events into engine events. It keeps a small model
// of the channels (ids, roles, call ids, snoops) and is driven by one
// goroutine (the adapter's event loop); only Counts is safe concurrently.
//
// What it does beyond a 1:1 mapping (all learnt from the real traces):
//   - ChannelCreated of an outgoing channel (state Down) is held until the
//     Dial event that names its caller (or any other event about it): the
//     Dial carries the inherited group/queue variables and the caller, whose
//     call id the new channel takes, so a call keeps one CDR row.
//   - Snoop channels are never shown to the engine; recording events name the
//     spied channel, not the snoop.
//   - A RecordingFinished/Failed nobody asked for (the spied leg was
//     transferred away) arrives before the leg's ChannelDestroyed; it is held
//     until the leg's Hangup has been emitted (or the snoop is gone), as the
//     engine's contract wants Hangup first.
//   - Asterisk's snoop quirk (FINDINGS, lab): a snoop on a leg kept through
//     a transfer (the transferee) stops hearing the party swapped in with
//     it, and a fresh snoop on that leg hears only the leg itself, while a
//     fresh snoop on the new party hears both. When a transferee ends up in
//     a bridge with a party other than its transferer (blind: it dialled
//     the target; attended: the Local pair optimised away ~0.4 s after
//     BridgeAttendedTransfer, or the bridges merged), LegDeaf is emitted
//     for it, after the bridge event: the engine then records another leg.
type Translator struct {
	m   Mapping
	log *slog.Logger

	chans map[string]*chanState
	held  map[string][]engine.Event // snoop id → recording end events waiting for the leg's hangup
	xfer  map[string]*xferHold      // blind transferee id → its transferer's held hangup
	// maybe is the hangup of a channel that had just left its bridge, kept
	// for one event: Asterisk may report a blind transferer's hangup just
	// before the BridgeBlindTransfer (same millisecond).
	maybe *engine.Hangup

	// Hooks for the adapter (nil: not called).
	OnSnoopStart func(snoopID string)
	OnRecording  func(typ string, rec LiveRecording, snoopID string)
	OnPlayback   func(typ string, pb Playback)
	// Solicited reports whether callrecd itself stopped recording name.
	Solicited func(name string) bool

	mu      sync.Mutex
	unknown map[string]int64
}

// NewTranslator returns a translator for the mapping.
func NewTranslator(m Mapping, log *slog.Logger) *Translator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Translator{m: m.withDefaults(), log: log, chans: map[string]*chanState{},
		held: map[string][]engine.Event{}, xfer: map[string]*xferHold{}, unknown: map[string]int64{}}
}

// Unknown returns how many events of each type the translator did not know.
func (t *Translator) Unknown() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int64, len(t.unknown))
	for k, v := range t.unknown {
		out[k] = v
	}
	return out
}

// ignoredTypes are event types callrecd knows and does not need.
var ignoredTypes = map[string]bool{
	"ChannelVarset": true, "ChannelConnectedLine": true, "ChannelCallerId": true,
	"DeviceStateChanged": true, "BridgeCreated": true, "BridgeDestroyed": true,
	"ChannelHold": true, "ChannelUnhold": true, "StasisEnd": true, "PlaybackContinuing": true,
	"ChannelUserevent": true, "ChannelTalkingStarted": true, "ChannelTalkingFinished": true,
	"EndpointStateChange": true, "PeerStatusChange": true, "ContactStatusChange": true,
	"BridgeVideoSourceChanged": true, "ChannelToneDetected": true, "ChannelTransfer": true,
	"ApplicationMoveFailed": true, "ApplicationRegistered": true, "ApplicationUnregistered": true,
	"ChannelDialplan": true, // read for Queue(), never forwarded
	"PlaybackStarted": true, "PlaybackFinished": true,
	"ApplicationReplaced": true, // the Stream handles it
	"Dial":                true,
}

// Translate returns the engine events for one raw event, in order.
func (t *Translator) Translate(ev Event) []engine.Event {
	r, err := decodeRaw(ev.Raw)
	if err != nil {
		t.countUnknown("(undecodable " + ev.Type + ")")
		t.log.Error("ARI event callrecd cannot decode", "type", ev.Type, "err", err)
		return nil
	}
	if r.Type == "" {
		r.Type = ev.Type
	}
	at := ariTime(r.Timestamp)
	var out []engine.Event
	if h := t.maybe; h != nil && !t.besideHeld(r, *h, at) {
		t.maybe = nil
		if r.Type == "BridgeBlindTransfer" && r.Channel != nil && r.Channel.ID == h.Channel && r.Transferee != nil &&
			(r.Result == "" || r.Result == "Success") {
			t.xfer[r.Transferee.ID] = &xferHold{transferer: h.Channel, at: at, hangup: h}
		} else {
			t.finishHangup(*h, &out)
		}
	}
	if len(t.xfer) > 0 {
		t.expireXfers(at, &out)
	}
	switch r.Type {
	case "ChannelCreated":
		if r.Channel != nil {
			t.onCreated(*r.Channel, at, &out)
		}
	case "Dial":
		t.onDial(r, at, &out)
	case "ChannelDialplan":
		if r.Channel != nil && r.DialplanApp == "Queue" {
			if cs := t.chans[r.Channel.ID]; cs != nil {
				q, _, _ := strings.Cut(r.DialplanAppData, ",")
				cs.queue = strings.TrimSpace(q)
			}
		}
	case "ChannelStateChange":
		if cs := t.flush(r.Channel, nil, at, &out); cs != nil && r.Channel.State == "Up" && !cs.up {
			cs.up = true
			out = append(out, engine.ChannelAnswered{At: at, Channel: cs.id})
		}
	case "ChannelEnteredBridge":
		if cs := t.flush(r.Channel, nil, at, &out); cs != nil && r.Bridge != nil {
			cs.bridge = r.Bridge.ID
			out = append(out, engine.ChannelBridged{At: at, Channel: cs.id, Bridge: r.Bridge.ID})
			t.checkDeaf(r.Bridge.ID, at, &out)
		}
	case "ChannelLeftBridge":
		if r.Channel != nil && r.Bridge != nil {
			if cs := t.chans[r.Channel.ID]; cs != nil && cs.created && !cs.hungup {
				cs.leftAt = at
				if cs.bridge == r.Bridge.ID {
					cs.bridge = ""
				}
				out = append(out, engine.ChannelUnbridged{At: at, Channel: cs.id, Bridge: r.Bridge.ID})
			}
		}
	case "BridgeMerged":
		if r.Bridge != nil && r.BridgeFrom != nil {
			out = append(out, engine.BridgeMerged{At: at, From: r.BridgeFrom.ID, To: r.Bridge.ID})
			for _, cs := range t.chans {
				if cs.bridge == r.BridgeFrom.ID {
					cs.bridge = r.Bridge.ID
				}
			}
			t.checkDeaf(r.Bridge.ID, at, &out)
		}
	case "BridgeBlindTransfer":
		if r.Result != "" && r.Result != "Success" {
			break
		}
		tr := engine.Transferred{At: at, Kind: engine.TransferBlind, Exten: r.Exten,
			Transferer: t.partyID(r.Channel, at, &out), Transferee: t.partyID(r.Transferee, at, &out)}
		out = append(out, tr)
		if tr.Transferer != "" && tr.Transferee != "" && t.xfer[tr.Transferee] == nil {
			t.xfer[tr.Transferee] = &xferHold{transferer: tr.Transferer, at: at}
		}
		t.markKept(tr.Transferee, at, &out, tr.Transferer)
	case "BridgeAttendedTransfer":
		if r.Result != "" && r.Result != "Success" {
			break
		}
		tr := engine.Transferred{At: at, Kind: engine.TransferAttended,
			Transferer: t.partyID(r.TransfererFirstLeg, at, &out), Transferee: t.partyID(r.Transferee, at, &out),
			Target: t.partyID(r.TransferTarget, at, &out)}
		out = append(out, tr)
		second := ""
		if r.TransfererSecondLeg != nil {
			second = r.TransfererSecondLeg.ID
		}
		t.markKept(tr.Transferee, at, &out, tr.Transferer, second)
	case "ChannelDtmfReceived":
		if cs := t.flush(r.Channel, nil, at, &out); cs != nil && r.Digit != "" {
			out = append(out, engine.DTMF{At: at, Channel: cs.id, Digit: r.Digit[0]})
		}
	case "StasisStart":
		t.onStasisStart(r, at, &out)
	case "ChannelHangupRequest":
		if r.Channel != nil {
			t.onHangup(r.Channel.ID, r.Cause, r.CauseTxt, at, &out)
		}
	case "ChannelDestroyed":
		if r.Channel != nil {
			t.onDestroyed(*r.Channel, r.Cause, r.CauseTxt, at, &out)
		}
	case "RecordingStarted", "RecordingFinished", "RecordingFailed":
		if r.Recording != nil {
			t.onRecording(r.Type, *r.Recording, at, &out)
		}
	case "PlaybackStarted", "PlaybackFinished":
		if r.Playback != nil && t.OnPlayback != nil {
			t.OnPlayback(r.Type, *r.Playback)
		}
	case "TextMessageReceived":
		if r.Message != nil {
			m := r.Message
			tm := engine.TextMessage{At: at, From: m.From, ContentType: m.Variables["Content-Type"], Headers: m.Variables, Body: m.Body,
				Endpoint: sipUser(m.From)}
			if r.Endpoint != nil && r.Endpoint.Resource != "" {
				tm.Endpoint = r.Endpoint.Resource // who Asterisk identified, not what From claims
			}
			out = append(out, tm)
		}
	default:
		if !ignoredTypes[r.Type] {
			n := t.countUnknown(r.Type)
			level := slog.LevelDebug
			if n == 1 {
				level = slog.LevelWarn
			}
			t.log.Log(context.Background(), level, "ARI event type callrecd does not know; counted, not acted on", "type", r.Type, "seen", n)
		}
	}
	return out
}

func (t *Translator) countUnknown(typ string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unknown[typ]++
	return t.unknown[typ]
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

// deafWindow bounds how long after a transfer the transferee's arrival in
// a bridge with a new party counts as the transfer's (a blind transfer
// target may ring for a while).
const deafWindow = 2 * time.Minute

// markKept notes that channel id stayed through a transfer by the given
// transferer legs, and checks its bridge at once (attended transfers whose
// bridges merged before the event).
func (t *Translator) markKept(id string, at time.Time, out *[]engine.Event, by ...string) {
	cs := t.chans[id]
	if id == "" || cs == nil || cs.kind != kindParty || cs.hungup {
		return
	}
	cs.keptAt, cs.keptBy = at, by
	t.checkDeaf(cs.bridge, at, out)
}

// checkDeaf emits LegDeaf for every transferee in bridge id that now shares
// it with a live party other than its transferer (see Translator).
func (t *Translator) checkDeaf(id string, at time.Time, out *[]engine.Event) {
	if id == "" {
		return
	}
	var members []*chanState
	for _, cs := range t.chans {
		if cs.bridge == id && cs.kind == kindParty && cs.created && !cs.hungup {
			members = append(members, cs)
		}
	}
	if len(members) < 2 {
		return
	}
	slices.SortFunc(members, func(a, b *chanState) int { return strings.Compare(a.id, b.id) })
	for _, m := range members {
		if m.keptAt.IsZero() {
			continue
		}
		if !at.IsZero() && at.Sub(m.keptAt) > deafWindow {
			m.keptAt, m.keptBy = time.Time{}, nil
			continue
		}
		for _, o := range members {
			if o != m && !slices.Contains(m.keptBy, o.id) {
				m.keptAt, m.keptBy = time.Time{}, nil
				t.log.Debug("ARI: transferee now bridged with a new party; a snoop on it no longer hears the call", "channel", m.id, "with", o.id)
				*out = append(*out, engine.LegDeaf{At: at, Channel: m.id})
				break
			}
		}
	}
}

// Waiting reports whether an event is held for at most one more event
// (see FlushWaiting).
func (t *Translator) Waiting() bool { return t.maybe != nil }

// FlushWaiting emits what is held for "the next event" when no event came:
// the event loop calls it after a short quiet spell.
func (t *Translator) FlushWaiting() []engine.Event {
	var out []engine.Event
	if h := t.maybe; h != nil {
		t.maybe = nil
		t.finishHangup(*h, &out)
	}
	return out
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

func (t *Translator) onStasisStart(r rawEvent, at time.Time, out *[]engine.Event) {
	if r.Channel == nil {
		return
	}
	if kindOf(r.Channel.Name) == kindSnoop {
		if t.chans[r.Channel.ID] == nil {
			t.chans[r.Channel.ID] = &chanState{id: r.Channel.ID, kind: kindSnoop, snap: *r.Channel, spied: spiedOf(r.Channel.Name)}
		}
		if t.OnSnoopStart != nil {
			t.OnSnoopStart(r.Channel.ID)
		}
		return
	}
	if len(r.Args) >= 2 && r.Args[0] == "feature" {
		if cs := t.flush(r.Channel, nil, at, out); cs != nil {
			*out = append(*out, engine.FeatureCall{At: at, Channel: cs.id, Feature: r.Args[1]})
		}
		return
	}
	t.log.Info("channel entered the callrecd application without a known purpose; left alone",
		"channel", r.Channel.Name, "args", r.Args)
}

func (t *Translator) onHangup(id string, cause int, causeTxt string, at time.Time, out *[]engine.Event) {
	cs := t.chans[id]
	if cs == nil || cs.kind == kindSnoop || cs.kind == kindIgnored || cs.hungup {
		return
	}
	cs.hungup = true
	if !cs.created {
		return // the engine never saw it
	}
	if x := t.xfer[id]; x != nil {
		t.releaseXfer(id, out) // the transferee gives up: its transferer went first
	}
	ev := engine.Hangup{At: at, Channel: id, Cause: cause, CauseText: causeTxt}
	if !cs.leftAt.IsZero() && !at.IsZero() && at.Sub(cs.leftAt) <= 20*time.Millisecond {
		if t.maybe != nil {
			t.finishHangup(*t.maybe, out)
		}
		t.maybe = &ev
		return
	}
	t.finishHangup(ev, out)
}

// heldAfterHangupWindow bounds how long events beside a held hangup (see
// besideHeld) may keep it held.
const heldAfterHangupWindow = 50 * time.Millisecond

// besideHeld reports whether an event may pass a hangup held for "the next
// event" without releasing it. Seen on the lab between a blind transferer's
// hangup and the BridgeBlindTransfer: the hangup request repeated (soft,
// then hard), the leg's snoop torn down (its recording's end, StasisEnd,
// hangup), the transferee leaving the bridge and entering the dialplan.
// None of them makes the engine end the conversation early.
func (t *Translator) besideHeld(r rawEvent, h engine.Hangup, at time.Time) bool {
	if !at.IsZero() && !h.At.IsZero() && at.Sub(h.At) > heldAfterHangupWindow {
		return false
	}
	if r.Type != "Dial" && ignoredTypes[r.Type] {
		return true // nothing for the engine
	}
	ch := r.Channel
	switch r.Type {
	case "ChannelLeftBridge":
		return ch != nil && ch.ID != h.Channel
	case "ChannelHangupRequest":
		return ch != nil && (ch.ID == h.Channel || kindOf(ch.Name) == kindSnoop)
	case "ChannelDestroyed", "StasisEnd":
		return ch != nil && kindOf(ch.Name) == kindSnoop
	case "RecordingFinished", "RecordingFailed":
		if r.Recording == nil {
			return false
		}
		sn := t.chans[targetChannel(r.Recording.TargetURI)]
		return sn != nil && sn.kind == kindSnoop && sn.spied == h.Channel
	}
	return false
}

// hangupHeld reports whether the Hangup of channel id is held (for the next
// event, or until its blind transferee dials).
func (t *Translator) hangupHeld(id string) bool {
	if t.maybe != nil && t.maybe.Channel == id {
		return true
	}
	for _, x := range t.xfer {
		if x.transferer == id && x.hangup != nil {
			return true
		}
	}
	return false
}

// finishHangup emits a hangup, unless the channel is a blind transferer
// whose transferee has not dialled yet: Asterisk hangs the transferer up
// before that, and the engine would think the conversation over. Then the
// hangup is held until the transferee's Dial.
func (t *Translator) finishHangup(ev engine.Hangup, out *[]engine.Event) {
	for _, x := range t.xfer {
		if x.transferer == ev.Channel && x.hangup == nil {
			x.hangup = &ev
			return
		}
	}
	t.emitHangup(ev, out)
}

// releaseXfer emits what a blind transfer held (the transferer's hangup).
func (t *Translator) releaseXfer(transferee string, out *[]engine.Event) {
	x := t.xfer[transferee]
	if x == nil {
		return
	}
	delete(t.xfer, transferee)
	if x.hangup != nil {
		t.emitHangup(*x.hangup, out)
	}
}

// expireXfers releases transfers whose transferee never dialled.
func (t *Translator) expireXfers(at time.Time, out *[]engine.Event) {
	for id, x := range t.xfer {
		if !at.IsZero() && at.Sub(x.at) > xferHoldMax {
			t.releaseXfer(id, out)
		}
	}
}

// xferHoldMax bounds how long a transferer's hangup is held.
const xferHoldMax = 3 * time.Second

type xferHold struct {
	transferer string
	at         time.Time
	hangup     *engine.Hangup
}

func (t *Translator) emitHangup(ev engine.Hangup, out *[]engine.Event) {
	id := ev.Channel
	*out = append(*out, ev)
	for sid, evs := range t.held {
		if sn := t.chans[sid]; sn == nil || sn.spied == id {
			*out = append(*out, evs...)
			delete(t.held, sid)
		}
	}
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

func (t *Translator) onRecording(typ string, rec LiveRecording, at time.Time, out *[]engine.Event) {
	target := targetChannel(rec.TargetURI)
	snoopID, spied := "", target
	if cs := t.chans[target]; cs != nil && cs.kind == kindSnoop {
		snoopID, spied = target, cs.spied
	}
	// Asked before the hook: the adapter forgets that it stopped the part
	// once the part has ended.
	solicited := typ != "RecordingStarted" && t.Solicited != nil && t.Solicited(rec.Name)
	if t.OnRecording != nil {
		t.OnRecording(typ, rec, target)
	}
	var ev engine.Event
	switch typ {
	case "RecordingStarted":
		*out = append(*out, engine.RecordingStarted{At: at, Name: rec.Name, Channel: spied})
		return
	case "RecordingFinished":
		ev = engine.RecordingFinished{At: at, Name: rec.Name, Channel: spied}
	default:
		reason := rec.Cause
		if reason == "" {
			reason = "recording failed"
		}
		ev = engine.RecordingFailed{At: at, Name: rec.Name, Channel: spied, Reason: reason}
	}
	leg := t.chans[spied]
	if snoopID != "" && spied != "" && t.hangupHeld(spied) {
		// The leg's Hangup is held (blind transfer): its part's end follows it.
		t.held[snoopID] = append(t.held[snoopID], ev)
		return
	}
	if snoopID == "" || spied == "" || leg == nil || leg.hungup || !leg.created || solicited {
		*out = append(*out, ev)
		return
	}
	// The PBX ended this part on its own while the leg looks alive: the leg
	// is leaving (transfer) and its hangup follows; hold the end until then.
	t.held[snoopID] = append(t.held[snoopID], ev)
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
