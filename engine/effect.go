package engine

import (
	"fmt"
	"slices"

	"github.com/callrecd/callrecd/recording"
)

// Effect is one thing the engine decided: a PBX command, a row write or a
// notice. Handle and the call-control methods return them in the order they
// were decided; the executor applies every Command of a batch first (they
// only queue work on the PBX) and the writes after, in order. The set is
// closed: only the types of this package implement it.
type Effect interface{ isEffect() }

// RowKey names a call's CDR row inside one engine before the store has
// given it an id: the executor maps it to the id CreateCall returns and
// fills it into later writes (WriteCall, WriteRecording's CallID and file
// name), and tells the engine with CallStored. Calls that merge keep the
// surviving row's key.
type RowKey uint64

// Op is a PBX command's kind.
type Op uint8

// PBX commands.
const (
	OpStart   Op = iota + 1 // record Channel under Name (appends when Name exists: re-arm)
	OpPause                 // pause recording Name
	OpResume                // resume recording Name
	OpStop                  // stop recording Name's current part
	OpPrepare               // get recording Name ready on Channel (Config.Prepares)
	OpRelease               // drop the preparation of Name
	OpPlay                  // play Prompt to Channels
	OpHangup                // hang Channel up
)

var opNames = [...]string{OpStart: "start", OpPause: "pause", OpResume: "resume", OpStop: "stop",
	OpPrepare: "prepare", OpRelease: "release", OpPlay: "play", OpHangup: "hangup"}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", o)
}

// Command is a PBX command. Call is the row key of the call it belongs to:
// commands of one call must reach the PBX in order, those of different
// calls need not.
type Command struct {
	Op       Op
	Call     RowKey
	Channel  string           // start, prepare, hangup
	Name     string           // the recording (its uuid): start … release
	Format   recording.Format // start
	Channels []string         // play
	Prompt   Prompt           // play
}

func (c Command) String() string {
	switch c.Op {
	case OpStart, OpPrepare:
		return fmt.Sprintf("%s(%s,%s)", c.Op, c.Channel, c.Name)
	case OpPlay:
		return fmt.Sprintf("play(%v,%s)", c.Channels, c.Prompt)
	case OpHangup:
		return "hangup(" + c.Channel + ")"
	default:
		return c.Op.String() + "(" + c.Name + ")"
	}
}

// WriteCall writes a call's CDR row: created the first time its Key is
// written (Row.ID zero), updated after. Row.ID is set when the engine knows
// the id (CallStored, or a row found in the index).
type WriteCall struct {
	Key RowKey
	Row CallRow
}

// WriteRecording writes a recording's row: created when New, updated
// otherwise. A zero Row.CallID is the id of call row Call, and then the file
// name is rebuilt with it (Wazo's names carry the call id).
type WriteRecording struct {
	Call RowKey
	New  bool
	Row  RecordingRow
}

// SetAutoRecord sets a user's four call_record_*_enabled flags (*26).
type SetAutoRecord struct {
	Tenant, User string
	Enabled      bool
}

// RecordingFinal says that a recording's row is final (stopped or failed)
// and nothing will be added to its file: whoever moves files may take it.
// It follows the row's last WriteRecording.
type RecordingFinal struct {
	Call RowKey // as in WriteRecording
	Row  RecordingRow
}

// ControlRefused says that a request to control a recording from a phone
// was refused (a SIP MESSAGE from somebody who is not an internal party of
// that call): an administrator counts these to see probing or a
// mis-set-up phone.
type ControlRefused struct {
	Reason string // RefusedNotAParty, …
}

// Reasons of ControlRefused.
const (
	RefusedNotAParty = "not_a_party"
)

func (Command) isEffect()        {}
func (ControlRefused) isEffect() {}
func (WriteCall) isEffect()      {}
func (WriteRecording) isEffect() {}
func (SetAutoRecord) isEffect()  {}
func (RecordingFinal) isEffect() {}

// Commands returns the PBX commands among fx, in order.
func Commands(fx []Effect) []Command {
	var out []Command
	for _, f := range fx {
		if c, ok := f.(Command); ok {
			out = append(out, c)
		}
	}
	return out
}

// ---- emitting (engine lock held) ----

func (e *Engine) command(c *call, cmd Command) {
	if c != nil {
		cmd.Call = c.key
	}
	e.fx = append(e.fx, cmd)
}

func (e *Engine) takeEffects() []Effect {
	fx := e.fx
	e.fx = nil
	return fx
}

// storeCall writes c's row.
func (e *Engine) storeCall(c *call) {
	c.rowStored = true
	e.fx = append(e.fx, WriteCall{Key: c.key, Row: c.row})
}

// storeRec writes r's row (a copy: the engine goes on changing r) and, once
// it is final, says so.
func (e *Engine) storeRec(r *rec) {
	row := r.row
	row.Paused = slices.Clone(r.row.Paused)
	e.fx = append(e.fx, WriteRecording{Call: r.key, New: !r.rowStored, Row: row})
	r.rowStored = true
	if !row.State.Active() {
		e.fx = append(e.fx, RecordingFinal{Call: r.key, Row: row})
	}
}

// CallStored tells the engine the id the store gave row key (the executor
// calls it after CreateCall): the API shows it, and the recordings made
// before it was known get their call id and file name.
func (e *Engine) CallStored(key RowKey, id int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.byKey[key]
	if c == nil || c.row.ID != 0 {
		return
	}
	c.row.ID = id
	for _, r := range c.recs {
		if r.key == key && r.row.CallID == 0 {
			r.row.CallID = id
			r.row.Filename = recording.Filename(r.row.Start, id, r.row.UUID, r.row.Format)
		}
	}
}
