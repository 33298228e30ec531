package sipctl

import (
	"context"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/store"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// results are every label callrecd_sip_message_total takes, created at
// zero so a dashboard sees them before the first one happens.
var results = []string{"accepted", "options", "challenged", "auth_failed", "stale_nonce", "replayed_nonce",
	"bad_request", "unsupported_media_type", "too_large", "method_not_allowed", "in_dialog", "not_a_party",
	"unknown_session", "wrong_state", "error"}

type metrics struct {
	total *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callrecd_sip_message_total",
		Help: "SIP requests to callrecd's SIP listener, by outcome (accepted, challenged, auth_failed, not_a_party, …).",
	}, []string{"result"})}
	for _, r := range results {
		m.total.WithLabelValues(r)
	}
	return m
}

func (m *metrics) count(result string) { m.total.WithLabelValues(result).Inc() }

// audit writes the pause or resume to the audit log, as the REST API's
// call control does (action recording.pause|resume), with source
// sip_message. The recording has already changed, so a failed write is
// logged, not answered as a failure: the phone retrying would toggle again.
func (l *Listener) audit(ctx context.Context, req *sip.Request, who sender, r mediactl.Request, info engine.RecordingInfo) {
	if l.cfg.Audit == nil {
		return
	}
	_, err := l.cfg.Audit.AppendAudit(ctx, store.AuditEntry{At: l.cfg.Now(), TenantUUID: info.Tenant, Actor: who.actor,
		Action: "recording." + string(r.Operation), ObjectType: "recording", ObjectID: info.UUID, RemoteAddr: req.Source(),
		Details: map[string]any{"source": "sip_message", "session_id": r.SessionID, "endpoint": who.endpoint,
			"transport": req.Transport(), "sip_call_id": callID(req)}})
	if err != nil {
		l.log.Error("audit entry of a SIP MESSAGE not written", "recording", info.UUID, "err", err)
	}
}
