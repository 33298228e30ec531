package export

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
)

const (
	tenantA = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	tenantB = "8f0b5b1e-5d1c-4c53-9d7e-6a0c1b2d3e4f"
)

// fixture is a real SQLite index and recordings root with calls whose
// WAV files are on disk.
type fixture struct {
	t    *testing.T
	st   *store.Store
	root string
	dir  string // exports
	now  time.Time
	mu   sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	base := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(base, "callrecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []string{tenantA, tenantB} {
		tt := store.NewTenant(tn, "tenant "+tn[:4])
		tt.Timezone = "Europe/Paris"
		if _, err := st.CreateTenant(ctx, tt, nil); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{t: t, st: st, root: filepath.Join(base, "recordings"), dir: filepath.Join(base, "exports"),
		now: time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC)}
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) setNow(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

// wav is a small WAV file whose samples depend on seed (each file differs).
func wav(t *testing.T, seed, samples int) []byte {
	t.Helper()
	s := make([]int16, samples)
	for i := range s {
		s[i] = int16((i*seed + seed) % 3000)
	}
	var b bytes.Buffer
	if err := media.WritePCM16(&b, 8000, 1, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// addCall indexes an inbound call of tenant at start with one stopped
// recording whose file holds data (nil: no file on disk).
func (f *fixture) addCall(tenant string, start time.Time, data []byte, mut ...func(*store.Recording)) (store.Call, store.Recording) {
	f.t.Helper()
	return f.addCallDir(tenant, start, store.DirectionInbound, data, mut...)
}

func (f *fixture) addCallDir(tenant string, start time.Time, dir string, data []byte, mut ...func(*store.Recording)) (store.Call, store.Recording) {
	f.t.Helper()
	ctx := context.Background()
	c, err := f.st.CreateCall(ctx, store.Call{TenantUUID: tenant, PBXCallID: uuid.NewString(), Start: start,
		End: ptr(start.Add(time.Minute)), Direction: dir, SourceExtension: "+33612345678",
		SourceName: "Caller", DestinationExtension: "1001", DestinationName: "Olga Romanov", Tags: []string{"sales"}})
	if err != nil {
		f.t.Fatal(err)
	}
	ru := uuid.NewString()
	name, err := recording.Name{Start: start, CallID: c.ID, RecordingUUID: ru, Format: recording.WAV}.FileName()
	if err != nil {
		f.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	r := store.Recording{UUID: ru, CallID: c.ID, TenantUUID: tenant, Start: start, End: ptr(start.Add(time.Minute)),
		Filename: name, Format: string(recording.WAV), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		State: string(recording.StateStopped), StartedBy: string(recording.ByPolicy)}
	for _, m := range mut {
		m(&r)
	}
	if err := f.st.CreateRecording(ctx, r); err != nil {
		f.t.Fatal(err)
	}
	if data != nil {
		dir := filepath.Join(f.root, "tenants", tenant, "monitor")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, r.Filename), data, 0o640); err != nil {
			f.t.Fatal(err)
		}
	}
	return c, r
}

func ptr[T any](v T) *T { return &v }

// service builds a Service over the fixture; done hears every job end.
func (f *fixture) service(cfg Config) (*Service, *doneLog) {
	f.t.Helper()
	done := &doneLog{ch: make(chan store.ExportJob, 64), seen: map[string]store.ExportJob{}}
	cfg.Store, cfg.Root, cfg.Dir, cfg.Now = f.st, f.root, f.dir, f.clock
	if cfg.OnDone == nil {
		cfg.OnDone = func(j store.ExportJob) { done.ch <- j }
	}
	s, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return s, done
}

// doneLog collects job ends, in whatever order they come.
type doneLog struct {
	ch   chan store.ExportJob
	seen map[string]store.ExportJob
}

// wait returns job id once it ended (at most 64 other ends are read).
func (d *doneLog) wait(t *testing.T, id string) store.ExportJob {
	t.Helper()
	for i := 0; i < 64; i++ {
		if j, ok := d.seen[id]; ok {
			return j
		}
		j := <-d.ch
		d.seen[j.UUID] = j
	}
	t.Fatalf("job %s never ended", id)
	return store.ExportJob{}
}

// run starts the service until the test ends.
func run(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = s.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
}

// readZip opens an export and returns each entry's content by name; it
// also checks the archive with the system's unzip -t and that every
// recording entry is Stored.
func readZip(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out, err := exec.Command("unzip", "-t", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Fatalf("unzip -t %s: %v\n%s", path, err, out)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "manifest.") && f.Method != zip.Store {
			t.Errorf("%s: method %d, want Store", f.Name, f.Method)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return files
}

func manifestOf(t *testing.T, files map[string][]byte) Manifest {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	return m
}

// smtpServer is a minimal SMTP server on loopback: it accepts any
// envelope and hands each message to the test.
type smtpServer struct {
	ln   net.Listener
	msgs chan string
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, msgs: make(chan string, 8)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) addr() (string, int) {
	a := s.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = io.WriteString(c, line+"\r\n") }
	say("220 test ESMTP")
	for cmds := 0; cmds < 100; cmds++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO", "HELO":
			say("250-test")
			say("250 8BITMIME")
		case "MAIL", "RCPT", "RSET", "NOOP":
			say("250 ok")
		case "DATA":
			say("354 go on")
			var msg strings.Builder
			for lines := 0; lines < 10000; lines++ {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(strings.TrimPrefix(l, "."))
			}
			s.msgs <- msg.String()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not here")
		}
	}
}
