package esl

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/redial"
)

// AdapterConfig is the FreeSWITCH side of the configuration.
type AdapterConfig struct {
	Address, Password string
	// RecordingDir is where FreeSWITCH writes callrecd's recordings, as
	// FreeSWITCH sees the folder (callrecd's collector reads the same
	// folder, possibly under another path).
	RecordingDir string
	Mapping      Mapping
	// Prompts maps the engine's prompts to what uuid_broadcast plays (a
	// file path or a tone_stream://); missing ones are DefaultPrompts'.
	Prompts map[engine.Prompt]string

	ConnectTimeout   time.Duration // dial and log in; 0: 5 s
	CommandTimeout   time.Duration // each api command; 0: 10 s
	HeartbeatTimeout time.Duration // no event at all for this long: the link is dead; 0: 65 s
	MaxBackoff       time.Duration // between redials; 0: 30 s
	PlayWait         time.Duration // bound on a prompt before the channel's next command; 0: 30 s
}

// DefaultPrompts need no sound files: tones (a rising pair for started, a
// falling pair for stopped, one short tone for paused/resumed, a low buzz
// for refused).
var DefaultPrompts = map[engine.Prompt]string{
	engine.PromptRecordingStarted: "tone_stream://%(200,50,660);%(200,0,880)",
	engine.PromptRecordingStopped: "tone_stream://%(200,50,880);%(200,0,660)",
	engine.PromptRecordingPaused:  "tone_stream://%(300,0,660)",
	engine.PromptRecordingResumed: "tone_stream://%(300,0,880)",
	engine.PromptDenied:           "tone_stream://%(500,0,350,440)",
	engine.PromptActivated:        "tone_stream://%(200,50,660);%(200,50,880);%(200,0,990)",
	engine.PromptDeactivated:      "tone_stream://%(200,50,990);%(200,50,880);%(200,0,660)",
}

// Handler receives the engine events (the executor).
type Handler interface {
	Handle(ctx context.Context, ev engine.Event)
}

// Adapter is callrecd's link to one FreeSWITCH over an inbound event
// socket: it keeps the connection up, turns events into engine events in
// wire order, re-syncs after every (re)connect with a Snapshot, and carries
// out the engine's commands (it is the engine.PBX).
type Adapter struct {
	*recorder
	cfg AdapterConfig
	log *slog.Logger
	tr  *translator

	mu      sync.Mutex
	client  *Client // the live connection, nil while down
	resyncs int
	synced  bool // this connection's re-sync was handed to the engine

	reconnects atomic.Int64
}

// NewAdapter returns an adapter; nothing connects until Run.
func NewAdapter(cfg AdapterConfig, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.ConnectTimeout = orDefault(cfg.ConnectTimeout, 5*time.Second)
	cfg.CommandTimeout = orDefault(cfg.CommandTimeout, 10*time.Second)
	cfg.HeartbeatTimeout = orDefault(cfg.HeartbeatTimeout, 65*time.Second)
	cfg.MaxBackoff = orDefault(cfg.MaxBackoff, 30*time.Second)
	cfg.PlayWait = orDefault(cfg.PlayWait, 30*time.Second)
	prompts := map[engine.Prompt]string{}
	for p, f := range DefaultPrompts {
		prompts[p] = f
	}
	for p, f := range cfg.Prompts {
		prompts[p] = f
	}
	a := &Adapter{cfg: cfg, log: log, tr: newTranslator(cfg.Mapping)}
	a.recorder = &recorder{dir: cfg.RecordingDir, prompts: prompts, api: a.api, log: log, playWait: cfg.PlayWait,
		recs: map[string]*fsRecording{}, playing: map[string]chan struct{}{}}
	return a
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// SetIdle sets the hook told when a recording has no live part and no
// queued command (the collector's PBXIdle). Call before Run.
func (a *Adapter) SetIdle(f func(name string)) { a.recorder.idle = f }

// ErrDisconnected: a command found no live connection to FreeSWITCH.
var ErrDisconnected = errors.New("not connected to FreeSWITCH")

func (a *Adapter) api(ctx context.Context, cmd string) (string, error) {
	a.mu.Lock()
	c := a.client
	a.mu.Unlock()
	if c == nil {
		return "", ErrDisconnected
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CommandTimeout)
	defer cancel()
	return c.API(ctx, cmd)
}

// Connected reports whether the event socket is up.
func (a *Adapter) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.client != nil
}

// Ready is nil once connected and the re-sync of this connection was handed
// to the engine: while a reconnect re-syncs, the engine's view is older
// than FreeSWITCH's.
func (a *Adapter) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.client == nil:
		return errors.New("disconnected from FreeSWITCH")
	case a.resyncs == 0:
		return errors.New("connected to FreeSWITCH, first re-sync not done yet")
	case !a.synced:
		return errors.New("reconnected to FreeSWITCH, re-sync not done yet")
	}
	return nil
}

// Stats are the adapter's counters for /metrics.
type Stats struct {
	Reconnects, Commands, Failures int64
}

// Stats returns the counters.
func (a *Adapter) Stats() Stats {
	return Stats{Reconnects: a.reconnects.Load(), Commands: a.commands.Load(), Failures: a.failures.Load()}
}

// Run keeps the link up and feeds h until ctx ends; it returns ctx's error.
// A connection that dies (read error, disconnect notice, heartbeat gap,
// garbled frame, a command that timed out) is redialled with backoff, and
// the engine gets a fresh Snapshot each time.
func (a *Adapter) Run(ctx context.Context, h Handler) error {
	a.recorder.emit = h.Handle
	backoff := 250 * time.Millisecond
	waiter := &redial.Waiter{Probe: a.listening, Log: a.log}
	for ctx.Err() == nil {
		up := time.Now()
		err := a.session(ctx, h)
		if ctx.Err() != nil {
			break
		}
		if time.Since(up) > time.Minute {
			backoff = 250 * time.Millisecond
		}
		a.log.Warn("FreeSWITCH event socket down; redialling", "err", err, "in", backoff)
		refused := isDialRefused(err)
		if !refused {
			waiter.Connected() // the socket answered
		}
		_ = waiter.Wait(ctx, backoff, refused)
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
	return ctx.Err()
}

// isDialRefused: the dial found nothing listening on the event socket
// (FreeSWITCH down or still starting), as opposed to a refused login.
func isDialRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// listening is the redial wait's probe: a bare TCP connect to the event
// socket, closed at once. It fails while FreeSWITCH is down (refused, or
// no answer within the probe's bound) and succeeds once it listens again,
// which ends the wait (redial.Waiter) however long the backoff had grown.
func (a *Adapter) listening(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", a.cfg.Address)
	if err != nil {
		return err
	}
	return c.Close()
}

// session is one connection: dial, re-sync, then events until it dies.
func (a *Adapter) session(ctx context.Context, h Handler) error {
	events := make(chan Event)
	abandon := make(chan struct{})
	defer close(abandon)
	dialCtx, cancel := context.WithTimeout(ctx, a.cfg.ConnectTimeout)
	c, err := Dial(dialCtx, Config{
		Addr: a.cfg.Address, Password: a.cfg.Password, Events: subscribed,
		DialTimeout: a.cfg.ConnectTimeout, CommandTimeout: a.cfg.CommandTimeout,
		HeartbeatTimeout: a.cfg.HeartbeatTimeout, Logger: a.log,
		// Events wait here, in order, until the re-sync is handed over.
		OnEvent: func(ev Event) {
			select {
			case events <- ev:
			case <-abandon:
			}
		},
	})
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	a.mu.Lock()
	a.client, a.synced = c, false
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.client, a.synced = nil, false
		a.mu.Unlock()
	}()
	snap, err := a.resync(ctx, c)
	if err != nil {
		return err
	}
	h.Handle(ctx, snap)
	a.mu.Lock()
	if a.resyncs > 0 {
		a.reconnects.Add(1)
	}
	a.resyncs++
	a.synced = true
	a.mu.Unlock()
	a.log.Info("FreeSWITCH event socket up and re-synced", "address", a.cfg.Address,
		"channels", len(snap.Channels), "recordings", len(snap.Recordings))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return c.Err()
		case ev := <-events:
			a.recorder.observe(ev)
			for _, e := range a.tr.translate(ev) {
				h.Handle(ctx, e)
			}
		}
	}
}
