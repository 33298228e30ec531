package main

// The analysis of the PBX's own events (lags, from Asterisk's timestamps)
// and the report: what a run measured, apart from how it was driven.

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/store"
)

type chanInfo struct {
	id, name, linkedID string
	created, up        time.Time
	hangup             time.Time // first ChannelHangupRequest or ChannelDestroyed
	dialed             time.Time // first Dial naming it as the peer
}

type recInfo struct {
	name, snoop     string
	started         time.Time
	finishes        []time.Time
	failed          bool
	spied, linkedID string
}

type transferInfo struct {
	at         time.Time
	transferer string
}

type analysis struct {
	startLags []float64 // ms
	stopLags  []float64 // transfer → RecordingFinished
	reactLags []float64 // external-only decidable → RecordingFinished
	delivery  []float64 // Asterisk timestamp → the observer received the event
	calls     int       // answered calls seen
	unrec     int       // answered calls without a RecordingStarted
	recs      int
	failed    int
	events    int
	noStop    int // transfers without a RecordingFinished after them
}

func asteriskTime(s string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func analyze(evs []lab.Event) analysis {
	chans := map[string]*chanInfo{}
	recs := map[string]*recInfo{}
	snoopOf := map[string]string{} // snoop channel id → spied channel id
	var transfers []transferInfo
	var delivery []float64
	ch := func(c *lab.Channel) *chanInfo {
		ci := chans[c.ID]
		if ci == nil {
			ci = &chanInfo{id: c.ID, name: c.Name}
			chans[c.ID] = ci
		}
		if l := c.ChannelVars["CHANNEL(linkedid)"]; l != "" {
			ci.linkedID = l
		}
		return ci
	}
	for _, e := range evs {
		at := asteriskTime(e.Timestamp)
		if !at.IsZero() && !e.Received.IsZero() {
			// Asterisk stamps to the millisecond (truncated): half a ms back
			delivery = append(delivery, ms(e.Received.Sub(at))-0.5)
		}
		var ci *chanInfo
		if e.Channel != nil && e.Channel.ID != "" {
			ci = ch(e.Channel)
		}
		switch e.Type {
		case "ChannelCreated":
			if ci != nil {
				ci.created = at
				if rest, ok := strings.CutPrefix(e.Channel.Name, "Snoop/"); ok {
					if j := strings.LastIndexByte(rest, '-'); j > 0 {
						snoopOf[e.Channel.ID] = rest[:j]
					}
				}
			}
		case "ChannelStateChange":
			if ci != nil && e.Channel.State == "Up" && ci.up.IsZero() {
				ci.up = at
			}
		case "ChannelHangupRequest", "ChannelDestroyed":
			if ci != nil && ci.hangup.IsZero() {
				ci.hangup = at
			}
		case "Dial":
			if e.Peer != nil {
				p := ch(e.Peer)
				if p.dialed.IsZero() {
					p.dialed = at
				}
				if p.linkedID == "" && ci != nil {
					p.linkedID = ci.linkedID
				}
			}
		case "BridgeBlindTransfer":
			if ci != nil {
				transfers = append(transfers, transferInfo{at: at, transferer: ci.id})
			}
		case "BridgeAttendedTransfer":
			var raw struct {
				First *lab.Channel `json:"transferer_first_leg"`
			}
			if json.Unmarshal(e.Raw, &raw) == nil && raw.First != nil {
				transfers = append(transfers, transferInfo{at: at, transferer: ch(raw.First).id})
			}
		case "RecordingStarted", "RecordingFinished", "RecordingFailed":
			if e.Recording == nil {
				continue
			}
			r := recs[e.Recording.Name]
			if r == nil {
				r = &recInfo{name: e.Recording.Name}
				recs[r.name] = r
			}
			switch e.Type {
			case "RecordingStarted":
				if r.started.IsZero() {
					r.started = at
					r.snoop = strings.TrimPrefix(e.Recording.TargetURI, "channel:")
				}
			case "RecordingFinished":
				r.finishes = append(r.finishes, at)
			default:
				r.failed = true
				r.finishes = append(r.finishes, at)
			}
		}
	}
	var an analysis
	an.events = len(evs)
	an.delivery = delivery
	// calls: linked id → answer (first callee PJSIP leg Up) and first recording start
	answer := map[string]time.Time{}
	for _, c := range chans {
		if c.linkedID == "" || c.id == c.linkedID || !strings.HasPrefix(c.name, "PJSIP/") || c.up.IsZero() {
			continue
		}
		if a, ok := answer[c.linkedID]; !ok || c.up.Before(a) {
			answer[c.linkedID] = c.up
		}
	}
	firstRec := map[string]*recInfo{}
	for _, r := range recs {
		an.recs++
		if r.failed {
			an.failed++
		}
		r.spied = snoopOf[r.snoop]
		if sp := chans[r.spied]; sp != nil {
			r.linkedID = sp.linkedID
		}
		if r.linkedID == "" || r.started.IsZero() {
			continue
		}
		if f := firstRec[r.linkedID]; f == nil || r.started.Before(f.started) {
			firstRec[r.linkedID] = r
		}
	}
	for l, a := range answer {
		an.calls++
		r := firstRec[l]
		if r == nil {
			an.unrec++
			continue
		}
		an.startLags = append(an.startLags, ms(r.started.Sub(a)))
	}
	for _, t := range transfers {
		tc := chans[t.transferer]
		if tc == nil || tc.linkedID == "" {
			continue
		}
		r := firstRec[tc.linkedID]
		if r == nil {
			continue
		}
		var fin time.Time
		for _, f := range r.finishes {
			if !f.Before(t.at.Add(-time.Second)) {
				fin = f
				break
			}
		}
		if fin.IsZero() {
			an.noStop++
			continue
		}
		an.stopLags = append(an.stopLags, ms(fin.Sub(t.at)))
		// when Asterisk's events make the call external-only: the transferer is gone and
		// the external leg has been dialled
		decided := tc.hangup
		for _, c := range chans {
			if c.linkedID != tc.linkedID || c.id == c.linkedID || !strings.HasPrefix(c.name, "PJSIP/carrier-") {
				continue
			}
			d := c.dialed
			if d.IsZero() {
				d = c.created
			}
			if d.Before(t.at.Add(-time.Second)) {
				continue
			}
			if d.After(decided) {
				decided = d
			}
		}
		if !decided.IsZero() {
			an.reactLags = append(an.reactLags, ms(fin.Sub(decided)))
		}
	}
	return an
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

func report(w io.Writer, o options, an analysis, rows []store.Recording, before, after cpuSample,
	samples []cpuSample, results []callResult, callsSpan time.Duration) {
	ring := ""
	if o.ring > 0 {
		ring = fmt.Sprintf(", ringing %s before the answer", o.ring)
	}
	who := "callrecd"
	if o.bare {
		who = "BARE CLIENT (not callrecd)"
	}
	fmt.Fprintf(w, "\n%s lab bench: %d concurrent recorded calls (%d transferred to an external number by %s), %s each, placed over %s%s; %d PBX events observed\n\n",
		who, o.n, o.transfers, map[string]string{"dtmf": "DTMF #1", "refer": "SIP REFER"}[o.transferMethod], o.hold, o.ramp, ring, an.events)
	lagTable(w, o, an)
	fmt.Fprintln(w)

	// CPU: whole run, and the quiet window while every call is up
	recorded := 0
	for _, r := range rows {
		if r.State != "failed" {
			recorded++
		}
	}
	if recorded == 0 {
		recorded = an.recs
	}
	wall := after.at.Sub(before.at)
	crCPU, pbxCPU := after.callrecd-before.callrecd, after.pbx-before.pbx
	// the quiet window: from the last answer until the first transfer or hang-up
	var lastAnswer, firstAction time.Time
	for _, r := range results {
		if r.answeredAt.IsZero() {
			continue
		}
		if r.answeredAt.After(lastAnswer) {
			lastAnswer = r.answeredAt
		}
		next := r.answeredAt.Add(o.hold)
		if !r.transferAt.IsZero() {
			next = r.transferAt
		}
		if firstAction.IsZero() || next.Before(firstAction) {
			firstAction = next
		}
	}
	qa, qb := window(samples, lastAnswer.Add(500*time.Millisecond), firstAction.Add(-500*time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "CPU (utime+stime)\twhole run (%.1f s)\tper recorded call\tquiet, all %d up (%.1f s): %% of a core per call\t\n", wall.Seconds(), o.n, qb.at.Sub(qa.at).Seconds())
	q := func(a, b time.Duration) string {
		d := qb.at.Sub(qa.at)
		if d < time.Second {
			return "n/a"
		}
		return fmt.Sprintf("%.3f %%", 100*float64(b-a)/float64(d)/float64(o.n))
	}
	if !o.bare {
		fmt.Fprintf(tw, "callrecd\t%.2f s\t%.1f ms\t%s\t\n", crCPU.Seconds(), ms(crCPU)/float64(recorded), q(qa.callrecd, qb.callrecd))
	}
	fmt.Fprintf(tw, "Asterisk PBX\t%.2f s\t%.1f ms\t%s (bare client: 0.42 %%)\t\n", pbxCPU.Seconds(), ms(pbxCPU)/float64(recorded), q(qa.pbx, qb.pbx))
	fmt.Fprintf(tw, "(peer Asterisk, the phones)\t%.2f s\t\t%s\t\n", (after.peer - before.peer).Seconds(), q(qa.peer, qb.peer))
	self := "(this driver + observer)"
	if o.bare {
		self = "(this driver + observer + bare client)"
	}
	fmt.Fprintf(tw, "%s\t%.2f s\t\t\t\n", self, (after.self - before.self).Seconds())
	tw.Flush()
	if o.bare {
		fmt.Fprintf(w, "\nbare client: PBX: %d recordings (%d failed), %d answered calls (%d unrecorded)\n", an.recs, an.failed, an.calls, an.unrec)
		fmt.Fprintf(w, "calls placed and answered over %.1f s; run %.1f s\n", callsSpan.Seconds(), wall.Seconds())
		return
	}
	share := 100 * float64(crCPU) / float64(pbxCPU)
	verdict := "ok"
	if share > o.cpuGoal {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "callrecd / Asterisk CPU per recorded call: %.1f %% (goal ≤ %.0f %%: %s)\n\n", share, o.cpuGoal, verdict)

	states := map[string]int{}
	reasons := map[string]int{}
	for _, r := range rows {
		states[r.State]++
		if r.StopReason != "" {
			reasons[r.StopReason]++
		}
	}
	fmt.Fprintf(w, "index: %d recordings %v, stop reasons %v; PBX: %d recordings (%d failed), %d answered calls (%d unrecorded), %d transfers without a stop\n",
		len(rows), states, reasons, an.recs, an.failed, an.calls, an.unrec, an.noStop)
	fmt.Fprintf(w, "calls placed and answered over %.1f s; run %.1f s\n", callsSpan.Seconds(), wall.Seconds())
}

// window returns the samples closest to [from, to] inside it.
func window(samples []cpuSample, from, to time.Time) (cpuSample, cpuSample) {
	var a, b cpuSample
	for _, s := range samples {
		if !s.at.Before(from) && a.at.IsZero() {
			a = s
		}
		if !s.at.After(to) {
			b = s
		}
	}
	if a.at.IsZero() || b.at.Before(a.at) {
		return cpuSample{}, cpuSample{}
	}
	return a, b
}

// lagTable prints the lags against their goals, and the PBX's own event delivery.
func lagTable(w io.Writer, o options, an analysis) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "lag (Asterisk event timestamps, ms)\tn\tp50\tp99\tmax\tgoal\t")
	line := func(name string, xs []float64, goal float64) {
		verdict := "ok"
		if len(xs) == 0 || pct(xs, 99) > goal {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.0f\tp99 ≤ %.0f %s\t\n", name, len(xs), pct(xs, 50), pct(xs, 99), pct(xs, 100), goal, verdict)
	}
	// No fixed reference figures: compare in one sitting (-compare).
	line("answer → RecordingStarted", an.startLags, o.startGoal)
	line("transfer → RecordingFinished", an.stopLags, o.stopGoal)
	line("  external-only → RecordingFinished", an.reactLags, o.stopGoal)
	// The PBX's own part of every lag above: how late its events reach a
	// client that does nothing else (the observer).
	fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%s\t\n", "(PBX → observer event delivery)", len(an.delivery),
		pct(an.delivery, 50), pct(an.delivery, 99), pct(an.delivery, 100), "")
	tw.Flush()
}
