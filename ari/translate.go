package ari

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
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

// Translator turns raw ARI events into engine events. It keeps a small model
// of the channels (ids, roles, call ids, snoops) and is driven by one
// goroutine (the adapter's event loop); only Unknown is safe concurrently.
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
//     engine's contract wants Hangup first. Whether callrecd asked for it
//     only the recorder knows: the note says the end is held, and the event
//     loop takes it back (unhold) when the recorder had asked.
//   - Asterisk's snoop quirk (FINDINGS, lab): a snoop on a leg kept through
//     a transfer (the transferee) stops hearing the party swapped in with
//     it, and a fresh snoop on that leg hears only the leg itself, while a
//     fresh snoop on the new party hears both. When a transferee ends up in
//     a bridge with a party other than its transferer (blind: it dialled
//     the target; attended: the Local pair optimised away ~0.4 s after
//     BridgeAttendedTransfer, or the bridges merged), LegDeaf is emitted
//     for it, after the bridge event: the engine then records another leg.
//
// Besides engine events it returns notes (see note): what an event means
// for the commands in flight. It calls nothing outside itself.
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

// A note tells the rooms that send commands what an event means for them:
// a snoop they wait for entered the application, a recording's part started
// or ended on its target, a prompt finished. The event loop hands notes to
// them after the translation and before the engine sees its events.
type note struct {
	kind   noteKind
	id     string // noteSnoopEntered: the snoop; notePlaybackFinished: the playback
	name   string // the recording (noteRecordingStarted, noteRecordingEnded)
	target string // the channel the recording runs on (a snoop of ours, or any channel)
	failed bool   // noteRecordingEnded: RecordingFailed (cause says why)
	cause  string
	// held: the end is held as the PBX's own (the leg looks alive); if
	// callrecd asked for it, unhold takes it back to be handed on at once.
	held bool
}

type noteKind uint8

const (
	noteSnoopEntered noteKind = iota + 1
	noteRecordingStarted
	noteRecordingEnded
	notePlaybackFinished
)

// Translate returns the engine events for one raw event, in order, as if
// callrecd had asked for no recording's end (the notes are dropped).
func (t *Translator) Translate(ev Event) []engine.Event {
	out, _ := t.translate(ev)
	return out
}

// translate returns the engine events for one raw event, in order, and
// what it means for the commands in flight.
func (t *Translator) translate(ev Event) (out []engine.Event, notes []note) {
	r, err := decodeRaw(ev.Raw)
	if err != nil {
		t.countUnknown("(undecodable " + ev.Type + ")")
		t.log.Error("ARI event callrecd cannot decode", "type", ev.Type, "err", err)
		return nil, nil
	}
	if r.Type == "" {
		r.Type = ev.Type
	}
	at := ariTime(r.Timestamp)
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
		if snoop := t.onStasisStart(r, at, &out); snoop != "" {
			notes = append(notes, note{kind: noteSnoopEntered, id: snoop})
		}
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
			notes = append(notes, t.onRecording(r.Type, *r.Recording, at, &out))
		}
	case "PlaybackStarted", "PlaybackFinished":
		if r.Playback != nil && r.Type == "PlaybackFinished" {
			notes = append(notes, note{kind: notePlaybackFinished, id: r.Playback.ID})
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
	return out, notes
}

func (t *Translator) countUnknown(typ string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unknown[typ]++
	return t.unknown[typ]
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

// onStasisStart returns the id of a snoop channel that entered the
// application ("" for any other channel).
func (t *Translator) onStasisStart(r rawEvent, at time.Time, out *[]engine.Event) (snoop string) {
	if r.Channel == nil {
		return ""
	}
	if kindOf(r.Channel.Name) == kindSnoop {
		if t.chans[r.Channel.ID] == nil {
			t.chans[r.Channel.ID] = &chanState{id: r.Channel.ID, kind: kindSnoop, snap: *r.Channel, spied: spiedOf(r.Channel.Name)}
		}
		return r.Channel.ID
	}
	if len(r.Args) >= 2 && r.Args[0] == "feature" {
		if cs := t.flush(r.Channel, nil, at, out); cs != nil {
			*out = append(*out, engine.FeatureCall{At: at, Channel: cs.id, Feature: recording.Feature(r.Args[1])})
		}
		return ""
	}
	t.log.Info("channel entered the callrecd application without a known purpose; left alone",
		"channel", r.Channel.Name, "args", r.Args)
	return ""
}

func (t *Translator) onRecording(typ string, rec LiveRecording, at time.Time, out *[]engine.Event) note {
	target := targetChannel(rec.TargetURI)
	snoopID, spied := "", target
	if cs := t.chans[target]; cs != nil && cs.kind == kindSnoop {
		snoopID, spied = target, cs.spied
	}
	n := note{kind: noteRecordingEnded, name: rec.Name, target: target}
	var ev engine.Event
	switch typ {
	case "RecordingStarted":
		*out = append(*out, engine.RecordingStarted{At: at, Name: rec.Name, Channel: spied})
		n.kind = noteRecordingStarted
		return n
	case "RecordingFinished":
		ev = engine.RecordingFinished{At: at, Name: rec.Name, Channel: spied}
	default:
		reason := rec.Cause
		if reason == "" {
			reason = "recording failed"
		}
		ev = engine.RecordingFailed{At: at, Name: rec.Name, Channel: spied, Reason: reason}
		n.failed, n.cause = true, rec.Cause
	}
	leg := t.chans[spied]
	if snoopID != "" && spied != "" && t.hangupHeld(spied) {
		// The leg's Hangup is held (blind transfer): its part's end follows it.
		t.held[snoopID] = append(t.held[snoopID], ev)
		return n
	}
	if snoopID == "" || spied == "" || leg == nil || leg.hungup || !leg.created {
		*out = append(*out, ev)
		return n
	}
	// The leg looks alive: either callrecd stopped the part (then the event
	// loop takes the end back at once, see unhold) or the PBX ended it on
	// its own because the leg is leaving (transfer) and its hangup follows;
	// hold the end until then.
	t.held[snoopID] = append(t.held[snoopID], ev)
	n.held = true
	return n
}

// unhold takes back the recording end that translate just held for note n
// (n.held): callrecd had asked for it, so no hangup will follow it. Call it
// before the next translation.
func (t *Translator) unhold(n note) engine.Event {
	evs := t.held[n.target]
	ev := evs[len(evs)-1]
	if len(evs) == 1 {
		delete(t.held, n.target)
	} else {
		t.held[n.target] = evs[:len(evs)-1]
	}
	return ev
}
