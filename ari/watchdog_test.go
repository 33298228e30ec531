package ari

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func fastWatchdog(c *Config) {
	c.WatchdogInterval = 40 * time.Millisecond
	c.WatchdogTimeout = 150 * time.Millisecond
}

// A healthy link: GET /applications/{app} answers and the user event comes
// back on our websocket; nothing is forced.
func TestWatchdogHealthyLink(t *testing.T) {
	f := newFakePBX(t)
	a, _ := startAdapter(t, f, fastWatchdog)
	time.Sleep(400 * time.Millisecond)
	if n := a.WatchdogTrips(); n != 0 {
		t.Fatalf("%d trips on a healthy link", n)
	}
	reqs := f.requests()
	if !slices.Contains(reqs, "GET /applications/callrecd") ||
		!slices.Contains(reqs, "POST /events/user/callrecd-watchdog-1?application=callrecd") {
		t.Fatalf("watchdog requests missing:\n%s", strings.Join(reqs, "\n"))
	}
	if !a.Connected() || a.Stream().Reconnects() != 0 {
		t.Fatalf("connected=%v reconnects=%d", a.Connected(), a.Stream().Reconnects())
	}
	if n := a.Translator().Unknown()["ChannelUserevent"]; n != 0 {
		t.Errorf("probe events reached the translator: %d", n)
	}
	// the eventFilter lets the probe through
	var filter string
	for _, r := range reqs {
		if strings.HasPrefix(r, "PUT /applications/callrecd/eventFilter") {
			filter = r
		}
	}
	if filter == "" {
		t.Fatal("no eventFilter set")
	}
	if !slices.Contains(EventTypes, "ChannelUserevent") {
		t.Error("ChannelUserevent not in the allowed event types")
	}
}

// The failures the watchdog must catch while the websocket looks up: each
// marks the link down, forces a reconnect and a re-sync.
func TestWatchdogForcesReconnect(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(f *fakePBX)
	}{
		{"events_go_elsewhere", func(f *fakePBX) { f.dropProbes = true }},        // ApplicationReplaced missed
		{"application_not_registered", func(f *fakePBX) { f.appMissing = true }}, // websocket gone on Asterisk's side
		{"ari_not_answering", func(f *fakePBX) { // asterisk/asterisk#2170
			f.block = func(r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/ari/applications/callrecd") && r.Method == http.MethodGet {
					time.Sleep(time.Second)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePBX(t)
			a, _ := startAdapter(t, f, fastWatchdog)
			time.Sleep(100 * time.Millisecond)
			resyncs := a.Stats().Resyncs
			f.mu.Lock()
			tc.break_(f)
			f.mu.Unlock()
			sawDown := false
			deadline := time.Now().Add(3 * time.Second)
			for a.WatchdogTrips() == 0 && time.Now().Before(deadline) {
				sawDown = sawDown || !a.Connected()
				time.Sleep(time.Millisecond)
			}
			if a.WatchdogTrips() == 0 {
				t.Fatal("the watchdog never tripped")
			}
			// heal the PBX: the stream reconnects and the adapter re-syncs
			f.mu.Lock()
			f.dropProbes, f.appMissing, f.block = false, false, nil
			f.mu.Unlock()
			wsConns := func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.wsConns }
			deadline = time.Now().Add(3 * time.Second)
			// The fake counts a websocket once Accept returns, which may be
			// after the client already sees itself connected: wait for both.
			for (a.Stream().Reconnects() == 0 || a.Stats().Resyncs <= resyncs || !a.Connected() || wsConns() < 2) &&
				time.Now().Before(deadline) {
				sawDown = sawDown || !a.Connected()
				time.Sleep(time.Millisecond)
			}
			if a.Stream().Reconnects() == 0 || a.Stats().Resyncs <= resyncs || !a.Connected() {
				t.Fatalf("no reconnect + re-sync: reconnects=%d resyncs=%d (before %d) connected=%v",
					a.Stream().Reconnects(), a.Stats().Resyncs, resyncs, a.Connected())
			}
			if !sawDown {
				t.Error("the link was never reported down (readyz)")
			}
			if conns := wsConns(); conns < 2 {
				t.Errorf("%d websocket connections, want a new one", conns)
			}
		})
	}
}

// Disabled by a negative interval.
func TestWatchdogDisabled(t *testing.T) {
	f := newFakePBX(t)
	startAdapter(t, f, func(c *Config) { c.WatchdogInterval = -1 })
	time.Sleep(100 * time.Millisecond)
	for _, r := range f.requests() {
		if strings.HasPrefix(r, "POST /events/user/") || r == "GET /applications/callrecd" {
			t.Fatalf("watchdog ran: %s", r)
		}
	}
}
