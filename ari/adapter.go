package ari

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
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

// Adapter is callrecd's Asterisk adapter: it implements engine.PBX over ARI
// REST and feeds the engine the translated events of its Stream. It only
// wires its rooms together:
//   - the session (session.go, watchdog.go): the events websocket, the
//     re-sync after each connection, the watchdog, the event loop;
//   - the translator (translate*.go): raw events → engine events, plus
//     notes for the rooms that send commands;
//   - the recorder (recorder*.go): recordings' parts on snoops, spare snoops,
//     the ordered command queues;
//   - the prompts (prompts.go): prompts and hang-ups.
type Adapter struct {
	sess    *session
	pbx     *pbx
	rec     *recorder
	prompts *prompter
	handler atomic.Pointer[handlerBox]

	// OnIdle, if set, is called when a recording has no live part on the
	// PBX and no queued command: its file in the spool is complete for
	// now. Called without locks, from the event loop or a queue.
	OnIdle func(name string)
}

type handlerBox struct{ h Handler }

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

	a := &Adapter{}
	rest := NewREST(cfg.URL, cfg.Username, cfg.Password, cfg.RequestTimeout)
	a.pbx = &pbx{rest: rest, app: cfg.App, log: log, snoopWait: cfg.SnoopWait}
	a.rec = newRecorder(a.pbx, cfg.FinishWait, a.emit, a.notifyIdle)
	a.prompts = &prompter{pbx: a.pbx, enqueue: a.rec.enqueue, media: cfg.Prompts, playWait: cfg.PlayWait}
	stream := NewStream(StreamConfig{URL: cfg.URL, Username: cfg.Username, Password: cfg.Password, App: cfg.App,
		ConnectTimeout: cfg.ConnectTimeout, MaxBackoff: cfg.MaxBackoff,
		Probe: func(ctx context.Context) error { return rest.Do(ctx, http.MethodGet, "/asterisk/ping", nil, nil, nil) }}, log)
	a.sess = &session{cfg: cfg, log: log, rest: rest, stream: stream, tr: NewTranslator(cfg.Mapping, log),
		pbx: a.pbx, rec: a.rec, prompts: a.prompts}
	stream.OnConnect = a.sess.onConnect
	stream.OnReceive = a.sess.onReceive
	return a
}

var (
	_ engine.PBX      = (*Adapter)(nil)
	_ engine.Preparer = (*Adapter)(nil)
)

// Stream is the adapter's events stream (counters, connection state).
func (a *Adapter) Stream() *Stream { return a.sess.stream }

// Translator is the adapter's event translator (unknown event counters).
func (a *Adapter) Translator() *Translator { return a.sess.tr }

// Connected reports whether the events websocket is up and ours.
func (a *Adapter) Connected() bool { return a.sess.stream.Connected() }

// Synced reports whether the engine got the re-sync of the current
// connection: false from a (re)connect until then, and for good if that
// re-sync could not be read (the engine keeps an older view).
func (a *Adapter) Synced() bool {
	n := a.sess.connects.Load()
	return n > 0 && a.sess.handed.Load() == n
}

// WatchdogTrips counts the reconnects the watchdog forced.
func (a *Adapter) WatchdogTrips() int64 { return a.sess.trips.Load() }

// Stats are the adapter's counters.
type Stats struct {
	Resyncs, Commands, Failures int64
	Queued                      int
}

// Stats returns the adapter's counters.
func (a *Adapter) Stats() Stats {
	return Stats{Resyncs: a.sess.resyncs.Load(), Commands: a.pbx.commands.Load(), Failures: a.pbx.failures.Load(),
		Queued: a.rec.queued()}
}

// Run connects the events websocket and feeds h until ctx ends. It returns
// ctx's error.
func (a *Adapter) Run(ctx context.Context, h Handler) error {
	a.handler.Store(&handlerBox{h})
	a.rec.ctx = context.WithoutCancel(ctx)
	return a.sess.run(ctx, h)
}

// emit hands an event of the adapter's own (a command that failed) to the
// engine. Never called with a lock held.
func (a *Adapter) emit(ctx context.Context, ev engine.Event) {
	if b := a.handler.Load(); b != nil {
		b.h.Handle(ctx, ev)
	}
}

func (a *Adapter) notifyIdle(name string) {
	if a.OnIdle != nil {
		a.OnIdle(name)
	}
}

// Idle reports whether recording name has no live part and no queued
// command (its spool file is complete unless a new part is started).
func (a *Adapter) Idle(name string) bool { return a.rec.isIdle(name) }

// Forget drops what the adapter remembers of a finished recording.
func (a *Adapter) Forget(name string) { a.rec.forget(name) }

// ---- engine.PBX and engine.Preparer: each queues its work and returns ----

// StartRecording records channelID through a snoop (spy both) into
// <spool>/<name>.wav, appending when the file exists. It returns at
// once; the outcome arrives as RecordingStarted or RecordingFailed.
func (a *Adapter) StartRecording(_ context.Context, channelID, name string, _ recording.Format) error {
	if channelID == "" || name == "" {
		return errors.New("ari: start recording: channel and name are required")
	}
	// Asterisk writes WAV (mp3/amr are made from it later); the spool file
	// is always <name>.wav.
	a.rec.start(channelID, name, "wav")
	return nil
}

// PrepareRecording makes a spare snoop on channelID for recording name
// (engine.Preparer): a snoop, in the application, that records nothing
// until StartRecording(channelID, name) records on it. It returns at once.
func (a *Adapter) PrepareRecording(_ context.Context, channelID, name string) error {
	if channelID == "" || name == "" {
		return errors.New("ari: prepare recording: channel and name are required")
	}
	a.rec.prepare(channelID, name)
	return nil
}

// ReleasePrepared deletes the spare snoop PrepareRecording made for name,
// unless StartRecording used it.
func (a *Adapter) ReleasePrepared(_ context.Context, name string) error {
	a.rec.release(name)
	return nil
}

// PauseRecording pauses the live recording (paused time is left out).
func (a *Adapter) PauseRecording(_ context.Context, handle string) error {
	a.rec.pause(handle)
	return nil
}

// ResumeRecording resumes it.
func (a *Adapter) ResumeRecording(_ context.Context, handle string) error {
	a.rec.resume(handle)
	return nil
}

// StopRecording stops the current part and removes its snoop.
func (a *Adapter) StopRecording(_ context.Context, handle string) error {
	a.rec.stop(handle)
	return nil
}

// Play plays prompt to each channel, one after the other per channel.
func (a *Adapter) Play(_ context.Context, channelIDs []string, prompt engine.Prompt) error {
	return a.prompts.play(channelIDs, prompt)
}

// Hangup hangs channelID up, after any prompt queued for it.
func (a *Adapter) Hangup(_ context.Context, channelID string) error {
	a.prompts.hangup(channelID)
	return nil
}
