package ari

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// traceEvents returns the ARI websocket messages of a real Asterisk 22 trace,
// verbatim (the trace's own t/dir fields removed).
func traceEvents(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open("../testdata/traces/asterisk/" + name + ".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if string(m["dir"]) != `"event"` {
			continue
		}
		delete(m, "t")
		delete(m, "dir")
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	if len(out) == 0 {
		t.Fatalf("no events in %s", name)
	}
	return out
}

// fakeARI is a loopback ARI events endpoint that plays scripted sessions:
// each websocket connection gets the next script.
type fakeARI struct {
	t        *testing.T
	sessions [][][]byte // per connection: messages to send, then close
	holdOpen bool       // keep the last connection open after its script
	dials    atomic.Int32
	bad      atomic.Int32 // requests refused for wrong auth or params
}

func (f *fakeARI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.dials.Add(1)) - 1
	user, pass, ok := r.BasicAuth()
	if !ok || user != "recorder" || pass != "secret" {
		f.bad.Add(1)
		http.Error(w, `{"message":"Authentication required"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Path != "/ari/events" || r.URL.Query().Get("app") != "callrecd" || r.URL.Query().Get("subscribeAll") != "true" {
		f.bad.Add(1)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if n >= len(f.sessions) {
		http.Error(w, "no more sessions", http.StatusServiceUnavailable)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	for _, msg := range f.sessions[n] {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			return
		}
	}
	if f.holdOpen && n == len(f.sessions)-1 {
		c.Read(ctx) // until the client goes
		return
	}
	c.Close(websocket.StatusGoingAway, "asterisk restarting")
}

// runStream serves sessions from a fake ARI and runs a stream on it (with
// onConnect as its re-sync hook, if not nil) until the test ends.
func runStream(t *testing.T, sessions [][][]byte, onConnect func(context.Context)) (context.Context, *Stream, *fakeARI) {
	t.Helper()
	fake := &fakeARI{t: t, sessions: sessions, holdOpen: true}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := newTestStream(t, srv, "secret")
	s.OnConnect = onConnect
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	go s.Run(ctx)
	return ctx, s, fake
}

func newTestStream(t *testing.T, srv *httptest.Server, password string) *Stream {
	return NewStream(StreamConfig{URL: srv.URL + "/ari", Username: "recorder", Password: password, App: "callrecd",
		ConnectTimeout: 2 * time.Second, MaxBackoff: 50 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// A burst of a real call's events reaches a slow consumer complete and in
// order: the ari/v6 bus lost 85 % of such a burst.
func TestStreamKeepsEveryEventInOrderForASlowConsumer(t *testing.T) {
	events := traceEvents(t, "a_internal_snoop_record")
	var burst [][]byte
	for range 5 {
		burst = append(burst, events...)
	}
	ctx, s, _ := runStream(t, [][][]byte{burst}, nil)
	for i, want := range burst {
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("event %d of %d: %v", i, len(burst), err)
		}
		if string(ev.Raw) != string(want) {
			t.Fatalf("event %d out of order or altered:\n got %s\nwant %s", i, ev.Raw, want)
		}
		if i%50 == 0 {
			time.Sleep(5 * time.Millisecond) // a consumer busy with a slow store write
		}
	}
	counts := s.Counts()
	if counts["ChannelCreated"] == 0 || counts["StasisStart"] == 0 {
		t.Fatalf("counts = %v", counts)
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	if total != int64(len(burst)) || !s.Connected() {
		t.Fatalf("counted %d of %d, connected %v", total, len(burst), s.Connected())
	}
}

// When Asterisk drops the websocket, the stream dials again, runs OnConnect
// (the re-sync) each time, and keeps the order across connections.
func TestStreamReconnectsAndResyncs(t *testing.T) {
	events := traceEvents(t, "a_internal_snoop_record")
	half := len(events) / 2
	var mu sync.Mutex
	var syncs int
	ctx, s, _ := runStream(t, [][][]byte{events[:half], events[half:]},
		func(context.Context) { mu.Lock(); syncs++; mu.Unlock() })
	for i, want := range events {
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if string(ev.Raw) != string(want) {
			t.Fatalf("event %d of %d differs:\n got %.200s\nwant %.200s", i, len(events), ev.Raw, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if syncs != 2 || s.Reconnects() != 1 {
		t.Fatalf("syncs = %d, reconnects = %d; want 2 and 1", syncs, s.Reconnects())
	}
}

// The real controller-restart trace: a second websocket for the same app
// gets the first one ApplicationReplaced. The stream must notice, not hand it
// on as a call event, and carry on with the next connection in order.
func TestStreamDetectsApplicationReplaced(t *testing.T) {
	events := traceEvents(t, "f_controller_restart_recovery")
	cut := -1
	var want [][]byte
	for i, ev := range events {
		var e Event
		json.Unmarshal(ev, &e)
		if e.Type == "ApplicationReplaced" {
			cut = i
			continue
		}
		want = append(want, ev)
	}
	if cut < 0 {
		t.Fatal("trace has no ApplicationReplaced")
	}
	ctx, s, fake := runStream(t, [][][]byte{events[:cut+1], events[cut+1:]}, nil)
	for i, w := range want {
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(ev.Raw) != string(w) {
			t.Fatalf("event %d differs: %s", i, ev.Type)
		}
	}
	if s.Counts()["ApplicationReplaced"] != 1 || fake.dials.Load() != 2 {
		t.Fatalf("counts = %v, dials = %d", s.Counts(), fake.dials.Load())
	}
}

// Wrong credentials: the stream keeps trying (bounded backoff), never
// reports itself connected, and stops when its context ends.
func TestStreamRetriesWhenRefusedAndStopsWithContext(t *testing.T) {
	fake := &fakeARI{t: t}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := newTestStream(t, srv, "wrong")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := 0; fake.bad.Load() < 3; i++ {
		if i > 1000 {
			t.Fatal("stream did not retry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.Connected() {
		t.Fatal("connected with a wrong password")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
}

func TestWebsocketURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8088/ari": "ws://127.0.0.1:8088/ari/events?app=callrecd&subscribeAll=true",
		"https://pbx.example/ari/":  "wss://pbx.example/ari/events?app=callrecd&subscribeAll=true",
	} {
		got, err := StreamConfig{URL: in, App: "callrecd"}.WebsocketURL()
		if err != nil || got != want {
			t.Errorf("%s → %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := (StreamConfig{URL: "ftp://x", App: "a"}).WebsocketURL(); err == nil {
		t.Error("ftp accepted")
	}
}

// Which failed dials show Asterisk away or starting (the redial wait then
// ends at the first answered probe) and which do not (a refused login, a
// wrong URL: the whole backoff, never a fast loop).
func TestDialFailuresThatShowThePBXAway(t *testing.T) {
	cases := []struct {
		name string
		err  error
		away bool
	}{
		{"no answer (refused, cut)", &dialError{err: io.ErrUnexpectedEOF}, true},
		{"503 while Asterisk loads its modules", &dialError{status: http.StatusServiceUnavailable, err: io.EOF}, true},
		{"401 wrong password", &dialError{status: http.StatusUnauthorized, err: io.EOF}, false},
		{"404 no ARI at that URL", &dialError{status: http.StatusNotFound, err: io.EOF}, false},
		{"a connection that was up and closed", nil, false},
		{"not a dial", io.EOF, false},
	}
	for _, c := range cases {
		if got := pbxAway(c.err); got != c.away {
			t.Errorf("%s: away %v, want %v", c.name, got, c.away)
		}
	}
}

// The backoff starts over after a connection that was up (it never did:
// a lost connection also ends with an error, and only a nil one reset
// it), is the longest after ApplicationReplaced, and grows with failed
// dials.
func TestBackoffStartsOverAfterALostConnection(t *testing.T) {
	grown, longest := 8*time.Second, 30*time.Second
	cases := []struct {
		name     string
		err      error
		replaced bool
		want     time.Duration
	}{
		{"connection lost after it was up", errors.New("read: EOF"), false, firstBackoff},
		{"closed by the watchdog", errors.New("closed by the watchdog: ARI is not answering"), false, firstBackoff},
		{"another client took the application", errors.New("application replaced by another client"), true, longest},
		{"dial refused", &dialError{err: io.EOF}, false, grown},
		{"dial answered 401", &dialError{status: http.StatusUnauthorized, err: io.EOF}, false, grown},
	}
	for _, c := range cases {
		if got := nextBackoff(c.err, c.replaced, grown, longest); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
