package engine

import (
	"context"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// Index is the store's view a Snapshot is reconciled with (Config.Index).
type Index interface {
	// OpenCalls and OpenRecordings list the rows the index holds open
	// (calls without an end; recordings pending, recording or paused), each
	// with the latest time it is known to have been going (Seen).
	OpenCalls(ctx context.Context) ([]OpenCall, error)
	OpenRecordings(ctx context.Context) ([]OpenRecording, error)
	// FindRecording finds a recording row by uuid, whatever its state.
	FindRecording(ctx context.Context, uuid string) (RecordingRow, bool, error)
}

// OpenCall is a call row the index holds open, with the latest time the
// call is known to have been going (Seen).
type OpenCall struct {
	Row  CallRow
	Seen time.Time
}

// OpenRecording is a recording row the index holds active, with the latest
// time it is known to have been running (Seen: e.g. the last write to its
// file).
type OpenRecording struct {
	Row  RecordingRow
	Seen time.Time
	// NoAudio: the PBX holds no file for it (its spool, read by callrecd,
	// has none): the run that asked for it ended before the PBX began.
	NoAudio bool
}

// indexView is what readIndex read for one Snapshot.
type indexView struct {
	calls      []OpenCall
	open       []OpenRecording
	recordings map[string]RecordingRow // the open ones and those the PBX reports live
}

func (v *indexView) openCall(tenant, pbxCallID string) (CallRow, bool) {
	for _, o := range v.calls {
		if o.Row.PBXCallID == pbxCallID && o.Row.Tenant == tenant {
			return o.Row, true
		}
	}
	return CallRow{}, false
}

// readIndex reads the index for a snapshot, without the engine's lock: the
// open rows and the rows of the recordings the PBX reports live. A read that
// fails leaves its part empty: nothing is then adopted or closed from it.
func (e *Engine) readIndex(ctx context.Context, snap Snapshot) *indexView {
	v := &indexView{recordings: map[string]RecordingRow{}}
	var err error
	if v.calls, err = e.index.OpenCalls(ctx); err != nil {
		e.log.Error("engine: list open calls", "err", err)
	}
	if v.open, err = e.index.OpenRecordings(ctx); err != nil {
		e.log.Error("engine: list open recordings", "err", err)
	}
	for _, o := range v.open {
		v.recordings[o.Row.UUID] = o.Row
	}
	for _, lr := range snap.Recordings {
		if _, ok := v.recordings[lr.Name]; ok || lr.Name == "" {
			continue
		}
		row, ok, err := e.index.FindRecording(ctx, lr.Name)
		if err != nil {
			e.log.Error("engine: find recording", "name", lr.Name, "err", err)
		} else if ok {
			v.recordings[lr.Name] = row
		}
	}
	return v
}

// closeLost runs once, at the end of the engine's first snapshot: it closes
// the rows an earlier run left open that this engine neither adopted nor
// found (the previous run ended before the call did, and the call ended
// while nobody listened): recordings stopped with stop_reason pbx_lost (or
// failed, when the PBX has no file for them), calls ended, both at the best
// known time (Seen, never after the snapshot). Rows it holds are left alone.
func (e *Engine) closeLost(idx *indexView, at time.Time) {
	// Held: by row id, or by PBX call id for a row whose id is unknown;
	// rows this snapshot already wrote (the index was read before it) count
	// as held.
	heldID, heldPBX, heldRec := map[int64]bool{}, map[string]bool{}, map[string]bool{}
	for id, c := range e.calls {
		switch {
		case c.ended:
		case c.row.ID != 0:
			heldID[c.row.ID] = true
		default:
			heldPBX[c.tenant+"/"+id] = true
		}
	}
	for _, f := range e.fx {
		switch w := f.(type) {
		case WriteCall:
			heldID[w.Row.ID] = w.Row.ID != 0
			heldPBX[w.Row.Tenant+"/"+w.Row.PBXCallID] = true
		case WriteRecording:
			heldRec[w.Row.UUID] = true
		}
	}
	ends := map[int64]time.Time{} // call id → end of its latest lost recording
	nrec := 0
	for _, o := range idx.open {
		if e.recs[o.Row.UUID] != nil || heldRec[o.Row.UUID] {
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
		r.State, r.StopReason, r.End = recording.StateStopped, recording.StopPBXLost, end
		if o.NoAudio {
			// Nothing was recorded: a stopped row would promise a file.
			r.State, r.StopReason, r.FailureReason = recording.StateFailed, "", recording.FailureNeverStarted
		}
		e.fx = append(e.fx, WriteRecording{Row: r}, RecordingFinal{Row: r})
		nrec++
		ends[r.CallID] = later(ends[r.CallID], end)
	}
	ncall := 0
	for _, o := range idx.calls {
		if heldID[o.Row.ID] || heldPBX[o.Row.Tenant+"/"+o.Row.PBXCallID] {
			continue
		}
		row := o.Row
		row.End = clampTime(later(o.Seen, ends[row.ID]), row.Start, at)
		e.fx = append(e.fx, WriteCall{Row: row})
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
