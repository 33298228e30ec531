package esl

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// subscribed are the events the adapter asks FreeSWITCH for: what the
// engine needs, the recorder's and prompts' own notes, and HEARTBEAT for
// liveness. Everything else (CHANNEL_EXECUTE, CODEC, API, …) is most of the
// traffic and never read.
var subscribed = []string{
	"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP",
	"CHANNEL_PARK", "DTMF", "RECORD_START", "RECORD_STOP", "PLAYBACK_STOP",
	"MESSAGE", "RECV_INFO", "BACKGROUND_JOB", "HEARTBEAT",
}

// featureVariable is the channel variable the shipped dialplan sets before
// parking a feature call for callrecd (testdata/freeswitch).
const featureVariable = "variable_callrecd_feature"

// translator turns FreeSWITCH events into engine events. Its only state is
// which channels are the PBX's (events of ignored ones are dropped) and
// which parked channels were already handed over as feature calls.
type translator struct {
	m        Mapping
	ignored  map[string]bool
	featured map[string]bool
}

func newTranslator(m Mapping) *translator {
	return &translator{m: m, ignored: map[string]bool{}, featured: map[string]bool{}}
}

// at is the event's own time (Event-Date-Timestamp, µs since the epoch).
func at(ev Event) time.Time {
	us, err := strconv.ParseInt(ev.Get("Event-Date-Timestamp"), 10, 64)
	if err != nil || us <= 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// translate returns the engine events one FreeSWITCH event means (often
// none).
func (t *translator) translate(ev Event) []engine.Event {
	id := ev.Get("Unique-ID")
	if ev.Name == "CHANNEL_CREATE" && t.m.ignored(ev) {
		t.ignored[id] = true
	}
	if id != "" && t.ignored[id] {
		if ev.Name == "CHANNEL_HANGUP" {
			delete(t.ignored, id)
		}
		return nil
	}
	when := at(ev)
	switch ev.Name {
	case "CHANNEL_CREATE":
		cc := t.created(ev)
		cc.At = when
		return []engine.Event{cc}
	case "CHANNEL_ANSWER":
		return []engine.Event{engine.ChannelAnswered{At: when, Channel: id}}
	case "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE":
		return t.bridge(ev, when)
	case "CHANNEL_HANGUP":
		delete(t.featured, id)
		cause, _ := strconv.Atoi(ev.Get("variable_hangup_cause_q850"))
		return []engine.Event{engine.Hangup{At: when, Channel: id, Cause: cause, CauseText: ev.Get("Hangup-Cause")}}
	case "CHANNEL_PARK":
		return t.feature(ev, when)
	case "DTMF":
		d := ev.Get("DTMF-Digit")
		if len(d) != 1 {
			return nil
		}
		return []engine.Event{engine.DTMF{At: when, Channel: id, Digit: d[0]}}
	case "RECORD_START", "RECORD_STOP":
		return recordEvent(ev, when)
	case "MESSAGE":
		return t.message(ev, when)
	case "RECV_INFO":
		return t.info(ev, when)
	}
	return nil
}

// created describes a channel from its headers (CHANNEL_CREATE, or a
// uuid_dump after a reconnect).
func (t *translator) created(ev Event) engine.ChannelCreated {
	role := t.m.role(ev)
	cc := engine.ChannelCreated{
		Channel:      ev.Get("Unique-ID"),
		CallID:       ev.Get("Channel-Call-UUID"),
		Tenant:       t.m.tenant(ev),
		Role:         role,
		CallerNumber: ev.Get("Caller-Caller-ID-Number"),
		CallerName:   ev.Get("Caller-Caller-ID-Name"),
		CalleeNumber: ev.Get("Caller-Destination-Number"),
		Group:        ev.Get("variable_callrecd_group"),
		Queue:        firstOf(ev, "variable_callrecd_queue", "variable_cc_queue"),
		Answered:     ev.Get("Answer-State") == "answered",
		SIPCallID:    ev.Get("variable_sip_call_id"),
	}
	if role == engine.RoleInternal {
		cc.Endpoint = endpoint(ev)
	}
	if cc.CallID == "" {
		cc.CallID = ev.Get("variable_call_uuid")
	}
	return cc
}

func firstOf(ev Event, keys ...string) string {
	for _, k := range keys {
		if v := ev.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// bridgeID names the bridge of one pair: FreeSWITCH has no bridge objects,
// and fires BRIDGE/UNBRIDGE on the A side only, naming both legs. A pair's
// own id keeps a late UNBRIDGE of an old pair from splitting a new one.
func bridgeID(a, b string) string { return "fs-" + a + "-" + b }

func (t *translator) bridge(ev Event, when time.Time) []engine.Event {
	a, b := ev.Get("Bridge-A-Unique-ID"), ev.Get("Bridge-B-Unique-ID")
	if a == "" {
		a = ev.Get("Unique-ID")
	}
	if b == "" {
		b = ev.Get("Other-Leg-Unique-ID")
	}
	if a == "" || b == "" {
		return nil
	}
	id := bridgeID(a, b)
	var out []engine.Event
	for _, leg := range []string{a, b} {
		if t.ignored[leg] {
			continue
		}
		if ev.Name == "CHANNEL_BRIDGE" {
			out = append(out, engine.ChannelBridged{At: when, Channel: leg, Bridge: id})
		} else {
			out = append(out, engine.ChannelUnbridged{At: when, Channel: leg, Bridge: id})
		}
	}
	return out
}

// feature: a channel the dialplan parked for callrecd is a feature call:
// the shipped snippet names it (callrecd_feature); a bare park on a
// feature's default code (vanilla-style "*26 → answer, park") counts too.
func (t *translator) feature(ev Event, when time.Time) []engine.Event {
	id := ev.Get("Unique-ID")
	if t.featured[id] {
		return nil
	}
	f := recording.Feature(ev.Get(featureVariable))
	if !f.Valid() {
		f = ""
		dest := ev.Get("Caller-Destination-Number")
		for _, cand := range recording.Features() {
			if dest != "" && dest == recording.DefaultCode(cand) {
				f = cand
			}
		}
	}
	if f != recording.FeatureCallRecord {
		return nil // only *26 is dialled as a call of its own
	}
	t.featured[id] = true
	return []engine.Event{engine.FeatureCall{At: when, Channel: id, Feature: f}}
}

// recordingName is the recording a uuid_record file path belongs to:
// callrecd records <dir>/<recording uuid>.wav.
func recordingName(p string) (string, bool) {
	name, ok := strings.CutSuffix(path.Base(p), ".wav")
	if !ok || recording.ValidateUUID(name) != nil {
		return "", false
	}
	return name, true
}

// recordEvent: RECORD_START/STOP of one of callrecd's files. A recording
// paused for its whole life is discarded by FreeSWITCH (no file): that is
// said, not taken for a loss.
func recordEvent(ev Event, when time.Time) []engine.Event {
	name, ok := recordingName(ev.Get("Record-File-Path"))
	if !ok {
		return nil
	}
	ch := ev.Get("Unique-ID")
	if ev.Name == "RECORD_START" {
		return []engine.Event{engine.RecordingStarted{At: when, Name: name, Channel: ch}}
	}
	if discarded(ev) {
		return []engine.Event{engine.RecordingFailed{At: when, Name: name, Channel: ch, Reason: DiscardedReason}}
	}
	return []engine.Event{engine.RecordingFinished{At: when, Name: name, Channel: ch}}
}

// DiscardedReason is the failure reason of a recording FreeSWITCH discarded
// because it was paused for its whole life.
const DiscardedReason = "empty-file: paused for its whole life, FreeSWITCH kept no audio"

func discarded(ev Event) bool {
	return ev.Get("Record-Completion-Cause") == "empty-file" || ev.Get("variable_RECORD_DISCARDED") == "true"
}

// message: a SIP MESSAGE FreeSWITCH accepted. Out of dialog it names no
// channel: the engine finds the call from the body's session id. The
// sender is the directory user who sent it, when it came in on a phone
// profile.
func (t *translator) message(ev Event, when time.Time) []engine.Event {
	tm := engine.TextMessage{At: when, Channel: ev.Get("Unique-ID"), From: ev.Get("from"),
		ContentType: ev.Get("type"), Body: ev.Body, Headers: sipHeaders(ev)}
	if prof := ev.Get("sip_profile"); prof != "" && !slices.Contains(t.m.TrunkProfiles, prof) && !slices.Contains(t.m.IgnoreProfiles, prof) {
		tm.Endpoint = ev.Get("from_user")
	}
	return []engine.Event{tm}
}

// info: an in-dialog SIP INFO with a text body (PortSIP's
// pause-audio-recording). FreeSWITCH's own display updates are noise.
func (t *translator) info(ev Event, when time.Time) []engine.Event {
	ct := ev.Get("SIP-Content-Type")
	if ev.Get("Unique-ID") == "" || !strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "json") {
		return nil
	}
	return []engine.Event{engine.TextMessage{At: when, Channel: ev.Get("Unique-ID"), Endpoint: ev.Get("SIP-From-User"),
		From: ev.Get("SIP-From-User") + "@" + ev.Get("SIP-From-Host"), ContentType: ct, Body: ev.Body}}
}

// sipHeaders are the request's own X-/P- headers (FreeSWITCH passes them
// as sip_h_<name>).
func sipHeaders(ev Event) map[string]string {
	var out map[string]string
	for k, v := range ev.Headers {
		if name, ok := strings.CutPrefix(k, "sip_h_"); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}
