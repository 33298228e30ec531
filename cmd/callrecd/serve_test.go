package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve must not wait for its set-up checks: a PBX slow to answer them
// (here: the checks' first request, GET /asterisk/info, held until the
// checks give up) must not keep the HTTP side, and with it the PBX link,
// from starting. A restart after a crash picks up the calls at once.
func TestServeStartsWhileTheSetUpChecksRun(t *testing.T) {
	var held atomic.Int32
	release := make(chan struct{})
	ari := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/asterisk/info") {
			held.Add(1)
			defer held.Add(-1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		http.Error(w, "not here", http.StatusNotFound)
	}))
	defer ari.Close()
	defer close(release)
	listen := freePort(t)

	cfg := serveConfig(t, t.TempDir(), ari.URL, listen)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "-c", cfg}, &bytes.Buffer{}, &errb) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d\n%s", code, errb.String())
		}
	}()

	// First the checks must be running, held by the PBX (the goroutine
	// may start them a little after the HTTP side is up); then, while
	// they are still held, /healthz must answer.
	for i := 0; held.Load() == 0; i++ {
		if i == 400 {
			t.Fatalf("the set-up checks never asked GET /asterisk/info")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 0; i < 400; i++ {
		resp, err := http.Get("http://" + listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			if held.Load() == 0 {
				t.Fatalf("serve answered only after its set-up checks were done")
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("healthz never answered")
}
