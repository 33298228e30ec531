// Package web is callrecd's web page: plain HTML, CSS and JavaScript modules
// embedded in the binary and served under /ui/. The page is a client of the
// same REST API as every other client (it signs in with a session cookie and
// calls /api/...); nothing here reads the store.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is where the page lives; api.New mounts Handler there.
const Prefix = "/ui/"

// CSP is the page's Content-Security-Policy: everything from this origin,
// no inline script or style, no plugins, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes are the types of the files the page is made of; a file of
// another kind is not served (no guessing from the system's mime tables).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// handler serves the embedded files, read once at start.
type handler struct {
	files map[string]asset // by path below /ui/, "index.html", "js/app.js", …
}

// Handler serves the page: each embedded file at /ui/<path>, and
// index.html at /ui/ and at every other /ui/ path that does not name a
// file (the page's own routes, /ui/settings, …). A missing path that looks
// like a file (its last element has an extension) is 404: a stale module
// URL must not receive HTML. Every answer carries the CSP and is
// revalidated (Cache-Control: no-cache, strong ETag), so an upgraded
// binary's page is seen at the next load.
func Handler() http.Handler {
	h, err := newHandler(assets)
	if err != nil {
		panic(err) // the embedded files are part of the binary: a test catches this
	}
	return h
}

func newHandler(fsys fs.FS) (*handler, error) {
	sub, err := fs.Sub(fsys, "assets")
	if err != nil {
		return nil, err
	}
	h := &handler{files: map[string]asset{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.files[p] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, ok := h.files["index.html"]; !ok {
		return nil, fs.ErrNotExist
	}
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusFound)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	a, found := h.files[rel]
	if !found || rel == "" {
		if rel != "" && path.Ext(path.Base(rel)) != "" {
			hdr.Set("Cache-Control", "no-store")
			http.NotFound(w, r)
			return
		}
		a = h.files["index.html"]
	}
	hdr.Set("Content-Type", a.ctype)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
