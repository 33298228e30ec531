package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/recording"
)

// recorder carries the engine's commands out on FreeSWITCH. A recording is
// one file, <dir>/<name>.wav, written by uuid_record on the leg the engine
// chose; a part on another leg (after the recorded leg left) appends to it
// (RECORD_APPEND). Pause and resume are FreeSWITCH's own (1.10.7+): the
// paused time is absent from the file, as on Asterisk.
//
// Commands never run on the event loop: each recording and each channel
// has its own ordered queue drained by a goroutine (serial), so one slow
// reply delays only what must come after it.
type recorder struct {
	dir     string // where FreeSWITCH writes, as FreeSWITCH sees it
	prompts map[engine.Prompt]string
	api     func(ctx context.Context, cmd string) (string, error) // the live connection's API
	emit    func(ctx context.Context, ev engine.Event)            // events of the recorder's own (a refused start)
	idle    func(name string)                                     // a recording has no live part and nothing queued
	log     *slog.Logger
	// playWait bounds the wait for a prompt's PLAYBACK_STOP before the
	// channel's next command (a hang-up) runs.
	playWait time.Duration

	q serial

	mu       sync.Mutex
	recs     map[string]*fsRecording
	playing  map[string]chan struct{} // channel → closed at its PLAYBACK_STOP
	maskOnly atomic.Bool              // this FreeSWITCH has no pause/resume (before 1.10.7): mask instead

	commands atomic.Int64
	failures atomic.Int64
}

// fsRecording is what the recorder knows of one recording.
type fsRecording struct {
	channel string // the leg its current part records
	parts   int    // parts started (the second and later append)
	live    bool   // RECORD_START seen, RECORD_STOP not yet
	queued  int    // commands queued or running
}

func (r *recorder) path(name string) string { return path.Join(r.dir, name+".wav") }

func (r *recorder) recLocked(name string) *fsRecording {
	fr := r.recs[name]
	if fr == nil {
		fr = &fsRecording{}
		r.recs[name] = fr
	}
	return fr
}

// run queues job on recording name's queue, counting it as pending work.
func (r *recorder) run(name string, job func(ctx context.Context, fr *fsRecording)) {
	r.mu.Lock()
	fr := r.recLocked(name)
	fr.queued++
	r.mu.Unlock()
	r.q.enqueue(name, func(ctx context.Context) {
		job(ctx, fr)
		r.mu.Lock()
		fr.queued--
		idle := fr.queued == 0 && !fr.live
		r.mu.Unlock()
		if idle && r.idle != nil {
			r.idle(name)
		}
	})
}

func (r *recorder) do(ctx context.Context, cmd string) (string, error) {
	r.commands.Add(1)
	reply, err := r.api(ctx, cmd)
	if err != nil {
		r.failures.Add(1)
	}
	return reply, err
}

// ---- engine.PBX ----

func (r *recorder) StartRecording(_ context.Context, channelID, name string, _ recording.Format) error {
	r.run(name, func(ctx context.Context, fr *fsRecording) {
		r.mu.Lock()
		fr.channel = channelID
		fr.parts++
		appendPart := fr.parts > 1
		r.mu.Unlock()
		if appendPart {
			if _, err := r.do(ctx, "uuid_setvar "+channelID+" RECORD_APPEND true"); err != nil {
				r.log.Warn("FreeSWITCH: cannot ask for an appended part", "recording", name, "channel", channelID, "err", err)
			}
		}
		// FreeSWITCH records WAV; the collector transcodes after the move.
		_, err := r.do(ctx, "uuid_record "+channelID+" start "+r.path(name))
		var refused *CommandError
		switch {
		case err == nil:
		case errors.As(err, &refused) || errors.Is(err, ErrDisconnected):
			// FreeSWITCH said no, or the command never left: it did not start.
			r.log.Warn("FreeSWITCH: recording not started", "recording", name, "channel", channelID, "err", err)
			r.emit(ctx, engine.RecordingFailed{Name: name, Channel: channelID, Reason: "uuid_record start: " + err.Error(),
				ChannelGone: gone(err)})
		default:
			// Sent, but the answer was lost with the connection: FreeSWITCH
			// may well be recording. The re-sync after the redial tells
			// (uuid_buglist), and the engine adopts it or finds it lost.
			r.log.Warn("FreeSWITCH: no answer to a recording start; the re-sync will tell whether it runs",
				"recording", name, "channel", channelID, "err", err)
		}
	})
	return nil
}

func (r *recorder) StopRecording(_ context.Context, name string) error {
	r.run(name, func(ctx context.Context, fr *fsRecording) {
		r.mu.Lock()
		ch := fr.channel
		r.mu.Unlock()
		if ch == "" {
			return
		}
		if _, err := r.do(ctx, "uuid_record "+ch+" stop "+r.path(name)); err != nil && !gone(err) {
			r.log.Warn("FreeSWITCH: recording not stopped", "recording", name, "channel", ch, "err", err)
		}
	})
	return nil
}

func (r *recorder) PauseRecording(_ context.Context, name string) error {
	r.pauseOrResume(name, "pause", "mask")
	return nil
}

func (r *recorder) ResumeRecording(_ context.Context, name string) error {
	r.pauseOrResume(name, "resume", "unmask")
	return nil
}

// pauseOrResume uses FreeSWITCH's pause/resume; a build without them
// (before 1.10.7) answers with its usage text, and mask/unmask (silence in
// the file instead of a gap) is used from then on.
func (r *recorder) pauseOrResume(name, verb, fallback string) {
	r.run(name, func(ctx context.Context, fr *fsRecording) {
		r.mu.Lock()
		ch := fr.channel
		r.mu.Unlock()
		if ch == "" {
			return
		}
		if !r.maskOnly.Load() {
			_, err := r.do(ctx, "uuid_record "+ch+" "+verb+" "+r.path(name))
			var ce *CommandError
			if err == nil || gone(err) || !errors.As(err, &ce) || !strings.HasPrefix(ce.Reply, "-USAGE") {
				if err != nil && !gone(err) {
					r.log.Warn("FreeSWITCH: recording "+verb+" failed", "recording", name, "channel", ch, "err", err)
				}
				return
			}
			r.maskOnly.Store(true)
			r.log.Warn("FreeSWITCH has no uuid_record pause/resume (before 1.10.7): paused spans are masked (silence in the file) instead",
				"reply", ce.Reply)
		}
		if _, err := r.do(ctx, "uuid_record "+ch+" "+fallback+" "+r.path(name)); err != nil && !gone(err) {
			r.log.Warn("FreeSWITCH: recording "+fallback+" failed", "recording", name, "channel", ch, "err", err)
		}
	})
}

func (r *recorder) Play(_ context.Context, channelIDs []string, p engine.Prompt) error {
	file := r.prompts[p]
	if file == "" {
		return fmt.Errorf("no sound for prompt %s", p)
	}
	for _, ch := range channelIDs {
		r.q.enqueue("channel:"+ch, func(ctx context.Context) {
			done := r.expectPlayback(ch)
			if _, err := r.do(ctx, "uuid_broadcast "+ch+" "+file+" aleg"); err != nil {
				r.cancelPlayback(ch)
				if !gone(err) {
					r.log.Warn("FreeSWITCH: prompt not played", "channel", ch, "prompt", p, "err", err)
				}
				return
			}
			select { // the next command of this channel (a hang-up) waits for the prompt's end
			case <-done:
			case <-time.After(r.playWait):
				r.cancelPlayback(ch)
			}
		})
	}
	return nil
}

func (r *recorder) Hangup(_ context.Context, channelID string) error {
	r.q.enqueue("channel:"+channelID, func(ctx context.Context) {
		if _, err := r.do(ctx, "uuid_kill "+channelID); err != nil && !gone(err) {
			r.log.Warn("FreeSWITCH: hang-up failed", "channel", channelID, "err", err)
		}
	})
	return nil
}

// gone: FreeSWITCH no longer has the channel (it hung up meanwhile); the
// command has nothing left to do.
func gone(err error) bool {
	var ce *CommandError
	if !errors.As(err, &ce) {
		return false
	}
	return strings.Contains(ce.Reply, "No such channel") || strings.Contains(ce.Reply, "Cannot locate session")
}

func (r *recorder) expectPlayback(ch string) <-chan struct{} {
	done := make(chan struct{})
	r.mu.Lock()
	r.playing[ch] = done
	r.mu.Unlock()
	return done
}

func (r *recorder) cancelPlayback(ch string) {
	r.mu.Lock()
	delete(r.playing, ch)
	r.mu.Unlock()
}

// ---- what FreeSWITCH reported (from the event loop) ----

// observe updates the recorder from an event before the engine sees it.
func (r *recorder) observe(ev Event) {
	switch ev.Name {
	case "RECORD_START", "RECORD_STOP":
		name, ok := recordingName(ev.Get("Record-File-Path"))
		if !ok {
			return
		}
		r.mu.Lock()
		fr := r.recLocked(name)
		fr.live = ev.Name == "RECORD_START"
		if fr.live {
			fr.channel = ev.Get("Unique-ID")
		}
		idle := !fr.live && fr.queued == 0
		r.mu.Unlock()
		if idle && r.idle != nil {
			r.idle(name)
		}
	case "PLAYBACK_STOP", "CHANNEL_HANGUP":
		ch := ev.Get("Unique-ID")
		r.mu.Lock()
		done := r.playing[ch]
		delete(r.playing, ch)
		r.mu.Unlock()
		if done != nil {
			close(done)
		}
	}
}

// adopt takes the live recordings a re-sync found: each one's leg and the
// fact that it runs; every other recording has no live part any more.
func (r *recorder) adopt(live []engine.LiveRecording) (nowIdle []string) {
	r.mu.Lock()
	seen := map[string]bool{}
	for _, lr := range live {
		fr := r.recLocked(lr.Name)
		fr.channel, fr.live = lr.Channel, true
		if fr.parts == 0 {
			fr.parts = 1
		}
		seen[lr.Name] = true
	}
	for name, fr := range r.recs {
		if !seen[name] && fr.live {
			fr.live = false
			if fr.queued == 0 {
				nowIdle = append(nowIdle, name)
			}
		}
	}
	r.mu.Unlock()
	for _, name := range nowIdle {
		if r.idle != nil {
			r.idle(name)
		}
	}
	return nowIdle
}

// Idle reports whether recording name has no live part and nothing queued
// (the collector may move its file).
func (r *recorder) Idle(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	fr := r.recs[name]
	return fr == nil || !fr.live && fr.queued == 0
}

// Forget drops what the recorder knows of a recording whose file was moved.
func (r *recorder) Forget(name string) {
	r.mu.Lock()
	if fr := r.recs[name]; fr != nil && !fr.live && fr.queued == 0 {
		delete(r.recs, name)
	}
	r.mu.Unlock()
}

// serial runs jobs in order per key, different keys concurrently; a key's
// goroutine ends when its queue is empty.
type serial struct {
	mu     sync.Mutex
	queues map[string][]func(context.Context)
}

func (s *serial) enqueue(key string, job func(context.Context)) {
	s.mu.Lock()
	if s.queues == nil {
		s.queues = map[string][]func(context.Context){}
	}
	q, running := s.queues[key]
	s.queues[key] = append(q, job)
	s.mu.Unlock()
	if !running {
		go s.drain(key)
	}
}

func (s *serial) drain(key string) {
	for {
		s.mu.Lock()
		q := s.queues[key]
		if len(q) == 0 {
			delete(s.queues, key)
			s.mu.Unlock()
			return
		}
		job := q[0]
		s.queues[key] = q[1:]
		s.mu.Unlock()
		job(context.Background())
	}
}
