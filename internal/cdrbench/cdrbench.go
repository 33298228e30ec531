// Package cdrbench builds the generated call index the /cdr benchmarks run
// on (BenchmarkCDRList in api, and cdrserve for an outside load generator).
package cdrbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
)

// Tenant owns every generated call.
const Tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"

// Start is the first generated call; they spread over the next 365 days.
var Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Path is the generated index of rows calls under dir.
func Path(dir string, rows int) string { return filepath.Join(dir, fmt.Sprintf("cdr-%d.db", rows)) }

// Open opens Path(dir, rows), generating it first if it does not hold
// exactly rows calls: rows calls over 365 days, directions mixed, one
// recording each. logf (may be nil) hears how long generating took.
func Open(ctx context.Context, dir string, rows int, logf func(format string, args ...any)) (*store.Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	path := Path(dir, rows)
	st, err := openMigrated(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, total, _, err := st.QueryCDR(ctx, store.CDRQuery{Tenant: Tenant, Page: store.Page{Limit: 1}}); err == nil && total == rows {
		return st, nil
	}
	st.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	if st, err = openMigrated(ctx, path); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := generate(ctx, st, rows); err != nil {
		st.Close()
		return nil, err
	}
	if logf != nil {
		logf("generated %d calls + recordings in %s (%s)", rows, time.Since(t0).Round(time.Millisecond), path)
	}
	return st, nil
}

func openMigrated(ctx context.Context, path string) (*store.Store, error) {
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx, 0); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func generate(ctx context.Context, st *store.Store, rows int) error {
	if _, err := st.CreateTenant(ctx, store.NewTenant(Tenant, "bench"), nil); err != nil {
		return err
	}
	users := make([]string, 50)
	for i := range users {
		users[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if _, err := st.CreateUser(ctx, store.User{UUID: users[i], TenantUUID: Tenant, Extension: fmt.Sprint(1000 + i),
			Firstname: "User", Lastname: fmt.Sprint(i)}); err != nil {
			return err
		}
	}
	dirs := []string{store.DirectionInternal, store.DirectionInbound, store.DirectionOutbound}
	step := 365 * 24 * time.Hour / time.Duration(rows)
	return st.BulkInsertCalls(ctx, rows, func(i int) store.Call {
		start := Start.Add(time.Duration(i) * step)
		ans, end := start.Add(5*time.Second), start.Add(95*time.Second)
		u := users[i%len(users)]
		ru := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
		return store.Call{TenantUUID: Tenant, PBXCallID: fmt.Sprint("bench.", i), Start: start, Answer: &ans, End: &end,
			Direction: dirs[i%3], SourceExtension: fmt.Sprint(1000 + i%50), SourceName: "User", SourceUserUUID: u,
			DestinationExtension: fmt.Sprint("+3312345", i%10000), DestinationName: "Outside",
			Recordings: []store.Recording{{UUID: ru, Start: start.Add(6 * time.Second), End: &end,
				Filename: recording.Filename(Start, 1, ru, recording.WAV), Format: string(recording.WAV),
				Size: 1440044, Duration: 90 * time.Second, State: string(recording.StateStopped),
				StartedBy: string(recording.ByPolicy), StopReason: string(recording.StopHangup)}}}
	})
}

// PageURL is the benchmarked request: one day's inbound calls, newest
// first, limit items per page.
func PageURL(addr string, limit int) string {
	day := Start.Add(200 * 24 * time.Hour)
	return fmt.Sprintf("http://%s/api/call-logd/1.0/cdr?from=%s&until=%s&call_direction=inbound&direction=desc&limit=%d",
		addr, day.Format("2006-01-02T15:04:05Z"), day.Add(24*time.Hour).Format("2006-01-02T15:04:05Z"), limit)
}
