// Command cdrserve serves the generated benchmark index through callrecd as
// `callrecd serve` builds it (wiring.Build), so an outside load generator
// (wrk) measures the server without sharing its process: it prints a token
// and the page URLs, then serves for -seconds. Its PBX link points at a
// loopback port nobody listens on and keeps retrying, as serve does while
// the PBX is away.
//
//	go run ./internal/cdrbench/cmd/cdrserve -rows 1000000 -listen 127.0.0.1:18090
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/internal/cdrbench"
	"github.com/callrecd/callrecd/store"
	"github.com/callrecd/callrecd/wiring"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "loopback address to serve on")
	rows := flag.Int("rows", 100_000, "calls in the generated index")
	dir := flag.String("dir", "build/bench", "where the generated index is kept")
	seconds := flag.Int("seconds", 60, "serve this long, then exit")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the serving time to this file")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*listen); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("-listen %q: must be a loopback host:port", *listen)
	}
	if *rows < 1000 || *seconds < 1 || *seconds > 3600 {
		log.Fatal("-rows must be >= 1000 and -seconds 1..3600")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := cdrbench.Open(ctx, *dir, *rows, log.Printf)
	if err != nil {
		log.Fatal(err)
	}
	st.Close()
	root, err := os.MkdirTemp("", "cdrserve")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	cfg := config.Default()
	cfg.PBX.Asterisk = config.Asterisk{URL: "http://127.0.0.1:9/ari", Username: "bench", Password: "bench", App: "callrecd",
		RecordingSpool: root}
	cfg.Storage = config.Storage{Root: root, MinFree: "1"}
	cfg.Database.Path = cdrbench.Path(*dir, *rows)
	cfg.HTTP.Listen = *listen
	cfg.Tenants = []config.Tenant{{UUID: cdrbench.Tenant, Name: "bench", Default: true}}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	sys, err := wiring.Build(ctx, cfg, wiring.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer sys.Close()
	_, token, err := sys.Store.CreateToken(ctx, store.Token{Role: store.RoleAdmin, TenantUUID: cdrbench.Tenant, Description: "cdrserve"})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, time.Duration(*seconds)*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sys.Run(runCtx) }()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("TOKEN %s\n", token)
	for _, limit := range []int{20, 100} {
		fmt.Printf("URL%d %s\n", limit, cdrbench.PageURL(sys.Addr().String(), limit))
	}
	if err := <-done; err != nil {
		log.Fatal(err)
	}
}
