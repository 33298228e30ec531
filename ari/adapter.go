package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// Handler is what the adapter feeds: the engine.
type Handler interface {
	Handle(ctx context.Context, ev engine.Event)
}

// Config configures an Adapter.
type Config struct {
	URL      string // ARI base URL, e.g. http://127.0.0.1:8088/ari
	Username string
	Password string
	App      string
	// RequestTimeout bounds every REST call (default 5 s).
	RequestTimeout time.Duration
	// ConnectTimeout and MaxBackoff configure the events websocket.
	ConnectTimeout time.Duration
	MaxBackoff     time.Duration
	Mapping        Mapping
	// SnoopWait bounds the wait for a new snoop's StasisStart (default 2 s);
	// FinishWait the wait for a part's RecordingFinished after a stop and
	// before an append (default 3 s); PlayWait a prompt (default 15 s).
	SnoopWait  time.Duration
	FinishWait time.Duration
	PlayWait   time.Duration
	// Prompts maps the engine's prompts to ARI media URIs (defaults: core
	// sounds, see DefaultPrompts).
	Prompts map[engine.Prompt]string
	// NoEventFilter leaves the application's eventFilter alone (by default
	// callrecd allows only the event types it reads: 85 → ~20 per call).
	NoEventFilter bool
	// WatchdogInterval is how often the link is checked while it looks up
	// (default 10 s; negative: never); WatchdogTimeout bounds one check
	// (default 5 s). See watchdog.go.
	WatchdogInterval time.Duration
	WatchdogTimeout  time.Duration
}

// DefaultPrompts are sounds of Debian's asterisk-core-sounds-en.
func DefaultPrompts() map[engine.Prompt]string {
	return map[engine.Prompt]string{
		engine.PromptRecordingStarted: "sound:beep",
		engine.PromptRecordingPaused:  "sound:beep",
		engine.PromptRecordingResumed: "sound:beep",
		engine.PromptRecordingStopped: "sound:beep",
		engine.PromptDenied:           "sound:beeperr",
		engine.PromptActivated:        "sound:activated",
		engine.PromptDeactivated:      "sound:de-activated",
	}
}

// EventTypes are the event types callrecd reads; the app's eventFilter
// allows only these.
var EventTypes = []string{
	"StasisStart", "StasisEnd", "ChannelCreated", "ChannelDestroyed", "ChannelStateChange",
	"ChannelHangupRequest", "ChannelEnteredBridge", "ChannelLeftBridge", "BridgeMerged",
	"BridgeBlindTransfer", "BridgeAttendedTransfer", "Dial", "ChannelDialplan", "ChannelDtmfReceived",
	"RecordingStarted", "RecordingFinished", "RecordingFailed", "PlaybackStarted", "PlaybackFinished",
	"TextMessageReceived", "ApplicationReplaced",
	"ChannelUserevent", // the watchdog's round trip
}

// SnoopPrefix starts the id of every snoop channel callrecd creates:
// "callrecd-<recording name>-<part>". After a restart, GET /channels shows
// which recordings are ours and live (GET /recordings/live is 405).
const SnoopPrefix = "callrecd-"

const resyncType = "callrecd.Resync"

type resyncData struct {
	at      time.Time
	chans   []Channel
	bridges []Bridge
	live    []LiveRecording
}

// Adapter is callrecd's Asterisk adapter: it implements engine.PBX over ARI
// REST and feeds the engine the translated events of its Stream.
//
// Commands never run on the event loop: each recording (and each channel,
// for prompts and hang-ups) has its own ordered queue drained by a goroutine,
// so a slow or blocked REST call delays only what must come after it.
type Adapter struct {
	cfg    Config
	log    *slog.Logger
	rest   *REST
	stream *Stream
	tr     *Translator

	handler atomic.Pointer[handlerBox]
	jobCtx  context.Context

	mu     sync.Mutex
	queues map[string]*workQueue
	recs   map[string]*recState
	snoops map[string]chan struct{} // snoop id → closed at its StasisStart
	spares map[string]*spare        // recording name → its spare snoop (PrepareRecording)
	plays  map[string]chan struct{} // playback id → closed at its PlaybackFinished

	// OnIdle, if set, is called when a recording has no live part on the
	// PBX and no queued command: its file in the spool is complete for
	// now. Called without locks, from the event loop or a queue.
	OnIdle func(name string)

	resyncs  atomic.Int64
	commands atomic.Int64
	failures atomic.Int64
	trips    atomic.Int64 // reconnects forced by the watchdog
	probeSeq atomic.Int64
}

type handlerBox struct{ h Handler }

type workQueue struct {
	jobs    []func(context.Context)
	running bool
}

// spare is a snoop made before the answer (PrepareRecording) for the
// recording the engine expects to start on its channel: StartRecording then
// only has to issue the record. Its id is the recording's part 0
// ("callrecd-<name>-0"), so a re-sync after a restart adopts a recording
// made on it like any other part, and finds a spare left unused.
type spare struct {
	id, channel, name string
	ready             chan struct{} // closed at the snoop's StasisStart
	dropped           bool          // released (a.mu)
	made              bool          // the snoop request succeeded (a.mu)
	used              bool          // StartRecording waits for it (a.mu)
}

type recState struct {
	snoop    string        // snoop of the current part ("" when none)
	live     bool          // the current part records
	partDone chan struct{} // closed when the current part ends
	seq      int
	stopping bool // callrecd asked the PBX to stop the current part
}

// NewAdapter prepares an adapter; Run connects it.
func NewAdapter(cfg Config, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SnoopWait <= 0 {
		cfg.SnoopWait = 2 * time.Second
	}
	if cfg.FinishWait <= 0 {
		cfg.FinishWait = 3 * time.Second
	}
	if cfg.PlayWait <= 0 {
		cfg.PlayWait = 15 * time.Second
	}
	if cfg.WatchdogInterval == 0 {
		cfg.WatchdogInterval = 10 * time.Second
	}
	if cfg.WatchdogTimeout <= 0 {
		cfg.WatchdogTimeout = 5 * time.Second
	}
	prompts := DefaultPrompts()
	for k, v := range cfg.Prompts {
		prompts[k] = v
	}
	cfg.Prompts = prompts
	a := &Adapter{
		cfg: cfg, log: log,
		rest:   NewREST(cfg.URL, cfg.Username, cfg.Password, cfg.RequestTimeout),
		tr:     NewTranslator(cfg.Mapping, log),
		queues: map[string]*workQueue{}, recs: map[string]*recState{},
		snoops: map[string]chan struct{}{}, plays: map[string]chan struct{}{}, spares: map[string]*spare{},
		jobCtx: context.Background(),
	}
	a.stream = NewStream(StreamConfig{URL: cfg.URL, Username: cfg.Username, Password: cfg.Password, App: cfg.App,
		ConnectTimeout: cfg.ConnectTimeout, MaxBackoff: cfg.MaxBackoff}, log)
	a.stream.OnConnect = a.onConnect
	a.stream.OnReceive = a.onReceive
	a.tr.OnSnoopStart = a.onSnoopStart
	a.tr.OnRecording = a.onRecording
	a.tr.OnPlayback = a.onPlayback
	a.tr.Solicited = a.solicited
	return a
}

var (
	_ engine.PBX      = (*Adapter)(nil)
	_ engine.Preparer = (*Adapter)(nil)
)

// Stream is the adapter's events stream (counters, connection state).
func (a *Adapter) Stream() *Stream { return a.stream }

// Translator is the adapter's event translator (unknown event counters).
func (a *Adapter) Translator() *Translator { return a.tr }

// Connected reports whether the events websocket is up and ours.
func (a *Adapter) Connected() bool { return a.stream.Connected() }

// Stats are the adapter's counters.
type Stats struct {
	Resyncs, Commands, Failures int64
	Queued                      int
}

// Stats returns the adapter's counters.
func (a *Adapter) Stats() Stats {
	a.mu.Lock()
	n := 0
	for _, q := range a.queues {
		n += len(q.jobs)
	}
	a.mu.Unlock()
	return Stats{Resyncs: a.resyncs.Load(), Commands: a.commands.Load(), Failures: a.failures.Load(), Queued: n}
}

// Run connects the events websocket and feeds h until ctx ends. It returns
// ctx's error.
func (a *Adapter) Run(ctx context.Context, h Handler) error {
	a.handler.Store(&handlerBox{h})
	a.jobCtx = context.WithoutCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- a.stream.Run(ctx) }()
	wdone := make(chan struct{})
	go func() { a.watchdog(ctx); close(wdone) }()
	defer func() { <-wdone }()
	defer a.rest.Close()
	for {
		var ev Event
		var err error
		if a.tr.Waiting() {
			// a hangup waits for one more event (blind transfer order); a
			// quiet PBX releases it after a short spell
			qctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			ev, err = a.stream.Next(qctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				for _, e := range a.tr.FlushWaiting() {
					h.Handle(ctx, e)
				}
				continue
			}
		} else {
			ev, err = a.stream.Next(ctx)
		}
		if err != nil {
			<-errc
			return err
		}
		if ev.Type == resyncType && ev.sync != nil {
			snap := a.tr.Resync(ev.sync.at, ev.sync.chans, ev.sync.bridges, ev.sync.live)
			h.Handle(ctx, snap)
			continue
		}
		for _, e := range a.tr.Translate(ev) {
			h.Handle(ctx, e)
		}
	}
}

// emit hands an event of the adapter's own (a command that failed) to the
// engine. Never called with a.mu held.
func (a *Adapter) emit(ev engine.Event) {
	if b := a.handler.Load(); b != nil {
		b.h.Handle(a.jobCtx, ev)
	}
}

// ---- re-sync ----

// onConnect runs on the stream's goroutine after every (re)connection, before
// the new connection's events are read: it sets the event filter, reads the
// PBX's state and queues it for the event loop, behind the events already
// received.
func (a *Adapter) onConnect(ctx context.Context) {
	if !a.cfg.NoEventFilter {
		allowed := make([]map[string]string, len(EventTypes))
		for i, t := range EventTypes {
			allowed[i] = map[string]string{"type": t}
		}
		if err := a.rest.Do(ctx, http.MethodPut, "/applications/"+url.PathEscape(a.cfg.App)+"/eventFilter", nil,
			map[string]any{"allowed": allowed}, nil); err != nil {
			a.log.Warn("ARI: setting the application's event filter failed; all events will arrive", "err", err)
		}
	}
	var data *resyncData
	var err error
	for try := range 3 {
		if data, err = a.readState(ctx); err == nil {
			break
		}
		a.log.Error("ARI: re-sync read failed", "try", try+1, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		a.log.Error("ARI: re-sync impossible; the engine keeps its last view until the next reconnect", "err", err)
		return
	}
	a.resyncs.Add(1)
	a.stream.Inject(Event{Type: resyncType, sync: data})
}

// readState reads channels, bridges and every recording callrecd may have
// live (those it knows, and those its snoops show).
func (a *Adapter) readState(ctx context.Context) (*resyncData, error) {
	d := &resyncData{at: time.Now()}
	if err := a.rest.Do(ctx, http.MethodGet, "/channels", nil, nil, &d.chans); err != nil {
		return nil, err
	}
	if err := a.rest.Do(ctx, http.MethodGet, "/bridges", nil, nil, &d.bridges); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	a.mu.Lock()
	for name, rs := range a.recs {
		if rs.snoop != "" {
			names[name] = true
		}
	}
	a.mu.Unlock()
	for _, ch := range d.chans {
		if name, _, ok := parseSnoopID(ch.ID); ok {
			names[name] = true
		}
	}
	var gone []string
	for name := range names {
		var lr LiveRecording
		err := a.rest.Do(ctx, http.MethodGet, "/recordings/live/"+url.PathEscape(name), nil, nil, &lr)
		switch {
		case err == nil && (lr.State == "recording" || lr.State == "paused" || lr.State == "queued"):
			d.live = append(d.live, lr)
		case err == nil || StatusOf(err) == http.StatusNotFound:
			gone = append(gone, name)
		default:
			return nil, err
		}
	}
	// Bring the adapter's own view in line.
	var idle []string
	liveNames := map[string]bool{}
	for _, lr := range d.live {
		liveNames[lr.Name] = true
	}
	present := map[string]bool{}
	for _, ch := range d.chans {
		present[ch.ID] = true
	}
	a.mu.Lock()
	// Spares: those of channels gone are forgotten; a spare snoop nobody
	// tracks (left by a previous run) and not recording is deleted.
	tracked := map[string]bool{}
	for name, sp := range a.spares {
		if !present[sp.channel] {
			delete(a.spares, name)
			sp.dropped = true
			continue
		}
		tracked[sp.id] = true
	}
	var orphans []string
	for _, ch := range d.chans {
		if name, part, ok := parseSnoopID(ch.ID); ok && part == 0 && !liveNames[name] && !tracked[ch.ID] {
			if rs := a.recs[name]; rs == nil || rs.snoop != ch.ID {
				orphans = append(orphans, ch.ID)
			}
		}
	}
	for _, lr := range d.live {
		rs := a.recLocked(lr.Name)
		if sid := targetChannel(lr.TargetURI); rs.snoop != sid {
			rs.endPart()
			rs.snoop, rs.partDone = sid, make(chan struct{})
		}
		rs.live = true
		if _, seq, ok := parseSnoopID(rs.snoop); ok && seq > rs.seq {
			rs.seq = seq
		}
	}
	for _, name := range gone {
		if rs := a.recs[name]; rs != nil {
			rs.endPart()
			if a.idleLocked(name) {
				idle = append(idle, name)
			}
		}
	}
	a.mu.Unlock()
	for _, name := range idle {
		a.notifyIdle(name)
	}
	for _, id := range orphans {
		a.log.Info("ARI: deleting a spare snoop left unused", "snoop", id)
		a.enqueue("spare:"+id, func(ctx context.Context) { a.deleteChannel(ctx, id) })
	}
	return d, nil
}

// parseSnoopID splits "callrecd-<name>-<part>".
func parseSnoopID(id string) (name string, part int, ok bool) {
	rest, ok := strings.CutPrefix(id, SnoopPrefix)
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", 0, false
	}
	return rest[:i], n, true
}

// onReceive runs on the stream's reader goroutine: a snoop callrecd is
// waiting for can be recorded as soon as its StasisStart arrives, not only
// once the event loop has worked through the events queued before it (the
// engine's store writes for other calls; up to several ms under load). The
// event still goes through the queue in order; onSnoopStart then finds no
// waiter.
func (a *Adapter) onReceive(ev Event) {
	if ev.Type != "StasisStart" || !bytes.Contains(ev.Raw, []byte(`"`+SnoopPrefix)) {
		return
	}
	var m struct {
		Channel struct {
			ID string `json:"id"`
		} `json:"channel"`
	}
	if json.Unmarshal(ev.Raw, &m) == nil && m.Channel.ID != "" {
		a.onSnoopStart(m.Channel.ID)
	}
}

// ---- hooks called by the translator on the event loop ----

func (a *Adapter) onSnoopStart(id string) {
	a.mu.Lock()
	if ch := a.snoops[id]; ch != nil {
		close(ch)
		delete(a.snoops, id)
	}
	a.mu.Unlock()
}

func (a *Adapter) onRecording(typ string, rec LiveRecording, target string) {
	a.mu.Lock()
	rs := a.recs[rec.Name]
	if rs == nil {
		if _, _, ours := parseSnoopID(target); !ours {
			a.mu.Unlock()
			return
		}
		rs = a.recLocked(rec.Name)
	}
	idle := false
	switch typ {
	case "RecordingStarted":
		if rs.snoop != target {
			rs.endPart()
			rs.snoop, rs.partDone = target, make(chan struct{})
		}
		rs.live = true
	default:
		if typ == "RecordingFailed" {
			a.log.Warn("ARI: recording failed", "name", rec.Name, "cause", rec.Cause)
		}
		if rs.snoop == target {
			rs.endPart()
			idle = a.idleLocked(rec.Name)
		}
	}
	a.mu.Unlock()
	if idle {
		a.notifyIdle(rec.Name)
	}
}

func (a *Adapter) onPlayback(typ string, pb Playback) {
	if typ != "PlaybackFinished" {
		return
	}
	a.mu.Lock()
	if ch := a.plays[pb.ID]; ch != nil {
		close(ch)
		delete(a.plays, pb.ID)
	}
	a.mu.Unlock()
}

func (a *Adapter) solicited(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	rs := a.recs[name]
	return rs != nil && rs.stopping
}

// endPart marks the current part ended (a.mu held).
func (rs *recState) endPart() {
	if rs.partDone != nil {
		select {
		case <-rs.partDone:
		default:
			close(rs.partDone)
		}
	}
	rs.snoop, rs.live, rs.stopping = "", false, false
}

func (a *Adapter) recLocked(name string) *recState {
	rs := a.recs[name]
	if rs == nil {
		rs = &recState{}
		a.recs[name] = rs
	}
	return rs
}

// idleLocked: no live part and nothing queued for the recording.
func (a *Adapter) idleLocked(name string) bool {
	rs := a.recs[name]
	q := a.queues[name]
	return (rs == nil || rs.snoop == "") && (q == nil || !q.running && len(q.jobs) == 0)
}

// Idle reports whether recording name has no live part and no queued
// command (its spool file is complete unless a new part is started).
func (a *Adapter) Idle(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.idleLocked(name)
}

func (a *Adapter) notifyIdle(name string) {
	if a.OnIdle != nil {
		a.OnIdle(name)
	}
}

// Forget drops what the adapter remembers of a finished recording.
func (a *Adapter) Forget(name string) {
	a.mu.Lock()
	if a.idleLocked(name) {
		delete(a.recs, name)
	}
	a.mu.Unlock()
}

// ---- ordered command queues ----

func (a *Adapter) enqueue(key string, job func(context.Context)) {
	a.mu.Lock()
	q := a.queues[key]
	if q == nil {
		q = &workQueue{}
		a.queues[key] = q
	}
	q.jobs = append(q.jobs, job)
	start := !q.running
	q.running = true
	a.mu.Unlock()
	if start {
		go a.drain(key, q)
		// Let the command go out now, before the caller (the event loop,
		// which goes on to the engine's store writes) takes the processor
		// back: the new goroutine is next on this P.
		runtime.Gosched()
	}
}

func (a *Adapter) drain(key string, q *workQueue) {
	for {
		a.mu.Lock()
		if len(q.jobs) == 0 {
			q.running = false
			if a.queues[key] == q {
				delete(a.queues, key)
			}
			idle := a.recs[key] != nil && a.idleLocked(key)
			a.mu.Unlock()
			if idle {
				a.notifyIdle(key)
			}
			return
		}
		job := q.jobs[0]
		q.jobs[0] = nil
		q.jobs = q.jobs[1:]
		a.mu.Unlock()
		a.commands.Add(1)
		job(a.jobCtx)
	}
}

// ---- engine.PBX ----

// StartRecording records channelID through a snoop (spy both) into
// <spool>/<name>.wav, appending when the file exists. It returns at
// once; the outcome arrives as RecordingStarted or RecordingFailed.
func (a *Adapter) StartRecording(_ context.Context, channelID, name, format string) (string, error) {
	if channelID == "" || name == "" {
		return "", errors.New("ari: start recording: channel and name are required")
	}
	// Asterisk writes WAV (mp3/amr are made from it later); the spool file
	// is always <name>.wav.
	format = "wav"
	a.mu.Lock()
	a.recLocked(name)
	a.mu.Unlock()
	a.enqueue(name, func(ctx context.Context) { a.startPart(ctx, channelID, name, format) })
	return name, nil
}

// PrepareRecording makes a spare snoop on channelID for recording name
// (engine.Preparer): a snoop, in the application, that records nothing
// until StartRecording(channelID, name) records on it. It returns at once.
func (a *Adapter) PrepareRecording(_ context.Context, channelID, name string) error {
	if channelID == "" || name == "" {
		return errors.New("ari: prepare recording: channel and name are required")
	}
	a.mu.Lock()
	if a.spares[name] != nil {
		a.mu.Unlock()
		return nil
	}
	sp := &spare{id: SnoopPrefix + name + "-0", channel: channelID, name: name, ready: make(chan struct{})}
	a.spares[name] = sp
	a.snoops[sp.id] = sp.ready
	a.mu.Unlock()
	// On the recording's queue: StartRecording and ReleasePrepared come after.
	a.enqueue(name, func(ctx context.Context) { a.makeSpare(ctx, sp) })
	return nil
}

// ReleasePrepared deletes the spare snoop PrepareRecording made for name,
// unless StartRecording used it.
func (a *Adapter) ReleasePrepared(_ context.Context, name string) error {
	a.mu.Lock()
	sp := a.spares[name]
	if sp == nil || sp.used {
		a.mu.Unlock()
		return nil
	}
	delete(a.spares, name)
	sp.dropped = true
	a.mu.Unlock()
	a.enqueue(name, func(ctx context.Context) { a.dropSpare(ctx, sp) })
	return nil
}

// PauseRecording pauses the live recording (paused time is left out).
func (a *Adapter) PauseRecording(_ context.Context, handle string) error {
	a.enqueue(handle, func(ctx context.Context) {
		a.liveCommand(ctx, http.MethodPost, handle, "/pause")
	})
	return nil
}

// ResumeRecording resumes it.
func (a *Adapter) ResumeRecording(_ context.Context, handle string) error {
	a.enqueue(handle, func(ctx context.Context) {
		a.liveCommand(ctx, http.MethodDelete, handle, "/pause")
	})
	return nil
}

// StopRecording stops the current part and removes its snoop.
func (a *Adapter) StopRecording(_ context.Context, handle string) error {
	a.enqueue(handle, func(ctx context.Context) { a.stopPart(ctx, handle) })
	return nil
}

// Play plays prompt to each channel, one after the other per channel.
func (a *Adapter) Play(_ context.Context, channelIDs []string, prompt engine.Prompt) error {
	media := a.cfg.Prompts[prompt]
	if media == "" {
		return fmt.Errorf("ari: no media for prompt %q", prompt)
	}
	for _, id := range channelIDs {
		a.enqueue("channel:"+id, func(ctx context.Context) { a.play(ctx, id, media) })
	}
	return nil
}

// Hangup hangs channelID up, after any prompt queued for it.
func (a *Adapter) Hangup(_ context.Context, channelID string) error {
	a.enqueue("channel:"+channelID, func(ctx context.Context) {
		err := a.rest.Do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(channelID), nil, nil, nil)
		if err != nil && StatusOf(err) != http.StatusNotFound {
			a.failures.Add(1)
			a.log.Warn("ARI: hangup failed", "channel", channelID, "err", err)
		}
	})
	return nil
}

// ---- commands (run on a queue) ----

func (a *Adapter) fail(name, channelID, reason string) {
	a.failures.Add(1)
	a.log.Error("ARI: recording could not start", "name", name, "channel", channelID, "reason", reason)
	a.emit(engine.RecordingFailed{Name: name, Channel: channelID, Reason: reason})
}

func (a *Adapter) makeSpare(ctx context.Context, sp *spare) {
	a.mu.Lock()
	dropped := sp.dropped
	a.mu.Unlock()
	if dropped {
		return // released before it was made; the release's job cleans up
	}
	q := url.Values{"spy": {"both"}, "app": {a.cfg.App}, "snoopId": {sp.id}, "appArgs": {"callrecd-spare"}}
	err := a.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(sp.channel)+"/snoop", q, nil, nil)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		sp.made = true
		return
	}
	// StartRecording will make its own snoop.
	a.log.Info("ARI: spare snoop failed", "channel", sp.channel, "err", err)
	delete(a.snoops, sp.id)
	if a.spares[sp.name] == sp {
		delete(a.spares, sp.name)
	}
}

// dropSpare deletes a spare's snoop (if it was made). Run on the
// recording's queue, after the job that made it.
func (a *Adapter) dropSpare(ctx context.Context, sp *spare) {
	a.mu.Lock()
	delete(a.snoops, sp.id)
	made := sp.made
	a.mu.Unlock()
	if made {
		a.deleteChannel(ctx, sp.id)
	}
}

// useSpare records the first part of name on its spare snoop, if it has
// one on channelID: at once if the snoop is in the application, else once
// it is (as a new snoop would be waited for). It reports false when the
// normal path must run (no spare, or the spare is unusable or on another
// channel: then it is deleted).
func (a *Adapter) useSpare(ctx context.Context, channelID, name, format string) bool {
	a.mu.Lock()
	sp := a.spares[name]
	rs := a.recLocked(name)
	if sp == nil {
		a.mu.Unlock()
		return false
	}
	if sp.channel != channelID || rs.seq != 0 || rs.snoop != "" {
		delete(a.spares, name)
		sp.dropped = true
		a.mu.Unlock()
		a.dropSpare(ctx, sp)
		return false
	}
	// Still listed while it is waited for: a re-sync meanwhile keeps it.
	sp.used = true
	a.mu.Unlock()
	forget := func() {
		if a.spares[name] == sp {
			delete(a.spares, name)
		}
	}
	select {
	case <-sp.ready:
	case <-time.After(a.cfg.SnoopWait):
		a.log.Warn("ARI: spare snoop never entered the application; making another", "channel", channelID, "snoop", sp.id)
		a.mu.Lock()
		forget()
		a.mu.Unlock()
		a.dropSpare(ctx, sp)
		return false
	}
	a.mu.Lock()
	forget()
	rs.snoop, rs.partDone, rs.stopping = sp.id, make(chan struct{}), false
	a.mu.Unlock()
	if err := a.record(ctx, sp.id, name, format); err != nil {
		a.log.Warn("ARI: record on the spare snoop failed; making another", "channel", channelID, "snoop", sp.id, "err", err)
		a.mu.Lock()
		if rs.snoop == sp.id {
			rs.endPart()
		}
		a.mu.Unlock()
		a.deleteChannel(ctx, sp.id)
		return false
	}
	return true
}

func (a *Adapter) startPart(ctx context.Context, channelID, name, format string) {
	if a.useSpare(ctx, channelID, name, format) {
		return
	}
	a.mu.Lock()
	rs := a.recLocked(name)
	prev, prevDone := rs.snoop, rs.partDone
	a.mu.Unlock()
	if prev != "" && prevDone != nil {
		// Appending while the previous part is live is a 409: wait for its
		// RecordingFinished (it follows the spied leg's end by 1-3 ms).
		select {
		case <-prevDone:
		case <-time.After(a.cfg.FinishWait):
			a.log.Warn("ARI: previous part of the recording still live; appending anyway", "name", name, "snoop", prev)
		}
	}
	a.mu.Lock()
	rs.seq++
	sid := SnoopPrefix + name + "-" + strconv.Itoa(rs.seq)
	ready := make(chan struct{})
	a.snoops[sid] = ready
	a.mu.Unlock()
	dropWait := func() {
		a.mu.Lock()
		delete(a.snoops, sid)
		a.mu.Unlock()
	}

	q := url.Values{"spy": {"both"}, "app": {a.cfg.App}, "snoopId": {sid}, "appArgs": {"callrecd-snoop"}}
	if err := a.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/snoop", q, nil, nil); err != nil {
		dropWait()
		a.fail(name, channelID, "snoop: "+err.Error())
		return
	}
	select {
	case <-ready:
	case <-time.After(a.cfg.SnoopWait):
		dropWait()
		a.deleteChannel(ctx, sid)
		a.fail(name, channelID, "snoop channel never entered the application")
		return
	}
	a.mu.Lock()
	if rs.snoop != "" && rs.snoop != sid {
		rs.endPart()
	}
	rs.snoop, rs.partDone, rs.stopping = sid, make(chan struct{}), false
	a.mu.Unlock()

	if err := a.record(ctx, sid, name, format); err != nil {
		a.mu.Lock()
		if rs.snoop == sid {
			rs.endPart()
		}
		a.mu.Unlock()
		a.deleteChannel(ctx, sid)
		a.fail(name, channelID, "record: "+err.Error())
	}
}

// record records snoop sid into name, retrying while a part of that name is
// still live (append refused).
func (a *Adapter) record(ctx context.Context, sid, name, format string) error {
	rq := url.Values{"name": {name}, "format": {format}, "ifExists": {"append"}, "beep": {"false"}, "terminateOn": {"none"}}
	deadline := time.Now().Add(a.cfg.FinishWait)
	for {
		err := a.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(sid)+"/record", rq, nil, nil)
		if err == nil || StatusOf(err) != http.StatusConflict || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *Adapter) stopPart(ctx context.Context, name string) {
	a.mu.Lock()
	rs := a.recs[name]
	if rs == nil || rs.snoop == "" {
		a.mu.Unlock()
		return // the part already ended (its leg left) or never started
	}
	sid, done := rs.snoop, rs.partDone
	rs.stopping = true
	a.mu.Unlock()
	err := a.rest.Do(ctx, http.MethodPost, "/recordings/live/"+url.PathEscape(name)+"/stop", nil, nil, nil)
	if err != nil && StatusOf(err) != http.StatusNotFound {
		a.failures.Add(1)
		a.log.Warn("ARI: stop recording failed", "name", name, "err", err)
	}
	if err == nil {
		select {
		case <-done:
		case <-time.After(a.cfg.FinishWait):
			a.log.Warn("ARI: no RecordingFinished after stop", "name", name)
		}
	}
	// Only now (the recording is over) a command to the snoop cannot block.
	a.deleteChannel(ctx, sid)
	a.mu.Lock()
	if rs.snoop == sid {
		rs.endPart()
	}
	a.mu.Unlock()
}

func (a *Adapter) liveCommand(ctx context.Context, method, name, suffix string) {
	err := a.rest.Do(ctx, method, "/recordings/live/"+url.PathEscape(name)+suffix, nil, nil, nil)
	if err != nil {
		a.failures.Add(1)
		a.log.Warn("ARI: recording command failed", "name", name, "command", method+" "+suffix, "err", err)
	}
}

func (a *Adapter) deleteChannel(ctx context.Context, id string) {
	err := a.rest.Do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(id), nil, nil, nil)
	if err != nil && StatusOf(err) != http.StatusNotFound {
		a.failures.Add(1)
		a.log.Warn("ARI: delete channel failed", "channel", id, "err", err)
	}
}

var playSeq atomic.Int64

// play plays media to a channel. A channel in the application (a *26 call)
// is answered and played to directly; any other channel (a plain dialplan
// call) gets a whispering snoop (spy none, whisper out) that plays into it:
// ARI refuses play on a channel outside Stasis (409).
func (a *Adapter) play(ctx context.Context, channelID, media string) {
	chPath := "/channels/" + url.PathEscape(channelID)
	target := channelID
	err := a.rest.Do(ctx, http.MethodPost, chPath+"/answer", nil, nil, nil)
	var snoop string
	if StatusOf(err) == http.StatusConflict {
		snoop = fmt.Sprintf("callrecdplay-%d", playSeq.Add(1))
		ready := make(chan struct{})
		a.mu.Lock()
		a.snoops[snoop] = ready
		a.mu.Unlock()
		q := url.Values{"spy": {"none"}, "whisper": {"out"}, "app": {a.cfg.App}, "snoopId": {snoop}, "appArgs": {"callrecd-prompt"}}
		if err := a.rest.Do(ctx, http.MethodPost, chPath+"/snoop", q, nil, nil); err != nil {
			a.mu.Lock()
			delete(a.snoops, snoop)
			a.mu.Unlock()
			a.failures.Add(1)
			a.log.Warn("ARI: prompt snoop failed", "channel", channelID, "err", err)
			return
		}
		select {
		case <-ready:
		case <-time.After(a.cfg.SnoopWait):
		}
		target = snoop
		defer a.deleteChannel(ctx, snoop)
	} else if err != nil {
		if StatusOf(err) != http.StatusNotFound {
			a.failures.Add(1)
			a.log.Warn("ARI: answer before prompt failed", "channel", channelID, "err", err)
		}
		return
	}
	pid := fmt.Sprintf("callrecd-pb-%d-%d", time.Now().UnixNano(), playSeq.Add(1))
	done := make(chan struct{})
	a.mu.Lock()
	a.plays[pid] = done
	a.mu.Unlock()
	q := url.Values{"media": {media}, "playbackId": {pid}}
	if err := a.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(target)+"/play", q, nil, nil); err != nil {
		a.mu.Lock()
		delete(a.plays, pid)
		a.mu.Unlock()
		a.failures.Add(1)
		a.log.Warn("ARI: play failed", "channel", channelID, "media", media, "err", err)
		return
	}
	select {
	case <-done:
	case <-time.After(a.cfg.PlayWait):
		a.mu.Lock()
		delete(a.plays, pid)
		a.mu.Unlock()
	}
}
