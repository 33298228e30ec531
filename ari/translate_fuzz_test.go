package ari

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// Fuzz targets for the ARI event path: a websocket message goes through
// parseEvent and the watchdog's probe filter (Stream.session), the
// stream's OnReceive hook (the reader goroutine), then the event loop's
// step (the translator, its notes to the recorder and prompts), exactly as
// a real frame does on an adapter built by NewAdapter (see fuzzStep).
//
// What is checked is only what translate.go promises (see Translator):
//   - nothing panics;
//   - parseEvent accepts only messages with a type and keeps them verbatim;
//   - every event naming a channel (created, answered, (un)bridged, DTMF,
//     feature, deaf, hangup) names a non-empty channel id the input carried,
//     never one the input only ever showed as a Snoop/ or helper channel
//     ("Snoop channels are never shown to the engine");
//   - ChannelCreated carries a call id (the translator always fills one in)
//     and a known role (internal, external or local);
//   - the engine hears of a channel (ChannelCreated) before anything else
//     about it, only once, and nothing after its Hangup ("flush makes sure
//     the engine knows the channel"); Transferred may name a party that
//     already hung up but only one the engine heard of. Ids the input
//     re-uses after their ChannelDestroyed are exempt (Asterisk never
//     reuses a uniqueid);
//   - a Transferred is blind or attended; a RecordingFailed has a reason;
//   - when every message the translator read carried a parsable timestamp,
//     every engine event has one (held events keep their own).

// fuzzMapping is the lab PBX's mapping (as the trace tests use).
func fuzzMapping() Mapping {
	return Mapping{
		Tenants:        []TenantRule{{UUID: "acme", EndpointPrefixes: []string{"100"}}, {UUID: "default", Default: true}},
		TrunkEndpoints: []string{"carrier"},
		GroupVar:       "REC_GROUP",
		QueueVar:       "REC_QUEUE",
	}
}

// fuzzTrace is one real trace: the websocket messages of the app
// "recorder", verbatim but for the recorder's "t"/"dir" fields (events), and
// the same with the events the translator reads only the type and time of
// cut down to those (light; a third of the bytes to decode, for speed).
type fuzzTrace struct {
	name   string
	events [][]byte
	light  [][]byte
	types  []string
}

// fuzzLightTypes are event types whose type, timestamp and application are
// all the translator reads (ignored ones; ChannelDialplan unless it enters
// Queue()). FuzzTranslateInTrace checks that the light trace translates
// exactly as the real one and uses the real one otherwise.
var fuzzLightTypes = map[string]bool{
	"ChannelVarset": true, "DeviceStateChanged": true, "ChannelConnectedLine": true, "ChannelCallerId": true,
	"BridgeCreated": true, "BridgeDestroyed": true, "ChannelHold": true, "ChannelUnhold": true, "StasisEnd": true,
	"ChannelDialplan": true,
}

var (
	fuzzTracesOnce sync.Once
	fuzzTracesList []fuzzTrace
	fuzzTracesErr  error
)

// fuzzTraces reads every ../testdata/traces/asterisk/*.jsonl once.
func fuzzTraces(tb testing.TB) []fuzzTrace {
	tb.Helper()
	fuzzTracesOnce.Do(func() {
		files, err := filepath.Glob("../testdata/traces/asterisk/*.jsonl")
		if err != nil || len(files) == 0 {
			fuzzTracesErr = fmt.Errorf("no traces: %v", err)
			return
		}
		sort.Strings(files)
		for _, file := range files {
			tr, err := readFuzzTrace(file)
			if err != nil {
				fuzzTracesErr = err
				return
			}
			fuzzTracesList = append(fuzzTracesList, tr)
		}
	})
	if fuzzTracesErr != nil {
		tb.Fatal(fuzzTracesErr)
	}
	return fuzzTracesList
}

func readFuzzTrace(file string) (fuzzTrace, error) {
	tr := fuzzTrace{name: strings.TrimSuffix(filepath.Base(file), ".jsonl")}
	f, err := os.Open(file)
	if err != nil {
		return tr, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return tr, fmt.Errorf("%s: %v", file, err)
		}
		if string(m["dir"]) != `"event"` {
			continue
		}
		var app, typ, dpApp string
		_ = json.Unmarshal(m["application"], &app)
		if app != "" && app != "recorder" {
			continue // trace b also logged a second app
		}
		_ = json.Unmarshal(m["type"], &typ)
		_ = json.Unmarshal(m["dialplan_app"], &dpApp)
		delete(m, "t")
		delete(m, "dir")
		b, err := json.Marshal(m)
		if err != nil {
			return tr, err
		}
		light := b
		if fuzzLightTypes[typ] && !(typ == "ChannelDialplan" && dpApp == "Queue") {
			lm := map[string]json.RawMessage{"type": m["type"], "timestamp": m["timestamp"], "application": m["application"]}
			if light, err = json.Marshal(lm); err != nil {
				return tr, err
			}
		}
		tr.events = append(tr.events, b)
		tr.light = append(tr.light, light)
		tr.types = append(tr.types, typ)
	}
	return tr, sc.Err()
}

// fuzzTranslation is a trace's translation on a plain Translator, sorted
// (the order of simultaneous releases follows map order).
func fuzzTranslation(tb testing.TB, events [][]byte) []string {
	tr := NewTranslator(fuzzMapping(), nil)
	var out []string
	for _, raw := range events {
		ev, err := parseEvent(raw)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range tr.Translate(ev) {
			out = append(out, fmt.Sprintf("%#v", e))
		}
	}
	for _, e := range tr.FlushWaiting() {
		out = append(out, fmt.Sprintf("%#v", e))
	}
	sort.Strings(out)
	return out
}

// fuzzMsg is one websocket message and what the adapter makes of it.
type fuzzMsg struct {
	ev        Event
	delivered bool     // reaches Translate (decodes, not a probe, not ApplicationReplaced)
	raw       rawEvent // decodeRaw's view
	rawOK     bool
	typ       string // the type Translate switches on
}

// decodeFuzzMsg runs the receive side of Stream.session on data.
func decodeFuzzMsg(t testing.TB, st *Stream, data []byte) fuzzMsg {
	var m fuzzMsg
	ev, err := parseEvent(data)
	if err != nil {
		return m
	}
	if ev.Type == "" {
		t.Fatalf("parseEvent accepted a message without a type: %q", data)
	}
	if !bytes.Equal(ev.Raw, data) {
		t.Fatalf("parseEvent did not keep the message verbatim: %q -> %q", data, ev.Raw)
	}
	m.ev = ev
	if ev.Type == "ChannelUserevent" && st.probe(data) {
		return m // the watchdog's round trip
	}
	if ev.Type == "ApplicationReplaced" {
		return m // the session ends there
	}
	m.delivered = true
	m.raw, err = decodeRaw(ev.Raw)
	m.rawOK = err == nil
	m.typ = m.raw.Type
	if m.typ == "" {
		m.typ = ev.Type
	}
	return m
}

// fuzzChannelsOf lists every channel snapshot of an event the translator
// may learn a channel from.
func fuzzChannelsOf(r *rawEvent) []*Channel {
	return []*Channel{r.Channel, r.Caller, r.Peer, r.Transferee, r.TransfererFirstLeg, r.TransfererSecondLeg, r.TransferTarget}
}

// fuzzFacts is what the whole input says about channel ids, read before
// the translator runs.
type fuzzFacts struct {
	seen   map[string]bool // id carried by some channel snapshot
	party  map[string]bool // id shown at least once as a party or Local channel
	reused map[string]bool // id shown again after its ChannelDestroyed
	dead   map[string]bool // (scan state) ChannelDestroyed seen
}

func newFuzzFacts() *fuzzFacts {
	return &fuzzFacts{seen: map[string]bool{}, party: map[string]bool{}, reused: map[string]bool{}, dead: map[string]bool{}}
}

func (f *fuzzFacts) add(m *fuzzMsg) {
	if !m.delivered || !m.rawOK {
		return
	}
	for _, ch := range fuzzChannelsOf(&m.raw) {
		if ch == nil || ch.ID == "" {
			continue
		}
		if f.dead[ch.ID] {
			f.reused[ch.ID] = true
		}
		f.seen[ch.ID] = true
		if k := kindOf(ch.Name); k == kindParty || k == kindLocal {
			f.party[ch.ID] = true
		}
	}
	if m.typ == "ChannelDestroyed" && m.raw.Channel != nil {
		f.dead[m.raw.Channel.ID] = true
	}
}

// fuzzChecker follows the engine events and checks the promises above.
type fuzzChecker struct {
	t         *testing.T
	facts     *fuzzFacts
	alive     map[string]bool // ChannelCreated emitted, Hangup not yet
	known     map[string]bool // ChannelCreated emitted at some point
	unstamped bool            // some message read had no parsable timestamp
	n         int
}

func (c *fuzzChecker) channel(what, id string, e engine.Event) {
	c.t.Helper()
	if id == "" {
		c.t.Fatalf("event %d: %s without a channel: %#v", c.n, what, e)
	}
	if !c.facts.seen[id] {
		c.t.Fatalf("event %d: %s names channel %q that no message carried: %#v", c.n, what, id, e)
	}
	if !c.facts.party[id] {
		c.t.Fatalf("event %d: %s names channel %q that the input only showed as a snoop or helper: %#v", c.n, what, id, e)
	}
}

func (c *fuzzChecker) check(evs []engine.Event) {
	c.t.Helper()
	for _, e := range evs {
		c.n++
		if !c.unstamped && e.When().IsZero() {
			c.t.Fatalf("event %d: no timestamp though every message had one: %#v", c.n, e)
		}
		mustLive := func(what, id string) {
			c.t.Helper()
			c.channel(what, id, e)
			if !c.facts.reused[id] && !c.alive[id] {
				c.t.Fatalf("event %d: %s for channel %q the engine does not know as live (created=%v): %#v", c.n, what, id, c.known[id], e)
			}
		}
		switch e := e.(type) {
		case engine.ChannelCreated:
			c.channel("ChannelCreated", e.Channel, e)
			if e.CallID == "" {
				c.t.Fatalf("event %d: ChannelCreated without a call id: %#v", c.n, e)
			}
			if e.Role != engine.RoleInternal && e.Role != engine.RoleExternal && e.Role != engine.RoleLocal {
				c.t.Fatalf("event %d: ChannelCreated with role %v: %#v", c.n, e.Role, e)
			}
			if !c.facts.reused[e.Channel] && c.alive[e.Channel] {
				c.t.Fatalf("event %d: second ChannelCreated for live channel %q: %#v", c.n, e.Channel, e)
			}
			c.alive[e.Channel], c.known[e.Channel] = true, true
		case engine.ChannelAnswered:
			mustLive("ChannelAnswered", e.Channel)
		case engine.ChannelBridged:
			mustLive("ChannelBridged", e.Channel)
		case engine.ChannelUnbridged:
			mustLive("ChannelUnbridged", e.Channel)
		case engine.DTMF:
			mustLive("DTMF", e.Channel)
		case engine.FeatureCall:
			mustLive("FeatureCall", e.Channel)
		case engine.LegDeaf:
			mustLive("LegDeaf", e.Channel)
		case engine.Hangup:
			mustLive("Hangup", e.Channel)
			c.alive[e.Channel] = false
		case engine.Transferred:
			if e.Kind != engine.TransferBlind && e.Kind != engine.TransferAttended {
				c.t.Fatalf("event %d: transfer kind %q: %#v", c.n, e.Kind, e)
			}
			for _, id := range []string{e.Transferer, e.Transferee, e.Target} {
				if id == "" {
					continue
				}
				c.channel("Transferred", id, e)
				if !c.known[id] {
					c.t.Fatalf("event %d: Transferred names %q the engine never heard of: %#v", c.n, id, e)
				}
			}
		case engine.RecordingFailed:
			if e.Reason == "" {
				c.t.Fatalf("event %d: RecordingFailed without a reason: %#v", c.n, e)
			}
		case engine.RecordingStarted, engine.RecordingFinished, engine.TextMessage, engine.BridgeMerged:
		case engine.Snapshot:
			c.t.Fatalf("event %d: Translate produced a Snapshot", c.n)
		default:
			c.t.Fatalf("event %d: unexpected engine event %T", c.n, e)
		}
	}
}

// fuzzStep is what the adapter does with one decoded websocket message: the
// reader's OnReceive hook, then the event loop's step. (The only place
// that knows the adapter's insides.)
func fuzzStep(a *Adapter, ev Event) []engine.Event {
	if on := a.Stream().OnReceive; on != nil {
		on(ev)
	}
	return a.sess.step(ev)
}

// fuzzRun feeds prefix, then data decoded now, then suffix through a fresh
// adapter's receive path and translator and checks every engine event.
// prefix and suffix are decoded already (real trace events, decoded once).
func fuzzRun(t *testing.T, prefix []fuzzMsg, data [][]byte, suffix []fuzzMsg) {
	a := NewAdapter(Config{URL: "http://127.0.0.1:1/ari", App: "recorder", Mapping: fuzzMapping()}, nil)
	st, tr := a.Stream(), a.Translator()
	msgs := make([]fuzzMsg, 0, len(prefix)+len(data)+len(suffix))
	msgs = append(msgs, prefix...)
	for _, d := range data {
		msgs = append(msgs, decodeFuzzMsg(t, st, d))
	}
	msgs = append(msgs, suffix...)
	facts := newFuzzFacts()
	for i := range msgs {
		facts.add(&msgs[i])
	}
	c := &fuzzChecker{t: t, facts: facts, alive: map[string]bool{}, known: map[string]bool{}}
	for i := range msgs {
		m := &msgs[i]
		if !m.delivered {
			continue
		}
		if m.rawOK && ariTime(m.raw.Timestamp).IsZero() {
			c.unstamped = true
		}
		c.check(fuzzStep(a, m.ev))
	}
	c.check(tr.FlushWaiting())
	if tr.Waiting() {
		t.Fatal("FlushWaiting left an event waiting")
	}
}

// splitFuzzMsgs cuts the fuzz input into websocket messages, one a line.
func splitFuzzMsgs(data []byte, maxMsgs int) [][]byte {
	var msgs [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if len(msgs) == maxMsgs {
			break
		}
		msgs = append(msgs, line)
	}
	return msgs
}

// FuzzTranslateEvents: arbitrary websocket messages (one a line) on a fresh
// adapter. Seeds: windows of consecutive events of every real trace.
func FuzzTranslateEvents(f *testing.F) {
	const window = 16
	for _, tr := range fuzzTraces(f) {
		for i := 0; i < len(tr.events); i += window {
			end := min(i+window, len(tr.events))
			f.Add(bytes.Join(tr.light[i:end], []byte("\n")))
		}
	}
	f.Add([]byte(`{"type":"ChannelDtmfReceived","channel":{"id":"x","name":"PJSIP/1001-00000001"},"digit":"\u00e9"}`))
	f.Add([]byte(`{"type":"ChannelUserevent","eventname":"callrecd-watchdog-7","application":"recorder"}`))
	f.Add([]byte(`{"type":"StasisStart","channel":{"id":"callrecd-0b9b8a3e-5a0c-4b8e-9f2e-0c1d2e3f4a5b-1","name":"Snoop/pbx-1.4-00000001"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRun(t, nil, splitFuzzMsgs(data, 64), nil)
	})
}

// FuzzTranslateInTrace: a real trace with one of its events replaced by
// the fuzzer's messages (one a line), so mutated events meet the state a
// real call builds up (held hangups, transfers, snoops, Local pairs).
// Seeds: the unchanged traces, replacing an event by itself.
func FuzzTranslateInTrace(f *testing.F) {
	traces := fuzzTraces(f)
	for si, tr := range traces {
		firstOfType := map[string]bool{}
		for i, ev := range tr.events {
			typ := tr.types[i]
			if typ == "ChannelVarset" || typ == "DeviceStateChanged" {
				continue
			}
			if !firstOfType[typ] || i%9 == 0 {
				firstOfType[typ] = true
				f.Add(uint8(si), uint16(i), ev) // the real event, not the light one
			}
		}
	}
	// The trace events decoded once (decoding is pure; the probe filter
	// only remembers the last probe it saw); light where that changes
	// nothing.
	decoded := make([][]fuzzMsg, len(traces))
	st := NewStream(StreamConfig{}, nil)
	for si, tr := range traces {
		events := tr.light
		if !slices.Equal(fuzzTranslation(f, tr.light), fuzzTranslation(f, tr.events)) {
			f.Logf("%s: the light trace translates differently (fuzzLightTypes is out of date); using the real one", tr.name)
			events = tr.events
		}
		for _, ev := range events {
			decoded[si] = append(decoded[si], decodeFuzzMsg(f, st, ev))
		}
	}
	f.Fuzz(func(t *testing.T, scenario uint8, at uint16, data []byte) {
		si := int(scenario) % len(traces)
		evs := decoded[si]
		pos := int(at) % (len(evs) + 1)
		var suffix []fuzzMsg
		if pos < len(evs) {
			suffix = evs[pos+1:]
		}
		fuzzRun(t, evs[:pos], splitFuzzMsgs(data, 8), suffix)
	})
}

// fuzzCall builds ARI events shaped like the real traces' (same fields,
// same naming) from the fuzzer's bytes: three bytes an event (what, and two
// operands), so that calls, answers, bridges, Local pairs, snoops and their
// recordings, transfers and hangups meet in orders and at spacings the lab
// never produced. Channel ids are never reused.
type fuzzCall struct {
	at    time.Time
	seq   int
	slots [8]*fuzzSlot
}

type fuzzSlot struct {
	id, name string
}

// newSlot gives slot i a new channel, named after the slot's kind: phones
// (0, 1, 3), the trunk (2), a Local pair (4, 5), a snoop on spied (6; every
// other one with a callrecd-<uuid>-<part> id) and a helper (7).
func (g *fuzzCall) newSlot(i int, spied string) *fuzzSlot {
	g.seq++
	id := fmt.Sprintf("pbx-1795288322.%d", g.seq)
	var name string
	switch i {
	case 0, 1, 3:
		name = fmt.Sprintf("PJSIP/100%d-%08x", i+1, g.seq)
	case 2:
		name = fmt.Sprintf("PJSIP/carrier-%08x", g.seq)
	case 4, 5:
		base := fmt.Sprintf("Local/600@queues-%08x", g.seq/2)
		if o := g.slots[9-i]; o != nil && strings.HasPrefix(o.name, "Local/") {
			base = localBase(o.name)
		}
		name = fmt.Sprintf("%s;%d", base, i-3)
	case 6:
		if spied == "" {
			spied = "pbx-1795288322.0"
		}
		name = fmt.Sprintf("Snoop/%s-%08x", spied, g.seq)
		if g.seq%2 == 0 {
			id = fmt.Sprintf("%s%08x-0823-4d2b-a18c-b9082e551b50-%d", SnoopPrefix, g.seq, g.seq%3)
		}
	default:
		name = fmt.Sprintf("Message/ast_msg_queue-%08x", g.seq)
	}
	s := &fuzzSlot{id: id, name: name}
	g.slots[i] = s
	return s
}

func (g *fuzzCall) slot(b byte) *fuzzSlot {
	i := int(b) % len(g.slots)
	if g.slots[i] == nil {
		spied := ""
		if o := g.slots[int(b/8)%4]; o != nil {
			spied = o.id
		}
		g.newSlot(i, spied)
	}
	return g.slots[i]
}

func (g *fuzzCall) channelJSON(s *fuzzSlot, state string) string {
	num := "1001"
	if i := strings.IndexByte(s.name, '/'); i >= 0 {
		num = strings.SplitN(s.name[i+1:], "-", 2)[0]
	}
	return fmt.Sprintf(`{"id":%q,"name":%q,"state":%q,"caller":{"name":"","number":%q},"connected":{"name":"","number":""},`+
		`"accountcode":"","dialplan":{"context":"phones","exten":"1002","priority":1,"app_name":"Dial","app_data":"PJSIP/1002"},`+
		`"creationtime":"2026-11-21T19:12:02.581+0000","language":"en","channelvars":{"REC_GROUP":"","REC_QUEUE":"support"}}`,
		s.id, s.name, state, num)
}

var fuzzSteps = [...]time.Duration{0, time.Millisecond, 3 * time.Millisecond, 15 * time.Millisecond, 40 * time.Millisecond,
	400 * time.Millisecond, 2 * time.Second, 4 * time.Second}

func (g *fuzzCall) event(op, a, b byte) string {
	g.at = g.at.Add(fuzzSteps[(op>>5)&7])
	head := fmt.Sprintf(`"timestamp":%q,"application":"recorder","asterisk_id":"52:54:00:12:34:56"`, g.at.Format("2006-01-02T15:04:05.000-0700"))
	states := [...]string{"Down", "Ring", "Up", "Ringing"}
	bridge := func(x byte) string { return fmt.Sprintf("6a3cbcda-4b6e-4c2f-9b1a-%012d", int(x)%3) }
	result := "Success"
	if b&0x80 != 0 {
		result = "Fail"
	}
	switch op & 31 {
	case 0, 16:
		i := int(a) % len(g.slots)
		spied := ""
		if o := g.slots[int(b)%4]; o != nil {
			spied = o.id
		}
		s := g.newSlot(i, spied)
		return fmt.Sprintf(`{"type":"ChannelCreated",%s,"channel":%s}`, head, g.channelJSON(s, states[int(b)%4]))
	case 1:
		return fmt.Sprintf(`{"type":"ChannelStateChange",%s,"channel":%s}`, head, g.channelJSON(g.slot(a), states[2+int(b)%2]))
	case 2, 17:
		return fmt.Sprintf(`{"type":"Dial",%s,"caller":%s,"peer":%s,"dialstring":"PJSIP/1002","dialstatus":""}`,
			head, g.channelJSON(g.slot(a), "Up"), g.channelJSON(g.slot(b), "Down"))
	case 3, 18:
		return fmt.Sprintf(`{"type":"ChannelEnteredBridge",%s,"bridge":{"id":%q,"technology":"simple_bridge","bridge_type":"mixing","channels":[]},"channel":%s}`,
			head, bridge(b), g.channelJSON(g.slot(a), "Up"))
	case 4, 19:
		return fmt.Sprintf(`{"type":"ChannelLeftBridge",%s,"bridge":{"id":%q,"channels":[]},"channel":%s}`,
			head, bridge(b), g.channelJSON(g.slot(a), "Up"))
	case 5, 20:
		return fmt.Sprintf(`{"type":"ChannelHangupRequest",%s,"cause":16,"soft":true,"channel":%s}`, head, g.channelJSON(g.slot(a), "Up"))
	case 6, 21:
		s := g.slot(a)
		g.slots[int(a)%len(g.slots)] = nil // the id is never used again
		return fmt.Sprintf(`{"type":"ChannelDestroyed",%s,"cause":16,"cause_txt":"Normal Clearing","channel":%s}`, head, g.channelJSON(s, "Up"))
	case 7, 22:
		return fmt.Sprintf(`{"type":"BridgeBlindTransfer",%s,"channel":%s,"transferee":%s,"bridge":{"id":%q,"channels":[]},"exten":"9005551234","context":"phones","result":%q,"is_external":false}`,
			head, g.channelJSON(g.slot(a), "Up"), g.channelJSON(g.slot(b), "Up"), bridge(b), result)
	case 8:
		return fmt.Sprintf(`{"type":"BridgeAttendedTransfer",%s,"transferer_first_leg":%s,"transferer_second_leg":%s,"transferee":%s,"transfer_target":%s,"result":%q,"is_external":false,"destination_type":"bridge"}`,
			head, g.channelJSON(g.slot(a), "Up"), g.channelJSON(g.slot(a+1), "Up"), g.channelJSON(g.slot(b), "Up"), g.channelJSON(g.slot(b+1), "Up"), result)
	case 9:
		return fmt.Sprintf(`{"type":"BridgeMerged",%s,"bridge":{"id":%q,"channels":[]},"bridge_from":{"id":%q,"channels":[]}}`, head, bridge(a), bridge(b))
	case 10, 23:
		return fmt.Sprintf(`{"type":"ChannelDtmfReceived",%s,"digit":%q,"duration_ms":120,"channel":%s}`, head, string("0123456789*#ABCD"[b%16]), g.channelJSON(g.slot(a), "Up"))
	case 11, 24:
		args := `["feature","callrecord"]`
		if b&1 != 0 {
			args = `[]`
		}
		return fmt.Sprintf(`{"type":"StasisStart",%s,"args":%s,"channel":%s}`, head, args, g.channelJSON(g.slot(a), "Up"))
	case 12, 13, 14, 25, 26, 27:
		typ := [...]string{"RecordingStarted", "RecordingFinished", "RecordingFailed"}[(op&31)%13%3]
		if op&31 >= 25 {
			typ = [...]string{"RecordingStarted", "RecordingFinished", "RecordingFailed"}[(op&31)-25]
		}
		name := fmt.Sprintf("%08x-0823-4d2b-a18c-b9082e551b50", int(b)%3)
		s := g.slot(a)
		if strings.HasPrefix(s.id, SnoopPrefix) {
			if n, _, ok := parseSnoopID(s.id); ok {
				name = n
			}
		}
		return fmt.Sprintf(`{"type":%q,%s,"recording":{"name":%q,"format":"wav","state":"recording","target_uri":"channel:%s","cause":""}}`,
			typ, head, name, s.id)
	case 15:
		return fmt.Sprintf(`{"type":"TextMessageReceived",%s,"message":{"from":"<sip:100%d@127.0.0.1>","to":"pjsip:recorder@127.0.0.1","body":"{\"operation\":\"pause\",\"session_id\":\"c0ffee-1234\"}","variables":{"Content-Type":"application/x-media-control+json"}},"endpoint":{"technology":"PJSIP","resource":"100%d","state":"online","channel_ids":[]}}`,
			head, a%4, b%4)
	case 28:
		return fmt.Sprintf(`{"type":"ChannelDialplan",%s,"dialplan_app":"Queue","dialplan_app_data":"support,tTr","channel":%s}`, head, g.channelJSON(g.slot(a), "Ring"))
	default:
		return fmt.Sprintf(`{"type":"ChannelVarset",%s,"variable":"REC_GROUP","value":"sales","channel":%s}`, head, g.channelJSON(g.slot(a), "Up"))
	}
}

// FuzzTranslateCalls: event sequences built by fuzzCall from the fuzzer's
// bytes (three an event, up to 200 events) through the adapter's path, with
// the checks of fuzzChecker. Seeds: op sequences of the lab's scenarios
// (a recorded internal call, a blind transfer, an attended transfer via a
// Local pair, a queue call, a DTMF feature).
func FuzzTranslateCalls(f *testing.F) {
	f.Add([]byte{0, 0, 2, 0, 1, 0, 2, 0, 1, 1, 1, 2, 3, 1, 0, 3, 0, 0, 0, 6, 0, 11, 6, 0, 12, 6, 0, 1, 1, 1, 5, 0, 0, 13, 6, 0, 6, 0, 0, 6, 1, 0, 6, 6, 0})
	f.Add([]byte{0, 2, 2, 0, 0, 2, 2, 2, 0, 1, 0, 2, 3, 2, 0, 3, 0, 0, 0, 6, 0, 11, 6, 0, 12, 6, 0, 10, 0, 11, 10, 0, 1,
		4, 0, 0, 0x65, 0, 0, 7, 0, 2, 13, 6, 0, 6, 6, 0, 6, 0, 0, 0, 3, 2, 2, 2, 3, 1, 3, 2, 3, 3, 1, 3, 2, 1, 6, 2, 0, 6, 3, 0})
	f.Add([]byte{0, 2, 2, 0, 0, 2, 2, 2, 0, 1, 0, 2, 3, 2, 1, 3, 0, 1, 0, 4, 0, 0, 5, 0, 2, 0, 4, 3, 0, 5, 3, 3, 4, 0, 3, 5, 1,
		0, 3, 0, 2, 4, 3, 3, 3, 1, 9, 1, 0, 8, 0, 2, 5, 0, 0, 6, 0, 0, 6, 4, 0, 6, 5, 0, 3, 2, 1})
	f.Add([]byte{0, 0, 2, 28, 0, 0, 0, 1, 0, 0, 3, 0, 2, 0, 1, 2, 0, 3, 1, 3, 1, 1, 3, 0, 5, 3, 0, 6, 3, 0, 3, 1, 0, 3, 0, 0, 15, 0, 0})
	f.Add([]byte{0, 0, 2, 11, 0, 0, 1, 0, 0, 10, 0, 11, 10, 0, 2, 10, 0, 6, 5, 0, 0, 6, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &fuzzCall{at: time.Date(2026, 11, 21, 19, 12, 2, 581e6, time.UTC)}
		var msgs [][]byte
		for i := 0; i+2 < len(data) && len(msgs) < 200; i += 3 {
			msgs = append(msgs, []byte(g.event(data[i], data[i+1], data[i+2])))
		}
		fuzzRun(t, nil, msgs, nil)
	})
}
