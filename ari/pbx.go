package ari

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// pbx is the Asterisk the recorder and the prompts send commands to: the
// REST client, callrecd's application, the snoops being waited for and the
// command counters they share.
type pbx struct {
	rest      *REST
	app       string
	log       *slog.Logger
	snoopWait time.Duration // bound on a new snoop's StasisStart

	// snoops: snoop id → closed at its StasisStart (seen by the reader
	// goroutine's fast path or by the event loop, whichever is first).
	snoops arrivals

	commands atomic.Int64 // commands run off the queues
	failures atomic.Int64 // commands the PBX refused or never answered
}

func (p *pbx) deleteChannel(ctx context.Context, id string) {
	err := p.rest.Do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(id), nil, nil, nil)
	if err != nil && StatusOf(err) != http.StatusNotFound {
		p.failures.Add(1)
		p.log.Warn("ARI: delete channel failed", "channel", id, "err", err)
	}
}

// arrivals lets command goroutines wait for an event that the event loop
// (or the reader) sees: a snoop's StasisStart, a playback's end.
type arrivals struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

// expect registers a wait for id; the channel is closed when it arrives.
func (w *arrivals) expect(id string) <-chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.waiting == nil {
		w.waiting = map[string]chan struct{}{}
	}
	w.waiting[id] = ch
	w.mu.Unlock()
	return ch
}

// cancel gives up the wait for id.
func (w *arrivals) cancel(id string) {
	w.mu.Lock()
	delete(w.waiting, id)
	w.mu.Unlock()
}

// arrive wakes whoever waits for id (nobody: nothing happens).
func (w *arrivals) arrive(id string) {
	w.mu.Lock()
	if ch := w.waiting[id]; ch != nil {
		close(ch)
		delete(w.waiting, id)
	}
	w.mu.Unlock()
}

func (w *arrivals) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiting)
}
