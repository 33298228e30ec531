package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// OpenCalls/OpenRecordings list what a run left open, with the latest time
// each is known to have been going; closing them through ForEngine takes
// them off the lists.
func TestOpenRowsAfterARestart(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	f := ForEngine{S: s}
	start := time.Date(2021, 5, 14, 17, 47, 15, 632882000, time.UTC)
	mk := func(pbxID string, end bool) Call {
		c, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: pbxID, Start: start, Direction: DirectionInternal,
			SourceExtension: "1001", DestinationExtension: "1002"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetCallAnswered(ctx, c.ID, start.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if end {
			if err := s.SetCallEnded(ctx, c.ID, start.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	open, closed, bare := mk("L1", false), mk("L2", true), mk("L3", false)
	rec := func(uuid string, callID int64, state string, recStart time.Time, paused []Interval) {
		end := (*time.Time)(nil)
		if state == string(recording.StateStopped) {
			e := recStart.Add(time.Second)
			end = &e
		}
		if err := s.CreateRecording(ctx, Recording{UUID: uuid, CallID: callID, TenantUUID: tenantA, Start: recStart, End: end,
			Filename: uuid + ".wav", Format: string(recording.WAV), State: state, StartedBy: string(recording.ByPolicy), PausedIntervals: paused}); err != nil {
			t.Fatal(err)
		}
	}
	pauseStart := start.Add(9 * time.Second)
	rec("00000000-0000-4000-8000-000000000001", open.ID, string(recording.StateStopped), start.Add(3*time.Second), nil) // ends at +4 s
	rec("00000000-0000-4000-8000-000000000002", open.ID, string(recording.StatePaused), start.Add(5*time.Second),
		[]Interval{{Start: start.Add(6 * time.Second), End: ptr(start.Add(7 * time.Second))}, {Start: pauseStart}})
	rec("00000000-0000-4000-8000-000000000003", closed.ID, string(recording.StateRecording), start.Add(3*time.Second), nil)

	calls, err := f.OpenCalls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].Row.ID != open.ID || calls[1].Row.ID != bare.ID {
		t.Fatalf("open calls %+v", calls)
	}
	if want := start.Add(5 * time.Second); !calls[0].Seen.Equal(want) { // its latest recording's start
		t.Errorf("call seen %v, want %v", calls[0].Seen, want)
	}
	if want := start.Add(2 * time.Second); !calls[1].Seen.Equal(want) { // its answer
		t.Errorf("bare call seen %v, want %v", calls[1].Seen, want)
	}
	if r := calls[0].Row; r.PBXCallID != "L1" || r.Tenant != tenantA || r.Direction != engine.DirInternal || !r.End.IsZero() {
		t.Errorf("row %+v", r)
	}
	recs, err := f.OpenRecordings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("open recordings %+v", recs)
	}
	var paused engine.OpenRecording
	for _, r := range recs {
		if r.Row.UUID == "00000000-0000-4000-8000-000000000002" {
			paused = r
		}
	}
	if !paused.Seen.Equal(pauseStart) || len(paused.Row.Paused) != 2 || !paused.Row.Paused[1].End.IsZero() {
		t.Errorf("paused recording %+v", paused)
	}

	// Closing them (as the engine does) empties the lists.
	for _, r := range recs {
		row := r.Row
		row.State, row.StopReason, row.End = recording.StateStopped, recording.StopPBXLost, r.Seen
		if err := f.UpdateRecording(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range calls {
		row := c.Row
		row.End = c.Seen
		if err := f.UpdateCall(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
	if calls, _ := f.OpenCalls(ctx); len(calls) != 0 {
		t.Errorf("still open: %+v", calls)
	}
	if recs, _ := f.OpenRecordings(ctx); len(recs) != 0 {
		t.Errorf("still open: %+v", recs)
	}
	got, err := s.GetRecording(ctx, tenantA, "00000000-0000-4000-8000-000000000003")
	if err != nil || got.State != string(recording.StateStopped) || got.StopReason != "pbx_lost" || got.End == nil {
		t.Errorf("closed recording %+v %v", got, err)
	}
}

func ptr[T any](v T) *T { return &v }

// UnplacedRecordings lists the stopped rows without a file that ended since
// the time asked: not those with a file, not live, failed or deleted ones,
// not older ones.
func TestUnplacedRecordingsAreTheRecentStoppedRowsWithoutAFile(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustTenant(t, s, tenantA)
	f := ForEngine{S: s}
	start := time.Date(2026, 12, 3, 17, 49, 40, 0, time.UTC)
	c, err := s.CreateCall(ctx, Call{TenantUUID: tenantA, PBXCallID: "U1", Start: start, Direction: DirectionInternal,
		SourceExtension: "1001", DestinationExtension: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	uuid := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }
	rec := func(i int, state recording.State, endAfter time.Duration) {
		r := Recording{UUID: uuid(i), CallID: c.ID, TenantUUID: tenantA, Start: start, Filename: uuid(i) + ".wav",
			Format: string(recording.WAV), State: string(state), StartedBy: string(recording.ByPolicy)}
		if state == recording.StateStopped || state == recording.StateFailed {
			r.End = ptr(start.Add(endAfter))
		}
		if err := s.CreateRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rec(1, recording.StateStopped, time.Minute) // wanted
	rec(2, recording.StateStopped, time.Minute) // has its file
	if err := s.SetRecordingFile(ctx, uuid(2), FileInfo{Filename: uuid(2) + ".wav", Format: "wav", Size: 44, SHA256: strings.Repeat("a", 64)}); err != nil {
		t.Fatal(err)
	}
	rec(3, recording.StateRecording, 0)           // live
	rec(4, recording.StateFailed, time.Minute)    // failed: never had a file
	rec(5, recording.StateStopped, -time.Second)  // ended before the time asked
	rec(6, recording.StateStopped, 2*time.Minute) // deleted
	if err := s.MarkRecordingDeleted(ctx, "", uuid(6), start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	rows, err := f.UnplacedRecordings(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].UUID != uuid(1) || rows[0].CallID != c.ID || rows[0].Tenant != tenantA ||
		!rows[0].Start.Equal(start) || rows[0].State != recording.StateStopped {
		t.Fatalf("unplaced %+v, want only %s", rows, uuid(1))
	}
}
