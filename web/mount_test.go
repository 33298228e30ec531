package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/web"
	"github.com/callrecd/callrecd/wiring"
)

// callrecd as serve builds it serves the page: GET / is sent to /ui/, the
// page and its modules come with their types and the CSP, and the API
// beside it is untouched by the page's fallback.
func TestServeMountsThePage(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.PBX.Asterisk = config.Asterisk{URL: "http://127.0.0.1:9/ari", Username: "u", Password: "p", App: "callrecd",
		RecordingSpool: dir}
	cfg.Storage = config.Storage{Root: filepath.Join(dir, "recordings"), MinFree: "1MiB"}
	cfg.Database.Path = filepath.Join(dir, "callrecd.db")
	cfg.Exports.Dir = filepath.Join(dir, "exports")
	cfg.HTTP.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := wiring.Build(context.Background(), cfg, wiring.Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = sys.Run(ctx); close(stopped) }()
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { cancel(); <-stopped; sys.Close() }) })

	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(b)
	}
	if res, _ := get("/"); res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /: %d → %q, want 302 → /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	for path, ctype := range map[string]string{"/ui/": "text/html; charset=utf-8", "/ui/settings": "text/html; charset=utf-8",
		"/ui/js/app.js": "text/javascript; charset=utf-8", "/ui/app.css": "text/css; charset=utf-8"} {
		res, body := get(path)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ctype || body == "" {
			t.Errorf("GET %s: %d %q", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("Content-Security-Policy") != web.CSP {
			t.Errorf("GET %s: CSP %q", path, res.Header.Get("Content-Security-Policy"))
		}
	}
	if res, body := get("/ui/js/nope.js"); res.StatusCode != http.StatusNotFound || strings.Contains(body, "<html") {
		t.Errorf("a missing module: %d", res.StatusCode)
	}
	if res, body := get("/api/call-logd/1.0/cdr"); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error_id"`) {
		t.Errorf("the API without a token: %d %s", res.StatusCode, body)
	}
}
