package esl

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Config is one inbound event-socket connection.
type Config struct {
	Addr, Password string
	// Events are subscribed with "event json <names…>" after auth.
	// HEARTBEAT and BACKGROUND_JOB are always added (liveness and BgAPI
	// need them); those two reach OnEvent only if listed here (or ALL).
	Events []string
	// Filters are sent as "filter <header> <value>" after the subscription;
	// when there are any, "filter Event-Name HEARTBEAT" and "… BACKGROUND_JOB"
	// are added so that liveness and BgAPI keep working.
	Filters [][2]string
	// DialTimeout bounds TCP connect plus login (default 5 s);
	// CommandTimeout bounds each command's reply (default 10 s).
	DialTimeout, CommandTimeout time.Duration
	// HeartbeatTimeout: no frame at all for this long (FreeSWITCH sends
	// HEARTBEAT every 20 s) means the link is dead. 0: 65 s; < 0: never.
	HeartbeatTimeout time.Duration
	// OnEvent gets every event in wire order from one goroutine, never
	// concurrently. It may block and may call the Client (even BgAPI):
	// the reader queues events meanwhile, without bound.
	OnEvent func(Event)
	Logger  *slog.Logger
}

// ErrClosed: the connection is closed (by Close, or because it died; then
// the error also wraps the reason).
var ErrClosed = errors.New("esl: connection closed")

// CommandError is a command FreeSWITCH refused: an api body or Reply-Text
// starting "-ERR" (or "-USAGE" for api).
type CommandError struct{ Cmd, Reply string }

func (e *CommandError) Error() string { return fmt.Sprintf("esl: %q: %s", e.Cmd, e.Reply) }

// maxBody bounds a frame's body; see DefaultMaxBody.
const maxBody = DefaultMaxBody

type reply struct {
	f   Frame
	err error
}

// waiter is a command in flight; ch gets exactly one reply (buffered, so
// the reader never blocks on it).
type waiter struct{ ch chan reply }

// Client is an inbound ESL connection. One goroutine reads frames: replies
// answer commands in the order the commands were written (FIFO), events go
// to an unbounded queue that a second goroutine hands to OnEvent in order.
type Client struct {
	cfg  Config
	log  *slog.Logger
	conn net.Conn
	br   *bufio.Reader
	drop map[string]bool // events subscribed only for the client's own use

	wsem chan struct{} // held while writing one command

	mu      sync.Mutex
	pending []*waiter              // commands written, reply not yet read
	jobs    map[string]chan string // bgapi Job-UUID → its result
	err     error

	done       chan struct{}
	readerDone chan struct{}
	userClosed atomic.Bool

	events eventQueue

	unknown map[string]bool // content types already warned about (reader only)
}

// Dial connects, logs in ("auth"), subscribes and sets the filters.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg.DialTimeout = cmp.Or(max(cfg.DialTimeout, 0), 5*time.Second)
	cfg.CommandTimeout = cmp.Or(max(cfg.CommandTimeout, 0), 10*time.Second)
	cfg.HeartbeatTimeout = cmp.Or(cfg.HeartbeatTimeout, 65*time.Second)
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if strings.ContainsAny(cfg.Password, "\r\n") {
		return nil, errors.New("esl: password contains a newline")
	}
	if i := slices.IndexFunc(cfg.Events, func(e string) bool { return e == "" || strings.ContainsAny(e, " \t\r\n") }); i >= 0 {
		return nil, fmt.Errorf("esl: bad event name %q", cfg.Events[i])
	}
	d := net.Dialer{Timeout: cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", cfg.Addr, err)
	}
	c := &Client{cfg: cfg, log: log.With("freeswitch", cfg.Addr), conn: conn, br: bufio.NewReaderSize(conn, 64<<10),
		wsem: make(chan struct{}, 1), jobs: map[string]chan string{}, done: make(chan struct{}),
		readerDone: make(chan struct{}), events: newEventQueue(), unknown: map[string]bool{},
		drop: ownEvents(cfg.Events)}
	if err := c.login(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	go c.readLoop()
	// After the connection died OnEvent still gets what had arrived; after
	// Close nothing more.
	go c.events.run(c.done, c.cfg.OnEvent, c.userClosed.Load)
	if err := c.subscribe(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// login runs before the reader starts: auth/request, auth, +OK accepted.
func (c *Client) login(ctx context.Context) (err error) {
	deadline := time.Now().Add(c.cfg.DialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() { // ctx ended: that is why, whatever the read said
			err = fmt.Errorf("esl: login to %s: %w", c.cfg.Addr, context.Cause(ctx))
		}
		c.conn.SetDeadline(time.Time{})
	}()
	read := func(what string) (Frame, error) {
		f, err := ReadFrame(c.br, maxBody)
		if err != nil {
			return f, fmt.Errorf("esl: login to %s: waiting for %s: %w", c.cfg.Addr, what, err)
		}
		switch f.ContentType() {
		case "text/rude-rejection":
			return f, fmt.Errorf("esl: rude-rejection: %s (not allowed by FreeSWITCH's event socket ACL?)", text(f.Body))
		case "text/disconnect-notice":
			return f, fmt.Errorf("esl: disconnected by FreeSWITCH: %s", text(f.Body))
		}
		return f, nil
	}
	f, err := read("auth/request")
	if err != nil {
		return err
	}
	if ct := f.ContentType(); ct != "auth/request" {
		return fmt.Errorf("esl: login to %s: expected auth/request, got %q: not a FreeSWITCH event socket?", c.cfg.Addr, ct)
	}
	if _, err := io.WriteString(c.conn, "auth "+c.cfg.Password+"\n\n"); err != nil {
		return fmt.Errorf("esl: login to %s: %w", c.cfg.Addr, err)
	}
	for range 16 { // skip anything but the reply (log/data cannot come before auth; be lenient)
		if f, err = read("the auth reply"); err != nil {
			return err
		}
		if f.ContentType() != "command/reply" {
			continue
		}
		rt := f.Get("Reply-Text")
		if strings.HasPrefix(rt, "+OK") {
			return nil
		}
		return fmt.Errorf("esl: FreeSWITCH at %s refused the password (wrong password?): %w", c.cfg.Addr,
			&CommandError{Cmd: "auth ********", Reply: rt})
	}
	return fmt.Errorf("esl: login to %s: no reply to auth", c.cfg.Addr)
}

// ownEvents are what the client itself needs: HEARTBEAT for liveness,
// BACKGROUND_JOB for BgAPI. The ones the caller did not ask for are
// subscribed but not handed to OnEvent.
func ownEvents(asked []string) map[string]bool {
	drop := map[string]bool{"HEARTBEAT": true, "BACKGROUND_JOB": true}
	for _, e := range asked {
		if strings.EqualFold(e, "ALL") {
			return map[string]bool{}
		}
		delete(drop, strings.ToUpper(e))
	}
	return drop
}

func (c *Client) subscribe(ctx context.Context) error {
	// Every name after CUSTOM is a subclass to FreeSWITCH: ours go before it.
	names := append([]string(nil), c.cfg.Events...)
	at := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, "CUSTOM") })
	if at < 0 {
		at = len(names)
	}
	for _, own := range []string{"BACKGROUND_JOB", "HEARTBEAT"} {
		if c.drop[own] {
			names = slices.Insert(names, at, own)
		}
	}
	if _, err := c.Send(ctx, "event json "+strings.Join(names, " ")); err != nil {
		return fmt.Errorf("esl: subscribe: %w", err)
	}
	filters := c.cfg.Filters
	if len(filters) > 0 {
		filters = append(filters[:len(filters):len(filters)], [2]string{"Event-Name", "HEARTBEAT"}, [2]string{"Event-Name", "BACKGROUND_JOB"})
	}
	for _, f := range filters {
		if f[0] == "" || strings.ContainsAny(f[0]+f[1], "\r\n") || strings.ContainsAny(f[0], " ") {
			return fmt.Errorf("esl: bad filter %q", f)
		}
		if _, err := c.Send(ctx, "filter "+f[0]+" "+f[1]); err != nil {
			return fmt.Errorf("esl: filter: %w", err)
		}
	}
	return nil
}

// API runs "api <cmd>" and returns its output. Output starting "-ERR" or
// "-USAGE" is a *CommandError. Bounded by ctx and CommandTimeout; a timed
// out command kills the connection (see Done).
func (c *Client) API(ctx context.Context, cmd string) (string, error) {
	if cmd == "" || strings.ContainsAny(cmd, "\r\n") {
		return "", fmt.Errorf("esl: api command %q must be one non-empty line", cmd)
	}
	wire := "api " + cmd
	f, err := c.roundTrip(ctx, wire, wire)
	if err != nil {
		return "", err
	}
	if err := refused(wire, f.Get("Reply-Text")); err != nil { // e.g. "-ERR permission denied", before running
		return "", err
	}
	if err := refused(wire, string(f.Body)); err != nil {
		return "", err
	}
	return string(f.Body), nil
}

// refused is a *CommandError if FreeSWITCH's answer says it refused.
func refused(cmd, answer string) error {
	if strings.HasPrefix(answer, "-ERR") || strings.HasPrefix(answer, "-USAGE") {
		return &CommandError{Cmd: cmd, Reply: strings.TrimRight(answer, "\r\n\t ")}
	}
	return nil
}

// BgAPI runs "bgapi <cmd>" with a Job-UUID of its own and returns the
// BACKGROUND_JOB's body, matched by that UUID (it may arrive before the
// reply). The reply is bounded like API's; the job by ctx's deadline if it
// has one (it may be longer than CommandTimeout), else by CommandTimeout.
// A job that times out leaves the connection up.
func (c *Client) BgAPI(ctx context.Context, cmd string) (string, error) {
	if cmd == "" || strings.ContainsAny(cmd, "\r\n") {
		return "", fmt.Errorf("esl: bgapi command %q must be one non-empty line", cmd)
	}
	id := uuid.NewString()
	ch := make(chan string, 1)
	c.mu.Lock()
	c.jobs[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.jobs, id)
		c.mu.Unlock()
	}()
	line := "bgapi " + cmd
	f, err := c.roundTrip(ctx, line+"\nJob-UUID: "+id, line)
	if err != nil {
		return "", err
	}
	if rt := f.Get("Reply-Text"); !strings.HasPrefix(rt, "+OK") {
		return "", &CommandError{Cmd: line, Reply: rt}
	}
	if got := f.Get("Job-UUID"); got != "" && got != id {
		// FreeSWITCH has honoured Job-UUID for many years; should one not,
		// follow its own (a job done before this point is then missed).
		c.log.Warn("esl: FreeSWITCH chose its own Job-UUID for bgapi", "sent", id, "got", got)
		c.mu.Lock()
		delete(c.jobs, id)
		id = got
		c.jobs[id] = ch
		c.mu.Unlock()
	}
	wait := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, c.cfg.CommandTimeout)
		defer cancel()
	}
	select {
	case body := <-ch:
		if err := refused(line, body); err != nil {
			return "", err
		}
		return body, nil
	case <-wait.Done():
		return "", fmt.Errorf("esl: %q: no BACKGROUND_JOB %s: %w", line, id, context.Cause(wait))
	case <-c.done:
		return "", c.closedErr()
	}
}

// Send writes any other command (possibly several lines, e.g. sendmsg
// with its headers; no empty line inside) and returns its reply. A
// Reply-Text starting "-ERR" is a *CommandError (the frame is returned too).
func (c *Client) Send(ctx context.Context, cmd string) (Frame, error) {
	cmd = strings.TrimRight(cmd, "\r\n")
	// FreeSWITCH ends a command at two newlines, "\r"s between them ignored.
	if cmd == "" || strings.Contains(strings.ReplaceAll(cmd, "\r", ""), "\n\n") {
		return Frame{}, fmt.Errorf("esl: command %q is empty or has an empty line (it would be two commands)", cmd)
	}
	show, _, _ := strings.Cut(cmd, "\n")
	if strings.HasPrefix(show, "auth ") || strings.HasPrefix(show, "userauth ") {
		show, _, _ = strings.Cut(show, " ")
		show += " ********"
	}
	f, err := c.roundTrip(ctx, cmd, show)
	if err != nil {
		return Frame{}, err
	}
	if rt := f.Get("Reply-Text"); strings.HasPrefix(rt, "-ERR") {
		return f, &CommandError{Cmd: show, Reply: rt}
	}
	if f.ContentType() == "api/response" {
		return f, refused(show, string(f.Body))
	}
	return f, nil
}

// roundTrip writes one command and waits for its reply. The write slot and
// the pending queue are taken together, so the queue's order is the wire's.
func (c *Client) roundTrip(ctx context.Context, wire, show string) (Frame, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CommandTimeout)
	defer cancel()
	select {
	case c.wsem <- struct{}{}:
	case <-ctx.Done(): // nothing written: the connection stays in step
		return Frame{}, fmt.Errorf("esl: %q not sent: %w", show, context.Cause(ctx))
	case <-c.done:
		return Frame{}, c.closedErr()
	}
	w := &waiter{ch: make(chan reply, 1)}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		<-c.wsem
		return Frame{}, c.closedErr()
	}
	c.pending = append(c.pending, w)
	c.mu.Unlock()
	deadline, _ := ctx.Deadline()
	c.conn.SetWriteDeadline(deadline)
	_, err := io.WriteString(c.conn, wire+"\n\n")
	<-c.wsem
	if err != nil { // a partial command would garble the stream: give up on it
		c.fail(fmt.Errorf("esl: connection lost: writing %q: %w", show, err))
		return Frame{}, c.closedErr()
	}
	select {
	case r := <-w.ch:
		return r.f, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// Its reply may still come and would answer the next command:
			// the connection is of no more use.
			err := fmt.Errorf("esl: %q: no reply within %s, connection abandoned: %w",
				show, time.Since(start).Round(time.Millisecond), context.DeadlineExceeded)
			c.fail(err)
			return Frame{}, err
		}
		// Cancelled: the waiter stays queued and swallows the reply, so
		// nothing shifts.
		return Frame{}, fmt.Errorf("esl: %q: %w", show, context.Cause(ctx))
	}
}

// Close ends the connection at once (no goodbye that a dead peer could
// block) and is idempotent; waiting commands get ErrClosed, OnEvent gets
// nothing more.
func (c *Client) Close() error {
	c.userClosed.Store(true)
	c.fail(ErrClosed)
	<-c.readerDone
	return nil
}

// Done is closed when the connection is dead or closed; Err says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection died (nil while it is alive).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) closedErr() error {
	err := c.Err()
	if err == nil || err == ErrClosed {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, err)
}

// fail kills the connection once, for err; every waiting command gets it.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pend := c.pending
	c.pending = nil
	c.mu.Unlock()
	close(c.done)
	c.conn.Close()
	if c.userClosed.Load() {
		c.log.Debug("esl: connection closed")
	} else {
		c.log.Warn("esl: connection dead", "err", err)
	}
	cerr := c.closedErr()
	for _, w := range pend {
		w.ch <- reply{err: cerr}
	}
}
