package engine

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// trail lists the PBX's prepare/release/start commands as op:channel:name
// (release has no channel).
func trail(h *harness) []string {
	var out []string
	for _, c := range h.pbx.ops("") {
		switch c.Op {
		case "prepare", "start":
			out = append(out, c.Op+":"+c.Channel+":"+c.Name)
		case "release":
			out = append(out, "release:"+c.Name)
		}
	}
	return out
}

// id is the harness's n-th new uuid.
func id(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func TestPrepareForAnswer(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness)
		run   func(h *harness)
		want  []string
		check func(t *testing.T, h *harness)
	}{
		{
			name:  "internal call: prepared on the caller while it rings, the answer starts it",
			setup: func(h *harness) { h.user("1001", outInt); h.user("1002", nil) },
			run:   internalCall,
			want:  []string{"prepare:A:" + id(1), "start:A:" + id(1)},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.UUID != id(1) || r.State != recording.StateRecording {
					t.Fatalf("row %+v", r)
				}
			},
		},
		{
			name:  "inbound: prepared on the trunk leg",
			setup: func(h *harness) { h.user("1001", inExt) },
			run:   inboundCall,
			want:  []string{"prepare:T:" + id(1), "start:T:" + id(1)},
		},
		{
			name:  "outbound: prepared on the callee trunk leg, where the answer records",
			setup: func(h *harness) { h.user("1001", outExt) },
			run: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "+4930123"), ext("X", "L1", "+4930123"))
				h.connect("A", "X", "br1")
			},
			want: []string{"prepare:X:" + id(1), "start:X:" + id(1)},
		},
		{
			name:  "nobody asks for recording: nothing prepared",
			setup: func(h *harness) { h.user("1001", nil); h.user("1002", nil) },
			run:   internalCall,
			want:  nil,
		},
		{
			name: "tenant recording disabled: nothing prepared",
			setup: func(h *harness) {
				h.user("1001", all)
				h.policy("acme", func(p *TenantPolicy) { p.AudioRecordingEnabled = false })
			},
			run:  internalCall,
			want: nil,
		},
		{
			name: "external to external forward: nothing prepared",
			run: func(h *harness) {
				h.send(ext("T", "L1", "+4915112345678"), ext("X", "L1", "+4930123"))
				h.connect("T", "X", "br1")
			},
			want: nil,
		},
		{
			name:  "caller gives up while it rings: released, never started",
			setup: func(h *harness) { h.user("1001", outInt) },
			run: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "1002"), in("B", "L1", "1002"))
				h.wait(5 * time.Second)
				h.send(Hangup{Channel: "A"}, Hangup{Channel: "B"})
			},
			want:  []string{"prepare:A:" + id(1), "release:" + id(1)},
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name: "the ringing callee who wanted it stops ringing, another answers: released",
			setup: func(h *harness) {
				h.user("1001", nil)
				h.user("1002", inInt)
				h.user("1003", nil)
			},
			run: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "700"), in("B", "L1", "1002"), in("C", "L1", "1003"))
				h.send(Hangup{Channel: "B"})
				h.connect("A", "C", "br1")
			},
			want:  []string{"prepare:A:" + id(1), "release:" + id(1)},
			check: func(t *testing.T, h *harness) { h.noRecordings() },
		},
		{
			name: "the start is vetoed (disk full): the preparation is released, the row failed",
			setup: func(h *harness) {
				h.user("1001", outInt)
				h.mayStart = func() error { return errors.New("storage below its floor") }
				h.e = h.newEngine()
			},
			run:  internalCall,
			want: []string{"prepare:A:" + id(1), "release:" + id(1)},
			check: func(t *testing.T, h *harness) {
				if r := h.one(); r.State != recording.StateFailed {
					t.Fatalf("row %+v", r)
				}
			},
		},
		{
			name:  "the PBX could not prepare: the answer starts the ordinary way, under the same name",
			setup: func(h *harness) { h.user("1001", outInt); h.prep.fail = true },
			run:   internalCall,
			want:  []string{"prepare:A:" + id(1), "start:A:" + id(1)},
		},
		{
			name:  "the prepared leg is replaced before the answer (a forward): prepared again on the new leg",
			setup: func(h *harness) { h.user("1001", outExt) },
			run: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "+4930123"), ext("X", "L1", "+4930123"))
				// the trunk leg is replaced (a forward) before the answer
				h.send(Hangup{Channel: "X"}, ext("Y", "L1", "+4930999"))
				h.connect("A", "Y", "br1")
			},
			want: []string{"prepare:X:" + id(1), "release:" + id(1), "prepare:Y:" + id(2), "start:Y:" + id(2)},
		},
		{
			name:  "a snapshot releases what was prepared and prepares again what still rings",
			setup: func(h *harness) { h.user("1001", outInt) },
			run: func(h *harness) {
				h.send(dialTo(in("A", "L1", "1001"), "1002"), in("B", "L1", "1002"))
				h.send(Snapshot{Channels: []SnapshotChannel{
					{ChannelCreated: dialTo(in("A", "L1", "1001"), "1002")},
					{ChannelCreated: in("B", "L1", "1002")},
				}})
				h.connect("A", "B", "br1")
			},
			want: []string{"prepare:A:" + id(1), "release:" + id(1), "prepare:A:" + id(2), "start:A:" + id(2)},
		},
	}
	var sc []scenario
	for _, tc := range cases {
		sc = append(sc, scenario{name: tc.name, setup: tc.setup, run: tc.run, check: func(t *testing.T, h *harness) {
			if got := trail(h); !slices.Equal(got, tc.want) {
				t.Fatalf("PBX commands\n got %q\nwant %q", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, h)
			}
			for _, ch := range []string{"A", "B", "C", "T", "X", "Y"} {
				h.send(Hangup{Channel: ch})
			}
			if len(h.prep.pending) != 0 {
				t.Fatalf("preparations left after every hangup: %v", h.prep.pending)
			}
		}})
	}
	runScenariosWith(t, newPreparingHarness, sc)
}

// The scenarios of the other tests give the same recordings with a PBX that
// prepares: preparing changes when the PBX works, never what is recorded.
func TestPreparingChangesNothingRecorded(t *testing.T) {
	for _, run := range []func(*harness){internalCall, inboundCall} {
		plain, prep := newHarness(t), newPreparingHarness(t)
		for _, h := range []*harness{plain, prep} {
			h.user("1001", all)
			h.user("1002", all)
			run(h)
			h.send(Hangup{Channel: "A"}, Hangup{Channel: "B"}, Hangup{Channel: "T"})
		}
		a, b := plain.recs(), prep.recs()
		if len(a) != 1 || len(b) != 1 || a[0].State != b[0].State || a[0].StopReason != b[0].StopReason ||
			!a[0].Start.Equal(b[0].Start) || !a[0].End.Equal(b[0].End) {
			t.Fatalf("plain %+v\nprep  %+v", a, b)
		}
	}
}
