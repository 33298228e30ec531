package esltest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrecd/callrecd/esl"
	"github.com/google/uuid"
)

// sconn is one client connection. Its subscription fields are guarded by
// the server's mu; wmu keeps each write whole.
type sconn struct {
	s   *Server
	nc  net.Conn
	wmu sync.Mutex

	authed     bool
	listening  bool   // an "event" command succeeded
	format     string // "plain" (FreeSWITCH's default), "json", "xml"; "" until listening
	fmtChosen  string
	all        bool
	events     map[string]bool
	subclasses map[string]bool
	filters    []filter
}

type filter struct{ header, value string }

// write sends b whole; a peer that does not read for 5 s is cut.
func (c *sconn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(waitBound))
	if _, err := c.nc.Write(b); err != nil {
		c.nc.Close()
	}
}

func (c *sconn) writeFrame(f esl.Frame) { c.write(esl.AppendFrame(nil, f)) }

func (c *sconn) reply(text string) {
	c.writeFrame(esl.Frame{Header: map[string]string{"Content-Type": "command/reply", "Reply-Text": text}})
}

func (c *sconn) goodbye() {
	c.writeFrame(esl.Frame{Header: map[string]string{"Content-Type": "text/disconnect-notice"}, Body: []byte(goodbye)})
	c.nc.Close()
}

// serve runs the connection: auth/request, then one command at a time.
func (c *sconn) serve(br *bufio.Reader) {
	c.write([]byte("Content-Type: auth/request\n\n"))
	for {
		lines, body, err := readCommand(br)
		if err != nil || !c.command(lines, body) {
			return
		}
	}
}

// readCommand reads lines up to an empty one (leading empty lines are
// skipped, as FreeSWITCH does), then a body if a Content-Length is given.
func readCommand(br *bufio.Reader) ([]string, []byte, error) {
	var lines []string
	size := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, nil, err
		}
		if size += len(line); size > 1<<20 {
			return nil, nil, fmt.Errorf("command over 1 MiB")
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(lines) == 0 {
				continue
			}
			break
		}
		lines = append(lines, line)
	}
	var body []byte
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 || n > 1<<20 {
				return nil, nil, fmt.Errorf("bad Content-Length %q", v)
			}
			body = make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				return nil, nil, err
			}
		}
	}
	return lines, body, nil
}

func header(lines []string, key string) string {
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// command answers one command as FreeSWITCH's mod_event_socket does;
// false ends the connection.
func (c *sconn) command(lines []string, _ []byte) bool {
	s := c.s
	line := lines[0]
	lower := strings.ToLower(line)
	shown := lines
	switch {
	case strings.HasPrefix(lower, "auth ") || strings.HasPrefix(lower, "userauth "):
		verb, _, _ := strings.Cut(line, " ")
		shown = []string{verb + " ********"}
	case strings.HasPrefix(lower, "bgapi "):
		shown = []string{line}
		for _, l := range lines[1:] {
			if k, _, _ := strings.Cut(l, ":"); !strings.EqualFold(strings.TrimSpace(k), "Job-UUID") {
				shown = append(shown, l)
			}
		}
	}
	s.record(strings.Join(shown, "\n"))

	if strings.HasPrefix(lower, "exit") || strings.HasPrefix(lower, "...") {
		c.reply("+OK bye")
		c.goodbye()
		return false
	}
	s.mu.Lock()
	authed := c.authed
	s.mu.Unlock()
	if !authed {
		if !strings.HasPrefix(lower, "auth ") {
			c.reply("-ERR command not found")
			return true
		}
		if line[len("auth "):] != s.password {
			c.reply("-ERR invalid")
			c.goodbye()
			return false
		}
		s.mu.Lock()
		c.authed = true
		s.notify()
		s.mu.Unlock()
		c.reply("+OK accepted")
		return true
	}
	switch {
	case strings.HasPrefix(lower, "api "):
		c.api(line[len("api "):])
	case strings.HasPrefix(lower, "bgapi "):
		c.bgapi(line[len("bgapi "):], header(lines, "Job-UUID"))
	case strings.HasPrefix(lower, "filter "):
		c.reply(c.filter(line[len("filter "):]))
	case strings.HasPrefix(lower, "nixevent"):
		c.reply(c.nixevent(strings.Fields(line)[1:]))
	case strings.HasPrefix(lower, "noevents"):
		c.reply(c.noevents())
	case strings.HasPrefix(lower, "event"):
		c.reply(c.event(strings.Fields(line)[1:]))
	case strings.HasPrefix(lower, "sendmsg"):
		c.reply("+OK")
	case strings.HasPrefix(lower, "sendevent"):
		c.reply("+OK " + uuid.NewString())
	case strings.HasPrefix(lower, "nolog"):
		c.reply("+OK no longer logging")
	case strings.HasPrefix(lower, "log"):
		c.reply(logReply(strings.TrimSpace(line[len("log"):])))
	case strings.HasPrefix(lower, "linger"), strings.HasPrefix(lower, "nolinger"), strings.HasPrefix(lower, "divert_events"):
		c.reply("-ERR not controlling a session")
	default:
		c.reply("-ERR command not found")
	}
	return true
}

var logLevels = map[string]int{"console": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

func logReply(level string) string {
	n, ok := logLevels[strings.ToLower(level)]
	if level == "" {
		n, ok = 7, true
	}
	if !ok {
		return "-ERR invalid log level"
	}
	return fmt.Sprintf("+OK log level %s [%d]", level, n)
}

// answer is how cmd is answered: a trace's reply, a handler's, or
// FreeSWITCH's "Command not found".
func (s *Server) answer(wire, cmd string) (reply *esl.Frame, job *string, body string, events []Event) {
	s.mu.Lock()
	if a := s.replay[wire]; a != nil && len(a.list) > 0 {
		x := a.list[min(a.next, len(a.list)-1)]
		a.next++
		s.mu.Unlock()
		return x.reply, x.job, "", nil
	}
	var fn APIFunc
	best := -1
	for p, f := range s.handlers {
		if strings.HasPrefix(cmd, p) && len(p) > best {
			fn, best = f, len(p)
		}
	}
	s.mu.Unlock()
	if fn == nil {
		name, _, _ := strings.Cut(cmd, " ")
		return nil, nil, "-ERR " + name + " Command not found!\n", nil
	}
	body, events = fn(cmd)
	return nil, nil, body, events
}

func (c *sconn) api(cmd string) {
	reply, _, body, events := c.s.answer("api "+cmd, cmd)
	if reply != nil {
		c.writeFrame(*reply)
		return
	}
	if body == "" {
		body = "-ERR no reply\n"
	}
	c.writeFrame(esl.Frame{Header: map[string]string{"Content-Type": "api/response"}, Body: []byte(body)})
	c.s.Emit(events...)
}

// bgapi replies "+OK Job-UUID: …" at once and fires BACKGROUND_JOB (to
// every listener that takes it, as FreeSWITCH does) when the job is done,
// the command's own events before it.
func (c *sconn) bgapi(cmd, jobID string) {
	s := c.s
	if jobID == "" {
		jobID = uuid.NewString()
	}
	rep := esl.Frame{Header: map[string]string{"Content-Type": "command/reply",
		"Reply-Text": "+OK Job-UUID: " + jobID, "Job-UUID": jobID}}
	run := func() {
		_, job, body, events := s.answer("bgapi "+cmd, cmd)
		if job != nil {
			body = *job
		}
		s.Emit(events...)
		h := s.coreHeaders("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", "1572")
		name, arg, hasArg := strings.Cut(cmd, " ")
		h["Job-UUID"], h["Job-Command"] = jobID, name
		if hasArg {
			h["Job-Command-Arg"] = arg
		}
		s.Emit(Event{Name: "BACKGROUND_JOB", Headers: h, Body: body})
	}
	s.mu.Lock()
	first := s.jobFirst
	s.mu.Unlock()
	if first {
		run()
		c.writeFrame(rep)
		return
	}
	c.writeFrame(rep)
	s.wg.Add(1) // this connection's goroutine holds the group: no race with Close's Wait
	go func() {
		defer s.wg.Done()
		run()
	}()
}

// knownEvents are FreeSWITCH 1.10's event names (switch_event.c); others
// are ignored by "event", as FreeSWITCH ignores them.
var knownEvents = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE
		CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE
		CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE
		CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK
		CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP
		SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE
		PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC
		BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE
		DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE
		SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL COMMAND SESSION_HEARTBEAT
		CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE
		CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE FAILURE
		SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ
		CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED ALL`) {
		knownEvents[n] = true
	}
}

// event is "event [plain|json|xml] NAME… [CUSTOM subclass…]".
func (c *sconn) event(args []string) string {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.events == nil {
		c.events, c.subclasses = map[string]bool{}, map[string]bool{}
	}
	keys, custom := 0, false
	for i, tok := range args {
		if f := strings.ToLower(tok); i == 0 && (f == "plain" || f == "json" || f == "xml") {
			c.fmtChosen = f
			continue
		}
		if custom {
			c.subclasses[tok] = true
			continue
		}
		name := strings.ToUpper(tok)
		if !knownEvents[name] {
			continue
		}
		keys++
		if name == "ALL" {
			c.all = true
		}
		c.events[name] = true
		custom = custom || name == "CUSTOM"
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	if c.fmtChosen == "" {
		c.fmtChosen = "plain"
	}
	c.format, c.listening = c.fmtChosen, true
	s.notify()
	return "+OK event listener enabled " + c.format
}

func (c *sconn) nixevent(args []string) string {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, custom := 0, false
	for _, tok := range args {
		if custom {
			delete(c.subclasses, tok)
			continue
		}
		name := strings.ToUpper(tok)
		if !knownEvents[name] {
			continue
		}
		keys++
		switch {
		case name == "CUSTOM":
			custom = true
		case name == "ALL":
			c.all, c.events = false, map[string]bool{}
		default:
			if c.all { // "all but this one"
				c.all = false
				for n := range knownEvents {
					c.events[n] = n != "ALL"
				}
			}
			delete(c.events, name)
		}
	}
	if keys == 0 {
		return "-ERR no keywords supplied"
	}
	return "+OK events nixed"
}

func (c *sconn) noevents() string {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.listening {
		return "-ERR not listening for events"
	}
	c.listening, c.format, c.all = false, "", false
	c.events, c.subclasses = map[string]bool{}, map[string]bool{}
	s.notify()
	return "+OK no longer listening for events"
}

// filter is mod_event_socket's: "filter <header> <value>", "filter add …",
// "filter delete <header> [<value>]", "filter delete all".
func (c *sconn) filter(arg string) string {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	name, val, hasVal := strings.Cut(strings.TrimLeft(arg, " "), " ")
	switch {
	case strings.EqualFold(name, "delete") && hasVal:
		name, val, _ = strings.Cut(val, " ")
		if strings.EqualFold(name, "all") {
			c.filters = nil
		} else {
			kept := c.filters[:0]
			for _, f := range c.filters {
				if f.header != name || (val != "" && f.value != val) {
					kept = append(kept, f)
				}
			}
			c.filters = kept
		}
		return fmt.Sprintf("+OK filter deleted. [%s][%s]", name, val)
	case hasVal:
		if strings.EqualFold(name, "add") {
			name, val, _ = strings.Cut(val, " ")
		}
		c.filters = append(c.filters, filter{name, val})
		return fmt.Sprintf("+OK filter added. [%s]=[%s]", name, val)
	}
	return "-ERR invalid syntax"
}

// takes is FreeSWITCH's delivery test (event_handler); under s.mu.
func (c *sconn) takes(ev Event) bool {
	n := name(ev)
	if !c.all {
		if !c.events[n] {
			return false
		}
		if sub := ev.Headers["Event-Subclass"]; n == "CUSTOM" && sub != "" && !c.subclasses[sub] {
			return false
		}
	}
	if len(c.filters) == 0 {
		return true
	}
	send := false
	for _, f := range c.filters {
		hval, ok := ev.Headers[f.header]
		if !ok {
			continue
		}
		pos, comp := true, f.value
		for comp != "" && strings.ContainsRune("+- ", rune(comp[0])) {
			if comp[0] != ' ' {
				pos = comp[0] == '+'
			}
			comp = comp[1:]
		}
		if send && pos {
			continue
		}
		if filterMatch(hval, f.value, comp) {
			if !pos {
				return false
			}
			send = true
		}
	}
	return send
}

// filterMatch: "/re/flags" is a regular expression, anything else a
// case-insensitive comparison.
func filterMatch(hval, raw, comp string) bool {
	if !strings.HasPrefix(raw, "/") {
		return strings.EqualFold(hval, comp)
	}
	pat := comp[1:]
	if i := strings.LastIndexByte(pat, '/'); i >= 0 {
		if strings.Contains(pat[i+1:], "i") {
			pat = "(?i)" + pat[:i]
		} else {
			pat = pat[:i]
		}
	}
	re, err := regexp.Compile(pat)
	return err == nil && re.MatchString(hval)
}
