package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/callrecd/callrecd/engine"
)

// session is the adapter's link to Asterisk: the events websocket (Stream),
// the re-sync after every (re)connection, the watchdog (watchdog.go), and
// the event loop that hands the translator's events to the engine and its
// notes to the rooms that wait on them (recorder, prompts).
type session struct {
	cfg    Config
	log    *slog.Logger
	rest   *REST
	stream *Stream
	tr     *Translator // driven by the event loop only

	pbx     *pbx
	rec     *recorder
	prompts *prompter

	resyncs atomic.Int64
	// connects counts the connections whose re-sync began; handed is the
	// count at the one whose snapshot the engine got last. Equal: the
	// engine's view is as fresh as the current connection's.
	connects, handed atomic.Int64
	trips            atomic.Int64 // reconnects forced by the watchdog
	probeSeq         atomic.Int64
}

// resyncType marks the re-sync's read of the PBX, queued among the events.
const resyncType = "callrecd.Resync"

type resyncData struct {
	connect int64 // session.connects when it was read
	at      time.Time
	chans   []Channel
	bridges []Bridge
	live    []LiveRecording
}

// run is the event loop: it connects the events websocket and feeds h until
// ctx ends, then returns ctx's error.
func (s *session) run(ctx context.Context, h Handler) error {
	errc := make(chan error, 1)
	go func() { errc <- s.stream.Run(ctx) }()
	wdone := make(chan struct{})
	go func() { s.watchdog(ctx); close(wdone) }()
	defer func() { <-wdone }()
	defer s.rest.Close()
	for {
		var ev Event
		var err error
		if s.tr.Waiting() {
			// a hangup waits for one more event (blind transfer order); a
			// quiet PBX releases it after a short spell
			qctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			ev, err = s.stream.Next(qctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				for _, e := range s.tr.FlushWaiting() {
					h.Handle(ctx, e)
				}
				continue
			}
		} else {
			ev, err = s.stream.Next(ctx)
		}
		if err != nil {
			<-errc
			return err
		}
		if ev.Type == resyncType && ev.sync != nil {
			snap := s.tr.Resync(ev.sync.at, ev.sync.chans, ev.sync.bridges, ev.sync.live)
			h.Handle(ctx, snap)
			s.handed.Store(ev.sync.connect)
			continue
		}
		for _, e := range s.step(ev) {
			h.Handle(ctx, e)
		}
	}
}

// step translates one raw event and hands its notes on before the engine
// gets its events (as the adapter's state must be when the engine acts on
// them). A part's end that the translator held as the PBX's own is handed
// on at once when the recorder had asked for it.
func (s *session) step(ev Event) []engine.Event {
	out, notes := s.tr.translate(ev)
	for _, n := range notes {
		switch n.kind {
		case noteSnoopEntered:
			s.pbx.snoops.arrive(n.id)
		case notePlaybackFinished:
			s.prompts.playing.arrive(n.id)
		case noteRecordingStarted, noteRecordingEnded:
			if asked := s.rec.recordingEvent(n); asked && n.held {
				out = append(out, s.tr.unhold(n))
			}
		}
	}
	return out
}

// onReceive runs on the stream's reader goroutine: a snoop callrecd is
// waiting for can be recorded as soon as its StasisStart arrives, not only
// once the event loop has worked through the events queued before it (the
// engine's store writes for other calls; up to several ms under load). The
// event still goes through the queue in order; its note then finds no
// waiter.
func (s *session) onReceive(ev Event) {
	if ev.Type != "StasisStart" || !bytes.Contains(ev.Raw, []byte(`"`+SnoopPrefix)) {
		return
	}
	var m struct {
		Channel struct {
			ID string `json:"id"`
		} `json:"channel"`
	}
	if json.Unmarshal(ev.Raw, &m) == nil && m.Channel.ID != "" {
		s.pbx.snoops.arrive(m.Channel.ID)
	}
}

// onConnect runs on the stream's goroutine after every (re)connection, before
// the new connection's events are read: it sets the event filter, reads the
// PBX's state and queues it for the event loop, behind the events already
// received.
func (s *session) onConnect(ctx context.Context) {
	connect := s.connects.Add(1)
	if !s.cfg.NoEventFilter {
		allowed := make([]map[string]string, len(EventTypes))
		for i, t := range EventTypes {
			allowed[i] = map[string]string{"type": t}
		}
		if err := s.rest.Do(ctx, http.MethodPut, "/applications/"+url.PathEscape(s.cfg.App)+"/eventFilter", nil,
			map[string]any{"allowed": allowed}, nil); err != nil {
			s.log.Warn("ARI: setting the application's event filter failed; all events will arrive", "err", err)
		}
	}
	var data *resyncData
	var err error
	for try := range 3 {
		if data, err = s.readState(ctx); err == nil {
			break
		}
		s.log.Error("ARI: re-sync read failed", "try", try+1, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		s.log.Error("ARI: re-sync impossible; the engine keeps its last view until the next reconnect", "err", err)
		return
	}
	s.resyncs.Add(1)
	data.connect = connect
	s.stream.Inject(Event{Type: resyncType, sync: data})
}

// readState reads every recording callrecd may have live (those the
// recorder knows, and those its snoops show), then channels and bridges,
// and brings the recorder's view in line. The channels are read again after
// the recordings: a call hanging up during the read ends its recording
// first, and channels read before would show it still up with its
// recording gone, which reads as a recording the PBX lost (soak 13: a
// pbx_lost row and a new start refused with 404). The snapshot is dated
// at that last read: a call the engine stops for what it shows (an
// external-only bridge found after a cut) ends its row when the stop goes
// out, not when the re-sync began (soak 14: a row 0.41 s shorter than its
// file after a re-sync of 68 calls).
func (s *session) readState(ctx context.Context) (*resyncData, error) {
	d := &resyncData{}
	var before []Channel
	if err := s.rest.Do(ctx, http.MethodGet, "/channels", nil, nil, &before); err != nil {
		return nil, err
	}
	names := s.rec.withPart()
	for _, ch := range before {
		if name, _, ok := parseSnoopID(ch.ID); ok {
			names[name] = true
		}
	}
	live, gone, err := s.readRecordings(ctx, names)
	if err != nil {
		return nil, err
	}
	d.live, d.at = live, time.Now()
	if err := s.rest.Do(ctx, http.MethodGet, "/channels", nil, nil, &d.chans); err != nil {
		return nil, err
	}
	if err := s.rest.Do(ctx, http.MethodGet, "/bridges", nil, nil, &d.bridges); err != nil {
		return nil, err
	}
	s.rec.resync(d.chans, d.live, gone)
	return d, nil
}

// resyncReaders bounds the recordings read at once during a re-sync. A
// re-sync asks for every live recording, one per call up: one at a time,
// soak 14 took up to 1.02 s from reconnect to reconciled after a cut with
// 50 calls.
const resyncReaders = 8

// readRecordings reads the named live recordings, resyncReaders at a time:
// those still running, and those Asterisk no longer has.
func (s *session) readRecordings(ctx context.Context, names map[string]bool) (live []LiveRecording, gone []string, err error) {
	var mu sync.Mutex
	grp, gctx := errgroup.WithContext(ctx)
	grp.SetLimit(resyncReaders)
	for name := range names {
		grp.Go(func() error {
			var lr LiveRecording
			err := s.rest.Do(gctx, http.MethodGet, "/recordings/live/"+url.PathEscape(name), nil, nil, &lr)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && (lr.State == "recording" || lr.State == "paused" || lr.State == "queued"):
				live = append(live, lr)
			case err == nil || StatusOf(err) == http.StatusNotFound:
				gone = append(gone, name)
			default:
				return err
			}
			return nil
		})
	}
	if err := grp.Wait(); err != nil {
		return nil, nil, err
	}
	return live, gone, nil
}
