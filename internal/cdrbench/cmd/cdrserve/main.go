// Command cdrserve serves the generated benchmark index through the real API
// so an outside load generator (wrk) measures the server without sharing its
// process: it prints a token and the page URLs, then serves for -seconds.
//
//	go run ./internal/cdrbench/cmd/cdrserve -rows 1000000 -listen 127.0.0.1:18090
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/callrecd/callrecd/api"
	"github.com/callrecd/callrecd/internal/cdrbench"
	"github.com/callrecd/callrecd/store"
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
	defer st.Close()
	_, token, err := st.CreateToken(ctx, store.Token{Role: store.RoleAdmin, TenantUUID: cdrbench.Tenant, Description: "cdrserve"})
	if err != nil {
		log.Fatal(err)
	}
	root, err := os.MkdirTemp("", "cdrserve")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	h, err := api.New(api.Options{Store: st, StorageRoot: root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
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
		fmt.Printf("URL%d %s\n", limit, cdrbench.PageURL(ln.Addr().String(), limit))
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(*seconds) * time.Second):
	}
	srv.Close()
}
