// Package web is the merchant's page: one HTML page, its script and its
// style sheet, embedded in the binary and served at "/" and "/assets/".
// The script uses the public /v1 API only, signed in with the session
// cookie of POST /v1/session; it loads nothing from elsewhere, so the
// page works offline and under a Content-Security-Policy of 'self'.
// Package httpapi mounts Handler and sets the security headers.
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
var files embed.FS

// asset is one embedded file with what its answers need.
type asset struct {
	name        string
	body        []byte
	etag        string
	contentType string
}

// assets are the embedded files by name, read once.
var assets = func() map[string]asset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
	}
	out := map[string]asset{}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	for _, e := range entries {
		b, err := files.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = asset{name: e.Name(), body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
			contentType: types[path.Ext(e.Name())]}
	}
	return out
}()

// Names returns the names of the page's files, for tests.
func Names() []string {
	var names []string
	for n := range assets {
		names = append(names, n)
	}
	return names
}

// File returns an embedded file's content, for tests.
func File(name string) ([]byte, bool) {
	a, ok := assets[name]
	return a.body, ok
}

// Handler serves the page at "/" and its files at "/assets/{name}";
// anything else, or a method other than GET and HEAD, goes to notFound.
// Answers carry an ETag and must be revalidated, so a new binary's page is
// seen at once and an unchanged one costs a 304.
func Handler(notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := "", false
		switch {
		case r.URL.Path == "/":
			name, ok = "index.html", true
		case strings.HasPrefix(r.URL.Path, "/assets/"):
			name = strings.TrimPrefix(r.URL.Path, "/assets/")
			ok = name != "index.html"
		}
		a, found := assets[name]
		if !ok || !found || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			notFound.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", a.etag)
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}
