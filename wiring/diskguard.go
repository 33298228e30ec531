package wiring

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/prometheus/client_golang/prometheus"
)

// diskGuard is the engine's veto on new recordings (engine.Config.MayStart)
// while the storage is below its free-space floor: the engine fails such a
// recording with the reason, callrecd logs and counts it, and the API keeps
// serving. Recordings already running continue, re-arms included (the
// engine only asks for new ones).
//
// The engine asks with its lock held, so the answer comes from a cache at
// most guardTTL old: statfs is cheap, but not free on a busy PBX, and a
// disk does not fill in a quarter of a second.
type diskGuard struct {
	guard   media.Guard
	log     *slog.Logger
	refused prometheus.Counter
	low     prometheus.Gauge
	now     func() time.Time

	mu      sync.Mutex
	checked time.Time
	err     error
}

const guardTTL = 250 * time.Millisecond

func newDiskGuard(g media.Guard, reg prometheus.Registerer, log *slog.Logger) *diskGuard {
	d := &diskGuard{guard: g, log: log, now: time.Now,
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "callrecd_recordings_refused_low_disk_total",
			Help: "New recordings refused because the storage was below storage.min_free."}),
		low: prometheus.NewGauge(prometheus.GaugeOpts{Name: "callrecd_storage_below_floor",
			Help: "1 while the storage is below storage.min_free (alert on it)."}),
	}
	reg.MustRegister(d.refused, d.low)
	return d
}

// MayStart says whether a new recording may start now.
func (d *diskGuard) MayStart() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now := d.now(); d.checked.IsZero() || now.Sub(d.checked) >= guardTTL {
		_, d.err = d.guard.Check()
		d.checked = now
		if d.err != nil {
			d.low.Set(1)
		} else {
			d.low.Set(0)
		}
	}
	if d.err != nil {
		d.refused.Inc()
		d.log.Error("recording refused: storage below its free-space floor", "err", d.err)
	}
	return d.err
}

// storageRecheck is how often a storage below its floor is checked again
// for space (only while it is below: no statfs otherwise).
const storageRecheck = time.Second

// watchRecovery calls recheck every storageRecheck until ctx ends.
func (d *diskGuard) watchRecovery(ctx context.Context, h handler) {
	t := time.NewTicker(storageRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.recheck(ctx, h)
		}
	}
}

// recheck looks at a storage last seen below its floor again; when it is
// back above, the engine hears StorageRecovered and records the calls it
// had to refuse meanwhile (nothing that must be recorded stays unrecorded
// once there is room).
func (d *diskGuard) recheck(ctx context.Context, h handler) {
	d.mu.Lock()
	wasLow := d.err != nil
	if wasLow {
		_, d.err = d.guard.Check()
		d.checked = d.now()
		if d.err == nil {
			d.low.Set(0)
		}
	}
	back := wasLow && d.err == nil
	d.mu.Unlock()
	if back {
		d.log.Info("storage above its free-space floor again: recording the calls refused meanwhile")
		h.Handle(ctx, engine.StorageRecovered{})
	}
}
