package ari

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/callrecd/callrecd/engine"
)

// traceMapping is the shared lab's configuration (the traces' PBX): phones
// 1001..1003 of tenant acme, the carrier trunk, REC_* channel variables.
func traceMapping() Mapping {
	return Mapping{
		Tenants:        []TenantRule{{UUID: "acme", EndpointPrefixes: []string{"100"}}, {UUID: "default", Default: true}},
		TrunkEndpoints: []string{"carrier"},
		GroupVar:       "REC_GROUP",
		QueueVar:       "REC_QUEUE",
	}
}

// short turns "pbx-1795288322.4" into "c4" and keeps other ids.
func short(id string) string {
	if i := strings.LastIndexByte(id, '.'); i > 0 && strings.HasPrefix(id, "pbx-") {
		return "c" + id[i+1:]
	}
	return id
}

func sbridge(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// compact renders an engine event on one line for table comparisons.
func compact(ev engine.Event) string {
	switch e := ev.(type) {
	case engine.ChannelCreated:
		s := fmt.Sprintf("created %s call=%s %s %s ep=%s tenant=%s", short(e.Channel), short(e.CallID), e.Role, e.CallerNumber, e.Endpoint, e.Tenant)
		if e.CalleeNumber != "" {
			s += " to=" + e.CalleeNumber
		}
		if e.Group != "" {
			s += " group=" + e.Group
		}
		if e.Queue != "" {
			s += " queue=" + e.Queue
		}
		if e.Answered {
			s += " up"
		}
		return s
	case engine.ChannelAnswered:
		return "answered " + short(e.Channel)
	case engine.ChannelBridged:
		return "bridged " + short(e.Channel) + " " + sbridge(e.Bridge)
	case engine.ChannelUnbridged:
		return "unbridged " + short(e.Channel) + " " + sbridge(e.Bridge)
	case engine.BridgeMerged:
		return "merged " + sbridge(e.From) + ">" + sbridge(e.To)
	case engine.Transferred:
		return fmt.Sprintf("transfer %s by=%s transferee=%s target=%s exten=%s", e.Kind, short(e.Transferer), short(e.Transferee), short(e.Target), e.Exten)
	case engine.DTMF:
		return "dtmf " + short(e.Channel) + " " + string(e.Digit)
	case engine.LegDeaf:
		return "deaf " + short(e.Channel)
	case engine.FeatureCall:
		return "feature " + short(e.Channel) + " " + string(e.Feature)
	case engine.TextMessage:
		return "message endpoint=" + e.Endpoint + " from=" + e.From + " type=" + e.ContentType + " " + e.Body
	case engine.Hangup:
		return fmt.Sprintf("hangup %s %d", short(e.Channel), e.Cause)
	case engine.RecordingStarted:
		return "rec-started " + e.Name + " on " + short(e.Channel)
	case engine.RecordingFinished:
		return "rec-finished " + e.Name + " on " + short(e.Channel)
	case engine.RecordingFailed:
		return "rec-failed " + e.Name + " on " + short(e.Channel) + " " + e.Reason
	case engine.Snapshot:
		return fmt.Sprintf("snapshot %d channels %d recordings", len(e.Channels), len(e.Recordings))
	}
	return fmt.Sprintf("%T", ev)
}

var update = flag.Bool("update", false, "rewrite the golden files of the trace translation tests")

// translateTrace feeds a real trace through a Translator. Only events of the
// app "recorder" are used (trace b also logged a second app).
func translateTrace(t *testing.T, name string, m Mapping) ([]string, *Translator) {
	t.Helper()
	tr := NewTranslator(m, nil)
	var out []string
	for _, raw := range traceEvents(t, name) {
		ev, err := parseEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Application != "" && ev.Application != "recorder" {
			continue
		}
		for _, e := range tr.Translate(ev) {
			if e.When().IsZero() {
				t.Errorf("%s: %s has no timestamp", name, compact(e))
			}
			out = append(out, compact(e))
		}
	}
	for _, e := range tr.FlushWaiting() {
		out = append(out, compact(e))
	}
	return out, tr
}

var traceScenarios = []string{
	"a_internal_snoop_record", "b_dtmf_non_stasis", "c1_transfer_refer_blind", "c1_transfer_refer_blind_nopolicy",
	"c2_transfer_dtmf_blind", "c3_transfer_dtmf_attended", "d_feature_code_star26", "e1_queue_support",
	"e2_ringgroup_sales", "e3_inbound_queue", "f_controller_restart_recovery", "g_sip_message",
	"g2_sip_message_in_dialog", "h_ami_mixmonitor_comparison", "i_event_filter",
}

// TestTranslateTraceGolden: every real trace translates to exactly the
// reviewed engine events in testdata/translate/<scenario>.txt
// (go test ./ari -run Golden -update rewrites them; review the diff).
func TestTranslateTraceGolden(t *testing.T) {
	for _, n := range traceScenarios {
		t.Run(n, func(t *testing.T) {
			out, tr := translateTrace(t, n, traceMapping())
			if u := tr.Unknown(); len(u) > 0 {
				t.Errorf("unknown event types in a real Asterisk 22 trace: %v", u)
			}
			got := strings.Join(out, "\n") + "\n"
			path := filepath.Join("testdata", "translate", n+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("translation of %s changed:\n--- got\n%s--- want\n%s", n, got, want)
			}
		})
	}
}

// TestTranslateTraceFacts pins, per scenario, the facts the engine relies
// on, as ordered subsequences of the translated events.
func TestTranslateTraceFacts(t *testing.T) {
	cases := []struct {
		scenario string
		want     []string // in this order (other events may come between)
		absent   []string // substrings that must not appear
	}{
		{"a_internal_snoop_record", []string{
			"created c4 call=c4 internal 1001 ep=1001 tenant=acme to=1002",
			"created c5 call=c4 internal 1002 ep=1002 tenant=acme to=1002", // the callee joins the caller's call
			"answered c5", "bridged c5 6a3cbcda", "bridged c4 6a3cbcda",
			"rec-started a-1795288323 on c4", // the snoop's recording names the spied leg
			"rec-finished a-1795288323 on c4", "hangup c4 16", "hangup c5 16",
		}, []string{"Snoop", "c6"}},
		{"b_dtmf_non_stasis", []string{
			"dtmf c7 *", "dtmf c7 3", "dtmf c7 *", "dtmf c7 4", "dtmf c7 8", "dtmf c7 *", "dtmf c7 4", "dtmf c7 9",
			"dtmf c8 *", "dtmf c8 3", "dtmf c7 5", "hangup c7 16", "rec-finished b-1795288365 on c7",
		}, nil},
		{"c1_transfer_refer_blind", []string{
			"created c82 call=c82 external +4915112345678 ep=carrier tenant=default to=49305551001",
			"created c83 call=c82 internal 1001 ep=1001 tenant=acme to=1001",
			"transfer blind by=c83 transferee=c82 target= exten=9005551234",
			"created c86 call=c82 external 9005551234 ep=carrier tenant=default to=005551234",
			// the user leg's recording ends before its ChannelDestroyed: Hangup first
			"hangup c83 16", "rec-finished c1-user1001-1795288931 on c83",
			"bridged c86 9c118892", "bridged c82 9c118892",
		}, nil},
		{"c2_transfer_dtmf_blind", []string{
			"dtmf c16 #", "dtmf c16 1", "transfer blind by=c16 transferee=c15 target= exten=9005551234",
			"created c19 call=c15 external", "hangup c16 16", "rec-finished c2-user1001-1795288434 on c16",
			"bridged c19 eafb5b47", "bridged c15 eafb5b47",
		}, nil},
		{"c3_transfer_dtmf_attended", []string{
			"dtmf c39 *", "dtmf c39 2",
			"created c43 call=c43 local", "created c42 call=c43 local", // one call for both halves
			"bridged c42 b5e3bee8", "bridged c39 b5e3bee8",
			"created c44 call=c43 external 9005551234 ep=carrier",
			"bridged c44 ff77666c", "bridged c43 ff77666c",
			"hangup c39 16", "merged b5e3bee8>2f1e282c",
			"transfer attended by=c39 transferee=c38 target=c42",
			"rec-finished c3-user1001-1795288546 on c39",
			"bridged c38 ff77666c",
		}, nil},
		{"d_feature_code_star26", []string{
			"created c50 call=c50 internal 1001 ep=1001 tenant=acme to=*26", "feature c50 callrecord", "answered c50", "hangup c50 32",
		}, nil},
		{"e1_queue_support", []string{
			"created c51 call=c51 internal 1001 ep=1001 tenant=acme to=600",
			"created c52 call=c51 internal 1003 ep=1003 tenant=acme to=1003 queue=support",
			"created c53 call=c51 internal 1002 ep=1002 tenant=acme to=1002 queue=support",
			"answered c53", "hangup c52 26", "bridged c53 7ba24fe8", "bridged c51 7ba24fe8",
		}, nil},
		{"e2_ringgroup_sales", []string{
			"created c55 call=c54 internal 1002 ep=1002 tenant=acme to=1002 group=sales",
			"created c56 call=c54 internal 1003 ep=1003 tenant=acme to=1003 group=sales",
			"answered c56", "bridged c56 7d40fea0", "bridged c54 7d40fea0", "hangup c55 26",
		}, nil},
		{"e3_inbound_queue", []string{
			"created c57 call=c57 external +4915112345678 ep=carrier tenant=default to=49305550600",
			"created c58 call=c57 internal 1003 ep=1003 tenant=acme to=1003 queue=support",
		}, nil},
		{"g_sip_message", []string{
			`message endpoint=1001 from=<sip:1001@127.0.0.1> type=text/plain {"operation":"pause","session_id":"c0ffee-1234"}`,
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			out, _ := translateTrace(t, tc.scenario, traceMapping())
			i := 0
			for _, line := range out {
				if i < len(tc.want) && strings.HasPrefix(line, tc.want[i]) {
					i++
				}
				for _, a := range tc.absent {
					if strings.Contains(line, a) {
						t.Errorf("%q must not appear, got %q", a, line)
					}
				}
			}
			if i < len(tc.want) {
				t.Errorf("missing (in order) %q after %q\ngot:\n%s", tc.want[i], tc.want[max(i-1, 0)], strings.Join(out, "\n"))
			}
		})
	}
}

// TestTranslateUnknownCounted: an event type callrecd does not know is
// counted and logged, and the events around it still translate.
func TestTranslateUnknownCounted(t *testing.T) {
	var logged strings.Builder
	tr := NewTranslator(traceMapping(), slog.New(slog.NewTextHandler(&logged, nil)))
	feed := func(js string) []engine.Event {
		ev, err := parseEvent([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return tr.Translate(ev)
	}
	if got := feed(`{"type":"ChannelCreated","timestamp":"2026-11-21T19:12:02.581+0000","channel":{"id":"x1","name":"PJSIP/1001-00000001","state":"Ring","caller":{"number":"1001"},"dialplan":{"context":"phones","exten":"1002"}}}`); len(got) != 1 {
		t.Fatalf("ChannelCreated: %v", got)
	}
	for range 3 {
		if got := feed(`{"type":"ChannelFrobnicated","timestamp":"2026-11-21T19:12:02.600+0000","channel":{"id":"x1"}}`); len(got) != 0 {
			t.Fatalf("unknown event produced %v", got)
		}
	}
	if got := tr.Unknown()["ChannelFrobnicated"]; got != 3 {
		t.Errorf("unknown count = %d, want 3", got)
	}
	if !strings.Contains(logged.String(), "ChannelFrobnicated") {
		t.Errorf("unknown type not logged: %q", logged.String())
	}
	got := feed(`{"type":"ChannelDtmfReceived","timestamp":"2026-11-21T19:12:03.000+0000","digit":"*","channel":{"id":"x1","name":"PJSIP/1001-00000001","state":"Up"}}`)
	if len(got) != 1 || compact(got[0]) != "dtmf x1 *" {
		t.Errorf("after an unknown event: %v", got)
	}
}

// The lab's Asterisk hangs the transferer up (REFER, #1) before the
// transferee dials the target: the transferer's Hangup is held until that
// Dial, so the engine never sees a conversation with one party left.
func TestTranslateBlindTransferHoldsTransfererHangup(t *testing.T) {
	var got []string
	feed := translatorFeed(t, &got)
	trunk := `{"id":"pbx-1.1","name":"PJSIP/carrier-00000001","state":"Up","dialplan":{"context":"from-carrier","exten":"49305551001"}}`
	user := `{"id":"pbx-1.2","name":"PJSIP/1001-00000002","state":"Up","dialplan":{"context":"phones","exten":"1001"}}`
	out := `{"id":"pbx-1.3","name":"PJSIP/carrier-00000003","state":"Down","dialplan":{"context":"from-carrier","exten":"s"}}`
	feed(`{"type":"ChannelCreated",` + tsAt(0) + `,"channel":` + trunk + `}`)
	feed(`{"type":"ChannelCreated",` + tsAt(1) + `,"channel":` + user + `}`)
	feed(`{"type":"BridgeBlindTransfer",` + tsAt(2000) + `,"result":"Success","exten":"95551234","channel":` + user + `,"transferee":` + trunk + `}`)
	feed(`{"type":"ChannelHangupRequest",` + tsAt(2001) + `,"cause":16,"channel":` + user + `}`)
	if slices.Contains(got, "hangup c2 16") {
		t.Fatalf("transferer's hangup not held: %v", got)
	}
	feed(`{"type":"ChannelCreated",` + tsAt(2005) + `,"channel":` + out + `}`)
	feed(`{"type":"Dial",` + tsAt(2006) + `,"dialstring":"5551234@carrier","caller":` + trunk + `,"peer":` + out + `}`)
	want := []string{
		"created c1 call=c1 external  ep=carrier tenant=default to=49305551001 up",
		"created c2 call=c2 internal  ep=1001 tenant=acme to=1001 up",
		"transfer blind by=c2 transferee=c1 target= exten=95551234",
		"created c3 call=c1 external  ep=carrier tenant=default to=5551234",
		"hangup c2 16",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// a transferee that never dials releases the hold after xferHoldMax
	got = nil
	feed = translatorFeed(t, &got)
	feed(`{"type":"ChannelCreated",` + tsAt(0) + `,"channel":` + trunk + `}`)
	feed(`{"type":"ChannelCreated",` + tsAt(1) + `,"channel":` + user + `}`)
	feed(`{"type":"BridgeBlindTransfer",` + tsAt(2000) + `,"result":"Success","exten":"9","channel":` + user + `,"transferee":` + trunk + `}`)
	feed(`{"type":"ChannelHangupRequest",` + tsAt(2001) + `,"cause":16,"channel":` + user + `}`)
	feed(`{"type":"ChannelDtmfReceived",` + tsAt(5500) + `,"digit":"1","channel":` + trunk + `}`)
	if !slices.Contains(got, "hangup c2 16") {
		t.Fatalf("hold never released: %v", got)
	}
}

// Seen on the lab: the recorded transferer's hangup (repeated: soft, then
// hard) and its snoop's teardown arrive before the BridgeBlindTransfer. The
// hangup stays held through them, then until the transferee dials; the
// part's end follows the hangup.
func TestTranslateTransfererHangupBeforeBlindTransfer(t *testing.T) {
	var got []string
	feed := translatorFeed(t, &got)
	a := `{"id":"pbx-1.1","name":"PJSIP/1001-00000001","state":"Up","dialplan":{"context":"phones","exten":"1002"}}`
	b := `{"id":"pbx-1.2","name":"PJSIP/1002-00000002","state":"Up","dialplan":{"context":"phones","exten":"1002"}}`
	c := `{"id":"pbx-1.4","name":"PJSIP/1003-00000004","state":"Down","dialplan":{"context":"phones","exten":"s"}}`
	snoop := `{"id":"callrecd-r1-1","name":"Snoop/pbx-1.1-00000003","state":"Up"}`
	br := `{"id":"b1"}`
	feed(`{"type":"ChannelCreated",` + tsAt(0) + `,"channel":` + a + `}`)
	feed(`{"type":"ChannelCreated",` + tsAt(1) + `,"channel":` + b + `}`)
	feed(`{"type":"ChannelEnteredBridge",` + tsAt(2) + `,"channel":` + b + `,"bridge":` + br + `}`)
	feed(`{"type":"ChannelEnteredBridge",` + tsAt(2) + `,"channel":` + a + `,"bridge":` + br + `}`)
	feed(`{"type":"ChannelCreated",` + tsAt(3) + `,"channel":` + snoop + `}`)
	feed(`{"type":"StasisStart",` + tsAt(3) + `,"channel":` + snoop + `}`)
	feed(`{"type":"RecordingStarted",` + tsAt(4) + `,"recording":{"name":"r1","state":"recording","target_uri":"channel:callrecd-r1-1"}}`)
	got = nil
	feed(`{"type":"ChannelLeftBridge",` + tsAt(2000) + `,"channel":` + a + `,"bridge":` + br + `}`)
	feed(`{"type":"ChannelHangupRequest",` + tsAt(2001) + `,"cause":16,"channel":` + a + `}`)
	feed(`{"type":"ChannelHangupRequest",` + tsAt(2001) + `,"cause":16,"channel":` + a + `}`)
	feed(`{"type":"RecordingFinished",` + tsAt(2002) + `,"recording":{"name":"r1","state":"done","target_uri":"channel:callrecd-r1-1"}}`)
	feed(`{"type":"StasisEnd",` + tsAt(2002) + `,"channel":` + snoop + `}`)
	feed(`{"type":"ChannelDestroyed",` + tsAt(2003) + `,"cause":0,"channel":` + snoop + `}`)
	feed(`{"type":"BridgeBlindTransfer",` + tsAt(2003) + `,"result":"Success","exten":"1003","channel":` + a + `,"transferee":` + b + `}`)
	feed(`{"type":"ChannelLeftBridge",` + tsAt(2004) + `,"channel":` + b + `,"bridge":` + br + `}`)
	feed(`{"type":"ChannelCreated",` + tsAt(2005) + `,"channel":` + c + `}`)
	feed(`{"type":"Dial",` + tsAt(2006) + `,"dialstring":"1003","caller":` + b + `,"peer":` + c + `}`)
	want := []string{
		"unbridged c1 b1",
		"transfer blind by=c1 transferee=c2 target= exten=1003",
		"unbridged c2 b1",
		"created c4 call=c2 internal  ep=1003 tenant=acme to=1003",
		"hangup c1 16",
		"rec-finished r1 on c1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The other order seen on the lab: the transferee leaves the bridge and
// enters the dialplan between the transferer's hangup and the transfer.
func TestTranslateTransfereeDialplanBeforeBlindTransfer(t *testing.T) {
	var got []string
	feed := translatorFeed(t, &got)
	a := `{"id":"pbx-1.1","name":"PJSIP/1001-00000001","state":"Up","dialplan":{"context":"phones","exten":"1002"}}`
	b := `{"id":"pbx-1.2","name":"PJSIP/1002-00000002","state":"Up","dialplan":{"context":"phones","exten":"1002"}}`
	br := `{"id":"b1"}`
	feed(`{"type":"ChannelCreated",` + tsAt(0) + `,"channel":` + a + `}`)
	feed(`{"type":"ChannelCreated",` + tsAt(1) + `,"channel":` + b + `}`)
	feed(`{"type":"ChannelEnteredBridge",` + tsAt(2) + `,"channel":` + b + `,"bridge":` + br + `}`)
	feed(`{"type":"ChannelEnteredBridge",` + tsAt(2) + `,"channel":` + a + `,"bridge":` + br + `}`)
	got = nil
	feed(`{"type":"ChannelLeftBridge",` + tsAt(2000) + `,"channel":` + a + `,"bridge":` + br + `}`)
	feed(`{"type":"ChannelHangupRequest",` + tsAt(2000) + `,"cause":16,"channel":` + a + `}`)
	feed(`{"type":"ChannelLeftBridge",` + tsAt(2000) + `,"channel":` + b + `,"bridge":` + br + `}`)
	feed(`{"type":"ChannelDialplan",` + tsAt(2001) + `,"dialplan_app":"Dial","dialplan_app_data":"PJSIP/1003","channel":` + b + `}`)
	feed(`{"type":"BridgeBlindTransfer",` + tsAt(2001) + `,"result":"Success","exten":"1003","channel":` + a + `,"transferee":` + b + `}`)
	if slices.Contains(got, "hangup c1 16") {
		t.Fatalf("the transferer's hangup was not held until its transferee dials:\n%s", strings.Join(got, "\n"))
	}
	if want := []string{"unbridged c1 b1", "unbridged c2 b1", "transfer blind by=c1 transferee=c2 target= exten=1003"}; !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// translatorFeed returns a function that translates one raw ARI event (JSON)
// with a fresh translator on the trace mapping and appends the engine events,
// compacted, to *got.
func translatorFeed(t *testing.T, got *[]string) func(js string) {
	tr := NewTranslator(traceMapping(), nil)
	return func(js string) {
		t.Helper()
		ev, err := parseEvent([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tr.Translate(ev) {
			*got = append(*got, compact(e))
		}
	}
}

// tsAt is an ARI timestamp field ms milliseconds into the test minute.
func tsAt(ms int) string {
	return fmt.Sprintf(`"timestamp":"2026-11-21T19:12:%02d.%03d+0000"`, ms/1000, ms%1000)
}

// A TextMessageReceived names its sender by the endpoint Asterisk identified;
// without one (no endpoint in the event), by the user part of From.
func TestTranslateTextMessageSender(t *testing.T) {
	var got []string
	feed := translatorFeed(t, &got)
	feed(`{"type":"TextMessageReceived","timestamp":"2026-11-21T19:20:18.003+0000","endpoint":{"technology":"PJSIP","resource":"1002"},` +
		`"message":{"from":"<sip:1001@127.0.0.1>","to":"pjsip:recorder@127.0.0.1","body":"x","variables":{"Content-Type":"text/plain"}}}`)
	feed(`{"type":"TextMessageReceived","timestamp":"2026-11-21T19:20:19.003+0000",` +
		`"message":{"from":"<sip:1003@127.0.0.1>;tag=a","to":"pjsip:recorder@127.0.0.1","body":"y"}}`)
	want := []string{"message endpoint=1002 from=<sip:1001@127.0.0.1> type=text/plain x", "message endpoint=1003 from=<sip:1003@127.0.0.1>;tag=a type= y"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
