package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callrecd/callrecd/store"
)

// live serves the env's API on a real loopback listener.
type live struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (ev *env) serve() *live {
	ev.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ev.t.Fatal(err)
	}
	srv := &http.Server{Handler: ev.e, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	ev.t.Cleanup(func() { srv.Close() })
	return &live{t: ev.t, base: "http://" + ln.Addr().String(), client: &http.Client{Timeout: 10 * time.Second}}
}

// get sends a GET with the token and header pairs; it returns the status,
// headers and body.
func (l *live) get(path, token string, hdr ...string) (int, http.Header, []byte) {
	l.t.Helper()
	req, err := http.NewRequest("GET", l.base+path, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := l.client.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		l.t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

func (ev *env) audits(action string) []store.AuditEntry {
	ev.t.Helper()
	all, err := ev.store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		ev.t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range all {
		if action == "" || e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// TestEveryServedByteIsAudited: whatever the Range header's spelling, a
// response that carries the recording's bytes writes one audit entry
// naming what it served; a 304 and a 416 serve nothing and write none.
func TestEveryServedByteIsAudited(t *testing.T) {
	ev := newEnv(t)
	l := ev.serve()
	admin := ev.tokens["adminA"]
	path := fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", ev.callA.ID, recSeed)
	size := len(ev.wav)
	cases := []struct {
		rng    string
		status int
		body   []byte
		served string
	}{
		{fmt.Sprintf("bytes=-%d", size), 206, ev.wav, fmt.Sprintf("bytes 0-%d/%d", size-1, size)},
		{"bytes=00-", 206, ev.wav, fmt.Sprintf("bytes 0-%d/%d", size-1, size)},
		{"bytes= 0-", 206, ev.wav, fmt.Sprintf("bytes 0-%d/%d", size-1, size)},
		{"bytes=1-", 206, ev.wav[1:], fmt.Sprintf("bytes 1-%d/%d", size-1, size)},
		{"Bytes=0-9", 206, ev.wav[:10], fmt.Sprintf("bytes 0-9/%d", size)},
		{"bytes=0-1,5-9", 206, nil, "multipart bytes=0-1,5-9"},
		// RFC 9110: a unit the server does not know is ignored: the whole file.
		{"items=0-5", 200, ev.wav, fmt.Sprintf("bytes 0-%d/%d", size-1, size)},
		{"", 200, ev.wav, fmt.Sprintf("bytes 0-%d/%d", size-1, size)},
	}
	for i, tc := range cases {
		var hdr []string
		if tc.rng != "" {
			hdr = []string{"Range", tc.rng}
		}
		st, _, b := l.get(path, admin, hdr...)
		if st != tc.status || (tc.body != nil && !bytes.Equal(b, tc.body)) {
			t.Fatalf("Range %q: status %d, %d bytes; want %d, %d bytes", tc.rng, st, len(b), tc.status, len(tc.body))
		}
		entries := ev.audits("")
		if len(entries) != i+1 {
			t.Fatalf("Range %q: %d audit entries after %d downloads", tc.rng, len(entries), i+1)
		}
		e := entries[i]
		want := "recording.listen"
		if tc.status == 200 {
			want = "recording.download"
		}
		if e.Action != want || e.ObjectID != recSeed || e.Details["served"] != tc.served {
			t.Fatalf("Range %q: entry %+v, want %s of %q", tc.rng, e, want, tc.served)
		}
	}
	n := len(ev.audits(""))
	// A 304 and a 416 serve no byte: no entry. The 416 is Wazo's JSON error.
	_, hdr, _ := l.get(path, admin)
	if st, _, b := l.get(path, admin, "If-None-Match", hdr.Get("ETag")); st != 304 || len(b) != 0 {
		t.Fatalf("If-None-Match: %d %q", st, b)
	}
	st, h, b := l.get(path, admin, "Range", fmt.Sprintf("bytes=%d-", size+10))
	r := resp{status: st, header: h, body: b}
	wantError(t, r, http.StatusRequestedRangeNotSatisfiable, "range-not-satisfiable")
	if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("416 content type %q", h.Get("Content-Type"))
	}
	if got := len(ev.audits("")); got != n+1 { // +1: the plain GET for the ETag
		t.Fatalf("304/416 wrote audit entries: %d, want %d", got, n+1)
	}
}

// TestAuditRemoteAddrTrustsOnlyConfiguredProxies: X-Forwarded-For and
// X-Real-IP name the client only when the peer is a configured proxy.
func TestAuditRemoteAddrTrustsOnlyConfiguredProxies(t *testing.T) {
	ev := newEnv(t)
	path := fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", ev.callA.ID, recSeed)
	download := func(hdr ...string) string {
		t.Helper()
		l := ev.serve()
		if st, _, b := l.get(path, ev.tokens["adminA"], hdr...); st != 200 {
			t.Fatalf("download: %d %s", st, b)
		}
		e := ev.audits("recording.download")
		return e[len(e)-1].RemoteAddr
	}
	if got := download("X-Forwarded-For", "203.0.113.66"); got != "127.0.0.1" {
		t.Fatalf("no trusted proxy: X-Forwarded-For recorded as the client: %q", got)
	}
	if got := download("X-Real-IP", "203.0.113.66"); got != "127.0.0.1" {
		t.Fatalf("no trusted proxy: X-Real-IP recorded as the client: %q", got)
	}
	_, other, _ := net.ParseCIDR("10.0.0.0/8")
	ev.proxies = append(ev.proxies, other)
	ev.build()
	if got := download("X-Forwarded-For", "203.0.113.66"); got != "127.0.0.1" {
		t.Fatalf("peer is not the trusted proxy: %q", got)
	}
	_, lo, _ := net.ParseCIDR("127.0.0.0/8")
	ev.proxies = append(ev.proxies, lo)
	ev.build()
	if got := download("X-Forwarded-For", "203.0.113.66"); got != "203.0.113.66" {
		t.Fatalf("through the trusted proxy: %q", got)
	}
	// The client may prepend what it likes; the proxy's own entry wins.
	if got := download("X-Forwarded-For", "198.51.100.1, 203.0.113.67"); got != "203.0.113.67" {
		t.Fatalf("forged chain: %q", got)
	}
	if got := download("X-Real-IP", "203.0.113.68"); got != "203.0.113.68" {
		t.Fatalf("X-Real-IP through the trusted proxy: %q", got)
	}
}

// TestMediaIgnoresAcceptAndDeletedIsWazos400: the SDK's Accept:
// application/json gets the file; a deleted recording's media is Wazo's
// 400 recording-media-not-found.
func TestMediaIgnoresAcceptAndDeletedIsWazos400(t *testing.T) {
	ev := newEnv(t)
	l := ev.serve()
	path := fmt.Sprintf("/api/call-logd/1.0/cdr/%d/recordings/%s/media", ev.callA.ID, recSeed)
	st, h, b := l.get(path, ev.tokens["adminA"], "Accept", "application/json")
	if st != 200 || !bytes.Equal(b, ev.wav) || h.Get("Content-Type") != "audio/wav" {
		t.Fatalf("Accept: application/json: %d %q %d bytes", st, h.Get("Content-Type"), len(b))
	}
	if err := ev.store.MarkRecordingDeleted(context.Background(), tenantA, recSeed, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, h, b = l.get(path, ev.tokens["adminA"])
	wantError(t, resp{status: st, header: h, body: b}, 400, "recording-media-not-found")
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if d, _ := m["details"].(map[string]any); d["recording_uuid"] != recSeed {
		t.Fatalf("details: %s", b)
	}
}
