package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/httpapi"
)

// TestSwitch: while the server starts, the port answers: /healthz 200
// "starting", /readyz 503, every other route 503 with Retry-After; once
// ready, the API answers everything.
func TestSwitch(t *testing.T) {
	var sw httpapi.Switch
	srv := httptest.NewServer(&sw)
	defer srv.Close()
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	for _, tt := range []struct {
		path   string
		status int
		want   string
	}{
		{"/healthz", 200, `"starting"`},
		{"/readyz", 503, `"starting"`},
		{"/v1/shops", 503, "The server is starting"},
	} {
		code, header, body := get(tt.path)
		if code != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s while starting = %d %s; want %d and %s", tt.path, code, body, tt.status, tt.want)
		}
		if code == 503 && tt.path != "/readyz" && header.Get("Retry-After") == "" {
			t.Errorf("GET %s while starting: 503 without Retry-After", tt.path)
		}
	}
	s := newServer(t, loadRule(t), serverConfig{})
	sw.Ready(s.handler)
	if code, _, body := get("/readyz"); code != 200 {
		t.Errorf("GET /readyz once ready = %d %s", code, body)
	}
	if code, _, _ := get("/v1/shops"); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/shops without a token once ready = %d, want 401", code)
	}
}

// TestSwitchDrains: once told to drain, before or after it is ready, the
// server says so on /healthz and /readyz (503 "draining", for a load
// balancer) while it still serves every other request.
func TestSwitchDrains(t *testing.T) {
	r := loadRule(t)
	for _, readyFirst := range []bool{true, false} {
		name := "drained once ready"
		if !readyFirst {
			name = "drained while starting"
		}
		t.Run(name, func(t *testing.T) {
			s := newServer(t, r, serverConfig{})
			var sw httpapi.Switch
			if readyFirst {
				sw.Ready(s.handler)
			}
			sw.Drain()
			if !readyFirst {
				rec := httptest.NewRecorder()
				sw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
				if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"draining"`) {
					t.Errorf("GET /healthz draining while starting = %d %s; want 503 draining", rec.Code, rec.Body)
				}
				sw.Ready(s.handler)
			}
			for _, tt := range []struct {
				path   string
				status int
				want   string
			}{
				{"/healthz", http.StatusServiceUnavailable, `"draining"`},
				{"/readyz", http.StatusServiceUnavailable, `"draining"`},
				{"/v1/shops", http.StatusOK, `"shops"`},
			} {
				req := httptest.NewRequest(http.MethodGet, tt.path, nil)
				req.Header.Set("Authorization", "Bearer "+testAdminToken)
				rec := httptest.NewRecorder()
				sw.ServeHTTP(rec, req)
				if rec.Code != tt.status || !hasText(t, rec.Body.String(), tt.want) {
					t.Errorf("GET %s while draining = %d %s; want %d with %s", tt.path, rec.Code, rec.Body, tt.status, tt.want)
				}
			}
		})
	}
}

// TestSwitchSecurityHeaders: a starting server's answers carry the
// security headers the API's own answers carry (the same values).
func TestSwitchSecurityHeaders(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	ready := httptest.NewRecorder()
	s.handler.ServeHTTP(ready, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var sw httpapi.Switch
	for _, path := range []string{"/", "/healthz", "/readyz", "/v1/shops"} {
		rec := httptest.NewRecorder()
		sw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		for _, name := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
			want := ready.Header().Get(name)
			if want == "" {
				t.Fatalf("the ready API's answer has no %s: this test compares with it", name)
			}
			if got := rec.Header().Get(name); got != want {
				t.Errorf("GET %s while starting: %s %q, want %q as the API sends", path, name, got, want)
			}
		}
	}
}
