package shop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/slowtest"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/internal/tiktok"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
)

const shopID = "acme"

// runDeadline bounds the wait for a connect run against the fakes.
var runDeadline = 60 * time.Second * slowtest.Factor

// nativeRule runs the default rule through the SDK's runner, without a
// wasm engine: settings checks need a rule, not a sandbox.
type nativeRule struct {
	mu     sync.Mutex
	runner *sdk.Runner
}

func (n *nativeRule) Call(_ context.Context, input []byte, read func([]byte) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return read(n.runner.Run(input))
}

// harness is a shop service over a real SQLite store, talking over
// loopback to a fake Shopify and a fake TikTok Shop.
type harness struct {
	t       testing.TB
	cat     *catalog.Catalog // the Shopify side's
	shopify *shopifyfake.Server
	tiktok  *tiktokfake.Server
	store   *store.Store
	sealer  *secret.Sealer
	svc     *shop.Service
	logs    *lockedBuffer
}

type harnessOptions struct {
	// tiktokCatalog is the TikTok fake's catalog; nil is cat.
	tiktokCatalog *catalog.Catalog
	// tiktokBaseURL overrides the TikTok fake's URL.
	tiktokBaseURL string
	// postgres stores on a fresh PostgreSQL database (skipped without
	// one) instead of SQLite.
	postgres bool
	// shopifyBucket keeps the fake Shopify's own cost bucket (Shopify's
	// standard 1000 points, 50 a second) instead of an endless one.
	shopifyBucket bool
	// shopifyMax and shopifyRate, if set, size the fake Shopify's bucket.
	shopifyMax, shopifyRate float64
	// tiktokRateLimit, if set, makes the fake TikTok answer 429 beyond
	// that many calls a second, in bursts of tiktokRateBurst.
	tiktokRateLimit float64
	tiktokRateBurst int
}

// lockedBuffer collects the service's logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func generate(t testing.TB, products, variants, locations int) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Generate(catalog.Options{Products: products, Variants: variants, Locations: locations, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newHarness starts both fakes on cat and a service whose shop "acme" has
// the fakes' domain and credentials (no shop cipher: connect finds it).
func newHarness(t testing.TB, cat *catalog.Catalog, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, cat: cat, logs: &lockedBuffer{}}
	fo := shopifyfake.Options{Catalog: cat, MaximumAvailable: 1e9, RestoreRate: 1e9}
	if o.shopifyBucket {
		fo.MaximumAvailable, fo.RestoreRate = 0, 0
	}
	if o.shopifyMax > 0 {
		fo.MaximumAvailable, fo.RestoreRate = o.shopifyMax, o.shopifyRate
	}
	h.shopify = shopifyfake.New(fo)
	if err := h.shopify.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.shopify.Close() })
	tcat := o.tiktokCatalog
	if tcat == nil {
		tcat = cat
	}
	h.tiktok = tiktokfake.New(tiktokfake.Options{Catalog: tcat, RateLimit: o.tiktokRateLimit, RateBurst: o.tiktokRateBurst})
	if err := h.tiktok.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.tiktok.Close() })
	if o.postgres {
		h.store = storetest.Postgres(t)
	} else {
		h.store = storetest.SQLite(t, t.TempDir())
	}
	sealer, err := secret.NewSealer(bytes.Repeat([]byte{9}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	h.sealer = sealer
	tiktokURL := h.tiktok.URL()
	if o.tiktokBaseURL != "" {
		tiktokURL = o.tiktokBaseURL
	}
	tk := tiktok.Options{BaseURL: tiktokURL, AuthBaseURL: tiktokURL, RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond}
	if o.tiktokRateLimit > 0 {
		// The harness's own calls (connect, the first sync) keep to the
		// fake's limit, and wait out its 429s.
		tk.Rate, tk.MaxRate, tk.Burst = rate.Limit(o.tiktokRateLimit), rate.Limit(o.tiktokRateLimit), max(1, o.tiktokRateBurst)
		tk.MaxAttempts, tk.RetryBase, tk.RetryMax = 50, 20*time.Millisecond, 200*time.Millisecond
	}
	h.svc = h.newService(shop.Platforms{
		Shopify: shopify.Options{BaseURL: h.shopify.URL(), BulkAbove: 100, BulkPollInterval: 5 * time.Millisecond},
		TikTok:  tk,
	})

	domain := h.shopify.ShopDomain()
	if _, _, err := h.svc.PutShop(context.Background(), shop.Operator, shopID, shop.ShopInput{Name: "Acme", ShopifyDomain: &domain}); err != nil {
		t.Fatal(err)
	}
	h.putCredentials(shop.Credentials{
		Shopify: &shop.ShopifyCredentials{AccessToken: ptr(h.shopify.AccessToken())},
		TikTok: &shop.TikTokCredentials{AppKey: ptr(h.tiktok.AppKey()), AppSecret: ptr(h.tiktok.AppSecret()),
			AccessToken: ptr(tiktokfake.DefaultAccessToken), RefreshToken: ptr(tiktokfake.DefaultRefreshToken)},
	})
	return h
}

// newService is a service over the harness's store, closed when the test
// ends (before the store is).
func (h *harness) newService(p shop.Platforms) *shop.Service {
	h.t.Helper()
	cs, err := compute.NewService(&nativeRule{runner: sdk.NewRunner(defaultrule.Rule)}, compute.Limits{}, compute.MaxMaxQuantity)
	if err != nil {
		h.t.Fatal(err)
	}
	svc := shop.New(shop.Options{Store: h.store, Compute: cs, Sealer: h.sealer, Platforms: p,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(h.logs), nil))})
	h.t.Cleanup(svc.Close)
	return svc
}

func ptr[T any](v T) *T { return &v }

func (h *harness) putCredentials(c shop.Credentials) {
	h.t.Helper()
	if _, err := h.svc.PutCredentials(context.Background(), shop.Operator, shopID, c); err != nil {
		h.t.Fatal(err)
	}
}

// connect connects the shop and waits for the run to end.
func (h *harness) connect() shop.SyncStatus {
	h.t.Helper()
	run, err := h.svc.Connect(context.Background(), shop.Operator, shopID)
	if err != nil {
		h.t.Fatalf("Connect: %v", err)
	}
	if run.State != shop.RunRunning || run.Kind != shop.RunKindConnect {
		h.t.Fatalf("Connect returned %+v, want a running connect run", run)
	}
	st := h.waitRun(run.ID)
	if st.Run.State != shop.RunSucceeded {
		h.t.Fatalf("run ended %s: %s", st.Run.State, st.Run.Error)
	}
	return st
}

// waitRun polls SyncStatus until run id has ended.
func (h *harness) waitRun(id int64) shop.SyncStatus {
	h.t.Helper()
	return h.waitStatus(func(st shop.SyncStatus) bool {
		return st.Run != nil && st.Run.ID == id && st.Run.State != shop.RunRunning
	})
}

// waitStatus polls SyncStatus until done says so.
func (h *harness) waitStatus(done func(shop.SyncStatus) bool) shop.SyncStatus {
	h.t.Helper()
	deadline := time.NewTimer(runDeadline)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := h.svc.SyncStatus(context.Background(), shop.Operator, shopID)
		if err != nil {
			h.t.Fatalf("SyncStatus: %v", err)
		}
		if done(st) {
			return st
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			h.t.Fatalf("still waiting after %s; last status %+v, run %+v", runDeadline, st, st.Run)
		}
	}
}

// variants and skus page through the imported catalog.
func (h *harness) variants(status shop.LinkStatus) map[string]shop.Variant {
	h.t.Helper()
	return collect(h.t, func(after string) ([]shop.Variant, bool, error) {
		return h.svc.VariantPage(context.Background(), shop.Operator, shopID, status, after, 77)
	}, func(v shop.Variant) string { return v.ID })
}

func (h *harness) skus(status shop.LinkStatus) map[string]shop.TikTokSKU {
	h.t.Helper()
	return collect(h.t, func(after string) ([]shop.TikTokSKU, bool, error) {
		return h.svc.TikTokSKUPage(context.Background(), shop.Operator, shopID, status, after, 77)
	}, func(k shop.TikTokSKU) string { return k.ID })
}

func collect[T any](t testing.TB, page func(after string) ([]T, bool, error), id func(T) string) map[string]T {
	t.Helper()
	out := map[string]T{}
	after := ""
	for {
		list, more, err := page(after)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			if _, dup := out[id(x)]; dup {
				t.Fatalf("%s listed twice", id(x))
			}
			out[id(x)] = x
		}
		if !more {
			return out
		}
		if len(list) == 0 {
			t.Fatal("an empty page says more follow")
		}
		after = id(list[len(list)-1])
	}
}

func variantGID(id string) string  { return "gid://shopify/ProductVariant/" + id }
func locationGID(id string) string { return "gid://shopify/Location/" + id }

// expected is what connecting a catalog must give, from what the
// generator says it made.
type expected struct {
	variants map[string]shop.LinkStatus // by variant global id
	skus     map[string]shop.LinkStatus // by TikTok SKU id
	links    map[string]catalog.Link    // linked variants, by global id
	counts   shop.LinkCounts
}

func expect(cat *catalog.Catalog) expected {
	e := expected{variants: map[string]shop.LinkStatus{}, skus: map[string]shop.LinkStatus{}, links: map[string]catalog.Link{}}
	for _, l := range cat.Links {
		e.variants[variantGID(l.VariantID)] = shop.LinkLinked
		e.skus[l.TikTokID] = shop.LinkLinked
		e.links[variantGID(l.VariantID)] = l
	}
	for _, id := range cat.ShopifyOnly {
		e.variants[variantGID(id)] = shop.LinkUnmatched
	}
	for _, id := range cat.TikTokOnly {
		e.skus[id] = shop.LinkUnmatched
	}
	for _, p := range cat.Products {
		for _, v := range p.Variants {
			if slices.Contains(cat.DuplicateSKUs, v.SKU) {
				e.variants[variantGID(v.ID)] = shop.LinkConflict
			}
		}
	}
	for _, p := range cat.TikTokProducts {
		for _, k := range p.SKUs {
			if slices.Contains(cat.DuplicateSKUs, k.SellerSKU) {
				e.skus[k.ID] = shop.LinkConflict
			}
		}
	}
	e.counts = shop.LinkCounts{Linked: len(cat.Links), UnmatchedVariants: len(cat.ShopifyOnly),
		UnmatchedSKUs: len(cat.TikTokOnly), Conflicts: len(cat.DuplicateSKUs)}
	return e
}

// TestConnectLinksGeneratedCatalog connects a generated catalog read in
// bulk (more variants than a batch), to which TikTok adds a second
// listing of one linked seller SKU, and checks every variant's and SKU's
// link against what the generator made.
func TestConnectLinksGeneratedCatalog(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testConnectLinksGeneratedCatalog(t, false) })
	t.Run("postgres", func(t *testing.T) { testConnectLinksGeneratedCatalog(t, true) })
}

func testConnectLinksGeneratedCatalog(t *testing.T, postgres bool) {
	cat := generate(t, 240, 3, 3)
	// TikTok lists the first linked seller SKU on a second product too:
	// that SKU links nothing now.
	relisted := cat.Links[0]
	tcat := cat.Clone()
	tcat.TikTokProducts = append(tcat.TikTokProducts, catalog.TikTokProduct{ID: "9999999999999999001", Title: "Relisted",
		SKUs: []catalog.TikTokSKU{{ID: "9999999999999999002", SellerSKU: relisted.SellerSKU,
			Inventory: []catalog.Stock{{WarehouseID: cat.Warehouses[0].ID, Quantity: 3}}}}})
	want := expect(cat)
	delete(want.links, variantGID(relisted.VariantID))
	want.variants[variantGID(relisted.VariantID)] = shop.LinkConflict
	want.skus[relisted.TikTokID] = shop.LinkConflict
	want.skus["9999999999999999002"] = shop.LinkConflict
	want.counts.Linked--
	want.counts.Conflicts++

	h := newHarness(t, cat, harnessOptions{tiktokCatalog: tcat, postgres: postgres})
	st := h.connect()

	if st.Run.Phase != shop.PhaseDone || st.Run.Finished == nil || st.Run.Counts == nil || *st.Run.Counts != want.counts {
		t.Errorf("run = %+v (counts %+v), want done with counts %+v", st.Run, st.Run.Counts, want.counts)
	}
	if st.Catalog == nil || *st.Catalog != want.counts {
		t.Errorf("catalog counts = %+v, want %+v", st.Catalog, want.counts)
	}
	if !st.Connected || st.ShopifyDomain != h.shopify.ShopDomain() || st.Settings.State != shop.SettingsNone {
		t.Errorf("status = %+v, want connected %s without settings", st, h.shopify.ShopDomain())
	}

	// The shop has the platforms' locations and pickup warehouses.
	sh, err := h.svc.Shop(context.Background(), shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	var wantLocs []shop.Location
	for _, l := range cat.Locations {
		wantLocs = append(wantLocs, shop.Location{ID: locationGID(l.ID), Active: l.Active})
	}
	var wantWhs []shop.Warehouse
	for _, w := range cat.Warehouses {
		if w.Type == tiktok.WarehouseSales {
			wantWhs = append(wantWhs, shop.Warehouse{ID: w.ID, Active: w.EffectStatus == tiktok.WarehouseEnabled, Default: w.IsDefault})
		}
	}
	byLoc := func(a, b shop.Location) int { return strings.Compare(a.ID, b.ID) }
	byWh := func(a, b shop.Warehouse) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(sh.Locations, byLoc)
	slices.SortFunc(wantLocs, byLoc)
	slices.SortFunc(sh.Warehouses, byWh)
	slices.SortFunc(wantWhs, byWh)
	if !sh.Connected || !slices.Equal(sh.Locations, wantLocs) || !slices.Equal(sh.Warehouses, wantWhs) {
		t.Errorf("shop = %+v\nwant locations %+v, warehouses %+v", sh, wantLocs, wantWhs)
	}
	if len(wantWhs) != 3 || len(cat.Warehouses) != 4 {
		t.Fatalf("the generator no longer makes 3 sales warehouses and a return one: %+v", cat.Warehouses)
	}

	// Every variant and SKU has the link the generator made.
	variants := h.variants("")
	if len(variants) != len(want.variants) {
		t.Errorf("%d variants imported, want %d", len(variants), len(want.variants))
	}
	for id, status := range want.variants {
		v, ok := variants[id]
		switch {
		case !ok:
			t.Errorf("variant %s not imported", id)
		case v.Link.Status != status:
			t.Errorf("variant %s (SKU %q) is %s (%s), want %s", id, v.SKU, v.Link.Status, v.Link.Reason, status)
		case status == shop.LinkLinked && (v.Link.SKUID != want.links[id].TikTokID || v.Link.TikTokProductID != want.links[id].TikTokProductID):
			t.Errorf("variant %s links %+v, want SKU %s of product %s", id, v.Link, want.links[id].TikTokID, want.links[id].TikTokProductID)
		case status != shop.LinkLinked && v.Link.Reason == "":
			t.Errorf("variant %s is %s without a reason", id, status)
		}
	}
	skus := h.skus("")
	if len(skus) != len(want.skus) {
		t.Errorf("%d TikTok SKUs imported, want %d", len(skus), len(want.skus))
	}
	for id, status := range want.skus {
		k, ok := skus[id]
		switch {
		case !ok:
			t.Errorf("TikTok SKU %s not imported", id)
		case k.Link.Status != status:
			t.Errorf("TikTok SKU %s (%q) is %s (%s), want %s", id, k.SellerSKU, k.Link.Status, k.Link.Reason, status)
		case status == shop.LinkLinked && want.links[k.Link.VariantID].TikTokID != id:
			t.Errorf("TikTok SKU %s links variant %s, want its own", id, k.Link.VariantID)
		}
	}

	// The reasons name the others, and the catalog is imported as the
	// platforms have it.
	dup := h.variants(shop.LinkConflict)
	for id, v := range dup {
		if v.SKU == catalog.DuplicateSKU {
			others := slices.Collect(maps.Keys(dup))
			for _, o := range others {
				if dup[o].SKU == catalog.DuplicateSKU && !strings.Contains(v.Link.Reason, o) {
					t.Errorf("variant %s's reason %q does not name %s", id, v.Link.Reason, o)
				}
			}
		}
	}
	if r := skus["9999999999999999002"].Link.Reason; !strings.Contains(r, relisted.TikTokProductID) || !strings.Contains(r, "9999999999999999001") {
		t.Errorf("relisted SKU's reason %q names not both products", r)
	}
	for _, p := range cat.Products {
		for _, cv := range p.Variants {
			v := variants[variantGID(cv.ID)]
			avail := map[string]int{}
			for loc, q := range cv.Available {
				avail[locationGID(loc)] = q
			}
			if v.Tracked != cv.Tracked || v.InventoryPolicy != cv.InventoryPolicy || !maps.Equal(v.Available, avail) || v.SKU != cv.SKU {
				t.Errorf("variant %s imported as %+v, want %+v", cv.ID, v, cv)
			}
		}
	}
	for _, p := range tcat.TikTokProducts {
		for _, ck := range p.SKUs {
			k := skus[ck.ID]
			var whs []string
			for _, s := range ck.Inventory {
				whs = append(whs, s.WarehouseID)
				if k.Quantities[s.WarehouseID] != s.Quantity {
					t.Errorf("SKU %s has %d in %s, want %d", ck.ID, k.Quantities[s.WarehouseID], s.WarehouseID, s.Quantity)
				}
			}
			if k.ProductID != p.ID || !slices.Equal(k.Warehouses, whs) {
				t.Errorf("SKU %s imported as %+v, want product %s, warehouses %v", ck.ID, k, p.ID, whs)
			}
		}
	}

	// The status filter pages exactly one status.
	if got := len(h.variants(shop.LinkUnmatched)); got != want.counts.UnmatchedVariants {
		t.Errorf("%d unmatched variants listed, want %d", got, want.counts.UnmatchedVariants)
	}
	if got := len(h.skus(shop.LinkLinked)); got != want.counts.Linked {
		t.Errorf("%d linked SKUs listed, want %d", got, want.counts.Linked)
	}

	// The run's start and end are logged, never a token.
	logs := h.logs.String()
	if !strings.Contains(logs, "connect run started") || !strings.Contains(logs, "connect run ended") {
		t.Errorf("logs lack the run's start and end:\n%s", logs)
	}
	for _, secret := range []string{h.shopify.AccessToken(), tiktokfake.DefaultAccessToken, tiktokfake.DefaultRefreshToken, h.tiktok.AppSecret()} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs show a secret:\n%s", logs)
		}
	}
}

// wantRefused checks that err is a CredentialsRefused naming field.
func wantRefused(t *testing.T, err error, field string) {
	t.Helper()
	var e *shop.Error
	if !errors.As(err, &e) || e.Code != shop.CredentialsRefused {
		t.Fatalf("err = %v, want CredentialsRefused", err)
	}
	for _, f := range e.Fields {
		if f.Field == field {
			if f.Detail == "" {
				t.Errorf("field %s has no detail", field)
			}
			return
		}
	}
	t.Fatalf("fields %+v do not name %s", e.Fields, field)
}

// credentialStatus is the shop's credential status.
func (h *harness) credentialStatus() shop.CredentialStatus {
	h.t.Helper()
	cs, err := h.svc.CredentialStatus(context.Background(), shop.Operator, shopID)
	if err != nil {
		h.t.Fatal(err)
	}
	return cs
}

// wantUnchanged checks that a refused connect changed nothing: no run,
// not connected, no locations, and the credentials as they were.
func (h *harness) wantUnchanged(creds shop.CredentialStatus) {
	h.t.Helper()
	ctx := context.Background()
	st, err := h.svc.SyncStatus(ctx, shop.Operator, shopID)
	if err != nil {
		h.t.Fatal(err)
	}
	if st.Connected || st.Run != nil {
		h.t.Errorf("status = %+v, run %+v; want nothing changed", st, st.Run)
	}
	sh, err := h.svc.Shop(ctx, shop.Operator, shopID)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(sh.Locations) != 0 || len(sh.Warehouses) != 0 {
		h.t.Errorf("shop = %+v, want no locations or warehouses", sh)
	}
	if now := h.credentialStatus(); !reflect.DeepEqual(now, creds) {
		h.t.Errorf("credentials = %+v\nwant them unchanged: %+v", now, creds)
	}
}

func TestConnectRefusesShopifyToken(t *testing.T) {
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
	h.putCredentials(shop.Credentials{Shopify: &shop.ShopifyCredentials{AccessToken: ptr("shpat_wrong")}})
	before := h.credentialStatus()
	_, err := h.svc.Connect(context.Background(), shop.Operator, shopID)
	wantRefused(t, err, "/shopify/access_token")
	h.wantUnchanged(before)
}

func TestConnectRefusesTikTokCredentials(t *testing.T) {
	tests := []struct {
		name  string
		creds func(h *harness) *shop.TikTokCredentials
		fake  func(h *harness)
		field string
	}{
		{"app secret", func(h *harness) *shop.TikTokCredentials {
			return &shop.TikTokCredentials{AppKey: ptr(h.tiktok.AppKey()), AppSecret: ptr("wrong-secret"),
				AccessToken: ptr(tiktokfake.DefaultAccessToken), RefreshToken: ptr(tiktokfake.DefaultRefreshToken)}
		}, nil, "/tiktok/app_secret"},
		{"access token", func(h *harness) *shop.TikTokCredentials {
			return &shop.TikTokCredentials{AppKey: ptr(h.tiktok.AppKey()), AppSecret: ptr(h.tiktok.AppSecret()),
				AccessToken: ptr("TTP_wrong"), RefreshToken: ptr(tiktokfake.DefaultRefreshToken)}
		}, nil, "/tiktok/access_token"},
		{"app key", func(h *harness) *shop.TikTokCredentials {
			return &shop.TikTokCredentials{AppKey: ptr("wrong-app"), AppSecret: ptr(h.tiktok.AppSecret()),
				AccessToken: ptr(tiktokfake.DefaultAccessToken), RefreshToken: ptr(tiktokfake.DefaultRefreshToken)}
		}, nil, "/tiktok"},
		{"shop cipher", func(h *harness) *shop.TikTokCredentials {
			return &shop.TikTokCredentials{AppKey: ptr(h.tiktok.AppKey()), AppSecret: ptr(h.tiktok.AppSecret()),
				AccessToken: ptr(tiktokfake.DefaultAccessToken), RefreshToken: ptr(tiktokfake.DefaultRefreshToken), ShopCipher: ptr("ROW_other")}
		}, nil, "/tiktok/shop_cipher"},
		{"dead refresh token", nil, func(h *harness) {
			h.tiktok.ExpireAccessTokens()
			h.tiktok.RevokeRefreshTokens()
		}, "/tiktok/refresh_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
			if tt.creds != nil {
				h.putCredentials(shop.Credentials{TikTok: tt.creds(h)})
			}
			if tt.fake != nil {
				tt.fake(h)
			}
			before := h.credentialStatus()
			_, err := h.svc.Connect(context.Background(), shop.Operator, shopID)
			wantRefused(t, err, tt.field)
			h.wantUnchanged(before)
		})
	}
}

func TestConnectNamesWhatIsMissing(t *testing.T) {
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
	ctx := context.Background()
	if _, _, err := h.svc.PutShop(ctx, shop.Operator, "bare", shop.ShopInput{Name: "Bare"}); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.Connect(ctx, shop.Operator, "bare")
	for _, field := range []string{"/shopify_domain", "/shopify/access_token", "/tiktok/app_key", "/tiktok/app_secret", "/tiktok/access_token", "/tiktok/refresh_token"} {
		wantRefused(t, err, field)
	}
	if n := len(h.shopify.Requests()) + len(h.tiktok.Requests()); n != 0 {
		t.Errorf("%d requests sent to the platforms for a shop that cannot connect", n)
	}
}

func TestConnectWhenTikTokIsUnreachable(t *testing.T) {
	// A listener closed at once: connections are refused.
	ln := fakesListener(t)
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{tiktokBaseURL: ln})
	before := h.credentialStatus()
	_, err := h.svc.Connect(context.Background(), shop.Operator, shopID)
	if shop.CodeOf(err) != shop.Unavailable || !strings.Contains(err.Error(), "TikTok Shop") {
		t.Fatalf("err = %v, want Unavailable naming TikTok Shop", err)
	}
	h.wantUnchanged(before)
}

// fakesListener returns the URL of a loopback port nothing listens on.
func fakesListener(t *testing.T) string {
	t.Helper()
	l, err := fakes.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	url := l.URL()
	l.Close()
	return url
}

func TestConnectAccess(t *testing.T) {
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
	ctx := context.Background()
	other := auth.Principal{TokenID: "t-other", Scopes: []auth.Scope{{Kind: auth.KindShop, Name: "other"}}}
	if _, err := h.svc.Connect(ctx, other, shopID); shop.CodeOf(err) != shop.NotFound {
		t.Errorf("another shop's Connect: %v, want NotFound", err)
	}
	if _, err := h.svc.SyncStatus(ctx, other, shopID); shop.CodeOf(err) != shop.NotFound {
		t.Errorf("another shop's SyncStatus: %v, want NotFound", err)
	}
	if _, _, err := h.svc.VariantPage(ctx, other, shopID, "", "", 0); shop.CodeOf(err) != shop.NotFound {
		t.Errorf("another shop's VariantPage: %v, want NotFound", err)
	}
	if _, _, err := h.svc.TikTokSKUPage(ctx, other, shopID, "", "", 0); shop.CodeOf(err) != shop.NotFound {
		t.Errorf("another shop's TikTokSKUPage: %v, want NotFound", err)
	}
	if _, _, err := h.svc.VariantPage(ctx, shop.Operator, "nope", "", "", 0); shop.CodeOf(err) != shop.NotFound {
		t.Errorf("VariantPage of a missing shop: %v, want NotFound", err)
	}
	if _, _, err := h.svc.VariantPage(ctx, shop.Operator, shopID, "linkd", "", 0); shop.CodeOf(err) != shop.Invalid {
		t.Errorf("VariantPage with a bad status: %v, want Invalid", err)
	}
	own := auth.Principal{TokenID: "t-own", Scopes: []auth.Scope{{Kind: auth.KindShop, Name: shopID}}}
	run, err := h.svc.Connect(ctx, own, shopID)
	if err != nil {
		t.Fatalf("the shop's own Connect: %v", err)
	}
	h.waitRun(run.ID)
}

// TestConnectedShopKeepsPlatformPlaces: once connected, a PUT may leave
// locations and warehouses out or repeat them, not change them.
func TestConnectedShopKeepsPlatformPlaces(t *testing.T) {
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
	h.connect()
	ctx := context.Background()
	sh, err := h.svc.Shop(ctx, shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(sh.Locations)
	changed[0].Active = !changed[0].Active
	_, _, err = h.svc.PutShop(ctx, shop.Operator, shopID, shop.ShopInput{Name: "Acme", Locations: changed})
	var e *shop.Error
	if !errors.As(err, &e) || e.Code != shop.Conflict || !strings.Contains(e.Message, "reconnect") || len(e.Fields) != 1 || e.Fields[0].Field != "/locations" {
		t.Fatalf("PUT with changed locations: %v, want a Conflict at /locations that says to reconnect", err)
	}
	_, _, err = h.svc.PutShop(ctx, shop.Operator, shopID, shop.ShopInput{Name: "Acme", Warehouses: []shop.Warehouse{}})
	if shop.CodeOf(err) != shop.Conflict {
		t.Fatalf("PUT with no warehouses: %v, want Conflict", err)
	}
	got, _, err := h.svc.PutShop(ctx, shop.Operator, shopID, shop.ShopInput{Name: "Acme 2", Locations: sh.Locations, Warehouses: sh.Warehouses})
	if err != nil {
		t.Fatalf("PUT repeating the locations and warehouses: %v", err)
	}
	got, _, err = h.svc.PutShop(ctx, shop.Operator, shopID, shop.ShopInput{Name: "Acme 3"})
	if err != nil {
		t.Fatalf("PUT leaving them out: %v", err)
	}
	if got.Name != "Acme 3" || !got.Connected || got.ShopifyDomain != sh.ShopifyDomain ||
		!slices.Equal(got.Locations, sh.Locations) || !slices.Equal(got.Warehouses, sh.Warehouses) {
		t.Errorf("after PUT = %+v, want the name changed and the rest kept from %+v", got, sh)
	}
}

func TestPutShopDomain(t *testing.T) {
	h := newHarness(t, generate(t, 1, 1, 1), harnessOptions{})
	ctx := context.Background()
	const noShop = "(no shop)"
	tests := []struct {
		name, shop string
		domain     *string
		wantCode   shop.Code
		wantDomain string // after the PUT
	}{
		{"a custom domain", "b", ptr("shop.example.com"), shop.InvalidShop, noShop},
		{"a URL", "b", ptr("https://b.myshopify.com"), shop.InvalidShop, noShop},
		{"upper case is normalised", "b", ptr("B-Shop.MyShopify.com"), "", "b-shop.myshopify.com"},
		{"left out keeps it", "b", nil, "", "b-shop.myshopify.com"},
		{"another shop's", "b", ptr(h.shopify.ShopDomain()), shop.Conflict, "b-shop.myshopify.com"},
		{"another shop's, in upper case", "c", ptr(strings.ToUpper(h.shopify.ShopDomain())), shop.Conflict, noShop},
		{"empty removes it", "b", ptr(""), "", ""},
		{"once free, it may be taken", "c", ptr("b-shop.myshopify.com"), "", "b-shop.myshopify.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := h.svc.PutShop(ctx, shop.Operator, tt.shop, shop.ShopInput{Name: tt.shop, ShopifyDomain: tt.domain})
			if shop.CodeOf(err) != tt.wantCode {
				t.Fatalf("PutShop: %v, want code %q", err, tt.wantCode)
			}
			if tt.wantCode == shop.Conflict && !strings.Contains(err.Error(), `"`+shopID+`"`) {
				t.Errorf("conflict %q does not name shop %q", err, shopID)
			}
			sh, err := h.svc.Shop(ctx, shop.Operator, tt.shop)
			switch {
			case tt.wantDomain == noShop:
				if shop.CodeOf(err) != shop.NotFound {
					t.Errorf("Shop: %v, want NotFound", err)
				}
			case err != nil:
				t.Fatal(err)
			case sh.ShopifyDomain != tt.wantDomain:
				t.Errorf("domain = %q, want %q", sh.ShopifyDomain, tt.wantDomain)
			}
		})
	}
}

// TestReconnectAfterWarehouseChanges: a reconnect stores what the
// platforms say even when it breaks the settings, which SyncStatus then
// shows broken; a disabled warehouse does not break them.
func TestReconnectAfterWarehouseChanges(t *testing.T) {
	cat := generate(t, 3, 2, 2)
	h := newHarness(t, cat, harnessOptions{})
	ctx := context.Background()
	// Before connecting, the shop was entered by hand with a warehouse
	// TikTok does not have.
	gone := shop.Warehouse{ID: "gone-wh", Active: true}
	if _, _, err := h.svc.PutShop(ctx, shop.Operator, shopID, shop.ShopInput{Name: "Acme",
		Locations: []shop.Location{{ID: locationGID(cat.Locations[0].ID), Active: true}}, Warehouses: []shop.Warehouse{gone}}); err != nil {
		t.Fatal(err)
	}
	settings := &compute.Settings{Mappings: []compute.Mapping{{Location: "*", Warehouse: gone.ID}}}
	if _, err := h.svc.PutSettings(ctx, shop.Operator, shopID, settings, nil); err != nil {
		t.Fatal(err)
	}
	st, err := h.svc.SyncStatus(ctx, shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings.State != shop.SettingsOK || st.Settings.Version != 1 {
		t.Fatalf("settings before connecting = %+v, want ok at version 1", st.Settings)
	}

	st = h.connect()
	if !st.Connected || st.Settings.State != shop.SettingsBroken || len(st.Settings.Problems) == 0 ||
		st.Settings.Problems[0].Field != "/mappings/0/warehouse" || !strings.Contains(st.Settings.Problems[0].Detail, gone.ID) {
		t.Fatalf("after connecting = %+v, want connected with settings broken at /mappings/0/warehouse", st)
	}

	// Settings that map to a warehouse TikTok has are fine, and stay so
	// when that warehouse is disabled: it is kept, inactive.
	second := cat.Warehouses[1] // enabled, not the default
	settings = &compute.Settings{Mappings: []compute.Mapping{{Location: "*", Warehouse: second.ID}}}
	if _, err := h.svc.PutSettings(ctx, shop.Operator, shopID, settings, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.tiktok.SetWarehouseStatus(second.ID, "DISABLED"); err != nil {
		t.Fatal(err)
	}
	st = h.connect()
	if !st.Connected || st.Settings.State != shop.SettingsOK || st.Settings.Version != 2 {
		t.Errorf("after disabling a mapped warehouse = %+v, want connected with settings ok", st)
	}
	sh, err := h.svc.Shop(ctx, shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sh.Warehouses, func(w shop.Warehouse) bool { return w.ID == second.ID })
	if i < 0 || sh.Warehouses[i].Active {
		t.Errorf("warehouses = %+v, want %s kept inactive", sh.Warehouses, second.ID)
	}
}

// TestTokenRefreshIsStoredSealed: an access token TikTok calls expired is
// renewed, and the new pair is stored sealed, with its expiries, where a
// new service finds it.
func TestTokenRefreshIsStoredSealed(t *testing.T) {
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
	h.tiktok.ExpireAccessTokens()
	h.connect()
	renewed := h.tiktok.Tokens()
	if renewed.AccessToken == tiktokfake.DefaultAccessToken || renewed.RefreshToken == tiktokfake.DefaultRefreshToken {
		t.Fatal("the fake issued no new pair: the connect did not refresh")
	}
	ctx := context.Background()
	creds, err := h.store.Credentials(ctx, shopID)
	if err != nil {
		t.Fatal(err)
	}
	opened := map[string]string{}
	for _, c := range creds {
		for _, plain := range []string{renewed.AccessToken, renewed.RefreshToken} {
			if bytes.Contains(c.Sealed, []byte(plain)) {
				t.Errorf("credential %s/%s holds a token in plaintext", c.Group, c.Name)
			}
		}
		v, err := h.sealer.Open(c.Sealed, []byte(shopID+"\x00"+c.Group+"\x00"+c.Name))
		if err != nil {
			t.Fatalf("credential %s/%s does not open with its shop, group and name: %v", c.Group, c.Name, err)
		}
		opened[c.Group+"/"+c.Name] = string(v)
	}
	if opened["tiktok/access_token"] != renewed.AccessToken || opened["tiktok/refresh_token"] != renewed.RefreshToken {
		t.Error("the stored tokens are not the renewed pair")
	}
	if opened["tiktok/shop_cipher"] != h.tiktok.ShopCipher() {
		t.Errorf("shop cipher stored = %q, want the one shop's", opened["tiktok/shop_cipher"])
	}
	for name, want := range map[string]time.Time{"tiktok/access_expires_at": renewed.AccessTokenExpires, "tiktok/refresh_expires_at": renewed.RefreshTokenExpires} {
		got, err := time.Parse(time.RFC3339Nano, opened[name])
		if err != nil || got.Unix() != want.Unix() {
			t.Errorf("%s = %q, want %s", name, opened[name], want)
		}
	}
	// The expiries are the service's, not credentials to show.
	status, err := h.svc.CredentialStatus(ctx, shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	if _, listed := status["tiktok"]["access_expires_at"]; listed || !status["tiktok"]["refresh_token"].Set {
		t.Errorf("credential status = %+v, want refresh_token set and no expiries", status["tiktok"])
	}

	// A new service, as after a restart, uses the stored pair: it
	// refreshes nothing.
	h.svc = h.newService(shop.Platforms{
		Shopify: shopify.Options{BaseURL: h.shopify.URL(), BulkPollInterval: 5 * time.Millisecond},
		TikTok:  tiktok.Options{BaseURL: h.tiktok.URL(), AuthBaseURL: h.tiktok.URL()},
	})
	h.tiktok.ResetRequests()
	h.connect()
	for _, r := range h.tiktok.Requests() {
		if strings.Contains(r.Path, "/token/") {
			t.Errorf("the new service called %s: it did not use the stored tokens", r.Path)
		}
	}
	if h.tiktok.Tokens() != renewed {
		t.Error("the new service renewed the tokens again")
	}
}

// TestConnectWhileRunningAndClose: a second connect while one runs is a
// Conflict naming it; Close stops the run and records it interrupted.
func TestConnectWhileRunningAndClose(t *testing.T) {
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
	// The run (not the credentials check) waits on the warehouses.
	if err := h.tiktok.InjectFault(fakes.Fault{Path: "/logistics/", Latency: fakes.Duration(time.Hour), For: fakes.Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run, err := h.svc.Connect(ctx, shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	// The run cannot finish: the warehouses do not answer. Its progress
	// is written all the same, so that it does not look stale.
	h.waitStatus(func(st shop.SyncStatus) bool {
		return st.Run != nil && st.Run.ID == run.ID && st.Run.State == shop.RunRunning && st.Run.Updated.Time().After(st.Run.Started.Time())
	})
	_, err = h.svc.Connect(ctx, shop.Operator, shopID)
	if shop.CodeOf(err) != shop.Conflict || !strings.Contains(err.Error(), fmt.Sprintf("Run %d", run.ID)) {
		t.Fatalf("second Connect: %v, want a Conflict naming run %d", err, run.ID)
	}

	h.svc.Close()
	st, err := h.svc.SyncStatus(ctx, shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Run == nil || st.Run.ID != run.ID || st.Run.State != shop.RunInterrupted || !strings.Contains(st.Run.Error, "connect again") || st.Run.Finished == nil {
		t.Errorf("after Close, run = %+v, want it interrupted", st.Run)
	}
	if _, err := h.svc.Connect(ctx, shop.Operator, shopID); shop.CodeOf(err) != shop.Unavailable {
		t.Errorf("Connect after Close: %v, want Unavailable", err)
	}
}

// TestConnectRunFails: a platform failing during the run fails it with a
// message that says which read failed and what to do.
func TestConnectRunFails(t *testing.T) {
	h := newHarness(t, generate(t, 2, 2, 2), harnessOptions{})
	if err := h.tiktok.InjectFault(fakes.Fault{Path: "/products/search", Status: 500, For: fakes.Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	run, err := h.svc.Connect(context.Background(), shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	st := h.waitRun(run.ID)
	if st.Run.State != shop.RunFailed || st.Run.Phase != shop.PhaseTikTok || st.Run.Counts != nil || st.Catalog != nil ||
		!strings.Contains(st.Run.Error, "reading the TikTok Shop products") || !strings.Contains(st.Run.Error, "Connect again") {
		t.Errorf("run = %+v, want failed in phase tiktok saying what failed and to connect again", st.Run)
	}
	// The locations were read: the shop is connected, with no links.
	if !st.Connected {
		t.Error("the shop is not connected after its locations were read")
	}
	h.tiktok.ClearFaults()
	st = h.connect()
	if st.Catalog == nil || st.Catalog.Linked == 0 {
		t.Errorf("a connect after the failure: %+v, want links", st.Catalog)
	}
	linked := *st.Catalog

	// A reconnect that fails leaves the catalog as the last success
	// linked it, and the status says so.
	if err := h.tiktok.InjectFault(fakes.Fault{Path: "/products/search", Status: 500, For: fakes.Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	run, err = h.svc.Connect(context.Background(), shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	st = h.waitRun(run.ID)
	if st.Run.State != shop.RunFailed || st.Catalog == nil || *st.Catalog != linked {
		t.Errorf("after a failed reconnect: run %+v, catalog %+v; want failed, catalog %+v", st.Run, st.Catalog, linked)
	}
}
