package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// The fake index lists its open rows; seen overrides a row's Seen (by call
// id or recording uuid), else it is the row's start.
func (s *fakeStore) OpenCalls(context.Context) ([]OpenCall, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []OpenCall
	for _, c := range s.calls {
		if c.End.IsZero() {
			seen := c.Start
			if t, ok := s.seen[itoa(c.ID)]; ok {
				seen = t
			}
			out = append(out, OpenCall{Row: c, Seen: seen})
		}
	}
	return out, nil
}

func (s *fakeStore) OpenRecordings(context.Context) ([]OpenRecording, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []OpenRecording
	for _, r := range s.recs {
		if r.State.Active() {
			seen := r.Start
			if t, ok := s.seen[r.UUID]; ok {
				seen = t
			}
			out = append(out, OpenRecording{Row: r, Seen: seen, NoAudio: s.noAudio[r.UUID]})
		}
	}
	return out, nil
}

// A restart after some calls ended while callrecd was down: the first
// snapshot closes their rows (pbx_lost, at the best known time) and leaves
// the recording it adopts, and its call, alone.
func TestFirstSnapshotClosesRowsLeftOpen(t *testing.T) {
	h := newHarness(t)
	h.store.seen = map[string]time.Time{}
	h.user("1001", func(u *User) { outInt(u); online(u) })
	h.user("1002", nil)
	h.user("1003", nil)
	h.user("1004", nil)
	internalCall(h) // A↔B: goes on while callrecd is down
	keep := h.one().UUID
	h.send(RecordingStarted{Name: keep, Channel: "A"})
	h.send(dialTo(in("C", "L2", "1001"), "1003"), in("D", "L2", "1004"))
	h.connect("C", "D", "br2") // C↔D: ends while callrecd is down
	rs := h.recs()
	lost := rs[1].UUID
	h.send(RecordingStarted{Name: lost, Channel: "C"})
	h.digits("C", "*3") // paused when the old process died
	lostStart := rs[1].Start
	lastWrite := lostStart.Add(1500 * time.Millisecond) // the file's last write, as the spool knows it
	h.store.seen[lost] = lastWrite
	var lostCall int64
	for _, c := range h.store.callRows() {
		if c.PBXCallID == "L2" {
			lostCall = c.ID
		}
	}

	// Restart: only A↔B and its recording are still on the PBX.
	h.e = h.newEngine()
	h.wait(time.Minute)
	a, b := in("A", "L1", "1001"), in("B", "L1", "1002")
	a.Answered, b.Answered = true, true
	snapAt := h.clock.Now()
	h.send(Snapshot{At: snapAt, Channels: []SnapshotChannel{{ChannelCreated: a, Bridge: "br1"}, {ChannelCreated: b, Bridge: "br1"}},
		Recordings: []LiveRecording{{Name: keep, Channel: "A"}}})

	for _, r := range h.recs() {
		switch r.UUID {
		case keep:
			if r.State != recording.StateRecording || !r.End.IsZero() {
				t.Errorf("adopted recording touched: %+v", r)
			}
		case lost:
			wantStop(t, r, recording.StopPBXLost)
			if !r.End.Equal(lastWrite) {
				t.Errorf("lost recording end %v, want the last write %v", r.End, lastWrite)
			}
			if len(r.Paused) != 1 || !r.Paused[0].End.Equal(lastWrite) {
				t.Errorf("open pause not closed at the end: %+v", r.Paused)
			}
		default:
			t.Errorf("unexpected recording %+v", r)
		}
	}
	for _, c := range h.store.callRows() {
		switch {
		case c.ID == lostCall && !c.End.Equal(lastWrite):
			t.Errorf("lost call end %v, want %v (its recording's end)", c.End, lastWrite)
		case c.ID != lostCall && !c.End.IsZero():
			t.Errorf("the live call was closed: %+v", c)
		}
	}
	if got := starts(h); !slices.Contains(got, "A:"+keep) || len(h.pbx.ops("stop")) != 0 {
		t.Errorf("commands %v", h.pbx.ops(""))
	}

	// Only the first snapshot closes rows: a row open now (another writer,
	// a failed write) is left to the engine that holds it.
	h.store.mu.Lock()
	h.store.nextID++
	h.store.calls[h.store.nextID] = CallRow{ID: h.store.nextID, Tenant: "acme", PBXCallID: "L9", Start: snapAt}
	h.store.mu.Unlock()
	h.send(Snapshot{Channels: []SnapshotChannel{{ChannelCreated: a, Bridge: "br1"}, {ChannelCreated: b, Bridge: "br1"}},
		Recordings: []LiveRecording{{Name: keep, Channel: "A"}}})
	if c := h.store.calls[h.store.nextID]; !c.End.IsZero() {
		t.Errorf("a later snapshot closed a row: %+v", c)
	}
}

// A run killed between asking the PBX for a recording and the PBX beginning
// it leaves a row the PBX has no file for. The next run fails it (a stopped
// row promises a file: the soak found one, "lost") and, the call still
// going, records it under a new row.
func TestFirstSnapshotFailsARowThePBXNeverBegan(t *testing.T) {
	h := newHarness(t)
	h.user("1001", func(u *User) { outInt(u); online(u) })
	h.user("1002", nil)
	internalCall(h) // the start was asked; no RecordingStarted came
	never := h.one()
	h.store.noAudio = map[string]bool{never.UUID: true}

	h.e = h.newEngine()
	h.wait(time.Second)
	a, b := in("A", "L1", "1001"), in("B", "L1", "1002")
	a.Answered, b.Answered = true, true
	h.send(Snapshot{At: h.clock.Now(), Channels: []SnapshotChannel{{ChannelCreated: a, Bridge: "br1"}, {ChannelCreated: b, Bridge: "br1"}}})

	var retried RecordingRow
	for _, r := range h.recs() {
		switch {
		case r.UUID == never.UUID:
			if r.State != recording.StateFailed || r.FailureReason != recording.FailureNeverStarted || r.StopReason != "" || !r.End.Equal(never.Start) {
				t.Errorf("row the PBX never began: %+v, want failed (%q) ending at its start", r, recording.FailureNeverStarted)
			}
		case r.State == recording.StateRecording:
			retried = r
		default:
			t.Errorf("unexpected recording %+v", r)
		}
	}
	if retried.UUID == "" || !slices.Contains(starts(h), "A:"+retried.UUID) {
		t.Errorf("the call is not recorded again: rows %+v, commands %v", h.recs(), h.pbx.ops(""))
	}
}

// A run killed between two parts of a recording (it stopped the part on a
// leg gone deaf, a transfer's, and had not started the next) leaves the row
// recording, the call up and nothing live on the PBX. The next run takes the
// row back and starts its next part under the same name (appended to the
// file): soak 12's call 1190 was closed pbx_lost and its last 7 s were not
// recorded.
func TestFirstSnapshotTakesBackARecordingLeftBetweenTwoParts(t *testing.T) {
	h := newHarness(t)
	h.user("1001", func(u *User) { outInt(u); online(u) })
	h.user("1002", nil)
	internalCall(h)
	between := h.one()
	h.send(RecordingStarted{Name: between.UUID, Channel: "A"})

	h.e = h.newEngine()
	h.wait(time.Second)
	a, b := in("A", "L1", "1001"), in("B", "L1", "1002")
	a.Answered, b.Answered = true, true
	h.send(Snapshot{At: h.clock.Now(), Channels: []SnapshotChannel{{ChannelCreated: a, Bridge: "br1"}, {ChannelCreated: b, Bridge: "br1"}}})

	r := h.one()
	if r.UUID != between.UUID || r.State != recording.StateRecording || !r.End.IsZero() {
		t.Fatalf("row %+v, want %s still recording", r, between.UUID)
	}
	got := starts(h)
	if n := len(got); n < 2 || !strings.HasSuffix(got[n-1], ":"+between.UUID) {
		t.Fatalf("starts %v: want the next part of %s", got, between.UUID)
	}
	// The part it asked for starts: the recording goes on, one row.
	h.send(RecordingStarted{Name: between.UUID, Channel: strings.TrimSuffix(got[len(got)-1], ":"+between.UUID)})
	h.send(Hangup{Channel: "A"}, Hangup{Channel: "B"})
	r = h.one()
	wantStop(t, r, recording.StopHangup)

	// Where a start would write the file over (no StartsAppend), the row is
	// closed and the call recorded anew, as before.
	h = newHarness(t)
	h.noAppend = true
	h.user("1001", func(u *User) { outInt(u); online(u) })
	h.user("1002", nil)
	internalCall(h)
	h.send(RecordingStarted{Name: h.one().UUID, Channel: "A"})
	h.e = h.newEngine()
	h.wait(time.Second)
	h.send(Snapshot{At: h.clock.Now(), Channels: []SnapshotChannel{{ChannelCreated: a, Bridge: "br1"}, {ChannelCreated: b, Bridge: "br1"}}})
	if rs := h.recs(); len(rs) != 2 || rs[0].StopReason != recording.StopPBXLost || rs[1].State != recording.StateRecording {
		t.Fatalf("without StartsAppend: %+v, want the old row pbx_lost and a new one", rs)
	}
}

// Without a best known time the end is never after the snapshot, never
// before the row's start.
func TestClampTime(t *testing.T) {
	lo, hi := t0, t0.Add(time.Hour)
	for _, c := range []struct{ in, want time.Time }{
		{time.Time{}, hi}, {lo.Add(-time.Second), lo}, {hi.Add(time.Second), hi}, {lo.Add(time.Minute), lo.Add(time.Minute)},
	} {
		if got := clampTime(c.in, lo, hi); !got.Equal(c.want) {
			t.Errorf("clampTime(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
