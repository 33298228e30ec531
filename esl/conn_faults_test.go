package esl_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// connEvents dials with OnEvent feeding a channel (big enough for a test's
// events; OnEvent never blocks the reader anyway).
func connEvents(t *testing.T, s *esltest.Server, events ...string) (*esl.Client, chan esl.Event) {
	ch := make(chan esl.Event, 10000)
	c := connDial(t, s, func(cfg *esl.Config) {
		cfg.Events = events
		cfg.OnEvent = func(ev esl.Event) { ch <- ev }
	})
	return c, ch
}

func connMarker(name string) esl.Event {
	return esl.Event{Name: "CUSTOM", Headers: map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "test::marker",
		"Marker": name, "Event-Sequence": "1"}}
}

// connNext is the next event that is not a HEARTBEAT.
func connNext(t *testing.T, ch chan esl.Event) esl.Event {
	t.Helper()
	for {
		if ev := connWait(t, ch, "an event"); ev.Name != "HEARTBEAT" {
			return ev
		}
	}
}

func TestDisconnectNotice(t *testing.T) {
	s := connServer(t)
	c := connDial(t, s, nil)
	s.DisconnectNotice()
	want := "esl: disconnected by FreeSWITCH: Disconnected, goodbye. See you at ClueCon! http://www.cluecon.com/"
	if err := connDead(t, c); err == nil || err.Error() != want {
		t.Fatalf("Err %v", err)
	}
	// "exit" ends the same way, after its +OK bye.
	c2 := connDial(t, s, nil)
	ctx, cancel := apiCtx()
	defer cancel()
	if f, err := c2.Send(ctx, "exit"); err != nil || f.Get("Reply-Text") != "+OK bye" {
		t.Fatalf("exit: %+v %v", f, err)
	}
	if err := connDead(t, c2); err.Error() != want {
		t.Fatalf("Err %v", err)
	}
}

// A linger notice (outbound sockets) only informs: the connection stays.
func TestLingerNoticeIsNotFatal(t *testing.T) {
	s := connServer(t)
	c := connDial(t, s, nil)
	s.SendRaw([]byte("Content-Type: text/disconnect-notice\nControlled-Session-UUID: u\nContent-Disposition: linger\n" +
		"Channel-Name: sofia/internal/1001@127.0.0.1\nLinger-Time: -1\nContent-Length: 0\n\n"))
	ctx, cancel := apiCtx()
	defer cancel()
	if out, err := c.API(ctx, "echo still here"); err != nil || out != "echo still here" || c.Err() != nil {
		t.Fatalf("%q %v %v", out, err, c.Err())
	}
}

func TestRudeRejectionMidStream(t *testing.T) {
	s := connServer(t)
	c := connDial(t, s, nil)
	s.SendRaw([]byte("Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"))
	if err := connDead(t, c); err.Error() != "esl: rude-rejection: Access Denied, go away." {
		t.Fatalf("Err %v", err)
	}
}

// log/data, unknown content types and a frame with none are ignored; the
// events around them arrive, in order.
func TestIgnoredFrames(t *testing.T) {
	s := connServer(t)
	c, evs := connEvents(t, s, "ALL")
	s.Emit(connMarker("before"))
	s.SendRaw([]byte("Content-Type: log/data\nContent-Length: 12\nLog-Level: 7\n\nsome log...\n" +
		"Content-Type: text/event-xml\nContent-Length: 9\n\n<event/>\n" +
		"Content-Type: application/x-new\nContent-Length: 3\n\nabc" +
		"X-Nothing: here\n\n"))
	s.Emit(connMarker("after"))
	for _, want := range []string{"before", "after"} {
		if ev := connNext(t, evs); ev.Get("Marker") != want {
			t.Fatalf("got %+v, want marker %s", ev, want)
		}
	}
	ctx, cancel := apiCtx()
	defer cancel()
	if _, err := c.API(ctx, "echo ok"); err != nil || c.Err() != nil {
		t.Fatalf("%v %v", err, c.Err())
	}
}

// Garbage kills the connection with a clear reason and no panic.
func TestGarbledFrames(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"Content-Length: lots\n\n", `esl: garbled frame: Content-Length "lots" is not a number`},
		{"this is not esl\n\n", "esl: garbled frame: header line without"},
		{"Content-Length: -3\n\n", "esl: garbled frame: negative Content-Length"},
		{"Content-Length: 99999999999\n\n", "esl: garbled frame: Content-Length 99999999999 over"},
		{"Content-Length: 5\nContent-Type: text/event-json\n\n{nope", "esl: garbled event: esl: event JSON"},
		{"Content-Length: 9\nContent-Type: text/event-plain\n\nno colon\n", "esl: garbled event: esl: plain event: line without"},
		{"Content-Type: command/reply\nReply-Text: +OK\n\n", "esl: a command/reply came with no command waiting for it"},
	} {
		t.Run(c.want, func(t *testing.T) {
			s := connServer(t)
			cl := connDial(t, s, nil)
			s.SendRaw([]byte(c.raw))
			if err := connDead(t, cl); !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("Err %v\nwant %s…", err, c.want)
			}
			cl2 := connDial(t, s, nil) // the server is fine: a redial works
			ctx, cancel := apiCtx()
			defer cancel()
			if _, err := cl2.API(ctx, "echo again"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHeartbeatGap(t *testing.T) {
	s := connServer(t) // sends no HEARTBEAT
	c := connDial(t, s, func(cfg *esl.Config) { cfg.HeartbeatTimeout = 300 * time.Millisecond })
	if err := connDead(t, c); !strings.HasPrefix(err.Error(), "esl: no event for 300ms") {
		t.Fatalf("Err %v", err)
	}
	c2 := connDial(t, s, func(cfg *esl.Config) { cfg.HeartbeatTimeout = time.Second })
	if err := connDead(t, c2); !strings.HasPrefix(err.Error(), "esl: no event for 1s") {
		t.Fatalf("Err %v", err)
	}
}

// HEARTBEATs (every 20 ms, 100 times faster than the timeout) keep the
// link up; they reach OnEvent only when subscribed.
func TestHeartbeatKeepsAlive(t *testing.T) {
	s := connServer(t)
	s.SetHeartbeat(20 * time.Millisecond)
	quiet, quietEvs := connEvents(t, s, "CUSTOM", "test::marker")
	ch := make(chan esl.Event, 1000)
	c := connDial(t, s, func(cfg *esl.Config) {
		cfg.Events = []string{"HEARTBEAT"}
		cfg.HeartbeatTimeout = 2 * time.Second
		cfg.OnEvent = func(ev esl.Event) { ch <- ev }
	})
	for range 30 {
		if ev := connWait(t, ch, "a HEARTBEAT"); ev.Name != "HEARTBEAT" || ev.Get("Event-Info") != "System Ready" {
			t.Fatalf("%+v", ev)
		}
	}
	if c.Err() != nil || quiet.Err() != nil {
		t.Fatal(c.Err(), quiet.Err())
	}
	s.Emit(connMarker("m"))
	if ev := connWait(t, quietEvs, "the marker"); ev.Get("Marker") != "m" {
		t.Fatalf("a HEARTBEAT reached a client that did not ask for it: %+v", ev)
	}
}

// OnEvent may call the client, even BgAPI, whose BACKGROUND_JOB queues
// behind the event being handled: no deadlock.
func TestOnEventCallsClient(t *testing.T) {
	s := connServer(t)
	s.HandleAPI("originate", func(cmd string) (string, []esl.Event) { return "+OK " + cmd + "\n", nil })
	var c *esl.Client
	ready := make(chan struct{})
	results := make(chan error, 100)
	c = connDial(t, s, func(cfg *esl.Config) {
		cfg.Events = []string{"CUSTOM", "test::marker"}
		cfg.OnEvent = func(ev esl.Event) {
			<-ready
			ctx, cancel := apiCtx()
			defer cancel()
			m := ev.Get("Marker")
			out, err := c.API(ctx, "echo "+m)
			if err == nil && out != "echo "+m {
				err = fmt.Errorf("api answered %q", out)
			}
			if err == nil {
				out, err = c.BgAPI(ctx, "originate "+m)
				if err == nil && out != "+OK originate "+m+"\n" {
					err = fmt.Errorf("bgapi answered %q", out)
				}
			}
			results <- err
		}
	})
	close(ready)
	for i := range 50 {
		s.Emit(connMarker(fmt.Sprint(i)))
	}
	for range 50 {
		if err := connWait(t, results, "OnEvent's commands"); err != nil {
			t.Fatal(err)
		}
	}
}

// The server delivers as FreeSWITCH does: only subscribed events, in the
// format asked for; EmitPlain's plain events decode to the same Event.
func TestSubscriptionAndPlainEvents(t *testing.T) {
	s := connServer(t)
	_, evs := connEvents(t, s, "CHANNEL_CREATE", "CUSTOM", "test::marker")
	trace := esltest.TraceEvents(t, "a_record_mask_pause")
	var create, codec esl.Event
	for _, ev := range trace {
		switch {
		case ev.Name == "CHANNEL_CREATE" && create.Name == "":
			create = ev
		case ev.Name == "CODEC" && codec.Name == "":
			codec = ev
		}
	}
	s.Emit(codec, create)
	s.EmitPlain(create)
	s.Emit(connMarker("end"))
	for i, want := range []esl.Event{create, create} {
		if got := connNext(t, evs); !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d: %+v", i, got)
		}
	}
	if got := connNext(t, evs); got.Get("Marker") != "end" {
		t.Fatalf("unsubscribed event delivered: %s", got.Name)
	}
}

func TestSend(t *testing.T) {
	s := connServer(t)
	c := connDial(t, s, nil)
	ctx, cancel := apiCtx()
	defer cancel()
	msg := "sendmsg d36fd7f4-3657-4489-840d-f1e8205262ad\ncall-command: execute\nexecute-app-name: playback\n" +
		"execute-app-arg: tone_stream://%(1000,0,600)\nevent-lock: true"
	if f, err := c.Send(ctx, msg+"\n"); err != nil || f.Get("Reply-Text") != "+OK" {
		t.Fatalf("%+v %v", f, err)
	}
	if got := s.WaitCommand(t, "sendmsg"); got != msg {
		t.Fatalf("server got %q", got)
	}
	f, err := c.Send(ctx, "filter Unique-ID")
	var ce *esl.CommandError
	if !errors.As(err, &ce) || ce.Reply != "-ERR invalid syntax" || f.Get("Reply-Text") != "-ERR invalid syntax" {
		t.Fatalf("%+v %v", f, err)
	}
	if f, err := c.Send(ctx, "filter Unique-ID abc"); err != nil || f.Get("Reply-Text") != "+OK filter added. [Unique-ID]=[abc]" {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := c.Send(ctx, "event json DTMF\n\napi status"); err == nil {
		t.Fatal("two commands in one were sent")
	}
	if _, err := c.Send(ctx, "auth secret"); !strings.Contains(fmt.Sprint(err), `"auth ********"`) {
		t.Fatalf("auth not masked: %v", err)
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}

// A cancelled Dial leaves nothing behind.
func TestDialCancelled(t *testing.T) {
	s := connServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := esl.Dial(ctx, esl.Config{Addr: s.Addr(), Password: "ClueCon"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
}
