package ari

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// The watchdog. A websocket can look up while nothing flows: Asterisk gave
// the application to another client and the ApplicationReplaced never
// reached us, a NAT or proxy dropped the TCP session silently, or ARI
// locked up (asterisk/asterisk#2170: REST hangs, events stop). Every
// WatchdogInterval, while the stream believes it is connected, the adapter
//   - reads GET /applications/{app}, bounded by WatchdogTimeout: no answer
//     means ARI is not answering; 404 means the application is not
//     registered, so no websocket of ours is behind it;
//   - sends itself a user event (POST /events/user/callrecd-watchdog-<n>
//     ?application={app}) and waits, bounded too, for it to come back on its
//     own websocket: if it does not, the application's events go elsewhere
//     or nowhere.
// On a failure it logs loudly, marks the link down (Connected is false at
// once: readyz) and closes the websocket; the stream reconnects with its
// backoff and the adapter re-syncs, as after any reconnect.

// probePrefix names the watchdog's user events.
const probePrefix = "callrecd-watchdog-"

// probe notes a watchdog user event read from the websocket; false if the
// event is somebody else's.
func (s *Stream) probe(data []byte) bool {
	var ev struct {
		EventName string `json:"eventname"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return false
	}
	n, ok := strings.CutPrefix(ev.EventName, probePrefix)
	if !ok {
		return false
	}
	seq, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return false
	}
	for {
		old := s.probeSeen.Load()
		if seq <= old || s.probeSeen.CompareAndSwap(old, seq) {
			return true
		}
	}
}

// ForceReconnect marks the stream down and closes its websocket; Run then
// reconnects (with its backoff) and OnConnect re-syncs. gen, if not 0, is
// the connection generation the caller judged: a newer connection is left
// alone.
func (s *Stream) ForceReconnect(gen int64, reason string) bool {
	if gen != 0 && s.gen.Load() != gen {
		return false
	}
	conn := s.conn.Load()
	if conn == nil {
		return false
	}
	s.forced.Store(&reason)
	s.connected.Store(false)
	conn.Close(websocket.StatusGoingAway, "callrecd watchdog: "+reason)
	return true
}

func (s *session) watchdog(ctx context.Context) {
	if s.cfg.WatchdogInterval < 0 {
		return
	}
	t := time.NewTicker(s.cfg.WatchdogInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.stream.Connected() || !s.stream.reading.Load() {
			continue // reconnecting, or re-syncing (events wait meanwhile)
		}
		gen := s.stream.gen.Load()
		reason := s.checkLink(ctx)
		if reason == "" || ctx.Err() != nil {
			continue
		}
		if s.stream.ForceReconnect(gen, reason) {
			s.trips.Add(1)
			s.log.Error("ARI WATCHDOG: the link to Asterisk is dead although the websocket looked up; "+
				"marked down, reconnecting and re-syncing", "app", s.cfg.App, "reason", reason)
		}
	}
}

// checkLink returns why the link is dead, "" if it is fine.
func (s *session) checkLink(ctx context.Context) string {
	app := url.PathEscape(s.cfg.App)
	cctx, cancel := context.WithTimeout(ctx, s.cfg.WatchdogTimeout)
	defer cancel()
	var info struct {
		Name string `json:"name"`
	}
	err := s.rest.Do(cctx, http.MethodGet, "/applications/"+app, nil, nil, &info)
	switch {
	case StatusOf(err) == http.StatusNotFound:
		return "the application is not registered on Asterisk: no websocket of ours is behind it"
	case err != nil:
		return "ARI is not answering: " + err.Error()
	}
	seq := s.probeSeq.Add(1)
	err = s.rest.Do(cctx, http.MethodPost, "/events/user/"+probePrefix+strconv.FormatInt(seq, 10),
		url.Values{"application": {s.cfg.App}}, nil, nil)
	if err != nil {
		if cctx.Err() != nil {
			return "ARI is not answering: " + err.Error()
		}
		// An Asterisk that refuses user events cannot be probed this way;
		// GET /applications answered, which is all we know.
		s.log.Warn("ARI watchdog: user event refused; only ARI's answers are watched", "err", err)
		return ""
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.stream.probeSeen.Load() < seq {
		select {
		case <-cctx.Done():
			if ctx.Err() != nil {
				return ""
			}
			return fmt.Sprintf("our own user event did not come back within %s: the application's events "+
				"no longer reach this websocket (taken over by another client, or Asterisk stopped sending)", s.cfg.WatchdogTimeout)
		case <-tick.C:
		}
	}
	return ""
}
