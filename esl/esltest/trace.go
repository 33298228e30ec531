package esltest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/esl"
)

// TraceLine is one line of a FreeSWITCH trace (format: the traces'
// README): a command sent, a reply, an event, a note or another message.
type TraceLine struct {
	T       int64             `json:"t"`
	Dir     string            `json:"dir"` // command, reply, event, note, other
	Cmd     string            `json:"cmd,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    *string           `json:"body,omitempty"`
	Event   json.RawMessage   `json:"event,omitempty"` // JSON-subscribed event, as FreeSWITCH sent it
	Format  string            `json:"format,omitempty"`
	Raw     string            `json:"raw,omitempty"` // plain-subscribed event body (values URL-encoded)
	Text    string            `json:"text,omitempty"`
}

// TraceDir is the folder of the FreeSWITCH traces: testdata/traces/freeswitch
// of the repository (found by walking up to go.mod), a gzipped copy of the
// real FreeSWITCH 1.10.12 captures with their README.
func TraceDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("esltest: %v", err)
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "traces", "freeswitch")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Fatalf("esltest: no go.mod above the working directory: cannot find the FreeSWITCH traces")
	return ""
}

// TraceNames are the traces there (names without .jsonl.gz), sorted.
func TraceNames(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(TraceDir(t), "*.jsonl.gz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("esltest: no FreeSWITCH traces in %s", TraceDir(t))
	}
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".jsonl.gz"))
	}
	return out
}

// ReadTrace returns a trace file's JSON lines, decompressed.
func ReadTrace(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// LoadTrace reads a trace by name, e.g. "a_record_mask_pause".
func LoadTrace(t testing.TB, name string) []TraceLine {
	t.Helper()
	path := filepath.Join(TraceDir(t), name+".jsonl.gz")
	data, err := ReadTrace(path)
	if err != nil {
		t.Fatalf("esltest: trace %q: %v", name, err)
	}
	var out []TraceLine
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l TraceLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("esltest: %s line %d: %v", path, n+1, err)
		}
		out = append(out, l)
	}
	return out
}

// TraceEvents are a trace's events in file order, decoded as the client
// decodes them (plain-format ones too).
func TraceEvents(t testing.TB, name string) []esl.Event {
	t.Helper()
	var out []esl.Event
	for i, l := range LoadTrace(t, name) {
		if l.Dir != "event" {
			continue
		}
		var ev esl.Event
		var err error
		switch {
		case len(l.Event) > 0:
			ev, err = esl.DecodeJSONEvent(l.Event)
		case l.Format == "plain":
			ev, err = esl.DecodePlainEvent([]byte(l.Raw))
		default:
			t.Fatalf("esltest: %s line %d: event with neither JSON nor a plain body", name, i+1)
		}
		if err != nil {
			t.Fatalf("esltest: %s line %d: %v", name, i+1, err)
		}
		out = append(out, ev)
	}
	return out
}

// answers are a trace's replies to one command line, used in turn (the
// last one again once they run out).
type answers struct {
	list []answer
	next int
}

type answer struct {
	reply *esl.Frame // the reply to an api command, as captured
	job   *string    // a bgapi's BACKGROUND_JOB body
}

// ReplayReplies answers api and bgapi commands as the trace answered
// them, matched by the exact command line (before handlers). A bgapi gets
// the trace's BACKGROUND_JOB body under the client's own Job-UUID.
func (s *Server) ReplayReplies(lines []TraceLine) {
	jobs := map[string]string{} // Job-UUID → body, from the trace's BACKGROUND_JOB events
	for _, l := range lines {
		if l.Dir != "event" || len(l.Event) == 0 {
			continue
		}
		if ev, err := esl.DecodeJSONEvent(l.Event); err == nil && ev.Name == "BACKGROUND_JOB" {
			jobs[ev.Get("Job-UUID")] = ev.Body
		}
	}
	for _, l := range lines {
		if l.Dir == "event" && l.Format == "plain" {
			if ev, err := esl.DecodePlainEvent([]byte(l.Raw)); err == nil && ev.Name == "BACKGROUND_JOB" {
				jobs[ev.Get("Job-UUID")] = ev.Body
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range lines {
		if l.Dir != "command" || !(strings.HasPrefix(l.Cmd, "api ") || strings.HasPrefix(l.Cmd, "bgapi ")) {
			continue
		}
		var rep *TraceLine
		for j := i + 1; j < len(lines); j++ {
			if lines[j].Dir == "reply" {
				rep = &lines[j]
				break
			}
			if lines[j].Dir == "command" {
				break
			}
		}
		if rep == nil {
			continue
		}
		var a answer
		if strings.HasPrefix(l.Cmd, "bgapi ") {
			body, ok := jobs[rep.Headers["Job-UUID"]]
			if !ok {
				continue
			}
			a.job = &body
		} else {
			f := esl.Frame{Header: map[string]string{}}
			for k, v := range rep.Headers {
				f.Header[k] = v
			}
			if rep.Body != nil {
				f.Body = []byte(*rep.Body)
			}
			a.reply = &f
		}
		key := strings.TrimRight(l.Cmd, " ")
		if s.replay[key] == nil {
			s.replay[key] = &answers{}
		}
		s.replay[key].list = append(s.replay[key].list, a)
	}
}
