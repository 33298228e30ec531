package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
)

// ErrNotAParty: the sender of a recording-control request is not an
// internal party of the call it names (ControlBySession).
var ErrNotAParty = errors.New("engine: the sender is not an internal party of the call")

// ControlBySession pauses or resumes the recording of the call a PortSIP
// session id names (see findSession), on behalf of sender: the endpoint
// name (PJSIP endpoint, FreeSWITCH directory user) of whoever asked, as
// the SIP listener authenticated it. Only an internal party of the call may
// do it, so knowing a session id is not enough to silence somebody else's
// recorded call.
//
// Errors, in the order checked: ErrNoSuchCall (no live call has that
// session), ErrNotAParty, ErrWrongState (not recording / not paused), and
// an unknown op. An error means nothing was decided (no effects).
func (e *Engine) ControlBySession(ctx context.Context, sessionID string, op mediactl.Operation, sender string,
	_ recording.StartedBy) (RecordingInfo, []Effect, error) {
	var act callAction
	switch op {
	case mediactl.Pause:
		act = e.pause
	case mediactl.Resume:
		act = e.resume
	default:
		return RecordingInfo{}, nil, fmt.Errorf("engine: unknown operation %q", op)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.findSession(sessionID)
	if c == nil || c.ended {
		return RecordingInfo{}, nil, fmt.Errorf("%w: session %q", ErrNoSuchCall, sessionID)
	}
	if sender == "" || !c.sentByParty(TextMessage{Endpoint: sender}) {
		return RecordingInfo{}, nil, fmt.Errorf("%w: %q, session %q", ErrNotAParty, sender, sessionID)
	}
	info, err := act(ctx, c, e.clock.Now())
	if err != nil {
		e.takeEffects() // nothing was decided; drop anything half-made
		return RecordingInfo{}, nil, err
	}
	return info, e.takeEffects(), nil
}
