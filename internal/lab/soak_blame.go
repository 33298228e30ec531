package lab

import (
	"slices"
	"time"
)

// span is a stretch of time.
type span struct{ from, to time.Time }

// audioGaps: the stretches of the call's recording window that no kept row
// covers (before the first, between two, after the last), and the paused
// stretches beyond the pause the driver asked for (a *49 lost with a cut
// link leaves the recording paused to the end).
func audioGaps(c *soakCall, kept []apiRecording) []span {
	at := c.RecStart
	var gaps []span
	for _, r := range kept { // sorted by start
		st, e := parseAPITime(r.StartTime), parseAPITime(deref(r.EndTime))
		if st.After(at) {
			gaps = append(gaps, span{at, st})
		}
		if e.After(at) {
			at = e
		}
		for _, p := range r.PausedIntervals {
			ps, pe := parseAPITime(p.Start), parseAPITime(deref(p.End))
			if pe.IsZero() {
				pe = e
			}
			gaps = append(gaps, beyond(span{ps, pe}, span{c.Paused, c.Resumed})...)
		}
	}
	if c.RecEnd.After(at) {
		gaps = append(gaps, span{at, c.RecEnd})
	}
	return gaps
}

// beyond is what of g lies outside asked (an empty asked: all of g).
func beyond(g, asked span) []span {
	if asked.from.IsZero() || !asked.to.After(asked.from) || !g.to.After(asked.from) || !asked.to.After(g.from) {
		if g.to.After(g.from) {
			return []span{g}
		}
		return nil
	}
	var out []span
	if asked.from.After(g.from) {
		out = append(out, span{g.from, asked.from})
	}
	if g.to.After(asked.to) {
		out = append(out, span{asked.to, g.to})
	}
	return out
}

// blame is the fault the missing stretches are most due to. A stretch that
// begins within a fault's time (1 s either side) is that fault's doing,
// however long it runs on: a *3 lost while callrecd was down leaves the rest
// of the call unrecorded, and a later fault the call meets did not cause it
// (soak 11 blamed a SQLite lock for two such calls). A stretch that begins
// in no fault goes to the faults it overlaps, by overlap. A call often meets
// several faults; with no stretch at all, its first one.
func blame(faults []*SoakFault, gaps []span) *SoakFault {
	score := make([]time.Duration, len(faults))
	for _, g := range gaps {
		if i := slices.IndexFunc(faults, func(f *SoakFault) bool { return overlap(span{g.from, g.from}, faultWindow(f)) >= 0 }); i >= 0 {
			score[i] += g.to.Sub(g.from)
			continue
		}
		for i, f := range faults {
			score[i] += max(overlap(g, faultWindow(f)), 0)
		}
	}
	best := 0
	for i := range faults {
		if score[i] > score[best] {
			best = i
		}
	}
	return faults[best]
}

// faultWindow is a fault's time, 1 s either side (a fault still going ends now).
func faultWindow(f *SoakFault) span {
	end := f.End
	if end.IsZero() {
		end = time.Now()
	}
	return span{f.Start.Add(-time.Second), end.Add(time.Second)}
}

// overlap is how long a and b share; negative when they are apart, zero
// when they touch or one is an instant within the other.
func overlap(a, b span) time.Duration {
	return earlier(a.to, b.to).Sub(later(a.from, b.from))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
