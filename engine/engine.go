package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Config wires an Engine. PBX, Settings and Records are required.
type Config struct {
	PBX      PBX
	Settings Settings
	Records  Records
	Clock    Clock        // nil: system clock
	Logger   *slog.Logger // nil: discard
	// NewID returns a new recording uuid; nil: random UUID v4.
	NewID func() string
	// TombstoneTTL is how long the id of a hung-up channel is remembered
	// so that late or duplicated events about it are ignored; 0: 60 s.
	TombstoneTTL time.Duration
}

// Engine is the recording engine. Create it with New.
type Engine struct {
	mu       sync.Mutex
	pbx      PBX
	settings Settings
	records  Records
	clock    Clock
	log      *slog.Logger
	newID    func() string
	ttl      time.Duration

	seq      uint64
	channels map[string]*channel
	bridges  map[string]*bridge
	calls    map[string]*call // by PBX call id (and aliases of merged calls)
	recs     map[string]*recording
	policies map[string]TenantPolicy // last good policy per tenant

	tombs    map[string]time.Time
	unstored []*call // calls whose row changed during the event being handled
	tombFIFO []tomb
	frozen   bool // inside a snapshot: evaluate at the end only
	synced   bool // the first snapshot was handled (rows left open closed)
}

type tomb struct {
	id string
	at time.Time
}

type channel struct {
	id        string
	seq       uint64
	tenant    string
	endpoint  string
	role      Role
	callerNum string
	callerNam string
	calleeNum string
	group     string
	queue     string
	user      *User
	answered  bool
	deaf      bool // recording it captures only its own audio (LegDeaf)
	bridge    *bridge
	call      *call

	dtmf      [8]byte
	dtmfLen   int
	lastDigit time.Time
}

type bridge struct {
	id      string
	members []*channel
}

type call struct {
	seq       uint64
	pbxID     string
	aliases   []string
	tenant    string
	row       CallRow
	rowStored bool
	channels  []*channel // live channels (parties and connectors)
	recs      []*recording
	connected bool // a callee answered or two channels were bridged
	srcSet    bool
	dstFrozen bool
	// autoOff: the policy must not start a recording by itself any more
	// (a user/API stopped one, or the PBX failed one).
	autoOff bool
	ended   bool
	spare   *spare // prepared recording (ringing calls the policy will record)
	noSpare bool   // the PBX refused a preparation: start the ordinary way
}

type recording struct {
	row       RecordingRow
	rowStored bool
	call      *call
	channel   string // the leg being recorded
	handle    string
	live      bool // the PBX confirmed the current part
	legDead   bool // the leg hung up; re-arm on resume
	oldParts  int  // Finished/Failed events still expected for older parts
	restopped bool
}

// New returns an Engine.
func New(cfg Config) *Engine {
	e := &Engine{
		pbx:      cfg.PBX,
		settings: cfg.Settings,
		records:  cfg.Records,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		newID:    cfg.NewID,
		ttl:      cfg.TombstoneTTL,
		channels: make(map[string]*channel),
		bridges:  make(map[string]*bridge),
		calls:    make(map[string]*call),
		recs:     make(map[string]*recording),
		policies: make(map[string]TenantPolicy),
		tombs:    make(map[string]time.Time),
	}
	if e.clock == nil {
		e.clock = systemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.newID == nil {
		e.newID = newUUID
	}
	if e.ttl <= 0 {
		e.ttl = time.Minute
	}
	return e
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// Handle applies one event. It never fails: problems are logged.
func (e *Engine) Handle(ctx context.Context, ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	at := ev.When()
	if at.IsZero() {
		at = e.clock.Now()
	}
	switch ev := ev.(type) {
	case ChannelCreated:
		e.onCreated(ctx, ev, at)
	case ChannelAnswered:
		e.onAnswered(ctx, ev.Channel, at)
	case ChannelBridged:
		e.onBridged(ctx, ev.Channel, ev.Bridge, at)
	case ChannelUnbridged:
		e.onUnbridged(ctx, ev.Channel, ev.Bridge, at)
	case BridgeMerged:
		e.onBridgeMerged(ctx, ev, at)
	case Transferred:
		e.onTransferred(ctx, ev, at)
	case LegDeaf:
		e.onLegDeaf(ctx, ev.Channel, at)
	case DTMF:
		e.onDTMF(ctx, ev, at)
	case FeatureCall:
		e.onFeatureCall(ctx, ev, at)
	case TextMessage:
		e.onTextMessage(ctx, ev, at)
	case Hangup:
		e.onHangup(ctx, ev.Channel, at)
	case RecordingStarted:
		e.onRecStarted(ctx, ev, at)
	case RecordingFinished:
		e.onRecEnded(ctx, ev.Name, ev.Channel, "", at)
	case RecordingFailed:
		reason := ev.Reason
		if reason == "" {
			reason = "failed"
		}
		e.onRecEnded(ctx, ev.Name, ev.Channel, reason, at)
	case Snapshot:
		e.onSnapshot(ctx, ev, at)
	default:
		e.log.Warn("engine: unknown event", "type", slog.AnyValue(ev))
	}
	e.storeUnstored(ctx)
	e.purgeTombs(at)
}

// ---- call graph ----

func (e *Engine) onCreated(ctx context.Context, ev ChannelCreated, at time.Time) {
	if ev.Channel == "" {
		return
	}
	if _, dead := e.tombs[ev.Channel]; dead {
		e.log.Debug("engine: created after hangup, ignored", "channel", ev.Channel)
		return
	}
	if ch := e.channels[ev.Channel]; ch != nil {
		// Duplicate: only learn what we did not know.
		if ev.Answered && !ch.answered {
			e.onAnswered(ctx, ch.id, at)
		}
		return
	}
	e.seq++
	ch := &channel{
		id: ev.Channel, seq: e.seq, tenant: ev.Tenant, endpoint: ev.Endpoint,
		role: ev.Role, callerNum: ev.CallerNumber, callerNam: ev.CallerName,
		calleeNum: ev.CalleeNumber, group: ev.Group, queue: ev.Queue,
	}
	if ch.role == RoleInternal && ev.Endpoint != "" && e.settings != nil {
		u, ok, err := e.settings.UserByEndpoint(ctx, ev.Tenant, ev.Endpoint)
		if err != nil {
			e.log.Error("engine: user lookup", "tenant", ev.Tenant, "endpoint", ev.Endpoint, "err", err)
		} else if ok {
			ch.user = &u
		}
	}
	e.channels[ch.id] = ch
	pbxID := ev.CallID
	if pbxID == "" {
		pbxID = ch.id
	}
	c := e.calls[pbxID]
	if c == nil {
		e.seq++
		c = &call{seq: e.seq, pbxID: pbxID, tenant: ev.Tenant}
		c.row = CallRow{Tenant: ev.Tenant, PBXCallID: pbxID, Start: at}
		e.calls[pbxID] = c
	}
	ch.call = c
	c.channels = append(c.channels, ch)
	if ch.role.isParty() {
		e.describeCall(c)
		e.storeCall(ctx, c)
	}
	if ev.Answered {
		ch.answered = true
		e.markConnected(ctx, c, ch, at)
	}
	e.evaluate(ctx, c, at)
}

// describeCall fills the CDR's source (the originator, once) and destination
// (the best other party; frozen once an answered destination is known).
func (e *Engine) describeCall(c *call) {
	src := c.originator()
	if src == nil {
		return
	}
	r := &c.row
	if !c.srcSet {
		c.srcSet = true
		r.SourceNumber, r.SourceName = src.callerNum, src.callerNam
		if src.user != nil {
			r.SourceUserUUID, r.SourceExtension = src.user.UUID, src.user.Extension
			if r.SourceName == "" {
				r.SourceName = src.user.Name
			}
			if r.SourceNumber == "" {
				r.SourceNumber = src.user.Extension
			}
		}
		r.DestinationNumber = src.calleeNum
		if src.role == RoleInternal {
			r.Direction = DirInternal
		} else {
			r.Direction = DirInbound
		}
	}
	if c.dstFrozen {
		return
	}
	var dst *channel
	for _, ch := range c.channels {
		if ch == src || !ch.role.isParty() {
			continue
		}
		if dst == nil || ch.answered && !dst.answered {
			dst = ch
		}
	}
	if dst == nil {
		return
	}
	switch {
	case src.role == RoleInternal && dst.role == RoleInternal:
		r.Direction = DirInternal
	case src.role == RoleInternal:
		r.Direction = DirOutbound
	default:
		r.Direction = DirInbound
	}
	r.DestinationUserUUID, r.DestinationExtension, r.DestinationName = "", "", ""
	if dst.user != nil {
		r.DestinationUserUUID, r.DestinationExtension = dst.user.UUID, dst.user.Extension
		r.DestinationName = dst.user.Name
	}
	switch {
	case dst.user != nil && dst.user.Extension != "":
		r.DestinationNumber = dst.user.Extension
	case dst.calleeNum != "":
		r.DestinationNumber = dst.calleeNum
	case src.calleeNum != "":
		r.DestinationNumber = src.calleeNum
	}
	if c.connected && dst.answered {
		c.dstFrozen = true
	}
}

func (e *Engine) storeCall(ctx context.Context, c *call) {
	if e.records == nil {
		return
	}
	if !c.rowStored {
		id, err := e.records.CreateCall(ctx, c.row)
		if err != nil {
			e.log.Error("engine: create call", "pbx_call_id", c.pbxID, "err", err)
			return
		}
		c.row.ID, c.rowStored = id, true
		return
	}
	if err := e.records.UpdateCall(ctx, c.row); err != nil {
		e.log.Error("engine: update call", "call_id", c.row.ID, "err", err)
	}
}

func (e *Engine) onAnswered(ctx context.Context, id string, at time.Time) {
	ch := e.channels[id]
	if ch == nil || ch.answered {
		return
	}
	ch.answered = true
	c := ch.call
	e.markConnected(ctx, c, ch, at)
	e.evaluate(ctx, c, at)
}

// markConnected notes that the conversation began: a channel other than the
// originator answered (or two channels were bridged).
func (e *Engine) markConnected(ctx context.Context, c *call, ch *channel, at time.Time) {
	if c.connected || ch == nil || !ch.role.isParty() {
		return
	}
	if orig := c.originator(); orig == nil || orig == ch || c.partyCount() < 2 {
		return
	}
	e.setConnected(ctx, c, at)
}

func (e *Engine) setConnected(ctx context.Context, c *call, at time.Time) {
	if c.connected {
		return
	}
	c.connected = true
	c.row.Answer = at
	e.describeCall(c)
	// The answer is written once the event is handled: the recording this
	// answer may start must not wait behind a store write.
	e.unstored = append(e.unstored, c)
}

// storeUnstored writes the calls whose rows changed during this event, after
// the PBX commands the event caused were queued.
func (e *Engine) storeUnstored(ctx context.Context) {
	for _, c := range e.unstored {
		e.storeCall(ctx, c)
	}
	clear(e.unstored)
	e.unstored = e.unstored[:0]
}

func (e *Engine) onBridged(ctx context.Context, chID, bID string, at time.Time) {
	ch := e.channels[chID]
	if ch == nil || bID == "" {
		return
	}
	if ch.bridge != nil {
		if ch.bridge.id == bID {
			return // duplicate
		}
		e.leaveBridge(ch)
	}
	b := e.bridges[bID]
	if b == nil {
		b = &bridge{id: bID}
		e.bridges[bID] = b
	}
	b.members = append(b.members, ch)
	ch.bridge = b
	c := ch.call
	for _, m := range b.members {
		if m.call != c {
			c = e.merge(ctx, c, m.call, at)
		}
	}
	if len(b.members) >= 2 {
		n := 0
		for _, m := range b.members {
			if m.role.isParty() {
				n++
			}
		}
		if n >= 2 || c.partyCount() >= 2 {
			e.setConnected(ctx, c, at)
		}
	}
	e.evaluate(ctx, c, at)
}

func (e *Engine) leaveBridge(ch *channel) {
	b := ch.bridge
	if b == nil {
		return
	}
	ch.bridge = nil
	for i, m := range b.members {
		if m == ch {
			last := len(b.members) - 1
			b.members[i] = b.members[last]
			b.members[last] = nil
			b.members = b.members[:last]
			break
		}
	}
	if len(b.members) == 0 {
		delete(e.bridges, b.id)
	}
}

func (e *Engine) onUnbridged(ctx context.Context, chID, bID string, at time.Time) {
	ch := e.channels[chID]
	if ch == nil || ch.bridge == nil || (bID != "" && ch.bridge.id != bID) {
		return
	}
	e.leaveBridge(ch)
	e.evaluate(ctx, ch.call, at)
}

func (e *Engine) onBridgeMerged(ctx context.Context, ev BridgeMerged, at time.Time) {
	from := e.bridges[ev.From]
	if from == nil || ev.From == ev.To || ev.To == "" {
		return
	}
	members := append([]*channel(nil), from.members...)
	for _, m := range members {
		e.onBridged(ctx, m.id, ev.To, at)
	}
}

func (e *Engine) onTransferred(ctx context.Context, ev Transferred, at time.Time) {
	a, b := e.channels[ev.Transferee], e.channels[ev.Target]
	if a != nil && b != nil && a.call != b.call {
		c := e.merge(ctx, a.call, b.call, at)
		e.evaluate(ctx, c, at)
		return
	}
	if a != nil {
		e.evaluate(ctx, a.call, at)
	}
}

// merge joins two calls; the older survives and is returned.
func (e *Engine) merge(ctx context.Context, a, b *call, at time.Time) *call {
	if a == b {
		return a
	}
	if b.seq < a.seq {
		a, b = b, a
	}
	for _, ch := range b.channels {
		ch.call = a
	}
	a.channels = append(a.channels, b.channels...)
	b.channels = nil
	// One active recording per call: keep the survivor's, else b's.
	keep := a.active()
	for _, r := range b.recs {
		r.call = a
		if r.row.State.active() && keep != nil {
			e.stopRec(ctx, r, StopHangup, at)
		} else if r.row.State.active() {
			keep = r
		}
	}
	a.recs = append(a.recs, b.recs...)
	b.recs = nil
	a.connected = a.connected || b.connected
	a.autoOff = a.autoOff || b.autoOff
	a.aliases = append(a.aliases, b.pbxID)
	a.aliases = append(a.aliases, b.aliases...)
	e.calls[b.pbxID] = a
	for _, al := range b.aliases {
		e.calls[al] = a
	}
	b.aliases = nil
	e.releaseSpare(ctx, b)
	b.ended = true
	switch {
	case b.rowStored && !a.rowStored:
		// a never had a party: it takes b's row over.
		a.row, a.rowStored, a.srcSet, a.dstFrozen = b.row, true, b.srcSet, b.dstFrozen
	case b.rowStored:
		b.row.End = at
		e.storeCall(ctx, b)
	}
	e.describeCall(a)
	if a.partyCount() > 0 {
		e.storeCall(ctx, a)
	}
	return a
}

func (e *Engine) onHangup(ctx context.Context, id string, at time.Time) {
	ch := e.channels[id]
	if ch == nil {
		if id != "" {
			e.addTomb(id, at)
		}
		return
	}
	e.leaveBridge(ch)
	delete(e.channels, id)
	e.addTomb(id, at)
	c := ch.call
	for i, m := range c.channels {
		if m == ch {
			c.channels = append(c.channels[:i], c.channels[i+1:]...)
			break
		}
	}
	for _, r := range c.recs {
		if r.row.State.active() && r.channel == id && !r.legDead {
			r.legDead = true
			r.live = false
			r.oldParts++
		}
	}
	e.evaluate(ctx, c, at)
}

func (e *Engine) addTomb(id string, at time.Time) {
	if _, ok := e.tombs[id]; ok {
		return
	}
	e.tombs[id] = at
	e.tombFIFO = append(e.tombFIFO, tomb{id, at})
}

func (e *Engine) purgeTombs(now time.Time) {
	n := 0
	for n < len(e.tombFIFO) && now.Sub(e.tombFIFO[n].at) > e.ttl {
		delete(e.tombs, e.tombFIFO[n].id)
		n++
	}
	if n > 0 {
		e.tombFIFO = e.tombFIFO[n:]
		if cap(e.tombFIFO) > 1024 && len(e.tombFIFO) < cap(e.tombFIFO)/4 {
			e.tombFIFO = append([]tomb(nil), e.tombFIFO...)
		}
	}
}

// ---- call helpers ----

func (c *call) originator() *channel {
	var o *channel
	for _, ch := range c.channels {
		if ch.role.isParty() && (o == nil || ch.seq < o.seq) {
			o = ch
		}
	}
	return o
}

func (c *call) partyCount() int {
	n := 0
	for _, ch := range c.channels {
		if ch.role.isParty() {
			n++
		}
	}
	return n
}

func (ch *channel) talking() bool {
	return ch.bridge != nil && len(ch.bridge.members) >= 2
}

// externalOnly: at least two parties and no internal one among those talking
// (or among all parties when nobody talks). Unknown roles count as external.
func (c *call) externalOnly() bool {
	parties, talking, internalTalking, internalAny := 0, 0, false, false
	for _, ch := range c.channels {
		if !ch.role.isParty() {
			continue
		}
		parties++
		in := ch.role == RoleInternal
		internalAny = internalAny || in
		if ch.talking() {
			talking++
			internalTalking = internalTalking || in
		}
	}
	if parties < 2 {
		return false
	}
	if talking > 0 {
		return !internalTalking
	}
	return !internalAny
}

func (c *call) active() *recording {
	for _, r := range c.recs {
		if r.row.State.active() {
			return r
		}
	}
	return nil
}

// partyIDs lists the channels prompts for "all parties" go to.
func (c *call) partyIDs() []string {
	ids := make([]string, 0, len(c.channels))
	for _, ch := range c.channels {
		if ch.role.isParty() {
			ids = append(ids, ch.id)
		}
	}
	return ids
}

// pickLeg chooses the channel to record. Only legs that carry the
// conversation qualify before ringing ones (the originator, answered or
// bridged legs); among those a leg that hears the call before a deaf one
// (LegDeaf: recording it would capture only its own voice), then an
// external (trunk) leg, since it survives the users' transfers, then the
// oldest. ifAnswered ranks every party as answered (the leg a ringing call
// would be recorded on).
func (c *call) pickLeg(ifAnswered bool) *channel {
	orig := c.originator()
	var best *channel
	rank := func(ch *channel) int {
		r := 0
		if ifAnswered || ch == orig || ch.answered || ch.talking() {
			r += 8
		}
		if !ch.deaf {
			r += 4
		}
		if ch.role != RoleInternal {
			r += 2
		}
		return r
	}
	for _, ch := range c.channels {
		if !ch.role.isParty() {
			continue
		}
		if best == nil || rank(ch) > rank(best) || rank(ch) == rank(best) && ch.seq < best.seq {
			best = ch
		}
	}
	return best
}

func (e *Engine) policy(ctx context.Context, tenant string) TenantPolicy {
	if e.settings != nil {
		p, err := e.settings.TenantPolicy(ctx, tenant)
		if err == nil {
			p = p.normalized()
			e.policies[tenant] = p
			return p
		}
		e.log.Error("engine: tenant policy", "tenant", tenant, "err", err)
	}
	if p, ok := e.policies[tenant]; ok {
		return p
	}
	return DefaultTenantPolicy()
}

// ---- the rules ----

// evaluate re-applies the rules to a call after any change.
func (e *Engine) evaluate(ctx context.Context, c *call, at time.Time) {
	if c == nil || c.ended || e.frozen {
		return
	}
	if !c.connected && c.partyCount() > 0 {
		e.prepareForAnswer(ctx, c)
		return
	}
	e.applyRules(ctx, c, at)
	// Connected (or over): a preparation the rules did not take is dropped.
	e.releaseSpare(ctx, c)
}

func (e *Engine) applyRules(ctx context.Context, c *call, at time.Time) {
	if c.partyCount() == 0 {
		if len(c.channels) == 0 {
			e.endCall(ctx, c, at)
		} else {
			for _, r := range c.recs {
				if r.row.State.active() {
					e.stopRec(ctx, r, StopHangup, at)
				}
			}
		}
		return
	}
	rec := c.active()
	if c.partyCount() < 2 {
		// The conversation is over (someone hung up): finalize.
		if rec != nil {
			e.stopRec(ctx, rec, StopHangup, at)
		}
		return
	}
	pol := e.policy(ctx, c.tenant)
	if c.externalOnly() && !pol.RecordExternalToExternal {
		if rec != nil {
			e.stopRec(ctx, rec, StopExternalToExternal, at)
		}
		return
	}
	if rec != nil {
		if rec.legDead && rec.row.State == StateRecording {
			e.rearm(ctx, rec, at)
		}
		return
	}
	if !c.autoOff && pol.AudioRecordingEnabled && c.autoWanted(false) {
		e.startRec(ctx, c, ByPolicy, pol, at)
	}
}

// autoWanted: some answered party P and the originator O (the oldest party)
// ask for it: O's outgoing flag for P's kind, or P's incoming flag for O's.
// ifAnswered counts every party as answered (what a ringing call would want).
func (c *call) autoWanted(ifAnswered bool) bool {
	o := c.originator()
	if o == nil {
		return false
	}
	for _, p := range c.channels {
		if p == o || !p.role.isParty() || !(ifAnswered || p.answered || p.talking()) {
			continue
		}
		if u := o.user; u != nil && o.role == RoleInternal {
			if p.role == RoleInternal && u.CallRecordOutgoingInternal || p.role != RoleInternal && u.CallRecordOutgoingExternal {
				return true
			}
		}
		if u := p.user; u != nil && p.role == RoleInternal {
			if o.role == RoleInternal && u.CallRecordIncomingInternal || o.role != RoleInternal && u.CallRecordIncomingExternal {
				return true
			}
		}
	}
	return false
}

func (e *Engine) endCall(ctx context.Context, c *call, at time.Time) {
	for _, r := range c.recs {
		if r.row.State.active() {
			e.stopRec(ctx, r, StopHangup, at)
		}
		if e.recs[r.row.UUID] == r {
			delete(e.recs, r.row.UUID)
		}
	}
	e.releaseSpare(ctx, c)
	c.ended = true
	if c.srcSet {
		c.row.End = at
		e.storeCall(ctx, c)
	}
	if e.calls[c.pbxID] == c {
		delete(e.calls, c.pbxID)
	}
	for _, al := range c.aliases {
		if e.calls[al] == c {
			delete(e.calls, al)
		}
	}
}
