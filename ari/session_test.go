package ari

import (
	"slices"
	"strings"
	"testing"
)

// The event loop's step on a recording's end while its leg looks alive:
// held for the leg's hangup when the PBX ended the part on its own (the leg
// is being transferred away), handed on at once when callrecd had asked for
// the stop. The recorder hears of the end either way, and snoops waited for
// are woken by the StasisStart's note.
func TestSessionStepRecordingEnd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		asked bool
		want  []string // the engine's events from the end on, the leg's hangup included
	}{
		{"the PBX's own end waits for the leg's hangup", false, []string{"hangup c1 16", "rec-finished rec-1 on c1"}},
		{"an end callrecd asked for goes at once", true, []string{"rec-finished rec-1 on c1", "hangup c1 16"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAdapter(Config{URL: "http://127.0.0.1:1/ari", App: "callrecd",
				Mapping: Mapping{Tenants: []TenantRule{{UUID: "t1", Default: true}}}}, nil)
			s := a.sess
			var got []string
			feed := func(typ string, fields map[string]any) {
				fields["type"] = typ
				fields["timestamp"] = ts()
				for _, ev := range s.step(Event{Type: typ, Raw: mustJSON(t, fields)}) {
					got = append(got, compact(ev))
				}
			}
			c1 := phone("c1", "1001")
			snoop := Channel{ID: "callrecd-rec-1-1", Name: "Snoop/c1-00000001", State: "Up"}
			lr := map[string]any{"name": "rec-1", "format": "wav", "state": "recording", "target_uri": "channel:" + snoop.ID}

			feed("ChannelCreated", map[string]any{"channel": c1})
			ready := a.pbx.snoops.expect(snoop.ID)
			feed("ChannelCreated", map[string]any{"channel": snoop})
			feed("StasisStart", map[string]any{"channel": snoop, "args": []string{"callrecd-snoop"}})
			select {
			case <-ready:
			default:
				t.Fatal("the snoop's StasisStart did not wake its waiter")
			}
			a.rec.mu.Lock()
			a.rec.recLocked("rec-1").part.begin(snoop.ID)
			a.rec.mu.Unlock()
			feed("RecordingStarted", map[string]any{"recording": lr})
			a.rec.mu.Lock()
			if st := a.rec.recs["rec-1"].part.state; st != partRecording {
				t.Errorf("after RecordingStarted the part is %s", st)
			}
			if tc.asked {
				a.rec.recs["rec-1"].part.stop()
			}
			a.rec.mu.Unlock()

			from := len(got)
			lr["state"] = "done"
			feed("RecordingFinished", map[string]any{"recording": lr})
			if !a.Idle("rec-1") {
				t.Error("the recorder did not hear of the part's end")
			}
			feed("ChannelDestroyed", map[string]any{"channel": c1, "cause": 16})
			if end := got[from:]; !slices.Equal(end, tc.want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(end, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(s.tr.held) != 0 {
				t.Errorf("translator still holds %v", s.tr.held)
			}
		})
	}
}
