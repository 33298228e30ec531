package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
)

var day = time.Date(2024, 5, 14, 9, 0, 0, 0, time.UTC)

// An export holds <cdr_id>/<file> for each selected call's recording,
// Stored, byte for byte; the manifest's sha256 are the files'; a file that
// cannot be read is listed missing and the export still finishes; deleted
// and running recordings are never exported; the zip passes unzip -t.
func TestExportZipManifestAndMissingFiles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	d1, d2 := wav(t, 1, 8000), wav(t, 2, 12000)
	c1, r1 := f.addCall(tenantA, day, d1)
	c2, r2 := f.addCall(tenantA, day.Add(time.Hour), d2)
	c3, r3 := f.addCall(tenantA, day.Add(2*time.Hour), nil) // indexed, file gone
	f.addCall(tenantA, day.Add(3*time.Hour), wav(t, 4, 100), func(r *store.Recording) { r.Deleted = true })
	f.addCall(tenantA, day.Add(4*time.Hour), wav(t, 5, 100), func(r *store.Recording) { r.State = "recording" })
	f.addCall(tenantB, day, wav(t, 6, 100))
	s, done := f.service(Config{})
	run(t, s)

	j, err := s.Submit(ctx, Request{Tenant: tenantA, Actor: "token:t1", Filter: Filter{From: ptr(day.Add(-time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != store.ExportPending {
		t.Fatalf("new job %s", j.Status)
	}
	j = done.wait(t, j.UUID)
	if j.Status != store.ExportFinished || j.FilesTotal != 3 || j.FilesDone != 2 || j.FilesMissing != 1 {
		t.Fatalf("job %+v", j)
	}
	if !strings.Contains(j.Error, "1 of 3") {
		t.Fatalf("the status does not say a file is missing: %q", j.Error)
	}
	if j.Path != filepath.Join(f.dir, j.UUID+".zip") {
		t.Fatalf("path %s", j.Path)
	}
	files := readZip(t, j.Path)
	want := map[string][]byte{
		path.Join(strconv.FormatInt(c1.ID, 10), r1.Filename): d1,
		path.Join(strconv.FormatInt(c2.ID, 10), r2.Filename): d2,
	}
	for name, data := range want {
		if !bytes.Equal(files[name], data) {
			t.Errorf("%s: %d bytes, want %d", name, len(files[name]), len(data))
		}
	}
	if len(files) != 4 { // two recordings and the two manifests
		names := []string{}
		for n := range files {
			names = append(names, n)
		}
		t.Fatalf("zip holds %v", names)
	}
	m := manifestOf(t, files)
	if m.ExportUUID != j.UUID || m.Files != 2 || m.Missing != 1 || len(m.Entries) != 3 {
		t.Fatalf("manifest %+v", m)
	}
	for _, e := range m.Entries {
		switch e.RecordingUUID {
		case r3.UUID:
			if e.Status != "missing" || e.CDRID != c3.ID || e.SHA256 != "" {
				t.Errorf("missing entry %+v", e)
			}
		default:
			sum := sha256.Sum256(files[e.Entry])
			if e.Status != "ok" || e.SHA256 != hex.EncodeToString(sum[:]) || e.Size != int64(len(files[e.Entry])) {
				t.Errorf("entry %+v", e)
			}
			if e.Source != "Caller <+33612345678>" || e.Destination != "Olga Romanov <1001>" || e.Format != "wav" {
				t.Errorf("parties %+v", e)
			}
		}
	}
	rows, err := csv.NewReader(bytes.NewReader(files["manifest.csv"])).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][9] != "sha256" || rows[0][0] != "cdr_id" {
		t.Fatalf("manifest.csv %v %v", rows, err)
	}
	// Nothing but the finished zip is left in the folder (no temp files).
	ents, _ := os.ReadDir(f.dir)
	if len(ents) != 1 || ents[0].Name() != j.UUID+".zip" {
		t.Fatalf("exports dir: %v", ents)
	}
	audit, _ := f.st.ListAudit(ctx, store.AuditFilter{Tenant: tenantA})
	acts := []string{}
	for _, a := range audit {
		acts = append(acts, a.Action+" "+a.Actor)
	}
	if strings.Join(acts, ",") != "export.create token:t1,export.finished callrecd" {
		t.Fatalf("audit %v", acts)
	}
}

// Filters select as Wazo's: from (>=), until (<), call direction, from_id
// (inclusive), cdr_ids ANDed; nothing with a file → ErrNothingToExport.
func TestExportFilters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c1, _ := f.addCallDir(tenantA, day, store.DirectionInbound, wav(t, 1, 10))
	c2, _ := f.addCallDir(tenantA, day.Add(24*time.Hour), store.DirectionInternal, wav(t, 2, 10))
	c3, _ := f.addCallDir(tenantA, day.Add(48*time.Hour), store.DirectionInternal, wav(t, 3, 10))
	f.addCall(tenantA, day.Add(72*time.Hour), nil, func(r *store.Recording) { r.Deleted = true })
	s, _ := f.service(Config{})
	ids := func(fl Filter) []int64 {
		var out []int64
		if err := each(ctx, f.st, tenantA, fl, func(it item) bool { out = append(out, it.call.ID); return true }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want []int64
	}{
		{"all", Filter{}, []int64{c1.ID, c2.ID, c3.ID}},
		{"from >= until <", Filter{From: &day, Until: ptr(day.Add(48 * time.Hour))}, []int64{c1.ID, c2.ID}},
		{"direction", Filter{CallDirection: store.DirectionInternal}, []int64{c2.ID, c3.ID}},
		{"from_id inclusive", Filter{FromID: c2.ID}, []int64{c2.ID, c3.ID}},
		{"cdr_ids and a filter", Filter{CDRIDs: []int64{c1.ID, c3.ID}, CallDirection: store.DirectionInternal}, []int64{c3.ID}},
		{"another tenant's ids", Filter{CDRIDs: []int64{999999}}, nil},
	} {
		if got := ids(tc.f); !equalIDs(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, fl := range []Filter{{CallDirection: store.DirectionOutbound}, {From: ptr(day.Add(70 * time.Hour))}} {
		if _, err := s.Submit(ctx, Request{Tenant: tenantA, Filter: fl}); !errors.Is(err, ErrNothingToExport) {
			t.Errorf("%+v: %v, want ErrNothingToExport", fl, err)
		}
	}
	if _, err := s.Submit(ctx, Request{Tenant: tenantB}); !errors.Is(err, ErrNothingToExport) {
		t.Errorf("tenant B sees A's recordings: %v", err)
	}
	if _, err := s.Submit(ctx, Request{Tenant: tenantA, Email: "a@example.com"}); !errors.Is(err, ErrNoMail) {
		t.Errorf("e-mail without SMTP: %v", err)
	}
	// Without until, the export stops at the request time.
	j, err := s.Submit(ctx, Request{Tenant: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := ParseFilter(j.Query)
	if fl.Until == nil || !fl.Until.Equal(f.clock()) {
		t.Fatalf("stored filter %s", j.Query)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// At most MaxPerTenant jobs of one tenant run at once; another tenant's
// job is not held up by them.
func TestPerTenantConcurrencyLimit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addCall(tenantA, day, wav(t, 1, 10))
	f.addCall(tenantB, day, wav(t, 2, 10))
	s, done := f.service(Config{Workers: 4, MaxPerTenant: 1})
	var a []store.ExportJob
	for i := 0; i < 3; i++ {
		j, err := s.Submit(ctx, Request{Tenant: tenantA})
		if err != nil {
			t.Fatal(err)
		}
		a = append(a, j)
	}
	b, err := s.Submit(ctx, Request{Tenant: tenantB})
	if err != nil {
		t.Fatal(err)
	}
	// Workers wait at their start until released, so what runs and what
	// waits can be read while nothing moves.
	started, release := make(chan string, 8), make(chan struct{})
	s.beforeRun = func(id string) { started <- id; <-release }
	run(t, s)
	<-started
	<-started
	s.mu.Lock()
	runA, runB, queued := s.running[tenantA], s.running[tenantB], len(s.queue)
	s.mu.Unlock()
	if runA != 1 || runB != 1 || queued != 2 {
		t.Fatalf("running A %d, B %d, queued %d; want 1, 1, 2", runA, runB, queued)
	}
	close(release)
	seen := map[string]bool{}
	for len(seen) < 4 {
		j := <-done.ch
		if j.Status != store.ExportFinished {
			t.Fatalf("job %+v", j)
		}
		seen[j.UUID] = true
	}
	for _, j := range append(a, b) {
		if !seen[j.UUID] {
			t.Errorf("job %s never ran", j.UUID)
		}
	}
}

// A job left processing by a stopped callrecd is built again at start
// (its partial file removed); one interrupted MaxAttempts times is marked
// error with the reason. Neither stays processing.
func TestRestartResumesOrFailsInterruptedJobs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addCall(tenantA, day, wav(t, 1, 100))
	first, _ := f.service(Config{})
	resumed, err := first.Submit(ctx, Request{Tenant: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	tired, err := first.Submit(ctx, Request{Tenant: tenantA})
	if err != nil {
		t.Fatal(err)
	}
	// What the previous process left: both processing, a partial zip.
	for _, j := range []struct {
		job      store.ExportJob
		attempts int
	}{{resumed, 1}, {tired, 3}} {
		j.job.Status, j.job.Attempts = store.ExportProcessing, j.attempts
		if err := f.st.UpdateExportJob(ctx, j.job); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(f.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(f.dir, tempPrefix+resumed.UUID+"-123.zip")
	if err := os.WriteFile(partial, []byte("PK half"), 0o640); err != nil {
		t.Fatal(err)
	}

	second, done := f.service(Config{})
	run(t, second)
	j := done.wait(t, resumed.UUID)
	if j.Status != store.ExportFinished || j.Attempts != 2 {
		t.Fatalf("resumed job %+v", j)
	}
	readZip(t, j.Path)
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("partial file left: %v", err)
	}
	got, err := f.st.GetExportJob(ctx, tenantA, tired.UUID)
	if err != nil || got.Status != store.ExportError || !strings.Contains(got.Error, "interrupted") {
		t.Fatalf("job interrupted 3 times: %+v %v", got, err)
	}
}

// A finished export expires after Keep, or after the tenant's
// export_days: file removed, status deleted, path cleared.
func TestExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addCall(tenantA, day, wav(t, 1, 100))
	f.addCall(tenantB, day, wav(t, 2, 100))
	s, done := f.service(Config{Keep: 48 * time.Hour})
	run(t, s)
	ja, _ := s.Submit(ctx, Request{Tenant: tenantA})
	jb, _ := s.Submit(ctx, Request{Tenant: tenantB})
	ja, jb = done.wait(t, ja.UUID), done.wait(t, jb.UUID)
	five := 5
	if err := f.st.SetRetention(ctx, tenantB, store.Retention{ExportDays: &five}); err != nil {
		t.Fatal(err)
	}
	check := func(j store.ExportJob, want string) {
		t.Helper()
		got, _ := f.st.GetExportJob(ctx, "", j.UUID)
		_, statErr := os.Stat(j.Path)
		if got.Status != want || (want == store.ExportDeleted) != errors.Is(statErr, os.ErrNotExist) {
			t.Fatalf("%s: status %s (want %s), file: %v", j.TenantUUID, got.Status, want, statErr)
		}
		if want == store.ExportDeleted && got.Path != "" {
			t.Fatalf("deleted export keeps path %q", got.Path)
		}
	}
	f.setNow(f.clock().Add(47 * time.Hour))
	if err := s.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	check(ja, store.ExportFinished)
	f.setNow(f.clock().Add(2 * time.Hour))
	if err := s.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	check(ja, store.ExportDeleted)
	check(jb, store.ExportFinished) // B keeps 5 days
	f.setNow(f.clock().Add(4 * 24 * time.Hour))
	if err := s.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	check(jb, store.ExportDeleted)
}

// The finished export is e-mailed through a real SMTP exchange on loopback
// with a link scoped to it, the webhook receives the status, and a
// schedule's directory gets a copy.
func TestNotifications(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addCall(tenantA, day, wav(t, 1, 100))
	mail := startSMTP(t)
	host, port := mail.addr()
	hooks := make(chan Webhook, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wh Webhook
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &wh); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad", 400)
			return
		}
		hooks <- wh
	}))
	defer hook.Close()
	copies := filepath.Join(t.TempDir(), "compliance")
	s, done := f.service(Config{Mailer: SMTP{Host: host, Port: port, From: "callrecd <callrecd@example.com>", TLS: "none"},
		PublicURL: "https://pbx.example.com/", Webhook: hook.URL})
	run(t, s)
	j, err := s.Submit(ctx, Request{Tenant: tenantA, Email: "compliance@example.com", Directory: copies})
	if err != nil {
		t.Fatal(err)
	}
	j = done.wait(t, j.UUID)
	if j.Status != store.ExportFinished || j.NotifyError != "" {
		t.Fatalf("job %+v", j)
	}
	msg := <-mail.msgs
	if !strings.Contains(msg, "Subject: Your export is ready\r\n") || !strings.Contains(msg, "To: <compliance@example.com>") {
		t.Fatalf("message:\n%s", msg)
	}
	i := strings.Index(msg, "https://pbx.example.com/api/call-logd/1.0/exports/"+j.UUID+"/download?")
	if i < 0 {
		t.Fatalf("no download link in:\n%s", msg)
	}
	link, err := url.Parse(strings.Fields(msg[i:])[0])
	if err != nil || link.Query().Get("tenant") != tenantA {
		t.Fatalf("link %v %v", link, err)
	}
	tok, err := f.st.LookupExportDownloadToken(ctx, link.Query().Get("token"))
	if err != nil || tok.ExportUUID != j.UUID || !tok.ExpiresAt.Equal(f.clock().Add(48*time.Hour).UTC().Truncate(time.Microsecond)) {
		t.Fatalf("link token %+v %v", tok, err)
	}
	wh := <-hooks
	if wh.Event != "export.finished" || wh.Export.UUID != j.UUID || wh.Export.FilesDone != 1 || !strings.Contains(wh.DownloadURL, "token=") {
		t.Fatalf("webhook %+v", wh)
	}
	copied, err := os.ReadFile(filepath.Join(copies, Filename(j)))
	orig, _ := os.ReadFile(j.Path)
	if err != nil || !bytes.Equal(copied, orig) {
		t.Fatalf("directory copy: %v", err)
	}
	// A webhook that refuses is reported on the job, which stays finished.
	hook.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusServiceUnavailable) })
	j2, _ := s.Submit(ctx, Request{Tenant: tenantA})
	j2 = done.wait(t, j2.UUID)
	if j2.Status != store.ExportFinished || !strings.Contains(j2.NotifyError, "503") {
		t.Fatalf("refused webhook: %+v", j2)
	}
}

// A daemon told to stop while it is still starting (SIGTERM in its first
// milliseconds) stops cleanly: the interrupted start-up read is not a
// failure, so serve exits 0.
func TestRunStoppedWhileStartingIsACleanStop(t *testing.T) {
	f := newFixture(t)
	s, _ := f.service(Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run with a stopped context: %v, want nil", err)
	}
}
