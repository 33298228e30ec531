package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// SoakReport is what a soak found. OK: nothing lost, doubled or left open.
type SoakReport struct {
	Seed          int64          `json:"seed"`
	Concurrent    int            `json:"concurrent_calls"`
	Duration      string         `json:"duration"`
	Elapsed       float64        `json:"elapsed_s"`
	Folder        string         `json:"folder"`
	FaultsByKind  map[string]int `json:"faults_by_kind"`
	Faults        []*SoakFault   `json:"faults"`
	CallsPlaced   int            `json:"calls_placed"`
	CallsAnswered int            `json:"calls_answered"`
	CallsByKind   map[string]int `json:"calls_by_kind"`
	CallsFailed   int            `json:"calls_failed"`          // not set up, or the driver's side failed
	CallsDropped  int            `json:"calls_dropped"`         // ended by a PBX restart
	CallErrors    map[string]int `json:"call_errors,omitempty"` // the driver's failures, by message
	// RecordingsExpected: answered calls that had to be recorded; RecordingsFound: of
	// those, the ones with a finished recording row; PBXRecordings: recordings the PBX made.
	RecordingsExpected int `json:"recordings_expected"`
	RecordingsFound    int `json:"recordings_found"`
	PBXRecordings      int `json:"pbx_recordings"`
	Lost               int `json:"lost"`
	Doubled            int `json:"doubled"`
	LeftOpen           int `json:"left_open"`
	// Excused: calls not recorded because the recording had to start while callrecd was
	// down (or its link cut: listed in Problems); RefusedLowDisk: refused by the disk guard.
	Excused        int `json:"excused"`
	RefusedLowDisk int `json:"refused_low_disk"`
	// FailedByFault: failed rows of starts a fault cut off (the PBX unreachable
	// mid-request, or callrecd killed before the PBX began), each beside the
	// row of the start tried again.
	FailedByFault int `json:"failed_by_fault"`
	// AudioMissing / AudioExtra: seconds, by fault kind, of the calls around each fault.
	AudioMissing map[string]float64 `json:"audio_missing_s"`
	AudioExtra   map[string]float64 `json:"audio_extra_s"`
	// ReconcileP50/P99: seconds from each fault's end until the index agreed with the PBX.
	ReconcileP50       float64  `json:"reconcile_p50_s"`
	ReconcileP99       float64  `json:"reconcile_p99_s"`
	ReadyzLagMax       float64  `json:"readyz_lag_max_s"`
	SpoolStale         int      `json:"spool_files_older_than_1m"`
	APIProbes          int      `json:"api_probes"`
	APIErrors          int      `json:"api_errors"`      // while callrecd was meant to be up
	APIErrorsOff       int      `json:"api_errors_down"` // while it was killed on purpose
	APISamples         []string `json:"api_error_samples,omitempty"`
	ObserverReconnects int      `json:"observer_reconnects"`
	CallrecdErrors     int      `json:"callrecd_log_errors"`
	CallrecdErrorLines []string `json:"callrecd_log_error_kinds,omitempty"`
	Problems           []string `json:"problems"`
}

// OK reports whether nothing was lost, doubled or left open.
func (r *SoakReport) OK() bool { return r.Lost == 0 && r.Doubled == 0 && r.LeftOpen == 0 }

// finish waits for the index to settle, reconciles every call and the PBX's
// recordings, and builds the report.
func (s *soak) finish(ctx context.Context) *SoakReport {
	final := &SoakFault{Kind: "final", End: time.Now()}
	deadline := time.Now().Add(60 * time.Second)
	for ctx.Err() == nil {
		v, err := s.fetchIndex(ctx)
		if err == nil {
			if ok, why := s.agrees(v, time.Now()); ok {
				break
			} else if time.Now().After(deadline) {
				s.problem("final: the index still disagrees with the PBX after 60 s: %s", why)
				break
			}
		}
		_ = sleepCtx(ctx, 200*time.Millisecond)
	}
	s.logf("settled %.2f s after the last call", time.Since(final.End).Seconds())
	s.verifySettled(ctx, true)
	rep := &SoakReport{Seed: s.o.Seed, Concurrent: s.o.Calls, Duration: s.o.Duration.String(), Elapsed: time.Since(s.t0).Seconds(),
		Folder: s.o.Dir, FaultsByKind: map[string]int{}, CallsByKind: map[string]int{}, CallErrors: map[string]int{}, AudioMissing: map[string]float64{},
		AudioExtra: map[string]float64{}}
	// every recording the PBX made has exactly one row
	v, err := s.fetchIndex(ctx)
	if err != nil {
		s.problem("final read of the index: %v", err)
	} else {
		for name := range s.obs.snapshot() {
			if isDoctorProbe(name) {
				continue
			}
			rep.PBXRecordings++
			if _, ok := v.rows[name]; !ok {
				rep.Lost++
				s.problem("LOST: the PBX recorded %s but the index has no row for it", name)
			}
		}
		for _, cd := range v.cdrs {
			for _, r := range cd.Recordings {
				if r.live() {
					s.problem("final: recording %s of CDR %d still %s", r.UUID, cd.ID, r.State)
				}
			}
		}
	}
	rep.SpoolStale = s.staleSpool()
	for _, c := range s.callList() {
		rep.CallsPlaced++
		rep.CallsByKind[c.Kind]++
		if !c.Up.IsZero() {
			rep.CallsAnswered++
		}
		if c.Err != "" {
			rep.CallsFailed++
			rep.CallErrors[errKind(c.Err)]++
			if !c.Up.IsZero() {
				s.problem("call %d (%s): driver: %s", c.Seq, c.Kind, c.Err)
			}
		}
		if c.Dropped {
			rep.CallsDropped++
		}
		r := c.res
		if r.Need {
			rep.RecordingsExpected++
			if r.Rows > 0 && r.Lost == 0 && !(r.Refused && r.Audio == 0) {
				rep.RecordingsFound++
			}
		}
		rep.Lost += r.Lost
		rep.Doubled += r.Doubled
		rep.LeftOpen += r.Open
		if r.Excused != "" {
			rep.Excused++
		}
		if r.Refused {
			rep.RefusedLowDisk++
		}
		rep.FailedByFault += r.FailedByFault
	}
	var recon []float64
	for _, f := range s.faultList() {
		rep.Faults = append(rep.Faults, f)
		rep.FaultsByKind[f.Kind]++
		rep.AudioMissing[f.Kind] += f.AudioMissing
		rep.AudioExtra[f.Kind] += f.AudioExtra
		if f.Reconcile >= 0 {
			recon = append(recon, f.Reconcile)
		}
		if f.ReadyzLag != nil {
			rep.ReadyzLagMax = max(rep.ReadyzLagMax, *f.ReadyzLag)
		}
	}
	rep.ReconcileP50, rep.ReconcileP99 = quantile(recon, 0.5), quantile(recon, 0.99)
	rep.APIProbes, rep.APIErrors, rep.APIErrorsOff, rep.APISamples = s.probe.counts()
	s.obs.mu.Lock()
	rep.ObserverReconnects = s.obs.reconnects
	s.obs.mu.Unlock()
	rep.CallrecdErrors, rep.CallrecdErrorLines = logErrors(filepath.Join(s.o.Dir, "callrecd.log"))
	s.mu.Lock()
	rep.Problems = append([]string{}, s.problems...)
	s.mu.Unlock()
	return rep
}

// errKind is an error message without its numbers and ids (to count alike failures).
func errKind(msg string) string {
	var b strings.Builder
	digits := false
	for _, r := range msg {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'f' && digits {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// staleSpool counts the files of this run in the PBX's spool last written over a
// minute ago (files from before the run are other runs' and only noted).
func (s *soak) staleSpool() int {
	ents, err := os.ReadDir(s.spool)
	if err != nil {
		s.problem("reading the spool: %v", err)
		return 0
	}
	recs := s.obs.snapshot()
	n, foreign := 0, 0
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if _, ours := recs[strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))]; !ours && info.ModTime().Before(s.t0) {
			foreign++
			continue
		}
		if time.Since(info.ModTime()) > time.Minute {
			n++
			s.problem("spool file %s last written %s ago", e.Name(), time.Since(info.ModTime()).Round(time.Second))
		}
	}
	if foreign > 0 {
		s.logf("note: %d file(s) in the spool from before this run (not counted)", foreign)
	}
	return n
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	ys := slices.Clone(xs)
	sort.Float64s(ys)
	i := int(q*float64(len(ys)-1) + 0.5)
	return ys[min(i, len(ys)-1)]
}

// logErrors counts callrecd's level=ERROR lines and names their messages (most frequent first).
func logErrors(path string) (int, []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil
	}
	counts := map[string]int{}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "level=ERROR") {
			continue
		}
		n++
		msg := l
		if i := strings.Index(l, "msg="); i >= 0 {
			msg = l[i+4:]
			if strings.HasPrefix(msg, `"`) {
				if j := strings.Index(msg[1:], `"`); j >= 0 {
					msg = msg[1 : j+1]
				}
			} else if j := strings.IndexByte(msg, ' '); j >= 0 {
				msg = msg[:j]
			}
		}
		counts[msg]++
	}
	var kinds []string
	for m := range counts {
		kinds = append(kinds, m)
	}
	sort.Slice(kinds, func(i, j int) bool { return counts[kinds[i]] > counts[kinds[j]] })
	for i, m := range kinds {
		kinds[i] = fmt.Sprintf("%d× %s", counts[m], m)
	}
	return n, kinds
}

// Print writes the report for people.
func (r *SoakReport) Print(w io.Writer) {
	fmt.Fprintf(w, "\nsoak report (seed %d, %d concurrent calls, %s, %.0f s in all)\n", r.Seed, r.Concurrent, r.Duration, r.Elapsed)
	kinds := make([]string, 0, len(r.FaultsByKind))
	for k := range r.FaultsByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "  faults injected:        %d:", len(r.Faults))
	for _, k := range kinds {
		fmt.Fprintf(w, " %s %d", k, r.FaultsByKind[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  calls placed:           %d (answered %d, failed %d, dropped by PBX restarts %d)\n", r.CallsPlaced, r.CallsAnswered, r.CallsFailed, r.CallsDropped)
	for m, n := range r.CallErrors {
		fmt.Fprintf(w, "    call failures: %d× %s\n", n, m)
	}
	ck := make([]string, 0, len(r.CallsByKind))
	for k, n := range r.CallsByKind {
		ck = append(ck, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(ck)
	fmt.Fprintf(w, "  call mix:               %s\n", strings.Join(ck, ", "))
	fmt.Fprintf(w, "  recordings:             expected %d, found %d; the PBX made %d\n", r.RecordingsExpected, r.RecordingsFound, r.PBXRecordings)
	fmt.Fprintf(w, "  LOST %d   DOUBLED %d   LEFT OPEN %d\n", r.Lost, r.Doubled, r.LeftOpen)
	fmt.Fprintf(w, "  not recorded, excused:  %d; refused below storage.min_free: %d; failed starts a fault cut off: %d\n",
		r.Excused, r.RefusedLowDisk, r.FailedByFault)
	fmt.Fprintf(w, "  audio missing / extra:  ")
	for _, k := range kinds {
		fmt.Fprintf(w, "%s %.1f/%.1f s  ", k, r.AudioMissing[k], r.AudioExtra[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  reconcile after fault:  p50 %.2f s, p99 %.2f s; /readyz after PBX reachable: max %.2f s\n", r.ReconcileP50, r.ReconcileP99, r.ReadyzLagMax)
	fmt.Fprintf(w, "  API probes:             %d, %d failed while callrecd was up (%d while killed)\n", r.APIProbes, r.APIErrors, r.APIErrorsOff)
	fmt.Fprintf(w, "  spool files > 1 min:    %d\n", r.SpoolStale)
	fmt.Fprintf(w, "  callrecd ERROR lines:   %d %s\n", r.CallrecdErrors, strings.Join(r.CallrecdErrorLines, "; "))
	fmt.Fprintln(w, "  faults:")
	for _, f := range r.Faults {
		lag := ""
		if f.ReadyzLag != nil {
			lag = fmt.Sprintf(" readyz %.2fs", *f.ReadyzLag)
		}
		fmt.Fprintf(w, "    %s %-11s hold %5.2fs reconcile %5.2fs%s calls %d missing %.1fs extra %.1fs %s %s\n", f.Start.Format("15:04:05.0"),
			f.Kind, f.Hold, f.Reconcile, lag, f.CallsAffected, f.AudioMissing, f.AudioExtra, f.Detail, f.Err)
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(w, "  findings (%d):\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "    %s\n", p)
		}
	}
	verdict := "OK: nothing lost, doubled or left open"
	if !r.OK() {
		verdict = "FAILED: something was lost, doubled or left open"
	}
	fmt.Fprintln(w, "  "+verdict)
}

// WriteJSON writes the report as JSON into path.
func (r *SoakReport) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
