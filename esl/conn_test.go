package esl_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// bound is a failure bound only: nothing here waits for it to pass.
const bound = 5 * time.Second

// connServer is a test server whose "echo" api answers with the command.
func connServer(t *testing.T) *esltest.Server {
	s := esltest.NewServer(t, "ClueCon")
	s.HandleAPI("echo", func(cmd string) (string, []esl.Event) { return cmd, nil })
	return s
}

func connDial(t *testing.T, s *esltest.Server, tune func(*esl.Config)) *esl.Client {
	t.Helper()
	cfg := esl.Config{Addr: s.Addr(), Password: "ClueCon", Logger: slog.New(slog.DiscardHandler)}
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	c, err := esl.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func connWait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(bound):
		t.Fatalf("%s: nothing within %s", what, bound)
	}
	var zero T
	return zero
}

// connDead waits for the connection to die and returns why.
func connDead(t *testing.T, c *esl.Client) error {
	t.Helper()
	connWait(t, c.Done(), "connection death")
	return c.Err()
}

func apiCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), bound)
}

func TestDialLogsInAndSubscribes(t *testing.T) {
	s := connServer(t)
	c := connDial(t, s, func(cfg *esl.Config) {
		cfg.Events = []string{"CHANNEL_CREATE", "DTMF"}
		cfg.Filters = [][2]string{{"Unique-ID", "leg-a"}}
	})
	want := []string{"auth ********", "event json CHANNEL_CREATE DTMF HEARTBEAT BACKGROUND_JOB", "filter Unique-ID leg-a",
		"filter Event-Name HEARTBEAT", "filter Event-Name BACKGROUND_JOB"}
	if got := s.Commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("commands %q\nwant     %q", got, want)
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
	s.WaitConns(t, 1)
	// Every name after CUSTOM is a subclass to FreeSWITCH.
	connDial(t, s, func(cfg *esl.Config) { cfg.Events = []string{"DTMF", "CUSTOM", "sofia::register"} })
	if got := s.WaitCommand(t, "event json DTMF"); got != "event json DTMF HEARTBEAT BACKGROUND_JOB CUSTOM sofia::register" {
		t.Fatalf("subscription %q", got)
	}
	s.WaitConns(t, 2)
}

func TestDialWrongPassword(t *testing.T) {
	s := connServer(t)
	_, err := esl.Dial(context.Background(), esl.Config{Addr: s.Addr(), Password: "nope"})
	var ce *esl.CommandError
	if err == nil || !strings.Contains(err.Error(), "wrong password") || !errors.As(err, &ce) || ce.Reply != "-ERR invalid" {
		t.Fatalf("%v", err)
	}
	if strings.Contains(err.Error(), "nope") {
		t.Fatalf("the password is in the error: %v", err)
	}
}

func TestDialRudeRejection(t *testing.T) {
	s := connServer(t)
	s.Reject(true)
	_, err := esl.Dial(context.Background(), esl.Config{Addr: s.Addr(), Password: "ClueCon"})
	if err == nil || !strings.Contains(err.Error(), "esl: rude-rejection: Access Denied, go away.") {
		t.Fatalf("%v", err)
	}
}

// 20 callers keep the connection busy with api commands while 2,000 events
// of the 20-call burst stream in: OnEvent sees them all, in wire order,
// one at a time, and every caller gets its own answers.
func TestEventOrderUnderLoad(t *testing.T) {
	s := connServer(t)
	evs := esltest.TraceEvents(t, "h_burst_20_calls")[:2000]
	var got []uint64
	var inside, overlap atomic.Int32
	all := make(chan struct{})
	c := connDial(t, s, func(cfg *esl.Config) {
		cfg.Events = []string{"ALL"}
		cfg.OnEvent = func(ev esl.Event) {
			if inside.Add(1) > 1 {
				overlap.Add(1)
			}
			got = append(got, ev.Seq)
			if len(got) == len(evs) {
				close(all)
			}
			inside.Add(-1)
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := range 20 {
		wg.Go(func() {
			for i := range 50 {
				ctx, cancel := apiCtx()
				cmd := fmt.Sprintf("echo %d-%d", g, i)
				out, err := c.API(ctx, cmd)
				cancel()
				if err != nil || out != cmd {
					errs <- fmt.Errorf("%s: %q %v", cmd, out, err)
					return
				}
			}
		})
	}
	go s.Emit(evs...)
	connWait(t, all, "2,000 events")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range evs {
		if got[i] != evs[i].Seq {
			t.Fatalf("event %d: Event-Sequence %d, sent %d (order lost)", i, got[i], evs[i].Seq)
		}
	}
	if overlap.Load() != 0 {
		t.Fatal("OnEvent ran concurrently")
	}
}

// 1,000 concurrent commands, each gets its own reply.
func TestConcurrentAPIRepliesMatch(t *testing.T) {
	s := connServer(t)
	c := connDial(t, s, nil)
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := range 1000 {
		wg.Go(func() {
			ctx, cancel := apiCtx()
			defer cancel()
			cmd := fmt.Sprintf("echo %d", i)
			if out, err := c.API(ctx, cmd); err != nil || out != cmd {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of 1000 replies wrong", bad.Load())
	}
}

func TestAPIErrorsAndTraceReplies(t *testing.T) {
	s := connServer(t)
	s.ReplayReplies(esltest.LoadTrace(t, "d2_idle_state_queries_and_errors"))
	c := connDial(t, s, nil)
	ctx, cancel := apiCtx()
	defer cancel()
	if out, err := c.API(ctx, "show calls as json"); err != nil || out != "{\"row_count\": 0}\n" {
		t.Errorf("show calls: %q %v", out, err)
	}
	for cmd, reply := range map[string]string{
		"uuid_getvar 00000000-0000-4000-8000-000000000000 record_seconds": "-ERR No such channel!",
		"uuid_record 00000000-0000-4000-8000-000000000000 stop all":       "-ERR Cannot locate session!",
		"nosuch thing": "-ERR nosuch Command not found!",
	} {
		_, err := c.API(ctx, cmd)
		var ce *esl.CommandError
		if !errors.As(err, &ce) || ce.Reply != reply || ce.Cmd != "api "+cmd ||
			err.Error() != fmt.Sprintf("esl: %q: %s", "api "+cmd, reply) {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	s.HandleAPI("uuid_record", func(string) (string, []esl.Event) { return "-USAGE: <uuid> [start|stop|mask|unmask] <path>\n", nil })
	var ce *esl.CommandError
	if _, err := c.API(ctx, "uuid_record x pause"); !errors.As(err, &ce) || !strings.HasPrefix(ce.Reply, "-USAGE") {
		t.Errorf("usage: %v", err)
	}
	if _, err := c.API(ctx, "two\nlines"); err == nil {
		t.Error("a command with a newline was sent")
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}

func TestBgAPI(t *testing.T) {
	for _, jobFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("job first %v", jobFirst), func(t *testing.T) {
			s := connServer(t)
			s.SetJobFirst(jobFirst)
			s.HandleAPI("originate", func(cmd string) (string, []esl.Event) { return "+OK " + cmd[len("originate "):] + "\n", nil })
			c := connDial(t, s, nil)
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					ctx, cancel := apiCtx()
					defer cancel()
					want := fmt.Sprintf("+OK leg-%d\n", i)
					if out, err := c.BgAPI(ctx, fmt.Sprintf("originate leg-%d", i)); err != nil || out != want {
						t.Errorf("%d: %q %v", i, out, err)
					}
				})
			}
			wg.Wait()
			ctx, cancel := apiCtx()
			defer cancel()
			var ce *esl.CommandError
			if _, err := c.BgAPI(ctx, "nosuch"); !errors.As(err, &ce) || ce.Reply != "-ERR nosuch Command not found!" {
				t.Errorf("unknown: %v", err)
			}
			if got := s.WaitCommand(t, "bgapi "); got != "bgapi originate leg-0" && !strings.HasPrefix(got, "bgapi originate leg-") {
				t.Errorf("command %q", got)
			}
		})
	}
}

// A command that gets no reply in time: its caller gets a timeout, the
// connection is given up (a late reply would answer the next command), and
// a new connection works.
func TestCommandTimeoutKillsConnection(t *testing.T) {
	s := connServer(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.HandleAPI("slow", func(cmd string) (string, []esl.Event) { <-release; return "+OK late\n", nil })
	c := connDial(t, s, nil)
	slow := make(chan error, 1)
	go func() {
		// The caller's deadline here; CommandTimeout below.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.API(ctx, "slow")
		slow <- err
	}()
	s.WaitCommand(t, "api slow")
	after := make(chan error, 1)
	go func() {
		_, err := c.API(context.Background(), "echo queued behind it")
		after <- err
	}()
	err := connWait(t, slow, "the slow command")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"api slow": no reply within`) {
		t.Fatalf("%v", err)
	}
	if why := connDead(t, c); !strings.Contains(why.Error(), "no reply within") {
		t.Fatalf("Err %v", why)
	}
	if err := connWait(t, after, "the queued command"); !errors.Is(err, esl.ErrClosed) {
		t.Fatalf("queued command: %v", err)
	}
	c2 := connDial(t, s, func(cfg *esl.Config) { cfg.CommandTimeout = 200 * time.Millisecond })
	if out, err := c2.API(context.Background(), "echo fresh"); err != nil || out != "echo fresh" {
		t.Fatalf("new connection: %q %v", out, err)
	}
	if _, err := c2.API(context.Background(), "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CommandTimeout: %v", err)
	}
	connDead(t, c2)
}

// A command whose caller gives up (cancel, not a timeout) keeps its place
// in the queue: its late reply is swallowed, the next one is not shifted.
func TestCancelledCommandKeepsRepliesInStep(t *testing.T) {
	s := connServer(t)
	release := make(chan struct{})
	s.HandleAPI("slow", func(cmd string) (string, []esl.Event) { <-release; return "+OK late\n", nil })
	c := connDial(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	slow := make(chan error, 1)
	go func() {
		_, err := c.API(ctx, "slow")
		slow <- err
	}()
	s.WaitCommand(t, "api slow")
	cancel()
	if err := connWait(t, slow, "the cancelled command"); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	close(release)
	ctx2, cancel2 := apiCtx()
	defer cancel2()
	if out, err := c.API(ctx2, "echo next"); err != nil || out != "echo next" {
		t.Fatalf("next command got %q %v", out, err)
	}
}

// The link drops while commands wait: they all return an error at once,
// Done closes, Close returns.
func TestDropWhileCommandsWait(t *testing.T) {
	s := connServer(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.HandleAPI("slow", func(cmd string) (string, []esl.Event) { <-release; return "+OK\n", nil })
	c := connDial(t, s, nil)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, err := c.API(context.Background(), "slow")
			errs <- err
		}()
	}
	s.WaitCommand(t, "api slow")
	s.Drop()
	for range 5 {
		if err := connWait(t, errs, "a waiting command"); !errors.Is(err, esl.ErrClosed) {
			t.Fatalf("%v", err)
		}
	}
	if why := connDead(t, c); !strings.Contains(why.Error(), "esl: connection lost") {
		t.Fatalf("Err %v", why)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	connWait(t, closed, "Close")
	if _, err := c.API(context.Background(), "echo x"); !errors.Is(err, esl.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestCloseIsIdempotentAndFailsWaiters(t *testing.T) {
	s := connServer(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.HandleAPI("slow", func(cmd string) (string, []esl.Event) { <-release; return "+OK\n", nil })
	c := connDial(t, s, nil)
	errs := make(chan error, 1)
	go func() {
		_, err := c.API(context.Background(), "slow")
		errs <- err
	}()
	s.WaitCommand(t, "api slow")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := connWait(t, errs, "the waiting command"); err != esl.ErrClosed {
		t.Fatalf("%v", err)
	}
	if c.Close() != nil || c.Err() != esl.ErrClosed {
		t.Fatalf("second close, Err %v", c.Err())
	}
}
