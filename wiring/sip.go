package wiring

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/sipctl"
)

// buildSIP records the configured SIP realm in the index (credentials set
// over the API or the CLI are hashed for it) and, when sip.enabled, binds
// the SIP listener on the executor and the store, its counter on the
// registry. nil when disabled.
func buildSIP(ctx context.Context, cfg config.Config, sys *System, log *slog.Logger) (*sipctl.Listener, error) {
	stale, err := sys.Store.SetSIPRealm(ctx, cfg.SIP.Realm)
	if err != nil {
		return nil, fmt.Errorf("sip.realm: %w", err)
	}
	if stale > 0 {
		log.Warn("SIP credentials were stored for another realm and cannot authenticate until their password is set again",
			"count", stale, "realm", cfg.SIP.Realm)
	}
	if !cfg.SIP.Enabled {
		return nil, nil
	}
	var tlsConf *tls.Config
	if cfg.SIP.ListenTLS != "" {
		cert, err := tls.LoadX509KeyPair(cfg.SIP.TLSCert, cfg.SIP.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("sip.tls_cert: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := sipctl.New(sipctl.Config{UDP: cfg.SIP.ListenUDP, TCP: cfg.SIP.ListenTCP, TLS: cfg.SIP.ListenTLS,
		TLSConfig: tlsConf, Realm: cfg.SIP.Realm, Trusted: cfg.SIP.TrustedNets(), Controller: sys.Executor,
		Credentials: sys.Store, Audit: sys.Store, Logger: log.With("component", "sip")})
	if err != nil {
		return nil, err
	}
	for _, c := range l.Collectors() {
		if err := sys.Registry.Register(c); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// runSIP serves the SIP listener until ctx ends (nothing when disabled).
func (s *System) runSIP(ctx context.Context) error {
	if s.SIP == nil {
		return nil
	}
	return s.SIP.Run(ctx)
}
