// Package lab drives callrecd's own Asterisk lab (scripts/asterisk-lab): a PBX instance
// (the system under test, ARI 127.0.0.1:8088) and a peer instance that plays the phones
// 1001..1004 and the carrier (ARI 127.0.0.1:8089).
//
//   - Driver places and answers real SIP calls through the peer's ARI, plays a distinct
//     tone per party, sends RFC 4733 DTMF, blind-transfers by SIP REFER and hangs up.
//   - PBX reads the PBX's ARI events websocket and issues the REST calls a test needs
//     (snoop, record, hang up).
//   - ReadWAV and DetectTones check recordings: duration and which parties are audible.
//
// Everything is loopback only, context-aware and bounded by per-request timeouts. The
// package builds without tags; the tests that need a running lab carry the build tag
// `lab` (go test -tags lab ./internal/lab/).
package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/callrecd/callrecd/ari"
)

// DefaultRequestTimeout bounds every ARI REST call unless a config says otherwise.
const DefaultRequestTimeout = 5 * time.Second

// Client is an ARI client for a lab instance: callrecd's own REST client
// (ari.REST) plus a loopback-only transport for the events websocket.
type Client struct {
	base    *url.URL // http://127.0.0.1:8088/ari
	user    string
	pass    string
	timeout time.Duration
	hc      *http.Client // websocket dials
	rest    *ari.REST
}

// IsStatus reports whether err is an ARI answer with the given HTTP status.
func IsStatus(err error, status int) bool { return ari.StatusOf(err) == status }

// NewClient returns a client for the ARI at baseURL (e.g. "http://127.0.0.1:8088").
// Only loopback addresses are accepted: the lab never leaves the machine.
func NewClient(baseURL, user, pass string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("lab: ARI URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("lab: ARI URL %q: want http://", baseURL)
	}
	if err := checkLoopback(u.Hostname()); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, "/ari") {
		u.Path += "/ari"
	}
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if err := checkLoopback(host); err != nil {
				return nil, err
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64, // reuse connections: Asterisk's HTTP session limit counts them
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &Client{base: u, user: user, pass: pass, timeout: timeout, hc: &http.Client{Transport: tr},
		rest: ari.NewREST(u.String(), user, pass, timeout)}, nil
}

func checkLoopback(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("lab: %q is not a loopback address (the lab is loopback only)", host)
	}
	return nil
}

// Do issues one ARI request (path relative to /ari, e.g. "/channels/x/answer") bounded by
// the client's request timeout and ctx, and decodes a JSON answer into out (if non-nil).
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.rest.Do(ctx, method, path, query, body, out)
}

// Ping checks that the ARI answers (GET /asterisk/ping).
func (c *Client) Ping(ctx context.Context) error {
	return c.Do(ctx, http.MethodGet, "/asterisk/ping", nil, nil, nil)
}

// EventsURL is the websocket URL of this ARI's events for app.
func (c *Client) EventsURL(app string, subscribeAll bool) string {
	u := *c.base
	u.Scheme = "ws"
	u.Path += "/events"
	q := url.Values{}
	q.Set("app", app)
	if subscribeAll {
		q.Set("subscribeAll", "true")
	}
	q.Set("api_key", c.user+":"+c.pass)
	u.RawQuery = q.Encode()
	return u.String()
}

// CloseIdle releases idle HTTP connections.
func (c *Client) CloseIdle() { c.hc.CloseIdleConnections() }

// The lab reads the same ARI objects callrecd does: one model, in ari/.
type (
	Channel       = ari.Channel
	CallerID      = ari.CallerID
	Bridge        = ari.Bridge
	LiveRecording = ari.LiveRecording
	Playback      = ari.Playback
)
