package web_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/web"
)

// TestFirstPageSize: the page and everything it loads stay within the
// 100 KB the first visit may cost, uncompressed.
func TestFirstPageSize(t *testing.T) {
	total := 0
	for _, name := range web.Names() { // every asset: index.html loads them all
		b, ok := web.File(name)
		if !ok {
			t.Fatalf("%s is not embedded", name)
		}
		total += len(b)
	}
	if total > 100<<10 {
		t.Errorf("the first page is %d bytes, over 100 KB", total)
	}
}

// TestNoInlineCodeNorElsewhere: the page runs under script-src 'self' and
// style-src 'self', and loads nothing from another origin; the script
// writes text, never HTML.
func TestNoInlineCodeNorElsewhere(t *testing.T) {
	html, _ := web.File("index.html")
	js, _ := web.File("app.js")
	checks := []struct {
		file, what string
		body       []byte
		bad        *regexp.Regexp
	}{
		{"index.html", "an event handler attribute", html, regexp.MustCompile(`(?i)\son[a-z]+\s*=`)},
		{"index.html", "a style attribute or element", html, regexp.MustCompile(`(?i)\sstyle\s*=|<style`)},
		{"index.html", "a javascript: URL", html, regexp.MustCompile(`(?i)javascript:`)},
		{"app.js", "HTML written from a string", js, regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write`)},
		{"app.js", "eval", js, regexp.MustCompile(`\beval\(|new Function\(`)},
	}
	scripts := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`).FindAllSubmatch(html, -1)
	if len(scripts) == 0 {
		t.Error("index.html loads no script")
	}
	for _, m := range scripts {
		if !regexp.MustCompile(`\ssrc="/assets/[a-z.]+"`).Match(m[1]) || len(strings.TrimSpace(string(m[2]))) > 0 {
			t.Errorf("index.html has an inline script: %q", m[0])
		}
	}
	for _, c := range checks {
		if m := c.bad.Find(c.body); m != nil {
			t.Errorf("%s has %s: %q", c.file, c.what, m)
		}
	}
	for _, name := range web.Names() {
		b, _ := web.File(name)
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).Find(b); m != nil {
			t.Errorf("%s refers to another origin: %q", name, m)
		}
	}
}

// TestHandler: "/" is the page, /assets/ its files; anything else is the
// caller's not-found answer.
func TestHandler(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := web.Handler(notFound)
	for _, tt := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/assets/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/assets/app.css", 200, "text/css; charset=utf-8"},
		{"GET", "/assets/index.html", http.StatusTeapot, ""},
		{"GET", "/assets/../go.mod", http.StatusTeapot, ""},
		{"GET", "/assets/", http.StatusTeapot, ""},
		{"GET", "/index.html", http.StatusTeapot, ""},
		{"POST", "/", http.StatusTeapot, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || (tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype) {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, rec.Code, rec.Header().Get("Content-Type"), tt.status, tt.ctype)
		}
		if tt.status == 200 && (rec.Header().Get("ETag") == "" || !strings.Contains(rec.Header().Get("Cache-Control"), "no-cache")) {
			t.Errorf("%s %s: ETag %q Cache-Control %q, want an ETag to revalidate", tt.method, tt.path, rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
		}
	}
}
