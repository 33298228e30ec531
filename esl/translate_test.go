package esl

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// traceEvents reads a real FreeSWITCH trace's events (the JSON-subscribed
// ones), decoded as the client decodes them.
func traceEvents(t testing.TB, name string) []Event {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "traces", "freeswitch", name+".jsonl.gz"))
	if err != nil {
		t.Fatalf("trace %s: %v", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("trace %s: %v", name, err)
	}
	var out []Event
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var line struct {
			Dir   string          `json:"dir"`
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Dir != "event" || len(line.Event) == 0 {
			continue
		}
		ev, err := DecodeJSONEvent(line.Event)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// first is the trace's first event with this name on a channel whose name
// starts with prefix.
func first(t *testing.T, evs []Event, name, prefix string) Event {
	t.Helper()
	for _, ev := range evs {
		if ev.Name == name && strings.HasPrefix(ev.Get("Channel-Name"), prefix) {
			return ev
		}
	}
	t.Fatalf("no %s on %s*", name, prefix)
	return Event{}
}

var labMapping = Mapping{
	Tenants:        []TenantRule{{UUID: "lab", Domains: []string{"127.0.0.1"}, Default: true}},
	TrunkProfiles:  []string{"carrier"},
	IgnoreProfiles: []string{"sim"},
}

func TestTranslateChannels(t *testing.T) {
	a := traceEvents(t, "a_record_mask_pause")
	c1 := traceEvents(t, "c1_external_call_blind_transfer_refer")
	e1 := traceEvents(t, "e1_ring_group_parallel")
	e2 := traceEvents(t, "e2_callcenter_queue")
	cases := []struct {
		name string
		ev   Event
		want engine.ChannelCreated
	}{
		{"caller's phone leg", first(t, a, "CHANNEL_CREATE", "sofia/internal/1001@"), engine.ChannelCreated{
			Channel: "5b7b06ff-17ca-40e9-8749-a604d801ad60", CallID: "5b7b06ff-17ca-40e9-8749-a604d801ad60", Tenant: "lab",
			Endpoint: "1001", Role: engine.RoleInternal, CallerNumber: "1001", CallerName: "1001", CalleeNumber: "1002",
			SIPCallID: "5bb06056-6082-1240-88a5-1a87ccf3cdf8"}},
		{"callee's phone leg", first(t, a, "CHANNEL_CREATE", "sofia/internal/1002@"), engine.ChannelCreated{
			Channel: "44d7b44a-48b1-4339-bf29-97371656d755", CallID: "5b7b06ff-17ca-40e9-8749-a604d801ad60", Tenant: "lab",
			Endpoint: "1002", Role: engine.RoleInternal, CallerNumber: "1001", CallerName: "Extension 1001", CalleeNumber: "1002"}},
		{"carrier leg is external", first(t, c1, "CHANNEL_CREATE", "sofia/carrier/+15551234567"), engine.ChannelCreated{}},
		{"ring group member", first(t, e1, "CHANNEL_CREATE", "sofia/internal/1002@"), engine.ChannelCreated{}},
		{"queue agent", first(t, e2, "CHANNEL_CREATE", "sofia/internal/1001@127.0.0.1:5092"), engine.ChannelCreated{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := newTranslator(labMapping).translate(c.ev)
			if len(out) != 1 {
				t.Fatalf("%d events: %+v", len(out), out)
			}
			got := out[0].(engine.ChannelCreated)
			got.At = got.At.UTC()
			if got.At.IsZero() {
				t.Error("no event time")
			}
			got.At = c.want.At
			switch c.name {
			case "carrier leg is external":
				if got.Role != engine.RoleExternal || got.Endpoint != "" || got.CallerNumber != "+15551234567" {
					t.Fatalf("%+v", got)
				}
			case "ring group member":
				if got.Group != "sales" || got.Endpoint != "1002" || got.Role != engine.RoleInternal {
					t.Fatalf("%+v", got)
				}
			case "queue agent":
				if got.Queue != "support" || got.Endpoint != "1001" {
					t.Fatalf("%+v", got)
				}
			default:
				if got != c.want {
					t.Fatalf("got  %+v\nwant %+v", got, c.want)
				}
			}
		})
	}
}

// The test rig's simulated phones (profile sim) are ignored, every event of
// theirs.
func TestTranslateIgnoresProfiles(t *testing.T) {
	tr := newTranslator(labMapping)
	for _, ev := range traceEvents(t, "a_record_mask_pause") {
		if !strings.HasPrefix(ev.Get("Channel-Name"), "sofia/sim/") || ev.Name == "MESSAGE" {
			continue
		}
		if out := tr.translate(ev); len(out) != 0 {
			t.Fatalf("%s on %s gave %+v", ev.Name, ev.Get("Channel-Name"), out)
		}
	}
}

func TestTranslateEvents(t *testing.T) {
	a := traceEvents(t, "a_record_mask_pause")
	b := traceEvents(t, "b_dtmf_feature_codes")
	d := traceEvents(t, "d_restart_recovery_state_queries")
	d3 := traceEvents(t, "d3_feature_code_park_to_controller")
	g1 := traceEvents(t, "g1_sip_message_ood_json")
	g3 := traceEvents(t, "g3_sip_message_in_dialog")
	g4 := traceEvents(t, "g4_sip_info_in_dialog")
	const ours = "0b0c8a4e-6d6f-4d4e-9d7b-1f2e3d4c5b6a"
	withPath := func(ev Event) Event {
		h := map[string]string{}
		for k, v := range ev.Headers {
			h[k] = v
		}
		h["Record-File-Path"] = "/var/lib/freeswitch/recordings/" + ours + ".wav"
		ev.Headers = h
		return ev
	}
	var discardedStop Event
	for _, ev := range d {
		if ev.Name == "RECORD_STOP" && ev.Get("Record-Completion-Cause") == "empty-file" {
			discardedStop = ev
		}
	}
	var update Event
	for _, ev := range g4 {
		if ev.Name == "RECV_INFO" && ev.Get("SIP-Content-Type") == "message/update_display" {
			update = ev
		}
	}
	cases := []struct {
		name string
		ev   Event
		want []engine.Event
	}{
		{"answer", first(t, a, "CHANNEL_ANSWER", "sofia/internal/1001@"), []engine.Event{engine.ChannelAnswered{Channel: "5b7b06ff-17ca-40e9-8749-a604d801ad60"}}},
		{"bridge: both legs, one pair id", first(t, a, "CHANNEL_BRIDGE", "sofia/internal/1001@"), []engine.Event{
			engine.ChannelBridged{Channel: "5b7b06ff-17ca-40e9-8749-a604d801ad60", Bridge: "fs-5b7b06ff-17ca-40e9-8749-a604d801ad60-44d7b44a-48b1-4339-bf29-97371656d755"},
			engine.ChannelBridged{Channel: "44d7b44a-48b1-4339-bf29-97371656d755", Bridge: "fs-5b7b06ff-17ca-40e9-8749-a604d801ad60-44d7b44a-48b1-4339-bf29-97371656d755"}}},
		{"unbridge", first(t, a, "CHANNEL_UNBRIDGE", "sofia/internal/1001@"), []engine.Event{
			engine.ChannelUnbridged{Channel: "5b7b06ff-17ca-40e9-8749-a604d801ad60", Bridge: "fs-5b7b06ff-17ca-40e9-8749-a604d801ad60-44d7b44a-48b1-4339-bf29-97371656d755"},
			engine.ChannelUnbridged{Channel: "44d7b44a-48b1-4339-bf29-97371656d755", Bridge: "fs-5b7b06ff-17ca-40e9-8749-a604d801ad60-44d7b44a-48b1-4339-bf29-97371656d755"}}},
		{"hangup", first(t, a, "CHANNEL_HANGUP", "sofia/internal/1001@"), []engine.Event{engine.Hangup{Channel: "5b7b06ff-17ca-40e9-8749-a604d801ad60", CauseText: "NORMAL_CLEARING"}}},
		{"dtmf per digit", first(t, b, "DTMF", "sofia/internal/1001@"), nil},
		{"recording not ours", first(t, a, "RECORD_START", "sofia/internal/1001@"), nil},
		{"our recording started", withPath(first(t, a, "RECORD_START", "sofia/internal/1001@")), []engine.Event{
			engine.RecordingStarted{Name: ours, Channel: "5b7b06ff-17ca-40e9-8749-a604d801ad60"}}},
		{"our recording stopped", withPath(first(t, a, "RECORD_STOP", "sofia/internal/1001@")), []engine.Event{
			engine.RecordingFinished{Name: ours, Channel: "5b7b06ff-17ca-40e9-8749-a604d801ad60"}}},
		{"paused its whole life: discarded, said so", withPath(discardedStop), []engine.Event{
			engine.RecordingFailed{Name: ours, Channel: discardedStop.Get("Unique-ID"), Reason: DiscardedReason}}},
		{"*26 parked for callrecd", first(t, d3, "CHANNEL_PARK", "sofia/internal/1001@"), []engine.Event{
			engine.FeatureCall{Channel: first(t, d3, "CHANNEL_PARK", "sofia/internal/1001@").Get("Unique-ID"), Feature: recording.FeatureCallRecord}}},
		{"display update INFO is noise", update, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := newTranslator(labMapping).translate(c.ev)
			if c.name == "dtmf per digit" {
				if len(got) != 1 || got[0].(engine.DTMF).Digit != c.ev.Get("DTMF-Digit")[0] {
					t.Fatalf("%+v", got)
				}
				return
			}
			got = withoutTimes(t, got)
			if len(got) != len(c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %+v\nwant %+v", got[i], c.want[i])
				}
			}
		})
	}

	t.Run("out-of-dialog MESSAGE: no channel, the sender's user, the content type intact", func(t *testing.T) {
		got := newTranslator(labMapping).translate(first(t, g1, "MESSAGE", ""))
		tm := got[0].(engine.TextMessage)
		if tm.Channel != "" || tm.Endpoint != "1001" || tm.ContentType != "application/x-media-control+json" ||
			!strings.Contains(tm.Body, `"operation":"pause"`) || tm.Headers["X-Test-Header"] != "g-ood" {
			t.Fatalf("%+v", tm)
		}
	})
	t.Run("in-dialog MESSAGE and INFO name the leg", func(t *testing.T) {
		for _, ev := range []Event{first(t, g3, "MESSAGE", "sofia/internal/1001@"), first(t, g4, "RECV_INFO", "sofia/internal/1001@")} {
			got := newTranslator(labMapping).translate(ev)
			tm := got[0].(engine.TextMessage)
			if tm.Channel != ev.Get("Unique-ID") || tm.Body != "pause-audio-recording" || !strings.HasPrefix(tm.ContentType, "text/plain") {
				t.Fatalf("%s: %+v", ev.Name, tm)
			}
		}
	})
}

// withoutTimes checks every event has the PBX's time and zeroes it.
func withoutTimes(t *testing.T, evs []engine.Event) []engine.Event {
	t.Helper()
	out := make([]engine.Event, len(evs))
	for i, ev := range evs {
		if ev.When().IsZero() {
			t.Errorf("%T without time", ev)
		}
		v := reflect.New(reflect.TypeOf(ev)).Elem()
		v.Set(reflect.ValueOf(ev))
		v.FieldByName("At").Set(reflect.ValueOf(time.Time{}))
		out[i] = v.Interface().(engine.Event)
	}
	return out
}
