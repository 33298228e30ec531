package ari

// What the translator holds back so the engine sees a transfer in the order
// its contract wants (Hangup before a part's end, a blind transferer's
// hangup after its transferee dialled), and the deaf transferee (see
// Translator).

import (
	"slices"
	"strings"
	"time"

	"github.com/callrecd/callrecd/engine"
)

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
