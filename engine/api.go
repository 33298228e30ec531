package engine

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// RecordingInfo is a recording as the API shows it.
type RecordingInfo struct {
	RecordingRow
	Channel string // the channel being recorded now (see package doc)
	Live    bool   // the PBX confirmed the current part
}

// PartyInfo is one channel of a live call.
type PartyInfo struct {
	Channel  string
	Role     Role
	Endpoint string
	UserUUID string
	Number   string
	Name     string
	Answered bool
	Bridge   string
}

// CallInfo is a live call with its recording state (GET /calls).
type CallInfo struct {
	ID           int64 // CDR id (0 if the store failed to create it)
	PBXCallID    string
	Tenant       string
	Start        time.Time
	Answer       time.Time
	Direction    Direction
	Parties      []PartyInfo
	ExternalOnly bool
	// Record is the active recording's state (recording or paused), ""
	// when nothing records.
	Record     recording.State
	Recordings []RecordingInfo // recordings of this call known in memory
}

func (r *rec) info() RecordingInfo {
	row := r.row
	row.Paused = append([]Interval(nil), r.row.Paused...)
	return RecordingInfo{RecordingRow: row, Channel: r.channel, Live: r.live}
}

// identity is the number and name a party is known by. The originator is
// its caller id. A leg the PBX dialled carries the caller's id, not its
// own (both PBXs present it on the new channel), so it is its user's
// extension and name, or the number dialled.
func (ch *channel) identity(originator bool) (number, name string) {
	var ext, uname string
	if ch.user != nil {
		ext, uname = ch.user.Extension, ch.user.Name
	}
	if originator {
		return cmp.Or(ch.callerNum, ext), cmp.Or(ch.callerNam, uname)
	}
	return cmp.Or(ext, ch.calleeNum, ch.callerNum), uname
}

func (c *call) info() CallInfo {
	ci := CallInfo{
		ID: c.row.ID, PBXCallID: c.pbxID, Tenant: c.tenant, Start: c.row.Start,
		Answer: c.row.Answer, Direction: c.row.Direction, ExternalOnly: c.externalOnly(),
	}
	orig := c.originator()
	for _, ch := range c.channels {
		if !ch.role.isParty() {
			continue
		}
		p := PartyInfo{Channel: ch.id, Role: ch.role, Endpoint: ch.endpoint, Answered: ch.answered}
		p.Number, p.Name = ch.identity(ch == orig)
		if ch.user != nil {
			p.UserUUID = ch.user.UUID
		}
		if ch.bridge != nil {
			p.Bridge = ch.bridge.id
		}
		ci.Parties = append(ci.Parties, p)
	}
	for _, r := range c.recs {
		ci.Recordings = append(ci.Recordings, r.info())
		if r.row.State.Active() {
			ci.Record = r.row.State
		}
	}
	return ci
}

// Calls lists the live calls of tenant ("" = all tenants), oldest first.
func (e *Engine) Calls(tenant string) []CallInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	var cs []*call
	for id, c := range e.calls {
		if id != c.pbxID || c.ended || (tenant != "" && c.tenant != tenant) {
			continue // aliases of merged calls
		}
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
	out := make([]CallInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.info())
	}
	return out
}

// Call returns one live call; ref as for StartRecording.
func (e *Engine) Call(tenant, ref string) (CallInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.resolve(tenant, ref)
	if err != nil {
		return CallInfo{}, err
	}
	return c.info(), nil
}

// resolve finds a live call by reference: a channel id (what Wazo's calld
// calls call_id), a PBX call id, or the decimal CDR id. A non-empty tenant
// must match.
func (e *Engine) resolve(tenant, ref string) (*call, error) {
	var c *call
	if ch := e.channels[ref]; ch != nil {
		c = ch.call
	} else if c = e.calls[ref]; c == nil {
		if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
			for _, x := range e.calls {
				if x.row.ID == id {
					c = x
					break
				}
			}
		}
	}
	if c == nil || c.ended || (tenant != "" && c.tenant != tenant) {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchCall, ref)
	}
	return c, nil
}

// findSession resolves a PortSIP session id: the call's PBX call id, the
// id of one of its channels (callrecd hands one of these out as
// X-Session-Id), or the SIP Call-ID of one of its channels' dialogs.
func (e *Engine) findSession(id string) *call {
	if id == "" {
		return nil
	}
	if c := e.calls[id]; c != nil && !c.ended {
		return c
	}
	if ch := e.channels[id]; ch != nil {
		return ch.call
	}
	for _, ch := range e.channels {
		if ch.sipCallID == id {
			return ch.call
		}
	}
	return nil
}

// The call-control methods below (REST, SIP) return, besides the
// recording's state, the effects to apply, as Handle does; an error means
// nothing was decided (no effects).

// StartRecording starts a new recording of a call (REST). who is recording.ByAPI or
// recording.BySIPMessage. Errors: ErrNoSuchCall; ErrNotAllowed (tenant recording off,
// or only external parties talk and the tenant forbids recording them);
// ErrWrongState (not answered yet, or a recording is already active — stop
// it first to make a second one).
func (e *Engine) StartRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (RecordingInfo, []Effect, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.resolve(tenant, ref)
	if err != nil {
		return RecordingInfo{}, nil, err
	}
	pol := e.policy(ctx, c.tenant)
	switch {
	case !pol.AudioRecordingEnabled:
		return RecordingInfo{}, nil, fmt.Errorf("%w: recording is disabled for the tenant", ErrNotAllowed)
	case !c.connected || c.partyCount() < 2:
		return RecordingInfo{}, nil, fmt.Errorf("%w: call not answered", ErrWrongState)
	case c.externalOnly() && !pol.RecordExternalToExternal:
		return RecordingInfo{}, nil, fmt.Errorf("%w: external-to-external call", ErrNotAllowed)
	case c.active() != nil:
		return RecordingInfo{}, nil, fmt.Errorf("%w: already recording", ErrWrongState)
	}
	r := e.startRec(c, who, pol, e.clock.Now())
	if r == nil {
		return RecordingInfo{}, e.takeEffects(), fmt.Errorf("%w: no channel to record", ErrWrongState)
	}
	return r.info(), e.takeEffects(), nil
}

// StopRecording stops the call's active recording (REST). The policy will not
// start another one by itself on this call.
func (e *Engine) StopRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (RecordingInfo, []Effect, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.resolve(tenant, ref)
	if err != nil {
		return RecordingInfo{}, nil, err
	}
	r := c.active()
	if r == nil {
		return RecordingInfo{}, nil, fmt.Errorf("%w: not recording", ErrWrongState)
	}
	why := recording.StopAPI
	if who == recording.ByDTMF {
		why = recording.StopDTMF
	}
	c.autoOff = true
	e.stopRec(r, why, e.clock.Now())
	if pol := e.policy(ctx, c.tenant); pol.Announcements {
		e.play(c, c.partyIDs(), PromptRecordingStopped)
	}
	return r.info(), e.takeEffects(), nil
}

// PauseRecording pauses the call's recording. ErrWrongState unless recording.
func (e *Engine) PauseRecording(ctx context.Context, tenant, ref string, _ recording.StartedBy) (RecordingInfo, []Effect, error) {
	return e.control(ctx, tenant, ref, e.pause)
}

// ResumeRecording resumes the call's paused recording. ErrWrongState unless
// paused.
func (e *Engine) ResumeRecording(ctx context.Context, tenant, ref string, _ recording.StartedBy) (RecordingInfo, []Effect, error) {
	return e.control(ctx, tenant, ref, e.resume)
}

// PauseBySession pauses by PortSIP session id (X-Session-Id): the call's PBX
// call id or one of its channel ids.
func (e *Engine) PauseBySession(ctx context.Context, sessionID string, _ recording.StartedBy) (RecordingInfo, []Effect, error) {
	return e.controlSession(ctx, sessionID, e.pause)
}

// ResumeBySession resumes by PortSIP session id; see PauseBySession.
func (e *Engine) ResumeBySession(ctx context.Context, sessionID string, _ recording.StartedBy) (RecordingInfo, []Effect, error) {
	return e.controlSession(ctx, sessionID, e.resume)
}

type callAction func(ctx context.Context, c *call, at time.Time) (RecordingInfo, error)

func (e *Engine) control(ctx context.Context, tenant, ref string, act callAction) (RecordingInfo, []Effect, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.resolve(tenant, ref)
	if err != nil {
		return RecordingInfo{}, nil, err
	}
	info, err := act(ctx, c, e.clock.Now())
	return info, e.takeEffects(), err
}

func (e *Engine) controlSession(ctx context.Context, sessionID string, act callAction) (RecordingInfo, []Effect, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.findSession(sessionID)
	if c == nil {
		return RecordingInfo{}, nil, fmt.Errorf("%w: session %q", ErrNoSuchCall, sessionID)
	}
	info, err := act(ctx, c, e.clock.Now())
	return info, e.takeEffects(), err
}

func (e *Engine) pause(ctx context.Context, c *call, at time.Time) (RecordingInfo, error) {
	r := c.active()
	if r == nil || r.row.State != recording.StateRecording {
		return RecordingInfo{}, fmt.Errorf("%w: not recording", ErrWrongState)
	}
	e.pauseRec(r, e.policy(ctx, c.tenant), at)
	return r.info(), nil
}

func (e *Engine) resume(ctx context.Context, c *call, at time.Time) (RecordingInfo, error) {
	r := c.active()
	if r == nil || r.row.State != recording.StatePaused {
		return RecordingInfo{}, fmt.Errorf("%w: not paused", ErrWrongState)
	}
	e.resumeRec(r, e.policy(ctx, c.tenant), at)
	return r.info(), nil
}

// Prepares reports whether the engine prepares recordings (Config.Prepares).
func (e *Engine) Prepares() bool { return e.prepares }

// Recording returns a recording the engine holds, by uuid.
func (e *Engine) Recording(uuid string) (RecordingInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.recs[uuid]; r != nil {
		return r.info(), true
	}
	return RecordingInfo{}, false
}
