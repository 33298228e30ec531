package ari

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/callrecd/callrecd/engine"
)

// The recorder's commands. Each runs on its recording's queue, so the
// commands of one recording never overlap; REST calls are made without
// recorder.mu.

// fail reports a start that did not happen. err is the REST error, if one
// caused it: one with no HTTP status (the connection failed or was cut) says
// the PBX was unreachable rather than that it refused; a 404 on the snoop
// or its record says the channel is gone (the call hung up first).
func (r *recorder) fail(ctx context.Context, name, channelID, reason string, err error) {
	r.pbx.failures.Add(1)
	unreachable := err != nil && StatusOf(err) == 0 && ctx.Err() == nil
	gone := err != nil && StatusOf(err) == http.StatusNotFound
	r.pbx.log.Error("ARI: recording could not start", "name", name, "channel", channelID, "reason", reason,
		"pbx_unreachable", unreachable, "channel_gone", gone)
	r.emit(ctx, engine.RecordingFailed{Name: name, Channel: channelID, Reason: reason, Unreachable: unreachable, ChannelGone: gone})
}

func (r *recorder) makeSpare(ctx context.Context, sp *spare) {
	r.mu.Lock()
	toMake := sp.state.toMake()
	r.mu.Unlock()
	if !toMake {
		return // released before it was made; the release's job cleans up
	}
	q := url.Values{"spy": {"both"}, "app": {r.pbx.app}, "snoopId": {sp.id}, "appArgs": {"callrecd-spare"}}
	err := r.pbx.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(sp.channel)+"/snoop", q, nil, nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		sp.state = sp.state.on(spareSnoopMade)
		return
	}
	// StartRecording will make its own snoop.
	r.pbx.log.Info("ARI: spare snoop failed", "channel", sp.channel, "err", err)
	r.pbx.snoops.cancel(sp.id)
	sp.state = sp.state.on(spareSnoopRefused)
	if r.spares[sp.name] == sp {
		delete(r.spares, sp.name)
	}
}

// dropSpare deletes a spare's snoop (if it was made). Run on the
// recording's queue, after the job that made it.
func (r *recorder) dropSpare(ctx context.Context, sp *spare) {
	r.pbx.snoops.cancel(sp.id)
	r.mu.Lock()
	hasSnoop := sp.state.hasSnoop()
	r.mu.Unlock()
	if hasSnoop {
		r.pbx.deleteChannel(ctx, sp.id)
	}
}

// useSpare records the first part of name on its spare snoop, if it has
// one on channelID: at once if the snoop is in the application, else once
// it is (as a new snoop would be waited for). It reports false when the
// normal path must run (no spare, or the spare is unusable or on another
// channel: then it is deleted).
func (r *recorder) useSpare(ctx context.Context, channelID, name, format string) bool {
	r.mu.Lock()
	sp := r.spares[name]
	rec := r.recLocked(name)
	if sp == nil {
		r.mu.Unlock()
		return false
	}
	// A spare still to be made here would have been prepared after the
	// start (its job queued behind this one): the engine never does that
	// (a preparation has a fresh name); make no snoop for it.
	if sp.channel != channelID || rec.parts != 0 || rec.part.snoop != "" || sp.state != spareMade {
		r.unlistSpareLocked(sp)
		r.mu.Unlock()
		r.dropSpare(ctx, sp)
		return false
	}
	// Taken: the part is on it from now (a re-sync meanwhile keeps a snoop
	// that is a part's).
	sp.state = sp.state.on(spareStartTakes)
	if r.spares[name] == sp {
		delete(r.spares, name)
	}
	rec.part.begin(sp.id)
	r.mu.Unlock()
	entered, err := r.recordNewSnoop(ctx, sp.id, name, format, sp.ready)
	if entered && err == nil {
		return true
	}
	r.endPart(rec, sp.id)
	if !entered {
		r.pbx.log.Warn("ARI: spare snoop never entered the application; making another", "channel", channelID, "snoop", sp.id)
		r.dropSpare(ctx, sp)
		return false
	}
	r.pbx.log.Warn("ARI: record on the spare snoop failed; making another", "channel", channelID, "snoop", sp.id, "err", err)
	r.pbx.deleteChannel(ctx, sp.id)
	return false
}

// endPart ends rec's current part if it is the one on snoop sid (a record
// that did not happen).
func (r *recorder) endPart(rec *recordingParts, sid string) {
	r.mu.Lock()
	rec.part.endedOn(sid)
	r.mu.Unlock()
}

func (r *recorder) startPart(ctx context.Context, channelID, name, format string) {
	if r.useSpare(ctx, channelID, name, format) {
		return
	}
	r.mu.Lock()
	rec := r.recLocked(name)
	prev, prevDone := rec.part.snoop, rec.part.done
	r.mu.Unlock()
	if prev != "" && prevDone != nil {
		// Appending while the previous part is live is a 409: wait for its
		// RecordingFinished (it follows the spied leg's end by 1-3 ms).
		select {
		case <-prevDone:
		case <-time.After(r.finishWait):
			r.pbx.log.Warn("ARI: previous part of the recording still live; appending anyway", "name", name, "snoop", prev)
		}
	}
	r.mu.Lock()
	rec.parts++
	sid := SnoopPrefix + name + "-" + strconv.Itoa(rec.parts)
	ready := r.pbx.snoops.expect(sid)
	r.mu.Unlock()

	q := url.Values{"spy": {"both"}, "app": {r.pbx.app}, "snoopId": {sid}, "appArgs": {"callrecd-snoop"}}
	if err := r.pbx.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/snoop", q, nil, nil); err != nil {
		r.pbx.snoops.cancel(sid)
		r.fail(ctx, name, channelID, "snoop: "+err.Error(), err)
		return
	}
	r.mu.Lock()
	rec.part.begin(sid)
	r.mu.Unlock()
	entered, err := r.recordNewSnoop(ctx, sid, name, format, ready)
	if entered && err == nil {
		return
	}
	if !entered {
		r.pbx.snoops.cancel(sid)
	}
	r.endPart(rec, sid)
	r.pbx.deleteChannel(ctx, sid)
	if !entered {
		r.fail(ctx, name, channelID, "snoop channel never entered the application", nil)
		return
	}
	r.fail(ctx, name, channelID, "record: "+err.Error(), err)
}

// recordNewSnoop records snoop sid, just made (or a spare), into name.
// Asterisk puts a new snoop into the application before its StasisStart
// reaches callrecd, so the record is asked at once instead of after that
// event: in the lab bench its delivery was most of the answer →
// RecordingStarted tail (p50 3 ms, p99 12-23 ms at 50 calls). Only a 409
// (not in the application yet, or the previous part still live) waits for
// the StasisStart (at most snoopWait) and asks again; entered is false
// when it never came.
func (r *recorder) recordNewSnoop(ctx context.Context, sid, name, format string, ready <-chan struct{}) (entered bool, err error) {
	select {
	case <-ready:
		return true, r.record(ctx, sid, name, format)
	default:
	}
	if err = r.recordOnce(ctx, sid, name, format); StatusOf(err) != http.StatusConflict {
		return true, err
	}
	select {
	case <-ready:
		return true, r.record(ctx, sid, name, format)
	case <-time.After(r.pbx.snoopWait):
		return false, nil
	}
}

// record records snoop sid into name, retrying while a part of that name is
// still live (append refused).
func (r *recorder) record(ctx context.Context, sid, name, format string) error {
	deadline := time.Now().Add(r.finishWait)
	for {
		err := r.recordOnce(ctx, sid, name, format)
		if err == nil || StatusOf(err) != http.StatusConflict || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *recorder) recordOnce(ctx context.Context, sid, name, format string) error {
	rq := url.Values{"name": {name}, "format": {format}, "ifExists": {"append"}, "beep": {"false"}, "terminateOn": {"none"}}
	return r.pbx.rest.Do(ctx, http.MethodPost, "/channels/"+url.PathEscape(sid)+"/record", rq, nil, nil)
}

func (r *recorder) stopPart(ctx context.Context, name string) {
	r.mu.Lock()
	rec := r.recs[name]
	var sid string
	var done <-chan struct{}
	ok := false
	if rec != nil {
		sid, done, ok = rec.part.stop()
	}
	r.mu.Unlock()
	if !ok {
		return // the part already ended (its leg left) or never started
	}
	err := r.pbx.rest.Do(ctx, http.MethodPost, "/recordings/live/"+url.PathEscape(name)+"/stop", nil, nil, nil)
	if err != nil && StatusOf(err) != http.StatusNotFound {
		r.pbx.failures.Add(1)
		r.pbx.log.Warn("ARI: stop recording failed", "name", name, "err", err)
	}
	if err == nil {
		select {
		case <-done:
		case <-time.After(r.finishWait):
			r.pbx.log.Warn("ARI: no RecordingFinished after stop", "name", name)
		}
	}
	// Only now (the recording is over) a command to the snoop cannot block.
	r.pbx.deleteChannel(ctx, sid)
	r.mu.Lock()
	rec.part.endedOn(sid)
	r.mu.Unlock()
}

func (r *recorder) liveCommand(ctx context.Context, method, name, suffix string) {
	err := r.pbx.rest.Do(ctx, method, "/recordings/live/"+url.PathEscape(name)+suffix, nil, nil, nil)
	if err != nil {
		r.pbx.failures.Add(1)
		r.pbx.log.Warn("ARI: recording command failed", "name", name, "command", method+" "+suffix, "err", err)
	}
}
