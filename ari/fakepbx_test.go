package ari

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakePBX is a loopback ARI (REST + events websocket) that behaves like the
// real Asterisk 22 for what the adapter does: a snoop is in the app as its
// POST is answered and its StasisStart follows (res_stasis links the
// channel's control before it sends StasisStart), record on a snoop not in
// the app is refused (409), an append
// while a recording of that name is live is refused (409), stop ends the
// recording with RecordingFinished, deleting the snoop destroys it. Every
// REST request is logged in order.
type fakePBX struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	log      []string // "METHOD /path?query" in arrival order
	ws       *websocket.Conn
	wsReady  chan struct{}
	channels map[string]Channel
	bridges  []Bridge
	live     map[string]*LiveRecording // by name
	inStasis map[string]bool
	snoopSeq int
	conflict int // 409s served for append-while-live or not-in-Stasis
	// block, if set, is called before a request is answered (to slow one down).
	block func(r *http.Request)
	// cut, if set and true for a request, closes its connection unanswered
	// (the link to the PBX went down mid-request).
	cut func(r *http.Request) bool
	// noStasisFor lists channels on which answer/play answer 409 (plain dialplan calls).
	noStasisFor map[string]bool
	// appMissing: GET /applications/{app} answers 404; dropProbes: user
	// events are accepted but never delivered (the app's events go elsewhere).
	appMissing, dropProbes bool
	wsConns                int // websocket connections accepted
	// snoopStatus, if set, may refuse a snoop (a status ≥ 400) by its id;
	// stasisHeld, if set, keeps a snoop's StasisStart back.
	snoopStatus func(snoopID string) int
	stasisHeld  func(snoopID string) bool
	// lateStasis: a snoop enters the app only with its StasisStart, 1 ms
	// after its POST (the race Asterisk's snoop thread may lose).
	lateStasis bool
	// stasisGate, if set, holds every snoop's StasisStart until closed.
	stasisGate chan struct{}
	// entered: closed once a snoop's StasisStart is sent (its
	// RecordingStarted comes after it, as on Asterisk).
	entered map[string]chan struct{}
}

func newFakePBX(t *testing.T) *fakePBX {
	f := &fakePBX{t: t, wsReady: make(chan struct{}), channels: map[string]Channel{}, live: map[string]*LiveRecording{},
		inStasis: map[string]bool{}, noStasisFor: map[string]bool{}, entered: map[string]chan struct{}{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePBX) url() string { return f.srv.URL + "/ari" }

func (f *fakePBX) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func ts() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000-0700") }

// send pushes one event to the connected websocket.
func (f *fakePBX) send(ev map[string]any) {
	<-f.wsReady
	if _, ok := ev["timestamp"]; !ok {
		ev["timestamp"] = ts()
	}
	ev["application"] = "callrecd"
	b, _ := json.Marshal(ev)
	f.mu.Lock()
	ws := f.ws
	f.mu.Unlock()
	if err := ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		f.t.Logf("fake: write: %v", err)
	}
}

func (f *fakePBX) addChannel(ch Channel) {
	f.mu.Lock()
	f.channels[ch.ID] = ch
	f.mu.Unlock()
}

func (f *fakePBX) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u, p, ok := r.BasicAuth(); !ok || u != "recorder" || p != "secret" {
		http.Error(w, `{"message":"auth"}`, http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/ari")
	if path == "/events" {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.ws = c
		f.wsConns++
		select {
		case <-f.wsReady:
		default:
			close(f.wsReady)
		}
		f.mu.Unlock()
		c.Read(r.Context()) // until the client goes
		return
	}
	entry := r.Method + " " + path
	if r.URL.RawQuery != "" {
		entry += "?" + r.URL.RawQuery
	}
	f.mu.Lock()
	f.log = append(f.log, entry)
	block, cut := f.block, f.cut
	f.mu.Unlock()
	if block != nil {
		block(r)
	}
	if cut != nil && cut(r) {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	q := r.URL.Query()
	reply := func(status int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if body != nil {
			json.NewEncoder(w).Encode(body)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == "PUT" && len(parts) == 3 && parts[0] == "applications" && parts[2] == "eventFilter":
		reply(200, map[string]any{"name": parts[1]})
	case r.Method == "GET" && len(parts) == 2 && parts[0] == "applications":
		if f.appMissing {
			reply(404, map[string]string{"message": "Application not found"})
			return
		}
		reply(200, map[string]any{"name": parts[1], "channel_ids": []string{}})
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "events" && parts[1] == "user":
		reply(204, nil)
		if !f.dropProbes {
			go f.send(map[string]any{"type": "ChannelUserevent", "eventname": parts[2], "userevent": map[string]any{}})
		}
	case r.Method == "GET" && path == "/channels":
		out := []Channel{}
		for _, ch := range f.channels {
			out = append(out, ch)
		}
		reply(200, out)
	case r.Method == "GET" && path == "/bridges":
		reply(200, append([]Bridge{}, f.bridges...))
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "channels" && parts[2] == "snoop":
		spied, ok := f.channels[parts[1]]
		if !ok {
			reply(404, map[string]string{"message": "Channel not found"})
			return
		}
		if f.snoopStatus != nil {
			if st := f.snoopStatus(q.Get("snoopId")); st >= 400 {
				reply(st, map[string]string{"message": "snoop refused by the test"})
				return
			}
		}
		held := f.stasisHeld != nil && f.stasisHeld(q.Get("snoopId"))
		f.snoopSeq++
		sn := Channel{ID: q.Get("snoopId"), Name: fmt.Sprintf("Snoop/%s-%08x", spied.ID, f.snoopSeq), State: "Up",
			Dialplan: DialplanCEP{Context: "default", Exten: "s"}}
		f.channels[sn.ID] = sn
		late, gate := f.lateStasis, f.stasisGate
		if !held && !late {
			f.inStasis[sn.ID] = true
		}
		entered := make(chan struct{})
		f.entered[sn.ID] = entered
		reply(200, sn)
		go func() {
			time.Sleep(time.Millisecond)
			f.send(map[string]any{"type": "ChannelCreated", "channel": sn})
			if held {
				return
			}
			if gate != nil {
				<-gate
			}
			if late {
				f.mu.Lock()
				f.inStasis[sn.ID] = true
				f.mu.Unlock()
			}
			f.send(map[string]any{"type": "StasisStart", "channel": sn, "args": strings.Split(q.Get("appArgs"), ",")})
			close(entered)
		}()
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "channels" && parts[2] == "record":
		name := q.Get("name")
		if !f.inStasis[parts[1]] {
			f.conflict++
			reply(409, map[string]string{"message": "Channel not in Stasis application"})
			return
		}
		if f.live[name] != nil {
			f.conflict++
			reply(409, map[string]string{"message": "Recording with same name already exists and can not be overwritten"})
			return
		}
		lr := &LiveRecording{Name: name, Format: q.Get("format"), State: "recording", TargetURI: "channel:" + parts[1]}
		f.live[name] = lr
		reply(201, lr)
		cp := *lr
		entered := f.entered[parts[1]]
		go func() {
			if entered != nil {
				<-entered
			}
			f.send(map[string]any{"type": "RecordingStarted", "recording": cp})
		}()
	case len(parts) == 4 && parts[0] == "recordings" && parts[1] == "live" && parts[3] == "pause":
		lr := f.live[parts[2]]
		if lr == nil {
			reply(404, map[string]string{"message": "Recording not found"})
			return
		}
		lr.State = map[string]string{"POST": "paused", "DELETE": "recording"}[r.Method]
		reply(204, nil)
	case r.Method == "POST" && len(parts) == 4 && parts[0] == "recordings" && parts[3] == "stop":
		lr := f.live[parts[2]]
		if lr == nil {
			reply(404, map[string]string{"message": "Recording not found"})
			return
		}
		delete(f.live, parts[2])
		reply(204, nil)
		cp := *lr
		cp.State = "done"
		go f.send(map[string]any{"type": "RecordingFinished", "recording": cp})
	case r.Method == "GET" && len(parts) == 3 && parts[0] == "recordings" && parts[1] == "live":
		lr := f.live[parts[2]]
		if lr == nil {
			reply(404, map[string]string{"message": "Recording not found"})
			return
		}
		reply(200, lr)
	case r.Method == "DELETE" && len(parts) == 2 && parts[0] == "channels":
		ch, ok := f.channels[parts[1]]
		if !ok {
			reply(404, map[string]string{"message": "Channel not found"})
			return
		}
		delete(f.channels, parts[1])
		reply(204, nil)
		go f.send(map[string]any{"type": "ChannelDestroyed", "cause": 16, "channel": ch})
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "channels" && parts[2] == "answer":
		if f.noStasisFor[parts[1]] {
			reply(409, map[string]string{"message": "Channel not in Stasis application"})
			return
		}
		reply(204, nil)
	case r.Method == "POST" && len(parts) == 3 && parts[0] == "channels" && parts[2] == "play":
		pb := Playback{ID: q.Get("playbackId"), MediaURI: q.Get("media"), TargetURI: "channel:" + parts[1], State: "playing"}
		reply(201, pb)
		go func() {
			time.Sleep(20 * time.Millisecond)
			pb.State = "done"
			f.send(map[string]any{"type": "PlaybackFinished", "playback": pb})
		}()
	default:
		reply(404, map[string]string{"message": "no such resource in the fake: " + entry})
	}
}

// endLiveByLeg simulates the spied leg going away: its snoop's recording
// finishes by itself, then the leg and the snoop are destroyed (the real
// order seen in traces c1/c2).
func (f *fakePBX) endLiveByLeg(legID string) {
	f.mu.Lock()
	var fin []LiveRecording
	var snoops []Channel
	for name, lr := range f.live {
		sn := f.channels[targetChannel(lr.TargetURI)]
		if spiedOf(sn.Name) == legID {
			cp := *lr
			cp.State = "done"
			fin = append(fin, cp)
			snoops = append(snoops, sn)
			delete(f.live, name)
			delete(f.channels, sn.ID)
		}
	}
	leg := f.channels[legID]
	delete(f.channels, legID)
	f.mu.Unlock()
	for _, lr := range fin {
		f.send(map[string]any{"type": "RecordingFinished", "recording": lr})
	}
	f.send(map[string]any{"type": "ChannelDestroyed", "cause": 16, "channel": leg})
	for _, sn := range snoops {
		f.send(map[string]any{"type": "ChannelDestroyed", "cause": 0, "channel": sn})
	}
}
