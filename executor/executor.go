// Package executor applies the engine's effects: it is the imperative shell
// around the pure engine. Each event or call-control request goes to the
// engine, and the effects it returns are carried out before the next one:
// the batch's PBX commands first (adapters queue them per recording and
// channel, so calls proceed concurrently and each call's commands stay in
// order), then its row writes, durably and in order, on a writer goroutine
// of their own (writer.go) so that no event waits for the store. The
// executor also owns
// the one thing the engine cannot know while it decides: the CDR id the
// store gives a new call row, which Wazo's file names carry.
package executor

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// Records is where rows are written (store.ForEngine).
type Records interface {
	CreateCall(ctx context.Context, row engine.CallRow) (id int64, err error)
	UpdateCall(ctx context.Context, row engine.CallRow) error
	CreateRecording(ctx context.Context, row engine.RecordingRow) error
	UpdateRecording(ctx context.Context, row engine.RecordingRow) error
	// SetUserAutoRecord sets a user's four call_record_*_enabled flags (*26).
	SetUserAutoRecord(ctx context.Context, tenant, userUUID string, enabled bool) error
}

// Config wires an Executor. Engine, PBX and Records are required, and
// Preparer when the engine prepares recordings.
type Config struct {
	Engine   *engine.Engine
	PBX      engine.PBX
	Preparer engine.Preparer
	Records  Records
	// Final, if set, hears of every recording whose row became final, after
	// that row is written (the spool collector moves its file then).
	Final func(engine.RecordingRow)
	// Refused, if set, hears of every ControlRefused (the metrics).
	Refused func(reason string)
	Logger  *slog.Logger
}

// Executor feeds the engine and applies its effects. It is safe for
// concurrent use: the PBX event loop, commands that fail in the adapter's
// queues and the API's call control are applied one after the other, so the
// rows are written in the order the engine decided.
type Executor struct {
	eng     *engine.Engine
	pbx     engine.PBX
	prep    engine.Preparer
	records Records
	final   func(engine.RecordingRow)
	refused func(string)
	log     *slog.Logger

	mu sync.Mutex // one event or request at a time through the engine
	w  *writer
	// The writer goroutine's own state.
	ids    map[engine.RowKey]int64 // call rows created for a key
	orphan map[string]bool         // recording rows whose create failed: create again
}

// maxRounds bounds the feedback of one batch (a start the PBX refused is
// handed back to the engine, which fails it: one more round).
const maxRounds = 8

// New returns an Executor, or an error naming what is missing.
func New(cfg Config) (*Executor, error) {
	switch {
	case cfg.Engine == nil:
		return nil, errors.New("executor: Config.Engine is required")
	case cfg.PBX == nil:
		return nil, errors.New("executor: Config.PBX is required")
	case cfg.Records == nil:
		return nil, errors.New("executor: Config.Records is required")
	case cfg.Engine.Prepares() && cfg.Preparer == nil:
		return nil, errors.New("executor: the engine prepares recordings but Config.Preparer is not set")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	x := &Executor{eng: cfg.Engine, pbx: cfg.PBX, prep: cfg.Preparer, records: cfg.Records, final: cfg.Final, refused: cfg.Refused,
		log: log, ids: map[engine.RowKey]int64{}, orphan: map[string]bool{}}
	x.w = startWriter(x.write)
	return x, nil
}

// Handle hands one event to the engine and applies what it decided. A
// Snapshot waits for the rows decided before it: the engine reads the
// index for it.
func (x *Executor) Handle(ctx context.Context, ev engine.Event) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := ev.(engine.Snapshot); ok {
		x.w.flush()
	}
	x.apply(ctx, x.eng.Handle(ctx, ev))
}

// Flush waits until every row decided so far is written (and every
// RecordingFinal passed on).
func (x *Executor) Flush() { x.w.flush() }

// Close writes what is queued and stops the writer; call it after the last
// event, before the store closes.
func (x *Executor) Close() { x.w.close() }

func (x *Executor) apply(ctx context.Context, fx []engine.Effect) {
	for round := 0; len(fx) > 0; round++ {
		if round == maxRounds {
			x.log.Error("executor: effects still coming after the last round; dropped", "effects", len(fx))
			return
		}
		var refused []engine.Event
		writes := false
		for _, f := range fx {
			c, ok := f.(engine.Command)
			if !ok {
				writes = true
				continue
			}
			if err := x.command(ctx, c); err != nil {
				x.log.Warn("executor: PBX command refused", "command", c.String(), "err", err)
				if c.Op == engine.OpStart {
					refused = append(refused, engine.RecordingFailed{Name: c.Name, Channel: c.Channel, Reason: err.Error()})
				}
			}
		}
		if writes {
			x.w.add(fx)
		}
		fx = nil
		for _, ev := range refused {
			fx = append(fx, x.eng.Handle(ctx, ev)...)
		}
	}
}

func (x *Executor) command(ctx context.Context, c engine.Command) error {
	switch c.Op {
	case engine.OpStart:
		return x.pbx.StartRecording(ctx, c.Channel, c.Name, c.Format)
	case engine.OpPause:
		return x.pbx.PauseRecording(ctx, c.Name)
	case engine.OpResume:
		return x.pbx.ResumeRecording(ctx, c.Name)
	case engine.OpStop:
		return x.pbx.StopRecording(ctx, c.Name)
	case engine.OpPrepare:
		return x.prep.PrepareRecording(ctx, c.Channel, c.Name)
	case engine.OpRelease:
		return x.prep.ReleasePrepared(ctx, c.Name)
	case engine.OpPlay:
		return x.pbx.Play(ctx, c.Channels, c.Prompt)
	case engine.OpHangup:
		return x.pbx.Hangup(ctx, c.Channel)
	}
	return errors.New("executor: unknown PBX command")
}

// write applies the batch's writes in order. A call row written several
// times in one batch is written once, with its last state, where it was
// first written: rows are whole (an update is idempotent), and the
// recordings that follow need its id.
func (x *Executor) write(ctx context.Context, fx []engine.Effect) {
	last := map[engine.RowKey]int{}
	for i, f := range fx {
		if w, ok := f.(engine.WriteCall); ok && w.Key != 0 {
			last[w.Key] = i
		}
	}
	done := map[engine.RowKey]bool{}
	var ended []engine.RowKey
	for _, f := range fx {
		switch w := f.(type) {
		case engine.WriteCall:
			if w.Key != 0 {
				if done[w.Key] {
					continue
				}
				done[w.Key] = true
				w = fx[last[w.Key]].(engine.WriteCall)
				if !w.Row.End.IsZero() {
					ended = append(ended, w.Key)
				}
			}
			x.writeCall(ctx, w)
		case engine.WriteRecording:
			x.writeRecording(ctx, w)
		case engine.SetAutoRecord:
			if err := x.records.SetUserAutoRecord(ctx, w.Tenant, w.User, w.Enabled); err != nil {
				x.log.Error("executor: *26: set the user's automatic recording", "user", w.User, "err", err)
			}
		case engine.ControlRefused:
			if x.refused != nil {
				x.refused(w.Reason)
			}
		case engine.RecordingFinal:
			delete(x.orphan, w.Row.UUID)
			if x.final != nil {
				x.final(x.withCallID(w.Row, w.Call))
			}
		}
	}
	for _, k := range ended {
		delete(x.ids, k)
	}
}

func (x *Executor) writeCall(ctx context.Context, w engine.WriteCall) {
	row := w.Row
	if row.ID == 0 {
		row.ID = x.ids[w.Key]
	}
	if row.ID != 0 {
		if w.Key != 0 {
			x.ids[w.Key] = row.ID
		}
		if err := x.records.UpdateCall(ctx, row); err != nil {
			x.log.Error("executor: update call", "call_id", row.ID, "err", err)
		}
		return
	}
	id, err := x.records.CreateCall(ctx, row)
	if err != nil {
		// The key's next write tries again.
		x.log.Error("executor: create call", "pbx_call_id", row.PBXCallID, "err", err)
		return
	}
	x.ids[w.Key] = id
	x.eng.CallStored(w.Key, id)
}

func (x *Executor) writeRecording(ctx context.Context, w engine.WriteRecording) {
	row := x.withCallID(w.Row, w.Call)
	if row.CallID == 0 {
		x.log.Error("executor: recording row without its call row (the call row could not be created)", "recording", row.UUID)
		x.orphan[row.UUID] = true
		return
	}
	if w.New || x.orphan[row.UUID] {
		if err := x.records.CreateRecording(ctx, row); err != nil {
			x.log.Error("executor: create recording", "recording", row.UUID, "err", err)
			x.orphan[row.UUID] = true
			return
		}
		delete(x.orphan, row.UUID)
		return
	}
	if err := x.records.UpdateRecording(ctx, row); err != nil {
		x.log.Error("executor: update recording", "recording", row.UUID, "err", err)
	}
}

// withCallID fills a recording row's call id (and the file name that
// carries it) from the call row created for key.
func (x *Executor) withCallID(row engine.RecordingRow, key engine.RowKey) engine.RecordingRow {
	if row.CallID != 0 || key == 0 {
		return row
	}
	if id := x.ids[key]; id != 0 {
		row.CallID = id
		row.Filename = recording.Filename(row.Start, id, row.UUID, row.Format)
	}
	return row
}
