package lab

// Reconciliation: callrecd's index (its REST API) and files against what the PBX did
// (the observer) and what the driver placed (each call's moments).

import (
	"context"
	"fmt"
	"github.com/callrecd/callrecd/recording"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// indexView is one read of callrecd's index.
type indexView struct {
	cdrs    []apiCDR
	byConv  map[string][]int
	rows    map[string]apiRecording
	rowCall map[string]int64
}

func (s *soak) fetchIndex(ctx context.Context) (*indexView, error) {
	cdrs, err := s.api.cdrs(ctx, s.t0.Add(-time.Minute))
	if err != nil {
		return nil, err
	}
	v := &indexView{cdrs: cdrs, byConv: map[string][]int{}, rows: map[string]apiRecording{}, rowCall: map[string]int64{}}
	for i, c := range cdrs {
		if id := deref(c.ConversationID); id != "" {
			v.byConv[id] = append(v.byConv[id], i)
		}
		for _, r := range c.Recordings {
			v.rows[r.UUID] = r
			v.rowCall[r.UUID] = c.ID
		}
	}
	return v, nil
}

func isDoctorProbe(name string) bool { return strings.HasPrefix(name, "callrecd-doctor-") }

// agrees: every recording the PBX made before `by` has its row; those the PBX finished
// before `by` are closed, their files placed and out of the spool.
func (s *soak) agrees(v *indexView, by time.Time) (bool, string) {
	for name, r := range s.obs.snapshot() {
		if isDoctorProbe(name) || r.First.After(by) {
			continue
		}
		row, ok := v.rows[name]
		if !ok {
			return false, fmt.Sprintf("the PBX's recording %s has no row", name)
		}
		if r.Live > 0 || r.LastChange.After(by) {
			continue
		}
		if row.live() {
			return false, fmt.Sprintf("row %s still %s after the PBX finished it", name, row.State)
		}
		if row.SHA256 == nil && row.State != string(recording.StateFailed) {
			return false, fmt.Sprintf("row %s (%s) has no file yet", name, row.State)
		}
		if _, err := os.Stat(filepath.Join(s.spool, name+".wav")); err == nil {
			return false, fmt.Sprintf("%s.wav still in the spool", name)
		}
	}
	return true, ""
}

// callResult is what the reconciliation found for one call.
type callResult struct {
	Need          bool    // the call had to be recorded
	Rows          int     // recording rows found
	Lost          int     // recordings lost (no row, or a row without its file)
	Doubled       int     // rows beyond the one recording
	Open          int     // rows left live after the call ended
	Refused       bool    // refused by the disk guard (storage below min_free)
	FailedByFault int     // failed rows of starts a fault cut off (see faultFailed)
	Excused       string  // why no recording is acceptable
	Expected      float64 // seconds of audio expected
	Audio         float64 // seconds of audio found
}

// verifySettled reconciles the calls that ended at least 5 s ago (final: every call).
func (s *soak) verifySettled(ctx context.Context, final bool) {
	v, err := s.fetchIndex(ctx)
	if err != nil {
		s.problem("reading the index: %v", err)
		return
	}
	for _, c := range s.callList() {
		c.mu.Lock()
		ready := !c.verified && (final || (!c.Ended.IsZero() && time.Since(c.Ended) > 5*time.Second) ||
			(c.Up.IsZero() && c.Err != ""))
		c.mu.Unlock()
		if ready {
			s.verifyCall(c, v)
		}
	}
}

// overlapping lists the faults whose [Start, End] meets [from, to], earliest first.
func (s *soak) overlapping(from, to time.Time) []*SoakFault {
	var out []*SoakFault
	for _, f := range s.faultList() {
		end := f.End
		if end.IsZero() {
			end = time.Now()
		}
		if !f.Start.After(to) && !end.Before(from) {
			out = append(out, f)
		}
	}
	return out
}

func within(t time.Time, f *SoakFault, slack time.Duration) bool {
	return !t.Before(f.Start.Add(-slack)) && !t.After(f.End.Add(slack))
}

func (s *soak) verifyCall(c *soakCall, v *indexView) {
	c.mu.Lock()
	c.verified = true
	cc := soakCall{Seq: c.Seq, Kind: c.Kind, Number: c.Number, ConvID: c.ConvID, Up: c.Up, RecStart: c.RecStart, RecEnd: c.RecEnd,
		Paused: c.Paused, Resumed: c.Resumed, Transferred: c.Transferred, Ended: c.Ended, Dropped: c.Dropped, Err: c.Err,
		always: c.always, absent: c.absent, From: c.From, To: c.To, Target: c.Target, Method: c.Method}
	c.mu.Unlock()
	res := &c.res
	name := fmt.Sprintf("call %d (%s %s->%s", cc.Seq, cc.Kind, cc.From, cc.To)
	if cc.Target != "" {
		name += " ->" + cc.Target + " by " + cc.Method
	}
	name += ")"
	if cc.Up.IsZero() {
		return // never set up: nothing to record
	}
	var idx []int
	if cc.ConvID != "" {
		idx = v.byConv[cc.ConvID]
	} else if cc.Kind == KindOutbound {
		for i, cd := range v.cdrs {
			if strings.HasSuffix(cd.DestinationExtension, cc.Number) || strings.HasSuffix(cd.RequestedExtension, cc.Number) {
				idx = append(idx, i)
			}
		}
	}
	var rows []apiRecording
	for _, i := range idx {
		rows = append(rows, v.cdrs[i].Recordings...)
		if v.cdrs[i].End == nil {
			res.Open++
			s.problem("%s: CDR %d still open after the call ended", name, v.cdrs[i].ID)
		}
	}
	slices.SortFunc(rows, func(a, b apiRecording) int { return strings.Compare(a.StartTime, b.StartTime) })
	res.Rows = len(rows)
	res.Need = !cc.RecStart.IsZero() && cc.RecEnd.Sub(cc.RecStart) >= time.Second
	exp := 0.0
	if res.Need {
		exp = cc.RecEnd.Sub(cc.RecStart).Seconds()
		if !cc.Paused.IsZero() && !cc.Resumed.IsZero() {
			exp -= cc.Resumed.Sub(cc.Paused).Seconds()
		}
	}
	res.Expected = exp
	faults := s.overlapping(cc.RecStart.Add(-time.Second), cc.Ended.Add(time.Second))
	if cc.RecStart.IsZero() {
		faults = s.overlapping(cc.Up.Add(-time.Second), cc.Ended.Add(time.Second))
	}
	var kept []apiRecording
	for _, r := range rows {
		switch {
		case r.live():
			res.Open++
			s.problem("%s: recording %s left %s after the call ended", name, r.UUID, r.State)
		case r.State == string(recording.StateFailed):
			why := deref(r.FailureReason)
			switch {
			case strings.Contains(why, "free") || strings.Contains(why, "storage") || strings.Contains(why, "disk"):
				res.Refused = true
			case faultFailed(why, faults):
				res.FailedByFault++ // the retry's row is checked like any other
			case hungUpFirst(why, res.Need):
			case cc.Err == "": // (a call the driver gave up on may end before its snoop)
				s.problem("%s: recording %s failed: %s", name, r.UUID, why)
			}
			continue
		}
		kept = append(kept, r)
	}
	if len(kept) > 1 {
		res.Doubled += len(kept) - 1
		s.problem("%s: %d recording rows for one recording: %s", name, len(kept), rowList(kept))
	}
	if res.Need && len(kept) == 0 && !res.Refused {
		res.Excused = excuse(&cc, faults)
		if res.Excused == "" {
			res.Lost++
			s.problem("%s: LOST: no recording (rows %s; answered %s, recording due %s..%s)", name, rowList(rows),
				cc.Up.Format("15:04:05.0"), cc.RecStart.Format("15:04:05.0"), cc.RecEnd.Format("15:04:05.0"))
		} else if !strings.HasPrefix(res.Excused, "callrecd down") {
			s.problem("%s: not recorded: %s", name, res.Excused)
		}
	}
	// (Need also stays false for a *3 dialled less than a second before the
	// call ended, a PBX restart's drop: recorded or not, both are right.)
	if cc.RecStart.IsZero() && len(kept) > 0 && cc.Err == "" && cc.Kind == KindStar3 {
		s.problem("%s: recorded although nobody dialled *3: %s", name, rowList(kept))
	}
	for _, r := range kept {
		s.checkRow(name, &cc, r, faults, res)
	}
	// audio missing or extra around the faults
	if res.Need && cc.Err == "" {
		diff := res.Audio - exp
		if (diff < -1 || diff > 1) && !(res.Refused && len(kept) == 0 && diff < 0) {
			if len(faults) == 0 {
				s.problem("%s: %.1f s of audio %s with no fault around (expected %.1f s, found %.1f s)", name,
					abs(diff), map[bool]string{true: "missing", false: "extra"}[diff < 0], exp, res.Audio)
			}
		}
		if len(faults) > 0 {
			s.mu.Lock()
			if diff < -1 {
				f := blame(faults, audioGaps(&cc, kept))
				if res.Refused { // the disk guard refused it: the fill is the cause, however long the call
					if i := slices.IndexFunc(faults, func(f *SoakFault) bool { return f.Kind == FaultDiskFull }); i >= 0 {
						f = faults[i]
					}
				}
				f.AudioMissing += -diff
			} else if diff > 1 {
				faults[0].AudioExtra += diff
			}
			for _, f := range faults {
				f.CallsAffected++
			}
			s.mu.Unlock()
		}
	}
}

func abs(f float64) float64 { return max(f, -f) }

func rowList(rs []apiRecording) string {
	var b []string
	for _, r := range rs {
		b = append(b, fmt.Sprintf("%s %s/%s %s..%s", r.UUID[:8], r.State, deref(r.StopReason), r.StartTime, deref(r.EndTime)))
	}
	return "[" + strings.Join(b, "; ") + "]"
}

// excuse says why a call that had to be recorded may have no recording, or "".
func excuse(c *soakCall, faults []*SoakFault) string {
	for _, f := range faults {
		// the recording had to start while callrecd was down (or its link cut), and either
		// its trigger was an event callrecd could not see then (*3) or it was over by the time
		// callrecd was back
		startIn := within(c.RecStart, f, time.Second)
		overSoon := c.RecEnd.Before(f.End.Add(2 * time.Second))
		switch f.Kind {
		case FaultKill:
			if startIn && (c.Kind == KindStar3 || overSoon) {
				return "callrecd down when the recording had to start"
			}
		case FaultWSCut:
			if startIn && (c.Kind == KindStar3 || overSoon) {
				return "ARI link cut when the recording had to start (the trigger was lost with it)"
			}
		case FaultPBXRestart:
			if c.Dropped && c.RecEnd.Sub(c.RecStart) < 2*time.Second {
				return "answered just before the PBX restart dropped it"
			}
		}
	}
	return ""
}

// checkRow checks one finished row: its file, duration, parties and stop reason.
func (s *soak) checkRow(name string, c *soakCall, r apiRecording, faults []*SoakFault, res *callResult) {
	path := filepath.Join(s.storage, "tenants", DemoTenant, "monitor", r.Filename)
	w, err := ReadWAV(path)
	if err != nil {
		res.Lost++
		s.problem("%s: LOST: recording %s's file: %v", name, r.UUID, err)
		return
	}
	d := w.Duration().Seconds()
	res.Audio += d
	if diff := d - r.span().Seconds(); abs(diff) > 0.3 {
		s.problem("%s: recording %s: file %.2f s, row %.2f s (row %s..%s, %d pauses, %s; driver %s..%s)", name, r.UUID, d, r.span().Seconds(),
			r.StartTime[11:23], deref(r.EndTime)[min(11, len(deref(r.EndTime))):], len(r.PausedIntervals), deref(r.StopReason),
			c.RecStart.UTC().Format("15:04:05.000"), c.RecEnd.UTC().Format("15:04:05.000"))
	}
	if !w.Complete() {
		s.problem("%s: recording %s: WAV header does not match its data", name, r.UUID)
	}
	if _, err := os.Stat(filepath.Join(s.spool, r.UUID+".wav")); err == nil {
		s.problem("%s: recording %s is still in the spool", name, r.UUID)
	}
	if c.Err != "" {
		return
	}
	wantBy := recording.ByPolicy
	if c.Kind == KindStar3 {
		wantBy = recording.ByDTMF
	}
	if recording.StartedBy(r.StartedBy) != wantBy {
		s.problem("%s: recording %s started_by %s, want %s", name, r.UUID, r.StartedBy, wantBy)
	}
	want := expectedStop(c, faults)
	sr := deref(r.StopReason)
	if !slices.Contains(want, sr) {
		s.problem("%s: recording %s stop_reason %q, want %s", name, r.UUID, sr, strings.Join(want, " or "))
	}
	// parties: who must be heard throughout, who must not be heard at all
	if d < 2 {
		return
	}
	var freqs []int
	for _, p := range append(append([]string{}, c.always...), c.absent...) {
		freqs = append(freqs, toneOf(p))
	}
	rep := w.Tones(freqs...)
	judged, ok := partyWindow(c, parseAPITime(r.StartTime), w.Duration())
	before := rep
	if ok && judged < w.Duration() {
		before = DetectTones(w.Mono()[:int(judged.Seconds()*float64(w.SampleRate))], w.SampleRate, freqs, ToneOptions{})
	}
	for _, p := range c.always {
		if fr := before.Fraction(toneOf(p)); ok && fr < 0.5 {
			s.problem("%s: recording %s: %s (%d Hz) audible in %.0f%% of its first %.1f s; %s", name, r.UUID, p, toneOf(p), 100*fr,
				judged.Seconds(), before)
		}
	}
	for _, p := range c.absent {
		if sec := rep.Seconds(toneOf(p)); sec > 0.3 && len(faults) == 0 {
			s.problem("%s: recording %s: %s (%d Hz) audible %.1f s, want none; %s", name, r.UUID, p, toneOf(p), sec, rep)
		}
	}
}

// faultFailed: a failed row's reason is one a fault the call met explains:
// the PBX unreachable mid-request (a cut link or a PBX restart), or callrecd
// killed between asking for the recording and the PBX beginning it.
func faultFailed(why string, faults []*SoakFault) bool {
	for _, f := range faults {
		switch {
		case strings.HasPrefix(why, recording.FailureUnreachable) && (f.Kind == FaultWSCut || f.Kind == FaultPBXRestart):
			return true
		case why == recording.FailureNeverStarted && f.Kind == FaultKill:
			return true
		}
	}
	return false
}

// hungUpFirst: a failed row says the call hung up before its recording
// could start, and the call was too short to need one. On a call long
// enough to need a recording, the same reason is a problem to report.
func hungUpFirst(why string, needed bool) bool {
	return strings.HasPrefix(why, recording.FailureChannelGone) && !needed
}

// expectedStop lists the stop reasons a call's recording may end with: the
// call's own end, or pbx_lost where callrecd or the PBX was down then.
func expectedStop(c *soakCall, faults []*SoakFault) []string {
	hangup, lost := string(recording.StopHangup), string(recording.StopPBXLost)
	want := []string{hangup}
	if c.Kind == KindXferExternal {
		want = []string{string(recording.StopExternalToExternal)}
	}
	for _, f := range faults {
		switch {
		case (f.Kind == FaultKill || f.Kind == FaultPBXRestart) && within(c.RecEnd, f, time.Second):
			want = append(want, lost, hangup)
		case c.Kind == KindXferExternal && transferMet(c, f) && f.Kind != FaultSQLiteBusy:
			// callrecd blind (or the PBX gone) while only outsiders came to
			// remain: the recording runs on, to the re-sync or the hang-up
			want = append(want, hangup, lost)
		}
	}
	return want
}

// partyWindow is how much of a file (from its start) the parties who must
// be heard throughout are judged on: all of it, but for a transfer out only
// what came before the transfer began (the phone that transfers leaves; what
// follows is dialling, then outsiders until callrecd stops, late if a fault
// hid the moment). ok is false when too little of the file came before.
func partyWindow(c *soakCall, rowStart time.Time, d time.Duration) (time.Duration, bool) {
	if c.Kind != KindXferExternal || c.Transferred.IsZero() || rowStart.IsZero() {
		return d, true
	}
	before := c.Transferred.Sub(rowStart)
	return min(before, d), before >= 2*time.Second
}

// transferMet: the fault's time (2 s either side) met the transfer, from
// its start (the DTMF or REFER) to the moment only outsiders remained (the
// PBX dialling out, RecEnd).
func transferMet(c *soakCall, f *SoakFault) bool {
	if c.Transferred.IsZero() {
		return false
	}
	end := c.RecEnd
	if end.Before(c.Transferred) {
		end = c.Transferred
	}
	return !c.Transferred.After(f.End.Add(2*time.Second)) && !end.Before(f.Start.Add(-2*time.Second))
}

func toneOf(party string) int {
	t := DefaultTones()
	if f, ok := t[party]; ok {
		return f
	}
	return t[ToneExternal]
}
