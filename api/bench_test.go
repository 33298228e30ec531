package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/internal/cdrbench"
	"github.com/callrecd/callrecd/store"
)

// benchRows is how many calls (one recording each) BenchmarkCDRList
// generates: CALLRECD_BENCH_ROWS, default 100k (1000000 for the full run).
func benchRows(b *testing.B) int {
	if v := os.Getenv("CALLRECD_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("CALLRECD_BENCH_ROWS=%q: want an integer >= 1000", v)
		}
		return n
	}
	return 100_000
}

// BenchmarkCDRList: GET /cdr over loopback HTTP with a filtered page (one
// day, one direction, newest first, 100 items) on the generated index.
// Reports p50/p99 latency and requests per second.
func BenchmarkCDRList(b *testing.B) {
	rows := benchRows(b)
	st, err := cdrbench.Open(context.Background(), filepath.Join("..", "build", "bench"), rows, b.Logf)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	_, token, err := st.CreateToken(ctx, store.Token{Role: store.RoleAdmin, TenantUUID: cdrbench.Tenant})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Options{Store: st, StorageRoot: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	for _, limit := range []int{20, 100} {
		url := cdrbench.PageURL(ln.Addr().String(), limit)
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) { loadLoop(b, client, url, token, rows) })
	}
}

// loadLoop runs GET url from 2×GOMAXPROCS clients for b.N requests and
// reports p50/p99 latency and requests per second.
func loadLoop(b *testing.B, client *http.Client, url, token string, rows int) {
	get := func() error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-Auth-Token", token)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return err
	}
	if err := get(); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(2)
	b.ResetTimer()
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			s := time.Now()
			if err := get(); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(s))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(t0)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(rows), "rows")
	}
}
