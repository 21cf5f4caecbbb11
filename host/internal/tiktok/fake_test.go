package tiktok

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// These tests run the client against the fake TikTok Shop over loopback
// HTTP. The fake checks app key, timestamp, sign and tokens with its own
// code, as TikTok does.

func startFake(t *testing.T, opts tiktokfake.Options) *tiktokfake.Server {
	t.Helper()
	f := tiktokfake.New(opts)
	if err := f.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// signRecorder keeps the sign of every request the client sends, so tests
// can look for them where they must not be.
type signRecorder struct {
	mu    sync.Mutex
	signs []string
}

func (r *signRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if s := req.URL.Query().Get("sign"); s != "" {
		r.mu.Lock()
		r.signs = append(r.signs, s)
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func fakeClient(t *testing.T, f *tiktokfake.Server, change ...func(*Options)) *Client {
	t.Helper()
	opt := Options{
		AppKey: f.AppKey(), AppSecret: f.AppSecret(), BaseURL: f.URL(), AuthBaseURL: f.URL(),
		RequestTimeout: 5 * time.Second * slowtest.Factor,
		RetryBase:      time.Millisecond, RetryMax: 5 * time.Millisecond,
		Rate: 1000, Burst: 100,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, ch := range change {
		ch(&opt)
	}
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeTokens is a store holding the fake's current pair.
func fakeTokens(f *tiktokfake.Server) *MemoryTokens {
	ft := f.Tokens()
	return &MemoryTokens{Tokens: Tokens{AccessToken: ft.AccessToken, AccessExpiresAt: ft.AccessTokenExpires,
		RefreshToken: ft.RefreshToken, RefreshExpiresAt: ft.RefreshTokenExpires}}
}

func fakeRequests(f *tiktokfake.Server, path string) []fakes.Request {
	var out []fakes.Request
	for _, r := range f.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func TestFakeConnectReadUpdateAndReadBack(t *testing.T) {
	f := startFake(t, tiktokfake.Options{})
	c := fakeClient(t, f)
	ctx := context.Background()

	tokens, err := c.ExchangeAuthCode(ctx, f.AuthCode())
	if err != nil {
		t.Fatal(err)
	}
	if ft := f.Tokens(); tokens.AccessToken != ft.AccessToken || !tokens.AccessExpiresAt.Equal(ft.AccessTokenExpires.Truncate(time.Second)) {
		t.Fatalf("exchanged %v, want the fake's new pair expiring %v", tokens, ft.AccessTokenExpires)
	}
	store := &MemoryTokens{Tokens: tokens}
	shops, err := c.Shop("", store).AuthorizedShops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(shops) != 1 || shops[0].Cipher != f.ShopCipher() || shops[0].ID != f.ShopID() {
		t.Fatalf("shops %+v, want the fake's", shops)
	}
	shop := c.Shop(shops[0].Cipher, store)

	whs, err := shop.Warehouses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pickup []string
	for _, w := range whs {
		if w.ActivePickup() {
			pickup = append(pickup, w.ID)
		}
	}
	if len(whs) != 4 || len(pickup) != 2 {
		t.Fatalf("warehouses %+v: want 4 with 2 active pickup", whs)
	}

	var products []Product
	for p, err := range shop.Products(ctx, ProductQuery{PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		products = append(products, p)
	}
	if len(products) != 5 { // 3 generated, 2 with conflicting SKUs
		t.Fatalf("%d products, want 5", len(products))
	}
	first := products[0]
	multi := first.SKUs[0] // the generator stocks the first SKU in both pickup warehouses
	if len(multi.Inventory) != 2 || multi.SellerSKU == "" {
		t.Fatalf("first SKU %+v: want a seller SKU in two warehouses", multi)
	}

	update := InventoryUpdate{ProductID: first.ID}
	for i, k := range first.SKUs {
		q := map[string]int{}
		for j, wh := range k.WarehouseIDs() {
			q[wh] = 10*i + j + 1
		}
		update.SKUs = append(update.SKUs, SKUQuantities{SKUID: k.ID, Quantities: q})
	}
	if err := shop.UpdateInventory(ctx, update, &first); err != nil {
		t.Fatal(err)
	}
	levels, err := shop.InventoryOfProducts(ctx, []string{first.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(levels) != len(first.SKUs) {
		t.Fatalf("%d SKUs read back, want %d", len(levels), len(first.SKUs))
	}
	for _, lv := range levels {
		i := slices.IndexFunc(update.SKUs, func(u SKUQuantities) bool { return u.SKUID == lv.SKUID })
		if i < 0 || lv.ProductID != first.ID {
			t.Fatalf("read back %+v: not a SKU of the update", lv)
		}
		for _, w := range lv.Warehouses {
			fq, _ := f.Quantity(lv.SKUID, w.WarehouseID)
			if want := update.SKUs[i].Quantities[w.WarehouseID]; w.Available != want || fq != want {
				t.Fatalf("SKU %s in %s: read back %d, fake has %d, want %d", lv.SKUID, w.WarehouseID, w.Available, fq, want)
			}
		}
	}
}

func TestFakeTransientFaultsAreRetriedSignedAfresh(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	f := startFake(t, tiktokfake.Options{})
	clk := newClock(time.Second)
	shop := fakeClient(t, f, func(o *Options) {
		o.Now = clk.Now
		// net/http sends a GET again by itself when a kept-alive connection
		// drops before answering; one connection per attempt keeps the
		// fake's log to the client's own attempts.
		o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}).Shop(f.ShopCipher(), fakeTokens(f))
	for _, fault := range []fakes.Fault{{Path: path, Status: 429}, {Path: path, Status: 500}, {Path: path, Drop: true}} {
		if err := f.InjectFault(fault); err != nil {
			t.Fatal(err)
		}
	}
	before := shop.lim.limit()
	if _, err := shop.Warehouses(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := fakeRequests(f, path)
	var statuses []int
	var stamps []string
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
		stamps = append(stamps, r.Query.Get("timestamp"))
	}
	if !slices.Equal(statuses, []int{429, 500, 0, 200}) {
		t.Fatalf("answers %v, want 429, 500, a dropped connection, then 200", statuses)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(stamps)))) != len(stamps) {
		t.Fatalf("attempts reused a timestamp: %v", stamps)
	}
	if after := shop.lim.limit(); after >= before {
		t.Fatalf("rate %v after a 429, want below %v", after, before)
	}
}

func TestFakePermanentErrorsAreNotRetried(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Options)
		call   func(context.Context, *Shop) error
		path   string
		is     error
		code   int64
	}{
		{"wrong app secret", func(o *Options) { o.AppSecret = "not-the-secret" },
			func(ctx context.Context, s *Shop) error { _, err := s.Warehouses(ctx); return err },
			"/logistics/202309/warehouses", ErrBadSign, CodeBadSign},
		{"clock ten minutes slow", func(o *Options) { o.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) } },
			func(ctx context.Context, s *Shop) error { _, err := s.Warehouses(ctx); return err },
			"/logistics/202309/warehouses", ErrBadTimestamp, CodeBadTimestamp},
		{"no such product", nil,
			func(ctx context.Context, s *Shop) error {
				return s.UpdateInventory(ctx, InventoryUpdate{ProductID: "123", SKUs: []SKUQuantities{{SKUID: "456", Quantities: map[string]int{"789": 1}}}}, nil)
			},
			"/product/202309/products/123/inventory/update", nil, tiktokfake.CodeNoProduct},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tiktokfake.Options{})
			var change []func(*Options)
			if tc.change != nil {
				change = append(change, tc.change)
			}
			shop := fakeClient(t, f, change...).Shop(f.ShopCipher(), fakeTokens(f))
			err := tc.call(context.Background(), shop)
			var api *APIError
			if !errors.As(err, &api) || api.Code != tc.code || IsTransient(err) {
				t.Fatalf("error %v, want a permanent code %d", err, tc.code)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v does not match %v", err, tc.is)
			}
			if n := len(fakeRequests(f, tc.path)); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
		})
	}
}

func TestFakeTokensAreRenewed(t *testing.T) {
	const path = "/logistics/202309/warehouses"
	ctx := context.Background()

	t.Run("before they expire", func(t *testing.T) {
		f := startFake(t, tiktokfake.Options{AccessTokenTTL: 5 * time.Minute})
		store := fakeTokens(f)
		old := store.Tokens.AccessToken
		if _, err := fakeClient(t, f).Shop(f.ShopCipher(), store).Warehouses(ctx); err != nil {
			t.Fatal(err)
		}
		ft := f.Tokens()
		if ft.AccessToken == old || store.Tokens.AccessToken != ft.AccessToken || store.Tokens.RefreshToken != ft.RefreshToken ||
			!store.Tokens.RefreshExpiresAt.Equal(ft.RefreshTokenExpires.Truncate(time.Second)) {
			t.Fatalf("stored %v, want the fake's renewed pair", store.Tokens)
		}
		if n := len(fakeRequests(f, path)); n != 1 {
			t.Fatalf("%d requests, want 1 with the renewed token", n)
		}
	})
	t.Run("after TikTok calls them expired", func(t *testing.T) {
		f := startFake(t, tiktokfake.Options{})
		store := fakeTokens(f)
		f.ExpireAccessTokens()
		if _, err := fakeClient(t, f).Shop(f.ShopCipher(), store).Warehouses(ctx); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range f.Requests() {
			got = append(got, r.Path+" "+r.Code)
		}
		want := []string{path + " 105002", "/api/v2/token/refresh 0", path + " 0"}
		if !slices.Equal(got, want) {
			t.Fatalf("requests %v, want %v", got, want)
		}
		if store.Tokens.AccessToken != f.Tokens().AccessToken {
			t.Fatal("the renewed pair was not stored")
		}
	})
	t.Run("a revoked refresh token asks for authorisation", func(t *testing.T) {
		f := startFake(t, tiktokfake.Options{})
		shop := fakeClient(t, f).Shop(f.ShopCipher(), fakeTokens(f))
		f.ExpireAccessTokens()
		f.RevokeRefreshTokens()
		for range 3 {
			if _, err := shop.Warehouses(ctx); !errors.Is(err, ErrReauthorize) || IsTransient(err) {
				t.Fatalf("error %v, want ErrReauthorize", err)
			}
		}
		if n := len(fakeRequests(f, "/api/v2/token/refresh")); n != 3 {
			t.Fatalf("%d renewals for 3 calls, want one each, none retried", n)
		}
	})
}

func TestFakePerSKUErrorsAreReturnedTyped(t *testing.T) {
	cat, err := catalog.Generate(catalog.Options{Products: 1, Variants: 3, Locations: 1, Seed: 7, WithoutConflicts: true})
	if err != nil {
		t.Fatal(err)
	}
	f := startFake(t, tiktokfake.Options{Catalog: cat, MaxQuantity: 100})
	shop := fakeClient(t, f).Shop(f.ShopCipher(), fakeTokens(f))
	p := cat.TikTokProducts[0]
	over, injected, fine := p.SKUs[0], p.SKUs[1], p.SKUs[2]
	if err := f.InjectFault(fakes.Fault{Path: "/inventory/update", SKUID: injected.ID, Code: tiktokfake.CodeOverLimit, Message: "requests over limit"}); err != nil {
		t.Fatal(err)
	}
	u := InventoryUpdate{ProductID: p.ID}
	for i, k := range p.SKUs {
		q := map[string]int{}
		for _, st := range k.Inventory {
			q[st.WarehouseID] = []int{500, 5, 6}[i]
		}
		u.SKUs = append(u.SKUs, SKUQuantities{SKUID: k.ID, Quantities: q})
	}
	err = shop.UpdateInventory(context.Background(), u, nil)
	var fail *UpdateFailures
	if !errors.As(err, &fail) || IsTransient(err) {
		t.Fatalf("error %v, want *UpdateFailures", err)
	}
	if len(fail.SKUs) != 2 || fail.SKUs[0].SKUID != over.ID || fail.SKUs[1].SKUID != injected.ID {
		t.Fatalf("failed SKUs %+v, want %s then %s", fail.SKUs, over.ID, injected.ID)
	}
	if w := fail.SKUs[0].Warehouses; len(w) != len(over.Inventory) || w[0].Code != tiktokfake.CodeQuantityRange {
		t.Fatalf("over-range SKU's warehouse errors %+v, want code %d for each of its warehouses", w, tiktokfake.CodeQuantityRange)
	}
	if fail.SKUs[1].Code != tiktokfake.CodeOverLimit {
		t.Fatalf("injected SKU error %+v, want code %d", fail.SKUs[1], tiktokfake.CodeOverLimit)
	}
	if q, _ := f.Quantity(fine.ID, fine.Inventory[0].WarehouseID); q != 6 {
		t.Fatalf("the SKU that did not fail has %d, want 6", q)
	}
	if n := len(fakeRequests(f, "/product/202309/products/"+p.ID+"/inventory/update")); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestFakeInventorySearchIsSplit(t *testing.T) {
	const path = "/product/202309/inventory/search"
	cat, err := catalog.Generate(catalog.Options{Products: 250, Variants: 3, Locations: 1, Seed: 3, WithoutConflicts: true})
	if err != nil {
		t.Fatal(err)
	}
	f := startFake(t, tiktokfake.Options{Catalog: cat})
	shop := fakeClient(t, f).Shop(f.ShopCipher(), fakeTokens(f))
	var productIDs, skuIDs []string
	for _, p := range cat.TikTokProducts {
		productIDs = append(productIDs, p.ID)
		for _, k := range p.SKUs {
			skuIDs = append(skuIDs, k.ID)
		}
	}
	cases := []struct {
		name     string
		read     func(context.Context, []string) ([]InventoryLevels, error)
		ids      []string
		field    string
		requests int
	}{
		{"250 products", shop.InventoryOfProducts, productIDs, "product_ids", 3},
		{"750 SKUs", shop.InventoryOfSKUs, skuIDs, "sku_ids", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.ResetRequests()
			levels, err := tc.read(context.Background(), tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(levels) != len(skuIDs) {
				t.Fatalf("%d SKUs read back, want %d", len(levels), len(skuIDs))
			}
			reqs := fakeRequests(f, path)
			if len(reqs) != tc.requests {
				t.Fatalf("%d requests, want %d", len(reqs), tc.requests)
			}
			asked := 0
			for _, r := range reqs {
				var body map[string][]string
				if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
					t.Fatal(err)
				}
				asked += len(body[tc.field])
			}
			if asked != len(tc.ids) {
				t.Fatalf("asked for %d ids, want %d", asked, len(tc.ids))
			}
		})
	}
}

func TestFakeLogsAndErrorsHoldNoSecrets(t *testing.T) {
	f := startFake(t, tiktokfake.Options{AccessTokenTTL: 5 * time.Minute})
	var logs bytes.Buffer
	signs := &signRecorder{}
	c := fakeClient(t, f, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.HTTPClient = &http.Client{Transport: signs}
	})
	ctx := context.Background()
	store := fakeTokens(f)
	secrets := []string{f.AppSecret(), store.Tokens.AccessToken, store.Tokens.RefreshToken}
	shop := c.Shop(f.ShopCipher(), store)
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	_, err := shop.Warehouses(ctx) // renews first: the token expires within 10 minutes
	keep(err)
	secrets = append(secrets, store.Tokens.AccessToken, store.Tokens.RefreshToken)
	f.InjectFault(fakes.Fault{Path: "/logistics/", Status: 429})
	f.InjectFault(fakes.Fault{Path: "/logistics/", Drop: true})
	_, err = shop.Warehouses(ctx)
	keep(err)
	keep(shop.UpdateInventory(ctx, InventoryUpdate{ProductID: "1", SKUs: []SKUQuantities{{SKUID: "2", Quantities: map[string]int{"3": 1}}}}, nil))
	f.ExpireAccessTokens()
	f.RevokeRefreshTokens()
	_, err = shop.Warehouses(ctx)
	keep(err)
	f.Close() // refused connections, for the token endpoint whose query holds the secret
	_, err = c.RefreshTokens(ctx, store.Tokens.RefreshToken)
	keep(err)
	_, err = c.ExchangeAuthCode(ctx, f.AuthCode())
	keep(err)
	keep(errors.New(fmtV(store.Tokens)))

	if len(errs) < 5 {
		t.Fatalf("only %d errors to look at: %v", len(errs), errs)
	}
	signs.mu.Lock()
	secrets = append(secrets, signs.signs...)
	signs.mu.Unlock()
	for _, want := range []string{"tiktok: retrying", "access token renewed", "must authorise the app again"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("the logs miss %q:\n%s", want, logs.String())
		}
	}
	for _, secret := range secrets {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs hold %q", secret)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds %q", err, secret)
			}
		}
	}
}
