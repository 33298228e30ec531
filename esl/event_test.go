package esl_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/esl/esltest"
)

// Every event of every trace decodes (JSON, and the plain ones of e_*),
// with its name and sequence number.
func TestDecodeEveryTraceEvent(t *testing.T) {
	total := 0
	for _, name := range esltest.TraceNames(t) {
		lines := esltest.LoadTrace(t, name)
		want := 0
		for _, l := range lines {
			if l.Dir == "event" {
				want++
			}
		}
		evs := esltest.TraceEvents(t, name)
		if len(evs) != want || want == 0 {
			t.Fatalf("%s: %d events decoded of %d", name, len(evs), want)
		}
		for i, ev := range evs {
			if ev.Name == "" || ev.Name != ev.Get("Event-Name") || ev.Seq == 0 || ev.Headers == nil {
				t.Fatalf("%s event %d: name %q seq %d", name, i, ev.Name, ev.Seq)
			}
		}
		total += len(evs)
	}
	t.Logf("%d events decoded", total)
}

func traceEvent(t *testing.T, trace string, match func(esl.Event) bool) esl.Event {
	t.Helper()
	for _, ev := range esltest.TraceEvents(t, trace) {
		if match(ev) {
			return ev
		}
	}
	t.Fatalf("%s: no such event", trace)
	return esl.Event{}
}

func TestDecodeTraceSpecifics(t *testing.T) {
	stop := traceEvent(t, "a_record_mask_pause", func(ev esl.Event) bool { return ev.Name == "RECORD_STOP" })
	if got := stop.Get("Record-Completion-Cause"); got != "success-maxtime" {
		t.Errorf("RECORD_STOP cause %q", got)
	}
	if stop.Get("variable_record_seconds") != "9" || stop.Get("Record-File-Path") == "" {
		t.Errorf("RECORD_STOP %q %q", stop.Get("variable_record_seconds"), stop.Get("Record-File-Path"))
	}

	// A second transfer makes transfer_history an array.
	xfer := traceEvent(t, "c1_external_call_blind_transfer_refer", func(ev esl.Event) bool {
		return len(ev.Multi["variable_transfer_history"]) > 1
	})
	h := xfer.Multi["variable_transfer_history"]
	if xfer.Get("variable_transfer_history") != h[len(h)-1] || !strings.Contains(h[0], ":bl_xfer:1001/default/XML") {
		t.Errorf("transfer_history %q, header %q", h, xfer.Get("variable_transfer_history"))
	}
	if _, ok := xfer.Multi["Unique-ID"]; ok {
		t.Error("single-valued header in Multi")
	}

	msg := traceEvent(t, "g1_sip_message_ood_json", func(ev esl.Event) bool { return ev.Name == "MESSAGE" })
	if msg.Body != `{"operation":"pause","session_id":"a9c3a15a-6084-1240-5389-1a87ccf3cdf8"}` ||
		msg.Get("type") != "application/x-media-control+json" {
		t.Errorf("MESSAGE body %q type %q", msg.Body, msg.Get("type"))
	}
	if _, ok := msg.Headers["_body"]; ok {
		t.Error("_body among the headers")
	}

	job := traceEvent(t, "a_record_mask_pause", func(ev esl.Event) bool { return ev.Name == "BACKGROUND_JOB" })
	if job.Body != "+OK e343912b-cc61-4220-8e9b-97d60e9981d2\n" || job.Get("Job-UUID") != "87edd079-c03c-41c0-a812-d69d2262027a" {
		t.Errorf("BACKGROUND_JOB %q %q", job.Body, job.Get("Job-UUID"))
	}

	cc := traceEvent(t, "e2_callcenter_queue", func(ev esl.Event) bool { return ev.Get("CC-Action") == "member-queue-start" })
	if cc.Name != "CUSTOM" || cc.Get("Event-Subclass") != "callcenter::info" {
		t.Errorf("callcenter event %q %q", cc.Name, cc.Get("Event-Subclass"))
	}
}

// The plain-format trace: URL-decoded values, ARRAY:: headers, the body
// after its inner Content-Length.
func TestDecodePlainTrace(t *testing.T) {
	evs := esltest.TraceEvents(t, "e_plain_format_filtered_subscription")
	job := evs[slices.IndexFunc(evs, func(ev esl.Event) bool { return ev.Name == "BACKGROUND_JOB" })]
	if job.Body != "+OK 691ad72e-eab7-4a19-afa2-efb143eb787e\n" || job.Get("Content-Length") != "41" {
		t.Errorf("job body %q", job.Body)
	}
	if got := job.Get("Job-Command-Arg"); !strings.HasPrefix(got, "{origination_uuid=691ad72e") || !strings.Contains(got, "&endless_playback(tone_stream://%(2000,0,880))") {
		t.Errorf("Job-Command-Arg %q", got)
	}
	if job.Get("FreeSWITCH-IPv6") != "fd00::2" || !strings.Contains(job.Get("Event-Date-GMT"), " GMT") {
		t.Errorf("not decoded: %q %q", job.Get("FreeSWITCH-IPv6"), job.Get("Event-Date-GMT"))
	}
	create := evs[slices.IndexFunc(evs, func(ev esl.Event) bool { return len(ev.Multi["variable_DP_MATCH"]) > 0 })]
	if got := create.Multi["variable_DP_MATCH"]; !slices.Equal(got, []string{"1002", "1002"}) {
		t.Errorf("DP_MATCH %q", got)
	}
	names := map[string]bool{}
	for _, ev := range evs {
		names[ev.Name] = true
	}
	for _, n := range []string{"CHANNEL_CREATE", "CHANNEL_ANSWER", "DTMF", "RECORD_START", "RECORD_STOP", "CHANNEL_HANGUP_COMPLETE"} {
		if !names[n] {
			t.Errorf("no %s in the plain trace", n)
		}
	}
}

// The two formats carry the same event: a trace event encoded either way
// by the test server decodes back to itself.
func TestEncodeDecodeBothFormats(t *testing.T) {
	for _, trace := range []string{"c1_external_call_blind_transfer_refer", "g1_sip_message_ood_json", "e_plain_format_filtered_subscription"} {
		for i, ev := range esltest.TraceEvents(t, trace) {
			js, err := esl.DecodeJSONEvent(esltest.EncodeJSON(ev))
			if err != nil || !reflect.DeepEqual(js, ev) {
				t.Fatalf("%s %d: JSON round trip: %v\n%+v\n%+v", trace, i, err, js, ev)
			}
			pl, err := esl.DecodePlainEvent(esltest.EncodePlain(ev))
			if err != nil || !reflect.DeepEqual(pl, ev) {
				t.Fatalf("%s %d: plain round trip: %v\n%+v\n%+v", trace, i, err, pl, ev)
			}
		}
	}
}

func TestDecodeJSONEventValues(t *testing.T) {
	ev, err := esl.DecodeJSONEvent([]byte(`{"Event-Name":"X","n":12,"f":1.5e3,"b":true,"z":null,"a":[1,"two",false],"e":[],
		"Event-Sequence":"77","_body":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Event-Name": "X", "n": "12", "f": "1.5e3", "b": "true", "z": "", "a": "false", "e": "", "Event-Sequence": "77"}
	if !maps.Equal(ev.Headers, want) || ev.Body != "hi" || ev.Seq != 77 || ev.Name != "X" ||
		!reflect.DeepEqual(ev.Multi, map[string][]string{"a": {"1", "two", "false"}, "e": {}}) {
		t.Fatalf("%+v", ev)
	}
	for _, bad := range []string{``, `[]`, `null`, `"x"`, `{"a":{"b":"c"}}`, `{"a":[["x"]]}`, `{"_body":["x"]}`, `{"a":"b"} {}`, `{"a":"b"}x`, `{"a":`} {
		if _, err := esl.DecodeJSONEvent([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestDecodePlainEventEdges(t *testing.T) {
	ev, err := esl.DecodePlainEvent([]byte("Event-Name: DTMF\nA: 100%25%20sure%\nB: %4x%zz+%\nC:tight\nM: ARRAY::x|:y\nM: plain\n" +
		"Content-Length: 3\n\nabcdef"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Event-Name": "DTMF", "A": "100% sure%", "B": "%4x%zz+%", "C": "tight", "M": "plain", "Content-Length": "3"}
	if !maps.Equal(ev.Headers, want) || ev.Body != "abc" || ev.Multi != nil {
		t.Fatalf("%+v", ev)
	}
	for _, bad := range []string{"no colon here\n\n", "Content-Length: 9\n\nabc", "Content-Length: x\n\n", "Content-Length: -1\n\n"} {
		if _, err := esl.DecodePlainEvent([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
