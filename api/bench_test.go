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

var benchStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// benchStore opens (generating once, then reusing) build/bench/cdr-<rows>.db:
// rows calls over 365 days in tenant A, directions mixed, one recording each.
func benchStore(b testing.TB, rows int) *store.Store {
	ctx := context.Background()
	dir := filepath.Join("..", "build", "bench")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("cdr-%d.db", rows))
	st, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Migrate(ctx, 0); err != nil {
		b.Fatal(err)
	}
	if _, total, _, err := st.QueryCDR(ctx, store.CDRQuery{Tenant: tenantA, Page: store.Page{Limit: 1}}); err == nil && total == rows {
		return st
	}
	st.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	if st, err = store.Open(ctx, path); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Migrate(ctx, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateTenant(ctx, store.NewTenant(tenantA, "bench"), nil); err != nil {
		b.Fatal(err)
	}
	users := make([]string, 50)
	for i := range users {
		users[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if _, err := st.CreateUser(ctx, store.User{UUID: users[i], TenantUUID: tenantA, Extension: fmt.Sprint(1000 + i),
			Firstname: "User", Lastname: fmt.Sprint(i)}); err != nil {
			b.Fatal(err)
		}
	}
	dirs := []string{store.DirectionInternal, store.DirectionInbound, store.DirectionOutbound}
	step := 365 * 24 * time.Hour / time.Duration(rows)
	t0 := time.Now()
	err = st.BulkInsertCalls(ctx, rows, func(i int) store.Call {
		start := benchStart.Add(time.Duration(i) * step)
		ans, end := start.Add(5*time.Second), start.Add(95*time.Second)
		u := users[i%len(users)]
		ru := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
		return store.Call{TenantUUID: tenantA, PBXCallID: fmt.Sprint("bench.", i), Start: start, Answer: &ans, End: &end,
			Direction: dirs[i%3], SourceExtension: fmt.Sprint(1000 + i%50), SourceName: "User", SourceUserUUID: u,
			DestinationExtension: fmt.Sprint("+3312345", i%10000), DestinationName: "Outside",
			Recordings: []store.Recording{{UUID: ru, Start: start.Add(6 * time.Second), End: &end,
				Filename: "2024-01-01T00_00_00UTC-1-" + ru + ".wav", Format: store.FormatWAV, Size: 1440044,
				Duration: 90 * time.Second, State: store.StateStopped, StartedBy: store.StartedByPolicy, StopReason: store.StopHangup}}}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d calls + recordings in %s (%s)", rows, time.Since(t0).Round(time.Millisecond), path)
	return st
}

// BenchmarkCDRList: GET /cdr over loopback HTTP with a filtered page (one
// day, one direction, newest first, 100 items) on the generated index.
// Reports p50/p99 latency and requests per second.
func BenchmarkCDRList(b *testing.B) {
	rows := benchRows(b)
	st := benchStore(b, rows)
	defer st.Close()
	ctx := context.Background()
	_, token, err := st.CreateToken(ctx, store.Token{Role: store.RoleAdmin, TenantUUID: tenantA})
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
	day := benchStart.Add(200 * 24 * time.Hour)
	for _, limit := range []int{20, 100} {
		url := fmt.Sprintf("http://%s/api/call-logd/1.0/cdr?from=%s&until=%s&call_direction=inbound&direction=desc&limit=%d",
			ln.Addr(), day.Format("2006-01-02T15:04:05Z"), day.Add(24*time.Hour).Format("2006-01-02T15:04:05Z"), limit)
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) { loadLoop(b, client, url, token, rows) })
	}
}

// TestServeBench serves the benchmark's index for an external load
// generator (wrk) in this process, so the generator's CPU is not in the
// profile: CALLRECD_BENCH_SERVE=127.0.0.1:8089 (and CALLRECD_BENCH_ROWS,
// CALLRECD_BENCH_SECONDS, default 60) go test -run TestServeBench ./api/
// prints the token and URLs, then serves until the time is up.
func TestServeBench(t *testing.T) {
	addr := os.Getenv("CALLRECD_BENCH_SERVE")
	if addr == "" {
		t.Skip("set CALLRECD_BENCH_SERVE=host:port to serve the benchmark index")
	}
	secs := 60
	if v := os.Getenv("CALLRECD_BENCH_SECONDS"); v != "" {
		secs, _ = strconv.Atoi(v)
	}
	rows := 100_000
	if v := os.Getenv("CALLRECD_BENCH_ROWS"); v != "" {
		rows, _ = strconv.Atoi(v)
	}
	st := benchStore(t, rows)
	defer st.Close()
	_, token, err := st.CreateToken(context.Background(), store.Token{Role: store.RoleAdmin, TenantUUID: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Store: st, StorageRoot: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	defer srv.Close()
	day := benchStart.Add(200 * 24 * time.Hour)
	fmt.Printf("TOKEN %s\n", token)
	for _, limit := range []int{20, 100} {
		fmt.Printf("URL http://%s/api/call-logd/1.0/cdr?from=%s&until=%s&call_direction=inbound&direction=desc&limit=%d\n",
			ln.Addr(), day.Format("2006-01-02T15:04:05Z"), day.Add(24*time.Hour).Format("2006-01-02T15:04:05Z"), limit)
	}
	time.Sleep(time.Duration(secs) * time.Second)
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
