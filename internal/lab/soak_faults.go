package lab

// The soak's chaos loop: at random moments (seeded) one fault at a time, then the time
// until callrecd's index agrees with the PBX again, then the calls settled since the
// last fault are reconciled.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // the sqlite_busy fault opens callrecd's index
)

// SoakFault is one injected fault.
type SoakFault struct {
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	// End: the fault is over (callrecd restarted and ready, link restored, PBX answering,
	// disk freed, transaction rolled back).
	End  time.Time `json:"end"`
	Hold float64   `json:"hold_s"` // the fault's own length as drawn (s)
	// ReadyzLag: from the PBX reachable again to callrecd's /readyz 200 (ws_cut,
	// pbx_restart), seconds; -1 when it did not come back within 30 s.
	ReadyzLag *float64 `json:"readyz_lag_s,omitempty"`
	// Reconcile: from End until the index agreed with the PBX about every recording the
	// PBX had made by End (seconds); -1 if not within 60 s.
	Reconcile     float64 `json:"reconcile_s"`
	Disagreement  string  `json:"disagreement,omitempty"` // what still disagreed, if it never agreed
	AudioMissing  float64 `json:"audio_missing_s"`        // of the calls this fault overlapped
	AudioExtra    float64 `json:"audio_extra_s"`
	CallsAffected int     `json:"calls_affected"`
	Detail        string  `json:"detail,omitempty"`
	Err           string  `json:"error,omitempty"`
}

func (s *soak) chaos(ctx context.Context, rng *rand.Rand) {
	kinds := s.o.Faults
	order := append([]string(nil), kinds...)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for i := 0; ctx.Err() == nil; i++ {
		firstRound := i < len(order)
		if !firstRound && (len(kinds) == 0 || time.Now().After(s.placeUntil)) {
			break
		}
		gap := time.Duration(float64(s.o.FaultGap) * (0.5 + rng.Float64()))
		if i == 0 {
			gap = max(gap, s.o.FaultGap) // let the first calls come up
		}
		if sleepCtx(ctx, gap) != nil {
			return
		}
		if !firstRound && time.Now().After(s.placeUntil) {
			break
		}
		kind := ""
		if firstRound {
			kind = order[i]
		} else {
			kind = kinds[rng.IntN(len(kinds))]
		}
		f := &SoakFault{Kind: kind}
		s.mu.Lock()
		s.faults = append(s.faults, f)
		s.mu.Unlock()
		if err := s.inject(ctx, f, rng); err != nil {
			f.Err = err.Error()
			s.problem("fault %s: %v", kind, err)
		}
		s.afterFault(ctx, f)
	}
	// the calls still running when placing stopped: let them end, reconciling as they do
	for ctx.Err() == nil && time.Now().Before(s.placeUntil.Add(s.o.TalkMax+30*time.Second)) {
		if s.inFlight() == 0 {
			return
		}
		if sleepCtx(ctx, 2*time.Second) != nil {
			return
		}
		s.verifySettled(ctx, false)
	}
}

func (s *soak) inFlight() int {
	n := 0
	for _, c := range s.callList() {
		c.mu.Lock()
		if c.Ended.IsZero() && c.Err == "" {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

func (s *soak) inject(ctx context.Context, f *SoakFault, rng *rand.Rand) error {
	f.Start = time.Now()
	defer func() {
		if f.End.IsZero() {
			f.End = time.Now()
		}
	}()
	switch f.Kind {
	case FaultKill:
		hold := between(rng, 100*time.Millisecond, 5*time.Second)
		f.Hold = hold.Seconds()
		cr := s.callrecd()
		s.mu.Lock()
		s.crDown = true
		s.mu.Unlock()
		cr.Kill()
		_ = sleepCtx(ctx, hold)
		next, err := StartCallrecd(ctx, cr.Config())
		f.End = time.Now()
		s.mu.Lock()
		if err == nil {
			s.cr = next
			s.crDown = false
		}
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("restarting callrecd: %w", err)
		}
		f.Detail = fmt.Sprintf("pid %d killed, pid %d ready %.2f s later", cr.Pid, next.Pid, f.End.Sub(f.Start).Seconds())
	case FaultWSCut:
		hold := between(rng, 500*time.Millisecond, 10*time.Second)
		f.Hold = hold.Seconds()
		s.proxy.Cut()
		_ = sleepCtx(ctx, hold)
		s.proxy.Restore()
		f.End = time.Now()
		s.readyzLag(ctx, f, f.End)
	case FaultPBXRestart:
		cmdCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cmdCtx, s.o.LabScript, "restart-pbx")
		out, err := cmd.CombinedOutput()
		f.End = time.Now()
		// the calls that were up are gone with the PBX's channels
		for _, c := range s.callList() {
			c.mu.Lock()
			live := !c.Placed.IsZero() && c.Placed.Before(f.Start) && c.Ended.IsZero()
			c.mu.Unlock()
			if live {
				c.markDropped(f.Start)
			}
		}
		if err != nil {
			return fmt.Errorf("%s restart-pbx: %w: %s", s.o.LabScript, err, strings.TrimSpace(string(out)))
		}
		f.Hold = f.End.Sub(f.Start).Seconds()
		s.readyzLag(ctx, f, f.End)
	case FaultDiskFull:
		hold := between(rng, 2*time.Second, 8*time.Second)
		f.Hold = hold.Seconds()
		var st syscall.Statfs_t
		if err := syscall.Statfs(s.storage, &st); err != nil {
			return err
		}
		free := int64(st.Bavail) * int64(st.Bsize)
		size := free - s.o.MinFreeMiB<<20/2
		if size <= 0 {
			return fmt.Errorf("storage already below the floor (%d bytes free)", free)
		}
		path := filepath.Join(s.storage, "soak-filler")
		fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		err = syscall.Fallocate(int(fh.Fd()), 0, 0, size)
		fh.Close()
		if err == nil {
			f.Detail = fmt.Sprintf("filler %d MiB, %d MiB left (floor %d MiB)", size>>20, (free-size)>>20, s.o.MinFreeMiB)
			_ = sleepCtx(ctx, hold)
		}
		if rerr := os.Remove(path); rerr != nil && err == nil {
			err = rerr
		}
		f.End = time.Now()
		return err
	case FaultSQLiteBusy:
		hold := between(rng, time.Second, 3*time.Second)
		f.Hold = hold.Seconds()
		return holdWriteLock(ctx, s.callrecd().DBPath, hold)
	default:
		return fmt.Errorf("unknown fault %q", f.Kind)
	}
	return nil
}

// holdWriteLock opens the index and holds a write transaction (BEGIN IMMEDIATE) for hold.
func holdWriteLock(ctx context.Context, path string, hold time.Duration) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("BEGIN IMMEDIATE: %w", err)
	}
	_ = sleepCtx(ctx, hold)
	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	return err
}

// readyzLag measures from reachable (the PBX answers again) to /readyz 200.
func (s *soak) readyzLag(ctx context.Context, f *SoakFault, reachable time.Time) {
	at, ok := s.api.waitReady(ctx, 30*time.Second)
	lag := -1.0
	if ok {
		lag = at.Sub(reachable).Seconds()
	}
	f.ReadyzLag = &lag
	if !ok || lag > 1 {
		s.problem("fault %s: /readyz back %.2f s after the PBX was reachable (want within 1 s)", f.Kind, lag)
	}
}

// afterFault waits until the index agrees with the PBX about every recording the PBX
// made before the fault ended, then reconciles the calls settled since.
func (s *soak) afterFault(ctx context.Context, f *SoakFault) {
	deadline := time.Now().Add(60 * time.Second)
	why := ""
	for ctx.Err() == nil {
		v, err := s.fetchIndex(ctx)
		if err == nil {
			var ok bool
			if ok, why = s.agrees(v, f.End); ok {
				f.Reconcile = time.Since(f.End).Seconds()
				break
			}
		} else {
			why = err.Error()
		}
		if time.Now().After(deadline) {
			f.Reconcile, f.Disagreement = -1, why
			s.problem("fault %s: index still disagrees with the PBX 60 s after the fault: %s", f.Kind, why)
			break
		}
		_ = sleepCtx(ctx, 100*time.Millisecond)
	}
	lag := ""
	if f.ReadyzLag != nil {
		lag = fmt.Sprintf(", /readyz %.2f s after reachable", *f.ReadyzLag)
	}
	s.logf("fault %-11s hold %.2f s%s; reconciled %.2f s after; %s %s", f.Kind, f.Hold, lag, f.Reconcile, f.Detail, f.Err)
	s.verifySettled(ctx, false)
}
