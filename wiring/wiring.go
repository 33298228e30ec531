// Package wiring builds the running callrecd from a config.Config: the
// store, the engine and its executor, the PBX adapter with its file
// collector, the disk guard, the metrics and the API. `callrecd serve`, the
// lab integration harness and the load benches all start callrecd through
// Build, so what the tests prove is what runs.
//
// A PBX plugs in here as a pbxLink (asterisk.go); the engine does not
// change for it.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/callrecd/callrecd/api"
	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/executor"
	"github.com/callrecd/callrecd/export"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/sipctl"
	"github.com/callrecd/callrecd/store"
	"github.com/callrecd/callrecd/web"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// Options are what a caller controls beyond the configuration: tests and
// benches pick ports, clocks and timings here. The zero value is what
// serve uses.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Listener serves the API instead of a new listener on http.listen.
	Listener net.Listener
	// Clock is the engine's clock for requests that are not PBX events.
	Clock engine.Clock
	// TuneARI adjusts the ARI adapter's settings that the configuration
	// does not expose (e.g. a fast watchdog in tests).
	TuneARI func(*ari.Config)
	// TuneESL does the same for the FreeSWITCH adapter.
	TuneESL func(*esl.AdapterConfig)
	// Statfs reads the storage's free space (nil: the real disk); tests
	// fill the disk this way.
	Statfs func(path string) (media.Space, error)
}

// System is callrecd, built and ready to Run.
type System struct {
	Store    *store.Store
	Engine   *engine.Engine
	Executor *executor.Executor // the engine's call control, effects applied
	Metrics  *api.Metrics
	Registry *prometheus.Registry
	Root     string // storage.root, absolute
	// ARI is the Asterisk adapter (nil on another PBX), for tests and
	// benches that watch the link itself.
	ARI *ari.Adapter
	// ESL is the FreeSWITCH adapter (nil on another PBX).
	ESL *esl.Adapter
	// Exports builds bulk exports and fires their schedules.
	Exports *export.Service
	// SIP is the SIP MESSAGE listener (nil unless sip.enabled).
	SIP *sipctl.Listener

	cfg    config.Config
	log    *slog.Logger
	link   pbxLink
	guard  *diskGuard
	srv    *http.Server
	ln     net.Listener
	events *countingHandler
}

// pbxLink is one PBX's side of callrecd: an adapter that feeds events to a
// handler and carries out the engine's commands, plus whatever keeps its
// recordings' files (the Asterisk spool collector).
type pbxLink interface {
	// Run connects and feeds h until ctx ends; it returns ctx's error.
	Run(ctx context.Context, h handler) error
	// Ready is nil once the link is up and its first re-sync is handled.
	Ready() error
	// Reconnects counts the connections after the first.
	Reconnects() int64
	register(reg prometheus.Registerer)
}

type handler interface {
	Handle(ctx context.Context, ev engine.Event)
}

// Build opens (and, if allowed, migrates) the index, registers the
// configured tenants and builds every part. Nothing runs until Run; Close
// releases what Build opened (Run does not).
func Build(ctx context.Context, cfg config.Config, opts Options) (_ *System, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	sys := &System{Store: s, cfg: cfg, log: log, Registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			sys.Close()
		}
	}()
	for _, t := range cfg.Tenants {
		created, err := s.EnsureTenant(ctx, t.UUID, t.Name, cfg.Defaults.FeatureCodes)
		if err != nil {
			return nil, fmt.Errorf("tenant %s from the configuration: %w", t.UUID, err)
		}
		if created {
			log.Info("tenant registered with default settings", "tenant", t.UUID, "name", t.Name)
		}
	}
	if sys.Root, err = filepath.Abs(cfg.Storage.Root); err != nil {
		return nil, fmt.Errorf("storage.root: %w", err)
	}
	if err := os.MkdirAll(sys.Root, 0o750); err != nil {
		return nil, fmt.Errorf("storage.root: %w", err)
	}
	if sys.Metrics, err = api.NewMetrics(sys.Registry); err != nil {
		return nil, err
	}
	guard := newDiskGuard(media.Guard{Root: sys.Root, Floor: cfg.Storage.Floor(), Statfs: opts.Statfs}, sys.Registry, log)
	sys.guard = guard
	if opts.Clock != nil {
		guard.now = opts.Clock.Now
	}
	if err := guard.MayStart(); err != nil {
		log.Error("storage is below its free-space floor: new recordings will be refused", "err", err)
	}
	checkTranscoder(ctx, s, log)

	fe := store.ForEngine{S: s}
	var parts linkParts
	switch cfg.PBX.Type {
	case "asterisk":
		parts = newAsteriskLink(cfg, sys.Root, s, opts, log)
		sys.ARI = parts.ari
	case "freeswitch":
		parts = newFreeSWITCHLink(cfg, sys.Root, s, opts, log)
		sys.ESL = parts.esl
	default:
		return nil, fmt.Errorf("pbx.type %q: must be asterisk or freeswitch", cfg.PBX.Type)
	}
	sys.Engine, err = engine.New(engine.Config{Settings: fe, Index: parts.index, Prepares: parts.preparer != nil,
		TransfersLeaveLegAlone: parts.transfersLeaveLegAlone, StartsAppend: parts.startsAppend,
		MayStart: guard.MayStart, Clock: opts.Clock, Logger: log.With("component", "engine")})
	if err != nil {
		return nil, err
	}
	sys.Executor, err = executor.New(executor.Config{Engine: sys.Engine, PBX: parts.pbx, Preparer: parts.preparer,
		Records: fe, Final: parts.final, Refused: sys.Metrics.ControlRefused, Logger: log.With("component", "executor")})
	if err != nil {
		return nil, err
	}
	sys.link = parts.link
	sys.link.register(sys.Registry)
	sys.events = &countingHandler{next: sys.Executor, metrics: sys.Metrics}

	if sys.Exports, err = buildExports(ctx, cfg, sys, opts, log); err != nil {
		return nil, err
	}
	if sys.SIP, err = buildSIP(ctx, cfg, sys, log); err != nil {
		return nil, err
	}
	handler, err := api.New(api.Options{Store: s, StorageRoot: sys.Root, Calls: sys.Executor, Logger: log,
		Registry: sys.Registry, Metrics: sys.Metrics, Contexts: firstContexts(cfg), Ready: sys.link.Ready,
		TrustedProxies: cfg.HTTP.TrustedProxyNets(), Exports: sys.Exports, UI: web.Handler(),
		// Derived media (MP3 copies of AMR recordings) next to the index, not
		// under storage.root: reindex would take them for recordings.
		CacheDir: filepath.Join(filepath.Dir(cfg.Database.Path), "cache"),
		MinFree:  cfg.Storage.Floor(),
		Space: func() (media.Space, error) {
			if opts.Statfs != nil { // what the disk guard reads, in tests too
				return opts.Statfs(sys.Root)
			}
			return media.FreeSpace(sys.Root)
		}})
	if err != nil {
		return nil, err
	}
	sys.ln = opts.Listener
	if sys.ln == nil {
		if sys.ln, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return nil, fmt.Errorf("http.listen: %w", err)
		}
	}
	sys.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	return sys, nil
}

// linkParts is what a PBX link gives the engine and the executor.
type linkParts struct {
	link     pbxLink
	pbx      engine.PBX
	preparer engine.Preparer // nil: the PBX cannot prepare recordings
	index    engine.Index
	final    func(engine.RecordingRow)
	ari      *ari.Adapter // the Asterisk adapter, for System.ARI
	esl      *esl.Adapter // the FreeSWITCH adapter, for System.ESL
	// transfersLeaveLegAlone, startsAppend: see engine.Config (FreeSWITCH,
	// Asterisk).
	transfersLeaveLegAlone bool
	startsAppend           bool
}

// firstContexts maps each tenant to its first Asterisk context (the
// features API shows it).
func firstContexts(cfg config.Config) map[string]string {
	out := map[string]string{}
	for _, t := range cfg.Tenants {
		if len(t.Contexts) > 0 {
			out[t.UUID] = t.Contexts[0]
		}
	}
	return out
}

// Addr is the API's listening address.
func (s *System) Addr() net.Addr { return s.ln.Addr() }

// Ready is nil once the PBX link is up and re-synced.
func (s *System) Ready() error { return s.link.Ready() }

// Run serves the API, keeps the PBX link up and applies retention daily,
// until ctx ends (nil then) or a part fails.
func (s *System) Run(ctx context.Context) error {
	s.log.Info("callrecd serving", "http", s.ln.Addr().String(), "db", s.cfg.Database.Path, "storage", s.Root, "pbx", s.cfg.PBX.Type)
	grp, ctx := errgroup.WithContext(ctx)
	grp.Go(func() error {
		serve := func() error { return s.srv.Serve(s.ln) }
		if s.cfg.HTTP.TLSCert != "" { // http.tls_cert/tls_key: HTTPS, as Wazo's clients expect
			serve = func() error { return s.srv.ServeTLS(s.ln, s.cfg.HTTP.TLSCert, s.cfg.HTTP.TLSKey) }
		}
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	grp.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.srv.Shutdown(shutdownCtx)
	})
	grp.Go(func() error {
		if err := s.link.Run(ctx, s.events); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	grp.Go(func() error {
		err := media.Retention{Root: s.Root, Index: s.Store, Log: s.log.With("component", "retention")}.RunDaily(ctx)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	grp.Go(func() error { return s.Exports.Run(ctx) })
	grp.Go(func() error { return s.runSIP(ctx) })
	grp.Go(func() error { s.guard.watchRecovery(ctx, s.events); return nil })
	grp.Go(func() error {
		doctorAfterReconnects(ctx, s.cfg, s.link.Reconnects, s.link.Ready, s.log.With("component", "doctor"))
		return nil
	})
	err := grp.Wait()
	s.log.Info("callrecd stopped")
	return err
}

// Close closes the index and the listener (after Run returned), once the
// rows still queued for the index are written.
func (s *System) Close() {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.SIP != nil {
		s.SIP.Close()
	}
	if s.Executor != nil {
		s.Executor.Close()
	}
	s.Store.Close()
}

// openStore opens the index, applying migrations when allowed.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.Database.Path), 0o750); err != nil {
		return nil, fmt.Errorf("database.path: %w", err)
	}
	if !cfg.Database.AutoMigrate {
		return store.OpenCurrent(ctx, cfg.Database.Path)
	}
	s, err := store.Open(ctx, cfg.Database.Path)
	if err != nil {
		return nil, err
	}
	applied, err := s.Migrate(ctx, 0)
	if err != nil {
		s.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "applied", applied)
	}
	return s, nil
}

// checkTranscoder warns at start when a tenant records in MP3 or AMR but
// ffmpeg or its encoders are missing: those recordings will stay in WAV.
func checkTranscoder(ctx context.Context, s *store.Store, log *slog.Logger) {
	tenants, err := s.ListTenants(ctx)
	if err != nil {
		return
	}
	for _, t := range tenants {
		if t.Format == string(recording.WAV) {
			continue
		}
		if err := (media.Transcoder{}).Check(ctx); err != nil {
			log.Error("a tenant records in a compressed format but transcoding is unavailable; recordings stay in WAV "+
				"(run scripts/install-media-deps)", "tenant", t.UUID, "format", t.Format, "err", err)
		}
		return
	}
}

// countingHandler feeds the executor and counts events for /metrics; every
// Snapshot after the first marks a re-established PBX link.
// It is called from the event loop and from the adapter's command queues.
type countingHandler struct {
	next      handler
	metrics   *api.Metrics
	snapshots atomic.Int64
}

func (h *countingHandler) Handle(ctx context.Context, ev engine.Event) {
	h.metrics.EventHandled(reflect.TypeOf(ev).Name())
	if _, ok := ev.(engine.Snapshot); ok && h.snapshots.Add(1) > 1 {
		h.metrics.PBXReconnected()
	}
	h.next.Handle(ctx, ev)
}
