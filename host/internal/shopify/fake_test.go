package shopify

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// startFake serves a fake shop with the catalog on loopback. A zero
// restore rate is one so fast the bucket never matters.
func startFake(t *testing.T, cat *catalog.Catalog, o shopifyfake.Options) *shopifyfake.Server {
	t.Helper()
	o.Catalog = cat
	if o.RestoreRate == 0 {
		o.MaximumAvailable, o.RestoreRate = 1e9, 1e9
	}
	f := shopifyfake.New(o)
	if err := f.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func generate(t testing.TB, products, variants, locations int) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Generate(catalog.Options{Products: products, Variants: variants, Locations: locations, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fakeClient(t *testing.T, f *shopifyfake.Server, mod func(*Options)) *Client {
	t.Helper()
	return newTestClient(t, f.URL(), nil, func(o *Options) {
		o.AccessToken = f.AccessToken()
		o.BulkPollInterval = 5 * time.Millisecond
		if mod != nil {
			mod(o)
		}
	})
}

// wantVariants is the catalog as the client should read it.
func wantVariants(c *catalog.Catalog) map[string]Variant {
	out := map[string]Variant{}
	for _, p := range c.Products {
		for _, v := range p.Variants {
			avail := map[string]int{}
			for loc, q := range v.Available {
				avail["gid://shopify/Location/"+loc] = q
			}
			id := "gid://shopify/ProductVariant/" + v.ID
			out[id] = Variant{
				ID: id, ProductID: "gid://shopify/Product/" + p.ID, SKU: v.SKU, Tags: p.Tags,
				InventoryPolicy: InventoryPolicy(v.InventoryPolicy),
				InventoryItemID: "gid://shopify/InventoryItem/" + v.InventoryItemID, Tracked: v.Tracked, Available: avail,
			}
		}
	}
	return out
}

func sameVariant(a, b Variant) bool {
	return a.ID == b.ID && a.ProductID == b.ProductID && a.SKU == b.SKU && slices.Equal(a.Tags, b.Tags) &&
		a.InventoryPolicy == b.InventoryPolicy && a.InventoryItemID == b.InventoryItemID && a.Tracked == b.Tracked &&
		maps.Equal(a.Available, b.Available)
}

func TestShopAndLocationsFromFake(t *testing.T) {
	cat := generate(t, 2, 1, 3)
	f := startFake(t, cat, shopifyfake.Options{})
	c := fakeClient(t, f, nil)
	shop, err := c.Shop(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if shop.MyshopifyDomain != f.ShopDomain() || shop.Name == "" {
		t.Errorf("shop %+v, want domain %s", shop, f.ShopDomain())
	}
	locs, err := c.Locations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []Location
	for _, l := range cat.Locations {
		want = append(want, Location{ID: "gid://shopify/Location/" + l.ID, Name: l.Name, Active: l.Active})
	}
	if !slices.Equal(locs, want) {
		t.Errorf("locations\n%+v\nwant (the inactive one too, ids above 2^53 intact)\n%+v", locs, want)
	}
}

func TestCatalogFromFake(t *testing.T) {
	cat := generate(t, 40, 3, 3)
	want := wantVariants(cat)
	for _, tc := range []struct {
		name      string
		bulkAbove int
		bulk      bool
	}{
		{"pages", 10_000, false},
		{"bulk", 0, true},
		{"bulk above the count", 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, cat, shopifyfake.Options{BulkDuration: 20 * time.Millisecond})
			c := fakeClient(t, f, func(o *Options) { o.BulkAbove = tc.bulkAbove })
			seen := map[string]bool{}
			for v, err := range c.Catalog(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				w, ok := want[v.ID]
				if !ok || seen[v.ID] {
					t.Fatalf("variant %s: unknown or seen twice", v.ID)
				}
				seen[v.ID] = true
				if !sameVariant(v, w) {
					t.Errorf("variant\n%+v\nwant\n%+v", v, w)
				}
			}
			if len(seen) != len(want) {
				t.Errorf("%d variants, want %d", len(seen), len(want))
			}
			if n, exact, err := c.VariantsCount(context.Background()); err != nil || n != len(want) || !exact {
				t.Errorf("VariantsCount = %d, %v, %v; want %d, exact", n, exact, err, len(want))
			}
			bulk := false
			for _, r := range f.Requests() {
				bulk = bulk || strings.Contains(r.Body, "bulkOperationRunQuery")
			}
			if bulk != tc.bulk {
				t.Errorf("read in bulk: %v, want %v", bulk, tc.bulk)
			}
		})
	}
}

// TestCatalogReadsLevelsPastThePage: a location added after the client
// sized its pages still has its levels read.
func TestCatalogReadsLevelsPastThePage(t *testing.T) {
	cat := generate(t, 3, 2, 4)
	f := startFake(t, cat, shopifyfake.Options{})
	c := fakeClient(t, f, nil)
	c.locations = 1 // as if read when the shop had one
	want := wantVariants(cat)
	n := 0
	for v, err := range c.Catalog(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !sameVariant(v, want[v.ID]) {
			t.Errorf("variant\n%+v\nwant\n%+v", v, want[v.ID])
		}
	}
	if n != len(want) {
		t.Errorf("%d variants, want %d", n, len(want))
	}
}

func TestCatalogStopsWhenTheConsumerStops(t *testing.T) {
	f := startFake(t, generate(t, 40, 3, 2), shopifyfake.Options{})
	c := fakeClient(t, f, nil)
	n := 0
	for _, err := range c.Catalog(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
	for _, r := range f.Requests() {
		if strings.Contains(r.Body, `"after"`) {
			t.Fatalf("a second page was read after the consumer stopped in the first: %s", r.Body)
		}
	}
}

func TestInventoryLevelsFromFake(t *testing.T) {
	// 300 items: more than one nodes query takes.
	cat := generate(t, 100, 3, 3)
	f := startFake(t, cat, shopifyfake.Options{})
	c := fakeClient(t, f, nil)
	want := wantVariants(cat)
	var ids []string
	byItem := map[string]Variant{}
	for _, v := range want {
		ids = append(ids, v.InventoryItemID)
		byItem[v.InventoryItemID] = v
	}
	slices.Sort(ids)
	gone := "gid://shopify/InventoryItem/9007199254740993999"
	asked := append(slices.Clone(ids[:150]), append([]string{gone}, ids[150:]...)...)
	items, err := c.InventoryLevels(context.Background(), asked)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(ids) {
		t.Fatalf("%d items, want %d (the unknown one left out)", len(items), len(ids))
	}
	for i, it := range items {
		v := byItem[ids[i]]
		got := ItemLevels{InventoryItemID: it.InventoryItemID, Tracked: it.Tracked, VariantID: it.VariantID, SKU: it.SKU,
			InventoryPolicy: it.InventoryPolicy, ProductID: it.ProductID, Available: it.Available}
		if it.InventoryItemID != ids[i] || got.VariantID != v.ID || got.SKU != v.SKU || got.ProductID != v.ProductID ||
			got.Tracked != v.Tracked || got.InventoryPolicy != v.InventoryPolicy || !maps.Equal(got.Available, v.Available) {
			t.Errorf("item %d\n%+v\nwant the levels of\n%+v", i, it, v)
		}
	}
	queries := 0
	for _, r := range f.Requests() {
		if strings.Contains(r.Body, "ItemLevels") {
			queries++
			if r.Code != "" {
				t.Errorf("a nodes query answered %s", r.Code)
			}
		}
	}
	if max := (len(asked) + maxIDs - 1) / maxIDs; queries < max {
		t.Errorf("%d nodes queries for %d ids: more ids per query than nodes takes", queries, len(asked))
	}
}

func TestRetriesTheFakesFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakes.Fault
	}{
		{"503", fakes.Fault{Status: 503, Count: 2}},
		{"429", fakes.Fault{Status: 429, Count: 1}},
		{"dropped", fakes.Fault{Drop: true, Count: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, generate(t, 1, 1, 1), shopifyfake.Options{})
			if err := f.InjectFault(tc.fault); err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{t: time.Now()}
			c := newTestClient(t, f.URL(), clock, func(o *Options) { o.AccessToken = f.AccessToken() })
			if _, err := c.Shop(context.Background()); err != nil {
				t.Fatalf("Shop after %+v: %v", tc.fault, err)
			}
			if total, _ := clock.slept(); tc.fault.Status == 429 && total < 2*time.Second {
				t.Errorf("waited %v after a 429, want its Retry-After of 2 s", total)
			}
		})
	}
}

func TestRefusedTokenFromFake(t *testing.T) {
	f := startFake(t, generate(t, 1, 1, 1), shopifyfake.Options{})
	c := newTestClient(t, f.URL(), &fakeClock{}, func(o *Options) { o.AccessToken = "shpat_wrong" })
	_, err := c.Shop(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 {
		t.Fatalf("%v, want a 401 *StatusError", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests, want 1: a refused token is not retried", n)
	}
}

// TestSteadyReadsAreNotThrottled runs the sync's hot read back to back
// against the fake's real-time bucket: a paced client is never throttled;
// the same client reacting only to THROTTLED is, which shows the test can
// tell.
func TestSteadyReadsAreNotThrottled(t *testing.T) {
	cat := generate(t, 20, 3, 3)
	var ids []string
	for _, v := range wantVariants(cat) {
		ids = append(ids, v.InventoryItemID)
	}
	for _, paced := range []bool{true, false} {
		// A bucket that refills fast: each run takes about a second.
		f := startFake(t, cat, shopifyfake.Options{MaximumAvailable: 1000, RestoreRate: 4000 / float64(slowtest.Factor)})
		c := fakeClient(t, f, nil)
		c.noPacing = !paced
		if _, err := c.Locations(context.Background()); err != nil {
			t.Fatal(err)
		}
		for range 8 {
			if _, err := c.InventoryLevels(context.Background(), ids); err != nil {
				t.Fatal(err)
			}
		}
		throttled := 0
		for _, r := range f.Requests() {
			if r.Code == "THROTTLED" {
				throttled++
			}
		}
		t.Logf("paced %v: %d requests, %d throttled", paced, len(f.Requests()), throttled)
		if paced && throttled > 0 {
			t.Errorf("paced: %d requests throttled, want none", throttled)
		}
		if !paced && throttled == 0 {
			t.Errorf("unpaced: no request throttled; the run does not test pacing")
		}
	}
}
