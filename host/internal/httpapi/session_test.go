package httpapi_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// The contract checker reads the page's files as text.
func init() {
	for _, t := range []string{"text/html", "text/css", "text/javascript"} {
		openapi3filter.RegisterBodyDecoder(t, openapi3filter.PlainBodyDecoder)
	}
}

// pageSession is what the page holds after signing in: the cookie (the
// browser's, HttpOnly) and the CSRF token (the script's, in memory).
type pageSession struct {
	cookie, csrf string
}

// withSession returns the server with requests sent as the page sends
// them: the session cookie, no Authorization, and the CSRF token on
// changes.
func (s *server) withSession(sess pageSession) *server {
	c := s.as("")
	c.session = sess
	return c
}

// sessionDoc mirrors the Session schema.
type sessionDoc struct {
	Principal string   `json:"principal"`
	Admin     bool     `json:"admin"`
	Scopes    []string `json:"scopes"`
	Shops     []string `json:"shops"`
	CSRF      string   `json:"csrf_token"`
	Expires   string   `json:"expires"`
}

// signIn trades token for a session, which must succeed, and returns it
// with the cookie as set.
func (s *server) signIn(tb testing.TB, token string) (pageSession, sessionDoc, *http.Cookie) {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	ex := s.as("").post(tb, "/v1/session", string(body))
	if ex.status != http.StatusCreated {
		tb.Fatalf("POST /v1/session: %d %s", ex.status, ex.body)
	}
	var doc sessionDoc
	decodeStrict(tb, ex.body, &doc)
	cookie := sessionCookieOf(tb, ex.header)
	if cookie == nil {
		tb.Fatalf("POST /v1/session set no session cookie: %v", ex.header)
	}
	return pageSession{cookie: cookie.Value, csrf: doc.CSRF}, doc, cookie
}

func sessionCookieOf(tb testing.TB, h http.Header) *http.Cookie {
	tb.Helper()
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			tb.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == "syncrules_session" {
			return c
		}
	}
	return nil
}

// TestSessionCookie: a shop token signs the page in; the cookie is
// HttpOnly, SameSite=Strict and expiring, and reads as the token does;
// every change needs the session's X-CSRF-Token, which GET /v1/session
// gives again; signing out ends the session, not the token.
func TestSessionCookie(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", seedShopBody)
	token := s.createToken(t, "shop:acme")

	for _, tt := range []struct{ name, body string }{
		{"an unknown token", `{"token":"srt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`},
		{"no token", `{"token":""}`},
	} {
		ex := s.as("").post(t, "/v1/session", tt.body)
		problemOf(t, ex, http.StatusUnauthorized)
		if sessionCookieOf(t, ex.header) != nil {
			t.Errorf("%s: a cookie was set", tt.name)
		}
	}
	problemOf(t, s.as("").post(t, "/v1/session", `{"token":"x","extra":1}`), http.StatusBadRequest)
	// What a form of another site can send, without the browser asking.
	for _, ctype := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		ex := s.as("").do(t, "POST", "/v1/session", ctype, `{"token":"`+token+`"}`)
		if p := problemOf(t, ex, http.StatusUnsupportedMediaType); sessionCookieOf(t, ex.header) != nil || !strings.Contains(p.Detail, "application/json") {
			t.Errorf("sign-in as %q: %q, cookie set: %v; want 415 without a cookie", ctype, p.Detail, sessionCookieOf(t, ex.header) != nil)
		}
	}

	sess, doc, cookie := s.signIn(t, token)
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.MaxAge < 12*3600-60 || cookie.MaxAge > 12*3600 {
		t.Errorf("cookie %+v, want HttpOnly, SameSite=Strict, Path=/, Max-Age 12 h", cookie)
	}
	if cookie.Secure {
		t.Error("the cookie is Secure on plain HTTP to 127.0.0.1: a browser would drop it")
	}
	if strings.Contains(cookie.Value, token) || doc.CSRF == "" || doc.CSRF == cookie.Value {
		t.Errorf("cookie %q, CSRF %q: want a session id that is neither the token nor the CSRF token", cookie.Value, doc.CSRF)
	}
	if doc.Admin || len(doc.Shops) != 1 || doc.Shops[0] != "acme" || doc.Expires == "" {
		t.Errorf("sign-in answer %+v, want shop acme, not admin, expiring", doc)
	}

	if _, admin, _ := s.signIn(t, testAdminToken); !admin.Admin || admin.Principal != "env" || len(admin.Shops) != 0 {
		t.Errorf("the admin's sign-in %+v, want env, admin, its shops listed by GET /v1/shops", admin)
	}

	page := s.withSession(sess)
	ex := page.do(t, "GET", "/v1/session", "", "")
	var got sessionDoc
	decodeStrict(t, ex.body, &got)
	if ex.status != http.StatusOK || got.CSRF != sess.csrf || got.Principal != doc.Principal || ex.header.Get("Cache-Control") != "no-store" {
		t.Errorf("GET /v1/session with the cookie: %d %+v, want the same principal and CSRF token, not cached", ex.status, got)
	}
	if ex := page.do(t, "GET", "/v1/shops/acme/settings", "", ""); ex.status != http.StatusOK {
		t.Errorf("GET settings with the cookie: %d %s", ex.status, ex.body)
	}
	if ex := page.do(t, "GET", "/v1/shops", "", ""); ex.status != http.StatusForbidden {
		t.Errorf("GET /v1/shops with a shop's session: %d, want 403 as for its token", ex.status)
	}

	// Changes: refused without the session's CSRF token, whatever else.
	other, _, _ := s.signIn(t, token)
	for _, tt := range []struct {
		name, csrf, want string
	}{
		{"no X-CSRF-Token", "", "needs the header X-CSRF-Token"},
		{"another session's", other.csrf, "not this session's"},
		{"the cookie as the token", sess.cookie, "not this session's"},
	} {
		ex := s.withSession(pageSession{cookie: sess.cookie, csrf: tt.csrf}).do(t, "PUT", "/v1/shops/acme/settings", "application/json", `{"percentage":80}`)
		if p := problemOf(t, ex, http.StatusForbidden); !strings.Contains(p.Detail, tt.want) {
			t.Errorf("%s: %q, want it to say %q", tt.name, p.Detail, tt.want)
		}
	}
	var v settingsDoc
	decodeStrict(t, s.do(t, "GET", "/v1/shops/acme/settings", "", "").body, &v)
	if v.Version != 0 {
		t.Fatalf("a refused change was stored: version %d", v.Version)
	}
	if ex := page.do(t, "PUT", "/v1/shops/acme/settings", "application/json", `{"percentage":80}`); ex.status != http.StatusOK {
		t.Errorf("PUT settings with the CSRF token: %d %s", ex.status, ex.body)
	}
	// A bearer token needs no CSRF token: no browser sends it by itself.
	if ex := s.as(token).do(t, "PUT", "/v1/shops/acme/settings", "application/json", `{"percentage":70}`); ex.status != http.StatusOK {
		t.Errorf("PUT settings with the bearer token: %d %s", ex.status, ex.body)
	}

	// Signing in again from a browser that has a session ends that one.
	replaced, _, _ := s.signIn(t, token)
	ex = s.withSession(replaced).post(t, "/v1/session", `{"token":"`+token+`"}`)
	if ex.status != http.StatusCreated {
		t.Fatalf("signing in over a session: %d %s", ex.status, ex.body)
	}
	problemOf(t, s.withSession(replaced).do(t, "GET", "/v1/session", "", ""), http.StatusUnauthorized)

	// Signing out needs the CSRF token too, and ends this session only.
	problemOf(t, s.withSession(pageSession{cookie: sess.cookie}).do(t, "DELETE", "/v1/session", "", ""), http.StatusForbidden)
	ex = page.do(t, "DELETE", "/v1/session", "", "")
	if c := sessionCookieOf(t, ex.header); ex.status != http.StatusNoContent || c == nil || c.MaxAge >= 0 {
		t.Errorf("DELETE /v1/session: %d, cookie %+v; want 204 clearing the cookie", ex.status, c)
	}
	problemOf(t, page.do(t, "GET", "/v1/shops/acme/settings", "", ""), http.StatusUnauthorized)
	if ex := s.withSession(other).do(t, "GET", "/v1/shops/acme/settings", "", ""); ex.status != http.StatusOK {
		t.Errorf("the other session after signing out: %d", ex.status)
	}
	if ex := s.as(token).do(t, "GET", "/v1/session", "", ""); ex.status != http.StatusOK {
		t.Errorf("the token after signing out: %d", ex.status)
	}
}

// manualClock is a clock a test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSessionEnds: an expired session, and one whose token was revoked,
// get 401 with the cookie cleared, and say to sign in again.
func TestSessionEnds(t *testing.T) {
	clock := &manualClock{now: time.Now()}
	s := newServer(t, loadRule(t), serverConfig{clock: clock.Now})
	s.putShop(t, "acme", seedShopBody)
	token := s.createToken(t, "shop:acme")
	expiring, _, _ := s.signIn(t, token)
	revoked, doc, _ := s.signIn(t, token)

	clock.Advance(12*time.Hour - time.Second)
	if ex := s.withSession(expiring).do(t, "GET", "/v1/shops/acme", "", ""); ex.status != http.StatusOK {
		t.Fatalf("a session a second before its expiry: %d", ex.status)
	}
	clock.Advance(time.Second)
	ended := func(name string, sess pageSession) {
		t.Helper()
		ex := s.withSession(sess).do(t, "GET", "/v1/shops/acme", "", "")
		p := problemOf(t, ex, http.StatusUnauthorized)
		if !strings.Contains(p.Detail, "sign in again") {
			t.Errorf("%s: %q, want it to say to sign in again", name, p.Detail)
		}
		if c := sessionCookieOf(t, ex.header); c == nil || c.MaxAge >= 0 {
			t.Errorf("%s: cookie %+v, want it cleared", name, c)
		}
	}
	ended("an expired session", expiring)

	clock.Advance(-time.Hour)
	if ex := s.as(testAdminToken).do(t, "DELETE", "/v1/tokens/"+doc.Principal, "", ""); ex.status != http.StatusNoContent {
		t.Fatalf("revoking the token: %d %s", ex.status, ex.body)
	}
	ended("a session of a revoked token", revoked)
}

// TestSessionCookieSecure: the cookie is Secure except on plain HTTP from
// and to a loopback address, not forwarded by a proxy.
func TestSessionCookieSecure(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	tests := []struct {
		name, remote, host string
		header             http.Header
		tls                bool
		secure             bool
	}{
		{"127.0.0.1 to 127.0.0.1", "127.0.0.1:5000", "127.0.0.1:8080", nil, false, false},
		{"::1 to localhost", "[::1]:5000", "localhost:8080", nil, false, false},
		{"a remote client", "192.0.2.7:5000", "127.0.0.1:8080", nil, false, true},
		{"loopback to a public name", "127.0.0.1:5000", "shop.example.com", nil, false, true},
		{"a proxy on loopback", "127.0.0.1:5000", "127.0.0.1:8080", http.Header{"X-Forwarded-Proto": {"https"}}, false, true},
		{"TLS", "127.0.0.1:5000", "localhost:8443", nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/v1/session", strings.NewReader(`{"token":"`+testAdminToken+`"}`))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.header {
				req.Header[k] = v
			}
			req.RemoteAddr, req.Host = tt.remote, tt.host
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)
			c := sessionCookieOf(t, rec.Header())
			if rec.Code != http.StatusCreated || c == nil {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if c.Secure != tt.secure {
				t.Errorf("Secure %v, want %v", c.Secure, tt.secure)
			}
		})
	}
}

// TestSecurityHeaders: every answer, the page's and the API's, forbids
// framing, inline script and sniffing, and sends no referrer.
func TestSecurityHeaders(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	for _, tt := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/", "", 200},
		{"GET", "/assets/app.js", "", 200},
		{"GET", "/assets/app.css", "", 200},
		{"GET", "/assets/nope.js", "", 404},
		{"GET", "/v1/session", "", 401},
		{"POST", "/v1/session", `{"token":"` + testAdminToken + `"}`, 201},
		{"GET", "/healthz", "", 200},
		{"GET", "/nowhere", "", 404},
	} {
		ex := s.as("").do(t, tt.method, tt.path, "application/json", tt.body)
		if ex.status != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, ex.status, tt.status)
		}
		for k, v := range want {
			if got := ex.header.Get(k); got != v {
				t.Errorf("%s %s: %s %q, want %q", tt.method, tt.path, k, got, v)
			}
		}
	}
}

// TestPageServed: the page and its files come with their types and an
// ETag that answers 304; the page runs no inline script.
func TestPageServed(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	for path, ctype := range map[string]string{
		"/":               "text/html; charset=utf-8",
		"/assets/app.js":  "text/javascript; charset=utf-8",
		"/assets/app.css": "text/css; charset=utf-8",
	} {
		ex := s.as("").do(t, "GET", path, "", "")
		if ex.status != http.StatusOK || ex.header.Get("Content-Type") != ctype || ex.header.Get("ETag") == "" {
			t.Errorf("GET %s: %d %q ETag %q, want 200 %s with an ETag", path, ex.status, ex.header.Get("Content-Type"), ex.header.Get("ETag"), ctype)
			continue
		}
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("If-None-Match", ex.header.Get("ETag"))
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", path, resp.StatusCode)
		}
	}
	ex := s.as("").do(t, "GET", "/", "", "")
	if !bytes.Contains(ex.body, []byte(`<script src="/assets/app.js" defer></script>`)) {
		t.Error("the page does not load /assets/app.js")
	}
	problemOf(t, s.as("").do(t, "GET", "/assets/index.html", "", ""), http.StatusNotFound)
}

// TestSignInLogsNoSecret: neither the token nor the session id nor the
// CSRF token reaches the log.
func TestSignInLogsNoSecret(t *testing.T) {
	var logs syncBuffer
	s := newServer(t, loadRule(t), serverConfig{logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s.putShop(t, "acme", seedShopBody)
	token := s.createToken(t, "shop:acme")
	sess, _, _ := s.signIn(t, token)
	s.withSession(sess).do(t, "PUT", "/v1/shops/acme/settings", "application/json", `{"percentage":80}`)
	s.withSession(sess).do(t, "DELETE", "/v1/session", "", "")
	out := string(logs.Bytes())
	if !strings.Contains(out, "/v1/session") {
		t.Fatalf("the requests were not logged:\n%s", out)
	}
	for name, secret := range map[string]string{"token": token, "session id": sess.cookie, "CSRF token": sess.csrf} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds the %s:\n%s", name, out)
		}
	}
}
