//go:build browser

package web_test

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/internal/fakeari"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/callrecd/callrecd/wiring"
)

// The site the browser tests drive: callrecd built by wiring.Build from a
// configuration, as `callrecd serve` builds it (a real SQLite file, the
// storage layout, the spool collector, the export service, the API with the
// page), serving HTTP on a loopback port. Its ARI adapter points at a port
// nobody listens on; the calls are PBX events handed to the executor, as
// wiring's own tests do, and each recording's WAV is written where Asterisk
// writes it (<recording_spool>/<uuid>.wav), for the collector to move into
// the layout and index.

const (
	tenantAcme = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"
	userOlga   = "b2e98781-7118-4010-8da3-b93b1b7e1389"
	userAna    = "4f0e3a57-1b7c-4c35-9f57-54d3a0f4e6a2"
	userBob    = "9a7c0a4e-2a35-4d3e-8a55-0d1f7e2b5c11"

	adminPassword = "s3cret-admin-pw"
	olgaPassword  = "s3cret-olga-pw"
)

type site struct {
	t     *testing.T
	dir   string
	spool string
	sys   *wiring.System
	url   string
	// calls are the seeded calls, by CDR id.
	calls map[int64]*seeded
	// systemToken is an API token of role system, for the token sign-in.
	systemToken string
	adminToken  string
	// firstDay is the UTC day of the first seeded calls ("day 20").
	firstDay time.Time
}

// seeded is one call put through the engine, and its recording if any.
type seeded struct {
	id        int64
	spec      callSpec
	recording string  // uuid, "" when not recorded
	seconds   float64 // the WAV's duration
}

// party is one side of a call: a user (by endpoint) or an outside number.
type party struct {
	user     string // user uuid, "" = outside
	endpoint string
	number   string
	name     string
}

var (
	olga     = party{user: userOlga, endpoint: "1001", number: "1001", name: "Olga Petrova"}
	ana      = party{user: userAna, endpoint: "1002", number: "1002", name: "Ana Lima"}
	bob      = party{user: userBob, endpoint: "1003", number: "1003", name: "Bob Stone"}
	supplier = party{number: "+4915112345678", name: "ACME Supplies"}
	mobile   = party{number: "0612345678", name: ""}
	bank     = party{number: "+33140000000", name: "Banque Centrale"}
)

// callSpec is a call: who calls whom, when, how long they talk, and the
// optional pause (*48 … *49) its user dials during it. The seeded calls
// are on four days, numbered 20 to 23 (see site.day).
type callSpec struct {
	at             time.Time
	from, to       party
	talk           float64 // seconds from answer to hang-up
	pauseAt, pause float64 // seconds after answer; 0 = no pause
	tone           float64 // Hz of the recording's tone
	// format: the tenant's recording format while the call starts ("" =
	// the tenant's own, WAV); the collector transcodes after the call.
	format recording.Format
}

func newSite(t *testing.T) *site { return buildSite(t, false) }

// newLiveSite is the site with no calls yet and an ARI that accepts every
// command (fakeARI), for calls that go on while the page watches.
func newLiveSite(t *testing.T) *site { return buildSite(t, true) }

func buildSite(t *testing.T, live bool) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir, spool: filepath.Join(dir, "spool"), calls: map[int64]*seeded{}}
	if err := os.MkdirAll(s.spool, 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	ariURL := "http://127.0.0.1:9/ari"
	opts := wiring.Options{Statfs: func(string) (media.Space, error) { return media.Space{Free: 100 << 30, Total: 200 << 30}, nil }}
	if live {
		ariURL = fakeari.AcceptsEverything(t) + "/ari"
		// A snoop never enters the application (no events come from the fake):
		// the start waits, as on a PBX slow to confirm, and the test confirms it.
		opts.TuneARI = func(c *ari.Config) { c.SnoopWait, c.FinishWait = 10*time.Minute, 10*time.Minute }
	}
	cfg.PBX.Asterisk = config.Asterisk{URL: ariURL, Username: "u", Password: "p", App: "callrecd",
		RecordingSpool: s.spool}
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "1MiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Exports.Dir = filepath.Join(dir, "exports")
	cfg.Tenants = []config.Tenant{{UUID: tenantAcme, Name: "Acme", Default: true}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = ln
	sys, err := wiring.Build(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.sys, s.url = sys, "http://"+ln.Addr().String()
	s.seedAccounts()
	if !live {
		s.seedCalls()
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = sys.Run(ctx); close(stopped) }()
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { cancel(); <-stopped; sys.Close() }) })
	s.waitFilesIndexed()
	return s
}

// seedAccounts creates the users, the accounts and the tokens.
func (s *site) seedAccounts() {
	ctx := context.Background()
	st := s.sys.Store
	for _, u := range []store.User{
		{UUID: userOlga, TenantUUID: tenantAcme, Firstname: "Olga", Lastname: "Petrova", Extension: "1001",
			Endpoints: []string{"1001"}, CallRecordIncomingExternalEnabled: true, CallRecordOutgoingInternalEnabled: true,
			OnlineCallRecordEnabled: true},
		{UUID: userAna, TenantUUID: tenantAcme, Firstname: "Ana", Lastname: "Lima", Extension: "1002",
			Endpoints: []string{"1002"}, CallRecordOutgoingExternalEnabled: true, OnlineCallRecordEnabled: true},
		{UUID: userBob, TenantUUID: tenantAcme, Firstname: "Bob", Lastname: "Stone", Extension: "1003",
			Endpoints: []string{"1003"}},
	} {
		if _, err := st.CreateUser(ctx, u); err != nil {
			s.t.Fatal(err)
		}
	}
	for _, a := range []struct {
		acc      store.Account
		password string
	}{
		{store.Account{Username: "admin", Role: store.RoleAdmin, TenantUUID: tenantAcme}, adminPassword},
		{store.Account{Username: "olga", Role: store.RoleUser, TenantUUID: tenantAcme, UserUUID: userOlga}, olgaPassword},
	} {
		if _, err := st.CreateAccount(ctx, a.acc, a.password); err != nil {
			s.t.Fatalf("account %s: %v", a.acc.Username, err)
		}
	}
	var err error
	if _, s.systemToken, err = st.CreateToken(ctx, store.Token{Role: store.RoleSystem, Description: "browser test"}); err != nil {
		s.t.Fatal(err)
	}
	if _, s.adminToken, err = st.CreateToken(ctx, store.Token{Role: store.RoleAdmin, TenantUUID: tenantAcme,
		Description: "browser test checks"}); err != nil {
		s.t.Fatal(err)
	}
}

// seedCalls puts the calls through the engine. It runs before the system
// does: the ARI adapter's commands (to a PBX that is not there) fail with
// no handler to tell, as in wiring's tests, and the recordings' rows are
// what the engine decided from the events.
func (s *site) seedCalls() {
	// Four days before today (UTC), in the dashboard's 30 days whenever the test runs.
	now := time.Now().UTC()
	s.firstDay = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -4)
	day := func(d, h, m int) time.Time {
		return s.firstDay.AddDate(0, 0, d-20).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	specs := []callSpec{
		{at: day(20, 9, 5), from: supplier, to: olga, talk: 4.2, tone: 440},
		{at: day(20, 10, 30), from: ana, to: mobile, talk: 6.6, tone: 523},
		{at: day(20, 11, 0), from: olga, to: ana, talk: 3.4, tone: 330},
		{at: day(20, 14, 12), from: bob, to: mobile, talk: 5}, // nobody records Bob's calls
		{at: day(21, 8, 45), from: bank, to: olga, talk: 7.5, pauseAt: 2, pause: 2.5, tone: 392},
		{at: day(21, 9, 20), from: ana, to: bank, talk: 2.6, tone: 587},
		{at: day(21, 13, 3), from: supplier, to: olga, talk: 5.8, tone: 494},
		{at: day(21, 16, 40), from: ana, to: supplier, talk: 3.9, tone: 659},
		{at: day(22, 9, 0), from: olga, to: ana, talk: 4.7, tone: 349},
		{at: day(22, 10, 15), from: mobile, to: olga, talk: 2.2, tone: 415},
		{at: day(22, 11, 30), from: ana, to: mobile, talk: 8.1, tone: 466},
		{at: day(22, 15, 5), from: bob, to: ana, talk: 3},
		{at: day(23, 9, 10), from: supplier, to: olga, talk: 3.1, tone: 370},
		{at: day(23, 12, 0), from: ana, to: bank, talk: 5.3, tone: 554, format: recording.AMR},
	}
	for i, sp := range specs {
		s.call(i, sp)
	}
	for _, c := range s.calls {
		if c.recording == "" {
			continue
		}
		end := time.Now().Add(10 * time.Second)
		for !s.sys.ARI.Idle(c.recording) { // its queued (failing) PBX commands are done
			if time.Now().After(end) {
				s.t.Fatalf("recording %s: the ARI adapter's commands never finished", c.recording)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// call puts one call through the executor as the ARI adapter would hand
// over its events: both legs, answer, bridge, the recording the engine asks
// for starts, the optional *48/*49, hang-up, the recording finishes.
func (s *site) call(n int, sp callSpec) {
	ctx := context.Background()
	x := s.sys.Executor
	id := "call-" + strconv.Itoa(n)
	leg := func(p party, suffix string) engine.ChannelCreated {
		ev := engine.ChannelCreated{At: sp.at, Channel: id + suffix, CallID: "pbx-" + id, Tenant: tenantAcme,
			Endpoint: "carrier", Role: engine.RoleExternal, CallerNumber: sp.from.number, CallerName: sp.from.name,
			CalleeNumber: sp.to.number}
		if p.user != "" {
			ev.Endpoint, ev.Role = p.endpoint, engine.RoleInternal
		}
		return ev
	}
	answer := sp.at.Add(3 * time.Second)
	at := func(sec float64) time.Time { return answer.Add(time.Duration(sec * float64(time.Second))) }
	before := s.recordings()
	if sp.format != "" { // the tenant records in this format while the call starts
		restore := s.setFormat(sp.format)
		defer restore()
	}
	for _, ev := range []engine.Event{
		leg(sp.from, "-a"), leg(sp.to, "-b"),
		engine.ChannelAnswered{At: answer, Channel: id + "-b"},
		engine.ChannelAnswered{At: answer, Channel: id + "-a"},
		engine.ChannelBridged{At: answer, Channel: id + "-a", Bridge: "br-" + id},
		engine.ChannelBridged{At: answer, Channel: id + "-b", Bridge: "br-" + id},
	} {
		x.Handle(ctx, ev)
	}
	x.Flush()
	info, err := x.Call(tenantAcme, "pbx-"+id)
	if err != nil {
		s.t.Fatalf("call %d: %v", n, err)
	}
	c := &seeded{id: info.ID, spec: sp}
	var name, channel string
	for r := range s.recordings() {
		if !before[r] {
			name = r
		}
	}
	if (name != "") != (sp.tone != 0) {
		s.t.Fatalf("call %d (%s → %s): recording %q, want one: %v", n, sp.from.number, sp.to.number, name, sp.tone != 0)
	}
	if name != "" {
		c.recording = name
		for _, r := range info.Recordings {
			if r.UUID == name {
				channel = r.Channel
			}
		}
		x.Handle(ctx, engine.RecordingStarted{At: at(0.01), Name: name, Channel: channel})
		if sp.pause > 0 { // dialled by the call's user
			user := id + "-a"
			if sp.from.user == "" {
				user = id + "-b"
			}
			dial(ctx, x, user, at(sp.pauseAt), "*48")
			dial(ctx, x, user, at(sp.pauseAt+sp.pause), "*49")
		}
		// Asterisk leaves paused time out of the file.
		c.seconds = sp.talk - sp.pause
		writeWAV(s.t, filepath.Join(s.spool, name+".wav"), c.seconds, sp.tone)
	}
	x.Handle(ctx, engine.Hangup{At: at(sp.talk), Channel: id + "-a", Cause: 16})
	x.Handle(ctx, engine.Hangup{At: at(sp.talk), Channel: id + "-b", Cause: 16})
	if name != "" {
		x.Handle(ctx, engine.RecordingFinished{At: at(sp.talk + 0.005), Name: name, Channel: channel})
	}
	x.Flush()
	s.calls[c.id] = c
}

// setFormat sets the tenant's recording format (as the Settings page does,
// through the store the API writes to) and returns what puts it back.
func (s *site) setFormat(f recording.Format) (restore func()) {
	ctx := context.Background()
	t, err := s.sys.Store.GetTenant(ctx, tenantAcme)
	if err != nil {
		s.t.Fatal(err)
	}
	was := t.Format
	t.Format = string(f)
	if _, err := s.sys.Store.UpdateTenant(ctx, t); err != nil {
		s.t.Fatal(err)
	}
	return func() {
		t.Format = was
		if _, err := s.sys.Store.UpdateTenant(ctx, t); err != nil {
			s.t.Fatal(err)
		}
	}
}

// dial sends the digits of a feature code, 150 ms apart.
func dial(ctx context.Context, x interface {
	Handle(context.Context, engine.Event)
}, channel string, at time.Time, code string) {
	for i := 0; i < len(code); i++ {
		x.Handle(ctx, engine.DTMF{At: at.Add(time.Duration(i) * 150 * time.Millisecond), Channel: channel, Digit: code[i]})
	}
}

func (s *site) recordings() map[string]bool {
	recs, err := s.sys.Store.ListRecordings(context.Background(), store.RecordingFilter{Tenant: tenantAcme,
		IncludeDeleted: true, Page: store.Page{Limit: 1000}})
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range recs {
		out[r.UUID] = true
	}
	return out
}

// waitFilesIndexed waits (bounded) until the collector moved every
// recording's file into the layout and indexed it, and checks the rows.
func (s *site) waitFilesIndexed() {
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range s.calls {
		if c.recording == "" {
			continue
		}
		for {
			r, err := s.sys.Store.GetRecording(ctx, tenantAcme, c.recording)
			if err != nil {
				s.t.Fatal(err)
			}
			if r.Size > 0 && r.SHA256 != "" {
				if r.State != string(recording.StateStopped) {
					s.t.Fatalf("call %d: recording %s is %s (%s)", c.id, r.UUID, r.State, r.FailureReason)
				}
				if c.spec.pause > 0 && len(r.PausedIntervals) != 1 {
					s.t.Fatalf("call %d: paused intervals %+v, want the *48/*49 one", c.id, r.PausedIntervals)
				}
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("call %d: recording %s never placed in the layout: %+v", c.id, c.recording, r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// writeWAV writes what Asterisk records: 8 kHz, 16-bit, mono PCM, here a
// tone whose loudness swells and fades (so the waveform has a shape).
func writeWAV(t *testing.T, path string, seconds, hz float64) {
	t.Helper()
	const rate = 8000
	n := int(math.Round(seconds * rate))
	data := make([]byte, 44+2*n)
	copy(data[0:], "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], rate)
	binary.LittleEndian.PutUint32(data[28:], rate*2)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		env := 0.25 + 0.75*math.Abs(math.Sin(math.Pi*float64(i)/float64(rate)/1.5))
		v := env * 0.6 * math.Sin(2*math.Pi*hz*float64(i)/rate)
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(int16(v*math.MaxInt16)))
	}
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
}
