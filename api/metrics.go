package api

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are callrecd's Prometheus collectors. The daemon feeds the PBX
// side (EventHandled, PBXReconnected); the API measures HTTP itself and reads
// live calls and recordings by state at scrape time.
type Metrics struct {
	events     *prometheus.CounterVec
	reconnects prometheus.Counter
	refused    *prometheus.CounterVec
	httpDur    *prometheus.HistogramVec
}

// NewMetrics registers the collectors on reg (with the Go and process
// collectors).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callrecd_events_handled_total",
			Help: "PBX events handled by the engine, by event type."}, []string{"type"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "callrecd_pbx_reconnects_total",
			Help: "Times the PBX link was re-established after being lost."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "callrecd_recording_control_refused_total",
			Help: "Requests to control a recording from a phone that were refused, by reason (not_a_party: a SIP MESSAGE from somebody who is not an internal party of that call)."},
			[]string{"reason"}),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "callrecd_http_request_duration_seconds",
			Help:    "HTTP request latency by route template, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}},
			[]string{"method", "route", "code"}),
	}
	for _, c := range []prometheus.Collector{m.events, m.reconnects, m.refused, m.httpDur,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// EventHandled counts one PBX event of the given type (e.g. "ChannelCreated").
func (m *Metrics) EventHandled(eventType string) { m.events.WithLabelValues(eventType).Inc() }

// PBXReconnected counts one re-established PBX link.
func (m *Metrics) PBXReconnected() { m.reconnects.Inc() }

// ControlRefused counts a refused recording control (executor.Config.Refused).
func (m *Metrics) ControlRefused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// watch registers the scrape-time gauges: the PBX link, live calls and
// recordings by state.
func (m *Metrics) watch(reg prometheus.Registerer, st *store.Store, calls CallControl, ready func() error) error {
	// 1 while the PBX link is up and re-synced (ready nil: always), so a
	// dead link can be alerted on.
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callrecd_pbx_connected",
		Help: "1 while the PBX link is up and re-synced, else 0."}, func() float64 {
		if ready == nil || ready() == nil {
			return 1
		}
		return 0
	})); err != nil {
		return err
	}
	if calls != nil {
		if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "callrecd_live_calls",
			Help: "Calls in progress that the engine follows."}, func() float64 { return float64(len(calls.Calls(""))) })); err != nil {
			return err
		}
	}
	return reg.Register(&recordingStates{store: st})
}

// recordingStates reports recordings by state, counted at most every 10 s
// (the count reads the whole index).
type recordingStates struct {
	store *store.Store
	mu    sync.Mutex
	at    time.Time
	last  map[string]int
}

var recordingsDesc = prometheus.NewDesc("callrecd_recordings",
	"Recordings in the index by state; a deleted recording counts as deleted only.", []string{"state"}, nil)

// stateDeleted is the metric's state of a deleted recording (deleted is a
// flag of the row, not a recording.State).
const stateDeleted = "deleted"

func (r *recordingStates) Describe(ch chan<- *prometheus.Desc) { ch <- recordingsDesc }

func (r *recordingStates) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil || time.Since(r.at) > 10*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := r.store.RecordingStateCounts(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(recordingsDesc, err)
			return
		}
		r.last, r.at = counts, time.Now()
	}
	for _, st := range recording.States() {
		ch <- prometheus.MustNewConstMetric(recordingsDesc, prometheus.GaugeValue, float64(r.last[string(st)]), string(st))
	}
	ch <- prometheus.MustNewConstMetric(recordingsDesc, prometheus.GaugeValue, float64(r.last[stateDeleted]), stateDeleted)
}

// observe times every request by route template (not raw path, so ids do
// not explode the label set).
func (s *server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		code := c.Response().Status
		if err != nil {
			if ae, ok := err.(*apiError); ok {
				code = ae.Status
			} else if he, ok := err.(*echo.HTTPError); ok {
				code = he.Code
			} else if !c.Response().Committed {
				code = 500
			}
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.httpDur.WithLabelValues(c.Request().Method, route, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
		return err
	}
}

func (s *server) metricsHandler() echo.HandlerFunc {
	return func(c echo.Context) error {
		h := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
