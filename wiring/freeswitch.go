package wiring

import (
	"context"
	"log/slog"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/esl"
	"github.com/callrecd/callrecd/media"
	"github.com/callrecd/callrecd/media/spool"
	"github.com/callrecd/callrecd/store"
	"github.com/prometheus/client_golang/prometheus"
)

// freeswitchLink is the FreeSWITCH side: the ESL adapter and the collector
// that moves finished uuid_record files into the storage layout, exactly
// as on Asterisk (same names, same index, same transcoding).
type freeswitchLink struct {
	adapter   *esl.Adapter
	collector *spool.Collector
	store     *store.Store
	log       *slog.Logger
}

func newFreeSWITCHLink(cfg config.Config, root string, s *store.Store, opts Options, log *slog.Logger) linkParts {
	fs := cfg.PBX.FreeSWITCH
	m := esl.Mapping{TrunkProfiles: cfg.Trunks.Profiles, TrunkGateways: cfg.Trunks.Gateways,
		OutsideCall: cfg.Trunks.OutsideCall, IgnoreProfiles: fs.IgnoreProfiles}
	for _, t := range cfg.Tenants {
		m.Tenants = append(m.Tenants, esl.TenantRule{UUID: t.UUID, Domains: t.Domains, Contexts: t.Contexts, Default: t.Default})
	}
	pbxDir := fs.RecordingDirOnPBX
	if pbxDir == "" {
		pbxDir = fs.RecordingDir
	}
	acfg := esl.AdapterConfig{Address: fs.Address, Password: fs.Password, RecordingDir: pbxDir, Mapping: m,
		ConnectTimeout: cfg.PBX.ConnectTimeout, CommandTimeout: cfg.PBX.RequestTimeout,
		HeartbeatTimeout: fs.HeartbeatTimeout, MaxBackoff: cfg.PBX.ReconnectMaxBackoff}
	if opts.TuneESL != nil {
		opts.TuneESL(&acfg)
	}
	plog := log.With("pbx", "freeswitch")
	adapter := esl.NewAdapter(acfg, plog)
	coll := spool.New(fs.RecordingDir, root, s, log.With("component", "spool"))
	coll.Transcoder = media.Transcoder{}
	coll.Idle, coll.Forget = adapter.Idle, adapter.Forget
	adapter.SetIdle(coll.PBXIdle)
	l := &freeswitchLink{adapter: adapter, collector: coll, store: s, log: plog}
	return linkParts{link: l, pbx: adapter, final: coll.Final, esl: adapter, transfersLeaveLegAlone: true,
		index: spool.SeenIndex{Index: store.ForEngine{S: s}, C: coll}}
}

func (l *freeswitchLink) Ready() error { return l.adapter.Ready() }

// Reconnects counts the event socket's connections after the first.
func (l *freeswitchLink) Reconnects() int64 { return l.adapter.Stats().Reconnects }

// register exposes the adapter's and the collector's counters (reconnects
// are counted for every PBX by the API's metrics).
func (l *freeswitchLink) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "callrecd_pbx_command_failures_total",
			Help: "FreeSWITCH commands refused or unanswered."},
			func() float64 { return float64(l.adapter.Stats().Failures) }))
	reg.MustRegister(collectorMetrics(l.collector)...)
}

func (l *freeswitchLink) Run(ctx context.Context, h handler) error {
	return runCollected(ctx, l.collector, l.store, l.log, func(ctx context.Context) error { return l.adapter.Run(ctx, h) })
}
