package tiktok

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stub is a minimal TikTok Shop for the tests that need an exact script
// of answers the fake does not inject (36009002 with HTTP 200, a 503 that is
// not JSON, an answer that never comes, a given token pair on renewal): it
// checks app key, timestamp, sign (with referenceSign) and access token as
// the API does, records every request unredacted, and answers the faults
// queued per path first. The other tests run against the fake.
type stub struct {
	appKey, appSecret string
	now               func() time.Time

	mu       sync.Mutex
	access   map[string]bool      // access tokens it accepts
	expired  map[string]bool      // access tokens it answers 105002 to
	refresh  map[string]tokenPair // refresh token → the pair it renews to
	requests []recorded
	faults   map[string][]fault
	products []stubProduct
	srv      *httptest.Server
}

type tokenPair struct {
	access, refresh             string
	accessExpire, refreshExpire int64
}

type stubProduct struct {
	id   string
	skus map[string][]string // sku id → its warehouses
}

type recorded struct {
	Method, Path string
	Query        url.Values
	Token        string
	Body         []byte
}

// fault writes an answer instead of the stub's own.
type fault func(w http.ResponseWriter, r *http.Request)

func answer(status int, code int64, msg string, data any) fault {
	return func(w http.ResponseWriter, _ *http.Request) { writeEnvelope(w, status, code, msg, data) }
}

func writeEnvelope(w http.ResponseWriter, status int, code int64, msg string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "request_id": "req-" + strconv.Itoa(status), "data": data})
}

func newStub(t *testing.T, now func() time.Time) *stub {
	s := &stub{
		appKey: "app-key-1", appSecret: "app-secret-SECRET", now: now,
		access: map[string]bool{}, expired: map[string]bool{}, refresh: map[string]tokenPair{},
		faults: map[string][]fault{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) queue(path string, f ...fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], f...)
}

func (s *stub) recorded(path string) []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []recorded
	for _, r := range s.requests {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Token: r.Header.Get("x-tts-access-token"), Body: body})
	var f fault
	if q := s.faults[r.URL.Path]; len(q) > 0 {
		f, s.faults[r.URL.Path] = q[0], q[1:]
	}
	s.mu.Unlock()
	if f != nil {
		f(w, r)
		return
	}
	q := r.URL.Query()
	if strings.HasPrefix(r.URL.Path, "/api/v2/token/") {
		s.serveToken(w, r.URL.Path, q)
		return
	}
	params := map[string]string{}
	for k := range q {
		params[k] = q.Get(k)
	}
	if q.Get("app_key") != s.appKey {
		writeEnvelope(w, 401, 106002, "invalid app_key", nil)
		return
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if now := s.now().Unix(); err != nil || ts < now-300 || ts > now+30 {
		writeEnvelope(w, 401, CodeBadTimestamp, "timestamp is invalid", nil)
		return
	}
	if q.Get("sign") != referenceSign(r.URL.Path, params, body, s.appSecret) {
		writeEnvelope(w, 401, CodeBadSign, "signature is invalid", nil)
		return
	}
	s.mu.Lock()
	tok := r.Header.Get("x-tts-access-token")
	ok, expired := s.access[tok], s.expired[tok]
	s.mu.Unlock()
	switch {
	case expired:
		writeEnvelope(w, 401, CodeExpiredToken, "access token is expired", nil)
		return
	case !ok:
		writeEnvelope(w, 401, 105001, "access token is invalid", nil)
		return
	}
	switch {
	case r.URL.Path == "/authorization/202309/shops":
		writeEnvelope(w, 200, 0, "Success", map[string]any{"shops": []map[string]string{
			{"id": "7000000000000000001", "name": "Shop A", "region": "GB", "cipher": "ROW_cipherA", "code": "GBLC1"}}})
	case r.URL.Path == "/logistics/202309/warehouses":
		writeEnvelope(w, 200, 0, "Success", map[string]any{"warehouses": []map[string]any{
			{"id": "7068517275539719942", "name": "Main", "type": "SALES_WAREHOUSE", "effect_status": "ENABLED", "is_default": true, "sub_type": "DOMESTIC_WAREHOUSE"},
			{"id": "7068517275539719943", "name": "Returns", "type": "RETURN_WAREHOUSE", "effect_status": "ENABLED", "is_default": false},
		}})
	case r.URL.Path == "/product/202309/products/search":
		s.serveSearch(w, q)
	default:
		writeEnvelope(w, 404, 40006, "path not found", nil)
	}
}

func (s *stub) serveToken(w http.ResponseWriter, path string, q url.Values) {
	if q.Get("app_key") != s.appKey || q.Get("app_secret") != s.appSecret {
		writeEnvelope(w, 200, 36004001, "invalid app_key or app_secret", nil)
		return
	}
	var pair tokenPair
	var ok bool
	s.mu.Lock()
	if path == "/api/v2/token/refresh" && q.Get("grant_type") == "refresh_token" {
		pair, ok = s.refresh[q.Get("refresh_token")]
	} else if path == "/api/v2/token/get" && q.Get("grant_type") == "authorized_code" {
		pair, ok = s.refresh["code:"+q.Get("auth_code")]
	}
	if ok {
		s.access[pair.access] = true
	}
	s.mu.Unlock()
	if !ok {
		writeEnvelope(w, 200, 36004004, "refresh token or auth code is invalid or expired", nil)
		return
	}
	writeEnvelope(w, 200, 0, "success", map[string]any{
		"access_token": pair.access, "access_token_expire_in": pair.accessExpire,
		"refresh_token": pair.refresh, "refresh_token_expire_in": pair.refreshExpire,
		"open_id": "open-1", "seller_name": "Seller", "seller_base_region": "GB", "user_type": 0,
	})
}

func (s *stub) serveSearch(w http.ResponseWriter, q url.Values) {
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size < 1 || size > 100 {
		writeEnvelope(w, 400, 12052700, "page_size must be 1 to 100", nil)
		return
	}
	from, _ := strconv.Atoi(q.Get("page_token"))
	s.mu.Lock()
	defer s.mu.Unlock()
	to := min(from+size, len(s.products))
	var products []map[string]any
	for _, p := range s.products[from:to] {
		var skus []map[string]any
		for _, id := range slices.Sorted(maps.Keys(p.skus)) {
			var inv []map[string]any
			for _, wh := range p.skus[id] {
				inv = append(inv, map[string]any{"warehouse_id": wh, "quantity": 5})
			}
			skus = append(skus, map[string]any{"id": id, "seller_sku": "S-" + id, "inventory": inv, "price": map[string]string{"currency": "GBP"}})
		}
		products = append(products, map[string]any{"id": p.id, "title": "P " + p.id, "status": "ACTIVATE", "skus": skus})
	}
	next := ""
	if to < len(s.products) {
		next = strconv.Itoa(to)
	}
	writeEnvelope(w, 200, 0, "Success", map[string]any{"products": products, "next_page_token": next, "total_count": len(s.products)})
}

func itoa(i int) string { return strconv.Itoa(i) }

func jsonNumber(s string) json.Number { return json.Number(s) }

func fmtV(v any) string { return fmt.Sprintf("%v %+v %#v", v, v, v) }
