package wiring

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/media/spool"
	"github.com/callrecd/callrecd/store"
	"github.com/prometheus/client_golang/prometheus"
)

// asteriskLink is the Asterisk side: the ARI adapter and the collector that
// moves finished recordings from Asterisk's spool into the storage layout.
// The adapter prepares recordings (spare snoops), so it is the executor's
// Preparer too.
type asteriskLink struct {
	adapter   *ari.Adapter
	collector *spool.Collector
	store     *store.Store
	log       *slog.Logger
}

func newAsteriskLink(cfg config.Config, root string, s *store.Store, opts Options, log *slog.Logger) linkParts {
	ast := cfg.PBX.Asterisk
	m := ari.Mapping{TrunkEndpoints: cfg.Trunks.Endpoints, TrunkEndpointPrefixes: cfg.Trunks.EndpointPrefixes}
	for _, t := range cfg.Tenants {
		m.Tenants = append(m.Tenants, ari.TenantRule{UUID: t.UUID, Contexts: t.Contexts,
			EndpointPrefixes: t.EndpointPrefixes, Default: t.Default})
	}
	acfg := ari.Config{URL: ast.URL, Username: ast.Username, Password: ast.Password, App: ast.App,
		RequestTimeout: cfg.PBX.RequestTimeout, ConnectTimeout: cfg.PBX.ConnectTimeout,
		MaxBackoff: cfg.PBX.ReconnectMaxBackoff, Mapping: m}
	if opts.TuneARI != nil {
		opts.TuneARI(&acfg)
	}
	plog := log.With("pbx", "asterisk")
	adapter := ari.NewAdapter(acfg, plog)
	coll := spool.New(spoolDir(ast.RecordingSpool, log), root, s, log.With("component", "spool"))
	stored := ari.NewREST(ast.URL, ast.Username, ast.Password, cfg.PBX.RequestTimeout)
	coll.Remote = ari.NewStoredRecordings(stored)
	coll.Transcoder = media.Transcoder{}
	coll.Idle, coll.Forget = adapter.Idle, adapter.Forget
	adapter.OnIdle = coll.PBXIdle
	l := &asteriskLink{adapter: adapter, collector: coll, store: s, log: plog}
	return linkParts{link: l, pbx: adapter, preparer: adapter, final: coll.Final, ari: adapter, startsAppend: true,
		index: spool.SeenIndex{Index: store.ForEngine{S: s}, C: coll}}
}

// spoolDir is the folder the collector reads Asterisk's recordings from, ""
// when it cannot (recording_spool: ari, or a folder this machine does not
// have: Asterisk runs elsewhere); then every file comes over ARI. It says
// which in the log, since it decides where a file waits when callrecd is
// down.
func spoolDir(configured string, log *slog.Logger) string {
	if configured == config.SpoolOverARI {
		log.Info("recording spool: fetched over ARI (/recordings/stored), deleted on Asterisk once placed", "recording_spool", configured)
		return ""
	}
	if _, err := os.ReadDir(configured); err != nil {
		log.Warn("recording spool not readable from this machine; fetching recordings over ARI instead (set recording_spool: ari to say so, or fix the folder)",
			"recording_spool", configured, "err", err)
		return ""
	}
	log.Info("recording spool: read from the folder; a file missing there is fetched over ARI", "recording_spool", configured)
	return configured
}

// Ready is nil once the events websocket is up and the engine got this
// connection's re-sync: until then its view is older than the PBX's.
func (l *asteriskLink) Ready() error {
	switch {
	case !l.adapter.Connected():
		return errors.New("disconnected")
	case l.adapter.Stats().Resyncs == 0:
		return errors.New("connected, first re-sync not read yet")
	case !l.adapter.Synced():
		return errors.New("reconnected, re-sync not handed to the engine yet")
	}
	return nil
}

// Reconnects counts the events websocket's connections after the first.
func (l *asteriskLink) Reconnects() int64 { return l.adapter.Stream().Reconnects() }

// register exposes the adapter's and the collector's counters: a tripped
// watchdog or a file that could not be moved needs an administrator.
func (l *asteriskLink) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_pbx_watchdog_trips_total",
			Help: "Times the ARI watchdog found the link dead while it looked up, and forced a reconnect."},
			func() float64 { return float64(l.adapter.WatchdogTrips()) }))
	reg.MustRegister(collectorMetrics(l.collector)...)
}

// collectorMetrics are the counters of a PBX link's file collector: a file
// that could not be moved needs an administrator.
func collectorMetrics(coll *spool.Collector) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_recording_files_moved_total",
			Help: "Finished recordings moved from the PBX spool into the storage layout."},
			func() float64 { moved, _ := coll.Stats(); return float64(moved) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_recording_files_failed_total",
			Help: "Finished recordings that could not be moved or indexed (the file stays in the spool; alert on it)."},
			func() float64 { _, failed := coll.Stats(); return float64(failed) }),
	}
}

func (l *asteriskLink) Run(ctx context.Context, h handler) error {
	return runCollected(ctx, l.collector, l.store, l.log, func(ctx context.Context) error { return l.adapter.Run(ctx, h) })
}

// runCollected runs a PBX adapter with the collector of its recording
// folder. Files a previous run left there for ended recordings are moved
// first: a crash between a recording's end and its move loses nothing.
func runCollected(ctx context.Context, coll *spool.Collector, s *store.Store, log *slog.Logger, run func(context.Context) error) error {
	if _, err := coll.Recover(ctx, store.ForEngine{S: s}); err != nil {
		log.Error("cannot read the recording spool", "err", err)
	}
	done := make(chan struct{})
	go func() { coll.Run(ctx); close(done) }()
	err := run(ctx)
	<-done // the store closes after Run returns: let queued moves finish first
	return err
}
