// Command labbench is callrecd's load driver for the Asterisk lab (`make bench-lab`).
//
// It runs the real daemon (bin/callrecd serve, a child process with a generated
// configuration: the lab PBX's ARI, the lab spool, a fresh index with the demo tenant and
// users 1001..1004 recording everything), places N concurrent recorded calls through the
// lab's peer (default 50: inbound from the carrier, internal, outbound), transfers some
// of the inbound ones out to an external number, and measures from the PBX's own ARI
// events, read by a separate observer application (subscribeAll, eventFilter):
//
//   - answer → RecordingStarted: the callee leg's ChannelStateChange to Up until the
//     call's RecordingStarted (Asterisk timestamps, ms);
//   - transfer → RecordingFinished for the calls transferred to an external number,
//     and, as the daemon's own reaction time, from the moment Asterisk's events make the
//     call external-to-external (the transferer gone and the external leg dialled,
//     whichever comes last) until RecordingFinished;
//   - CPU: callrecd's utime+stime over the run per recorded call, next to the PBX
//     Asterisk's (pid file in the chroot), and both as % of a core per call while every
//     call is up and nothing happens.
//
// Everything is loopback only, bounded by timeouts, and stops by itself. The lab must be
// up (scripts/asterisk-lab up, as root). Run from the module root:
//
//	go run ./internal/lab/cmd/labbench [-n 50] [-transfers 20] [-hold 20s]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/store"
)

type options struct {
	n, transfers     int
	runs             int
	hold, ramp, ring time.Duration
	transferMethod   string
	bin              string
	build            bool
	bare             bool
	keep             bool
	warmup           bool
	timeout          time.Duration
	logLevel         string
	perf             string
	eventsOut        string
	startGoal        float64
	stopGoal         float64
	cpuGoal          float64
	refAsteriskShare float64
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 50, "concurrent recorded calls")
	flag.IntVar(&o.runs, "runs", 1, "repeat the whole run this many times and also report the lags pooled over all runs (a p99 of 50 calls is their maximum)")
	flag.IntVar(&o.transfers, "transfers", 20, "of those, inbound calls the user transfers to an external number")
	flag.DurationVar(&o.hold, "hold", 20*time.Second, "how long each call lasts after its answer (transfers happen at half)")
	flag.DurationVar(&o.ramp, "ramp", 5*time.Second, "calls are placed evenly over this span")
	flag.DurationVar(&o.ring, "ring", 0, "called phones and external numbers ring this long before they answer (0: at once)")
	flag.StringVar(&o.transferMethod, "transfer", "dtmf", "how users transfer: dtmf (#1, Asterisk hangs the transferer up) or refer (SIP REFER, the phone hangs up 300 ms later)")
	flag.StringVar(&o.bin, "bin", "bin/callrecd", "the callrecd binary")
	flag.BoolVar(&o.build, "build", true, "go build the binary (./cmd/callrecd) first")
	flag.BoolVar(&o.bare, "bare", false, "measure the bare client (snoop at the callee's answer, record at the snoop's StasisStart; nothing else) instead of callrecd, under the same load; no transfers")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's folder (config, index, recordings, log) under build/")
	flag.DurationVar(&o.timeout, "timeout", 4*time.Minute, "the whole run's limit")
	flag.StringVar(&o.logLevel, "log-level", "info", "callrecd's log level")
	flag.StringVar(&o.perf, "perf", "", "record callrecd with `perf record -g` over the run into this file")
	flag.BoolVar(&o.warmup, "warmup", true, "place one recorded call before the measured ones")
	flag.StringVar(&o.eventsOut, "events", "", "write the observer's ARI events (JSONL) to this file")
	compare := flag.String("compare", "", "run these side by side, -runs rounds in rotating order, and print their pooled lags together: callrecd,bare,bin:<older callrecd binary>")
	flag.Parse()
	o.startGoal, o.stopGoal, o.cpuGoal, o.refAsteriskShare = 8, 10, 10, 0.42
	if o.n < 1 || o.transfers < 0 || o.transfers > o.n || o.hold < 4*time.Second || o.runs < 1 || o.runs > 20 {
		fmt.Fprintln(os.Stderr, "labbench: need n >= 1, 0 <= transfers <= n, hold >= 4s, 1 <= runs <= 20")
		os.Exit(2)
	}
	if o.bare {
		o.transfers = 0 // the bare client stops nothing
		if o.perf != "" {
			fmt.Fprintln(os.Stderr, "labbench: -perf records callrecd; not with -bare")
			os.Exit(2)
		}
	}
	if o.transferMethod != "dtmf" && o.transferMethod != "refer" {
		fmt.Fprintln(os.Stderr, "labbench: -transfer is dtmf or refer")
		os.Exit(2)
	}
	sctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *compare != "" {
		cs, err := parseCompare(*compare, o.bin)
		if err == nil {
			err = compareSitting(sctx, o, cs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "labbench:", err)
			os.Exit(1)
		}
		return
	}
	var pooled analysis
	for i := range o.runs {
		if o.runs > 1 {
			fmt.Fprintf(os.Stderr, "labbench: run %d of %d\n", i+1, o.runs)
		}
		ctx, cancel := context.WithTimeout(sctx, o.timeout)
		an, err := run(ctx, o)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "labbench:", err)
			os.Exit(1)
		}
		pooled.startLags = append(pooled.startLags, an.startLags...)
		pooled.stopLags = append(pooled.stopLags, an.stopLags...)
		pooled.reactLags = append(pooled.reactLags, an.reactLags...)
		pooled.delivery = append(pooled.delivery, an.delivery...)
	}
	if o.runs > 1 {
		fmt.Printf("\npooled over %d runs:\n", o.runs)
		lagTable(os.Stdout, o, pooled)
	}
}

// benchUsers: the demo tenant's users 1001..1004 with every automatic recording flag on.
func benchUsers() string { return lab.ImportYAML(lab.RecordEverything()) }

// observed event types: the measurement needs only these (fewer events cost the PBX less).
var observed = []string{"ChannelCreated", "ChannelStateChange", "ChannelHangupRequest", "ChannelDestroyed",
	"Dial", "BridgeBlindTransfer", "BridgeAttendedTransfer", "RecordingStarted", "RecordingFinished", "RecordingFailed"}

type cpuSample struct {
	at                  time.Time
	callrecd, pbx, peer time.Duration
	self                time.Duration
}

type callResult struct {
	kind       string // inbound, internal, outbound, transfer
	answeredAt time.Time
	transferAt time.Time
	err        error
}

func run(ctx context.Context, o options) (an analysis, err error) {
	if err := lab.CheckUp(ctx); err != nil {
		return an, err
	}
	pbxPid, err := lab.InstancePid("pbx")
	if err != nil {
		return an, err
	}
	peerPid, _ := lab.InstancePid("peer")
	if o.build && !o.bare {
		fmt.Fprintln(os.Stderr, "labbench: go build -o", o.bin, "./cmd/callrecd")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "./cmd/callrecd")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return an, fmt.Errorf("building callrecd: %w", err)
		}
	}
	if err := os.MkdirAll("build", 0o755); err != nil {
		return an, err
	}
	dir, err := os.MkdirTemp("build", "labbench-")
	if err != nil {
		return an, err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	importPath := filepath.Join(dir, "import.yaml")
	if err := os.WriteFile(importPath, []byte(benchUsers()), 0o600); err != nil {
		return an, err
	}
	spool := filepath.Join(mustASTRoot(), "var", "spool", "asterisk", "recording")
	var cr *lab.Callrecd
	var bare *bareClient
	if o.bare {
		fmt.Fprintln(os.Stderr, "labbench: starting the bare client (no callrecd)")
		if bare, err = startBare(ctx, spool); err != nil {
			return an, err
		}
	} else {
		fmt.Fprintf(os.Stderr, "labbench: starting callrecd serve (folder %s)\n", dir)
		if cr, err = lab.StartCallrecd(ctx, lab.CallrecdConfig{Bin: o.bin, Dir: dir, Import: importPath, LogLevel: o.logLevel}); err != nil {
			return an, err
		}
	}
	stopped := false
	defer func() {
		if stopped {
			return
		}
		if cr != nil {
			_ = cr.Stop(10 * time.Second)
		}
		if bare != nil {
			_ = bare.stop()
		}
	}()

	// the observer: its own app on the PBX, every channel, only the types measured
	obs, err := lab.ConnectPBX(ctx, lab.PBXConfig{App: "callrecd-bench", SubscribeAll: true})
	if err != nil {
		return an, err
	}
	defer obs.Close()
	allowed := make([]map[string]string, len(observed))
	for i, t := range observed {
		allowed[i] = map[string]string{"type": t}
	}
	if err := obs.Do(ctx, http.MethodPut, "/applications/callrecd-bench/eventFilter", nil, map[string]any{"allowed": allowed}, nil); err != nil {
		return an, fmt.Errorf("observer event filter: %w", err)
	}
	drv, err := lab.NewDriver(ctx, lab.DefaultDriverConfig())
	if err != nil {
		return an, err
	}
	defer drv.Close()
	if o.ring > 0 {
		for p := 1001; p <= 1004; p++ {
			drv.SetAnswer(strconv.Itoa(p), lab.Answer{Delay: o.ring})
		}
	}

	var perfCmd *exec.Cmd
	if o.perf != "" {
		perfCmd = exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(cr.Pid), "-o", o.perf)
		perfCmd.Stdout, perfCmd.Stderr = io.Discard, os.Stderr
		if err := perfCmd.Start(); err != nil {
			return an, fmt.Errorf("perf: %w", err)
		}
		defer func() {
			if perfCmd.ProcessState == nil {
				_ = perfCmd.Process.Signal(os.Interrupt)
				_ = perfCmd.Wait()
			}
		}()
		time.Sleep(300 * time.Millisecond)
	}

	// CPU sampler
	sample := func() cpuSample {
		s := cpuSample{at: time.Now()}
		if cr != nil {
			s.callrecd, _ = lab.ProcessCPU(cr.Pid)
		}
		s.pbx, _ = lab.ProcessCPU(pbxPid)
		if peerPid > 0 {
			s.peer, _ = lab.ProcessCPU(peerPid)
		}
		s.self, _ = lab.ProcessCPU(os.Getpid())
		return s
	}
	var smu sync.Mutex
	var samples []cpuSample
	sctx, scancel := context.WithCancel(ctx)
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			s := sample()
			smu.Lock()
			samples = append(samples, s)
			smu.Unlock()
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { scancel(); swg.Wait() }()

	if o.warmup {
		// one recorded call first: a daemon in service has its connections and caches warm
		if err := warmUp(ctx, drv); err != nil {
			return an, fmt.Errorf("warm-up call: %w", err)
		}
	}
	evStart := obs.Events.Len()
	before := sample()
	fmt.Fprintf(os.Stderr, "labbench: placing %d calls over %s (%d transferred out by %s), each %s\n", o.n, o.ramp, o.transfers, o.transferMethod, o.hold)
	results := make([]callResult, o.n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range o.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := t0.Add(time.Duration(i) * o.ramp / time.Duration(o.n))
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
				results[i].err = ctx.Err()
				return
			}
			results[i] = placeCall(ctx, drv, o, i)
		}()
	}
	wg.Wait()
	callsDone := time.Now()
	var failed []string
	for i, r := range results {
		if r.err != nil {
			failed = append(failed, fmt.Sprintf("call %d (%s): %v", i, r.kind, r.err))
		}
	}
	// callrecd finishes: every recording stopped and its file moved out of the spool (the
	// bare client's files stay there until it stops)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	for {
		evs := obs.Events.Events()[evStart:]
		n := spoolFiles(spool, evs)
		if bare != nil {
			n = 0
		}
		if n == 0 && recordingsSettled(evs) {
			break
		}
		if wctx.Err() != nil {
			failed = append(failed, fmt.Sprintf("after the calls: %d files still in the spool or recordings unfinished after 30 s", n))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	wcancel()
	time.Sleep(500 * time.Millisecond)
	after := sample()
	scancel()
	swg.Wait()
	if perfCmd != nil {
		_ = perfCmd.Process.Signal(os.Interrupt)
		_ = perfCmd.Wait()
		fmt.Fprintf(os.Stderr, "labbench: perf data in %s (perf report -i %s --no-children)\n", o.perf, o.perf)
	}
	events := obs.Events.Events()[evStart:]
	if o.eventsOut != "" {
		if err := writeEvents(o.eventsOut, events); err != nil {
			fmt.Fprintln(os.Stderr, "labbench:", err)
		}
	}
	stopped = true
	var rows []store.Recording
	if bare != nil {
		if err := bare.stop(); err != nil {
			failed = append(failed, "bare client: "+err.Error())
		}
	} else {
		if err := cr.Stop(15 * time.Second); err != nil {
			failed = append(failed, fmt.Sprintf("callrecd did not stop cleanly: %v", err))
		}
		var rerr error
		if rows, rerr = readRecordings(ctx, cr.DBPath); rerr != nil {
			failed = append(failed, "reading the index: "+rerr.Error())
		}
	}
	// the run's rows only (not the warm-up call's)
	rows = slices.DeleteFunc(rows, func(r store.Recording) bool { return r.Start.Before(before.at) })
	an = analyze(events)
	report(os.Stdout, o, an, rows, before, after, samples, results, callsDone.Sub(t0))
	if n := countErrors(cr); n > 0 {
		failed = append(failed, fmt.Sprintf("callrecd logged %d errors (log: %s, kept with -keep)", n, cr.LogPath))
	}
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(os.Stderr, "labbench: PROBLEM:", f)
		}
		if o.keep && cr != nil {
			fmt.Fprintln(os.Stderr, "labbench: callrecd log:", cr.LogPath)
		}
		return an, fmt.Errorf("%d problem(s) during the run", len(failed))
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "labbench: run folder kept:", dir)
	}
	return an, nil
}

// countErrors counts the errors callrecd logged (0 without callrecd).
func countErrors(cr *lab.Callrecd) int {
	if cr == nil {
		return 0
	}
	return strings.Count(cr.LogTail(100000), "level=ERROR")
}

func mustASTRoot() string {
	r, err := lab.ASTRoot()
	if err != nil {
		return "/nonexistent"
	}
	return r
}

// spoolFiles counts the files of the run's recordings still in the PBX's spool (other
// lab users may have left files of their own there).
func spoolFiles(dir string, evs []lab.Event) int {
	n := 0
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Type != "RecordingStarted" || e.Recording == nil || seen[e.Recording.Name] {
			continue
		}
		seen[e.Recording.Name] = true
		if _, err := os.Stat(filepath.Join(dir, e.Recording.Name+"."+e.Recording.Format)); err == nil {
			n++
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func writeEvents(path string, evs []lab.Event) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for _, e := range evs {
		// the observer's receive time (host clock, µs) goes in front of the event
		if len(e.Raw) > 1 && e.Raw[0] == '{' {
			fmt.Fprintf(f, "{\"lab_rx_us\":%d,%s\n", e.Received.UnixMicro(), e.Raw[1:])
		}
	}
	return f.Close()
}

// readRecordings reads the run's index once callrecd has stopped. An older
// binary (-compare bin:…) leaves an older schema: the run's own throwaway
// database is migrated first, so its rows read as today's.
func readRecordings(ctx context.Context, db string) ([]store.Recording, error) {
	s, err := store.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, 0); err != nil {
		return nil, err
	}
	return s.ListRecordings(ctx, store.RecordingFilter{Tenant: lab.DemoTenant})
}
