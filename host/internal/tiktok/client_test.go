package tiktok

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// clock is a test clock; each reading moves it on by step.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newClock(step time.Duration) *clock {
	return &clock{t: time.Now().Truncate(time.Second), step: step}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testClient is a client of s with fast retries and a rate high enough not
// to slow the tests.
func testClient(t *testing.T, s *stub, clk *clock, change ...func(*Options)) *Client {
	t.Helper()
	opt := Options{
		AppKey: s.appKey, AppSecret: s.appSecret,
		BaseURL: s.srv.URL, AuthBaseURL: s.srv.URL + "/",
		RequestTimeout: 5 * time.Second * slowtest.Factor,
		RetryBase:      time.Millisecond, RetryMax: 5 * time.Millisecond,
		Rate: 1000, Burst: 100,
		Now:    clk.Now,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, f := range change {
		f(&opt)
	}
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// shopWithToken is a shop whose stub accepts the access token "access-1".
func shopWithToken(t *testing.T, s *stub, c *Client) (*Shop, *MemoryTokens) {
	s.mu.Lock()
	s.access["access-1"] = true
	s.mu.Unlock()
	store := &MemoryTokens{Tokens: Tokens{AccessToken: "access-1", RefreshToken: "refresh-1"}}
	return c.Shop("ROW_cipherA", store), store
}

func dropConnection(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestTransientFailuresAreRetriedAndEachAttemptSignedAfresh(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	cases := []struct {
		name   string
		faults []fault
	}{
		{"HTTP 429 with 36009002", []fault{answer(429, CodeTooManyRequests, "too many requests", nil), answer(429, CodeTooManyRequests, "too many requests", nil)}},
		{"36009002 with HTTP 200", []fault{answer(200, CodeTooManyRequests, "too many requests", nil)}},
		{"internal error 36009003", []fault{answer(200, CodeInternal, "internal error", nil)}},
		{"503 without JSON", []fault{func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
		}}},
		{"dropped connection", []fault{dropConnection}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(time.Second)
			s := newStub(t, clk.Now)
			shop, _ := shopWithToken(t, s, testClient(t, s, clk))
			s.queue(path, tc.faults...)

			if _, err := shop.Warehouses(context.Background()); err != nil {
				t.Fatalf("Warehouses after %d transient failures: %v", len(tc.faults), err)
			}
			reqs := s.recorded(path)
			if len(reqs) != len(tc.faults)+1 {
				t.Fatalf("%d attempts, want %d", len(reqs), len(tc.faults)+1)
			}
			var stamps, signs []string
			for _, r := range reqs {
				stamps = append(stamps, r.Query.Get("timestamp"))
				signs = append(signs, r.Query.Get("sign"))
				params := map[string]string{}
				for k := range r.Query {
					params[k] = r.Query.Get(k)
				}
				if want := referenceSign(r.Path, params, r.Body, s.appSecret); r.Query.Get("sign") != want {
					t.Errorf("attempt with timestamp %s: sign %s, want %s", r.Query.Get("timestamp"), r.Query.Get("sign"), want)
				}
			}
			if len(slices.Compact(slices.Sorted(slices.Values(stamps)))) != len(reqs) || len(slices.Compact(slices.Sorted(slices.Values(signs)))) != len(reqs) {
				t.Fatalf("attempts reused a timestamp or sign: timestamps %v, signs %v", stamps, signs)
			}
		})
	}
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	cases := []struct {
		name  string
		fault fault
		is    error
	}{
		{"bad sign", answer(401, CodeBadSign, "signature is invalid", nil), ErrBadSign},
		{"timestamp refused", answer(401, CodeBadTimestamp, "timestamp is invalid", nil), ErrBadTimestamp},
		{"SKU of another product", answer(200, CodeOtherProduct, "sku does not belong to the product", nil), nil},
		{"invalid access token", answer(401, 105001, "access token is invalid", nil), nil},
		{"400 without JSON", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "bad request", 400) }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(0)
			s := newStub(t, clk.Now)
			shop, _ := shopWithToken(t, s, testClient(t, s, clk))
			s.queue(path, tc.fault, tc.fault, tc.fault)

			_, err := shop.Warehouses(context.Background())
			var api *APIError
			if !errors.As(err, &api) {
				t.Fatalf("error %v, want an *APIError", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			if IsTransient(err) {
				t.Errorf("IsTransient(%v) = true", err)
			}
			if n := len(s.recorded(path)); n != 1 {
				t.Fatalf("%d attempts of a permanent error, want 1", n)
			}
		})
	}
}

func TestRetriesStopAfterMaxAttempts(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	clk := newClock(0)
	s := newStub(t, clk.Now)
	shop, _ := shopWithToken(t, s, testClient(t, s, clk, func(o *Options) { o.MaxAttempts = 3 }))
	for range 5 {
		s.queue(path, answer(200, CodeInternal, "internal error", nil))
	}
	_, err := shop.Warehouses(context.Background())
	if !errors.Is(err, ErrInternal) || !IsTransient(err) {
		t.Fatalf("error %v, want a transient ErrInternal", err)
	}
	if n := len(s.recorded(path)); n != 3 {
		t.Fatalf("%d attempts, want MaxAttempts = 3", n)
	}
}

func TestRateLimitedAnswersSlowTheShopsLimiter(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	clk := newClock(0)
	s := newStub(t, clk.Now)
	c := testClient(t, s, clk, func(o *Options) { o.Rate, o.MinRate = 1000, 100 })
	shop, _ := shopWithToken(t, s, c)
	other := c.Shop("ROW_otherShop", &MemoryTokens{})
	ctx := context.Background()

	s.queue(path, answer(429, CodeTooManyRequests, "too many requests", nil), answer(429, CodeTooManyRequests, "too many requests", nil))
	if _, err := shop.Warehouses(ctx); err != nil {
		t.Fatal(err)
	}
	if got := shop.lim.limit(); got != 500 {
		t.Fatalf("after two 429s within a second the rate is %v, want 500 (halved once)", got)
	}
	if got := other.lim.limit(); got != 1000 {
		t.Fatalf("another shop's rate is %v, want 1000 untouched", got)
	}
	if c.Shop("ROW_cipherA", &MemoryTokens{}).lim != shop.lim {
		t.Fatal("two Shops of one cipher do not share the limiter")
	}

	clk.Add(2 * time.Second)
	s.queue(path, answer(200, CodeTooManyRequests, "too many requests", nil))
	if _, err := shop.Warehouses(ctx); err != nil {
		t.Fatal(err)
	}
	if got := shop.lim.limit(); got != 250 {
		t.Fatalf("after a 36009002 a second later the rate is %v, want 250", got)
	}
	for range 5 {
		s.queue(path, answer(429, CodeTooManyRequests, "too many requests", nil))
		clk.Add(2 * time.Second)
		shop.Warehouses(ctx)
	}
	if got := shop.lim.limit(); got != 100 {
		t.Fatalf("after many 429s the rate is %v, want the floor 100", got)
	}

	// It climbs back only while calls wait on it (limiter_test.go): calls
	// far apart leave it where it is.
	for range 3 {
		clk.Add(time.Minute)
		if _, err := shop.Warehouses(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := shop.lim.limit(); got != 100 {
		t.Fatalf("after calls a minute apart the rate is %v, want still 100", got)
	}
}

func TestAccessTokenIsRenewedBeforeItExpires(t *testing.T) {
	clk := newClock(0)
	s := newStub(t, clk.Now)
	c := testClient(t, s, clk)
	now := clk.Now()
	weekLater := now.Add(7 * 24 * time.Hour).Unix()
	s.access["access-1"] = true
	s.refresh["refresh-1"] = tokenPair{access: "access-2", refresh: "refresh-2", accessExpire: weekLater, refreshExpire: 30 * 24 * 3600}

	cases := []struct {
		name      string
		expiresIn time.Duration
		wantToken string
	}{
		{"an hour left: kept", time.Hour, "access-1"},
		{"expiry unknown: kept", 0, "access-1"},
		{"five minutes left: renewed first", 5 * time.Minute, "access-2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			s.requests = nil
			s.mu.Unlock()
			tok := Tokens{AccessToken: "access-1", RefreshToken: "refresh-1"}
			if tc.expiresIn != 0 {
				tok.AccessExpiresAt = now.Add(tc.expiresIn)
			}
			store := &MemoryTokens{Tokens: tok}
			if _, err := c.Shop("ROW_cipherA", store).Warehouses(context.Background()); err != nil {
				t.Fatal(err)
			}
			reqs := s.recorded("/logistics/202309/warehouses")
			if len(reqs) != 1 || reqs[0].Token != tc.wantToken {
				t.Fatalf("requests %+v, want one with token %s", reqs, tc.wantToken)
			}
			if store.Tokens.AccessToken != tc.wantToken {
				t.Fatalf("stored access token %q, want %q", store.Tokens.AccessToken, tc.wantToken)
			}
			if tc.wantToken == "access-2" {
				got := store.Tokens
				if got.RefreshToken != "refresh-2" || !got.AccessExpiresAt.Equal(time.Unix(weekLater, 0)) ||
					!got.RefreshExpiresAt.Equal(now.Add(30*24*time.Hour)) {
					t.Fatalf("stored %v, want refresh-2 with the access expiry read as a timestamp and the refresh expiry as seconds", got)
				}
			}
		})
	}
}

func TestExpiredTokenAnswerRenewsTheTokenAndRetriesOnce(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	cases := []struct {
		name         string
		renewedWorks bool
	}{
		{"renewed token works", true},
		{"renewed token refused too", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(0)
			s := newStub(t, clk.Now)
			c := testClient(t, s, clk)
			s.expired["access-1"] = true
			s.refresh["refresh-1"] = tokenPair{access: "access-2", refresh: "refresh-2"}
			if !tc.renewedWorks {
				s.expired["access-2"] = true
			}
			store := &MemoryTokens{Tokens: Tokens{AccessToken: "access-1", RefreshToken: "refresh-1"}}

			_, err := c.Shop("ROW_cipherA", store).Warehouses(context.Background())
			if tc.renewedWorks && err != nil {
				t.Fatal(err)
			}
			if !tc.renewedWorks && !errors.Is(err, ErrExpiredToken) {
				t.Fatalf("error %v, want ErrExpiredToken", err)
			}
			var tokens []string
			for _, r := range s.recorded(path) {
				tokens = append(tokens, r.Token)
			}
			if !slices.Equal(tokens, []string{"access-1", "access-2"}) {
				t.Fatalf("requests with tokens %v, want access-1 then access-2 and no more", tokens)
			}
			if n := len(s.recorded("/api/v2/token/refresh")); n != 1 {
				t.Fatalf("%d renewals, want 1", n)
			}
			if store.Tokens.AccessToken != "access-2" || store.Tokens.RefreshToken != "refresh-2" {
				t.Fatalf("stored %v, want the renewed pair", store.Tokens)
			}
		})
	}
}

func TestTokenStoredByAnotherProcessIsUsedWithoutRenewal(t *testing.T) {
	clk := newClock(0)
	s := newStub(t, clk.Now)
	c := testClient(t, s, clk)
	s.expired["access-1"] = true
	s.access["access-2"] = true
	store := &MemoryTokens{Tokens: Tokens{AccessToken: "access-1", RefreshToken: "refresh-1"}}
	shop := c.Shop("ROW_cipherA", store)
	if _, err := shop.accessToken(context.Background()); err != nil { // caches access-1
		t.Fatal(err)
	}
	store.Tokens = Tokens{AccessToken: "access-2", RefreshToken: "refresh-2"}
	if _, err := shop.Warehouses(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.recorded("/api/v2/token/refresh")); n != 0 {
		t.Fatalf("%d renewals, want none: the store had a newer token", n)
	}
}

func TestDeadRefreshTokenAsksForReauthorization(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	cases := []struct {
		name         string
		tokens       func(now time.Time) Tokens
		wantRefresh  int
		wantRequests int
	}{
		{"refresh token refused", func(time.Time) Tokens {
			return Tokens{AccessToken: "access-1", RefreshToken: "refresh-dead"}
		}, 1, 1},
		{"refresh token past its expiry", func(now time.Time) Tokens {
			return Tokens{AccessToken: "access-1", RefreshToken: "refresh-1", RefreshExpiresAt: now.Add(-time.Hour)}
		}, 0, 1},
		{"access token expired by the clock, refresh token refused", func(now time.Time) Tokens {
			return Tokens{AccessToken: "access-1", AccessExpiresAt: now.Add(-time.Minute), RefreshToken: "refresh-dead"}
		}, 1, 0},
		{"nothing stored", func(time.Time) Tokens { return Tokens{} }, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock(0)
			s := newStub(t, clk.Now)
			c := testClient(t, s, clk)
			s.expired["access-1"] = true
			s.refresh["refresh-1"] = tokenPair{access: "access-2", refresh: "refresh-2"}
			shop := c.Shop("ROW_cipherA", &MemoryTokens{Tokens: tc.tokens(clk.Now())})

			for range 2 {
				_, err := shop.Warehouses(context.Background())
				if !errors.Is(err, ErrReauthorize) || IsTransient(err) {
					t.Fatalf("error %v, want a permanent ErrReauthorize", err)
				}
			}
			if n := len(s.recorded("/api/v2/token/refresh")); n != 2*tc.wantRefresh {
				t.Fatalf("%d renewals for 2 calls, want %d", n, 2*tc.wantRefresh)
			}
			if n := len(s.recorded(path)); n != 2*tc.wantRequests {
				t.Fatalf("%d requests for 2 calls, want %d", n, 2*tc.wantRequests)
			}
		})
	}
}

func TestTransientRenewalFailureIsRetriedNotReauthorization(t *testing.T) {
	clk := newClock(0)
	s := newStub(t, clk.Now)
	c := testClient(t, s, clk)
	s.expired["access-1"] = true
	s.refresh["refresh-1"] = tokenPair{access: "access-2", refresh: "refresh-2"}
	s.queue("/api/v2/token/refresh", answer(503, 0, "unavailable", nil), dropConnection)
	store := &MemoryTokens{Tokens: Tokens{AccessToken: "access-1", RefreshToken: "refresh-1"}}
	if _, err := c.Shop("ROW_cipherA", store).Warehouses(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.recorded("/api/v2/token/refresh")); n != 3 {
		t.Fatalf("%d renewal attempts, want 3", n)
	}
}

func TestExpiryReadsTimestampsAndDurations(t *testing.T) {
	now := time.Unix(1_765_000_000, 0)
	cases := []struct {
		in   string
		want time.Time
	}{
		{"1765604800", time.Unix(1_765_604_800, 0)},
		{"604800", now.Add(7 * 24 * time.Hour)},
		{"31536000", now.Add(365 * 24 * time.Hour)},
		{"0", time.Time{}},
		{"", time.Time{}},
	}
	for _, tc := range cases {
		got, err := expiry(jsonNumber(tc.in), now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("expiry(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := expiry(jsonNumber("1.5e9"), now); err == nil {
		t.Error("expiry(1.5e9) accepted a non-integer")
	}
}

func TestExchangeAuthCode(t *testing.T) {
	clk := newClock(0)
	s := newStub(t, clk.Now)
	c := testClient(t, s, clk)
	s.refresh["code:auth-1"] = tokenPair{access: "access-9", refresh: "refresh-9", accessExpire: 604800, refreshExpire: clk.Now().Add(60 * 24 * time.Hour).Unix()}

	got, err := c.ExchangeAuthCode(context.Background(), "auth-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != "access-9" || got.RefreshToken != "refresh-9" || got.SellerName != "Seller" || got.AccessExpiresAt.IsZero() {
		t.Fatalf("got %v (%s), want the stub's pair", got, got.SellerName)
	}
	q := s.recorded("/api/v2/token/get")[0].Query
	if q.Get("grant_type") != "authorized_code" || q.Has("sign") {
		t.Fatalf("query %v: want grant_type=authorized_code and no sign", q)
	}
	if _, err := c.ExchangeAuthCode(context.Background(), "used-code"); err == nil || IsTransient(err) {
		t.Fatalf("unknown auth code: error %v, want a permanent error", err)
	}
}

func TestInventoryUpdateRefusesWhatTikTokWould(t *testing.T) {
	known := &Product{ID: "1001", SKUs: []SKU{
		{ID: "2001", Inventory: []Stock{{WarehouseID: "W1"}}},
		{ID: "2002", Inventory: []Stock{{WarehouseID: "W1"}, {WarehouseID: "W2"}}},
	}}
	q := func(kv ...any) map[string]int {
		m := map[string]int{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(int)
		}
		return m
	}
	cases := []struct {
		name  string
		u     InventoryUpdate
		known *Product
	}{
		{"no SKUs", InventoryUpdate{ProductID: "1001"}, nil},
		{"path-changing product id", InventoryUpdate{ProductID: "1001/../x", SKUs: []SKUQuantities{{SKUID: "2001", Quantities: q("W1", 1)}}}, nil},
		{"SKU twice", InventoryUpdate{ProductID: "1001", SKUs: []SKUQuantities{{SKUID: "2001", Quantities: q("W1", 1)}, {SKUID: "2001", Quantities: q("W1", 2)}}}, nil},
		{"SKU without warehouse", InventoryUpdate{ProductID: "1001", SKUs: []SKUQuantities{{SKUID: "2001"}}}, nil},
		{"negative quantity", InventoryUpdate{ProductID: "1001", SKUs: []SKUQuantities{{SKUID: "2001", Quantities: q("W1", -1)}}}, nil},
		{"quantity over the ceiling", InventoryUpdate{ProductID: "1001", SKUs: []SKUQuantities{{SKUID: "2001", Quantities: q("W1", MaxQuantity+1)}}}, nil},
		{"SKU of another product", InventoryUpdate{ProductID: "1001", SKUs: []SKUQuantities{{SKUID: "2999", Quantities: q("W1", 1)}}}, known},
		{"warehouse left out", InventoryUpdate{ProductID: "1001", SKUs: []SKUQuantities{{SKUID: "2002", Quantities: q("W1", 1)}}}, known},
		{"known product is another", InventoryUpdate{ProductID: "1002", SKUs: []SKUQuantities{{SKUID: "2001", Quantities: q("W1", 1)}}}, known},
	}
	clk := newClock(0)
	s := newStub(t, clk.Now)
	shop, _ := shopWithToken(t, s, testClient(t, s, clk))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := shop.UpdateInventory(context.Background(), tc.u, tc.known)
			var inv *InvalidUpdateError
			if !errors.As(err, &inv) || IsTransient(err) {
				t.Fatalf("error %v, want *InvalidUpdateError", err)
			}
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) != 0 {
		t.Fatalf("%d requests sent for refused updates", len(s.requests))
	}
}

func TestProductsArePagedWithSKUsAndWarehouses(t *testing.T) {
	const path = "/product/202309/products/search"
	clk := newClock(0)
	s := newStub(t, clk.Now)
	shop, _ := shopWithToken(t, s, testClient(t, s, clk))
	for i := range 7 {
		id := "10" + itoa(i)
		s.products = append(s.products, stubProduct{id: id, skus: map[string][]string{id + "1": {"W1"}, id + "2": {"W1", "W2"}}})
	}
	var got []Product
	for p, err := range shop.Products(context.Background(), ProductQuery{PageSize: 3, Status: "ACTIVATE"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if len(got) != 7 {
		t.Fatalf("%d products, want 7", len(got))
	}
	p := got[6]
	if p.ID != "106" || len(p.SKUs) != 2 || p.SKUs[0].SellerSKU != "S-1061" || !slices.Equal(p.SKUs[1].WarehouseIDs(), []string{"W1", "W2"}) {
		t.Fatalf("last product %+v, want 106 with SKUs 1061 (W1) and 1062 (W1, W2)", p)
	}
	reqs := s.recorded(path)
	var tokens []string
	for _, r := range reqs {
		tokens = append(tokens, r.Query.Get("page_token"))
		if r.Query.Get("page_size") != "3" || r.Query.Get("shop_cipher") != "ROW_cipherA" || string(r.Body) != `{"status":"ACTIVATE"}` {
			t.Fatalf("request %s %s: want page_size=3, the cipher, and the status filter", r.Query.Encode(), r.Body)
		}
	}
	if !slices.Equal(tokens, []string{"", "3", "6"}) {
		t.Fatalf("page tokens %v, want the first page then those the answers named", tokens)
	}
}

func TestShopsAndWarehouses(t *testing.T) {
	clk := newClock(0)
	s := newStub(t, clk.Now)
	c := testClient(t, s, clk)
	s.access["access-1"] = true
	unscoped := c.Shop("", &MemoryTokens{Tokens: Tokens{AccessToken: "access-1"}})
	shops, err := unscoped.AuthorizedShops(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(shops) != 1 || shops[0] != (AuthorizedShop{ID: "7000000000000000001", Name: "Shop A", Region: "GB", Cipher: "ROW_cipherA"}) {
		t.Fatalf("shops %+v", shops)
	}
	if q := s.recorded("/authorization/202309/shops")[0].Query; q.Has("shop_cipher") {
		t.Fatalf("shops query %v has a shop_cipher", q)
	}
	if _, err := unscoped.Warehouses(context.Background()); err == nil || !strings.Contains(err.Error(), "cipher") {
		t.Fatalf("warehouses without a cipher: error %v, want one naming the cipher", err)
	}

	whs, err := c.Shop(shops[0].Cipher, &MemoryTokens{Tokens: Tokens{AccessToken: "access-1"}}).Warehouses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Warehouse{
		{ID: "7068517275539719942", Name: "Main", Type: WarehouseSales, EffectStatus: "ENABLED", IsDefault: true},
		{ID: "7068517275539719943", Name: "Returns", Type: WarehouseReturn, EffectStatus: "ENABLED"},
	}
	if !slices.Equal(whs, want) {
		t.Fatalf("warehouses %+v, want %+v", whs, want)
	}
}

func TestActivePickup(t *testing.T) {
	cases := []struct {
		typ, status string
		want        bool
	}{
		{"SALES_WAREHOUSE", "ENABLED", true},
		{"SALES_WAREHOUSE", "DISABLED", false},
		{"SALES_WAREHOUSE", "RESTRICTED", false},
		{"RETURN_WAREHOUSE", "ENABLED", false},
	}
	for _, tc := range cases {
		if got := (Warehouse{Type: tc.typ, EffectStatus: tc.status}).ActivePickup(); got != tc.want {
			t.Errorf("%s %s: ActivePickup = %v", tc.typ, tc.status, got)
		}
	}
}

func TestAttemptTimeoutsAreRetriedWithinTheCallersDeadline(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	timeout := 50 * time.Millisecond * slowtest.Factor

	t.Run("one attempt times out, the next answers", func(t *testing.T) {
		clk := newClock(0)
		s := newStub(t, clk.Now)
		shop, _ := shopWithToken(t, s, testClient(t, s, clk, func(o *Options) { o.RequestTimeout = timeout }))
		s.queue(path, hang)
		if _, err := shop.Warehouses(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(s.recorded(path)); n != 2 {
			t.Fatalf("%d attempts, want 2", n)
		}
	})
	t.Run("the caller's deadline ends the retries", func(t *testing.T) {
		clk := newClock(0)
		s := newStub(t, clk.Now)
		shop, _ := shopWithToken(t, s, testClient(t, s, clk, func(o *Options) {
			o.RequestTimeout, o.MaxAttempts, o.RetryBase = time.Hour, 100, time.Millisecond
		}))
		for range 100 {
			s.queue(path, hang)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		_, err := shop.Warehouses(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > timeout+time.Second*slowtest.Factor {
			t.Fatalf("took %v past a %v deadline", took, timeout)
		}
	})
}

func TestConcurrentCallsShareOneRenewal(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	clk := newClock(0)
	s := newStub(t, clk.Now)
	c := testClient(t, s, clk)
	s.expired["access-1"] = true
	s.refresh["refresh-1"] = tokenPair{access: "access-2", refresh: "refresh-2"}
	shop := c.Shop("ROW_cipherA", &MemoryTokens{Tokens: Tokens{AccessToken: "access-1", RefreshToken: "refresh-1"}})

	const calls = 8
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := shop.Warehouses(context.Background())
			errs <- err
		}()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.recorded("/api/v2/token/refresh")); n != 1 {
		t.Fatalf("%d renewals for %d concurrent calls, want 1", n, calls)
	}
	if n := len(s.recorded(path)); n < calls || n > 2*calls {
		t.Fatalf("%d requests, want %d to %d", n, calls, 2*calls)
	}
}
