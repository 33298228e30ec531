// Package esltest is a wire-level fake FreeSWITCH event socket for tests:
// a TCP listener on 127.0.0.1 that speaks ESL byte for byte as FreeSWITCH
// 1.10.12 does (see the traces in testdata/traces/freeswitch), answers
// commands with handlers the test registers, and emits events.
package esltest

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/esl"
	"github.com/google/uuid"
)

// Event is esl.Event, so that handlers read naturally.
type Event = esl.Event

// APIFunc answers one api/bgapi command (cmd without "api "/"bgapi "):
// the output, and events FreeSWITCH fires right after it.
type APIFunc func(cmd string) (body string, events []Event)

// waitBound bounds every wait of the helpers; it is a failure bound only.
const waitBound = 5 * time.Second

// goodbye is FreeSWITCH's disconnect-notice text.
const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// Server is the fake FreeSWITCH. Its methods are safe for concurrent use;
// the ones taking a testing.TB must be called from the test's goroutine.
type Server struct {
	password string
	ln       net.Listener
	coreUUID string
	wg       sync.WaitGroup

	mu       sync.Mutex
	conns    map[*sconn]bool
	handlers map[string]APIFunc
	replay   map[string]*answers
	cmds     []string
	cursor   map[string]int // WaitCommand's position, by prefix
	changed  chan struct{}  // closed and renewed on every new command or connection state
	seq      uint64
	jobFirst bool
	reject   bool
	hbStop   chan struct{}
	closed   bool
}

// NewServer listens on 127.0.0.1:0 with the given auth password and
// closes on t's cleanup.
func NewServer(t testing.TB, password string) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("esltest: listen: %v", err)
	}
	s := &Server{password: password, ln: ln, coreUUID: uuid.NewString(), conns: map[*sconn]bool{},
		handlers: map[string]APIFunc{}, replay: map[string]*answers{}, cursor: map[string]int{},
		changed: make(chan struct{}), seq: 1000}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(func() {
		if !s.Close() {
			t.Logf("esltest: a handler was still running %s after the server closed", waitBound)
		}
	})
	return s
}

// Addr is host:port to dial.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening and cuts every connection; it reports whether all
// of the server's goroutines ended within the wait bound (a handler that
// blocks keeps its connection's goroutine). Idempotent.
func (s *Server) Close() bool {
	s.mu.Lock()
	s.closed = true
	if s.hbStop != nil {
		close(s.hbStop)
		s.hbStop = nil
	}
	conns := s.connList(false)
	s.mu.Unlock()
	s.ln.Close()
	for _, c := range conns {
		c.nc.Close()
	}
	ended := make(chan struct{})
	go func() { s.wg.Wait(); close(ended) }()
	select {
	case <-ended:
		return true
	case <-time.After(waitBound):
		return false
	}
}

// HandleAPI answers api and bgapi commands starting with prefix (the
// longest matching prefix wins). Unhandled ones get FreeSWITCH's
// "-ERR <cmd> Command not found!\n". fn runs on the connection's goroutine,
// as FreeSWITCH runs an api inline: later commands wait for it. It may
// call Emit.
func (s *Server) HandleAPI(prefix string, fn APIFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[prefix] = fn
}

// SetJobFirst makes bgapi fire its BACKGROUND_JOB before writing the
// command/reply (FreeSWITCH may: the job runs in its own thread).
func (s *Server) SetJobFirst(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobFirst = on
}

// Reject makes new connections get FreeSWITCH's ACL refusal
// (text/rude-rejection, then close) instead of auth/request.
func (s *Server) Reject(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = on
}

// Commands is every command received, in order: the command line, with
// a multi-line command's header lines joined by "\n" (as in the traces),
// the password of auth masked and bgapi's Job-UUID header left out.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// WaitCommand waits (at most 5 s, then t.Fatal) for a command starting
// with prefix and returns it. Successive calls with the same prefix
// return successive matching commands.
func (s *Server) WaitCommand(t testing.TB, prefix string) string {
	t.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i := s.cursor[prefix]; i < len(s.cmds); i++ {
			if strings.HasPrefix(s.cmds[i], prefix) {
				s.cursor[prefix] = i + 1
				s.mu.Unlock()
				return s.cmds[i]
			}
		}
		s.cursor[prefix] = len(s.cmds)
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("esltest: no command %q within %s; got %q", prefix, waitBound, s.Commands())
		}
	}
}

// Conns is how many connections are logged in and subscribed (those
// that Emit reaches).
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.connList(true))
}

// WaitConns waits (at most 5 s, then t.Fatal) until Conns() == n.
func (s *Server) WaitConns(t testing.TB, n int) {
	t.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, ch := len(s.connList(true)), s.changed
		s.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("esltest: %d subscribed connections, want %d (waited %s)", got, n, waitBound)
		}
	}
}

// Drop cuts every connection without a word, as a dead link does.
func (s *Server) Drop() {
	for _, c := range s.allConns() {
		c.nc.Close()
	}
}

// DisconnectNotice says goodbye (text/disconnect-notice) on every
// connection, then closes it, as FreeSWITCH does on "exit" or shutdown.
func (s *Server) DisconnectNotice() {
	for _, c := range s.allConns() {
		c.goodbye()
	}
}

// SendRaw writes b as it is to every connection (garbage, hand-made
// frames).
func (s *Server) SendRaw(b []byte) {
	for _, c := range s.allConns() {
		c.write(b)
	}
}

// SetHeartbeat emits a HEARTBEAT every d (0: none, the default).
func (s *Server) SetHeartbeat(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hbStop != nil {
		close(s.hbStop)
		s.hbStop = nil
	}
	if d <= 0 || s.closed {
		return
	}
	stop := make(chan struct{})
	s.hbStop = stop
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s.Emit(s.heartbeat())
			}
		}
	}()
}

func (s *Server) heartbeat() Event {
	h := s.coreHeaders("HEARTBEAT", "switch_core.c", "send_heartbeat", "95")
	h["Event-Info"] = "System Ready"
	h["Up-Time"] = "0 years, 0 days, 0 hours, 1 minute, 0 seconds, 0 milliseconds, 0 microseconds"
	h["FreeSWITCH-Version"] = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"
	h["Session-Count"], h["Max-Sessions"], h["Idle-CPU"] = "0", "1000", "99.000000"
	return Event{Name: "HEARTBEAT", Headers: h}
}

// coreHeaders are the headers FreeSWITCH puts on every event, with the
// next Event-Sequence.
func (s *Server) coreHeaders(name, file, fn, line string) map[string]string {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	now := time.Now()
	return map[string]string{"Event-Name": name, "Core-UUID": s.coreUUID, "FreeSWITCH-Hostname": "esltest",
		"FreeSWITCH-Switchname": "esltest", "FreeSWITCH-IPv4": "127.0.0.1", "FreeSWITCH-IPv6": "::1",
		"Event-Date-Local":     now.Format("2006-01-02 15:04:05"),
		"Event-Date-GMT":       now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"),
		"Event-Date-Timestamp": strconv.FormatInt(now.UnixMicro(), 10), "Event-Calling-File": file,
		"Event-Calling-Function": fn, "Event-Calling-Line-Number": line, "Event-Sequence": strconv.FormatUint(seq, 10)}
}

// Emit sends events to every logged-in connection whose subscription
// (event names, CUSTOM subclasses, filters) takes them, as FreeSWITCH
// does: in the connection's format (text/event-json after "event json",
// text/event-plain after "event plain"). Events are sent as given (no
// header is added).
func (s *Server) Emit(events ...Event) {
	for _, ev := range events {
		s.emit(ev, "")
	}
}

// EmitPlain sends ev as text/event-plain to the connections that take
// it, whatever format they asked for.
func (s *Server) EmitPlain(ev Event) { s.emit(ev, "plain") }

// EmitJSON sends text/event-json bodies exactly as given (e.g. a trace's
// original bytes) to the connections whose subscription takes them.
func (s *Server) EmitJSON(bodies ...[]byte) {
	for _, b := range bodies {
		ev, err := esl.DecodeJSONEvent(b)
		if err != nil { // still sent: tests of garbled events need it
			ev = Event{Headers: map[string]string{}}
		}
		for _, c := range s.takers(ev) {
			c.write(esl.AppendFrame(nil, esl.Frame{Header: map[string]string{"Content-Type": "text/event-json"}, Body: b}))
		}
	}
}

func (s *Server) emit(ev Event, format string) {
	var js, plain []byte
	for _, c := range s.takers(ev) {
		f := format
		if f == "" {
			f = c.format
		}
		switch f {
		case "json":
			if js == nil {
				js = esl.AppendFrame(nil, esl.Frame{Header: map[string]string{"Content-Type": "text/event-json"}, Body: EncodeJSON(ev)})
			}
			c.write(js)
		case "plain":
			if plain == nil {
				plain = esl.AppendFrame(nil, esl.Frame{Header: map[string]string{"Content-Type": "text/event-plain"}, Body: EncodePlain(ev)})
			}
			c.write(plain)
		} // xml subscribers get nothing: not implemented
	}
}

// takers are the connections whose subscription takes ev.
func (s *Server) takers(ev Event) []*sconn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sconn
	for _, c := range s.connList(true) {
		if c.takes(ev) {
			out = append(out, c)
		}
	}
	return out
}

// connList is the live connections (only subscribed ones if subscribed),
// under s.mu.
func (s *Server) connList(subscribed bool) []*sconn {
	out := make([]*sconn, 0, len(s.conns))
	for c := range s.conns {
		if !subscribed || c.authed && c.format != "" {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) allConns() []*sconn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connList(false)
}

// notify wakes the waiters; under s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for errs := 0; errs < 100; {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			errs++
			continue
		}
		c := &sconn{s: s, nc: nc}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = true
		reject := s.reject
		s.notify()
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.forget(c)
			if reject {
				const msg = "Access Denied, go away.\n"
				c.write([]byte("Content-Type: text/rude-rejection\nContent-Length: " + strconv.Itoa(len(msg)) + "\n\n" + msg))
				return
			}
			c.serve(bufio.NewReader(nc))
		}()
	}
}

func (s *Server) forget(c *sconn) {
	c.nc.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.notify()
	s.mu.Unlock()
}

func (s *Server) record(cmd string) {
	s.mu.Lock()
	s.cmds = append(s.cmds, cmd)
	s.notify()
	s.mu.Unlock()
}
