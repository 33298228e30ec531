package export

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

// benchBytes is the size of the generated recordings: 2 GiB, or
// CALLRECD_EXPORT_BENCH_BYTES (e.g. 268435456 on a small box).
func benchBytes(b *testing.B) int64 {
	if v := os.Getenv("CALLRECD_EXPORT_BENCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1<<20 {
			b.Fatalf("CALLRECD_EXPORT_BENCH_BYTES=%q: a byte count of at least 1 MiB", v)
		}
		return n
	}
	return 2 << 30
}

// BenchmarkExport builds an export of generated 8 MiB WAV files and, in
// the same run, zip -r -0 of the same files (both from a warm page cache):
// zip_ratio = zip's time / the export's (goal ≥ 1.0), and the process's
// peak RSS above its level before the export, for the whole set and for a
// quarter of it (goal: the same, whatever the export's size).
func BenchmarkExport(b *testing.B) {
	if _, err := exec.LookPath("zip"); err != nil {
		b.Skip("zip is not installed (apt-get install zip)")
	}
	total := benchBytes(b)
	const fileSize = 8 << 20
	n := int(max(total/fileSize, 4))
	ctx := context.Background()
	dir := b.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "callrecd.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateTenant(ctx, store.NewTenant(tenantA, "bench"), nil); err != nil {
		b.Fatal(err)
	}
	root := filepath.Join(dir, "recordings")
	mon := filepath.Join(root, "tenants", tenantA, "monitor")
	if err := os.MkdirAll(mon, 0o750); err != nil {
		b.Fatal(err)
	}
	samples := make([]int16, (fileSize-44)/2)
	for i := range samples {
		samples[i] = int16(i*7919) ^ int16(i>>3) // noise-like: no compressor gains much
	}
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	err = st.BulkInsertCalls(ctx, n, func(i int) store.Call {
		at := start.Add(time.Duration(i) * time.Minute)
		ru := uuid.NewString()
		return store.Call{TenantUUID: tenantA, PBXCallID: "bench-" + strconv.Itoa(i), Start: at,
			Recordings: []store.Recording{{UUID: ru, TenantUUID: tenantA, Start: at, Format: "wav",
				State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy),
				Filename: "bench-" + strconv.Itoa(i) + ".wav"}}}
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(mon, "bench-"+strconv.Itoa(i)+".wav"))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		samples[0] = int16(i)
		if err := media.WritePCM16(w, 8000, 1, samples); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	svc, err := New(Config{Store: st, Root: root, Dir: filepath.Join(dir, "exports")})
	if err != nil {
		b.Fatal(err)
	}
	runOnce := func(until time.Time) (time.Duration, int64, int64) {
		j, err := svc.Prepare(ctx, Request{Tenant: tenantA, Filter: Filter{Until: &until}}, "")
		if err != nil {
			b.Fatal(err)
		}
		base := rssKB()
		peak := base
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					peak = max(peak, rssKB())
				}
			}
		}()
		t0 := time.Now()
		j, err = svc.RunJob(ctx, j.UUID, RunOptions{})
		d := time.Since(t0)
		close(stop)
		wg.Wait()
		if err != nil || j.Status != store.ExportFinished {
			b.Fatalf("export %+v %v", j, err)
		}
		os.Remove(j.Path)
		return d, j.Size, peak - base
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, quarterRSS := runOnce(start.Add(time.Duration(n/4) * time.Minute))
		d, size, fullRSS := runOnce(start.Add(time.Duration(n) * time.Minute))
		t0 := time.Now()
		zipOut := filepath.Join(dir, "zip.zip")
		cmd := exec.Command("zip", "-q", "-r", "-0", zipOut, ".")
		cmd.Dir = mon
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("zip: %v\n%s", err, out)
		}
		zd := time.Since(t0)
		os.Remove(zipOut)
		b.ReportMetric(float64(size)/d.Seconds()/(1<<20), "export_MB/s")
		b.ReportMetric(float64(size)/zd.Seconds()/(1<<20), "zip_MB/s")
		b.ReportMetric(zd.Seconds()/d.Seconds(), "zip_ratio")
		b.ReportMetric(float64(fullRSS)/1024, "rss_peak_MB_full")
		b.ReportMetric(float64(quarterRSS)/1024, "rss_peak_MB_quarter")
		b.ReportMetric(float64(n), "files")
	}
}

// rssKB is the process's resident set (VmRSS), in KiB.
func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}
