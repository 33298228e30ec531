package api

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// newTestExporter is the env's export service: built, not run (jobs
// stay pending), so every route has what it needs.
func newTestExporter(ev *env) Exporter {
	svc, err := export.New(export.Config{Store: ev.store, Root: ev.root, Dir: filepath.Join(filepath.Dir(ev.root), "exports")})
	if err != nil {
		ev.t.Fatal(err)
	}
	return svc
}

// xenv is the API with a running export service on a real loopback HTTP
// server, over the env's SQLite file and recordings.
type xenv struct {
	*env
	svc    *export.Service
	base   string
	client *http.Client
	dir    string
	done   chan store.ExportJob
	mu     sync.Mutex
	now    time.Time
}

func (x *xenv) clock() time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.now
}

func (x *xenv) advance(d time.Duration) {
	x.mu.Lock()
	x.now = x.now.Add(d)
	x.mu.Unlock()
}

// newExportEnv builds it; with running false the service is not run, so
// jobs written to the store stay as the test left them.
func newExportEnv(t *testing.T, running ...bool) *xenv {
	t.Helper()
	ev := newEnv(t)
	x := &xenv{env: ev, client: &http.Client{Timeout: 30 * time.Second}, dir: filepath.Join(t.TempDir(), "exports"),
		done: make(chan store.ExportJob, 32), now: time.Now().UTC()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x.base = "http://" + ln.Addr().String()
	x.svc, err = export.New(export.Config{Store: ev.store, Root: ev.root, Dir: x.dir, PublicURL: x.base,
		Now: x.clock, OnDone: func(j store.ExportJob) { x.done <- j }})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Store: ev.store, StorageRoot: ev.root, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(ev.logs, nil)), Exports: x.svc, Now: x.clock})
	if err != nil {
		t.Fatal(err)
	}
	ev.e = e
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if len(running) > 0 && !running[0] {
		return x
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = x.svc.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	return x
}

// call sends one request over HTTP; hdr is name/value pairs.
func (x *xenv) call(method, path, token, body string, hdr ...string) resp {
	x.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, x.base+path, rd)
	if err != nil {
		x.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := x.client.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// wait returns the job once it ended.
func (x *xenv) wait(id string) store.ExportJob {
	x.t.Helper()
	for i := 0; i < 32; i++ {
		if j := <-x.done; j.UUID == id {
			return j
		}
	}
	x.t.Fatalf("export %s never ended", id)
	return store.ExportJob{}
}

func (x *xenv) post(query, body string, hdr ...string) resp {
	x.t.Helper()
	return x.call("POST", "/api/call-logd/1.0/cdr/recordings/media/export?"+query, x.tokens["adminA"], body, hdr...)
}

// The seed's bulk download, as its curl sends it: POST 202 with the uuid
// and Location, GET status, then the zip (Content-Disposition as Wazo's,
// Range), opened with archive/zip and the system's unzip -t; the seed
// recording is in it byte for byte; creation and download are audited.
func TestExportSeedFlowOverHTTP(t *testing.T) {
	x := newExportEnv(t)
	r := x.call("POST", "/api/call-logd/1.0/cdr/recordings/media/export?from=2021-04-01T00%3A00%3A00-0500&until=2021-06-01T00%3A00%3A00-0500&recurse=false",
		x.tokens["system"], "{}", "Wazo-Tenant", tenantA, "Accept", "application/json")
	if r.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["uuid"].(string)
	if len(r.json(t)) != 1 || r.header.Get("Location") != "/api/call-logd/1.0/exports/"+id {
		t.Fatalf("answer %s, Location %q", r.body, r.header.Get("Location"))
	}
	j := x.wait(id)
	st := x.call("GET", "/api/call-logd/1.0/exports/"+id, x.tokens["adminA"], "")
	m := st.json(t)
	wantName := j.CreatedAt.UTC().Format("2006-01-02T15_04_05UTC") + "-" + id + ".zip"
	if st.status != 200 || m["status"] != "finished" || m["tenant_uuid"] != tenantA || m["filename"] != wantName ||
		m["requested_at"] != ts(j.CreatedAt) || m["files_done"] != 1.0 || m["files_total"] != 1.0 {
		t.Fatalf("status: %d %s", st.status, st.body)
	}
	for _, k := range []string{"uuid", "tenant_uuid", "user_uuid", "requested_at", "filename", "status"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status lacks Wazo's %q", k)
		}
	}
	dl := x.call("GET", "/api/call-logd/1.0/exports/"+id+"/download", x.tokens["adminA"], "")
	if dl.status != 200 || dl.header.Get("Content-Type") != "application/zip" ||
		dl.header.Get("Content-Disposition") != "attachment; filename="+wantName {
		t.Fatalf("download: %d %v", dl.status, dl.header)
	}
	zr, err := zip.NewReader(bytes.NewReader(dl.body), int64(len(dl.body)))
	if err != nil {
		t.Fatal(err)
	}
	entry := fmt.Sprintf("%d/%s", x.callA.ID, x.callA.Recordings[0].Filename)
	var got []byte
	for _, f := range zr.File {
		if f.Name == entry {
			if f.Method != zip.Store {
				t.Errorf("recording entry compressed (method %d)", f.Method)
			}
			rc, _ := f.Open()
			got, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if !bytes.Equal(got, x.wav) {
		t.Fatalf("entry %s: %d bytes, want the seed's %d", entry, len(got), len(x.wav))
	}
	zipPath := filepath.Join(t.TempDir(), "dl.zip")
	if err := os.WriteFile(zipPath, dl.body, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unzip", "-t", zipPath).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
	part := x.call("GET", "/api/call-logd/1.0/exports/"+id+"/download", x.tokens["adminA"], "", "Range", "bytes=10-29")
	if part.status != http.StatusPartialContent || !bytes.Equal(part.body, dl.body[10:30]) ||
		part.header.Get("Content-Range") != fmt.Sprintf("bytes 10-29/%d", len(dl.body)) {
		t.Fatalf("range: %d %q %v", part.status, part.header.Get("Content-Range"), len(part.body))
	}
	audit, _ := x.store.ListAudit(context.Background(), store.AuditFilter{Tenant: tenantA})
	count := map[string]int{}
	for _, a := range audit {
		if a.ObjectID == id {
			count[a.Action]++
		}
	}
	if count["export.create"] != 1 || count["export.finished"] != 1 || count["export.download"] != 2 {
		t.Fatalf("audit %v", count)
	}
}

// Every status of the download, as Wazo answers them, with Wazo's error
// body: pending and processing 202 export-not-done-yet, error 500
// export-error, a finished export whose file is gone 500, deleted 404.
func TestExportDownloadStatuses(t *testing.T) {
	x := newExportEnv(t, false)
	ctx := context.Background()
	mk := func(status, path string) string {
		j, err := x.store.CreateExportJob(ctx, store.ExportJob{UUID: newUUID(t), TenantUUID: tenantA, Status: status, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return j.UUID
	}
	zipFile := filepath.Join(t.TempDir(), "x.zip")
	os.WriteFile(zipFile, []byte("PK zip"), 0o600)
	for _, tc := range []struct {
		status, path string
		code         int
		errorID      string
	}{
		{store.ExportPending, "", 202, "export-not-done-yet"},
		{store.ExportProcessing, "", 202, "export-not-done-yet"},
		{store.ExportError, "", 500, "export-error"},
		{store.ExportFinished, filepath.Join(t.TempDir(), "gone.zip"), 500, "export-filesystem-not-found"},
		{store.ExportDeleted, "", 404, "export-not-found-with-given-uuid"},
		{store.ExportFinished, zipFile, 200, ""},
	} {
		id := mk(tc.status, tc.path)
		r := x.call("GET", "/api/call-logd/1.0/exports/"+id+"/download", x.tokens["adminA"], "")
		if tc.errorID == "" {
			if r.status != 200 || string(r.body) != "PK zip" {
				t.Fatalf("%s: %d %s", tc.status, r.status, r.body)
			}
			continue
		}
		wantError(t, r, tc.code, tc.errorID)
		if d, _ := r.json(t)["details"].(map[string]any); d["export_uuid"] != id {
			t.Errorf("%s: details %v", tc.status, d)
		}
		if st := x.call("GET", "/api/call-logd/1.0/exports/"+id, x.tokens["adminA"], ""); st.json(t)["status"] != tc.status {
			t.Errorf("status %s: %s", tc.status, st.body)
		}
	}
}

// Another tenant's export is Wazo's 404, by header, by ?tenant= and for
// a system token acting as the other tenant.
func TestExportCrossTenant404(t *testing.T) {
	x := newExportEnv(t)
	r := x.post("", "{}")
	id, _ := r.json(t)["uuid"].(string)
	x.wait(id)
	for _, tc := range []struct {
		path  string
		token string
		hdr   []string
	}{
		{"/api/call-logd/1.0/exports/" + id, x.tokens["adminB"], nil},
		{"/api/call-logd/1.0/exports/" + id + "/download", x.tokens["adminB"], nil},
		{"/api/call-logd/1.0/exports/" + id + "/download?tenant=" + tenantB + "&token=" + x.tokens["system"], "", nil},
		{"/api/call-logd/1.0/exports/" + id, x.tokens["system"], []string{"Wazo-Tenant", tenantB}},
		{"/api/call-logd/1.0/exports/not-a-uuid", x.tokens["adminA"], nil},
	} {
		r := x.call("GET", tc.path, tc.token, "", tc.hdr...)
		wantError(t, r, 404, "export-not-found-with-given-uuid")
		if strings.Contains(string(r.body), tenantA) {
			t.Errorf("%s: leaks: %s", tc.path, r.body)
		}
	}
	// The owner by query string, as Wazo's e-mail link and client do.
	if r := x.call("GET", "/api/call-logd/1.0/exports/"+id+"/download?tenant="+tenantA+"&token="+x.tokens["system"], "", ""); r.status != 200 {
		t.Fatalf("?tenant=&token=: %d %s", r.status, r.body)
	}
}

func newUUID(t *testing.T) string {
	t.Helper()
	return uuid.NewString()
}

// exportTenancyCases are the export routes' rows of tenancyTable: A's
// export and schedule exist; B must not see or touch them.
func exportTenancyCases(ev *env) map[string]tenancyCase {
	ctx := context.Background()
	zipFile := filepath.Join(ev.t.TempDir(), "a.zip")
	if err := os.WriteFile(zipFile, []byte("PK A's export"), 0o600); err != nil {
		ev.t.Fatal(err)
	}
	j, err := ev.store.CreateExportJob(ctx, store.ExportJob{UUID: uuid.NewString(), TenantUUID: tenantA,
		Status: store.ExportFinished, Path: zipFile, UserUUID: userOlga})
	if err != nil {
		ev.t.Fatal(err)
	}
	sc, err := ev.store.CreateExportSchedule(ctx, store.ExportSchedule{UUID: uuid.NewString(), TenantUUID: tenantA,
		Name: "Olga weekly", Cron: "22 1 * * 1", Period: store.PeriodPreviousWeek, Enabled: true})
	if err != nil {
		ev.t.Fatal(err)
	}
	cl, sp := "/api/call-logd/1.0", "/api/callrecd/1.0/export-schedules"
	notFound := "export-not-found-with-given-uuid"
	body := `{"name":"NEWNAME","cron":"@weekly","window":"previous_week"}`
	return map[string]tenancyCase{
		// B's own calls: an export of B's recording, never A's.
		"POST " + cl + "/cdr/recordings/media/export":  {path: cl + "/cdr/recordings/media/export", body: "{}", want: "own"},
		"GET " + cl + "/exports/:export_uuid":          {path: cl + "/exports/" + j.UUID, want: 404, errorID: notFound},
		"GET " + cl + "/exports/:export_uuid/download": {path: cl + "/exports/" + j.UUID + "/download", want: 404, errorID: notFound},
		"GET /api/callrecd/1.0/exports":                {path: "/api/callrecd/1.0/exports", want: "list"},
		"GET " + sp:                                    {path: sp, want: "list"},
		"POST " + sp:                                   {path: sp, body: body, want: "own"},
		"GET " + sp + "/:schedule_uuid":                {path: sp + "/" + sc.UUID, want: 404},
		"PUT " + sp + "/:schedule_uuid":                {path: sp + "/" + sc.UUID, body: body, want: 404},
		"DELETE " + sp + "/:schedule_uuid":             {path: sp + "/" + sc.UUID, want: 404},
	}
}
