package esl_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// fuzzSeeds are real wire frames: a trace's replies and small events, as
// FreeSWITCH writes them.
func fuzzSeeds(f *testing.F, trace string) [][]byte {
	var out [][]byte
	for _, l := range esltest.LoadTrace(f, trace) {
		fr := esl.Frame{Header: maps.Clone(l.Headers)}
		switch {
		case l.Dir == "reply" || l.Dir == "other":
			if l.Body != nil {
				fr.Body = []byte(*l.Body)
			}
		case len(l.Event) > 0 && len(l.Event) < 4000:
			var b bytes.Buffer
			json.Compact(&b, l.Event)
			fr = esl.Frame{Header: map[string]string{"Content-Type": "text/event-json"}, Body: b.Bytes()}
		case l.Format == "plain" && len(l.Raw) < 8000:
			fr = esl.Frame{Header: map[string]string{"Content-Type": "text/event-plain"}, Body: []byte(l.Raw)}
		default:
			continue
		}
		out = append(out, esl.AppendFrame(nil, fr))
	}
	return out
}

// Any input: no panic, no endless loop; a frame read is written back and
// read again the same (less what WriteFrame must leave out).
func FuzzReadFrame(f *testing.F) {
	for _, s := range fuzzSeeds(f, "d2_idle_state_queries_and_errors") {
		f.Add(s)
	}
	for _, s := range fuzzSeeds(f, "e_plain_format_filtered_subscription")[:4] {
		f.Add(s)
	}
	for _, s := range []string{"Content-Length: lots\n\n", "\n\nContent-Type: x\r\nContent-Length: 3\r\n\r\nabc",
		"A:b\n\nC: d\n", "Content-Length: 2\ncontent-length: 0\n\n", ": x\n\n", "0:\r0\n\n0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for range len(data) + 1 { // each frame read consumes input
			fr, err := esl.ReadFrame(r, 1<<16)
			if err != nil {
				return
			}
			wire := esl.AppendFrame(nil, fr)
			if len(bytes.TrimSpace(wire)) == 0 {
				continue // every header had to be left out: nothing to read back
			}
			again, err := esl.ReadFrame(bufio.NewReader(bytes.NewReader(wire)), 1<<16)
			if err != nil {
				t.Fatalf("rewritten frame unreadable: %v (%+v)", err, fr)
			}
			if !bytes.Equal(again.Body, fr.Body) {
				t.Fatalf("body %q became %q", fr.Body, again.Body)
			}
			for k, v := range fr.Header {
				if strings.EqualFold(k, "Content-Length") || strings.ContainsAny(k+v, "\r\n") {
					continue
				}
				if again.Header[k] != v {
					t.Fatalf("header %q: %q became %q", k, v, again.Header[k])
				}
			}
		}
		t.Fatal("ReadFrame loops without consuming input")
	})
}
