// Package api is callrecd's REST API: Wazo-shaped settings (confd 1.1), call
// control (calld 1.0) and history (call-logd 1.0), callrecd's own endpoints,
// health, Prometheus metrics and the OpenAPI document, with token auth and
// tenancy. Handlers are thin: parse, call the store or the engine, render.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// CallControl is what the API asks of the engine: live calls and recording
// control by call reference (a channel id — Wazo's call_id —, a PBX call id
// or a CDR id), scoped to a tenant ("" = any). *executor.Executor satisfies
// it: the engine decides, the executor applies.
type CallControl interface {
	Calls(tenant string) []engine.CallInfo
	Call(tenant, ref string) (engine.CallInfo, error)
	StartRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error)
	StopRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error)
	PauseRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error)
	ResumeRecording(ctx context.Context, tenant, ref string, who recording.StartedBy) (engine.RecordingInfo, error)
}

// Options configures the API.
type Options struct {
	Store *store.Store // required
	// StorageRoot is the absolute recordings root
	// (<root>/tenants/<tenant>/monitor/<file>). Required.
	StorageRoot string
	// Calls controls live calls; nil answers 503 on call-control routes.
	Calls CallControl
	// Ready reports the PBX link state for /readyz; nil = always linked.
	Ready  func() error
	Logger *slog.Logger // nil = slog.Default()
	// Registry receives the metrics and is served on /metrics; nil = a
	// fresh registry.
	Registry *prometheus.Registry
	// Metrics are the collectors the daemon feeds (events, reconnects);
	// nil = NewMetrics(Registry).
	Metrics *Metrics
	// PublicMetrics serves /metrics without a token (for a scraper on a
	// trusted network); otherwise a system token is required.
	PublicMetrics bool
	// Contexts maps a tenant to its dialplan context, shown as the CDR's
	// *_internal_context fields; a missing tenant shows DefaultContext.
	Contexts       map[string]string
	DefaultContext string // "" = "default"
	Now            func() time.Time
	// TrustedProxies are the peers (reverse proxies) whose X-Forwarded-For
	// and X-Real-IP name the client (http.trusted_proxies). A request from
	// any other peer is the peer's, whatever it claims: the audit log's
	// remote_addr cannot be forged.
	TrustedProxies []*net.IPNet
	// Exports runs bulk exports and schedules; nil answers 503 where work
	// would start (status and download still read the store).
	Exports Exporter
	// UI is the web page (web.Handler), served at /ui/ with GET / sent
	// there; nil serves no page.
	UI http.Handler
	// CacheDir holds what the web page's routes derive from recordings
	// (MP3 copies of AMR ones); "" = "cache" next to the database file.
	CacheDir string
	// Space reads the free space of the storage root for the dashboard;
	// nil = media.FreeSpace(StorageRoot).
	Space func() (media.Space, error)
	// MinFree is storage.min_free, shown on the dashboard.
	MinFree media.Floor
}

// maxBody is the largest request body accepted.
const maxBody = 1 << 20

type server struct {
	store    *store.Store
	root     string
	calls    CallControl
	ready    func() error
	log      *slog.Logger
	metrics  *Metrics
	reg      *prometheus.Registry
	contexts map[string]string
	defCtx   string
	now      func() time.Time
	public   bool
	routes   []route
	exports  Exporter
	web      *webMedia // the web page's media routes and dashboard
	proxies  []*net.IPNet
}

// New builds the API. Serve the returned *echo.Echo as an http.Handler.
func New(opts Options) (*echo.Echo, error) {
	if opts.Store == nil {
		return nil, errors.New("api: Options.Store is required")
	}
	if opts.Metrics != nil && opts.Registry == nil {
		return nil, errors.New("api: Options.Metrics needs the Registry it was registered on")
	}
	if !filepath.IsAbs(opts.StorageRoot) {
		return nil, fmt.Errorf("api: storage root %q must be an absolute path", opts.StorageRoot)
	}
	s := &server{store: opts.Store, root: opts.StorageRoot, calls: opts.Calls, ready: opts.Ready,
		log: opts.Logger, metrics: opts.Metrics, reg: opts.Registry, contexts: opts.Contexts,
		defCtx: opts.DefaultContext, now: opts.Now, public: opts.PublicMetrics, exports: opts.Exports,
		proxies: opts.TrustedProxies}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	if s.metrics == nil {
		m, err := NewMetrics(s.reg)
		if err != nil {
			return nil, err
		}
		s.metrics = m
	}
	if s.defCtx == "" {
		s.defCtx = "default"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.metrics.watch(s.reg, s.store, s.calls, s.ready); err != nil {
		return nil, err
	}
	web, err := newWebMedia(opts, s.reg)
	if err != nil {
		return nil, err
	}
	s.web = web

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientIP(opts.TrustedProxies)
	e.Use(middleware.RequestID())
	e.Use(s.logRequests())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic in handler", "err", err, "request_id", requestID(c), "stack", string(stack))
			return err
		}}))
	e.Use(s.observe)
	e.Use(middleware.BodyLimit("1M"))

	s.routes = s.routeTable()
	for _, r := range s.routes {
		e.Add(r.method, r.path, s.exportAuth(r, s.guard(r)))
	}
	if opts.UI != nil {
		ui := echo.WrapHandler(opts.UI)
		e.Any("/ui", ui)
		e.Any("/ui/*", ui)
		e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/ui/") })
	}
	return e, nil
}

// logRequests logs every request with its id, route, status and latency.
func (s *server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, LogRequestID: true,
		LogRemoteIP: true, LogError: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			switch route := c.Path(); {
			case route == "/readyz" || route == "/healthz":
				// Probes: every few seconds, and a 503 is an answer, not a
				// failure (the PBX link's loss is logged where it happens).
				level = slog.LevelDebug
			case v.Status >= 500:
				level = slog.LevelError
			}
			attrs := []slog.Attr{slog.String("request_id", v.RequestID), slog.String("method", v.Method),
				slog.String("path", v.URIPath), slog.String("route", c.Path()), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("remote", v.RemoteIP)}
			if p, ok := c.Get(principalKey).(*principal); ok {
				attrs = append(attrs, slog.String("actor", p.actor()))
			}
			if v.Error != nil && v.Status >= 500 {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			s.log.LogAttrs(c.Request().Context(), level, "http request", attrs...)
			return nil
		},
	})
}

// clientIP is the client's address: the socket peer, or what a trusted
// proxy forwarded (the nearest untrusted address of X-Forwarded-For, else
// X-Real-IP). echo's own extractors trust private and loopback peers by
// default; here only the configured ranges are.
func clientIP(proxies []*net.IPNet) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(p))
	}
	xff, real := echo.ExtractIPFromXFFHeader(opts...), echo.ExtractIPFromRealIPHeader(opts...)
	return func(r *http.Request) string {
		if len(r.Header[echo.HeaderXForwardedFor]) > 0 {
			return xff(r)
		}
		return real(r)
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
