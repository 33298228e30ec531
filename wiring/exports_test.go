package wiring

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

// xclock is the injected clock (engine.Clock).
type xclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *xclock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *xclock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// exportSite is callrecd built by Build with exports configured: an SMTP
// server and a webhook on loopback, and a weekly schedule in the
// configuration, in a folder that survives a restart.
type exportSite struct {
	t      *testing.T
	dir    string
	cfg    config.Config
	clock  *xclock
	mail   chan string
	hooks  chan export.Webhook
	client *http.Client
}

func newExportSite(t *testing.T) *exportSite {
	t.Helper()
	x := &exportSite{t: t, dir: t.TempDir(), clock: &xclock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		mail: make(chan string, 8), hooks: make(chan export.Webhook, 8), client: &http.Client{Timeout: 30 * time.Second}}
	host, port := startSMTP(t, x.mail)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wh export.Webhook
		if err := json.NewDecoder(r.Body).Decode(&wh); err == nil {
			x.hooks <- wh
		}
	}))
	t.Cleanup(hook.Close)
	cfg := config.Default()
	cfg.PBX.Asterisk = config.Asterisk{URL: "http://127.0.0.1:9/ari", Username: "u", Password: "p", App: "callrecd",
		RecordingSpool: filepath.Join(x.dir, "spool")}
	cfg.Storage = config.Storage{Root: filepath.Join(x.dir, "recordings"), MinFree: "1MiB"}
	cfg.Database.Path = filepath.Join(x.dir, "callrecd.db")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.PublicURL = "https://pbx.example.com"
	cfg.Tenants = []config.Tenant{{UUID: tenant, Name: "Acme", Default: true}}
	cfg.SMTP = config.SMTP{Host: host, Port: port, From: "callrecd <callrecd@example.com>", TLS: "none"}
	cfg.Exports.Dir = filepath.Join(x.dir, "exports")
	cfg.Exports.Webhook = hook.URL
	cfg.Exports.Schedules = []config.Schedule{{Name: "weekly-compliance", Tenant: tenant, Cron: "22 1 * * 1",
		Period: "previous_week", Email: "compliance@example.com", Directory: filepath.Join(x.dir, "compliance")}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	x.cfg = cfg
	return x
}

// start builds and runs callrecd until the returned stop is called (or
// the test ends), serving on a fresh loopback port.
func (x *exportSite) start() (*System, string, func()) {
	x.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		x.t.Fatal(err)
	}
	sys, err := Build(context.Background(), x.cfg, Options{Listener: ln, Clock: x.clock,
		Statfs: func(string) (media.Space, error) { return media.Space{Free: 100 << 30, Total: 200 << 30}, nil }})
	if err != nil {
		x.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = sys.Run(ctx); close(stopped) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-stopped; sys.Close() }) }
	x.t.Cleanup(stop)
	return sys, "http://" + ln.Addr().String(), stop
}

// addRecording indexes a call at start with a WAV file and returns its
// entry name in an export.
func (x *exportSite) addRecording(sys *System, start time.Time, seed int) (string, []byte) {
	x.t.Helper()
	ctx := context.Background()
	c, err := sys.Store.CreateCall(ctx, store.Call{TenantUUID: tenant, PBXCallID: uuid.NewString(), Start: start,
		End: ptrTime(start.Add(time.Minute)), Direction: store.DirectionInbound, SourceExtension: "0612345678",
		DestinationExtension: "1001"})
	if err != nil {
		x.t.Fatal(err)
	}
	s := make([]int16, 4000)
	for i := range s {
		s[i] = int16(i * seed % 2000)
	}
	var b bytes.Buffer
	if err := media.WritePCM16(&b, 8000, 1, s); err != nil {
		x.t.Fatal(err)
	}
	ru := uuid.NewString()
	name, err := recording.Name{Start: start, CallID: c.ID, RecordingUUID: ru, Format: recording.WAV}.FileName()
	if err != nil {
		x.t.Fatal(err)
	}
	dir := filepath.Join(sys.Root, "tenants", tenant, "monitor")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		x.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o640); err != nil {
		x.t.Fatal(err)
	}
	if err := sys.Store.CreateRecording(ctx, store.Recording{UUID: ru, CallID: c.ID, TenantUUID: tenant, Start: start,
		End: ptrTime(start.Add(time.Minute)), Filename: name, Format: "wav", Size: int64(b.Len()),
		State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}); err != nil {
		x.t.Fatal(err)
	}
	return fmt.Sprintf("%d/%s", c.ID, name), b.Bytes()
}

func ptrTime(t time.Time) *time.Time { return &t }

func (x *exportSite) token(sys *System) string {
	x.t.Helper()
	_, plain, err := sys.Store.CreateToken(context.Background(), store.Token{Role: store.RoleAdmin, TenantUUID: tenant})
	if err != nil {
		x.t.Fatal(err)
	}
	return plain
}

func (x *exportSite) get(u, token string) (int, http.Header, []byte) {
	x.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	res, err := x.client.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// waitStatus polls an export's status over the API until it is done.
func (x *exportSite) waitStatus(base, token, id string) map[string]any {
	x.t.Helper()
	for i := 0; i < 2000; i++ {
		code, _, b := x.get(base+"/api/call-logd/1.0/exports/"+id, token)
		var m map[string]any
		if code != 200 || json.Unmarshal(b, &m) != nil {
			x.t.Fatalf("status: %d %s", code, b)
		}
		if m["status"] != store.ExportPending && m["status"] != store.ExportProcessing {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
	x.t.Fatalf("export %s still running", id)
	return nil
}

func zipEntries(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	p := filepath.Join(t.TempDir(), "x.zip")
	os.WriteFile(p, data, 0o600)
	if out, err := exec.Command("unzip", "-t", p).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
	return out
}

// On callrecd as serve builds it: the seed's export with email= over HTTP,
// the e-mail received by the SMTP server on loopback, its link downloading
// the zip without any other token, and the webhook told.
func TestExportEmailLinkAndWebhookThroughBuild(t *testing.T) {
	x := newExportSite(t)
	sys, base, _ := x.start()
	entry, data := x.addRecording(sys, time.Date(2024, 4, 20, 10, 0, 0, 0, time.UTC), 3)
	tok := x.token(sys)
	req, _ := http.NewRequest("POST", base+"/api/call-logd/1.0/cdr/recordings/media/export?from=2024-04-01T00%3A00%3A00-0500&until=2024-05-01T00%3A00%3A00-0500&recurse=false&email=boss%40example.com",
		strings.NewReader("{}"))
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := x.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created map[string]string
	json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if res.StatusCode != 202 || created["uuid"] == "" {
		t.Fatalf("POST: %d %v", res.StatusCode, created)
	}
	id := created["uuid"]
	if st := x.waitStatus(base, tok, id); st["status"] != "finished" || st["notify_error"] != nil {
		t.Fatalf("status %v", st)
	}
	msg := <-x.mail
	if !strings.Contains(msg, "Subject: Your export is ready") || !strings.Contains(msg, "boss@example.com") {
		t.Fatalf("mail:\n%s", msg)
	}
	i := strings.Index(msg, "https://pbx.example.com/api/call-logd/1.0/exports/"+id+"/download?")
	if i < 0 {
		t.Fatalf("no link:\n%s", msg)
	}
	link, err := url.Parse(strings.Fields(msg[i:])[0])
	if err != nil {
		t.Fatal(err)
	}
	code, hdr, body := x.get(base+link.RequestURI(), "") // the link alone, on this server
	if code != 200 || hdr.Get("Content-Type") != "application/zip" {
		t.Fatalf("link download: %d %s", code, body)
	}
	if got := zipEntries(t, body)[entry]; !bytes.Equal(got, data) {
		t.Fatalf("zip entry %s: %d bytes", entry, len(got))
	}
	if wh := <-x.hooks; wh.Event != "export.finished" || wh.Export.UUID != id {
		t.Fatalf("webhook %+v", wh)
	}
}

// The configuration's weekly schedule, through Build: fired by the
// injected clock after a downtime that spanned its Monday, it runs once at
// start-up (catch-up) with the previous Monday-to-Monday week, copies the
// zip into its directory and e-mails; a restart does not run it again.
func TestScheduleCatchUpAtStartThroughBuild(t *testing.T) {
	x := newExportSite(t)
	sys, _, stop := x.start()                                                       // Wednesday 1 May: the schedule is registered
	in, data := x.addRecording(sys, time.Date(2024, 5, 8, 9, 0, 0, 0, time.UTC), 1) // week of Monday 6 May
	x.addRecording(sys, time.Date(2024, 5, 13, 9, 0, 0, 0, time.UTC), 2)            // the next week: out
	stop()

	x.clock.set(time.Date(2024, 5, 15, 8, 0, 0, 0, time.UTC)) // down over Monday 13 May 01:22
	sys, base, stop := x.start()
	tok := x.token(sys)
	var jobs []store.ExportJob
	for i := 0; i < 2000 && len(jobs) == 0; i++ {
		jobs, _ = sys.Store.ListExportJobs(context.Background(), tenant, store.Page{})
		if len(jobs) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if len(jobs) != 1 || jobs[0].ScheduleUUID == "" {
		t.Fatalf("catch-up jobs %+v", jobs)
	}
	st := x.waitStatus(base, tok, jobs[0].UUID)
	if st["status"] != "finished" || st["files_done"] != 1.0 || st["notify_error"] != nil {
		t.Fatalf("status %v", st)
	}
	f, _ := export.ParseFilter(jobs[0].Query)
	if !f.From.Equal(time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)) || !f.Until.Equal(time.Date(2024, 5, 13, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("window %s .. %s", f.From, f.Until)
	}
	copyPath := filepath.Join(x.dir, "compliance", export.Filename(jobs[0]))
	copied, err := os.ReadFile(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := zipEntries(t, copied)[in]; !bytes.Equal(got, data) {
		t.Fatalf("the copy lacks %s", in)
	}
	if msg := <-x.mail; !strings.Contains(msg, "compliance@example.com") {
		t.Fatalf("mail %s", msg)
	}
	stop()
	sys, _, stop = x.start() // same moment: nothing to catch up any more
	defer stop()
	if made, err := sys.Exports.Tick(context.Background()); err != nil || len(made) != 0 {
		t.Fatalf("after a restart a tick made %d (%v)", len(made), err)
	}
	if jobs, _ := sys.Store.ListExportJobs(context.Background(), tenant, store.Page{}); len(jobs) != 1 {
		t.Fatalf("%d jobs after a restart", len(jobs))
	}
}

// A job that a stopped callrecd left processing is built at the next
// start, through Build: never left processing.
func TestInterruptedJobResumesAfterRestartThroughBuild(t *testing.T) {
	x := newExportSite(t)
	x.cfg.Exports.Schedules = nil
	sys, _, stop := x.start()
	x.addRecording(sys, time.Date(2024, 4, 20, 10, 0, 0, 0, time.UTC), 5)
	stop()
	// What a crash mid-export leaves: the row processing.
	st, err := store.Open(context.Background(), x.cfg.Database.Path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := st.CreateExportJob(context.Background(), store.ExportJob{UUID: uuid.NewString(), TenantUUID: tenant,
		Status: store.ExportProcessing, Attempts: 1, Query: []byte(`{}`)})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	sys, base, _ := x.start()
	got := x.waitStatus(base, x.token(sys), j.UUID)
	if got["status"] != "finished" || got["files_done"] != 1.0 {
		t.Fatalf("resumed job %v", got)
	}
}

// startSMTP runs a minimal SMTP server on loopback; each message goes to
// msgs.
func startSMTP(t *testing.T, msgs chan string) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(c, msgs)
		}
	}()
	a := ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func serveSMTP(c net.Conn, msgs chan string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	say := func(s string) { io.WriteString(c, s+"\r\n") }
	say("220 test")
	for n := 0; n < 100; n++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch strings.ToUpper(strings.Fields(line + " x")[0]) {
		case "EHLO", "HELO":
			say("250 test")
		case "DATA":
			say("354 go on")
			var m strings.Builder
			for k := 0; k < 10000; k++ {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				m.WriteString(l)
			}
			msgs <- m.String()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}
