// Package sipctl is callrecd's own SIP endpoint for PortSIP's recording
// control: an out-of-dialog SIP MESSAGE, Content-Type
// application/x-media-control+json (or text/plain with the same JSON),
// body {"operation":"pause"|"resume","session_id":"<X-Session-Id>"}. It
// authenticates the sender (SIP digest against callrecd's stored HA1s, or a
// trusted source network), reads the body with mediactl and asks the
// executor to pause or resume; only an internal party of the call may.
//
// Methods: MESSAGE; OPTIONS answers 200 (phones and proxies probe with it
// as a keepalive); anything else 405 with Allow. A request inside a dialog
// (To tag) is 481: callrecd holds no dialogs.
//
// Answers to MESSAGE, checked in this order: 401 (no or bad credentials,
// with SHA-256 and MD5 challenges, qop=auth; stale=true for an expired or
// replayed nonce), 413 (body over 4 KiB), 415 (another Content-Type), 400
// (bad JSON, missing field, unknown operation), 404 (no live call has that
// session id — only ever after authentication, so ids cannot be probed),
// 403 (the sender is not an internal party of the call), 488 (not
// recording / not paused), 202 Accepted as PortSIP answers.
package sipctl

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/callrecd/callrecd/engine"
	"github.com/callrecd/callrecd/mediactl"
	"github.com/callrecd/callrecd/recording"
	"github.com/callrecd/callrecd/store"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// Controller carries out a request; *executor.Executor is one.
type Controller interface {
	ControlBySession(ctx context.Context, session string, op mediactl.Operation, sender string,
		who recording.StartedBy) (engine.RecordingInfo, error)
}

// Credentials finds a digest user; *store.Store is one. A missing user is
// store.ErrNotFound.
type Credentials interface {
	SIPCredentialByRealm(ctx context.Context, realm, username string) (store.SIPCredential, error)
}

// AuditLog records every pause and resume done; *store.Store is one.
type AuditLog interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error)
}

// Config configures a Listener.
type Config struct {
	// UDP, TCP and TLS are listen addresses (host:port); "" leaves that
	// transport off; at least one is required. TLS needs TLSConfig.
	UDP, TCP, TLS string
	TLSConfig     *tls.Config
	Realm         string // digest realm; required
	// Trusted networks' senders need no digest: the From URI's user is the
	// sender endpoint.
	Trusted     []*net.IPNet
	Controller  Controller  // required
	Credentials Credentials // required
	Audit       AuditLog    // nil: no audit entries
	Logger      *slog.Logger
	// NonceTTL is how long a challenge's nonce is good (default 5 min);
	// MaxNonces bounds the nonces whose counts are remembered (default
	// 65536, a few MB).
	NonceTTL  time.Duration
	MaxNonces int
	// RequestTimeout bounds the store and executor work of one request
	// (default 5 s).
	RequestTimeout time.Duration
	Now            func() time.Time
}

// Listener is the running SIP endpoint. New binds its sockets; Run serves.
type Listener struct {
	cfg     Config
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	nonces  *nonces
	metrics *metrics

	udp      net.PacketConn
	tcp, tls net.Listener

	mu     sync.Mutex
	runCtx context.Context // requests' parent once Run started
	closed bool
}

// New binds the configured addresses, so a port in use fails here, at
// start, naming the transport.
func New(cfg Config) (_ *Listener, err error) {
	switch {
	case cfg.UDP == "" && cfg.TCP == "" && cfg.TLS == "":
		return nil, errors.New("sipctl: no listen address")
	case cfg.TLS != "" && cfg.TLSConfig == nil:
		return nil, errors.New("sipctl: TLS address without a TLS configuration")
	case cfg.Realm == "":
		return nil, errors.New("sipctl: realm is required")
	case cfg.Controller == nil || cfg.Credentials == nil:
		return nil, errors.New("sipctl: Controller and Credentials are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NonceTTL <= 0 {
		cfg.NonceTTL = 5 * time.Minute
	}
	if cfg.MaxNonces <= 0 {
		cfg.MaxNonces = 1 << 16
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Listener{cfg: cfg, log: cfg.Logger, metrics: newMetrics(), runCtx: context.Background()}
	if l.nonces, err = newNonces(cfg.NonceTTL, cfg.MaxNonces, cfg.Now); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if cfg.UDP != "" {
		if l.udp, err = net.ListenPacket("udp", cfg.UDP); err != nil {
			return nil, fmt.Errorf("sip.listen_udp: %w", err)
		}
	}
	if cfg.TCP != "" {
		if l.tcp, err = net.Listen("tcp", cfg.TCP); err != nil {
			return nil, fmt.Errorf("sip.listen_tcp: %w", err)
		}
	}
	if cfg.TLS != "" {
		if l.tls, err = tls.Listen("tcp", cfg.TLS, cfg.TLSConfig); err != nil {
			return nil, fmt.Errorf("sip.listen_tls: %w", err)
		}
	}
	if l.ua, err = sipgo.NewUA(sipgo.WithUserAgent("callrecd"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(cfg.Logger)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(cfg.Logger))); err != nil {
		return nil, err
	}
	if l.srv, err = sipgo.NewServer(l.ua, sipgo.WithServerLogger(cfg.Logger)); err != nil {
		return nil, err
	}
	l.srv.OnMessage(l.onMessage)
	l.srv.OnOptions(l.onOptions)
	l.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {}) // nothing to acknowledge: no answer
	l.srv.OnNoRoute(l.onOther)
	return l, nil
}

// UDPAddr, TCPAddr and TLSAddr are the bound addresses (nil when off).
func (l *Listener) UDPAddr() net.Addr {
	if l.udp == nil {
		return nil
	}
	return l.udp.LocalAddr()
}

// TCPAddr: see UDPAddr.
func (l *Listener) TCPAddr() net.Addr {
	if l.tcp == nil {
		return nil
	}
	return l.tcp.Addr()
}

// TLSAddr: see UDPAddr.
func (l *Listener) TLSAddr() net.Addr {
	if l.tls == nil {
		return nil
	}
	return l.tls.Addr()
}

// Collectors are the listener's Prometheus metrics
// (callrecd_sip_message_total{result}).
func (l *Listener) Collectors() []prometheus.Collector {
	return []prometheus.Collector{l.metrics.total}
}

// Run serves until ctx ends (then nil) or a transport fails.
func (l *Listener) Run(ctx context.Context) error {
	l.mu.Lock()
	l.runCtx = ctx
	l.mu.Unlock()
	l.log.Info("SIP listener serving", "udp", addrString(l.UDPAddr()), "tcp", addrString(l.TCPAddr()),
		"tls", addrString(l.TLSAddr()), "realm", l.cfg.Realm, "trusted_networks", len(l.cfg.Trusted))
	errc := make(chan error, 3)
	serving := 0
	serve := func(name string, f func() error) {
		serving++
		go func() {
			err := f()
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("sip %s: %w", name, err)
			} else {
				err = nil
			}
			errc <- err
		}()
	}
	if l.udp != nil {
		serve("udp", func() error { return l.srv.ServeUDP(l.udp) })
	}
	if l.tcp != nil {
		serve("tcp", func() error { return l.srv.ServeTCP(l.tcp) })
	}
	if l.tls != nil {
		serve("tls", func() error { return l.srv.ServeTLS(l.tls) })
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
		serving--
	}
	l.Close()
	for ; serving > 0; serving-- {
		if err := <-errc; first == nil {
			first = err
		}
	}
	return first
}

// Close stops every transport; safe to call more than once.
func (l *Listener) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	if l.udp != nil {
		_ = l.udp.Close()
	}
	if l.tcp != nil {
		_ = l.tcp.Close()
	}
	if l.tls != nil {
		_ = l.tls.Close()
	}
	if l.ua != nil {
		_ = l.ua.Close()
	}
}

func (l *Listener) requestContext() (context.Context, context.CancelFunc) {
	l.mu.Lock()
	parent := l.runCtx
	l.mu.Unlock()
	return context.WithTimeout(parent, l.cfg.RequestTimeout)
}

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}
