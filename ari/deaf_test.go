package ari

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// Asterisk's snoop quirk: the transferee of a blind transfer, once bridged
// with the target, is reported deaf (after its ChannelBridged); moving the
// recording then stops the part, waits for its RecordingFinished (handed to
// the engine at once: callrecd asked for it), and appends on the new leg.
func TestAdapterDeafTransfereeAndMove(t *testing.T) {
	f := newFakePBX(t)
	c1, c2, c3 := phone("c1", "1001"), phone("c2", "1002"), phone("c3", "1003")
	f.addChannel(c1)
	f.addChannel(c2)
	f.bridges = []Bridge{{ID: "b1", Channels: []string{"c1", "c2"}}}
	a, h := startAdapter(t, f, nil)
	ctx := context.Background()
	a.StartRecording(ctx, "c1", "rec-1", "wav")
	h.waitFor(t, "rec-started rec-1 on c1", 3*time.Second)

	// c2 blind-transfers c1 to 1003: c1 stays (same channel), dials c3.
	f.send(map[string]any{"type": "ChannelLeftBridge", "channel": c2, "bridge": map[string]any{"id": "b1"}})
	f.send(map[string]any{"type": "BridgeBlindTransfer", "channel": c2, "transferee": c1, "exten": "1003", "result": "Success",
		"bridge": map[string]any{"id": "b1"}})
	f.send(map[string]any{"type": "ChannelLeftBridge", "channel": c1, "bridge": map[string]any{"id": "b1"}})
	f.addChannel(c3)
	f.send(map[string]any{"type": "ChannelCreated", "channel": c3})
	f.send(map[string]any{"type": "ChannelHangupRequest", "channel": c2, "cause": 16})
	f.send(map[string]any{"type": "ChannelEnteredBridge", "channel": c3, "bridge": map[string]any{"id": "b2"}})
	f.send(map[string]any{"type": "ChannelEnteredBridge", "channel": c1, "bridge": map[string]any{"id": "b2"}})
	h.waitFor(t, "deaf c1", 3*time.Second)
	lines := h.lines()
	if iB, iD := slices.Index(lines, "bridged c1 b2"), slices.Index(lines, "deaf c1"); iB < 0 || iD < iB {
		t.Errorf("want bridged c1 before deaf c1:\n%s", strings.Join(lines, "\n"))
	}
	if slices.Contains(lines, "deaf c3") || slices.Contains(lines, "deaf c2") {
		t.Errorf("only the transferee is deaf:\n%s", strings.Join(lines, "\n"))
	}

	// The engine moves the recording: stop, then start on c3 (same name).
	a.StopRecording(ctx, "rec-1")
	a.StartRecording(ctx, "c3", "rec-1", "wav")
	h.waitFor(t, "rec-started rec-1 on c3", 3*time.Second)
	lines = h.lines()
	if iF, iS := slices.Index(lines, "rec-finished rec-1 on c1"), slices.Index(lines, "rec-started rec-1 on c3"); iF < 0 || iF > iS {
		t.Errorf("want the stopped part's end (not held for c1's hangup) before the new part:\n%s", strings.Join(lines, "\n"))
	}
	if f.conflict != 0 {
		t.Errorf("append sent while the first part was live: %d 409s", f.conflict)
	}
	want := []string{
		snoopReq("c1", "rec-1", 1),
		recordReq("rec-1", 1),
		"POST /recordings/live/rec-1/stop",
		"DELETE /channels/callrecd-rec-1-1",
		snoopReq("c3", "rec-1", 2),
		recordReq("rec-1", 2),
	}
	wantCommands(t, f, want...)
}

// An attended transfer whose Local pair optimises away: the transferee is
// deaf once the target's channel is swapped into its bridge, not before
// (a Local channel is no party).
func TestTranslatorDeafAfterLocalOptimisation(t *testing.T) {
	tr := NewTranslator(Mapping{Tenants: []TenantRule{{UUID: "t1", Default: true}}}, nil)
	var out []string
	feed := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["timestamp"] = ts()
		raw := mustJSON(t, fields)
		for _, ev := range tr.Translate(Event{Type: typ, Raw: raw}) {
			out = append(out, compact(ev))
		}
	}
	a, b, c := phone("c1", "1001"), phone("c2", "1002"), phone("c3", "1003")
	l1 := Channel{ID: "l1", Name: "Local/1003@phones-00000001;1", State: "Up"}
	l2 := Channel{ID: "l2", Name: "Local/1003@phones-00000001;2", State: "Up"}
	br := func(id string) map[string]any { return map[string]any{"id": id} }
	for _, ch := range []Channel{a, b, l1, l2, c} {
		feed("ChannelCreated", map[string]any{"channel": ch})
	}
	feed("ChannelEnteredBridge", map[string]any{"channel": b, "bridge": br("b1")})
	feed("ChannelEnteredBridge", map[string]any{"channel": a, "bridge": br("b2")})
	feed("ChannelEnteredBridge", map[string]any{"channel": l1, "bridge": br("b2")})
	feed("ChannelEnteredBridge", map[string]any{"channel": c, "bridge": br("b3")})
	feed("ChannelEnteredBridge", map[string]any{"channel": l2, "bridge": br("b3")})
	feed("ChannelHangupRequest", map[string]any{"channel": a, "cause": 16})
	feed("BridgeMerged", map[string]any{"bridge": br("b1"), "bridge_from": br("b2")})
	feed("ChannelEnteredBridge", map[string]any{"channel": l1, "bridge": br("b1")})
	feed("BridgeAttendedTransfer", map[string]any{"transferer_first_leg": a, "transferer_second_leg": a,
		"transferee": b, "transfer_target": l1, "result": "Success"})
	if slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, "deaf") }) {
		t.Fatalf("deaf before the target's channel joined:\n%s", strings.Join(out, "\n"))
	}
	feed("ChannelLeftBridge", map[string]any{"channel": c, "bridge": br("b3")})
	feed("ChannelEnteredBridge", map[string]any{"channel": c, "bridge": br("b1")})
	if got := out[len(out)-2:]; !slices.Equal(got, []string{"bridged c3 b1", "deaf c2"}) {
		t.Fatalf("tail %v, want bridged c3 b1, deaf c2:\n%s", got, strings.Join(out, "\n"))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
