package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/callrecd/callrecd/api"
	"github.com/callrecd/callrecd/ari"
	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/internal/spool"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func newServeCmd(g *globals) *cobra.Command {
	var listen, storageRoot string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: PBX link, recording engine, REST API, retention",
		Long: `Run callrecd: open (and migrate) the index, register the configured tenants, keep the
PBX link up (reconnecting with backoff while the PBX is away), drive recordings by the
tenants' rules, serve the REST API, /healthz, /readyz and /metrics on http.listen, and
apply each tenant's recording retention daily. Stops cleanly on SIGINT/SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			extra := map[string]any{}
			if listen != "" {
				extra["http.listen"] = listen
			}
			if storageRoot != "" {
				extra["storage.root"] = storageRoot
			}
			cfg, err := g.load(extra)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, newLogger(cfg, cmd.ErrOrStderr()))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "HTTP listen address (overrides http.listen)")
	cmd.Flags().StringVar(&storageRoot, "storage-root", "", "recordings root (overrides storage.root)")
	return cmd
}

// pbxLink is what serve needs of a PBX adapter.
type pbxLink interface {
	Run(ctx context.Context) error
	Connected() bool
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	s, err := openServeStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, t := range cfg.Tenants {
		created, err := s.EnsureTenant(ctx, t.UUID, t.Name, cfg.Defaults.FeatureCodes)
		if err != nil {
			return fmt.Errorf("tenant %s from the configuration: %w", t.UUID, err)
		}
		if created {
			log.Info("tenant registered with default settings", "tenant", t.UUID, "name", t.Name)
		}
	}
	root, err := filepath.Abs(cfg.Storage.Root)
	if err != nil {
		return fmt.Errorf("storage.root: %w", err)
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return fmt.Errorf("storage.root: %w", err)
	}

	reg := prometheus.NewRegistry()
	metrics, err := api.NewMetrics(reg)
	if err != nil {
		return err
	}
	guard := newDiskGuard(media.Guard{Root: root, Floor: cfg.Storage.Floor()}, reg, log)
	if _, err := guard.guard.Check(); err != nil {
		log.Error("storage is below its free-space floor: new recordings will be refused", "err", err)
	}

	checkTranscoder(ctx, s, log)

	var link pbxLink
	var eng *engine.Engine // what the API's call control drives
	switch cfg.PBX.Type {
	case "asterisk":
		al := newARILink(cfg, root, s, guard, metrics, log)
		link, eng = al, al.engine
		al.register(reg)
	default:
		return fmt.Errorf("pbx.type %s: the FreeSWITCH adapter is not built yet; use asterisk", cfg.PBX.Type)
	}

	contexts := map[string]string{}
	for _, t := range cfg.Tenants {
		if len(t.Contexts) > 0 {
			contexts[t.UUID] = t.Contexts[0]
		}
	}
	handler, err := api.New(api.Options{Store: s, StorageRoot: root, Calls: eng, Logger: log,
		Registry: reg, Metrics: metrics, Contexts: contexts,
		Ready: func() error {
			if !link.Connected() {
				return errors.New("disconnected")
			}
			return nil
		}})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Info("callrecd serving", "http", ln.Addr().String(), "db", cfg.Database.Path, "storage", root, "pbx", cfg.PBX.Type)

	grp, ctx := errgroup.WithContext(ctx)
	grp.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	grp.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	grp.Go(func() error {
		if err := link.Run(ctx); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	grp.Go(func() error {
		err := media.Retention{Root: root, Index: s, Log: log.With("component", "retention")}.RunDaily(ctx)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	err = grp.Wait()
	log.Info("callrecd stopped")
	return err
}

// openServeStore opens the index, applying migrations when allowed.
func openServeStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
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

// ariLink is the Asterisk side of serve: the ARI adapter feeding the engine
// (store-backed settings and records) and the collector that moves finished
// recordings from Asterisk's spool into the storage layout.
type ariLink struct {
	adapter   *ari.Adapter
	engine    *engine.Engine
	collector *spool.Collector
	metrics   *api.Metrics
	records   store.ForEngine
	log       *slog.Logger
}

func newARILink(cfg config.Config, root string, s *store.Store, guard *diskGuard, metrics *api.Metrics, log *slog.Logger) *ariLink {
	ast := cfg.PBX.Asterisk
	m := ari.Mapping{TrunkEndpoints: cfg.Trunks.Endpoints, TrunkEndpointPrefixes: cfg.Trunks.EndpointPrefixes}
	for _, t := range cfg.Tenants {
		m.Tenants = append(m.Tenants, ari.TenantRule{UUID: t.UUID, Contexts: t.Contexts,
			EndpointPrefixes: t.EndpointPrefixes, Default: t.Default})
	}
	plog := log.With("pbx", "asterisk")
	adapter := ari.NewAdapter(ari.Config{URL: ast.URL, Username: ast.Username, Password: ast.Password, App: ast.App,
		RequestTimeout: cfg.PBX.RequestTimeout, ConnectTimeout: cfg.PBX.ConnectTimeout,
		MaxBackoff: cfg.PBX.ReconnectMaxBackoff, Mapping: m}, plog)
	coll := spool.New(ast.RecordingSpool, root, s, log.With("component", "spool"))
	coll.Transcoder = media.Transcoder{}
	coll.Idle, coll.Forget = adapter.Idle, adapter.Forget
	adapter.OnIdle = coll.PBXIdle
	fe := store.ForEngine{S: s}
	eng := engine.New(engine.Config{PBX: guard.wrapPBX(adapter), Settings: fe,
		Records: guard.wrapRecords(spool.Records{Records: fe, C: coll}),
		Logger:  log.With("component", "engine")})
	return &ariLink{adapter: adapter, engine: eng, collector: coll, metrics: metrics, records: fe, log: plog}
}

func (l *ariLink) Connected() bool { return l.adapter.Connected() }

// register exposes the adapter's and the collector's counters: a tripped
// watchdog or a file that could not be moved needs an administrator.
func (l *ariLink) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_pbx_watchdog_trips_total",
			Help: "Times the ARI watchdog found the link dead while it looked up, and forced a reconnect."},
			func() float64 { return float64(l.adapter.WatchdogTrips()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_recording_files_moved_total",
			Help: "Finished recordings moved from the PBX spool into the storage layout."},
			func() float64 { moved, _ := l.collector.Stats(); return float64(moved) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_recording_files_failed_total",
			Help: "Finished recordings that could not be moved or indexed (the file stays in the spool; alert on it)."},
			func() float64 { _, failed := l.collector.Stats(); return float64(failed) }),
	)
}

func (l *ariLink) Run(ctx context.Context) error {
	// Files a previous run left in the spool for ended recordings are
	// moved first: a crash between a recording's end and its move loses
	// nothing.
	if _, err := l.collector.Recover(ctx, l.records.FindRecording); err != nil {
		l.log.Error("cannot read the recording spool", "err", err)
	}
	done := make(chan struct{})
	go func() { l.collector.Run(ctx); close(done) }()
	err := l.adapter.Run(ctx, &countingHandler{next: l.engine, metrics: l.metrics})
	<-done // the store closes after serve returns: let queued moves finish first
	return err
}

// checkTranscoder warns at start when a tenant records in MP3 or AMR but
// ffmpeg or its encoders are missing: those recordings will stay in WAV.
func checkTranscoder(ctx context.Context, s *store.Store, log *slog.Logger) {
	tenants, err := s.ListTenants(ctx)
	if err != nil {
		return
	}
	for _, t := range tenants {
		if t.Format == store.FormatWAV {
			continue
		}
		if err := (media.Transcoder{}).Check(ctx); err != nil {
			log.Error("a tenant records in a compressed format but transcoding is unavailable; recordings stay in WAV "+
				"(run scripts/install-media-deps)", "tenant", t.UUID, "format", t.Format, "err", err)
		}
		return
	}
}
