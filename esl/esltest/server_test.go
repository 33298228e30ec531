package esltest_test

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// raw is a bare TCP client that sees the server's bytes as they are.
type raw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, s *esltest.Server) *raw {
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second)) // failure bound
	return &raw{t, c, bufio.NewReader(c)}
}

func (r *raw) send(cmd string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, cmd+"\n\n"); err != nil {
		r.t.Fatal(err)
	}
}

// frame reads one frame's exact bytes.
func (r *raw) frame() string {
	r.t.Helper()
	var b strings.Builder
	clen := 0
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("after %q: %v", b.String(), err)
		}
		b.WriteString(line)
		if line == "\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			clen, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, clen)
	if _, err := io.ReadFull(r.br, body); err != nil {
		r.t.Fatal(err)
	}
	return b.String() + string(body)
}

// withLength is a frame with its Content-Length counted.
func withLength(before, after, body string) string {
	return before + "Content-Length: " + strconv.Itoa(len(body)) + "\n" + after + "\n" + body
}

func (r *raw) expect(want string) {
	r.t.Helper()
	if got := r.frame(); got != want {
		r.t.Fatalf("got  %q\nwant %q", got, want)
	}
}

const goodbye = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// The bytes are those of FreeSWITCH 1.10.12's mod_event_socket, as in
// the traces.
func TestWireLikeFreeSWITCH(t *testing.T) {
	s := esltest.NewServer(t, "ClueCon")
	s.HandleAPI("uuid_record", func(cmd string) (string, []esl.Event) {
		return "+OK Success\n", []esl.Event{{Name: "RECORD_START", Headers: map[string]string{"Event-Name": "RECORD_START",
			"Record-File-Path": "/tmp/a b.wav", "Event-Sequence": "5"}}}
	})
	r := dialRaw(t, s)
	r.expect("Content-Type: auth/request\n\n")
	r.send("auth ClueCon")
	r.expect("Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
	r.send("event json RECORD_START BACKGROUND_JOB")
	r.expect("Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n")
	r.send("api nosuch x y")
	r.expect(withLength("Content-Type: api/response\n", "", "-ERR nosuch Command not found!\n"))
	r.send("api uuid_record u start /tmp/a b.wav")
	r.expect("Content-Type: api/response\nContent-Length: 12\n\n+OK Success\n")
	ev := `{"Event-Name":"RECORD_START","Event-Sequence":"5","Record-File-Path":"/tmp/a b.wav"}`
	r.expect(withLength("", "Content-Type: text/event-json\n", ev))
	r.send("bgapi nosuch\nJob-UUID: 11111111-2222-4333-8444-555555555555")
	r.expect("Content-Type: command/reply\nReply-Text: +OK Job-UUID: 11111111-2222-4333-8444-555555555555\n" +
		"Job-UUID: 11111111-2222-4333-8444-555555555555\n\n")
	job := r.frame()
	for _, want := range []string{"Content-Type: text/event-json\n\n{\"Event-Name\":\"BACKGROUND_JOB\",\"Core-UUID\":",
		`"Event-Calling-Function":"api_exec"`, `"Job-Command":"nosuch","Job-UUID":"11111111-2222-4333-8444-555555555555",`,
		`"Content-Length":"31","_body":"-ERR nosuch Command not found!\n"}`} {
		if !strings.Contains(job, want) {
			t.Errorf("BACKGROUND_JOB %q lacks %q", job, want)
		}
	}
	r.send("filter Unique-ID abc")
	r.expect("Content-Type: command/reply\nReply-Text: +OK filter added. [Unique-ID]=[abc]\n\n")
	r.send("filter delete Unique-ID abc")
	r.expect("Content-Type: command/reply\nReply-Text: +OK filter deleted. [Unique-ID][abc]\n\n")
	r.send("event json NOSUCH")
	r.expect("Content-Type: command/reply\nReply-Text: -ERR no keywords supplied\n\n")
	r.send("nixevent RECORD_START")
	r.expect("Content-Type: command/reply\nReply-Text: +OK events nixed\n\n")
	r.send("frobnicate")
	r.expect("Content-Type: command/reply\nReply-Text: -ERR command not found\n\n")
	r.send("exit")
	r.expect("Content-Type: command/reply\nReply-Text: +OK bye\n\n")
	r.expect(goodbye)
	if _, err := r.br.ReadByte(); err != io.EOF {
		t.Fatalf("not closed after goodbye: %v", err)
	}
	want := []string{"auth ********", "event json RECORD_START BACKGROUND_JOB", "api nosuch x y", "api uuid_record u start /tmp/a b.wav",
		"bgapi nosuch", "filter Unique-ID abc", "filter delete Unique-ID abc", "event json NOSUCH", "nixevent RECORD_START", "frobnicate", "exit"}
	if got := s.Commands(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("commands %q", got)
	}
}

func TestWrongPasswordAndRejection(t *testing.T) {
	s := esltest.NewServer(t, "ClueCon")
	r := dialRaw(t, s)
	r.expect("Content-Type: auth/request\n\n")
	r.send("auth wrong")
	r.expect("Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
	r.expect(goodbye)
	s.Reject(true)
	r = dialRaw(t, s)
	r.expect("Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n")
}

// Plain events are URL-encoded as FreeSWITCH encodes them (compare the
// e_* trace), with the body after an inner Content-Length.
func TestEmitPlain(t *testing.T) {
	s := esltest.NewServer(t, "ClueCon")
	r := dialRaw(t, s)
	r.frame()
	r.send("auth ClueCon")
	r.frame()
	r.send("event plain BACKGROUND_JOB")
	r.expect("Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
	s.Emit(esl.Event{Name: "BACKGROUND_JOB", Headers: map[string]string{"Job-Command-Arg": "{a=b}x &y(%(1,2))", "Event-Sequence": "3"},
		Body: "+OK done\n"})
	body := "Event-Name: BACKGROUND_JOB\nEvent-Sequence: 3\nJob-Command-Arg: %7Ba%3Db%7Dx%20%26y(%25(1,2))\nContent-Length: 9\n\n+OK done\n"
	r.expect(withLength("", "Content-Type: text/event-plain\n", body))
}

// ReplayReplies answers a trace's commands as the trace did.
func TestReplayReplies(t *testing.T) {
	lines := esltest.LoadTrace(t, "d_restart_recovery_state_queries")
	s := esltest.NewServer(t, "ClueCon")
	s.ReplayReplies(lines)
	r := dialRaw(t, s)
	r.frame()
	r.send("auth ClueCon")
	r.frame()
	n := 0
	for i, l := range lines {
		if l.Dir != "command" || !strings.HasPrefix(l.Cmd, "api ") {
			continue
		}
		r.send(l.Cmd)
		got := r.frame()
		rep := lines[i+1]
		for j := i + 1; rep.Dir != "reply" && j+1 < len(lines); j++ {
			rep = lines[j+1] // events may come between a command and its reply
		}
		if rep.Dir != "reply" || rep.Body == nil || !strings.HasSuffix(got, "\n\n"+*rep.Body) ||
			!regexp.MustCompile(`^Content-Type: api/response\nContent-Length: \d+\n\n`).MatchString(got) {
			t.Fatalf("%s: got %.200q", l.Cmd, got)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("%d commands replayed", n)
	}
}

func TestWaitHelpers(t *testing.T) {
	s := esltest.NewServer(t, "ClueCon")
	r := dialRaw(t, s)
	r.frame()
	r.send("auth ClueCon")
	r.frame()
	if s.Conns() != 0 {
		t.Fatal("a connection counted before it subscribed")
	}
	r.send("event json ALL")
	r.frame()
	s.WaitConns(t, 1)
	r.send("api one")
	r.send("api two")
	if a, b := s.WaitCommand(t, "api "), s.WaitCommand(t, "api "); a != "api one" || b != "api two" {
		t.Fatalf("%q %q", a, b)
	}
	s.Drop()
	s.WaitConns(t, 0)
}

// Delivery follows mod_event_socket's rules: names, CUSTOM subclasses,
// positive, negative and regular-expression filters.
func TestSubscriptionRules(t *testing.T) {
	s := esltest.NewServer(t, "ClueCon")
	r := dialRaw(t, s)
	r.frame()
	r.send("auth ClueCon")
	r.frame()
	for _, cmd := range []string{"event json DTMF CUSTOM a::b", "filter Unique-ID u1", "filter Unique-ID /^u[7-9]$/",
		"filter Unique-ID -u8"} {
		r.send(cmd)
		if f := r.frame(); !strings.Contains(f, "+OK") {
			t.Fatalf("%s: %q", cmd, f)
		}
	}
	ev := func(name, sub, id string) esl.Event {
		return esl.Event{Name: name, Headers: map[string]string{"Event-Subclass": sub, "Unique-ID": id, "Marker": name + sub + id}}
	}
	s.Emit(ev("DTMF", "", "u1"), ev("DTMF", "", "u2"), ev("CODEC", "", "u1"), ev("CUSTOM", "a::b", "u1"),
		ev("CUSTOM", "c::d", "u1"), ev("DTMF", "", "u7"), ev("DTMF", "", "u8"), ev("DTMF", "", "u9"))
	var got []string
	for range 4 {
		f, err := esl.ReadFrame(bufio.NewReader(strings.NewReader(r.frame())), 0)
		if err != nil {
			t.Fatal(err)
		}
		e, err := esl.DecodeJSONEvent(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Get("Marker"))
	}
	if want := "DTMFu1 CUSTOMa::bu1 DTMFu7 DTMFu9"; strings.Join(got, " ") != want {
		t.Fatalf("delivered %q, want %q", got, want)
	}
}
