package lab

import (
	"slices"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// Audio a call misses is blamed on the fault its missing stretch begins in
// (else the one it overlaps most), not on the earliest fault the call
// overlapped (a SQLite lock early in a call does not get the seconds a later
// link cut took, nor a later lock those of a *3 lost while callrecd was down).
func TestMissingAudioIsBlamedOnTheFaultItFellIn(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	stamp := func(s float64) string { return at(s).Format(time.RFC3339Nano) }
	row := func(from, to float64) apiRecording {
		e := stamp(to)
		return apiRecording{UUID: "r", StartTime: stamp(from), EndTime: &e}
	}
	busy := &SoakFault{Kind: FaultSQLiteBusy, Start: at(5), End: at(6)}
	cut := &SoakFault{Kind: FaultWSCut, Start: at(20), End: at(24)}
	kill := &SoakFault{Kind: FaultKill, Start: at(-3), End: at(2)}
	faults := []*SoakFault{kill, busy, cut}
	call := &soakCall{RecStart: at(0), RecEnd: at(30), Paused: at(12), Resumed: at(18)}
	pausedRow := func(from, to, ps, pe float64) apiRecording {
		r := row(from, to)
		e := stamp(pe)
		r.PausedIntervals = append(r.PausedIntervals, struct {
			Start string  `json:"start"`
			End   *string `json:"end"`
		}{stamp(ps), &e})
		return r
	}

	cases := []struct {
		name string
		kept []apiRecording
		want *SoakFault
	}{
		{"a hole in the middle, in the cut", []apiRecording{row(0, 20), row(24, 30)}, cut},
		{"the start missing, callrecd down", []apiRecording{row(2.5, 30)}, kill},
		{"the end missing, during the cut", []apiRecording{row(0, 21)}, cut},
		{"nothing at all: the fault at the moment it had to start", nil, kill},
		{"a hole from a moment without fault: the longest overlap", []apiRecording{row(0, 18.5), row(25.5, 30)}, cut},
		{"paused past the asked pause (the *49 lost in the cut)", []apiRecording{pausedRow(0, 30, 12, 30)}, cut},
	}
	for _, c := range cases {
		if got := blame(faults, audioGaps(call, c.kept)); got != c.want {
			t.Errorf("%s: blamed %s, want %s", c.name, got.Kind, c.want.Kind)
		}
	}
	if got := blame([]*SoakFault{busy}, nil); got != busy {
		t.Errorf("no gap: blamed %s, want the only fault", got.Kind)
	}
}

// A transfer out excuses a late stop when a fault met any of it: from the
// transfer's start to the PBX dialling out (a DTMF transfer takes seconds).
func TestTransferMetAFault(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	cut := &SoakFault{Kind: FaultWSCut, Start: at(10), End: at(16)}
	cases := []struct {
		name              string
		transferred, dial float64
		met               bool
	}{
		{"started 3 s before the cut, dialled out in it", 7, 11, true},
		{"all before the cut", 2, 5, false},
		{"inside", 12, 13, true},
		{"after, within the slack", 17.5, 19, true},
		{"well after", 20, 22, false},
	}
	for _, c := range cases {
		call := &soakCall{Transferred: at(c.transferred), RecEnd: at(c.dial)}
		if got := transferMet(call, cut); got != c.met {
			t.Errorf("%s: met %v, want %v", c.name, got, c.met)
		}
	}
	if transferMet(&soakCall{}, cut) {
		t.Error("a call never transferred met the cut")
	}
}

func TestBeyondTheAskedPause(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	asked := span{at(10), at(20)}
	cases := []struct {
		name string
		g    span
		want float64 // seconds beyond
	}{
		{"as asked", span{at(10), at(20)}, 0},
		{"resumed late", span{at(10), at(25)}, 5},
		{"paused early and resumed late", span{at(8), at(25)}, 7},
		{"a pause nobody asked for", span{at(30), at(33)}, 3},
	}
	for _, c := range cases {
		var got time.Duration
		for _, s := range beyond(c.g, asked) {
			got += s.to.Sub(s.from)
		}
		if got.Seconds() != c.want {
			t.Errorf("%s: %.1f s beyond, want %.1f", c.name, got.Seconds(), c.want)
		}
	}
	if got := beyond(span{at(1), at(4)}, span{}); len(got) != 1 {
		t.Errorf("no asked pause: %v, want all of it", got)
	}
}

// The stop reasons a recording may end with.
func TestExpectedStop(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	fault := func(kind string) *SoakFault { return &SoakFault{Kind: kind, Start: at(10), End: at(16)} }
	e2e, hangup, lost := string(recording.StopExternalToExternal), string(recording.StopHangup), string(recording.StopPBXLost)
	cases := []struct {
		name   string
		call   *soakCall
		faults []*SoakFault
		want   []string
	}{
		{"plain call", &soakCall{Kind: KindInternal, RecEnd: at(30)}, nil, []string{hangup}},
		{"killed as it ended", &soakCall{Kind: KindInternal, RecEnd: at(16.5)}, []*SoakFault{fault(FaultKill)}, []string{hangup, lost, hangup}},
		{"transfer out, no fault", &soakCall{Kind: KindXferExternal, Transferred: at(20), RecEnd: at(22)}, nil, []string{e2e}},
		{"transfer out in a cut", &soakCall{Kind: KindXferExternal, Transferred: at(11), RecEnd: at(13)},
			[]*SoakFault{fault(FaultWSCut)}, []string{e2e, hangup, lost}},
		{"transfer out while the lock was held", &soakCall{Kind: KindXferExternal, Transferred: at(11), RecEnd: at(13)},
			[]*SoakFault{fault(FaultSQLiteBusy)}, []string{e2e}},
		{"transfer out long after a cut", &soakCall{Kind: KindXferExternal, Transferred: at(40), RecEnd: at(42)},
			[]*SoakFault{fault(FaultWSCut)}, []string{e2e}},
	}
	for _, c := range cases {
		if want := expectedStop(c.call, c.faults); !slices.Equal(want, c.want) {
			t.Errorf("%s: %v, want %v", c.name, want, c.want)
		}
	}
}

// The phones that must be heard throughout are judged, in a transfer out, on
// what came before the transfer began: soak 9's call 1052 was answered in a
// link cut, so its file began at the re-sync, and the dialling that followed
// the transfer was two thirds of it (1002 heard in 34 %).
func TestPartyWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 14, 45, 12, 138e6, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	const d = 8600 * time.Millisecond
	cases := []struct {
		name   string
		call   *soakCall
		window time.Duration
		ok     bool
	}{
		{"not a transfer out", &soakCall{Kind: KindInbound}, d, true},
		{"transfer in", &soakCall{Kind: KindXferInternal, Transferred: at(3)}, d, true},
		{"transfer out 3 s in", &soakCall{Kind: KindXferExternal, Transferred: at(3)}, 3 * time.Second, true},
		{"transfer out before the file began", &soakCall{Kind: KindXferExternal, Transferred: at(-1)}, -time.Second, false},
		{"transfer out 1.5 s in", &soakCall{Kind: KindXferExternal, Transferred: at(1.5)}, 1500 * time.Millisecond, false},
		{"transfer out planned, never made", &soakCall{Kind: KindXferExternal}, d, true},
	}
	for _, c := range cases {
		w, ok := partyWindow(c.call, t0, d)
		if w != c.window || ok != c.ok {
			t.Errorf("%s: %v %v, want %v %v", c.name, w, ok, c.window, c.ok)
		}
	}
}

// A failed row is a fault's doing only when its reason is the one that
// fault leaves (soak 9: snoop requests cut by the link, a start killed
// before the PBX began it).
func TestFaultFailed(t *testing.T) {
	cut, kill, busy := &SoakFault{Kind: FaultWSCut}, &SoakFault{Kind: FaultKill}, &SoakFault{Kind: FaultSQLiteBusy}
	unreachable := recording.FailureUnreachable + "snoop: ARI POST /channels/pbx-1.80/snoop: EOF"
	cases := []struct {
		why    string
		faults []*SoakFault
		want   bool
	}{
		{unreachable, []*SoakFault{cut}, true},
		{unreachable, []*SoakFault{{Kind: FaultPBXRestart}}, true},
		{unreachable, []*SoakFault{busy}, false},
		{unreachable, nil, false},
		{recording.FailureNeverStarted, []*SoakFault{busy, kill}, true},
		{recording.FailureNeverStarted, []*SoakFault{cut}, false},
		{"snoop: ARI POST /channels/pbx-1.80/snoop: 404 Not Found", []*SoakFault{cut, kill}, false},
	}
	for _, c := range cases {
		if got := faultFailed(c.why, c.faults); got != c.want {
			t.Errorf("%q with %d faults: %v, want %v", c.why, len(c.faults), got, c.want)
		}
	}
}

// A start that found the channel gone explains a failed row only on a call
// too short to need a recording (soaks 14 and 15: calls up 10–54 ms).
func TestHungUpFirst(t *testing.T) {
	gone := recording.FailureChannelGone + "snoop: ARI POST /channels/pbx-1.13/snoop: 404 Provided channel was not found"
	cases := []struct {
		why    string
		needed bool
		want   bool
	}{
		{gone, false, true},
		{gone, true, false},
		{"snoop: ARI POST /channels/pbx-1.13/snoop: 404 Provided channel was not found", false, false},
		{recording.FailureUnreachable + "snoop: EOF", false, false},
	}
	for _, c := range cases {
		if got := hungUpFirst(c.why, c.needed); got != c.want {
			t.Errorf("%q needed=%v: %v, want %v", c.why, c.needed, got, c.want)
		}
	}
}
