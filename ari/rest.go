package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The REST side is plain net/http rather than github.com/CyCoreSystems/ari/v6
// (probed at v6.0.0-20260805125548-90f525536787): its request methods take no
// context, so a command cannot be bounded or cancelled on its own (only the
// whole http.Client has a timeout); Channel().List and Bridge().List keep
// only the ids, so a re-sync would cost one extra request per channel; it has
// no call for the application's eventFilter; it decodes a response body
// before looking at the status, so a 204 reads as a decode error. callrecd
// needs a dozen endpoints, each with its own deadline on one pooled
// connection set (Asterisk refuses more than http.conf's sessionlimit of
// HTTP sessions, and clients that abandon connections after their own
// timeouts run into it).

// HTTPError is a non-2xx ARI answer.
type HTTPError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("ARI %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// StatusOf returns the HTTP status of an ARI error, 0 if err is not one.
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// REST is a small ARI REST client: basic auth, JSON, a per-request timeout
// and one pool of reused connections (Asterisk's HTTP session limit counts
// them). The lab's driver uses it for the peer too.
type REST struct {
	base    string // http://host:port/ari
	user    string
	pass    string
	timeout time.Duration
	hc      *http.Client
}

// NewREST returns a client for the ARI at base (http://host:port/ari).
func NewREST(base, user, pass string, timeout time.Duration) *REST {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		MaxConnsPerHost:     64, // well below Asterisk's HTTP session limit
		IdleConnTimeout:     90 * time.Second,
	}
	return &REST{base: strings.TrimSuffix(base, "/"), user: user, pass: pass, timeout: timeout,
		hc: &http.Client{Transport: tr}}
}

// Do issues one request bounded by the client's per-request timeout (and
// ctx). body, if not nil, is sent as JSON; out, if not nil, receives the
// JSON answer of a 2xx.
func (r *REST) Do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth(r.user, r.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("ARI %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("ARI %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var m struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &m)
		if m.Message == "" {
			m.Message = strings.TrimSpace(string(data))
		}
		return &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Message: m.Message}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ARI %s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// Close drops the idle connections.
func (r *REST) Close() { r.hc.CloseIdleConnections() }

// Download streams the body of a GET to w, bounded by ctx only (a large
// recording takes longer than a command's timeout). It returns the bytes
// written and fails when the body is shorter than the Content-Length
// announced, so a cut transfer is never taken for a whole file.
func (r *REST) Download(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(r.user, r.pass)
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ARI GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(data))
		}
		return 0, &HTTPError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Message: m.Message}
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("ARI GET %s: after %d bytes: %w", path, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("ARI GET %s: %d bytes of %d announced", path, n, resp.ContentLength)
	}
	return n, nil
}
