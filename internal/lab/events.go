package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Event is one ARI websocket message, with the fields the lab uses decoded and the
// message kept verbatim in Raw.
type Event struct {
	Type        string          `json:"type"`
	Application string          `json:"application"`
	Timestamp   string          `json:"timestamp"`
	Channel     *Channel        `json:"channel,omitempty"`
	Bridge      *Bridge         `json:"bridge,omitempty"`
	Recording   *LiveRecording  `json:"recording,omitempty"`
	Playback    *Playback       `json:"playback,omitempty"`
	Peer        *Channel        `json:"peer,omitempty"` // Dial
	Args        []string        `json:"args,omitempty"` // StasisStart
	Digit       string          `json:"digit,omitempty"`
	DurationMS  int             `json:"duration_ms,omitempty"`
	Cause       int             `json:"cause,omitempty"`
	DialStatus  string          `json:"dialstatus,omitempty"`
	Raw         json.RawMessage `json:"-"`
	Received    time.Time       `json:"-"`
}

// ChannelID is the event's channel id, or "".
func (e Event) ChannelID() string {
	if e.Channel == nil {
		return ""
	}
	return e.Channel.ID
}

// maxHistory bounds what an EventStream keeps (a test's worth of events; load drivers
// should read with Next instead of keeping history).
const maxHistory = 200_000

// EventStream reads an ARI events websocket into an in-memory history that tests wait on.
// Nothing is dropped until maxHistory events have been kept.
type EventStream struct {
	conn   *websocket.Conn
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced whenever events or err change
	err     error         // set once the reader stops
	dropped int
}

// ErrStreamClosed is returned by waits after Close.
var ErrStreamClosed = errors.New("lab: event stream closed")

// DialEvents connects an ARI events websocket (ws://127.0.0.1:8088/ari/events?app=...).
// ctx bounds the connect only; the stream lives until Close or the server closes it.
func DialEvents(ctx context.Context, wsURL string, hc *http.Client) (*EventStream, error) {
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	conn, resp, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("lab: events websocket: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("lab: events websocket: %w", err)
	}
	conn.SetReadLimit(16 << 20)
	rctx, cancel := context.WithCancel(context.Background())
	s := &EventStream{conn: conn, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go s.read(rctx)
	return s, nil
}

func (s *EventStream) read(ctx context.Context) {
	defer close(s.done)
	for {
		_, data, err := s.conn.Read(ctx)
		if err != nil {
			s.finish(err)
			return
		}
		var ev Event
		if err := json.Unmarshal(data, &ev); err != nil {
			ev = Event{Type: "lab:undecodable"}
		}
		ev.Raw = json.RawMessage(data)
		ev.Received = time.Now()
		s.mu.Lock()
		if len(s.events) >= maxHistory {
			s.dropped++
		} else {
			s.events = append(s.events, ev)
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

func (s *EventStream) finish(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = fmt.Errorf("lab: events websocket ended: %w", err)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Close closes the websocket and waits (bounded) for the reader to stop.
func (s *EventStream) Close() error {
	s.mu.Lock()
	if s.err == nil {
		s.err = ErrStreamClosed
	}
	s.mu.Unlock()
	err := s.conn.Close(websocket.StatusNormalClosure, "")
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
	}
	return err
}

// Err is why the stream stopped (nil while it runs).
func (s *EventStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Events returns a copy of every event received so far.
func (s *EventStream) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Len is the number of events received so far (a cursor for Next and WaitFrom).
func (s *EventStream) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// Next returns the event at position i, waiting for it until ctx ends.
func (s *EventStream) Next(ctx context.Context, i int) (Event, error) {
	for {
		s.mu.Lock()
		if i < len(s.events) {
			ev := s.events[i]
			s.mu.Unlock()
			return ev, nil
		}
		err, ch := s.err, s.changed
		s.mu.Unlock()
		if err != nil {
			return Event{}, err
		}
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-ch:
		}
	}
}

// WaitFor returns the first event since the stream was opened that matches, waiting until
// ctx ends. The error names what was awaited.
func (s *EventStream) WaitFor(ctx context.Context, what string, match func(Event) bool) (Event, error) {
	ev, _, err := s.WaitFrom(ctx, 0, what, match)
	return ev, err
}

// WaitFrom is WaitFor starting at position from; it also returns the matching position.
func (s *EventStream) WaitFrom(ctx context.Context, from int, what string, match func(Event) bool) (Event, int, error) {
	for i := from; ; i++ {
		ev, err := s.Next(ctx, i)
		if err != nil {
			return Event{}, i, fmt.Errorf("lab: waiting for %s: %w", what, err)
		}
		if match(ev) {
			return ev, i, nil
		}
	}
}

// Filter returns the events received so far that match.
func (s *EventStream) Filter(match func(Event) bool) []Event {
	var out []Event
	for _, ev := range s.Events() {
		if match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// IsType matches events of type t on channel id ch ("" = any channel).
func IsType(t, ch string) func(Event) bool {
	return func(e Event) bool { return e.Type == t && (ch == "" || e.ChannelID() == ch) }
}
