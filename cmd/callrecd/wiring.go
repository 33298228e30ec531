package main

import (
	"context"
	"log/slog"
	"reflect"
	"sync"

	"github.com/callrecd/callrecd/api"
	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/prometheus/client_golang/prometheus"
)

// diskGuard refuses to start new recordings while the storage is below its
// free-space floor: the engine marks such a recording failed with the reason,
// callrecd logs it and counts it, and the API keeps serving. Recordings
// already running continue, including their re-arms on another leg.
type diskGuard struct {
	guard   media.Guard
	log     *slog.Logger
	refused prometheus.Counter
	low     prometheus.Gauge

	mu      sync.Mutex
	started map[string]bool // recording names allowed once (re-arms pass)
}

func newDiskGuard(g media.Guard, reg prometheus.Registerer, log *slog.Logger) *diskGuard {
	d := &diskGuard{guard: g, log: log, started: map[string]bool{},
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "callrecd_recordings_refused_low_disk_total",
			Help: "New recordings refused because the storage was below storage.min_free."}),
		low: prometheus.NewGauge(prometheus.GaugeOpts{Name: "callrecd_storage_below_floor",
			Help: "1 while the storage is below storage.min_free (alert on it)."}),
	}
	reg.MustRegister(d.refused, d.low)
	return d
}

// allow says whether recording name may start now.
func (d *diskGuard) allow(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started[name] {
		return nil
	}
	if _, err := d.guard.Check(); err != nil {
		d.low.Set(1)
		d.refused.Inc()
		d.log.Error("recording refused: storage below its free-space floor", "recording", name, "err", err)
		return err
	}
	d.low.Set(0)
	d.started[name] = true
	return nil
}

// wrapPBX guards p's StartRecording. The wrapper keeps p's optional
// engine.Preparer (the engine finds it by type assertion): preparing writes
// nothing, and a start the guard refuses makes the engine release it.
func (d *diskGuard) wrapPBX(p engine.PBX) engine.PBX {
	g := guardedPBX{PBX: p, guard: d}
	if pr, ok := p.(engine.Preparer); ok {
		return guardedPreparer{guardedPBX: g, Preparer: pr}
	}
	return g
}

// guardedPreparer is a guardedPBX whose PBX is also an engine.Preparer.
type guardedPreparer struct {
	guardedPBX
	engine.Preparer
}

func (d *diskGuard) wrapRecords(r engine.Records) engine.Records {
	return guardedRecords{Records: r, guard: d}
}

// guardedPBX is a PBX whose StartRecording first asks the disk guard.
type guardedPBX struct {
	engine.PBX
	guard *diskGuard
}

func (g guardedPBX) StartRecording(ctx context.Context, channelID, name, format string) (string, error) {
	if err := g.guard.allow(name); err != nil {
		return "", err
	}
	return g.PBX.StartRecording(ctx, channelID, name, format)
}

// guardedRecords tells the disk guard when a recording is over for good (the
// engine writes its final state), so its name no longer counts as started.
type guardedRecords struct {
	engine.Records
	guard *diskGuard
}

func (g guardedRecords) UpdateRecording(ctx context.Context, row engine.RecordingRow) error {
	if row.State == engine.StateStopped || row.State == engine.StateFailed {
		g.guard.mu.Lock()
		delete(g.guard.started, row.UUID)
		g.guard.mu.Unlock()
	}
	return g.Records.UpdateRecording(ctx, row)
}

// countingHandler feeds the engine and counts events for /metrics; every
// Snapshot after the first marks a re-established PBX link.
type countingHandler struct {
	next      ari.Handler
	metrics   *api.Metrics
	snapshots int
}

func (h *countingHandler) Handle(ctx context.Context, ev engine.Event) {
	h.metrics.EventHandled(reflect.TypeOf(ev).Name())
	if _, ok := ev.(engine.Snapshot); ok {
		if h.snapshots++; h.snapshots > 1 {
			h.metrics.PBXReconnected()
		}
	}
	h.next.Handle(ctx, ev)
}
