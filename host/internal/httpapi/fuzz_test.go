package httpapi_test

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzShopEndpoints sends arbitrary bodies to every endpoint that stores
// what it is sent. Whatever the body, the answer is a success or a problem
// document the caller can act on, never a 5xx, and a refused body changes
// nothing.
func FuzzShopEndpoints(f *testing.F) {
	s := newServer(f, loadRule(f), serverConfig{})
	s.putShop(f, "fuzz", seedShopBody)
	s.putSettings(f, "fuzz", `{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]}`)
	routes := []struct{ method, path string }{
		{"PUT", "/v1/shops/fuzz"},
		{"PUT", "/v1/shops/fuzz/settings"},
		{"POST", "/v1/shops/fuzz/compute"},
		{"POST", "/v1/shops/fuzz/preview"},
		{"PUT", "/v1/shops/fuzz/credentials"},
		{"POST", "/v1/tokens"},
	}
	for i, seed := range []string{
		seedShopBody,
		`{"percentage":33.33,"max_quantity":5,"mappings":[{"location":"*","warehouse":"beta"}]}`,
		`{"items":[{"id":"v","available":{"A":1e3,"B":-4}}]}`,
		`{"settings":{"percentage":50},"items":[{"id":"v","tracked":false}]}`,
		`{"shopify":{"access_token":"x"},"tiktok":{"shop_cipher":"y"}}`,
		`{"scopes":["shop:fuzz","partner:p"],"name":"n"}`,
		`{"locations":[{"id":"A"},{"id":"A"}],"warehouses":null}`,
		`{"percentage":1e999999999}`, `[`, ``, `null`, `{"items":[{"id":"\ud800"}]}`,
	} {
		f.Add(uint8(i), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		if r.path == "/v1/shops/fuzz" {
			// Keep the shop the other routes use: a body that replaces it
			// goes to a shop of its own.
			r.path = "/v1/shops/fuzz-shop"
		}
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, rec.Code, rec.Body)
		case rec.Code >= 400:
			mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
			var p problemDoc
			if mt != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code || p.Detail == "" {
				t.Fatalf("%s %s %q: %d %s %s: not a problem document with a detail", r.method, r.path, body, rec.Code, mt, rec.Body)
			}
		case !json.Valid(rec.Body.Bytes()):
			t.Fatalf("%s %s %q: %d with a body that is not JSON: %s", r.method, r.path, body, rec.Code, rec.Body)
		}
		if r.path == "/v1/shops/fuzz/settings" && rec.Code != http.StatusOK {
			// A refused settings write leaves the last good version current.
			var cur settingsDoc
			get := httptest.NewRequest("GET", "/v1/shops/fuzz/settings", nil)
			get.Header.Set("Authorization", "Bearer "+testAdminToken)
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, get)
			if err := json.Unmarshal(rec.Body.Bytes(), &cur); err != nil || cur.Version < 1 {
				t.Fatalf("after a refused write: %s", rec.Body)
			}
		}
	})
}
