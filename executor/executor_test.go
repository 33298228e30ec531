package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// log notes PBX commands and writes in the order they happen.
type opLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *opLog) add(format string, args ...any) {
	l.mu.Lock()
	l.ops = append(l.ops, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *opLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.ops, " ")
}

// fakePBX logs commands; OnStart, if set, decides a start's outcome.
type fakePBX struct {
	log     *opLog
	OnStart func(channel, name string) error
}

func (p *fakePBX) StartRecording(_ context.Context, ch, name string, _ recording.Format) error {
	p.log.add("start(%s,%s)", ch, name)
	if p.OnStart != nil {
		return p.OnStart(ch, name)
	}
	return nil
}
func (p *fakePBX) PauseRecording(_ context.Context, n string) error {
	p.log.add("pause(%s)", n)
	return nil
}
func (p *fakePBX) ResumeRecording(_ context.Context, n string) error {
	p.log.add("resume(%s)", n)
	return nil
}
func (p *fakePBX) StopRecording(_ context.Context, n string) error {
	p.log.add("stop(%s)", n)
	return nil
}
func (p *fakePBX) Play(_ context.Context, ids []string, pr engine.Prompt) error {
	p.log.add("play(%v,%s)", ids, pr)
	return nil
}
func (p *fakePBX) Hangup(_ context.Context, id string) error { p.log.add("hangup(%s)", id); return nil }

// fakeRecords is the store: each test sets the functions it cares about;
// the others succeed, log and keep the rows.
type fakeRecords struct {
	log          *opLog
	mu           sync.Mutex
	nextID       int64
	calls        map[int64]engine.CallRow
	recs         map[string]engine.RecordingRow
	OnCreateCall func(engine.CallRow) (int64, error)
}

func newFakeRecords(log *opLog) *fakeRecords {
	return &fakeRecords{log: log, nextID: 40, calls: map[int64]engine.CallRow{}, recs: map[string]engine.RecordingRow{}}
}

func (r *fakeRecords) CreateCall(_ context.Context, row engine.CallRow) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.OnCreateCall != nil {
		if id, err := r.OnCreateCall(row); err != nil || id != 0 {
			r.log.add("createcall!")
			return id, err
		}
	}
	r.nextID++
	row.ID = r.nextID
	r.calls[row.ID] = row
	r.log.add("createcall(%d)", row.ID)
	return row.ID, nil
}
func (r *fakeRecords) UpdateCall(_ context.Context, row engine.CallRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.calls[row.ID]; !ok {
		return errors.New("no such call")
	}
	r.calls[row.ID] = row
	r.log.add("updatecall(%d)", row.ID)
	return nil
}
func (r *fakeRecords) CreateRecording(_ context.Context, row engine.RecordingRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.calls[row.CallID]; !ok {
		return errors.New("foreign key: no such call")
	}
	r.recs[row.UUID] = row
	r.log.add("createrec(%s,%s)", row.UUID, row.State)
	return nil
}
func (r *fakeRecords) UpdateRecording(_ context.Context, row engine.RecordingRow) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.recs[row.UUID]; !ok {
		return errors.New("no such recording")
	}
	r.recs[row.UUID] = row
	r.log.add("updaterec(%s,%s)", row.UUID, row.State)
	return nil
}
func (r *fakeRecords) SetUserAutoRecord(_ context.Context, _, user string, on bool) error {
	r.log.add("*26(%s,%v)", user, on)
	return nil
}

// settings: 1001 records its outgoing internal calls; no open rows.
type settings struct{}

func (settings) TenantPolicy(context.Context, string) (engine.TenantPolicy, error) {
	return engine.DefaultTenantPolicy(), nil
}
func (settings) UserByEndpoint(_ context.Context, _, ep string) (engine.User, bool, error) {
	return engine.User{UUID: "u" + ep, Extension: ep, CallRecordOutgoingInternal: ep == "1001"}, true, nil
}
func (settings) Group(context.Context, string, engine.GroupKind, string) (engine.Group, bool, error) {
	return engine.Group{}, false, nil
}
func (settings) OpenCalls(context.Context) ([]engine.OpenCall, error)           { return nil, nil }
func (settings) OpenRecordings(context.Context) ([]engine.OpenRecording, error) { return nil, nil }
func (settings) FindRecording(context.Context, string) (engine.RecordingRow, bool, error) {
	return engine.RecordingRow{}, false, nil
}

type rig struct {
	log   *opLog
	pbx   *fakePBX
	rows  *fakeRecords
	eng   *engine.Engine
	x     *Executor
	final []engine.RecordingRow
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{log: &opLog{}}
	r.pbx, r.rows = &fakePBX{log: r.log}, newFakeRecords(r.log)
	n := 0
	var err error
	r.eng, err = engine.New(engine.Config{Settings: settings{}, Index: settings{}, NewID: func() string {
		n++
		return fmt.Sprintf("rec%d", n)
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.x, err = New(Config{Engine: r.eng, PBX: r.pbx, Records: r.rows,
		Final: func(row engine.RecordingRow) { r.log.add("final(%s)", row.UUID); r.final = append(r.final, row) }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var at = time.Date(2021, 5, 14, 17, 47, 16, 0, time.UTC)

// send hands the events over and waits for their rows, so a test reads the
// order commands and writes happened in.
func (r *rig) send(evs ...engine.Event) {
	for _, ev := range evs {
		r.x.Handle(context.Background(), ev)
	}
	r.x.Flush()
}

func (r *rig) ring() {
	r.send(engine.ChannelCreated{At: at, Channel: "A", CallID: "L1", Tenant: "t", Endpoint: "1001", Role: engine.RoleInternal, CalleeNumber: "1002"},
		engine.ChannelCreated{At: at, Channel: "B", CallID: "L1", Tenant: "t", Endpoint: "1002", Role: engine.RoleInternal})
}

// The answer's start goes to the PBX before any row is written; the call
// row (created while ringing) is then updated once, and the recording row
// carries the call's id in its Wazo file name.
func TestCommandsGoOutBeforeWrites(t *testing.T) {
	r := newRig(t)
	r.ring()
	if got := r.log.String(); got != "createcall(41) updatecall(41)" {
		t.Fatalf("ringing: %s", got)
	}
	r.log.ops = nil
	r.send(engine.ChannelAnswered{At: at, Channel: "B"})
	if got, want := r.log.String(), "start(A,rec1) updatecall(41) createrec(rec1,recording)"; got != want {
		t.Fatalf("answer: %s, want %s", got, want)
	}
	if f := r.rows.recs["rec1"].Filename; f != "2021-05-14T17_47_16UTC-41-rec1.wav" {
		t.Errorf("file name %q", f)
	}
}

// No event waits for the store: while a call row's write hangs, the next
// call's answer still sends its start at once; Flush waits for the rows,
// which are then written in the order decided.
func TestEventsDoNotWaitForWrites(t *testing.T) {
	r := newRig(t)
	r.ring()
	r.log.ops = nil
	stuck, release := make(chan struct{}), make(chan struct{})
	r.rows.OnCreateCall = func(row engine.CallRow) (int64, error) {
		if row.PBXCallID == "L2" {
			close(stuck)
			<-release
		}
		return 0, nil
	}
	r.x.Handle(context.Background(), engine.ChannelCreated{At: at, Channel: "C", CallID: "L2", Tenant: "t", Endpoint: "1003", Role: engine.RoleInternal, CalleeNumber: "1004"})
	<-stuck // the writer is inside L2's create
	r.x.Handle(context.Background(), engine.ChannelAnswered{At: at, Channel: "B"})
	if got := r.log.String(); got != "start(A,rec1)" {
		t.Fatalf("while a write hangs: %q, want the start sent", got)
	}
	flushed := make(chan struct{})
	go func() { r.x.Flush(); close(flushed) }()
	select {
	case <-flushed:
		t.Fatal("Flush returned while a write was still hanging")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-flushed
	if got, want := r.log.String(), "start(A,rec1) createcall(42) updatecall(41) createrec(rec1,recording)"; got != want {
		t.Fatalf("after the flush: %s, want %s", got, want)
	}
}

// Close writes what is queued before it returns.
func TestCloseWritesWhatIsQueued(t *testing.T) {
	r := newRig(t)
	r.x.Handle(context.Background(), engine.ChannelCreated{At: at, Channel: "A", CallID: "L1", Tenant: "t", Endpoint: "1001", Role: engine.RoleInternal, CalleeNumber: "1002"})
	r.x.Close()
	if got := r.log.String(); got != "createcall(41)" {
		t.Fatalf("after Close: %q", got)
	}
}

// A call row that could not be created while ringing is created by the
// next write that needs it, and the recording row written in the same
// batch gets its id (and file name) from that create; the engine hears of
// the id.
func TestCallIDComesFromTheExecutor(t *testing.T) {
	r := newRig(t)
	down := true
	r.rows.OnCreateCall = func(engine.CallRow) (int64, error) {
		if down {
			return 0, errors.New("database is locked")
		}
		return 0, nil
	}
	r.ring()
	down = false
	r.log.ops = nil
	r.send(engine.ChannelAnswered{At: at, Channel: "B"})
	if got, want := r.log.String(), "start(A,rec1) createcall(41) createrec(rec1,recording)"; got != want {
		t.Fatalf("answer: %s, want %s", got, want)
	}
	if row := r.rows.recs["rec1"]; row.CallID != 41 || row.Filename != "2021-05-14T17_47_16UTC-41-rec1.wav" {
		t.Fatalf("recording row %+v", row)
	}
	if c, err := r.eng.Call("t", "L1"); err != nil || c.ID != 41 || c.Recordings[0].CallID != 41 {
		t.Fatalf("the engine's view: %+v, %v", c, err)
	}
}

// A start the PBX refuses is handed back to the engine as RecordingFailed:
// the row ends failed with the PBX's reason, and the policy does not try
// again on that call.
func TestRefusedStartFailsTheRecording(t *testing.T) {
	r := newRig(t)
	r.pbx.OnStart = func(string, string) error { return errors.New("no such channel") }
	r.ring()
	r.send(engine.ChannelAnswered{At: at, Channel: "B"}, engine.ChannelBridged{At: at, Channel: "A", Bridge: "b"},
		engine.ChannelBridged{At: at, Channel: "B", Bridge: "b"})
	row := r.rows.recs["rec1"]
	if row.State != recording.StateFailed || row.FailureReason != "no such channel" {
		t.Fatalf("row %+v", row)
	}
	if len(r.final) != 1 || r.final[0].UUID != "rec1" {
		t.Fatalf("final %+v", r.final)
	}
	if n := strings.Count(r.log.String(), "start("); n != 1 {
		t.Fatalf("%d starts: %s", n, r.log)
	}
}

// The collector hears that a recording is final only after its last row
// write, with the row as written.
func TestFinalAfterTheRowIsWritten(t *testing.T) {
	r := newRig(t)
	r.ring()
	r.send(engine.ChannelAnswered{At: at, Channel: "B"})
	r.log.ops = nil
	r.send(engine.Hangup{At: at.Add(time.Minute), Channel: "B"})
	if got, want := r.log.String(), "stop(rec1) updaterec(rec1,stopped) final(rec1)"; got != want {
		t.Fatalf("hangup: %s, want %s", got, want)
	}
	if r.final[0].CallID != 41 || r.final[0].StopReason != recording.StopHangup {
		t.Fatalf("final row %+v", r.final[0])
	}
}

// Call control from the API goes through the same path and answers with
// the recording's state.
func TestCallControlAppliesItsEffects(t *testing.T) {
	r := newRig(t)
	r.ring()
	r.send(engine.ChannelAnswered{At: at, Channel: "B"})
	r.log.ops = nil
	info, err := r.x.PauseRecording(context.Background(), "t", "A", recording.ByAPI)
	if err != nil || info.State != recording.StatePaused || info.CallID != 41 {
		t.Fatalf("pause: %+v, %v", info, err)
	}
	if got := r.log.String(); got != "updaterec(rec1,paused)" {
		t.Fatalf("pause before the PBX confirmed the start: %s (the pause waits for RecordingStarted)", got)
	}
	if _, err := r.x.ResumeRecording(context.Background(), "t", "nope", recording.ByAPI); !errors.Is(err, engine.ErrNoSuchCall) {
		t.Fatalf("unknown call: %v", err)
	}
}

func TestNewNamesWhatIsMissing(t *testing.T) {
	eng, err := engine.New(engine.Config{Settings: settings{}, Index: settings{}, Prepares: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PBX: &fakePBX{}, Records: &fakeRecords{}}, "Engine"},
		{Config{Engine: eng, Records: &fakeRecords{}}, "PBX"},
		{Config{Engine: eng, PBX: &fakePBX{}}, "Records"},
		{Config{Engine: eng, PBX: &fakePBX{}, Records: &fakeRecords{}}, "Preparer"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New without %s: %v", tc.want, err)
		}
	}
}
