//go:build lab

// Package integration runs callrecd in-process, built by wiring.Build as
// `callrecd serve` builds it, against the real Asterisk 22 lab
// (scripts/asterisk-lab up, as root), one test per user story; a few
// stories run the real binary (serve_test.go). The tests FAIL, never skip,
// when the lab is down.
//
//	go test -tags lab -count=1 -p 1 ./integration/
package integration

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/executor"
	"github.com/callrecd/callrecd/internal/lab"
	"github.com/callrecd/callrecd/store"
	"github.com/callrecd/callrecd/wiring"
	"github.com/google/uuid"
)

const tenantID = "5b1f6a0e-3c2d-4e8f-9a7b-6c5d4e3f2a1b"

var featureCodes = map[string]string{"callrecord": "*26", "onlinerec": "*3", "pauserecord": "*48", "resumerecord": "*49"}

// userFlags are a user's recording settings in a test.
type userFlags struct {
	outInt, outExt, inInt, inExt, online bool
}

type env struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	dbPath string
	drv    *lab.Driver
	spool  string
	// spoolSetting, if set, is recording_spool instead of spool (a
	// callrecd that cannot see the chroot's spool).
	spoolSetting string
	root         string
	ariURL       string
	users        map[string]store.User
	tones        map[string]int
	logBuf       *syncBuf
	// watchdog is the adapter's WatchdogInterval (0: 1 s).
	watchdog time.Duration
	// sipTrusted is sip.trusted_networks of callrecd's SIP listener.
	sipTrusted []string

	mu   sync.Mutex
	link *link
}

type link struct {
	sys    *wiring.System
	cancel context.CancelFunc
	done   chan struct{}
}

type syncBuf struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// newEnv checks the lab, opens a fresh index with tenant acme and users
// 1001..1004 (flags per extension), connects the lab driver and starts
// callrecd's PBX link.
func newEnv(t *testing.T, flags map[string]userFlags) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	if err := lab.CheckUp(ctx); err != nil {
		t.Fatalf("the Asterisk lab is not up (scripts/asterisk-lab up): %v", err)
	}
	astroot, err := lab.ASTRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "callrecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureTenant(ctx, tenantID, "acme", featureCodes); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, st: st, dbPath: filepath.Join(dir, "callrecd.db"), spool: filepath.Join(astroot, "var/spool/asterisk/recording"),
		root: filepath.Join(dir, "recordings"), ariURL: "http://127.0.0.1:8088", users: map[string]store.User{},
		tones: lab.DefaultTones(), logBuf: &syncBuf{}}
	if err := os.MkdirAll(e.root, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"1001", "1002", "1003", "1004"} {
		f := flags[ext]
		u, err := st.CreateUser(ctx, store.User{UUID: uuid.NewString(), TenantUUID: tenantID, Extension: ext,
			Firstname: "User", Lastname: ext, Endpoints: []string{ext}, RecordAudio: true,
			CallRecordOutgoingInternalEnabled: f.outInt, CallRecordOutgoingExternalEnabled: f.outExt,
			CallRecordIncomingInternalEnabled: f.inInt, CallRecordIncomingExternalEnabled: f.inExt,
			OnlineCallRecordEnabled: f.online})
		if err != nil {
			t.Fatal(err)
		}
		e.users[ext] = u
	}
	e.drv, err = lab.NewDriver(ctx, lab.DefaultDriverConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.drv.Close() })
	e.start()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("callrecd log:\n%s", e.logBuf.String())
		}
	})
	return e
}

// start runs a fresh callrecd on the store's database file, built as
// `callrecd serve` builds it, and waits for its first re-sync. The harness
// controls only the ports, the folders and the watchdog's pace.
func (e *env) start() {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(e.logBuf), &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.Default()
	cfg.PBX.Asterisk = config.Asterisk{URL: e.ariURL + "/ari", Username: "recorder", Password: "secret", App: "callrecd",
		RecordingSpool: cmp.Or(e.spoolSetting, e.spool)}
	cfg.PBX.RequestTimeout, cfg.PBX.ConnectTimeout, cfg.PBX.ReconnectMaxBackoff = 3*time.Second, 2*time.Second, 500*time.Millisecond
	cfg.Storage = config.Storage{Root: e.root, MinFree: "100MiB"}
	cfg.Database.Path = e.dbPath
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Tenants = []config.Tenant{{UUID: tenantID, Name: "acme", EndpointPrefixes: []string{"100"}, Default: true}}
	cfg.Trunks.Endpoints = []string{"carrier"}
	// callrecd's own SIP listener on free loopback ports (sipctl_test.go reads them from sys.SIP).
	cfg.SIP = config.SIPConfig{Enabled: true, ListenUDP: "127.0.0.1:0", ListenTCP: "127.0.0.1:0", Realm: "callrecd-lab",
		TrustedNetworks: e.sipTrusted}
	if err := cfg.Validate(); err != nil {
		e.t.Fatal(err)
	}
	sys, err := wiring.Build(e.ctx, cfg, wiring.Options{Logger: log, TuneARI: func(c *ari.Config) {
		c.WatchdogInterval, c.WatchdogTimeout = cmp.Or(e.watchdog, time.Second), 2*time.Second // exercised by every story
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &link{sys: sys, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer sys.Close()
		if err := sys.Run(ctx); err != nil {
			log.Error("callrecd stopped with an error", "err", err)
		}
	}()
	e.mu.Lock()
	e.link = l
	e.mu.Unlock()
	e.eventually(10*time.Second, "callrecd connected and re-synced", func() bool {
		return sys.Ready() == nil && sys.ARI.Stream().Pending() == 0
	})
	time.Sleep(100 * time.Millisecond)
}

// stop kills the PBX link (as a crash would: nothing is told to the PBX).
func (e *env) stop() {
	e.mu.Lock()
	l := e.link
	e.link = nil
	e.mu.Unlock()
	if l != nil {
		l.cancel()
		<-l.done
	}
}

// calls is the running callrecd's call control (the API's).
func (e *env) calls() *executor.Executor {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.link.sys.Executor
}

func (e *env) eventually(within time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call has phone from dial number and waits until callee (the party that
// rings on the peer: a phone, or the external number) and caller are up.
func (e *env) call(from, number, callee string) (caller, answered *lab.Party) {
	e.t.Helper()
	c, err := e.drv.CallPhone(e.ctx, from, number)
	return e.answered(c, err, callee)
}

// inbound: the carrier calls DID did; phone callee answers.
func (e *env) inbound(did, callee string) (carrier, phone *lab.Party) {
	e.t.Helper()
	c, err := e.drv.CallFromCarrier(e.ctx, "+4915112345678", did)
	return e.answered(c, err, callee)
}

// answered waits until the placed call c (err: placing it failed) rings at
// callee on the peer and both sides are up.
func (e *env) answered(c *lab.Party, err error, callee string) (caller, answered *lab.Party) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	in, err := e.drv.Incoming(e.ctx, callee)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := in.WaitUp(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := c.WaitUp(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	return c, in
}

// noRecordingAfterHangup gives a late start time to show, then asserts
// that the call left no recording.
func (e *env) noRecordingAfterHangup() {
	e.t.Helper()
	time.Sleep(500 * time.Millisecond)
	if rs := e.recordings(); len(rs) != 0 {
		e.t.Fatalf("recorded, but must not be: %+v", rs)
	}
}

func (e *env) hangup(p *lab.Party) {
	e.t.Helper()
	if err := p.Hangup(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) dtmf(p *lab.Party, digits string) {
	e.t.Helper()
	if err := p.SendDTMF(e.ctx, digits, true); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) recordings() []store.Recording {
	e.t.Helper()
	rs, err := e.st.ListRecordings(e.ctx, store.RecordingFilter{Tenant: tenantID})
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// waitRecording waits until the n-th recording row (by start) exists.
func (e *env) waitRecording(n int) store.Recording {
	e.t.Helper()
	var rs []store.Recording
	e.eventually(5*time.Second, fmt.Sprintf("recording #%d", n+1), func() bool {
		rs = e.recordings()
		return len(rs) > n
	})
	return rs[n]
}

// finished waits until recording id is stopped (or failed) and its file is
// in the layout, and returns the row and the decoded WAV.
func (e *env) finished(id string) (store.Recording, *lab.WAV) {
	e.t.Helper()
	var r store.Recording
	e.eventually(10*time.Second, "recording "+id+" stopped with its file in place", func() bool {
		var err error
		r, err = e.st.GetRecording(e.ctx, tenantID, id)
		return err == nil && !r.Live() && r.SHA256 != ""
	})
	w, err := lab.ReadWAV(filepath.Join(e.root, "tenants", tenantID, "monitor", r.Filename))
	if err != nil {
		e.t.Fatal(err)
	}
	if !w.Complete() {
		e.t.Errorf("WAV header does not match its data")
	}
	if _, err := os.Stat(filepath.Join(e.spool, id+".wav")); !os.IsNotExist(err) {
		e.t.Errorf("the spool file is still there: %v", err)
	}
	return r, w
}

// recordedSpan is how long the row says audio was recorded: end - start -
// paused.
func recordedSpan(r store.Recording) time.Duration {
	if r.End == nil {
		return 0
	}
	d := r.End.Sub(r.Start)
	for _, p := range r.PausedIntervals {
		if p.End != nil {
			d -= p.End.Sub(p.Start)
		}
	}
	return d
}

func near(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if diff := got - want; diff > tol || diff < -tol {
		t.Errorf("%s = %s, want %s ± %s", what, got.Round(10*time.Millisecond), want.Round(10*time.Millisecond), tol)
	}
}

// tonesPresent checks who is audible in the file: present parties for at
// least minSec each, absent ones for at most 0.3 s.
func (e *env) tonesPresent(w *lab.WAV, minSec float64, present []string, absent []string) {
	e.t.Helper()
	var freqs []int
	for _, p := range append(append([]string{}, present...), absent...) {
		freqs = append(freqs, e.tones[p])
	}
	rep := w.Tones(freqs...)
	e.t.Logf("tones: %s", rep)
	for _, p := range present {
		if s := rep.Seconds(e.tones[p]); s < minSec {
			e.t.Errorf("party %s (%d Hz) audible %.2f s, want >= %.2f s; %s", p, e.tones[p], s, minSec, rep)
		}
	}
	for _, p := range absent {
		if s := rep.Seconds(e.tones[p]); s > 0.3 {
			e.t.Errorf("party %s (%d Hz) audible %.2f s, want none; %s", p, e.tones[p], s, rep)
		}
	}
}

// proxy is a TCP relay in front of the PBX's ARI that a test can cut.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	down   bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { io.Copy(c, u); c.Close() }()
	}
}

// cut drops every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
