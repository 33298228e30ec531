// Package ari is callrecd's Asterisk adapter over ARI.
//
// The events side is our own: the ari/v6 client's event bus keeps 100 events
// per subscriber and silently drops the rest, drops event types it does not
// know, never delivers ApplicationReplaced and retries Connect forever. A
// recording sidecar must never lose an event, so Stream reads the websocket
// itself into an unbounded ordered queue, counts every event type, says so
// loudly when another client takes the application over, and reconnects with
// a bounded, backed-off dial.
package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/redial"
	"github.com/coder/websocket"
)

// Event is one raw ARI event: its type, the Asterisk time and the whole JSON.
type Event struct {
	Type        string          `json:"type"`
	Application string          `json:"application"`
	Timestamp   string          `json:"timestamp"`
	Raw         json.RawMessage `json:"-"`

	sync *resyncData // the adapter's re-sync marker (Type resyncType)
}

// StreamConfig says where the ARI events websocket is.
type StreamConfig struct {
	URL      string // ARI base URL, e.g. http://127.0.0.1:8088/ari
	Username string
	Password string
	App      string
	// ConnectTimeout bounds one dial; MaxBackoff caps the wait between dials.
	ConnectTimeout time.Duration
	MaxBackoff     time.Duration
	// Probe, if set, is a cheap request (GET /asterisk/ping) tried while
	// waiting to dial again: once ARI stops answering and answers again,
	// the wait ends (see redial.Waiter).
	Probe func(ctx context.Context) error
}

// Stream keeps one events websocket to Asterisk open, reconnecting when it
// drops, and hands every event in order to its consumer.
type Stream struct {
	cfg StreamConfig
	log *slog.Logger

	// OnConnect runs after every (re)connection, before events of the new
	// connection are queued: the place for a full re-sync.
	OnConnect func(ctx context.Context)
	// OnReceive, if set, sees every event on the reader goroutine the moment
	// it arrives, before it is queued (it must be quick and must not block):
	// the adapter's command goroutines wait on a few events (a snoop's
	// StasisStart) that need not queue behind everything else.
	OnReceive func(ev Event)

	queue      *queue
	connected  atomic.Bool
	reconnects atomic.Int64
	replaced   atomic.Bool

	// The watchdog's view (see watchdog.go): the current connection, its
	// generation, the last probe seen on it, why it was forced down.
	conn      atomic.Pointer[websocket.Conn]
	gen       atomic.Int64
	probeSeen atomic.Int64
	forced    atomic.Pointer[string]
	reading   atomic.Bool // past OnConnect, reading events

	mu     sync.Mutex
	counts map[string]int64
}

// NewStream prepares a stream; Run connects it.
func NewStream(cfg StreamConfig, log *slog.Logger) *Stream {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	return &Stream{cfg: cfg, log: log, queue: newQueue(), counts: map[string]int64{}}
}

// Events returns the next event, blocking until one arrives or ctx ends.
func (s *Stream) Next(ctx context.Context) (Event, error) { return s.queue.pop(ctx) }

// Connected reports whether the websocket is up and the application is ours.
func (s *Stream) Connected() bool { return s.connected.Load() }

// Reconnects counts successful connections after the first.
func (s *Stream) Reconnects() int64 { return s.reconnects.Load() }

// Counts returns how many events of each type arrived.
func (s *Stream) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Pending is the number of queued events not yet taken by Next.
func (s *Stream) Pending() int { return s.queue.len() }

// WebsocketURL is the events endpoint for the app, with subscribeAll so
// every channel's events arrive (DTMF of plain dialplan calls included).
func (c StreamConfig) WebsocketURL() (string, error) {
	u, err := url.Parse(strings.TrimSuffix(c.URL, "/") + "/events")
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("ari url %q: scheme must be http or https", c.URL)
	}
	q := url.Values{}
	q.Set("app", c.App)
	q.Set("subscribeAll", "true")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Run connects and reads until ctx ends, reconnecting with exponential
// backoff (with jitter) after every failure. It returns ctx's error.
func (s *Stream) Run(ctx context.Context) error {
	wsURL, err := s.cfg.WebsocketURL()
	if err != nil {
		return err
	}
	backoff := firstBackoff
	first := true
	waiter := &redial.Waiter{Probe: s.cfg.Probe, Log: s.log}
	for {
		err := s.session(ctx, wsURL, &first)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var de *dialError
		if !errors.As(err, &de) {
			waiter.Connected()
		}
		backoff = nextBackoff(err, s.replaced.Load(), backoff, s.cfg.MaxBackoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		s.log.Warn("ARI events websocket down; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		if err := waiter.Wait(ctx, wait, pbxAway(err)); err != nil {
			return err
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
	}
}

// firstBackoff is the wait's scale after a connection is lost.
const firstBackoff = 250 * time.Millisecond

// nextBackoff is the scale of the wait after a session ended with err:
// back to the first after a connection that was up (a drop after days
// must not wait as long as the last outage's last dial did), the longest
// when another client took the application (reconnecting at once would
// take it back and deafen the other client in turn), else the one grown
// by the failed dials so far.
func nextBackoff(err error, replaced bool, backoff, longest time.Duration) time.Duration {
	var de *dialError
	switch {
	case replaced:
		return longest
	case !errors.As(err, &de):
		return firstBackoff
	}
	return backoff
}

// dialError is a websocket dial that failed; status is the HTTP answer, 0
// when there was none.
type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// pbxAway: the dial showed Asterisk down or still starting: no HTTP answer
// (refused, cut), or 503 (its HTTP server is up, ARI's modules not yet;
// after a restart this lasts about a second).
func pbxAway(err error) bool {
	var de *dialError
	return errors.As(err, &de) && (de.status == 0 || de.status == http.StatusServiceUnavailable)
}

// session is one connection's life. It returns nil when a connection was
// established and later closed, an error when the dial failed.
func (s *Stream) session(ctx context.Context, wsURL string, first *bool) error {
	dialCtx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	header := http.Header{}
	header.Set("Authorization", "Basic "+basicAuth(s.cfg.Username, s.cfg.Password))
	conn, resp, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{HTTPHeader: header})
	cancel()
	if err != nil {
		if resp != nil {
			return &dialError{status: resp.StatusCode, err: fmt.Errorf("dial %s: HTTP %d: %w", redact(wsURL), resp.StatusCode, err)}
		}
		return &dialError{err: fmt.Errorf("dial %s: %w", redact(wsURL), err)}
	}
	// ARI events can be large (a snapshot of a busy bridge); allow 4 MiB.
	conn.SetReadLimit(4 << 20)
	defer conn.CloseNow()
	s.replaced.Store(false)
	s.forced.Store(nil)
	s.gen.Add(1)
	s.conn.Store(conn)
	defer s.conn.CompareAndSwap(conn, nil)
	if !*first {
		s.reconnects.Add(1)
	}
	*first = false
	s.log.Info("ARI events websocket connected", "app", s.cfg.App)
	s.connected.Store(true)
	defer s.connected.Store(false)
	if s.OnConnect != nil {
		s.OnConnect(ctx)
	}
	s.reading.Store(true)
	defer s.reading.Store(false)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if s.replaced.Load() {
				return errors.New("application replaced by another client")
			}
			if why := s.forced.Load(); why != nil {
				return errors.New("closed by the watchdog: " + *why)
			}
			return fmt.Errorf("read: %w", err)
		}
		ev, err := parseEvent(data)
		if err != nil {
			s.count("(undecodable)")
			s.log.Error("ARI sent an event callrecd cannot decode; kept for the record", "bytes", len(data), "err", err)
			continue
		}
		s.count(ev.Type)
		if ev.Type == "ChannelUserevent" && s.probe(data) {
			continue // the watchdog's own round trip, not for the engine
		}
		if ev.Type == "ApplicationReplaced" {
			s.replaced.Store(true)
			s.connected.Store(false)
			s.log.Error("ANOTHER ARI CLIENT TOOK OVER THE APPLICATION: callrecd no longer receives events; "+
				"stop the other client or give callrecd its own app name", "app", s.cfg.App)
			conn.Close(websocket.StatusNormalClosure, "application replaced")
			return errors.New("application replaced by another client")
		}
		if s.OnReceive != nil {
			s.OnReceive(ev)
		}
		s.queue.push(ev)
	}
}

// parseEvent decodes the envelope of one websocket message.
func parseEvent(data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return Event{}, err
	}
	if ev.Type == "" {
		return Event{}, errors.New("event without a type")
	}
	ev.Raw = json.RawMessage(data)
	return ev, nil
}

// Inject queues an event after those already received: the adapter's
// re-sync marker goes through here so it is handled in order.
func (s *Stream) Inject(ev Event) { s.queue.push(ev) }

func (s *Stream) count(typ string) {
	s.mu.Lock()
	s.counts[typ]++
	s.mu.Unlock()
}

func basicAuth(user, pass string) string {
	return base64Encode(user + ":" + pass)
}

// redact drops credentials from a URL before it is logged.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	u.User = nil
	q := u.Query()
	q.Del("api_key")
	u.RawQuery = q.Encode()
	return u.String()
}
