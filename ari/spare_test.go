package ari

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	spareSnoop0 = snoopReq("c1", "rec-1", 0)
	recordOn0   = recordReq("rec-1", 0)
	snoop1      = snoopReq("c1", "rec-1", 1)
	recordOn1   = recordReq("rec-1", 1)
)

// waitRequests waits until the fake PBX saw the commands want (in order,
// re-sync and watchdog reads aside).
func waitRequests(t *testing.T, f *fakePBX, want ...string) {
	t.Helper()
	for i := 0; ; i++ {
		got := commands(f.requests())
		if slices.Equal(got, want) {
			return
		}
		if i > 300 {
			t.Fatalf("REST sequence:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A prepared recording starts with one request: the record on the spare
// snoop made while the call rang.
func TestAdapterSpareSnoopStartsWithOneRequest(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	a, h := startAdapter(t, f, nil)
	ctx := context.Background()
	if err := a.PrepareRecording(ctx, "c1", "rec-1"); err != nil {
		t.Fatal(err)
	}
	waitRequests(t, f, spareSnoop0)
	time.Sleep(50 * time.Millisecond) // the spare's StasisStart arrives
	a.StartRecording(ctx, "c1", "rec-1", "wav")
	h.waitFor(t, "rec-started rec-1 on c1", 3*time.Second)
	waitRequests(t, f, spareSnoop0, recordOn0)
	// a later part (re-arm) gets the next snoop id
	a.StopRecording(ctx, "rec-1")
	h.waitFor(t, "rec-finished rec-1 on c1", 3*time.Second)
	a.StartRecording(ctx, "c1", "rec-1", "wav")
	waitRequests(t, f, spareSnoop0, recordOn0, "POST /recordings/live/rec-1/stop", "DELETE /channels/callrecd-rec-1-0",
		snoop1, recordOn1)
	// releasing a used preparation does nothing
	a.ReleasePrepared(ctx, "rec-1")
	time.Sleep(50 * time.Millisecond)
	waitRequests(t, f, spareSnoop0, recordOn0, "POST /recordings/live/rec-1/stop", "DELETE /channels/callrecd-rec-1-0",
		snoop1, recordOn1)
}

func TestAdapterSpareReleasedIsDeleted(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	a, _ := startAdapter(t, f, nil)
	ctx := context.Background()
	a.PrepareRecording(ctx, "c1", "rec-1")
	waitRequests(t, f, spareSnoop0)
	a.ReleasePrepared(ctx, "rec-1")
	waitRequests(t, f, spareSnoop0, "DELETE /channels/callrecd-rec-1-0")
	// released at once: either never made, or made and deleted
	a.PrepareRecording(ctx, "c1", "rec-2")
	a.ReleasePrepared(ctx, "rec-2")
	time.Sleep(100 * time.Millisecond)
	got := commands(f.requests())[2:]
	if len(got) != 0 && !slices.Equal(got, []string{snoopReq("c1", "rec-2", 0), "DELETE /channels/callrecd-rec-2-0"}) {
		t.Fatalf("released at once: %q", got)
	}
	a.rec.mu.Lock()
	left := len(a.rec.spares) + len(a.rec.recs)
	a.rec.mu.Unlock()
	left += a.pbx.snoops.len()
	if left != 0 {
		t.Fatal("released preparations left state behind")
	}
}

// A new snoop is recorded as soon as its POST is answered, without waiting
// for its StasisStart (Asterisk has it in the application by then). When
// the snoop's thread lost that race (409: not in the application), the
// record is asked again once the StasisStart came; nothing fails.
func TestAdapterRecordsANewSnoopWithoutWaitingForItsStasisStart(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(map[bool]string{false: "in the application at once", true: "in the application late"}[late], func(t *testing.T) {
			f := newFakePBX(t)
			f.addChannel(phone("c1", "1001"))
			f.lateStasis = late
			f.stasisGate = make(chan struct{}) // the StasisStart is slow to come
			a, h := startAdapter(t, f, nil)
			ctx := context.Background()
			a.StartRecording(ctx, "c1", "rec-1", "wav")
			waitRequests(t, f, snoop1, recordOn1) // before the StasisStart
			close(f.stasisGate)
			h.waitFor(t, "rec-started rec-1 on c1", 3*time.Second)
			want := []string{snoop1, recordOn1}
			if late {
				want = []string{snoop1, recordOn1, recordOn1}
			}
			waitRequests(t, f, want...)
			f.mu.Lock()
			conflicts := f.conflict
			f.mu.Unlock()
			if late != (conflicts == 1) {
				t.Fatalf("409s served: %d", conflicts)
			}
			for _, l := range h.lines() {
				if strings.HasPrefix(l, "rec-failed") {
					t.Fatalf("the engine was told the recording failed: %s", l)
				}
			}
		})
	}
}

// Whatever happened to the spare, the recording starts the ordinary way.
func TestAdapterSpareFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakePBX)
		prep  string // channel prepared on
		want  []string
	}{
		{
			name: "the spare snoop was refused",
			setup: func(f *fakePBX) {
				f.snoopStatus = func(id string) int { return map[bool]int{true: 500}[strings.HasSuffix(id, "-0")] }
			},
			prep: "c1",
			want: []string{spareSnoop0, snoop1, recordOn1},
		},
		{
			name:  "the spare never entered the application",
			setup: func(f *fakePBX) { f.stasisHeld = func(id string) bool { return strings.HasSuffix(id, "-0") } },
			prep:  "c1",
			// the record tried at once is refused (not in the application)
			want: []string{spareSnoop0, recordOn0, "DELETE /channels/callrecd-rec-1-0", snoop1, recordOn1},
		},
		{
			name: "the spare is on another leg than the start",
			prep: "c2",
			want: []string{snoopReq("c2", "rec-1", 0), "DELETE /channels/callrecd-rec-1-0", snoop1, recordOn1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePBX(t)
			f.addChannel(phone("c1", "1001"))
			f.addChannel(phone("c2", "1002"))
			if tc.setup != nil {
				tc.setup(f)
			}
			a, h := startAdapter(t, f, func(c *Config) { c.SnoopWait = 200 * time.Millisecond })
			ctx := context.Background()
			a.PrepareRecording(ctx, tc.prep, "rec-1")
			a.StartRecording(ctx, "c1", "rec-1", "wav")
			h.waitFor(t, "rec-started rec-1 on c1", 3*time.Second)
			waitRequests(t, f, tc.want...)
			for _, l := range h.lines() {
				if strings.HasPrefix(l, "rec-failed") {
					t.Fatalf("the engine was told the recording failed: %s", l)
				}
			}
		})
	}
}

// A spare snoop left by an earlier run (no recording on it, nobody tracks
// it) is deleted at the re-sync; a snoop with a live recording is not.
func TestAdapterResyncDeletesLeftoverSpares(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	f.addChannel(Channel{ID: "callrecd-old-0", Name: "Snoop/c1-00000001", State: "Up"})
	f.addChannel(Channel{ID: "callrecd-live-0", Name: "Snoop/c1-00000002", State: "Up"})
	f.live["live"] = &LiveRecording{Name: "live", Format: "wav", State: "recording", TargetURI: "channel:callrecd-live-0"}
	startAdapter(t, f, nil)
	for i := 0; !slices.Contains(f.requests(), "DELETE /channels/callrecd-old-0"); i++ {
		if i > 300 {
			t.Fatalf("leftover spare not deleted: %q", f.requests())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if slices.Contains(f.requests(), "DELETE /channels/callrecd-live-0") {
		t.Fatal("deleted a snoop that records")
	}
}

// A preparation queued behind the start of its recording (the engine never
// does this: a preparation has a fresh name) is never made: the start goes
// the ordinary way at once.
func TestAdapterSparePreparedAfterStartIsNeverMade(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	a, h := startAdapter(t, f, nil)
	ctx := context.Background()
	a.StartRecording(ctx, "c1", "rec-1", "wav")
	a.PrepareRecording(ctx, "c1", "rec-1")
	h.waitFor(t, "rec-started rec-1 on c1", time.Second) // not after a spare's SnoopWait (2 s)
	time.Sleep(100 * time.Millisecond)
	waitRequests(t, f, snoop1, recordOn1)
}

// A part's snoop that records nothing (an earlier run ended between
// stopping that part and deleting its snoop) is deleted at the re-sync, and
// the recording's next part, which the engine may ask for when it takes the
// recording back, does not reuse its id.
func TestAdapterResyncDeletesALeftoverPartSnoopAndSkipsItsNumber(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	f.addChannel(Channel{ID: "callrecd-rec-7-2", Name: "Snoop/c1-00000007", State: "Up"})
	a, h := startAdapter(t, f, nil)
	h.waitFor(t, "snapshot", time.Second)
	for i := 0; !slices.Contains(f.requests(), "DELETE /channels/callrecd-rec-7-2"); i++ {
		if i > 300 {
			t.Fatalf("leftover part snoop not deleted: %q", f.requests())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.StartRecording(context.Background(), "c1", "rec-7", "wav"); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "rec-started rec-7 on c1", 3*time.Second)
	if !slices.Contains(f.requests(), snoopReq("c1", "rec-7", 3)) {
		t.Fatalf("next part not numbered 3: %q", f.requests())
	}
}
