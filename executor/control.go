package executor

import (
	"context"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// The call control of the API and the SIP listener: the engine decides, the
// executor applies, the caller gets the recording's state.

// Calls lists the live calls of tenant ("" = all).
func (x *Executor) Calls(tenant string) []engine.CallInfo { return x.eng.Calls(tenant) }

// Call returns one live call.
func (x *Executor) Call(tenant, ref string) (engine.CallInfo, error) { return x.eng.Call(tenant, ref) }

type byRef func(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, []engine.Effect, error)

func (x *Executor) control(ctx context.Context, do byRef, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	info, fx, err := do(ctx, tenant, ref, who)
	x.apply(ctx, fx)
	x.w.flush() // the answer carries the call id the row got
	return x.withID(info), err
}

// withID gives a recording the call id (and file name) its call row got
// while the effects were applied.
func (x *Executor) withID(info engine.RecordingInfo) engine.RecordingInfo {
	if info.CallID != 0 || info.UUID == "" {
		return info
	}
	if now, ok := x.eng.Recording(info.UUID); ok {
		return now
	}
	return info
}

// StartRecording starts a new recording of a call (see engine.StartRecording).
func (x *Executor) StartRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error) {
	return x.control(ctx, x.eng.StartRecording, tenant, ref, who)
}

// StopRecording stops the call's active recording.
func (x *Executor) StopRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error) {
	return x.control(ctx, x.eng.StopRecording, tenant, ref, who)
}

// PauseRecording pauses the call's recording.
func (x *Executor) PauseRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error) {
	return x.control(ctx, x.eng.PauseRecording, tenant, ref, who)
}

// ResumeRecording resumes the call's paused recording.
func (x *Executor) ResumeRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error) {
	return x.control(ctx, x.eng.ResumeRecording, tenant, ref, who)
}

// PauseBySession pauses by PortSIP session id (X-Session-Id).
func (x *Executor) PauseBySession(ctx context.Context, session string, who recording.StartedBy) (engine.RecordingInfo, error) {
	return x.control(ctx, func(ctx context.Context, _, ref string, who recording.StartedBy) (engine.RecordingInfo, []engine.Effect, error) {
		return x.eng.PauseBySession(ctx, ref, who)
	}, "", session, who)
}

// ResumeBySession resumes by PortSIP session id.
func (x *Executor) ResumeBySession(ctx context.Context, session string, who recording.StartedBy) (engine.RecordingInfo, error) {
	return x.control(ctx, func(ctx context.Context, _, ref string, who recording.StartedBy) (engine.RecordingInfo, []engine.Effect, error) {
		return x.eng.ResumeBySession(ctx, ref, who)
	}, "", session, who)
}
