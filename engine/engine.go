package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/callrecd/callrecd/recording"
)

// Config wires an Engine. Settings and Index are required; the rest is
// optional and declared here, never discovered by the engine.
type Config struct {
	Settings Settings
	// Index is the store's view the engine reconciles a Snapshot with: the
	// rows an earlier run left open (adopted when the PBX still has the
	// call, closed otherwise). It is read outside the engine's lock.
	Index Index
	// Prepares declares that the PBX can get a recording ready while the
	// call rings (OpPrepare/OpRelease commands; Asterisk: a spare snoop).
	Prepares bool
	// TransfersLeaveLegAlone declares that the PBX transfers a leg by
	// leaving it alone first (FreeSWITCH: after a REFER or uuid_transfer the
	// transferer hangs up before the transferee's new leg exists). A call
	// down to one live party then keeps its recording until that party
	// hangs up too or is bridged again, instead of ending it at once.
	TransfersLeaveLegAlone bool
	// StartsAppend declares that a start on a recording whose file exists
	// appends to it, whoever began the file (Asterisk: ifExists=append). A
	// recording an earlier run left between two parts is then taken back
	// after a restart (its next part appended); without it such a row is
	// closed and the policy records the call anew (a fresh adapter would
	// write the file over).
	StartsAppend bool
	// MayStart, if set, vetoes new recordings (the disk guard: storage
	// below its free-space floor). It is called with the engine's lock held
	// and must answer from a cache. A refused recording is failed with the
	// error as its reason; running recordings (and their re-arms) go on.
	MayStart func() error
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
	settings Settings
	index    Index
	prepares bool
	loneLeg  bool // TransfersLeaveLegAlone
	appends  bool // StartsAppend
	mayStart func() error
	clock    Clock
	log      *slog.Logger
	newID    func() string
	ttl      time.Duration

	seq      uint64
	channels map[string]*channel
	bridges  map[string]*bridge
	calls    map[string]*call // by PBX call id (and aliases of merged calls)
	byKey    map[RowKey]*call // calls whose row id is not known yet
	recs     map[string]*rec
	policies map[string]TenantPolicy // last good policy per tenant

	fx       []Effect // decided while handling the current event or request
	tombs    map[string]time.Time
	tombFIFO []tomb
	frozen   bool // inside a snapshot: evaluate at the end only
	synced   bool // the first snapshot was handled (rows left open closed)
}

// tomb is a hung-up channel remembered for ttl (late events about it are
// ignored), or, with rec set, an ended call's recording the PBX never
// confirmed, kept as long for its late RecordingFailed.
type tomb struct {
	id  string
	at  time.Time
	rec string
}

type channel struct {
	id        string
	seq       uint64
	tenant    string
	endpoint  string
	sipCallID string
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
	key       RowKey // its CDR row (see RowKey)
	pbxID     string
	aliases   []string
	tenant    string
	row       CallRow
	rowStored bool       // a WriteCall was issued (or the row came from the index)
	channels  []*channel // live channels (parties and connectors)
	recs      []*rec
	connected bool // a callee answered or two channels were bridged
	srcSet    bool
	dstFrozen bool
	// autoOff: the policy must not start a recording by itself any more
	// (a user/API stopped one, or the PBX failed one).
	autoOff bool
	// lowDisk: the disk guard refused the policy's recording; the policy
	// tries again on StorageRecovered, not on every event before it.
	lowDisk bool
	// unreachable: the policy's recording failed to start because the PBX
	// could not be reached; the next Snapshot (the link back) tries again.
	unreachable bool
	ended       bool
	spare       *spare // prepared recording (ringing calls the policy will record)
}

type rec struct {
	row       RecordingRow
	rowStored bool
	key       RowKey // the call row it belongs to (kept through merges)
	call      *call
	channel   string // the leg being recorded
	live      bool   // the PBX confirmed the current part
	confirmed bool   // the PBX confirmed the first part (or it was adopted live)
	legDead   bool   // the leg hung up; re-arm on resume
	oldParts  int    // Finished/Failed events still expected for older parts
	restopped bool
}

// New returns an Engine, or an error naming a missing dependency.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Settings == nil:
		return nil, errors.New("engine: Config.Settings is required")
	case cfg.Index == nil:
		return nil, errors.New("engine: Config.Index is required (rows a crash left open are closed from it)")
	}
	e := &Engine{
		settings: cfg.Settings,
		index:    cfg.Index,
		prepares: cfg.Prepares,
		loneLeg:  cfg.TransfersLeaveLegAlone,
		appends:  cfg.StartsAppend,
		mayStart: cfg.MayStart,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		newID:    cfg.NewID,
		ttl:      cfg.TombstoneTTL,
		channels: make(map[string]*channel),
		bridges:  make(map[string]*bridge),
		calls:    make(map[string]*call),
		byKey:    make(map[RowKey]*call),
		recs:     make(map[string]*rec),
		policies: make(map[string]TenantPolicy),
		tombs:    make(map[string]time.Time),
	}
	if e.clock == nil {
		e.clock = systemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.newID == nil {
		e.newID = newUUID
	}
	if e.ttl <= 0 {
		e.ttl = time.Minute
	}
	return e, nil
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

// Handle applies one event and returns what must be done about it, in
// order. It never fails: problems are logged. A Snapshot is first completed
// with the index's open rows (read before the lock is taken).
func (e *Engine) Handle(ctx context.Context, ev Event) []Effect {
	if snap, ok := ev.(Snapshot); ok {
		snap.index = e.readIndex(ctx, snap)
		ev = snap
	}
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
		e.onLegDeaf(ev.Channel, at)
	case DTMF:
		e.onDTMF(ctx, ev, at)
	case FeatureCall:
		e.onFeatureCall(ctx, ev, at)
	case TextMessage:
		e.onTextMessage(ctx, ev, at)
	case Hangup:
		e.onHangup(ctx, ev.Channel, at)
	case RecordingStarted:
		e.onRecStarted(ev)
	case RecordingFinished:
		e.onRecEnded(ctx, ev.Name, ev.Channel, "", at)
	case RecordingFailed:
		reason := ev.Reason
		if reason == "" {
			reason = "failed"
		}
		switch {
		case ev.Unreachable:
			reason = recording.FailureUnreachable + reason
		case ev.ChannelGone:
			reason = recording.FailureChannelGone + reason
		}
		e.onRecEnded(ctx, ev.Name, ev.Channel, reason, at)
		if ev.Unreachable {
			e.retryAfterResync(ev.Name)
		}
	case Snapshot:
		e.onSnapshot(ctx, ev, at)
	case StorageRecovered:
		e.onStorageRecovered(ctx, at)
	default:
		e.log.Warn("engine: unknown event", "type", slog.AnyValue(ev))
	}
	e.purgeTombs(at)
	return e.takeEffects()
}
