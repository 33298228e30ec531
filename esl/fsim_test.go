package esl_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// fsim plays the FreeSWITCH of the traces behind the wire-level test server:
// it keeps the channels and bridges of the events a test replays, answers
// the adapter's api commands as FreeSWITCH 1.10.12 does in the traces
// (uuid_record start → "+OK Success" then RECORD_START with the adapter's
// own path; stop → RECORD_STOP; pause/resume/mask → no event; a gone uuid →
// the trace's error strings; show/uuid_dump/uuid_buglist from its state)
// and writes real WAV files where uuid_record is told to.
type fsim struct {
	t   testing.TB
	srv *esltest.Server

	mu       sync.Mutex
	chans    map[string]map[string]string // uuid → latest headers
	order    []string
	bridges  map[string]string // A leg → B leg
	recs     map[string]*simRec
	vars     map[string]map[string]string // uuid_setvar
	recorded map[string]bool              // files written, by path
}

type simRec struct {
	channel, path string
	start         time.Time
	pausedAt      time.Time
	paused        time.Duration
}

func newFsim(t testing.TB) *fsim {
	s := &fsim{t: t, srv: esltest.NewServer(t, "ClueCon"), chans: map[string]map[string]string{},
		bridges: map[string]string{}, recs: map[string]*simRec{}, vars: map[string]map[string]string{},
		recorded: map[string]bool{}}
	s.srv.HandleAPI("uuid_record", s.uuidRecord)
	s.srv.HandleAPI("uuid_setvar", s.uuidSetvar)
	s.srv.HandleAPI("uuid_broadcast", s.uuidBroadcast)
	s.srv.HandleAPI("uuid_kill", s.uuidKill)
	s.srv.HandleAPI("show channels", s.showChannels)
	s.srv.HandleAPI("show calls", s.showCalls)
	s.srv.HandleAPI("uuid_dump", s.uuidDump)
	s.srv.HandleAPI("uuid_buglist", s.uuidBuglist)
	return s
}

// emit sends events as FreeSWITCH would now (timestamps are rewritten),
// updating the channel state first.
func (s *fsim) emit(evs ...esl.Event) {
	for _, ev := range evs {
		ev = stamp(ev)
		more := s.apply(ev)
		s.srv.Emit(ev)
		s.srv.Emit(more...)
	}
}

func stamp(ev esl.Event) esl.Event {
	h := maps.Clone(ev.Headers)
	if h == nil {
		h = map[string]string{}
	}
	h["Event-Date-Timestamp"] = strconv.FormatInt(time.Now().UnixMicro(), 10)
	ev.Headers = h
	return ev
}

// apply updates the state for ev and returns what FreeSWITCH fires after
// it by itself (a recording ends when its channel hangs up).
func (s *fsim) apply(ev esl.Event) []esl.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := ev.Get("Unique-ID")
	switch ev.Name {
	case "CHANNEL_CREATE":
		s.chans[id] = maps.Clone(ev.Headers)
		s.order = append(s.order, id)
		return nil
	case "CHANNEL_BRIDGE":
		s.bridges[ev.Get("Bridge-A-Unique-ID")] = ev.Get("Bridge-B-Unique-ID")
	case "CHANNEL_UNBRIDGE":
		delete(s.bridges, ev.Get("Bridge-A-Unique-ID"))
	case "CHANNEL_HANGUP":
		delete(s.chans, id)
		delete(s.bridges, id)
		var out []esl.Event
		for p, r := range s.recs {
			if r.channel == id {
				out = append(out, s.stopLocked(p, r, ev.Headers, "success-silence"))
			}
		}
		return out
	}
	if h := s.chans[id]; h != nil && strings.HasPrefix(ev.Name, "CHANNEL_") {
		maps.Copy(h, ev.Headers)
	}
	return nil
}

func (s *fsim) channelEvent(name, id string, extra map[string]string) esl.Event {
	h := maps.Clone(s.chans[id])
	if h == nil {
		h = map[string]string{"Unique-ID": id}
	}
	h["Event-Name"] = name
	maps.Copy(h, extra)
	return stamp(esl.Event{Name: name, Headers: h})
}

func (s *fsim) uuidRecord(cmd string) (string, []esl.Event) {
	f := strings.Fields(cmd) // uuid_record <uuid> <verb> <path>
	if len(f) < 4 {
		return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n", nil
	}
	id, verb, path := f[1], f[2], f[3]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chans[id] == nil {
		return "-ERR Cannot locate session!\n", nil
	}
	r := s.recs[path]
	switch verb {
	case "start":
		s.recs[path] = &simRec{channel: id, path: path, start: time.Now()}
		return "+OK Success\n", []esl.Event{s.channelEvent("RECORD_START", id, map[string]string{"Record-File-Path": path})}
	case "stop":
		if r == nil || r.channel != id {
			return "-ERR Cannot stop recording session!\n", nil
		}
		return "+OK Success\n", []esl.Event{s.stopLocked(path, r, s.chans[id], "success-maxtime")}
	case "pause", "mask":
		if r == nil || r.channel != id {
			return "-ERR Cannot pause recording session!\n", nil
		}
		if verb == "pause" && r.pausedAt.IsZero() {
			r.pausedAt = time.Now()
		}
		return "+OK Success\n", nil
	case "resume", "unmask":
		if r == nil || r.channel != id {
			return "-ERR Cannot resume recording session!\n", nil
		}
		if verb == "resume" && !r.pausedAt.IsZero() {
			r.paused += time.Since(r.pausedAt)
			r.pausedAt = time.Time{}
		}
		return "+OK Success\n", nil
	}
	return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n", nil
}

// stopLocked ends recording r and writes its file: what was recorded
// while not paused (appended when the channel asked for RECORD_APPEND).
func (s *fsim) stopLocked(path string, r *simRec, headers map[string]string, cause string) esl.Event {
	delete(s.recs, path)
	if !r.pausedAt.IsZero() {
		r.paused += time.Since(r.pausedAt)
	}
	extra := map[string]string{"Record-File-Path": path, "Record-Completion-Cause": cause}
	h := maps.Clone(headers)
	if h == nil {
		h = map[string]string{"Unique-ID": r.channel}
	}
	h["Event-Name"] = "RECORD_STOP"
	maps.Copy(h, extra)
	samples := int((time.Since(r.start) - r.paused).Seconds() * 8000)
	appendTo := s.vars[r.channel]["RECORD_APPEND"] == "true" && s.recorded[path]
	if err := writeWAV(path, max(samples, 1), appendTo); err != nil {
		s.t.Errorf("fsim: writing %s: %v", path, err)
	}
	s.recorded[path] = true
	h["variable_record_samples"] = strconv.Itoa(samples)
	return stamp(esl.Event{Name: "RECORD_STOP", Headers: h})
}

// writeWAV writes (or extends) a mono 8 kHz 16-bit WAV of a 440 Hz-ish
// square tone.
func writeWAV(path string, samples int, appendTo bool) error {
	var old []byte
	if appendTo {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 44 {
			old = b[44:]
		}
	}
	data := make([]byte, len(old), len(old)+2*samples)
	copy(data, old)
	for i := 0; i < samples; i++ {
		v := int16(8000)
		if (i/9)%2 == 0 {
			v = -8000
		}
		data = binary.LittleEndian.AppendUint16(data, uint16(v))
	}
	hdr := make([]byte, 0, 44)
	hdr = append(hdr, "RIFF"...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(36+len(data)))
	hdr = append(hdr, "WAVEfmt "...)
	hdr = binary.LittleEndian.AppendUint32(hdr, 16)
	hdr = binary.LittleEndian.AppendUint16(hdr, 1)
	hdr = binary.LittleEndian.AppendUint16(hdr, 1)
	hdr = binary.LittleEndian.AppendUint32(hdr, 8000)
	hdr = binary.LittleEndian.AppendUint32(hdr, 16000)
	hdr = binary.LittleEndian.AppendUint16(hdr, 2)
	hdr = binary.LittleEndian.AppendUint16(hdr, 16)
	hdr = append(hdr, "data"...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(data)))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(hdr, data...), 0o644)
}

func (s *fsim) uuidSetvar(cmd string) (string, []esl.Event) {
	f := strings.Fields(cmd)
	if len(f) < 3 {
		return "-USAGE: <uuid> <var> [value]\n", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chans[f[1]] == nil {
		return "-ERR No such channel!\n", nil
	}
	if s.vars[f[1]] == nil {
		s.vars[f[1]] = map[string]string{}
	}
	s.vars[f[1]][f[2]] = strings.Join(f[3:], " ")
	return "+OK\n", nil
}

func (s *fsim) uuidBroadcast(cmd string) (string, []esl.Event) {
	f := strings.Fields(cmd)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(f) < 3 || s.chans[f[1]] == nil {
		return "-ERR No such channel!\n", nil
	}
	return "+OK Message sent\n", []esl.Event{
		s.channelEvent("PLAYBACK_START", f[1], map[string]string{"Playback-File-Path": f[2]}),
		s.channelEvent("PLAYBACK_STOP", f[1], map[string]string{"Playback-File-Path": f[2], "Playback-Status": "done"}),
	}
}

func (s *fsim) uuidKill(cmd string) (string, []esl.Event) {
	f := strings.Fields(cmd)
	s.mu.Lock()
	if len(f) < 2 || s.chans[f[1]] == nil {
		s.mu.Unlock()
		return "-ERR No such channel!\n", nil
	}
	ev := s.channelEvent("CHANNEL_HANGUP", f[1], map[string]string{"Hangup-Cause": "NORMAL_CLEARING"})
	s.mu.Unlock()
	go s.emit(ev) // after the reply, as FreeSWITCH fires it
	return "+OK\n", nil
}

func (s *fsim) showChannels(string) (string, []esl.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []map[string]string
	for _, id := range s.order {
		if h := s.chans[id]; h != nil {
			rows = append(rows, map[string]string{"uuid": id, "name": h["Channel-Name"], "direction": h["Call-Direction"],
				"call_uuid": h["Channel-Call-UUID"], "callstate": "ACTIVE"})
		}
	}
	return showJSON(rows), nil
}

func (s *fsim) showCalls(string) (string, []esl.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []map[string]string
	for _, id := range s.order {
		if b, ok := s.bridges[id]; ok && s.chans[id] != nil {
			rows = append(rows, map[string]string{"uuid": id, "b_uuid": b, "name": s.chans[id]["Channel-Name"]})
		}
	}
	return showJSON(rows), nil
}

func showJSON(rows []map[string]string) string {
	if len(rows) == 0 {
		return "{\"row_count\": 0}\n" // sic: FreeSWITCH's idle answer has a space
	}
	b, _ := json.Marshal(map[string]any{"row_count": len(rows), "rows": rows})
	return string(b) + "\n"
}

func (s *fsim) uuidDump(cmd string) (string, []esl.Event) {
	f := strings.Fields(cmd)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(f) < 2 || s.chans[f[1]] == nil {
		return "-ERR No such channel!\n", nil
	}
	h := maps.Clone(s.chans[f[1]])
	h["Event-Name"] = "CHANNEL_DATA"
	b, _ := json.Marshal(h)
	return string(b), nil
}

func (s *fsim) uuidBuglist(cmd string) (string, []esl.Event) {
	f := strings.Fields(cmd)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(f) < 2 || s.chans[f[1]] == nil {
		return "-ERR no reply\n", nil
	}
	var b strings.Builder
	b.WriteString("<media-bugs>\n")
	for p, r := range s.recs {
		if r.channel == f[1] {
			fmt.Fprintf(&b, " <media-bug>\n  <function>session_record</function>\n  <target>%s</target>\n  <thread-locked>0</thread-locked>\n </media-bug>\n", p)
		}
	}
	b.WriteString("</media-bugs>\n")
	return b.String(), nil
}

// pausedNow reports whether the recording at path is paused.
func (s *fsim) pausedNow(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[path]
	return r != nil && !r.pausedAt.IsZero()
}
