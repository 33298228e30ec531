// Package fakeari is a loopback ARI for tests of callrecd built as serve
// builds it, when the test hands the PBX's events over itself: every REST
// command succeeds, the events websocket is refused. The binary never
// imports it.
package fakeari

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// AcceptsEverything starts the fake ARI for the test's life and returns its
// base URL (http://127.0.0.1:port, without /ari). GETs answer [], other
// methods {}; the link stays down, so no event ever comes from it.
func AcceptsEverything(t testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			http.Error(w, "no events here", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte("[]"))
			return
		}
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
