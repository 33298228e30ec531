package esl_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/callrecd/callrecd/wiring"
)

// The user stories on FreeSWITCH: callrecd as `callrecd serve` builds it
// (wiring.Build: real SQLite index, real files, the collector), connected
// over ESL to the wire-level test server playing the FreeSWITCH of the
// traces (fsim), which replays each captured scenario's real events.

const tenant = "2c34c282-433e-4bb8-8d56-fec14ff7e1e9"

type story struct {
	t      *testing.T
	sim    *fsim
	cfg    config.Config
	sys    *wiring.System
	stop   context.CancelFunc
	done   chan error
	fsDir  string
	trace  []esl.Event
	cursor int
}

func newStory(t *testing.T, trace string, users ...store.User) *story {
	t.Helper()
	dir := t.TempDir()
	s := &story{t: t, sim: newFsim(t), fsDir: filepath.Join(dir, "freeswitch")}
	if trace != "" {
		s.trace = esltest.TraceEvents(t, trace)
	}
	cfg := config.Default()
	cfg.PBX.Type = "freeswitch"
	cfg.PBX.FreeSWITCH = config.FreeSWITCH{Address: s.sim.srv.Addr(), Password: "ClueCon", RecordingDir: s.fsDir,
		IgnoreProfiles: []string{"sim"}, HeartbeatTimeout: 65 * time.Second}
	cfg.PBX.ReconnectMaxBackoff = 200 * time.Millisecond
	cfg.Trunks = config.Trunks{Profiles: []string{"carrier"}}
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "1MiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Tenants = []config.Tenant{{UUID: tenant, Name: "Lab", Domains: []string{"127.0.0.1"}, Default: true}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.fsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.cfg = cfg
	s.start()
	for _, u := range users {
		u.TenantUUID = tenant
		if _, err := s.sys.Store.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// start builds and runs callrecd, waiting until it is connected and
// re-synced.
func (s *story) start() {
	s.t.Helper()
	sys, err := wiring.Build(context.Background(), s.cfg, wiring.Options{Logger: testLogger(s.t)})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.sys, s.stop, s.done = sys, cancel, make(chan error, 1)
	go func() { s.done <- sys.Run(ctx) }()
	s.t.Cleanup(s.halt)
	s.eventually("callrecd ready", func() bool { return sys.Ready() == nil })
}

// halt stops callrecd as a shutdown would (Run returns, the index closes).
func (s *story) halt() {
	if s.stop == nil {
		return
	}
	s.stop()
	if err := <-s.done; err != nil && !errors.Is(err, context.Canceled) {
		s.t.Errorf("Run: %v", err)
	}
	s.sys.Close()
	s.stop = nil
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// eventually waits (bounded: 10 s) for cond.
func (s *story) eventually(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// replayUntil emits the trace's next events up to and including the first
// one matching (all of them if none does).
func (s *story) replayUntil(match func(esl.Event) bool) {
	for s.cursor < len(s.trace) {
		ev := s.trace[s.cursor]
		s.cursor++
		s.sim.emit(ev)
		if match != nil && match(ev) {
			return
		}
	}
	if match != nil {
		s.t.Fatalf("the trace has no more events matching")
	}
}

func (s *story) replayRest() { s.replayUntil(nil) }

func named(name, channelPrefix string) func(esl.Event) bool {
	return func(ev esl.Event) bool {
		return ev.Name == name && strings.HasPrefix(ev.Get("Channel-Name"), channelPrefix)
	}
}

func dtmf(digit, channelPrefix string) func(esl.Event) bool {
	return func(ev esl.Event) bool {
		return ev.Name == "DTMF" && ev.Get("DTMF-Digit") == digit && strings.HasPrefix(ev.Get("Channel-Name"), channelPrefix)
	}
}

func (s *story) recordings() []store.Recording {
	rs, err := s.sys.Store.ListRecordings(context.Background(), store.RecordingFilter{Tenant: tenant})
	if err != nil {
		s.t.Fatal(err)
	}
	return rs
}

// one waits for exactly one recording row in state st and returns it.
func (s *story) one(st recording.State) store.Recording {
	s.t.Helper()
	var got []store.Recording
	s.eventually("one recording "+string(st), func() bool {
		got = s.recordings()
		return len(got) == 1 && got[0].State == string(st)
	})
	return got[0]
}

// final waits for the single recording to be stopped with its file moved
// into the storage layout, and checks why it stopped.
func (s *story) final(why recording.StopReason) store.Recording {
	s.t.Helper()
	var r store.Recording
	s.eventually("the recording stopped and its file placed", func() bool {
		rs := s.recordings()
		if len(rs) != 1 {
			return false
		}
		r = rs[0]
		return r.State == string(recording.StateStopped) && r.SHA256 != ""
	})
	if r.StopReason != string(why) {
		s.t.Errorf("stop reason %q, want %q (%+v)", r.StopReason, why, r)
	}
	if r.Size <= 44 || r.SHA256 == "" {
		s.t.Errorf("file not indexed: %+v", r)
	}
	matches, _ := filepath.Glob(filepath.Join(s.cfg.Storage.Root, "*", tenant, "*", r.Filename))
	if len(matches) == 0 {
		matches, _ = filepath.Glob(filepath.Join(s.cfg.Storage.Root, "*", "*", "*", r.Filename))
	}
	if len(matches) == 0 {
		s.t.Errorf("file %s not in the storage layout", r.Filename)
	}
	if left, _ := filepath.Glob(filepath.Join(s.fsDir, "*.wav")); len(left) != 0 {
		s.t.Errorf("files left in FreeSWITCH's folder: %v", left)
	}
	return r
}

// commands are the api commands callrecd sent that start with prefix.
func (s *story) commands(prefix string) []string {
	var out []string
	for _, c := range s.sim.srv.Commands() {
		if strings.HasPrefix(c, "api "+prefix) || strings.HasPrefix(c, "bgapi "+prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (s *story) waitCommand(prefix string) string {
	s.t.Helper()
	var got string
	s.eventually("command "+prefix, func() bool {
		cs := s.commands(prefix)
		if len(cs) > 0 {
			got = cs[len(cs)-1]
		}
		return len(cs) > 0
	})
	return got
}

// leg is the channel callrecd records recording r on (its last start).
func (s *story) leg(r store.Recording) string {
	s.t.Helper()
	starts := s.commands("uuid_record ")
	for i := len(starts) - 1; i >= 0; i-- {
		f := strings.Fields(starts[i]) // api uuid_record <leg> start <path>
		if len(f) == 5 && f[3] == "start" && strings.HasSuffix(f[4], r.UUID+".wav") {
			return f[2]
		}
	}
	s.t.Fatalf("no uuid_record start for %s in %v", r.UUID, starts)
	return ""
}

func user(ext, uuid string, set func(*store.User)) store.User {
	u := store.User{UUID: uuid, Extension: ext, Firstname: "User", Lastname: ext, Endpoints: []string{ext}}
	if set != nil {
		set(&u)
	}
	return u
}

const (
	uuid1001 = "b2e98781-7118-4010-8da3-b93b1b7e1001"
	uuid1002 = "b2e98781-7118-4010-8da3-b93b1b7e1002"
	uuid1003 = "b2e98781-7118-4010-8da3-b93b1b7e1003"
)

// Automatic recording follows each user's direction flags (trace a:
// 1001 calls 1002): recorded from the answer, stopped at the hang-up, the
// file moved into the storage layout; nobody's flag, nothing recorded.
func TestStoryAutomaticByDirectionFlag(t *testing.T) {
	cases := []struct {
		name    string
		users   []store.User
		records bool
	}{
		{"caller's outgoing internal", []store.User{user("1001", uuid1001, func(u *store.User) { u.CallRecordOutgoingInternalEnabled = true }), user("1002", uuid1002, nil)}, true},
		{"callee's incoming internal", []store.User{user("1001", uuid1001, nil), user("1002", uuid1002, func(u *store.User) { u.CallRecordIncomingInternalEnabled = true })}, true},
		{"external flags only", []store.User{user("1001", uuid1001, func(u *store.User) { u.CallRecordOutgoingExternalEnabled = true }), user("1002", uuid1002, func(u *store.User) { u.CallRecordIncomingExternalEnabled = true })}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t, "a_record_mask_pause", c.users...)
			s.replayUntil(named("CHANNEL_BRIDGE", "sofia/internal/1001@"))
			if !c.records {
				s.replayRest()
				s.eventually("the call's row closed", func() bool {
					calls, _, _, err := s.sys.Store.ListCalls(context.Background(), store.CallFilter{Tenant: tenant})
					return err == nil && len(calls) == 1 && calls[0].End != nil
				})
				if rs := s.recordings(); len(rs) != 0 || len(s.commands("uuid_record")) != 0 {
					t.Fatalf("recorded: %+v %v", rs, s.commands("uuid_record"))
				}
				return
			}
			cmd := s.waitCommand("uuid_record")
			r := s.one(recording.StateRecording)
			if !strings.Contains(cmd, " start "+filepath.Join(s.fsDir, r.UUID+".wav")) {
				t.Fatalf("command %q does not record %s", cmd, r.UUID)
			}
			s.replayRest()
			s.final(recording.StopHangup)
		})
	}
}
