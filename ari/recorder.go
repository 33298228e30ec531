package ari

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// recorder runs callrecd's recordings on the PBX. A recording is a series
// of parts in one spool file (<name>.wav, appended), each recorded on a
// snoop of ours ("callrecd-<name>-<part>", spy both) on the leg the engine
// chose; a spare snoop made while the call rings (PrepareRecording) is part
// 0, so that the answer costs one request.
//
// Commands never run on the event loop: each recording (and each channel,
// for prompts and hang-ups) has its own ordered queue drained by a
// goroutine, so a slow or blocked REST call delays only what must come
// after it. The event loop tells the recorder what the PBX did through the
// translator's notes (recordingEvent).
type recorder struct {
	pbx        *pbx
	finishWait time.Duration   // bound on a part's RecordingFinished (after a stop, before an append)
	ctx        context.Context // the commands' context (Run's, never cancelled)
	// emit hands the engine an event of the recorder's own (a start that
	// failed); idle tells that a recording has no live part and no queued
	// command. Both are called without locks.
	emit func(ctx context.Context, ev engine.Event)
	idle func(name string)

	mu     sync.Mutex
	queues map[string]*workQueue // by recording name, "channel:<id>", "spare:<snoop id>"
	recs   map[string]*recordingParts
	spares map[string]*spare // recording name → its spare snoop (PrepareRecording)
}

// recordingParts is what the recorder knows of one recording: its parts.
type recordingParts struct {
	part  part
	parts int // number of its last part (the suffix of that part's snoop id)
}

// spare is a snoop made before the answer (PrepareRecording) for the
// recording the engine expects to start on its channel: StartRecording then
// only has to issue the record. Its id is the recording's part 0
// ("callrecd-<name>-0"), so a re-sync after a restart adopts a recording
// made on it like any other part, and finds a spare left unused.
type spare struct {
	id, channel, name string
	ready             <-chan struct{} // closed at the snoop's StasisStart
	state             spareState      // (recorder.mu)
}

type workQueue struct {
	jobs    []func(context.Context)
	running bool
}

func newRecorder(p *pbx, finishWait time.Duration, emit func(context.Context, engine.Event), idle func(string)) *recorder {
	return &recorder{pbx: p, finishWait: finishWait, ctx: context.Background(), emit: emit, idle: idle,
		queues: map[string]*workQueue{}, recs: map[string]*recordingParts{}, spares: map[string]*spare{}}
}

// ---- what the engine asks (each returns at once) ----

func (r *recorder) start(channelID, name, format string) {
	r.mu.Lock()
	r.recLocked(name)
	r.mu.Unlock()
	r.enqueue(name, func(ctx context.Context) { r.startPart(ctx, channelID, name, format) })
}

func (r *recorder) prepare(channelID, name string) {
	r.mu.Lock()
	if r.spares[name] != nil {
		r.mu.Unlock()
		return
	}
	sp := &spare{id: SnoopPrefix + name + "-0", channel: channelID, name: name, state: spareAsked}
	sp.ready = r.pbx.snoops.expect(sp.id)
	r.spares[name] = sp
	r.mu.Unlock()
	// On the recording's queue: StartRecording and ReleasePrepared come after.
	r.enqueue(name, func(ctx context.Context) { r.makeSpare(ctx, sp) })
}

// release drops the spare of name unless a start records on it.
func (r *recorder) release(name string) {
	r.mu.Lock()
	sp := r.spares[name]
	if sp == nil || sp.state == spareTaken {
		r.mu.Unlock()
		return
	}
	r.unlistSpareLocked(sp)
	r.mu.Unlock()
	r.enqueue(name, func(ctx context.Context) { r.dropSpare(ctx, sp) })
}

func (r *recorder) pause(name string) {
	r.enqueue(name, func(ctx context.Context) { r.liveCommand(ctx, http.MethodPost, name, "/pause") })
}

func (r *recorder) resume(name string) {
	r.enqueue(name, func(ctx context.Context) { r.liveCommand(ctx, http.MethodDelete, name, "/pause") })
}

func (r *recorder) stop(name string) {
	r.enqueue(name, func(ctx context.Context) { r.stopPart(ctx, name) })
}

// ---- ordered command queues ----

func (r *recorder) enqueue(key string, job func(context.Context)) {
	r.mu.Lock()
	q := r.queues[key]
	if q == nil {
		q = &workQueue{}
		r.queues[key] = q
	}
	q.jobs = append(q.jobs, job)
	start := !q.running
	q.running = true
	r.mu.Unlock()
	if start {
		go r.drain(key, q)
	}
}

func (r *recorder) drain(key string, q *workQueue) {
	for {
		r.mu.Lock()
		if len(q.jobs) == 0 {
			q.running = false
			if r.queues[key] == q {
				delete(r.queues, key)
			}
			idle := r.recs[key] != nil && r.idleLocked(key)
			r.mu.Unlock()
			if idle {
				r.idle(key)
			}
			return
		}
		job := q.jobs[0]
		q.jobs[0] = nil
		q.jobs = q.jobs[1:]
		r.mu.Unlock()
		r.pbx.commands.Add(1)
		job(r.ctx)
	}
}

// queued counts the commands waiting in all queues.
func (r *recorder) queued() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.queues {
		n += len(q.jobs)
	}
	return n
}

// ---- what the recorder knows ----

func (r *recorder) recLocked(name string) *recordingParts {
	rec := r.recs[name]
	if rec == nil {
		rec = &recordingParts{}
		r.recs[name] = rec
	}
	return rec
}

// idleLocked: no live part and nothing queued for the recording.
func (r *recorder) idleLocked(name string) bool {
	rec := r.recs[name]
	q := r.queues[name]
	return (rec == nil || rec.part.state == partIdle) && (q == nil || !q.running && len(q.jobs) == 0)
}

func (r *recorder) isIdle(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idleLocked(name)
}

// forget drops a finished recording (one that is idle).
func (r *recorder) forget(name string) {
	r.mu.Lock()
	if r.idleLocked(name) {
		delete(r.recs, name)
	}
	r.mu.Unlock()
}

// unlistSpareLocked takes sp off offer: nobody will record on it.
func (r *recorder) unlistSpareLocked(sp *spare) {
	if r.spares[sp.name] == sp {
		delete(r.spares, sp.name)
	}
	sp.state = sp.state.on(spareReleased)
}

// ---- what the PBX did (from the event loop) ----

// recordingEvent applies a note about a recording (started or ended on its
// target) and reports whether callrecd had asked for the end of that
// recording's part: then an end is callrecd's own, not the PBX's.
func (r *recorder) recordingEvent(n note) (asked bool) {
	r.mu.Lock()
	rec := r.recs[n.name]
	if rec == nil {
		if _, _, ours := parseSnoopID(n.target); !ours {
			r.mu.Unlock()
			return false
		}
		rec = r.recLocked(n.name)
	}
	idle := false
	if n.kind == noteRecordingStarted {
		rec.part.started(n.target)
	} else {
		asked = rec.part.asked() // before the part ends, which forgets it
		if n.failed {
			r.pbx.log.Warn("ARI: recording failed", "name", n.name, "cause", n.cause)
		}
		if rec.part.endedOn(n.target) {
			idle = r.idleLocked(n.name)
		}
	}
	r.mu.Unlock()
	if idle {
		r.idle(n.name)
	}
	return asked
}

// withPart returns the names of the recordings that have a current part.
func (r *recorder) withPart() map[string]bool {
	names := map[string]bool{}
	r.mu.Lock()
	for name, rec := range r.recs {
		if rec.part.snoop != "" {
			names[name] = true
		}
	}
	r.mu.Unlock()
	return names
}

// resync brings the recorder's view in line with a full read of the PBX:
// chans its channels, live the recordings found live, gone the names the
// recorder knew or the snoops showed that are not live any more.
func (r *recorder) resync(chans []Channel, live []LiveRecording, gone []string) {
	var idle []string
	liveNames := map[string]bool{}
	for _, lr := range live {
		liveNames[lr.Name] = true
	}
	present := map[string]bool{}
	for _, ch := range chans {
		present[ch.ID] = true
	}
	r.mu.Lock()
	// Spares: those of channels gone are forgotten; a spare snoop nobody
	// tracks (left by a previous run) and not recording is deleted.
	tracked := map[string]bool{}
	for _, sp := range r.spares {
		if !present[sp.channel] {
			r.unlistSpareLocked(sp)
			continue
		}
		tracked[sp.id] = true
	}
	var orphans []string
	for _, ch := range chans {
		name, part, ok := parseSnoopID(ch.ID)
		switch {
		case !ok || liveNames[name] || tracked[ch.ID]:
		case part == 0:
			if rec := r.recs[name]; rec == nil || rec.part.snoop != ch.ID {
				orphans = append(orphans, ch.ID)
			}
		default:
			// A part's snoop that records nothing: an earlier run ended
			// between stopping that part and deleting it. The next part of
			// the recording (the engine may take it back) must not reuse
			// its id.
			if rec := r.recLocked(name); rec.part.snoop != ch.ID {
				rec.parts = max(rec.parts, part)
				orphans = append(orphans, ch.ID)
			}
		}
	}
	for _, lr := range live {
		rec := r.recLocked(lr.Name)
		rec.part.started(targetChannel(lr.TargetURI))
		if _, n, ok := parseSnoopID(rec.part.snoop); ok && n > rec.parts {
			rec.parts = n
		}
	}
	for _, name := range gone {
		if rec := r.recs[name]; rec != nil {
			rec.part.end()
			if r.idleLocked(name) {
				idle = append(idle, name)
			}
		}
	}
	r.mu.Unlock()
	for _, name := range idle {
		r.idle(name)
	}
	for _, id := range orphans {
		r.pbx.log.Info("ARI: deleting a snoop left unused", "snoop", id)
		r.enqueue("orphan:"+id, func(ctx context.Context) { r.pbx.deleteChannel(ctx, id) })
	}
}
