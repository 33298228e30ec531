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

// MaxQuick bounds how many waits in a row may start away (see Wait): a PBX
// whose probe answers while its dial keeps failing the "not up yet" way is
// then given the whole backoff, not redialled five times a second forever.
const MaxQuick = 5

// Wait waits d, or less: when probe (a cheap request to the PBX, bounded
// by ProbeEvery) fails and later succeeds, the PBX is back (a restart, a
// network cut that ended) and Wait returns at once, whatever the backoff
// had grown to. away says the dial that failed already showed the PBX away
// or still starting (no answer, or Asterisk's 503 while its modules load):
// then the first probe it answers ends the wait. Otherwise a PBX that
// answers the probe all along (the dial failed for another reason: a
// refused login, a replaced application) gets the whole wait, so a refused
// dial never turns into a fast loop. A nil probe, or d no longer than
// ProbeEvery, is a plain wait. Wait returns ctx's error if ctx ends first.
func Wait(ctx context.Context, d time.Duration, probe func(context.Context) error, away bool, log *slog.Logger) error {
	wait := time.NewTimer(d)
	defer wait.Stop()
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
			return ctx.Err()
		case <-wait.C:
			return nil
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
				return nil
			}
		}
	}
}
