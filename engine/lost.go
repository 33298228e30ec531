package engine

import (
	"context"
	"time"
)

// closeLost runs once, at the end of the engine's first snapshot: it closes
// the rows an earlier run left open that this engine neither adopted nor
// found (see OpenRows). Rows it holds are left alone.
func (e *Engine) closeLost(ctx context.Context, at time.Time) {
	or, ok := e.records.(OpenRows)
	if !ok {
		return
	}
	held := make(map[int64]bool, len(e.calls))
	for _, c := range e.calls {
		if c.rowStored {
			held[c.row.ID] = true
		}
	}
	recs, err := or.OpenRecordings(ctx)
	if err != nil {
		e.log.Error("engine: list open recordings", "err", err)
	}
	ends := map[int64]time.Time{} // call id → end of its latest lost recording
	nrec := 0
	for _, o := range recs {
		if e.recs[o.Row.UUID] != nil {
			continue // adopted or otherwise ours
		}
		r := o.Row
		end := o.Seen
		if n := len(r.Paused); n > 0 && r.Paused[n-1].End.IsZero() {
			end = later(end, r.Paused[n-1].Start)
		}
		end = clampTime(end, r.Start, at)
		if n := len(r.Paused); n > 0 && r.Paused[n-1].End.IsZero() {
			r.Paused[n-1].End = end
		}
		r.State, r.StopReason, r.End = StateStopped, StopPBXLost, end
		if err := e.records.UpdateRecording(ctx, r); err != nil {
			e.log.Error("engine: close lost recording", "recording", r.UUID, "err", err)
			continue
		}
		nrec++
		ends[r.CallID] = later(ends[r.CallID], end)
	}
	calls, err := or.OpenCalls(ctx)
	if err != nil {
		e.log.Error("engine: list open calls", "err", err)
	}
	ncall := 0
	for _, o := range calls {
		if held[o.Row.ID] {
			continue
		}
		row := o.Row
		row.End = clampTime(later(o.Seen, ends[row.ID]), row.Start, at)
		if err := e.records.UpdateCall(ctx, row); err != nil {
			e.log.Error("engine: close lost call", "call_id", row.ID, "err", err)
			continue
		}
		ncall++
	}
	if nrec+ncall > 0 {
		e.log.Warn("engine: closed rows an earlier run left open (the calls ended while callrecd was down)",
			"calls", ncall, "recordings", nrec)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clampTime keeps t within [lo, hi] (a zero t becomes hi).
func clampTime(t, lo, hi time.Time) time.Time {
	if t.IsZero() || t.After(hi) {
		t = hi
	}
	if t.Before(lo) {
		t = lo
	}
	return t
}
