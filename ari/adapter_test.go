package ari

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callrecd/callrecd/engine"
)

// recHandler records what the adapter hands the engine.
type recHandler struct {
	mu   sync.Mutex
	evs  []engine.Event
	when []time.Time
	kick chan struct{}
}

func newRecHandler() *recHandler { return &recHandler{kick: make(chan struct{}, 1)} }

func (h *recHandler) Handle(_ context.Context, ev engine.Event) {
	h.mu.Lock()
	h.evs = append(h.evs, ev)
	h.when = append(h.when, time.Now())
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// waitFor returns the first event (at or after index from) whose compact
// form starts with prefix, and its index.
func (h *recHandler) waitFor(t *testing.T, prefix string, within time.Duration) (engine.Event, time.Time) {
	t.Helper()
	deadline := time.After(within)
	for {
		h.mu.Lock()
		for i, ev := range h.evs {
			if strings.HasPrefix(compact(ev), prefix) {
				h.mu.Unlock()
				return ev, h.when[i]
			}
		}
		h.mu.Unlock()
		select {
		case <-h.kick:
		case <-deadline:
			t.Fatalf("no %q within %s; got:\n%s", prefix, within, h.dump())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (h *recHandler) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, ev := range h.evs {
		b.WriteString(compact(ev) + "\n")
	}
	return b.String()
}

func (h *recHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.evs {
		out = append(out, compact(ev))
	}
	return out
}

func phone(id, ep string) Channel {
	return Channel{ID: id, Name: "PJSIP/" + ep + "-0000000" + id[len(id)-1:], State: "Up",
		Caller: CallerID{Number: ep}, Dialplan: DialplanCEP{Context: "phones", Exten: "1002"},
		CreationTime: "2026-11-21T19:12:02.581+0000"}
}

func startAdapter(t *testing.T, f *fakePBX, mod func(*Config)) (*Adapter, *recHandler) {
	t.Helper()
	cfg := Config{URL: f.url(), Username: "recorder", Password: "secret", App: "callrecd",
		RequestTimeout: 2 * time.Second, ConnectTimeout: 2 * time.Second, MaxBackoff: 100 * time.Millisecond,
		FinishWait: 2 * time.Second, Mapping: Mapping{Tenants: []TenantRule{{UUID: "t1", Default: true}}, TrunkEndpoints: []string{"carrier"}}}
	if mod != nil {
		mod(&cfg)
	}
	a := NewAdapter(cfg, nil)
	h := newRecHandler()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx, h); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h.waitFor(t, "snapshot", 5*time.Second)
	return a, h
}

// commands drops the re-sync reads and the watchdog's checks from the REST log.
func commands(reqs []string) []string {
	return slices.DeleteFunc(reqs, func(s string) bool {
		return s == "GET /channels" || s == "GET /bridges" || strings.HasPrefix(s, "PUT /applications/") ||
			strings.HasPrefix(s, "GET /applications/") || strings.HasPrefix(s, "POST /events/user/")
	})
}

// snoopReq and recordReq are the adapter's requests for part of recording
// name: the snoop on channel ch (appArgs callrecd-snoop, or callrecd-spare
// for a part 0 made while the call rings) and the record on it.
func snoopReq(ch, name string, part int) string {
	args := "callrecd-snoop"
	if part == 0 {
		args = "callrecd-spare"
	}
	return fmt.Sprintf("POST /channels/%s/snoop?app=callrecd&appArgs=%s&snoopId=callrecd-%s-%d&spy=both", ch, args, name, part)
}

func recordReq(name string, part int) string {
	return fmt.Sprintf("POST /channels/callrecd-%s-%d/record?beep=false&format=wav&ifExists=append&name=%s&terminateOn=none", name, part, name)
}

// wantCommands checks the commands the fake PBX received (re-sync reads
// and watchdog checks aside).
func wantCommands(t *testing.T, f *fakePBX, want ...string) {
	t.Helper()
	if got := commands(f.requests()); !slices.Equal(got, want) {
		t.Errorf("REST sequence:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAdapterRecordPauseResumeStopSequence(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	f.addChannel(phone("c2", "1002"))
	a, h := startAdapter(t, f, nil)
	ctx := context.Background()
	if err := a.StartRecording(ctx, "c1", "rec-1", "wav"); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "rec-started rec-1 on c1", 3*time.Second)
	a.PauseRecording(ctx, "rec-1")
	a.ResumeRecording(ctx, "rec-1")
	a.StopRecording(ctx, "rec-1")
	h.waitFor(t, "rec-finished rec-1 on c1", 3*time.Second)
	for i := 0; !a.Idle("rec-1"); i++ {
		if i > 200 {
			t.Fatal("recording never idle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := []string{
		snoopReq("c1", "rec-1", 1),
		recordReq("rec-1", 1),
		"POST /recordings/live/rec-1/pause",
		"DELETE /recordings/live/rec-1/pause",
		"POST /recordings/live/rec-1/stop",
		"DELETE /channels/callrecd-rec-1-1",
	}
	wantCommands(t, f, want...)
	if f.conflict != 0 {
		t.Errorf("%d requests refused with 409 (record before the snoop's StasisStart?)", f.conflict)
	}
	for _, l := range h.lines() {
		if strings.Contains(l, "callrecd-rec") {
			t.Errorf("the engine saw the snoop: %s", l)
		}
	}
	// the re-sync set the event filter first
	if reqs := f.requests(); !strings.HasPrefix(reqs[0], "PUT /applications/callrecd/eventFilter") {
		t.Errorf("first request %q, want the event filter", reqs[0])
	}
}

// Re-arm on another leg with the same name: the append is sent only after
// the previous part's RecordingFinished (an append while live is a 409), and
// the engine gets the old leg's Hangup before that part's end.
func TestAdapterAppendWaitsForRecordingFinished(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	carrier := phone("c2", "carrier")
	f.addChannel(carrier)
	a, h := startAdapter(t, f, nil)
	ctx := context.Background()
	a.StartRecording(ctx, "c1", "rec-1", "wav")
	h.waitFor(t, "rec-started rec-1 on c1", 3*time.Second)
	// the engine re-arms on c2 (its leg c1 is leaving); the PBX ends c1 later
	a.StartRecording(ctx, "c2", "rec-1", "wav")
	time.Sleep(150 * time.Millisecond)
	f.endLiveByLeg("c1")
	h.waitFor(t, "rec-started rec-1 on c2", 3*time.Second)
	lines := h.lines()
	iHang, iFin := slices.Index(lines, "hangup c1 16"), slices.Index(lines, "rec-finished rec-1 on c1")
	if iHang < 0 || iFin < 0 || iHang > iFin {
		t.Errorf("want hangup c1 before rec-finished on c1:\n%s", strings.Join(lines, "\n"))
	}
	if f.conflict != 0 {
		t.Errorf("append sent while the first part was live: %d 409s", f.conflict)
	}
	want := []string{
		snoopReq("c1", "rec-1", 1),
		recordReq("rec-1", 1),
		snoopReq("c2", "rec-1", 2),
		recordReq("rec-1", 2),
	}
	wantCommands(t, f, want...)
}

// A REST call that hangs is cut at the request timeout; meanwhile events
// keep flowing to the engine and other recordings' commands run; the next
// command of the same recording waits its turn.
func TestAdapterSlowCommandStallsNeitherEventsNorOtherCalls(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	f.addChannel(phone("c2", "1002"))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.block = func(r *http.Request) {
		if r.URL.Path == "/ari/recordings/live/slow/pause" {
			select {
			case <-release:
			case <-time.After(3 * time.Second):
			}
		}
	}
	a, h := startAdapter(t, f, func(c *Config) { c.RequestTimeout = 400 * time.Millisecond })
	ctx := context.Background()
	a.StartRecording(ctx, "c1", "slow", "wav")
	a.StartRecording(ctx, "c2", "fast", "wav")
	h.waitFor(t, "rec-started slow on c1", 3*time.Second)
	h.waitFor(t, "rec-started fast on c2", 3*time.Second)

	t0 := time.Now()
	a.PauseRecording(ctx, "slow") // hangs until the request timeout
	a.StopRecording(ctx, "slow")  // must come after it
	a.StopRecording(ctx, "fast")
	time.Sleep(20 * time.Millisecond)
	f.send(map[string]any{"type": "ChannelDtmfReceived", "digit": "5", "channel": phone("c2", "1002")})
	_, at := h.waitFor(t, "dtmf c2 5", 2*time.Second)
	if d := at.Sub(t0); d > 250*time.Millisecond {
		t.Errorf("event handled %s after the slow command began: the event loop waited", d)
	}
	_, at = h.waitFor(t, "rec-finished fast on c2", 2*time.Second)
	if d := at.Sub(t0); d > 300*time.Millisecond {
		t.Errorf("the other recording's stop took %s: it waited behind the slow one", d)
	}
	_, at = h.waitFor(t, "rec-finished slow on c1", 3*time.Second)
	if d := at.Sub(t0); d < 380*time.Millisecond {
		t.Errorf("slow's stop ran %s after its pause was sent: before the pause timed out", d)
	}
	reqs := commands(f.requests())
	if p, s := slices.Index(reqs, "POST /recordings/live/slow/pause"), slices.Index(reqs, "POST /recordings/live/slow/stop"); p < 0 || s < p {
		t.Errorf("slow's commands out of order:\n%s", strings.Join(reqs, "\n"))
	}
	if st := a.Stats(); st.Failures == 0 {
		t.Errorf("the timed-out pause was not counted as a failure: %+v", st)
	}
}

// After a restart the adapter finds its recording from the snoop's id
// (GET /recordings/live is 405), reports it live with the spied channel,
// and can stop it (snoop deleted after the stop).
func TestAdapterResyncFindsLiveRecordingBySnoop(t *testing.T) {
	f := newFakePBX(t)
	c1, c2 := phone("c1", "1001"), phone("c2", "1002")
	c2.CreationTime = "2026-11-21T19:12:02.582+0000"
	f.addChannel(c1)
	f.addChannel(c2)
	f.addChannel(Channel{ID: "callrecd-rec-9-3", Name: "Snoop/c1-00000009", State: "Up"})
	f.bridges = []Bridge{{ID: "b1", Channels: []string{"c1", "c2"}}}
	f.live["rec-9"] = &LiveRecording{Name: "rec-9", Format: "wav", State: "paused", TargetURI: "channel:callrecd-rec-9-3"}
	f.inStasis["callrecd-rec-9-3"] = true
	a, h := startAdapter(t, f, nil)
	ev, _ := h.waitFor(t, "snapshot", time.Second)
	snap := ev.(engine.Snapshot)
	if len(snap.Channels) != 2 || len(snap.Recordings) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	for _, sc := range snap.Channels {
		if sc.Bridge != "b1" || sc.CallID != "c1" || sc.Role != engine.RoleInternal || sc.Tenant != "t1" || !sc.Answered {
			t.Errorf("snapshot channel %+v", sc)
		}
	}
	if lr := snap.Recordings[0]; lr.Name != "rec-9" || lr.Channel != "c1" || !lr.Paused {
		t.Errorf("live recording %+v", lr)
	}
	if slices.Contains(f.requests(), "GET /recordings/live") {
		t.Error("listed live recordings (405 on Asterisk)")
	}
	if !slices.Contains(f.requests(), "GET /recordings/live/rec-9") {
		t.Errorf("did not read rec-9 by name: %v", f.requests())
	}
	a.StopRecording(context.Background(), "rec-9")
	h.waitFor(t, "rec-finished rec-9 on c1", 3*time.Second)
	for i := 0; !slices.Contains(f.requests(), "DELETE /channels/callrecd-rec-9-3"); i++ {
		if i > 200 {
			t.Fatalf("snoop not deleted: %v", f.requests())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A prompt to a channel outside the application goes through a whispering
// snoop; the hang-up queued after it waits for the prompt's end.
func TestAdapterPlayToPlainChannelWhispersThenHangsUp(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	f.noStasisFor["c1"] = true
	a, _ := startAdapter(t, f, nil)
	a.Play(context.Background(), []string{"c1"}, engine.PromptDenied)
	a.Hangup(context.Background(), "c1")
	deadline := time.Now().Add(3 * time.Second)
	for !slices.Contains(f.requests(), "DELETE /channels/c1") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := strings.Join(commands(f.requests()), "\n")
	re := regexp.MustCompile(`^POST /channels/c1/answer
POST /channels/c1/snoop\?app=callrecd&appArgs=callrecd-prompt&snoopId=(callrecdplay-\d+)&spy=none&whisper=out
POST /channels/callrecdplay-\d+/play\?media=sound%3Abeeperr&playbackId=callrecd-pb-\d+-\d+
DELETE /channels/callrecdplay-\d+
DELETE /channels/c1$`)
	if !re.MatchString(got) {
		t.Errorf("REST sequence:\n%s", got)
	}
}

// A snoop refused (the channel is gone) becomes RecordingFailed for the
// engine, naming the channel: the PBX answered, so not Unreachable.
func TestAdapterStartOnMissingChannelFails(t *testing.T) {
	f := newFakePBX(t)
	a, h := startAdapter(t, f, nil)
	a.StartRecording(context.Background(), "nope", "rec-x", "wav")
	ev, _ := h.waitFor(t, "rec-failed rec-x on nope", 3*time.Second)
	if f := ev.(engine.RecordingFailed); !strings.Contains(f.Reason, "404") || f.Unreachable || !f.ChannelGone {
		t.Errorf("failure %+v", f)
	}
	if st := a.Stats(); st.Failures != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A snoop request cut off with the link (no answer at all) is a failure
// the engine may try again after the re-sync: Unreachable.
func TestAdapterStartCutOffIsUnreachable(t *testing.T) {
	f := newFakePBX(t)
	f.cut = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/snoop") }
	a, h := startAdapter(t, f, nil)
	a.StartRecording(context.Background(), "c1", "rec-x", "wav")
	ev, _ := h.waitFor(t, "rec-failed rec-x on c1", 3*time.Second)
	if f := ev.(engine.RecordingFailed); !f.Unreachable {
		t.Errorf("failure %+v: a cut-off request must say the PBX was unreachable", f)
	}
}

// The re-sync reads the channels after the recordings: a call that hangs up
// while the re-sync reads ends its recording first, and channels read
// before would still show it up, its recording gone ("lost by the PBX": a
// pbx_lost row and a new start on a channel already gone, soak 13).
func TestAdapterResyncReadsChannelsAfterRecordings(t *testing.T) {
	f := newFakePBX(t)
	f.addChannel(phone("c1", "1001"))
	f.addChannel(phone("c2", "1002"))
	f.addChannel(Channel{ID: "callrecd-rec-5-1", Name: "Snoop/c1-00000005", State: "Up"})
	f.bridges = []Bridge{{ID: "b1", Channels: []string{"c1", "c2"}}}
	f.block = func(r *http.Request) {
		if r.URL.Path == "/ari/recordings/live/rec-5" { // the call hangs up as its recording is read
			f.mu.Lock()
			delete(f.channels, "c1")
			delete(f.channels, "c2")
			delete(f.channels, "callrecd-rec-5-1")
			f.bridges = nil
			f.mu.Unlock()
		}
	}
	_, h := startAdapter(t, f, nil)
	ev, _ := h.waitFor(t, "snapshot", time.Second)
	if snap := ev.(engine.Snapshot); len(snap.Channels) != 0 || len(snap.Recordings) != 0 {
		t.Fatalf("snapshot %+v: want the call gone with its recording", snap)
	}
}

// A reconnect's re-sync is not ready until the engine has it: /readyz must
// not say ready while the engine's view is older than the PBX's.
func TestAdapterNotSyncedWhileAReconnectReSyncs(t *testing.T) {
	f := newFakePBX(t)
	a, _ := startAdapter(t, f, nil)
	waitUntil(t, "first re-sync handed", a.Synced)
	reading, release := make(chan struct{}), make(chan struct{})
	var once, freed sync.Once
	free := func() { freed.Do(func() { close(release) }) }
	t.Cleanup(free) // a failed check must not leave the fake's handler blocked
	<-f.wsReady
	f.mu.Lock()
	f.block = func(r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/ari/channels" {
			once.Do(func() { close(reading) })
			<-release
		}
	}
	ws := f.ws
	f.mu.Unlock()
	ws.Close(websocket.StatusGoingAway, "cut")
	select {
	case <-reading:
	case <-time.After(5 * time.Second):
		t.Fatal("no re-sync read after the cut")
	}
	if !a.Connected() || a.Synced() {
		t.Fatalf("during the re-sync: connected %v, synced %v; want true, false", a.Connected(), a.Synced())
	}
	free()
	waitUntil(t, "second re-sync handed", a.Synced)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// The re-sync reads the live recordings several at a time, never more than
// resyncReaders, and dates the snapshot after them.
func TestAdapterResyncReadsRecordingsInParallelAndDatesAfter(t *testing.T) {
	f := newFakePBX(t)
	for i := range 3 * resyncReaders {
		f.addChannel(Channel{ID: fmt.Sprintf("callrecd-rec-%d-1", i), Name: fmt.Sprintf("Snoop/c%d-0000000%d", i, i), State: "Up"})
	}
	var mu sync.Mutex
	var inFlight, most int
	var lastRead time.Time
	f.block = func(r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/ari/recordings/live/") {
			return
		}
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		lastRead = time.Now()
		mu.Unlock()
	}
	_, h := startAdapter(t, f, nil)
	ev, _ := h.waitFor(t, "snapshot", 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if most < 2 || most > resyncReaders {
		t.Errorf("%d recordings read at once; want 2..%d", most, resyncReaders)
	}
	if at := ev.(engine.Snapshot).At; at.Before(lastRead) {
		t.Errorf("snapshot dated %v, before the last recording read %v", at, lastRead)
	}
}
