package lab

// The fault soak (`make soak`, integration/soak_test.go): N concurrent recorded calls
// on the lab for a while, calls ending and new ones starting all along, while a chaos
// loop kills callrecd, cuts its ARI link, restarts the PBX, fills its storage and holds
// its database busy; after each fault and at the end the PBX's view (what the driver
// placed, the recordings the PBX made) is reconciled with callrecd's index and files.
//
//	soak.go            options, the run (set-up, loops, tear-down)
//	soak_calls.go      the call mix (the driver's side of each call)
//	soak_faults.go     the chaos loop and each fault
//	soak_observe.go    the PBX observer, the API client and prober
//	soak_reconcile.go  index vs PBX: per call and per PBX recording
//	soak_report.go     the report (text and JSON)

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fault kinds of the soak.
const (
	FaultKill       = "kill"        // SIGKILL callrecd, restart it after 0.1-5 s
	FaultWSCut      = "ws_cut"      // cut callrecd's ARI link (proxy) for 0.5-10 s
	FaultPBXRestart = "pbx_restart" // restart the PBX Asterisk (its calls drop)
	FaultDiskFull   = "disk_full"   // fill the storage below storage.min_free for 2-8 s
	FaultSQLiteBusy = "sqlite_busy" // hold a write transaction on the index for 1-3 s
)

// SoakFaultKinds lists every fault kind, in the order the soak was built.
func SoakFaultKinds() []string {
	return []string{FaultKill, FaultWSCut, FaultSQLiteBusy, FaultDiskFull, FaultPBXRestart}
}

// SoakOptions configures RunSoak; zero values take the defaults.
type SoakOptions struct {
	Bin      string        // the callrecd binary (required)
	Dir      string        // the run's folder (required; recordings/ is a tmpfs during the run)
	Calls    int           // concurrent calls (50)
	Duration time.Duration // new calls are placed this long (10m); then the calls in flight end
	Seed     int64         // chaos and call mix (0: from the clock; the report says which)
	// Faults are the kinds injected (nil: SoakFaultKinds; empty non-nil: none). The first
	// round injects each kind once, in a shuffled order, even past Duration.
	Faults []string
	// FaultGap is the mean quiet time between faults (12 s); each gap is 0.5-1.5 of it.
	FaultGap         time.Duration
	TalkMin, TalkMax time.Duration // how long a call lasts (15 s .. 40 s)
	TmpfsSize        string        // size of the storage tmpfs ("1g")
	MinFreeMiB       int64         // storage.min_free in MiB (100)
	LabScript        string        // scripts/asterisk-lab (for restart-pbx)
	LogLevel         string        // callrecd's (info)
	Progress         io.Writer     // one line per fault and phase (nil: none)
}

func (o *SoakOptions) defaults() error {
	if o.Bin == "" || o.Dir == "" {
		return errors.New("lab: soak: Bin and Dir are required")
	}
	if o.Calls <= 0 {
		o.Calls = 50
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano() % 1_000_000_000
	}
	if o.Faults == nil {
		o.Faults = SoakFaultKinds()
	}
	for _, k := range o.Faults {
		if !strings.Contains(strings.Join(SoakFaultKinds(), ","), k) || k == "" {
			return fmt.Errorf("lab: soak: unknown fault kind %q (want %s)", k, strings.Join(SoakFaultKinds(), ", "))
		}
	}
	if o.FaultGap <= 0 {
		o.FaultGap = 12 * time.Second
	}
	if o.TalkMin <= 0 {
		o.TalkMin = 15 * time.Second
	}
	if o.TalkMax < o.TalkMin {
		o.TalkMax = max(o.TalkMin, 40*time.Second)
	}
	// every call outlives the longest fault window, so none lies wholly inside one
	if o.TalkMin < 12*time.Second {
		return errors.New("lab: soak: TalkMin must be at least 12s (longer than any fault)")
	}
	if o.TmpfsSize == "" {
		o.TmpfsSize = "1g"
	}
	if o.MinFreeMiB <= 0 {
		o.MinFreeMiB = 100
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// soak is one run's state.
type soak struct {
	o          SoakOptions
	t0         time.Time
	placeUntil time.Time
	storage    string // storage.root (a tmpfs)
	spool      string
	proxy      *Proxy
	drv        *Driver
	obs        *pbxObserver
	api        *soakAPI
	probe      *prober

	mu        sync.Mutex
	cr        *Callrecd
	crDown    bool
	calls     []*soakCall
	faults    []*SoakFault
	seq       int
	pairLocks map[string]*sync.Mutex
	problems  []string
}

func (s *soak) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Progress, "soak [%6.1fs] %s\n", time.Since(s.t0).Seconds(), fmt.Sprintf(format, args...))
}

// problem notes one finding for the report (bounded).
func (s *soak) problem(format string, args ...any) {
	msg := fmt.Sprintf("[%6.1fs] ", time.Since(s.t0).Seconds()) + fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.problems) < 500 {
		s.problems = append(s.problems, msg)
	}
}

func (s *soak) callrecd() *Callrecd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cr
}

// RunSoak runs the soak on the lab (which must be up, and is the caller's to hold: the
// lab lock) and returns its report. The error is for a run that could not be carried
// out; what the run found is in the report (SoakReport.OK).
func RunSoak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	s := &soak{o: o, t0: time.Now(), pairLocks: map[string]*sync.Mutex{}}
	if err := CheckUp(ctx); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	s.storage = filepath.Join(dir, "recordings")
	if err := os.MkdirAll(s.storage, 0o750); err != nil {
		return nil, err
	}
	if err := syscall.Mount("tmpfs", s.storage, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+o.TmpfsSize+",mode=0750"); err != nil {
		return nil, fmt.Errorf("lab: soak: mounting a tmpfs on %s (as root): %w", s.storage, err)
	}
	defer unmountRetry(s.storage)
	root, err := ASTRoot()
	if err != nil {
		return nil, err
	}
	s.spool = filepath.Join(root, "var", "spool", "asterisk", "recording")
	if o.LabScript == "" {
		o.LabScript = filepath.Join(filepath.Dir(root), "..", "scripts", "asterisk-lab")
		s.o.LabScript = o.LabScript
	}
	importPath := filepath.Join(dir, "import.yaml")
	if err := os.WriteFile(importPath, []byte(ImportYAML(soakUsers())), 0o600); err != nil {
		return nil, err
	}
	if s.proxy, err = NewProxy("127.0.0.1:8088"); err != nil {
		return nil, err
	}
	defer s.proxy.Close()
	s.logf("seed %d; %d concurrent calls for %s; faults %s; folder %s", o.Seed, o.Calls, o.Duration, strings.Join(o.Faults, ","), dir)
	s.cr, err = StartCallrecd(ctx, CallrecdConfig{Bin: o.Bin, Dir: dir, Import: importPath, LogLevel: o.LogLevel,
		ARIURL: s.proxy.URL(), MinFree: fmt.Sprintf("%dMiB", o.MinFreeMiB)})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cr := s.callrecd(); cr != nil {
			_ = cr.Stop(15 * time.Second)
		}
	}()
	tok, err := s.cr.Command(ctx, "token", "create", "--role", "system")
	if err != nil {
		return nil, err
	}
	s.api = newSoakAPI(s.cr.URL, strings.TrimSpace(tok))
	if s.drv, err = NewDriver(ctx, DefaultDriverConfig()); err != nil {
		return nil, err
	}
	defer s.drv.Close()

	bg, stopBG := context.WithCancel(ctx)
	var bgWG sync.WaitGroup
	s.obs = newPBXObserver()
	s.probe = &prober{api: s.api, down: func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.crDown }}
	bgWG.Add(2)
	go func() { defer bgWG.Done(); s.obs.run(bg) }()
	go func() { defer bgWG.Done(); s.probe.run(bg) }()
	defer func() { stopBG(); bgWG.Wait() }()
	if err := s.obs.waitUp(ctx, 10*time.Second); err != nil {
		return nil, err
	}

	s.t0 = time.Now()
	s.placeUntil = s.t0.Add(o.Duration)
	var callWG sync.WaitGroup
	for w := range o.Calls {
		callWG.Add(1)
		go func() {
			defer callWG.Done()
			s.worker(ctx, w, rand.New(rand.NewPCG(uint64(o.Seed), uint64(w+1))))
		}()
	}
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		s.chaos(ctx, rand.New(rand.NewPCG(uint64(o.Seed), 0)))
	}()
	<-chaosDone
	s.logf("chaos over: %d faults; waiting for the calls in flight", len(s.faultList()))
	callWG.Wait()
	s.logf("every call ended (%d placed); final reconcile", len(s.callList()))
	rep := s.finish(ctx)
	return rep, nil
}

// unmountRetry unmounts dir, retrying while it is busy, lazily as a last resort.
func unmountRetry(dir string) {
	for i := 0; i < 20; i++ {
		if err := syscall.Unmount(dir, 0); err == nil || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	_ = syscall.Unmount(dir, syscall.MNT_DETACH)
}

// soakUsers: 1001 and 1002 record every call automatically; 1003 and 1004 record
// nothing by themselves; everybody may use *3 (which pauses in this tenant).
func soakUsers() []LabUser {
	return []LabUser{
		{Extension: "1001", InInt: true, InExt: true, OutInt: true, OutExt: true, Online: true, Firstname: "Alice"},
		{Extension: "1002", InInt: true, InExt: true, OutInt: true, OutExt: true, Online: true, Firstname: "Bob"},
		{Extension: "1003", Online: true, Firstname: "Carol"},
		{Extension: "1004", Online: true, Firstname: "Dave"},
	}
}

func (s *soak) faultList() []*SoakFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*SoakFault(nil), s.faults...)
}

func (s *soak) callList() []*soakCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*soakCall(nil), s.calls...)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// between is a uniformly random duration in [lo, hi].
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}
