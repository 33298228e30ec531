// Command soak is callrecd's fault soak on the Asterisk lab (`make soak`): N concurrent
// recorded calls for a while (automatic recording, *3, *48/*49, transfers to internal
// and external numbers) against the real daemon, while a seeded chaos loop SIGKILLs
// and restarts callrecd, cuts its ARI websocket (a loopback proxy), restarts the PBX,
// fills its storage (a tmpfs) below storage.min_free and holds its SQLite index busy.
// After each fault and at the end, the PBX's view is reconciled with callrecd's index
// and files (internal/lab/soak*.go); the report says what was lost, doubled or left
// open, and the exit status is 1 if anything was.
//
// The lab must be up and held (scripts/asterisk-lab up; flock build/lab.lock), as root
// (the tmpfs). Run from the module root:
//
//	go run ./internal/lab/cmd/soak [-n 50] [-d 10m] [-seed N] [-json FILE] [-faults kill,ws_cut,...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/callrecd/callrecd/internal/lab"
)

func main() {
	var o lab.SoakOptions
	flag.IntVar(&o.Calls, "n", 50, "concurrent calls")
	flag.DurationVar(&o.Duration, "d", 10*time.Minute, "how long new calls are placed (the calls in flight then end)")
	flag.Int64Var(&o.Seed, "seed", 0, "seed of the chaos and the call mix (0: from the clock; printed)")
	faults := flag.String("faults", strings.Join(lab.SoakFaultKinds(), ","), "fault kinds to inject (comma-separated; \"none\" for none)")
	flag.DurationVar(&o.FaultGap, "gap", 12*time.Second, "mean quiet time between faults")
	flag.DurationVar(&o.TalkMin, "talk-min", 15*time.Second, "shortest call (at least 12s)")
	flag.DurationVar(&o.TalkMax, "talk-max", 40*time.Second, "longest call")
	flag.StringVar(&o.TmpfsSize, "tmpfs", "1g", "size of the storage tmpfs")
	flag.StringVar(&o.LogLevel, "log-level", "info", "callrecd's log level")
	flag.StringVar(&o.LabScript, "lab-script", "scripts/asterisk-lab", "the lab script (restart-pbx)")
	bin := flag.String("bin", "bin/callrecd", "the callrecd binary")
	build := flag.Bool("build", true, "go build the binary (./cmd/callrecd) first")
	jsonOut := flag.String("json", "", "also write the report as JSON into this file")
	keep := flag.Bool("keep", false, "keep the run's folder (config, index, log) under build/")
	flag.Parse()
	switch *faults {
	case "none", "":
		o.Faults = []string{}
	default:
		o.Faults = strings.Split(*faults, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *build {
		fmt.Fprintln(os.Stderr, "soak: go build -o", *bin, "./cmd/callrecd")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", *bin, "./cmd/callrecd")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "soak: building callrecd:", err)
			os.Exit(2)
		}
	}
	o.Bin = *bin
	if err := os.MkdirAll("build", 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("build", "soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	o.Dir, _ = filepath.Abs(dir)
	o.Progress = os.Stderr
	// the whole run is bounded: placing, the calls in flight, the settling
	ctx, cancel := context.WithTimeout(ctx, o.Duration+o.TalkMax+15*time.Minute)
	defer cancel()
	rep, err := lab.RunSoak(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		fmt.Fprintln(os.Stderr, "soak: run folder kept:", dir)
		os.Exit(2)
	}
	rep.Print(os.Stdout)
	if *jsonOut != "" {
		if err := rep.WriteJSON(*jsonOut); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
		}
	}
	if *keep || !rep.OK() {
		fmt.Fprintln(os.Stderr, "soak: run folder kept:", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	if !rep.OK() {
		os.Exit(1)
	}
}
