package tiktokfake_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sign is the signing rule written again, independently of the fake:
// secret + path + sorted key+value pairs (no sign, no access_token) + body
// + secret, HMAC-SHA256 keyed with the secret, lowercase hex.
func sign(secret, path string, q url.Values, body string) string {
	var keys []string
	for k := range q {
		if k != "sign" && k != "access_token" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	s := path
	for _, k := range keys {
		s += k + q.Get(k)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(secret + s + body + secret))
	return hex.EncodeToString(m.Sum(nil))
}

type fixture struct {
	t   *testing.T
	s   *tiktokfake.Server
	ts  *httptest.Server
	clk *clock
	cat *catalog.Catalog
}

func newFixture(t *testing.T, c *catalog.Catalog) *fixture {
	t.Helper()
	if c == nil {
		var err error
		if c, err = catalog.Generate(catalog.Options{Products: 4, Variants: 2, Locations: 2, Seed: 3}); err != nil {
			t.Fatal(err)
		}
	}
	clk := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	s := tiktokfake.New(tiktokfake.Options{Catalog: c, Now: clk.Now})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &fixture{t, s, ts, clk, c}
}

type reply struct {
	status    int
	Code      int             `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

// call sends a signed request; edit may change it after signing.
func (f *fixture) call(method, path string, query url.Values, body string, edit func(*http.Request)) reply {
	f.t.Helper()
	q := url.Values{"app_key": {tiktokfake.DefaultAppKey}, "timestamp": {strconv.FormatInt(f.clk.Now().Unix(), 10)}}
	if path != "/authorization/202309/shops" {
		q.Set("shop_cipher", tiktokfake.DefaultShopCipher)
	}
	for k, v := range query {
		q[k] = v
	}
	q.Set("sign", sign(tiktokfake.DefaultAppSecret, path, q, body))
	req, _ := http.NewRequest(method, f.ts.URL+path+"?"+q.Encode(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-tts-access-token", f.s.Tokens().AccessToken)
	if edit != nil {
		edit(req)
	}
	return f.do(req)
}

func (f *fixture) do(req *http.Request) reply {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil {
		f.t.Fatalf("answer %s: %v", raw, err)
	}
	r.status = resp.StatusCode
	return r
}

func TestSignature(t *testing.T) {
	f := newFixture(t, nil)
	if r := f.call(http.MethodGet, "/logistics/202309/warehouses", nil, "", nil); r.Code != 0 || r.status != 200 {
		t.Fatalf("a correctly signed request: %+v", r)
	}
	body := `{"product_ids":["` + f.cat.TikTokProducts[0].ID + `"]}`
	if r := f.call(http.MethodPost, "/product/202309/inventory/search", nil, body, nil); r.Code != 0 {
		t.Fatalf("a correctly signed request with a body: %+v", r)
	}
	for name, edit := range map[string]func(*http.Request){
		"wrong sign": func(r *http.Request) {
			q := r.URL.Query()
			q.Set("sign", strings.Repeat("0", 64))
			r.URL.RawQuery = q.Encode()
		},
		"body changed after signing": func(r *http.Request) {
			b := `{"product_ids": ["` + f.cat.TikTokProducts[0].ID + `"]}` // one space more
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
		},
		"parameter added after signing": func(r *http.Request) { r.URL.RawQuery += "&page_size=5" },
		"uppercase hex": func(r *http.Request) {
			q := r.URL.Query()
			q.Set("sign", strings.ToUpper(q.Get("sign")))
			r.URL.RawQuery = q.Encode()
		},
	} {
		r := f.call(http.MethodPost, "/product/202309/inventory/search", nil, body, edit)
		if r.Code != tiktokfake.CodeBadSign {
			t.Errorf("%s: code %d, want %d", name, r.Code, tiktokfake.CodeBadSign)
		}
	}
	// access_token in the query is not signed.
	if r := f.call(http.MethodGet, "/logistics/202309/warehouses", url.Values{"access_token": {"x"}}, "", func(r *http.Request) {
		r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "access_token=x", "access_token=y", 1)
	}); r.Code != 0 {
		t.Errorf("access_token is left out of the sign, but changing it failed: %+v", r)
	}
}

func TestTimestampWindow(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		skew time.Duration // the request's timestamp minus now
		ok   bool
	}{
		{-5*time.Minute + time.Second, true},
		{-5*time.Minute - time.Second, false},
		{29 * time.Second, true},
		{31 * time.Second, false},
	} {
		ts := strconv.FormatInt(f.clk.Now().Add(tc.skew).Unix(), 10)
		r := f.call(http.MethodGet, "/logistics/202309/warehouses", url.Values{"timestamp": {ts}}, "", nil)
		if got := r.Code == 0; got != tc.ok {
			t.Errorf("skew %v: code %d", tc.skew, r.Code)
		}
		if !tc.ok && r.Code != tiktokfake.CodeTimestamp {
			t.Errorf("skew %v: code %d, want %d", tc.skew, r.Code, tiktokfake.CodeTimestamp)
		}
	}
}

type updateData struct {
	Errors []struct {
		Code   int
		Detail struct {
			SKUID       string `json:"sku_id"`
			ExtraErrors []struct {
				WarehouseID string `json:"warehouse_id"`
				Code        int
			} `json:"extra_errors"`
		}
	}
}

func (f *fixture) update(productID string, skus ...string) (reply, updateData) {
	f.t.Helper()
	body := `{"skus":[` + strings.Join(skus, ",") + `]}`
	r := f.call(http.MethodPost, "/product/202309/products/"+productID+"/inventory/update", nil, body, nil)
	var d updateData
	if r.Data != nil {
		json.Unmarshal(r.Data, &d)
	}
	return r, d
}

func skuBody(id string, stock ...any) string {
	var inv []string
	for i := 0; i < len(stock); i += 2 {
		inv = append(inv, fmt.Sprintf(`{"warehouse_id":%q,"quantity":%v}`, stock[i], stock[i+1]))
	}
	return fmt.Sprintf(`{"id":%q,"inventory":[%s]}`, id, strings.Join(inv, ","))
}

func TestInventoryUpdateRules(t *testing.T) {
	f := newFixture(t, nil)
	p0, p1 := f.cat.TikTokProducts[0], f.cat.TikTokProducts[1]
	multi := p0.SKUs[0] // the catalog's first SKU is in two warehouses
	if len(multi.Inventory) != 2 {
		t.Fatalf("the first SKU has %d warehouses, want 2", len(multi.Inventory))
	}
	main, second := multi.Inventory[0].WarehouseID, multi.Inventory[1].WarehouseID
	single := p0.SKUs[1]
	singleWH := single.Inventory[0].WarehouseID
	returns := f.cat.Warehouses[3].ID

	for _, tc := range []struct {
		name     string
		sku      string
		code     int
		extraWID string
	}{
		{"SKU of another product", skuBody(p1.SKUs[0].ID, main, 1), tiktokfake.CodeOtherProduct, ""},
		{"one warehouse of a multi-warehouse SKU", skuBody(multi.ID, main, 5), tiktokfake.CodeMissingWarehouse, second},
		{"above the ceiling", skuBody(single.ID, singleWH, 1_000_000), tiktokfake.CodeQuantityRange, singleWH},
		{"negative", skuBody(single.ID, singleWH, -1), tiktokfake.CodeQuantityRange, singleWH},
		{"not whole", skuBody(single.ID, singleWH, 1.5), tiktokfake.CodeInvalidStock, singleWH},
		{"unknown warehouse", skuBody(single.ID, "7000000000000000001", 1), tiktokfake.CodeNoWarehouse, "7000000000000000001"},
		{"return warehouse", skuBody(single.ID, returns, 1), tiktokfake.CodeNoWarehouse, returns},
		{"warehouse twice", skuBody(single.ID, singleWH, 1, singleWH, 2), tiktokfake.CodeDuplicateWarehouse, singleWH},
	} {
		before := f.s.Quantities()
		r, d := f.update(p0.ID, tc.sku)
		if r.status != 200 || r.Code != 0 {
			t.Errorf("%s: HTTP %d code %d, want 200 and 0 with per-SKU errors", tc.name, r.status, r.Code)
		}
		if len(d.Errors) != 1 || d.Errors[0].Code != tc.code {
			t.Errorf("%s: errors %s, want one with %d", tc.name, r.Data, tc.code)
			continue
		}
		if tc.extraWID != "" && (len(d.Errors[0].Detail.ExtraErrors) == 0 || d.Errors[0].Detail.ExtraErrors[0].WarehouseID != tc.extraWID) {
			t.Errorf("%s: extra_errors %+v, want warehouse %s", tc.name, d.Errors[0].Detail.ExtraErrors, tc.extraWID)
		}
		if after := f.s.Quantities(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: a failed SKU changed quantities", tc.name)
		}
	}

	// A good SKU next to a bad one is applied; the bad one is reported.
	r, d := f.update(p0.ID, skuBody(multi.ID, main, 7, second, 0), skuBody(p1.SKUs[0].ID, main, 1), skuBody(multi.ID, main, 8, second, 1))
	if r.Code != 0 || len(d.Errors) != 2 || d.Errors[0].Code != tiktokfake.CodeOtherProduct || d.Errors[1].Code != tiktokfake.CodeDuplicateSKU {
		t.Errorf("mixed update: %+v %s", r, r.Data)
	}
	if q, _ := f.s.Quantity(multi.ID, main); q != 7 {
		t.Errorf("quantity %d, want 7", q)
	}
	if q, _ := f.s.Quantity(multi.ID, second); q != 0 {
		t.Errorf("quantity %d, want 0", q)
	}
	if q := f.s.Stock()[0].Warehouses[0].Available; q != 7 {
		t.Errorf("read back %d, want 7", q)
	}
	if r, _ := f.update("7000000000000000009", skuBody(single.ID, singleWH, 1)); r.Code != tiktokfake.CodeNoProduct {
		t.Errorf("unknown product: code %d", r.Code)
	}
}

func TestSKUFault(t *testing.T) {
	f := newFixture(t, nil)
	p := f.cat.TikTokProducts[0]
	k := p.SKUs[1]
	if err := f.s.InjectFault(fakes.Fault{SKUID: k.ID, Code: 12052109}); err != nil {
		t.Fatal(err)
	}
	_, d := f.update(p.ID, skuBody(k.ID, k.Inventory[0].WarehouseID, 3))
	if len(d.Errors) != 1 || d.Errors[0].Code != 12052109 || d.Errors[0].Detail.SKUID != k.ID {
		t.Errorf("errors %+v, want the injected 12052109", d.Errors)
	}
	if _, d := f.update(p.ID, skuBody(k.ID, k.Inventory[0].WarehouseID, 3)); len(d.Errors) != 0 {
		t.Errorf("the fault outlived its one use: %+v", d.Errors)
	}
}

func TestProductSearchPages(t *testing.T) {
	f := newFixture(t, nil)
	var ids []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		q := url.Values{"page_size": {"2"}}
		if token != "" {
			q.Set("page_token", token)
		}
		r := f.call(http.MethodPost, "/product/202309/products/search", q, `{"status":"ACTIVATE"}`, nil)
		var d struct {
			Products []struct {
				ID   string
				SKUs []struct {
					ID        string
					SellerSKU string `json:"seller_sku"`
					Inventory []struct {
						WarehouseID string `json:"warehouse_id"`
						Quantity    int
					}
				}
			}
			TotalCount    int    `json:"total_count"`
			NextPageToken string `json:"next_page_token"`
		}
		if err := json.Unmarshal(r.Data, &d); err != nil || r.Code != 0 {
			t.Fatalf("%+v: %v", r, err)
		}
		for _, p := range d.Products {
			ids = append(ids, p.ID)
		}
		if token = d.NextPageToken; token == "" {
			break
		}
	}
	if len(ids) != len(f.cat.TikTokProducts) {
		t.Errorf("%d products, want %d", len(ids), len(f.cat.TikTokProducts))
	}
	if r := f.call(http.MethodPost, "/product/202309/products/search", url.Values{"page_size": {"101"}}, `{}`, nil); r.Code != tiktokfake.CodeInvalidParam {
		t.Errorf("page_size 101: code %d", r.Code)
	}
}

func TestInventorySearchLimits(t *testing.T) {
	f := newFixture(t, nil)
	ids := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf("%q", fmt.Sprint(9007199254740993+i)))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"product_ids":` + ids(100) + `}`, true},
		{`{"product_ids":` + ids(101) + `}`, false},
		{`{"sku_ids":` + ids(600) + `}`, true},
		{`{"sku_ids":` + ids(601) + `}`, false},
		{`{}`, false},
	} {
		r := f.call(http.MethodPost, "/product/202309/inventory/search", nil, tc.body, nil)
		if (r.Code == 0) != tc.ok {
			t.Errorf("%.40s…: code %d", tc.body, r.Code)
		}
	}
	k := f.cat.TikTokProducts[1].SKUs[0]
	if err := f.s.PlaceOrder(k.ID, k.Inventory[0].WarehouseID, 1); err != nil && k.Inventory[0].Quantity > 0 {
		t.Fatal(err)
	}
	r := f.call(http.MethodPost, "/product/202309/inventory/search", nil, `{"sku_ids":["`+k.ID+`"]}`, nil)
	var d struct {
		Inventory []struct {
			ProductID string `json:"product_id"`
			SKUs      []struct {
				ID                 string
				WarehouseInventory []struct {
					WarehouseID       string `json:"warehouse_id"`
					AvailableQuantity int    `json:"available_quantity"`
					CommittedQuantity int    `json:"committed_quantity"`
				} `json:"warehouse_inventory"`
			}
		}
	}
	json.Unmarshal(r.Data, &d)
	if len(d.Inventory) != 1 || d.Inventory[0].ProductID != f.cat.TikTokProducts[1].ID || d.Inventory[0].SKUs[0].ID != k.ID {
		t.Fatalf("inventory %s", r.Data)
	}
	if wi := d.Inventory[0].SKUs[0].WarehouseInventory[0]; k.Inventory[0].Quantity > 0 && (wi.AvailableQuantity != k.Inventory[0].Quantity-1 || wi.CommittedQuantity != 1) {
		t.Errorf("after an order of 1 from %d: %+v", k.Inventory[0].Quantity, wi)
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, nil)
	auth := func(path string, q url.Values) reply {
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+path+"?"+q.Encode(), nil)
		return f.do(req)
	}
	refresh := func(token string) reply {
		return auth("/api/v2/token/refresh", url.Values{"app_key": {tiktokfake.DefaultAppKey}, "app_secret": {tiktokfake.DefaultAppSecret},
			"refresh_token": {token}, "grant_type": {"refresh_token"}})
	}
	warehouses := func() int { return f.call(http.MethodGet, "/logistics/202309/warehouses", nil, "", nil).Code }

	f.clk.Add(tiktokfake.DefaultAccessTTL)
	if code := warehouses(); code != tiktokfake.CodeExpiredToken {
		t.Errorf("a week later: code %d, want %d", code, tiktokfake.CodeExpiredToken)
	}
	r := refresh(tiktokfake.DefaultRefreshToken)
	var d struct {
		AccessToken          string `json:"access_token"`
		AccessTokenExpireIn  int64  `json:"access_token_expire_in"`
		RefreshToken         string `json:"refresh_token"`
		RefreshTokenExpireIn int64  `json:"refresh_token_expire_in"`
	}
	json.Unmarshal(r.Data, &d)
	if r.Code != 0 || d.AccessToken == "" || d.AccessToken == tiktokfake.DefaultAccessToken || d.AccessTokenExpireIn != f.clk.Now().Add(tiktokfake.DefaultAccessTTL).Unix() {
		t.Fatalf("refresh: %+v %s", r, r.Data)
	}
	if code := warehouses(); code != 0 {
		t.Errorf("with the new token: code %d", code)
	}
	f.s.ExpireAccessTokens()
	if code := warehouses(); code != tiktokfake.CodeExpiredToken {
		t.Errorf("expired by control: code %d", code)
	}
	f.s.RevokeRefreshTokens()
	if r := refresh(d.RefreshToken); r.Code != tiktokfake.CodeBadRefreshToken {
		t.Errorf("revoked refresh token: code %d", r.Code)
	}
	r = auth("/api/v2/token/get", url.Values{"app_key": {tiktokfake.DefaultAppKey}, "app_secret": {tiktokfake.DefaultAppSecret},
		"auth_code": {tiktokfake.DefaultAuthCode}, "grant_type": {"authorized_code"}})
	if r.Code != 0 {
		t.Errorf("token/get: %+v", r)
	}
	if code := warehouses(); code != 0 {
		t.Errorf("after authorising again: code %d", code)
	}
	for _, req := range f.s.Requests() {
		if strings.Contains(fmt.Sprint(req.Query, req.Header), tiktokfake.DefaultAppSecret) || strings.Contains(fmt.Sprint(req.Header), "TTP_") {
			t.Errorf("the log keeps a secret: %+v", req)
		}
	}
}

func TestShopsNeedNoCipherButOthersDo(t *testing.T) {
	f := newFixture(t, nil)
	r := f.call(http.MethodGet, "/authorization/202309/shops", nil, "", nil)
	var d struct{ Shops []struct{ ID, Cipher string } }
	json.Unmarshal(r.Data, &d)
	if r.Code != 0 || len(d.Shops) != 1 || d.Shops[0].Cipher != tiktokfake.DefaultShopCipher {
		t.Errorf("shops: %+v %s", r, r.Data)
	}
	if r := f.call(http.MethodGet, "/logistics/202309/warehouses", url.Values{"shop_cipher": {"other"}}, "", nil); r.Code != tiktokfake.CodeBadShopCipher {
		t.Errorf("wrong cipher: code %d", r.Code)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, nil)
	f.s.InjectFault(fakes.Fault{Status: 429, Path: "/logistics/", Count: 2})
	for i := range 2 {
		if r := f.call(http.MethodGet, "/logistics/202309/warehouses", nil, "", nil); r.status != 429 || r.Code != tiktokfake.CodeTooManyRequests {
			t.Errorf("call %d: %+v, want 429 / %d", i, r, tiktokfake.CodeTooManyRequests)
		}
	}
	if r := f.call(http.MethodGet, "/logistics/202309/warehouses", nil, "", nil); r.Code != 0 {
		t.Errorf("after the fault: %+v", r)
	}
	f.s.InjectFault(fakes.Fault{Status: 503})
	if r := f.call(http.MethodGet, "/logistics/202309/warehouses", nil, "", nil); r.status != 503 || r.Code != tiktokfake.CodeInternal {
		t.Errorf("5xx: %+v", r)
	}
	f.s.InjectFault(fakes.Fault{ExpiredToken: true})
	if r := f.call(http.MethodGet, "/logistics/202309/warehouses", nil, "", nil); r.Code != tiktokfake.CodeExpiredToken {
		t.Errorf("expired token: %+v", r)
	}
}

func TestControlAPI(t *testing.T) {
	f := newFixture(t, nil)
	wh := f.cat.Warehouses[1].ID
	resp, err := http.Post(f.ts.URL+"/_control/warehouse", "application/json", bytes.NewReader([]byte(`{"warehouse_id":"`+wh+`","effect_status":"DISABLED"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || f.s.Warehouses()[1].EffectStatus != "DISABLED" {
		t.Errorf("status %d, warehouses %+v", resp.StatusCode, f.s.Warehouses())
	}
	resp, err = http.Get(f.ts.URL + "/_control/stock")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stock []tiktokfake.SKUState
	if err := json.NewDecoder(resp.Body).Decode(&stock); err != nil || len(stock) != 4*2+2 {
		t.Errorf("stock: %d SKUs, %v", len(stock), err)
	}
}

func TestRateLimit(t *testing.T) {
	clk := &clock{t: time.Now()}
	s := tiktokfake.New(tiktokfake.Options{RateLimit: 0.001, RateBurst: 2, Now: clk.Now})
	ts := httptest.NewServer(s)
	defer ts.Close()
	f := &fixture{t: t, s: s, ts: ts, clk: clk}
	var codes []int
	for range 3 {
		r := f.call(http.MethodGet, "/logistics/202309/warehouses", nil, "", nil)
		codes = append(codes, r.Code)
		if r.Code == tiktokfake.CodeTooManyRequests && r.status != 429 {
			t.Errorf("36009002 with HTTP %d, want 429", r.status)
		}
	}
	if fmt.Sprint(codes) != fmt.Sprint([]int{0, 0, tiktokfake.CodeTooManyRequests}) {
		t.Errorf("codes %v, want a burst of 2 then 36009002", codes)
	}
}
