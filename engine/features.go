package engine

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
)

// ---- DTMF feature codes (*3, *48, *49) ----

type dtmfAction uint8

const (
	actNone dtmfAction = iota
	actToggle
	actPause
	actResume
)

// onDTMF matches digits per channel. A gap longer than the tenant's
// inter-digit timeout (by event time) clears the buffer. The buffer keeps the
// longest tail that is a prefix of an enabled code; an exact match fires and
// clears it. Digits of external parties never trigger anything.
func (e *Engine) onDTMF(ctx context.Context, ev DTMF, at time.Time) {
	ch := e.channels[ev.Channel]
	if ch == nil || ch.role != RoleInternal || ev.Digit == 0 {
		return
	}
	pol := e.policy(ctx, ch.tenant)
	if ch.dtmfLen > 0 && at.Sub(ch.lastDigit) > pol.DTMFTimeout {
		ch.dtmfLen = 0
	}
	if at.After(ch.lastDigit) || ch.lastDigit.IsZero() {
		ch.lastDigit = at
	}
	if ch.dtmfLen == len(ch.dtmf) {
		copy(ch.dtmf[:], ch.dtmf[1:])
		ch.dtmfLen--
	}
	ch.dtmf[ch.dtmfLen] = ev.Digit
	ch.dtmfLen++
	codes := [...]struct {
		fc  FeatureCode
		act dtmfAction
	}{
		{pol.Features.OnlineRecord, actToggle},
		{pol.Features.Pause, actPause},
		{pol.Features.Resume, actResume},
	}
	for ch.dtmfLen > 0 {
		buf := string(ch.dtmf[:ch.dtmfLen])
		prefix := false
		for _, c := range codes {
			if !c.fc.Enabled || c.fc.Code == "" {
				continue
			}
			if c.fc.Code == buf {
				ch.dtmfLen = 0
				e.onlineAction(ctx, ch, c.act, pol, at)
				return
			}
			if strings.HasPrefix(c.fc.Code, buf) {
				prefix = true
			}
		}
		if prefix {
			return
		}
		copy(ch.dtmf[:], ch.dtmf[1:ch.dtmfLen])
		ch.dtmfLen--
	}
}

// mayControl: may this internal party start/pause/resume/stop recording of
// its call in-call? Tenant recording on, and the user's
// online_call_record_enabled — for a callee reached through a group or queue
// that group's/queue's dtmf_record_toggle instead.
func (e *Engine) mayControl(ctx context.Context, ch *channel, pol TenantPolicy) bool {
	if !pol.AudioRecordingEnabled || ch.role != RoleInternal {
		return false
	}
	c := ch.call
	if c.originator() != ch {
		for _, v := range [...]struct {
			kind GroupKind
			name string
		}{{KindQueue, ch.queue}, {KindGroup, ch.group}} {
			if v.name == "" {
				continue
			}
			g, ok, err := e.settings.Group(ctx, ch.tenant, v.kind, v.name)
			if err != nil {
				e.log.Error("engine: group lookup", "tenant", ch.tenant, "kind", v.kind, "name", v.name, "err", err)
				continue
			}
			if ok {
				return g.DTMFRecordToggle
			}
		}
	}
	return ch.user != nil && ch.user.OnlineCallRecordEnabled
}

func (e *Engine) onlineAction(ctx context.Context, ch *channel, act dtmfAction, pol TenantPolicy, at time.Time) {
	c := ch.call
	if !e.mayControl(ctx, ch, pol) || !c.connected || c.partyCount() < 2 ||
		c.externalOnly() && !pol.RecordExternalToExternal {
		e.play(c, []string{ch.id}, PromptDenied)
		return
	}
	rec := c.active()
	switch act {
	case actToggle:
		switch {
		case rec == nil:
			e.startRec(c, recording.ByDTMF, pol, at)
		case pol.OnlineRecordMode == recording.OnlineRecordStop:
			c.autoOff = true
			e.stopRec(rec, recording.StopDTMF, at)
			if pol.Announcements {
				e.play(c, c.partyIDs(), PromptRecordingStopped)
			}
		case rec.row.State == recording.StateRecording:
			e.pauseRec(rec, pol, at)
		default:
			e.resumeRec(rec, pol, at)
		}
	case actPause:
		if rec != nil {
			e.pauseRec(rec, pol, at)
		}
	case actResume:
		if rec != nil {
			e.resumeRec(rec, pol, at)
		}
	}
}

// ---- *26 ----

// onFeatureCall: *26 toggles the caller's automatic recording (all four
// flags off if any is on, else all on), plays activated/de-activated and
// hangs up. When the tenant disabled the feature nothing happens at all (the
// dialplan should not route a disabled code here).
func (e *Engine) onFeatureCall(ctx context.Context, ev FeatureCall, at time.Time) {
	ch := e.channels[ev.Channel]
	if ch == nil || ev.Feature != recording.FeatureCallRecord {
		return
	}
	pol := e.policy(ctx, ch.tenant)
	if !pol.Features.CallRecord.Enabled || ch.role != RoleInternal {
		return
	}
	if ch.user == nil {
		if u, ok, err := e.settings.UserByEndpoint(ctx, ch.tenant, ch.endpoint); err == nil && ok {
			ch.user = &u
		}
	}
	if ch.user == nil {
		e.log.Warn("engine: *26 from unknown user", "tenant", ch.tenant, "endpoint", ch.endpoint)
		e.play(ch.call, []string{ch.id}, PromptDenied)
		e.command(ch.call, Command{Op: OpHangup, Channel: ch.id})
		return
	}
	on := !ch.user.anyAutoRecord()
	prompt := PromptDeactivated
	if on {
		prompt = PromptActivated
	}
	e.fx = append(e.fx, SetAutoRecord{Tenant: ch.tenant, User: ch.user.UUID, Enabled: on})
	u := *ch.user
	u.CallRecordIncomingExternal, u.CallRecordIncomingInternal = on, on
	u.CallRecordOutgoingExternal, u.CallRecordOutgoingInternal = on, on
	ch.user = &u
	e.play(ch.call, []string{ch.id}, prompt)
	e.command(ch.call, Command{Op: OpHangup, Channel: ch.id})
}

// ---- SIP MESSAGE ----

// onTextMessage applies PortSIP's pause/resume SIP MESSAGE as the PBX
// delivered it (ARI TextMessageReceived, ESL MESSAGE/INFO): a JSON body
// {"operation":"pause"|"resume","session_id":…}, or, in dialog, a plain
// "pause-audio-recording"/"resume-audio-recording" body; mediactl.Parse
// reads both, as it does for callrecd's own SIP listener (sipctl).
//
// PortSIP's phones send application/x-media-control+json, but Asterisk
// refuses an out-of-dialog MESSAGE of any type but text/plain (415, trace
// g), so there the same body arrives as text/plain; mediactl takes both.
//
// Only an internal party of the call may pause or resume it, so nobody
// silences somebody else's recorded call by knowing its session id: the
// sender is the endpoint the adapter names (Endpoint); in dialog, the
// dialog's own channel.
func (e *Engine) onTextMessage(ctx context.Context, ev TextMessage, at time.Time) {
	ct := ev.ContentType
	if ct == "" {
		for k, v := range ev.Headers {
			if strings.EqualFold(k, "Content-Type") {
				ct = v
			}
		}
	}
	req, err := mediactl.Parse(ct, []byte(ev.Body))
	if err != nil {
		if ev.Channel != "" || strings.HasPrefix(strings.TrimSpace(ev.Body), "{") {
			e.log.Warn("engine: bad media control message", "from", ev.From, "channel", ev.Channel, "err", err)
		}
		return // out of dialog, a text that is no JSON is somebody's chat
	}
	var c *call
	if req.SessionID != "" {
		c = e.findSession(req.SessionID)
	} else if ch := e.channels[ev.Channel]; ch != nil {
		c = ch.call
	}
	if c == nil {
		e.log.Info("engine: media control for unknown session", "session", req.SessionID, "channel", ev.Channel)
		return
	}
	if !c.sentByParty(ev) {
		e.log.Warn("engine: media control refused: the sender is not an internal party of the call",
			"sender", cmp.Or(ev.Endpoint, ev.From), "pbx_call_id", c.pbxID, "operation", req.Operation)
		e.fx = append(e.fx, ControlRefused{Reason: RefusedNotAParty})
		return
	}
	switch req.Operation {
	case mediactl.Pause:
		_, err = e.pause(ctx, c, at)
	case mediactl.Resume:
		_, err = e.resume(ctx, c, at)
	}
	if err != nil {
		e.log.Info("engine: media control refused", "operation", req.Operation, "pbx_call_id", c.pbxID, "err", err)
	}
}

// sentByParty reports whether a media control message comes from an
// internal party of c (see onTextMessage).
func (c *call) sentByParty(ev TextMessage) bool {
	for _, ch := range c.channels {
		if ch.role != RoleInternal {
			continue
		}
		if ch.id == ev.Channel || ev.Endpoint != "" && ch.endpoint == ev.Endpoint {
			return true
		}
	}
	return false
}
