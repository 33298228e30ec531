package engine

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// fuzzModel is an independent model of what the fuzzer told the engine:
// which channels live, their bridges and the calls (union of shared PBX call
// ids, co-bridging, merges and attended transfers).
type fuzzModel struct {
	h       *harness
	extExt  bool    // the tenant records external-to-external calls
	slots   [7]*fch // 0-2 internal, 3-5 external, 6 local
	gen     int
	parent  map[string]string // union-find over channel ids
	chans   map[string]*fch
	running map[string]string // PBX side: recording name -> channel
	names   []string          // every recording name issued
}

type fch struct {
	id       string
	role     Role
	linked   string
	bridge   string
	live     bool
	vanished bool // gone on the PBX, the engine learns it at the next snapshot
	answered bool
}

func (m *fuzzModel) find(x string) string {
	for m.parent[x] != x {
		m.parent[x] = m.parent[m.parent[x]]
		x = m.parent[x]
	}
	return x
}

func (m *fuzzModel) union(a, b string) { m.parent[m.find(a)] = m.find(b) }

func (m *fuzzModel) live(slot int) *fch {
	if c := m.slots[slot%len(m.slots)]; c != nil && c.live {
		return c
	}
	return nil
}

func (m *fuzzModel) send(ev Event) {
	if fuzzDebug {
		m.h.t.Logf("%T %+v", ev, ev)
	}
	m.h.send(ev)
}

var fuzzDebug = os.Getenv("FUZZ_DEBUG") != ""

func (m *fuzzModel) hangup(c *fch, event bool) {
	c.live, c.bridge = false, ""
	for n, ch := range m.running {
		if ch == c.id { // the snoop dies with the channel
			delete(m.running, n)
		}
	}
	if event {
		m.send(Hangup{Channel: c.id})
	}
}

func (m *fuzzModel) bridge(c *fch, b string) {
	if c.bridge == b {
		return
	}
	c.bridge = b
	for _, o := range m.chans {
		if o.live && o != c && o.bridge == b {
			m.union(c.id, o.id)
		}
	}
	m.send(ChannelBridged{Channel: c.id, Bridge: b})
}

// component returns the live channels of x's call.
func (m *fuzzModel) component(x string) []*fch {
	root := m.find(x)
	var out []*fch
	for _, c := range m.chans {
		if c.live && m.find(c.id) == root {
			out = append(out, c)
		}
	}
	return out
}

// externalOnly is the rule's definition, computed on the model.
func (m *fuzzModel) externalOnly(comp []*fch) (parties int, extOnly bool) {
	size := map[string]int{}
	for _, c := range m.chans {
		if c.live && c.bridge != "" {
			size[c.bridge]++
		}
	}
	talking, inTalk, inAny := 0, false, false
	for _, c := range comp {
		if c.role == RoleLocal {
			continue
		}
		parties++
		inAny = inAny || c.role == RoleInternal
		if c.bridge != "" && size[c.bridge] >= 2 {
			talking++
			inTalk = inTalk || c.role == RoleInternal
		}
	}
	if parties < 2 {
		return parties, false
	}
	if talking > 0 {
		return parties, !inTalk
	}
	return parties, !inAny
}

func (m *fuzzModel) check(t *testing.T, step int) {
	t.Helper()
	e := m.h.e
	// Grouping: each engine call holds exactly the live channels of one
	// model component.
	for id, c := range e.calls {
		if id != c.pbxID {
			continue
		}
		var got, want []string
		for _, ch := range c.channels {
			got = append(got, ch.id)
		}
		if len(got) == 0 {
			continue
		}
		for _, ch := range m.component(got[0]) {
			want = append(want, ch.id)
		}
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d: engine call %v, model call %v", step, got, want)
		}
		active := 0
		for _, r := range c.recs {
			if !r.row.State.Active() {
				continue
			}
			active++
			parties, ext := m.externalOnly(m.component(got[0]))
			if ext && !m.extExt {
				t.Fatalf("step %d: recording %s active on an external-only call %v", step, r.row.UUID, got)
			}
			if parties < 2 {
				t.Fatalf("step %d: recording %s active with %d parties", step, r.row.UUID, parties)
			}
		}
		if active > 1 {
			t.Fatalf("step %d: %d active recordings on one call", step, active)
		}
	}
	// Preparations: only ringing calls hold one, on a live leg of theirs,
	// and the call knows it.
	if p := m.h.prep; p != nil {
		for name, chID := range p.pending {
			ch := e.channels[chID]
			if ch == nil || ch.call.connected || ch.call.ended || ch.call.spare == nil || ch.call.spare.name != name {
				t.Fatalf("step %d: preparation %s on %s held outside a ringing call of that leg (%v)", step, name, chID, ch)
			}
		}
	}
	// PBX side: whatever runs there is an active recording of the engine.
	for n := range m.running {
		r := e.recs[n]
		if r == nil || !r.row.State.Active() {
			t.Fatalf("step %d: recording %s runs on the PBX but the engine has it %v", step, n, r)
		}
	}
}

func FuzzEventSequence(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 3, 1, 3, 1, 0, 2, 0, 2, 3, 6, 0, 6, 1, 4, 0, 4, 3})
	f.Add([]byte{2, 0, 0, 0, 3, 0, 1, 0, 1, 3, 2, 3, 2, 0, 0, 4, 1, 4, 2, 4, 4, 0, 10, 0, 4, 3, 4, 4})
	f.Add([]byte{1, 0, 0, 1, 0, 2, 1, 1, 1, 2, 2, 1, 2, 2, 7, 0, 11, 1, 11, 2, 14, 1, 10, 3, 12, 1, 5, 1})
	f.Add([]byte{0, 0, 1, 0, 4, 1, 1, 1, 1, 4, 2, 1, 2, 4, 6, 1, 6, 3, 13, 40, 6, 1, 6, 3, 8, 0, 9, 1, 3, 1})
	f.Add([]byte{16, 0, 0, 0, 3, 1, 3, 2, 0, 2, 3, 4, 0, 4, 3})
	f.Add([]byte{16, 0, 1, 0, 4, 0, 2, 1, 4, 10, 0, 1, 1, 1, 2, 4, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := data[0]
		h := newHarness(t)
		if cfg&16 != 0 {
			h = newPreparingHarness(t)
		}
		data = data[1:]
		h.policy("acme", func(p *TenantPolicy) {
			if cfg&1 != 0 {
				p.OnlineRecordMode = recording.OnlineRecordStop
			}
			p.Announcements = cfg&2 != 0
			p.AudioRecordingEnabled = cfg&4 == 0
			p.RecordExternalToExternal = cfg&8 != 0
		})
		h.user("1001", all)
		h.user("1002", online)
		h.user("1003", inInt)
		m := &fuzzModel{h: h, extExt: cfg&8 != 0, parent: map[string]string{}, chans: map[string]*fch{}, running: map[string]string{}}
		h.pbx.OnStart = func(ch, name, _ string) error {
			m.running[name] = ch
			m.names = append(m.names, name)
			return nil
		}
		h.pbx.OnStop = func(name string) error { delete(m.running, name); return nil }
		ctx := context.Background()
		linked := [...]string{"", "L1", "L2"}
		bridges := [...]string{"b0", "b1", "b2"}
		digits := "*3489"
		for i := 0; i+1 < len(data) && i < 400; i += 2 {
			op, arg := int(data[i]%16), int(data[i+1])
			slot := arg % 7
			c := m.live(slot)
			switch op {
			case 0: // create
				if c != nil {
					break
				}
				m.gen++
				nc := &fch{id: fmt.Sprintf("c%d.%d", slot, m.gen), linked: linked[(arg/7)%3], live: true}
				var ev ChannelCreated
				switch {
				case slot < 3:
					nc.role = RoleInternal
					ev = in(nc.id, nc.linked, fmt.Sprintf("100%d", slot+1))
				case slot < 6:
					nc.role = RoleExternal
					ev = ext(nc.id, nc.linked, fmt.Sprintf("+4930%d", slot))
				default:
					nc.role = RoleLocal
					ev = local(nc.id, nc.linked)
				}
				m.slots[slot], m.chans[nc.id], m.parent[nc.id] = nc, nc, nc.id
				// Same PBX call id: the call that id belongs to, if it
				// still lives (merged calls keep answering to every id).
				for _, o := range m.chans {
					if o != nc && nc.linked != "" && o.linked == nc.linked && len(m.component(o.id)) > 0 {
						m.union(nc.id, o.id)
					}
				}
				m.send(ev)
			case 1:
				if c != nil {
					c.answered = true
					m.send(ChannelAnswered{Channel: c.id})
				}
			case 2:
				if c != nil {
					m.bridge(c, bridges[(arg/7)%3])
				}
			case 3:
				if c != nil && c.bridge != "" {
					b := c.bridge
					c.bridge = ""
					m.send(ChannelUnbridged{Channel: c.id, Bridge: b})
				}
			case 4:
				if c != nil {
					m.hangup(c, true)
				}
			case 5: // merge bridge x into y
				from, to := bridges[arg%3], bridges[(arg/3)%3]
				if from == to {
					break
				}
				var movers []*fch
				for _, o := range m.chans {
					if o.live && o.bridge == from {
						movers = append(movers, o)
					}
				}
				if len(movers) == 0 {
					break // the engine does not know an empty bridge either
				}
				for _, o := range movers {
					o.bridge = to
					for _, p := range m.chans {
						if p.live && p != o && p.bridge == to {
							m.union(o.id, p.id)
						}
					}
				}
				m.send(BridgeMerged{From: from, To: to})
			case 6:
				if c != nil {
					m.send(DTMF{Channel: c.id, Digit: digits[(arg/7)%len(digits)]})
				}
			case 7, 8, 9: // PBX recording events about a name the engine used
				if len(m.names) == 0 {
					break
				}
				n := m.names[arg%len(m.names)]
				ch := m.running[n]
				if arg&64 != 0 {
					ch = ""
				}
				switch op {
				case 7:
					m.send(RecordingStarted{Name: n, Channel: ch})
				case 8:
					if _, ok := m.running[n]; ok && arg&128 == 0 {
						delete(m.running, n)
						m.send(RecordingFinished{Name: n, Channel: ch})
					}
				case 9:
					if _, ok := m.running[n]; ok {
						delete(m.running, n)
						m.send(RecordingFailed{Name: n, Channel: ch, Reason: "boom"})
					}
				}
			case 10: // snapshot; a vanished channel is gone, some recordings are lost
				var s Snapshot
				for _, o := range m.chans {
					if o.vanished && o.live {
						m.hangup(o, false)
					}
				}
				for _, o := range m.chans {
					if !o.live {
						continue
					}
					cc := ChannelCreated{Channel: o.id, CallID: o.linked, Tenant: "acme", Role: o.role, Answered: o.answered}
					s.Channels = append(s.Channels, SnapshotChannel{ChannelCreated: cc, Bridge: o.bridge})
				}
				k := 0
				for n, ch := range m.running {
					if k++; arg&(1<<(k%8)) != 0 {
						delete(m.running, n) // lost while we were away
						continue
					}
					s.Recordings = append(s.Recordings, LiveRecording{Name: n, Channel: ch})
				}
				sort.Slice(s.Recordings, func(i, j int) bool { return s.Recordings[i].Name < s.Recordings[j].Name })
				m.send(s)
			case 11:
				if c == nil {
					break
				}
				switch (arg / 7) % 4 {
				case 0:
					h.api(h.e.StartRecording)(ctx, "acme", c.id, recording.ByAPI)
				case 1:
					h.api(h.e.StopRecording)(ctx, "acme", c.id, recording.ByAPI)
				case 2:
					h.session(h.e.PauseBySession)(ctx, c.id, recording.BySIPMessage)
				case 3:
					h.api(h.e.ResumeRecording)(ctx, "", c.id, recording.ByAPI)
				}
			case 12:
				d := m.live(arg / 7)
				if c != nil && d != nil {
					m.union(c.id, d.id)
					m.send(Transferred{Kind: TransferAttended, Transferee: c.id, Target: d.id})
				}
			case 13:
				if c != nil && arg%2 == 1 { // the PBX says c's recording no longer hears the call
					m.send(LegDeaf{Channel: c.id})
				} else {
					h.wait(time.Duration(arg) * 100 * time.Millisecond)
				}
			case 14:
				if c != nil {
					c.vanished = true
				}
			case 15:
				if c != nil {
					m.send(FeatureCall{Channel: c.id, Feature: recording.FeatureCallRecord})
				}
			}
			m.check(t, i/2)
		}
		// Everybody hangs up: every recording must end with its call.
		for _, o := range m.chans {
			if o.live {
				m.hangup(o, true)
			}
		}
		m.check(t, -1)
		// A recording the PBX never confirmed waits one tombstone period
		// for its late failure; after that nothing may be left.
		h.wait(2 * time.Minute)
		h.send(Hangup{Channel: "nobody"})
		e := h.e
		if len(e.channels)+len(e.calls)+len(e.bridges)+len(e.recs) != 0 {
			t.Fatalf("leftovers: %d channels %d calls %d bridges %d recs", len(e.channels), len(e.calls), len(e.bridges), len(e.recs))
		}
		if len(m.running) != 0 {
			t.Fatalf("still running on the PBX: %v", m.running)
		}
		if h.prep != nil && len(h.prep.pending) != 0 {
			t.Fatalf("preparations left on the PBX: %v", h.prep.pending)
		}
		for _, r := range h.recs() {
			if r.State.Active() || r.End.IsZero() || r.End.Before(r.Start) {
				t.Fatalf("recording not finalized: %+v", r)
			}
			for _, p := range r.Paused {
				if p.End.IsZero() || p.End.Before(p.Start) {
					t.Fatalf("open or negative pause %+v in %+v", p, r)
				}
			}
		}
		for _, c := range h.store.callRows() {
			if c.End.IsZero() {
				t.Fatalf("call row not closed: %+v", c)
			}
		}
	})
}
