package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// cmd is one PBX command the engine issued.
type cmd struct {
	Op       string // start, pause, resume, stop, play, hangup
	Channel  string
	Name     string // recording name (start), handle (pause/resume/stop)
	Format   recording.Format
	Channels []string
	Prompt   Prompt
}

func (c cmd) String() string {
	switch c.Op {
	case "start":
		return fmt.Sprintf("start(%s,%s)", c.Channel, c.Name)
	case "play":
		return fmt.Sprintf("play(%v,%s)", c.Channels, c.Prompt)
	case "hangup":
		return "hangup(" + c.Channel + ")"
	default:
		return c.Op + "(" + c.Name + ")"
	}
}

// fakePBX records commands; each test may set the function fields it cares
// about (livekit/sip style) to fail or observe a command.
type fakePBX struct {
	mu       sync.Mutex
	cmds     []cmd
	OnStart  func(channelID, name, format string) error
	OnPause  func(handle string) error
	OnResume func(handle string) error
	OnStop   func(handle string) error
	OnPlay   func(ids []string, p Prompt) error
	OnHangup func(id string) error
}

func (f *fakePBX) add(c cmd) {
	f.mu.Lock()
	f.cmds = append(f.cmds, c)
	f.mu.Unlock()
}

func (f *fakePBX) StartRecording(_ context.Context, ch, name string, format recording.Format) error {
	f.add(cmd{Op: "start", Channel: ch, Name: name, Format: format})
	if f.OnStart != nil {
		return f.OnStart(ch, name, string(format))
	}
	return nil
}
func (f *fakePBX) PauseRecording(_ context.Context, h string) error {
	f.add(cmd{Op: "pause", Name: h})
	if f.OnPause != nil {
		return f.OnPause(h)
	}
	return nil
}
func (f *fakePBX) ResumeRecording(_ context.Context, h string) error {
	f.add(cmd{Op: "resume", Name: h})
	if f.OnResume != nil {
		return f.OnResume(h)
	}
	return nil
}
func (f *fakePBX) StopRecording(_ context.Context, h string) error {
	f.add(cmd{Op: "stop", Name: h})
	if f.OnStop != nil {
		return f.OnStop(h)
	}
	return nil
}
func (f *fakePBX) Play(_ context.Context, ids []string, p Prompt) error {
	f.add(cmd{Op: "play", Channels: slices.Clone(ids), Prompt: p})
	if f.OnPlay != nil {
		return f.OnPlay(ids, p)
	}
	return nil
}
func (f *fakePBX) Hangup(_ context.Context, id string) error {
	f.add(cmd{Op: "hangup", Channel: id})
	if f.OnHangup != nil {
		return f.OnHangup(id)
	}
	return nil
}

// preparingPBX is a fakePBX that also prepares recordings (Preparer). It
// records prepare/release as commands and keeps the pending preparations.
type preparingPBX struct {
	*fakePBX
	pending map[string]string // name → channel
	used    map[string]bool   // names prepared and then started or released
	fail    bool              // PrepareRecording fails
}

func newPreparingPBX(f *fakePBX) *preparingPBX {
	return &preparingPBX{fakePBX: f, pending: map[string]string{}, used: map[string]bool{}}
}

func (p *preparingPBX) PrepareRecording(_ context.Context, ch, name string) error {
	p.add(cmd{Op: "prepare", Channel: ch, Name: name})
	if p.fail {
		return errors.New("no snoop today")
	}
	p.pending[name] = ch
	return nil
}

func (p *preparingPBX) ReleasePrepared(_ context.Context, name string) error {
	p.add(cmd{Op: "release", Name: name})
	delete(p.pending, name)
	p.used[name] = true
	return nil
}

func (p *preparingPBX) StartRecording(ctx context.Context, ch, name string, format recording.Format) error {
	if pch, ok := p.pending[name]; ok {
		if pch != ch {
			panic(fmt.Sprintf("recording %s prepared on %s started on %s", name, pch, ch))
		}
		delete(p.pending, name)
		p.used[name] = true
	} else if p.used[name] && !p.started(name) {
		panic(fmt.Sprintf("recording %s started after its preparation was released", name))
	}
	return p.fakePBX.StartRecording(ctx, ch, name, format)
}

func (p *preparingPBX) started(name string) bool {
	for _, c := range p.ops("start") {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (f *fakePBX) ops(op string) []cmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cmd
	for _, c := range f.cmds {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakePBX) reset() {
	f.mu.Lock()
	f.cmds = nil
	f.mu.Unlock()
}

// fakeStore implements Settings and Records in memory.
type fakeStore struct {
	mu       sync.Mutex
	policies map[string]TenantPolicy
	users    map[string]User // tenant/endpoint
	groups   map[string]Group
	calls    map[int64]CallRow
	recs     map[string]RecordingRow
	nextID   int64
	creates  int
	seen     map[string]time.Time // OpenRows: best known time by call id or recording uuid
	noAudio  map[string]bool      // OpenRecordings: recordings the PBX has no file for
	// error injection
	FailCreateCall, FailUpdateRec, FailCreateRec, FailPolicy bool
}

var errStore = errors.New("store down")

func newFakeStore() *fakeStore {
	return &fakeStore{
		policies: map[string]TenantPolicy{}, users: map[string]User{}, groups: map[string]Group{},
		calls: map[int64]CallRow{}, recs: map[string]RecordingRow{}, nextID: 100,
	}
}

func (s *fakeStore) TenantPolicy(_ context.Context, tenant string) (TenantPolicy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailPolicy {
		return TenantPolicy{}, errStore
	}
	if p, ok := s.policies[tenant]; ok {
		return p, nil
	}
	return DefaultTenantPolicy(), nil
}
func (s *fakeStore) UserByEndpoint(_ context.Context, tenant, ep string) (User, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[tenant+"/"+ep]
	return u, ok, nil
}
func (s *fakeStore) Group(_ context.Context, tenant string, kind GroupKind, name string) (Group, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[tenant+"/"+string(kind)+"/"+name]
	return g, ok, nil
}
func (s *fakeStore) SetUserAutoRecord(_ context.Context, tenant, uuid string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, u := range s.users {
		if u.UUID == uuid {
			u.CallRecordIncomingExternal, u.CallRecordIncomingInternal = on, on
			u.CallRecordOutgoingExternal, u.CallRecordOutgoingInternal = on, on
			s.users[k] = u
			return nil
		}
	}
	return errors.New("no such user")
}
func (s *fakeStore) CreateCall(_ context.Context, row CallRow) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailCreateCall {
		return 0, errStore
	}
	s.nextID++
	s.creates++
	row.ID = s.nextID
	s.calls[row.ID] = row
	return row.ID, nil
}
func (s *fakeStore) UpdateCall(_ context.Context, row CallRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.calls[row.ID]; !ok {
		return errors.New("no such call row")
	}
	s.calls[row.ID] = row
	return nil
}
func (s *fakeStore) CreateRecording(_ context.Context, row RecordingRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailCreateRec {
		return errStore
	}
	if _, ok := s.recs[row.UUID]; ok {
		return errors.New("duplicate recording row")
	}
	row.Paused = slices.Clone(row.Paused)
	s.recs[row.UUID] = row
	return nil
}
func (s *fakeStore) UpdateRecording(_ context.Context, row RecordingRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailUpdateRec {
		return errStore
	}
	if _, ok := s.recs[row.UUID]; !ok {
		return errors.New("no such recording row")
	}
	row.Paused = slices.Clone(row.Paused)
	s.recs[row.UUID] = row
	return nil
}
func (s *fakeStore) FindRecording(_ context.Context, uuid string) (RecordingRow, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[uuid]
	return r, ok, nil
}

// recordings returns the recording rows ordered by start, then uuid.
func (s *fakeStore) recordings() []RecordingRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordingRow, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].UUID < out[j].UUID
	})
	return out
}

func (s *fakeStore) callRows() []CallRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CallRow
	for _, c := range s.calls {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2021, 5, 14, 17, 47, 15, 632882000, time.UTC)

// harness is an engine wired to fakes; send applies the effects the
// engine returns to them as the executor does (commands, then writes in
// order; a refused start handed back as RecordingFailed).
type harness struct {
	t     testing.TB
	e     *Engine
	pbx   *fakePBX
	store *fakeStore
	clock *fakeClock
	ids   int
	prep  *preparingPBX // set by newPreparingHarness: the engine gets it as its PBX
	// loneLeg: the engine is told TransfersLeaveLegAlone (FreeSWITCH).
	loneLeg bool
	// noAppend: the PBX's start does not append to an existing file
	// (engine.Config.StartsAppend false, FreeSWITCH).
	noAppend bool
	rowIDs   map[RowKey]int64
	fx       []Effect // the effects applied so far
	// apply holds it from the engine's decision to its last write, as the
	// executor does, so concurrent requests apply in the order decided.
	applyMu sync.Mutex
	// mayStart is the engine's veto (Config.MayStart), nil: none.
	mayStart func() error
	// diskFull: the veto of a fresh engine made by withFullDisk.
	diskFull bool
}

// withFullDisk makes a fresh engine whose disk guard refuses new recordings
// while h.diskFull.
func (h *harness) withFullDisk() {
	h.diskFull = true
	h.mayStart = func() error {
		if h.diskFull {
			return errors.New("disk full")
		}
		return nil
	}
	h.e = h.newEngine()
}

func newHarness(t testing.TB) *harness {
	h := &harness{t: t, pbx: &fakePBX{}, store: newFakeStore(), clock: &fakeClock{t: t0}}
	h.e = h.newEngine()
	return h
}

// newPreparingHarness is a harness whose PBX prepares recordings.
func newPreparingHarness(t testing.TB) *harness {
	h := &harness{t: t, pbx: &fakePBX{}, store: newFakeStore(), clock: &fakeClock{t: t0}}
	h.prep = newPreparingPBX(h.pbx)
	h.e = h.newEngine()
	return h
}

// newEngine makes a fresh engine on the harness's fakes (a restart).
func (h *harness) newEngine() *Engine {
	h.rowIDs = map[RowKey]int64{}
	e, err := New(Config{
		Settings: h.store, Index: h.store, Clock: h.clock, Prepares: h.prep != nil, MayStart: h.mayStart,
		TransfersLeaveLegAlone: h.loneLeg, StartsAppend: !h.noAppend,
		NewID: func() string {
			h.ids++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", h.ids)
		},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

// apply carries effects out on the fakes.
func (h *harness) apply(fx []Effect) {
	ctx := context.Background()
	h.fx = append(h.fx, fx...)
	for round := 0; len(fx) > 0; round++ {
		if round == 8 {
			h.t.Fatalf("effects still coming after 8 rounds: %v", fx)
		}
		var refused []Event
		for _, c := range Commands(fx) {
			if err := h.command(c); err != nil && c.Op == OpStart {
				refused = append(refused, RecordingFailed{Name: c.Name, Channel: c.Channel, Reason: err.Error()})
			}
		}
		for _, f := range fx {
			h.write(f)
		}
		fx = nil
		for _, ev := range refused {
			more := h.e.Handle(ctx, ev)
			h.fx = append(h.fx, more...)
			fx = append(fx, more...)
		}
	}
}

func (h *harness) command(c Command) error {
	ctx := context.Background()
	var pbx PBX = h.pbx
	if h.prep != nil {
		pbx = h.prep
	}
	switch c.Op {
	case OpStart:
		return pbx.StartRecording(ctx, c.Channel, c.Name, c.Format)
	case OpPause:
		return pbx.PauseRecording(ctx, c.Name)
	case OpResume:
		return pbx.ResumeRecording(ctx, c.Name)
	case OpStop:
		return pbx.StopRecording(ctx, c.Name)
	case OpPlay:
		return pbx.Play(ctx, c.Channels, c.Prompt)
	case OpHangup:
		return pbx.Hangup(ctx, c.Channel)
	case OpPrepare, OpRelease:
		if h.prep == nil {
			h.t.Fatalf("%v from an engine that does not prepare", c)
		}
		if c.Op == OpPrepare {
			return h.prep.PrepareRecording(ctx, c.Channel, c.Name)
		}
		return h.prep.ReleasePrepared(ctx, c.Name)
	}
	h.t.Fatalf("unknown command %v", c)
	return nil
}

func (h *harness) write(f Effect) {
	ctx := context.Background()
	switch w := f.(type) {
	case WriteCall:
		row := w.Row
		if row.ID == 0 {
			row.ID = h.rowIDs[w.Key]
		}
		if row.ID != 0 {
			_ = h.store.UpdateCall(ctx, row)
			return
		}
		if id, err := h.store.CreateCall(ctx, row); err == nil {
			h.rowIDs[w.Key] = id
			h.e.CallStored(w.Key, id)
		}
	case WriteRecording:
		row := w.Row
		if row.CallID == 0 {
			row.CallID = h.rowIDs[w.Call]
			row.Filename = recording.Filename(row.Start, row.CallID, row.UUID, row.Format)
		}
		if w.New {
			_ = h.store.CreateRecording(ctx, row)
		} else {
			_ = h.store.UpdateRecording(ctx, row)
		}
	case SetAutoRecord:
		_ = h.store.SetUserAutoRecord(ctx, w.Tenant, w.User, w.Enabled)
	}
}

func (h *harness) policy(tenant string, f func(*TenantPolicy)) {
	p := DefaultTenantPolicy()
	if old, ok := h.store.policies[tenant]; ok {
		p = old
	}
	f(&p)
	h.store.policies[tenant] = p
}

func (h *harness) user(ep string, f func(*User)) {
	u := User{UUID: "uuid-" + ep, Extension: ep, Name: "user " + ep}
	if f != nil {
		f(&u)
	}
	h.store.users["acme/"+ep] = u
}

// send applies events at the clock's time, advancing it 10 ms after each.
func (h *harness) send(evs ...Event) {
	for _, ev := range evs {
		h.applyMu.Lock()
		h.apply(h.e.Handle(context.Background(), ev))
		h.applyMu.Unlock()
		h.clock.advance(10 * time.Millisecond)
	}
}

func (h *harness) wait(d time.Duration) { h.clock.advance(d) }

// in / ext build ChannelCreated events for tenant acme.
func in(id, callID, ep string) ChannelCreated {
	return ChannelCreated{Channel: id, CallID: callID, Tenant: "acme", Endpoint: ep, Role: RoleInternal, CallerNumber: ep}
}

func ext(id, callID, num string) ChannelCreated {
	return ChannelCreated{Channel: id, CallID: callID, Tenant: "acme", Role: RoleExternal, CallerNumber: num}
}

func local(id, callID string) ChannelCreated {
	return ChannelCreated{Channel: id, CallID: callID, Tenant: "acme", Role: RoleLocal}
}

func dialTo(c ChannelCreated, num string) ChannelCreated { c.CalleeNumber = num; return c }

// consultThroughLocal: during A ↔ B (br1), A consults 1003 (C) through a
// Local pair (L;1 with A in br2, L;2 with C in br3); B waits alone in br1.
func consultThroughLocal(h *harness) {
	h.send(local("L;1", "L1"), local("L;2", "L1"), ChannelBridged{Channel: "A", Bridge: "br2"},
		ChannelBridged{Channel: "L;1", Bridge: "br2"}, in("C", "L1", "1003"), ChannelAnswered{Channel: "C"},
		ChannelAnswered{Channel: "L;2"}, ChannelBridged{Channel: "C", Bridge: "br3"}, ChannelBridged{Channel: "L;2", Bridge: "br3"})
}

// completeAttended: A hangs up after consultThroughLocal, the transfer
// completes (br2 merges into br1) and A's recording name, recorded on A,
// is re-armed by the PBX on B.
func completeAttended(h *harness, name string) {
	h.send(Hangup{Channel: "A"}, BridgeMerged{From: "br2", To: "br1"},
		Transferred{Kind: TransferAttended, Transferer: "A", Transferee: "B", Target: "L;1"},
		RecordingFinished{Name: name, Channel: "A"}, RecordingStarted{Name: name, Channel: "B"})
}

// connect plays the usual Asterisk order for b answering a's call: b up,
// a up, both enter bridge.
func (h *harness) connect(a, b, bridgeID string) {
	h.send(ChannelAnswered{Channel: b}, ChannelAnswered{Channel: a},
		ChannelBridged{Channel: b, Bridge: bridgeID}, ChannelBridged{Channel: a, Bridge: bridgeID})
}

func (h *harness) digits(ch, s string) {
	for i := 0; i < len(s); i++ {
		h.send(DTMF{Channel: ch, Digit: s[i]})
		h.wait(150 * time.Millisecond)
	}
}

func (h *harness) recs() []RecordingRow { return h.store.recordings() }

func (h *harness) one() RecordingRow {
	h.t.Helper()
	rs := h.recs()
	if len(rs) != 1 {
		h.t.Fatalf("want 1 recording, got %d: %+v", len(rs), rs)
	}
	return rs[0]
}

func (h *harness) noRecordings() {
	h.t.Helper()
	if rs := h.recs(); len(rs) != 0 {
		h.t.Fatalf("want no recording, got %+v", rs)
	}
	if s := h.pbx.ops("start"); len(s) != 0 {
		h.t.Fatalf("want no start command, got %v", s)
	}
}

// api wraps a call-control method so that its effects are applied.
func (h *harness) api(f func(context.Context, string, string, recording.StartedBy) (RecordingInfo, []Effect, error)) func(context.Context, string, string, recording.StartedBy) (RecordingInfo, error) {
	return func(ctx context.Context, tenant, ref string, who recording.StartedBy) (RecordingInfo, error) {
		h.applyMu.Lock()
		defer h.applyMu.Unlock()
		info, fx, err := f(ctx, tenant, ref, who)
		h.apply(fx)
		return info, err
	}
}

// session wraps PauseBySession / ResumeBySession like api.
func (h *harness) session(f func(context.Context, string, recording.StartedBy) (RecordingInfo, []Effect, error)) func(context.Context, string, recording.StartedBy) (RecordingInfo, error) {
	return func(ctx context.Context, id string, who recording.StartedBy) (RecordingInfo, error) {
		h.applyMu.Lock()
		defer h.applyMu.Unlock()
		info, fx, err := f(ctx, id, who)
		h.apply(fx)
		return info, err
	}
}
