package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every embedded file is served at /ui/<path> with its type, the CSP and
// the revalidation headers.
func TestHandlerServesEveryAssetWithItsType(t *testing.T) {
	h := Handler()
	want := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	n := 0
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel := strings.TrimPrefix(p, "assets/")
		r := get(t, h, http.MethodGet, "/ui/"+rel, nil)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", rel, r.StatusCode)
		}
		if got := r.Header.Get("Content-Type"); got != want[path.Ext(rel)] {
			t.Errorf("%s: Content-Type %q, want %q", rel, got, want[path.Ext(rel)])
		}
		checkSecurityHeaders(t, rel, r)
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", rel, cc)
		}
		if r.Header.Get("ETag") == "" {
			t.Errorf("%s: no ETag", rel)
		}
		want, _ := fs.ReadFile(assets, p)
		if got := body(t, r); got != string(want) {
			t.Errorf("%s: body differs from the embedded file", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d embedded files", n)
	}
}

func checkSecurityHeaders(t *testing.T, what string, r *http.Response) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
		"frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("%s: CSP %q allows inline code or another host", what, csp)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%s: no nosniff", what)
	}
}

// /ui/ and the page's own routes are index.html; a missing file is 404,
// never HTML in place of a module.
func TestHandlerFallsBackToIndexForPageRoutes(t *testing.T) {
	h := Handler()
	index, _ := fs.ReadFile(assets, "assets/index.html")
	for _, p := range []string{"/ui/", "/ui/settings", "/ui/recordings/42", "/ui/index.html"} {
		r := get(t, h, http.MethodGet, p, nil)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
			body(t, r) != string(index) {
			t.Errorf("%s: %d %q, want index.html", p, r.StatusCode, r.Header.Get("Content-Type"))
		}
		checkSecurityHeaders(t, p, r)
	}
	for _, p := range []string{"/ui/js/missing.js", "/ui/nothing.css", "/ui/../web.go", "/elsewhere"} {
		r := get(t, h, http.MethodGet, p, nil)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
		if strings.Contains(body(t, r), "<html") {
			t.Errorf("%s: answered HTML", p)
		}
	}
	r := get(t, h, http.MethodGet, "/ui", nil)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d → %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestHandlerRevalidatesWithETag(t *testing.T) {
	h := Handler()
	r := get(t, h, http.MethodGet, "/ui/js/app.js", nil)
	etag := r.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag %q", etag)
	}
	r = get(t, h, http.MethodGet, "/ui/js/app.js", map[string]string{"If-None-Match": etag})
	if r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", r.StatusCode)
	}
	r = get(t, h, http.MethodHead, "/ui/app.css", nil)
	if r.StatusCode != http.StatusOK || body(t, r) != "" {
		t.Fatalf("HEAD: %d", r.StatusCode)
	}
}

func TestHandlerRefusesWrites(t *testing.T) {
	r := get(t, Handler(), http.MethodPost, "/ui/", nil)
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
}

// The CSP forbids inline script and style: none may be in the page, and
// every module it imports must exist (a typo would only show in a browser).
func TestPageHasNoInlineCodeAndItsImportsResolve(t *testing.T) {
	index, _ := fs.ReadFile(assets, "assets/index.html")
	html := string(index)
	for _, bad := range []string{"<style", " style=", "onclick=", "onload=", "javascript:"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>([^<]*)</script>`).FindAllStringSubmatch(html, -1) {
		if strings.TrimSpace(m[1]) != "" {
			t.Errorf("inline script %q", m[1])
		}
	}
	imp := regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"](\./[^'"]+)['"]`)
	mods, _ := fs.Glob(assets, "assets/js/*.js")
	for _, m := range mods {
		src, _ := fs.ReadFile(assets, m)
		for _, im := range imp.FindAllStringSubmatch(string(src), -1) {
			target := path.Join(path.Dir(m), im[1])
			if _, err := fs.Stat(assets, target); err != nil {
				t.Errorf("%s imports %s: %v", m, im[1], err)
			}
		}
		if strings.Contains(string(src), "innerHTML") || strings.Contains(string(src), "eval(") {
			t.Errorf("%s builds markup from strings or evaluates code", m)
		}
		if n := strings.Count(string(src), "\n"); n > 450 {
			t.Errorf("%s: %d lines (split it)", m, n)
		}
	}
}
