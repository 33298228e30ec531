package executor

import (
	"context"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
)

// ControlBySession pauses or resumes by PortSIP session id on behalf of an
// authenticated sender endpoint (the SIP listener's request); see
// engine.ControlBySession for the errors. The effects are applied before
// it returns, so the answer is the recording's state as the PBX was told.
func (x *Executor) ControlBySession(ctx context.Context, session string, op mediactl.Operation, sender string,
	who recording.StartedBy) (engine.RecordingInfo, error) {
	return x.control(ctx, func(ctx context.Context, _, ref string, who recording.StartedBy) (engine.RecordingInfo, []engine.Effect, error) {
		return x.eng.ControlBySession(ctx, ref, op, sender, who)
	}, "", session, who)
}
