// Package redial is the wait between two dials of a PBX link (ARI's
// events websocket, FreeSWITCH's event socket): a backoff that is cut
// short when the PBX, probed while callrecd waits, comes back. Without it
// a PBX away for 20 s is dialled again up to 16 s after it returned, and
// every call answered meanwhile starts unrecorded.
package redial

import (
	"context"
	"log/slog"
	"time"
)

// ProbeEvery is how often the probe is tried while waiting.
const ProbeEvery = 200 * time.Millisecond

// MaxQuick bounds how many waits in a row a dial that showed the PBX away
// may cut short (see Waiter): a PBX whose probe answers while its dial keeps
// failing the "not up yet" way is then given the whole backoff, not
// redialled five times a second until it connects.
const MaxQuick = 5

// Waiter is one link's wait between dials.
type Waiter struct {
	Probe func(context.Context) error // nil: plain waits
	Log   *slog.Logger                // nil: silent
	quick int                         // waits cut short in a row since the last connection
}

// Wait waits d, or less, after a failed dial; away says that dial showed
// the PBX away or still starting (no answer, or Asterisk's 503 while its
// modules load): then the first probe the PBX answers ends the wait (at
// most MaxQuick times in a row before a connection holds).
func (w *Waiter) Wait(ctx context.Context, d time.Duration, away bool) error {
	away = away && w.quick < MaxQuick
	short, err := wait(ctx, d, w.Probe, away, w.Log)
	if short && away {
		w.quick++
	}
	return err
}

// Connected says a connection was made: the next waits may be cut short again.
func (w *Waiter) Connected() { w.quick = 0 }

// wait waits d, or less: when probe (a cheap request to the PBX, bounded
// by ProbeEvery) fails and later succeeds, the PBX is back (a restart, a
// network cut that ended) and wait returns at once, whatever the backoff
// had grown to; with away, the first answered probe ends it. Otherwise a
// PBX that answers the probe all along (the dial failed for another reason:
// a refused login, a replaced application) gets the whole wait, so a
// refused dial never turns into a fast loop. A nil probe, or d no longer
// than ProbeEvery, is a plain wait. short reports that the wait was cut
// short; err is ctx's error if ctx ended first.
func wait(ctx context.Context, d time.Duration, probe func(context.Context) error, away bool, log *slog.Logger) (short bool, err error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var tick <-chan time.Time
	if probe != nil && d > ProbeEvery {
		t := time.NewTicker(ProbeEvery)
		defer t.Stop()
		tick = t.C
	}
	down := away
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-timer.C:
			return false, nil
		case <-tick:
			pctx, cancel := context.WithTimeout(ctx, ProbeEvery)
			err := probe(pctx)
			cancel()
			if err != nil {
				down = true
			} else if down {
				if log != nil {
					log.Info("the PBX answers again; reconnecting now")
				}
				return true, nil
			}
		}
	}
}
