package engine

import (
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// The ARI link is cut (same engine, no restart) and the call ends while it
// is down: the reconnect's snapshot closes the call and its recording at the
// best known time (the spool file's last write), not at the snapshot.
// (The soak found rows of such calls up to a cut's length longer than
// their files: internal/lab soak, fault ws_cut.) Without a sign beyond the
// row itself (a PBX whose files callrecd cannot see), the snapshot's time.
func TestSnapshotDatesACallThatVanishedWhileCut(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lastWrite time.Duration // after the recording's start; 0: no file to tell
	}{{"spool_file_last_write", 1500 * time.Millisecond}, {"no_sign", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.store.seen = map[string]time.Time{}
			h.user("1001", func(u *User) { outInt(u) })
			h.user("1002", nil)
			internalCall(h)
			r := h.one()
			h.send(RecordingStarted{Name: r.UUID, Channel: "A"})
			lastWrite := r.Start.Add(tc.lastWrite)
			if tc.lastWrite > 0 {
				h.store.seen[r.UUID] = lastWrite
			}
			h.wait(5 * time.Second) // the link is down, the call ends meanwhile
			snapAt := h.clock.Now()
			h.send(Snapshot{At: snapAt}) // nothing left on the PBX
			want := snapAt
			if tc.lastWrite > 0 {
				want = lastWrite
			}
			got := h.one()
			wantStop(t, got, recording.StopHangup)
			if !got.End.Equal(want) {
				t.Errorf("recording end %v, want %v (snapshot at %v)", got.End, want, snapAt)
			}
			for _, c := range h.store.callRows() {
				if !c.End.Equal(want) {
					t.Errorf("call end %v, want %v", c.End, want)
				}
			}
		})
	}
}
