package store_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

func TestShopifyDomain(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		put := func(id, domain string) error {
			_, err := s.PutShop(ctx, shop.Shop{ID: id, Name: id, ShopifyDomain: domain}, nil)
			return err
		}
		// Any number of shops may have no domain.
		for _, id := range []string{"a", "b", "c"} {
			if err := put(id, ""); err != nil {
				t.Fatalf("shop %s without a domain: %v", id, err)
			}
		}
		if err := put("a", "acme.myshopify.com"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"b", "new"} {
			err := put(id, "acme.myshopify.com")
			if !errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), `"acme.myshopify.com"`) {
				t.Errorf("shop %s taking a's domain: %v, want ErrExists naming the domain", id, err)
			}
		}
		if _, err := s.Shop(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a shop refused for its domain was created: %v", err)
		}
		if b, err := s.Shop(ctx, "b"); err != nil || b.ShopifyDomain != "" {
			t.Errorf("shop b after its refused write: %+v, %v; want no domain", b, err)
		}
		got, err := s.ShopByDomain(ctx, "acme.myshopify.com")
		if err != nil || got.ID != "a" || got.ShopifyDomain != "acme.myshopify.com" {
			t.Errorf("ShopByDomain = %+v, %v; want shop a", got, err)
		}
		for _, domain := range []string{"", "other.myshopify.com", "nul\x00"} {
			if _, err := s.ShopByDomain(ctx, domain); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ShopByDomain(%q) = %v, want ErrNotFound", domain, err)
			}
		}
		// "" frees the domain for another shop.
		if err := put("a", ""); err != nil {
			t.Fatal(err)
		}
		if err := put("b", "acme.myshopify.com"); err != nil {
			t.Errorf("taking a freed domain: %v", err)
		}
		if got, err := s.ShopByDomain(ctx, "acme.myshopify.com"); err != nil || got.ID != "b" {
			t.Errorf("ShopByDomain after the move = %+v, %v; want shop b", got, err)
		}
		if shops, err := s.ShopsAfter(ctx, "", 0); err != nil || len(shops) != 3 || shops[1].ShopifyDomain != "acme.myshopify.com" || shops[0].ShopifyDomain != "" {
			t.Errorf("ShopsAfter = %+v, %v", shops, err)
		}
	})
}

func TestConnect(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		before := mustPutShop(t, s, "x")
		if sh, _ := s.Shop(ctx, "x"); sh.Connected {
			t.Fatal("a new shop is connected")
		}
		c := shop.Connection{
			Locations:  []shop.Location{{ID: "gid://shopify/Location/1", Active: true}, {ID: "gid://shopify/Location/2"}},
			Warehouses: []shop.Warehouse{{ID: "7000000000000000001", Active: true, Default: true}},
		}
		if err := s.Connect(ctx, "x", c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Shop(ctx, "x")
		if err != nil || !got.Connected || !reflect.DeepEqual(got.Locations, c.Locations) || !reflect.DeepEqual(got.Warehouses, c.Warehouses) || got.Name != before.Name {
			t.Errorf("after Connect: %+v, %v; want connected with the platforms' places", got, err)
		}
		// A PutShop keeps the shop connected.
		if _, err := s.PutShop(ctx, shop.Shop{ID: "x", Name: "renamed", Locations: c.Locations, Warehouses: c.Warehouses}, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Shop(ctx, "x"); err != nil || !got.Connected || got.Name != "renamed" {
			t.Errorf("after PutShop: %+v, %v; want still connected", got, err)
		}
		// Only connecting changes a connected shop's places, whatever
		// its caller read before.
		for _, sh := range []shop.Shop{
			{ID: "x", Locations: c.Locations[:1], Warehouses: c.Warehouses},
			{ID: "x", Locations: c.Locations, Warehouses: []shop.Warehouse{}},
		} {
			if _, err := s.PutShop(ctx, sh, nil); !errors.Is(err, store.ErrConnected) {
				t.Errorf("PutShop changing a connected shop's places: %v, want ErrConnected", err)
			}
		}
		// Connecting again with no places empties them, still connected.
		if err := s.Connect(ctx, "x", shop.Connection{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Shop(ctx, "x"); !got.Connected || got.Locations == nil || len(got.Locations) != 0 || got.Warehouses == nil || len(got.Warehouses) != 0 {
			t.Errorf("after an empty Connect: %+v; want connected, empty places", got)
		}
		if err := s.Connect(ctx, "nope", c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Connect of a missing shop: %v, want ErrNotFound", err)
		}
	})
}

// TestConnectMakesSettingsCheckAgain: a settings write checked against the
// shop before a Connect checks again against the connected shop.
func TestConnectMakesSettingsCheckAgain(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		connected := shop.Connection{Locations: []shop.Location{{ID: "L9", Active: true}}}
		var seen [][]shop.Location
		_, err := s.PutSettings(ctx, "x", shop.SettingsWrite{Doc: json.RawMessage(`{}`), Check: func(sh shop.Shop) error {
			seen = append(seen, sh.Locations)
			if len(seen) == 1 {
				return s.Connect(ctx, "x", connected)
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2 || !reflect.DeepEqual(seen[1], connected.Locations) {
			t.Errorf("checks saw %v; want a second check that sees the connected locations", seen)
		}
	})
}

func TestRuns(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		mustPutShop(t, s, "y")
		if _, err := s.LatestRun(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LatestRun without runs: %v, want ErrNotFound", err)
		}
		start := time.Now().Add(-time.Millisecond)
		first, err := s.StartRun(ctx, shop.Run{Shop: "x", Kind: "connect", Phase: shop.PhaseLocations, Token: "tok_1"})
		if err != nil {
			t.Fatal(err)
		}
		if first.ID <= 0 || first.State != shop.RunRunning || first.Started.Before(start) || !first.Updated.Equal(first.Started) || !first.Finished.IsZero() {
			t.Errorf("StartRun = %+v; want a running run started now", first)
		}
		if got, err := s.LatestRun(ctx, "x"); err != nil || !reflect.DeepEqual(got, first) {
			t.Errorf("LatestRun = %+v, %v; want %+v", got, err, first)
		}
		_, err = s.StartRun(ctx, shop.Run{Shop: "x", Kind: "connect"})
		if !errors.Is(err, store.ErrExists) || !strings.Contains(err.Error(), fmt.Sprint(first.ID)) {
			t.Errorf("a second run while one runs: %v, want ErrExists naming run %d", err, first.ID)
		}
		// Other shops run on their own.
		other, err := s.StartRun(ctx, shop.Run{Shop: "y", Kind: "connect"})
		if err != nil || other.ID == first.ID {
			t.Errorf("StartRun of another shop = %+v, %v", other, err)
		}

		progress := first
		progress.Phase, progress.Done, progress.Total = shop.PhaseShopify, 500, 10000
		if err := s.UpdateRun(ctx, progress); err != nil {
			t.Fatal(err)
		}
		got, err := s.LatestRun(ctx, "x")
		if err != nil || got.Phase != shop.PhaseShopify || got.Done != 500 || got.Total != 10000 || got.State != shop.RunRunning ||
			got.Updated.Before(first.Updated) || !got.Started.Equal(first.Started) || !got.Finished.IsZero() {
			t.Errorf("after UpdateRun: %+v, %v", got, err)
		}

		// The process running it stops: its Updated stops moving. Once it
		// is stale, the next run takes over and records it interrupted.
		if _, err := s.DB().ExecContext(ctx, `UPDATE runs SET updated = $1 WHERE id = $2`,
			time.Now().Add(-shop.StaleRunAfter-time.Second).UnixMicro(), first.ID); err != nil {
			t.Fatal(err)
		}
		next, err := s.StartRun(ctx, shop.Run{Shop: "x", Kind: "connect", Phase: shop.PhaseLocations})
		if err != nil {
			t.Fatalf("StartRun over a stale run: %v", err)
		}
		if next.ID <= other.ID {
			t.Errorf("run ids %d then %d: want them increasing", other.ID, next.ID)
		}
		var state, runError string
		var finished *int64
		if err := s.DB().QueryRowContext(ctx, `SELECT state, error, finished FROM runs WHERE id = $1`, first.ID).Scan(&state, &runError, &finished); err != nil {
			t.Fatal(err)
		}
		if state != string(shop.RunInterrupted) || !strings.Contains(runError, "connect again") || finished == nil {
			t.Errorf("the stale run: %s %q finished %v; want interrupted, saying what to do", state, runError, finished)
		}
		// Its process, should it wake up, cannot write over the takeover.
		progress.Done = 600
		if err := s.UpdateRun(ctx, progress); !errors.Is(err, store.ErrVersionMismatch) || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("UpdateRun of an interrupted run: %v, want ErrVersionMismatch saying it is interrupted", err)
		}

		done := next
		done.State, done.Phase, done.Counts = shop.RunSucceeded, shop.PhaseDone, shop.LinkCounts{Linked: 3, UnmatchedVariants: 1, UnmatchedSKUs: 2, Conflicts: 1}
		if err := s.UpdateRun(ctx, done); err != nil {
			t.Fatal(err)
		}
		got, err = s.LatestRun(ctx, "x")
		if err != nil || got.ID != next.ID || got.State != shop.RunSucceeded || got.Counts != done.Counts || got.Finished.Before(got.Started) {
			t.Errorf("after finishing: %+v, %v", got, err)
		}
		if err := s.UpdateRun(ctx, done); !errors.Is(err, store.ErrVersionMismatch) {
			t.Errorf("UpdateRun of a finished run: %v, want ErrVersionMismatch", err)
		}
		if _, err := s.LatestRunIn(ctx, "y", shop.RunSucceeded); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LatestRunIn(succeeded) of a shop with none: %v, want ErrNotFound", err)
		}
		if _, err := s.StartRun(ctx, shop.Run{Shop: "x", Kind: "connect"}); err != nil {
			t.Errorf("StartRun after the last finished: %v", err)
		}
		// A newer run is running: the last success is still found.
		if got, err := s.LatestRunIn(ctx, "x", shop.RunSucceeded); err != nil || got.ID != next.ID || got.Counts != done.Counts {
			t.Errorf("LatestRunIn(succeeded) = %+v, %v; want run %d with its counts", got, err, next.ID)
		}
		if got, err := s.LatestRunIn(ctx, "x", shop.RunInterrupted); err != nil || got.ID != first.ID {
			t.Errorf("LatestRunIn(interrupted) = %+v, %v; want run %d", got, err, first.ID)
		}

		for name, err := range map[string]error{
			"StartRun":    second(s.StartRun(ctx, shop.Run{Shop: "nope", Kind: "connect"})),
			"LatestRun":   second(s.LatestRun(ctx, "nope")),
			"LatestRunIn": second(s.LatestRunIn(ctx, "nope", shop.RunSucceeded)),
			"UpdateRun":   s.UpdateRun(ctx, shop.Run{ID: 1 << 40, State: shop.RunFailed}),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of a missing shop or run: %v, want ErrNotFound", name, err)
			}
		}
	})
}

// TestStartRunRace starts runs of one shop from many goroutines: exactly
// one starts.
func TestStartRunRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		mustPutShop(t, s, "x")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = s.StartRun(t.Context(), shop.Run{Shop: "x", Kind: "connect"}) })
		}
		wg.Wait()
		started := 0
		for _, err := range errs {
			switch {
			case err == nil:
				started++
			case !errors.Is(err, store.ErrExists):
				t.Errorf("StartRun: %v, want ErrExists", err)
			}
		}
		if started != 1 {
			t.Errorf("%d runs started, want 1", started)
		}
	})
}

func TestCatalog(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		variants := []shop.Variant{
			{ID: "9", ProductID: "p1", SKU: "A", Tags: []string{"sale"}, InventoryPolicy: "DENY", InventoryItemID: "i9", Tracked: true,
				Available: map[string]int{"L1": 5, "L2": 0}},
			{ID: "10", ProductID: "p1", SKU: "B", InventoryPolicy: "CONTINUE", InventoryItemID: "i10"}, // nil tags and levels
			{ID: "11", ProductID: "p2", SKU: "C", InventoryPolicy: "DENY", InventoryItemID: "i11", Tracked: true},
		}
		skus := []shop.TikTokSKU{
			{ID: "s1", ProductID: "t1", SellerSKU: "A", Warehouses: []string{"w1", "w2"}, Quantities: map[string]int{"w1": 3}},
			{ID: "s2", ProductID: "t2", SellerSKU: "D"},
		}
		if err := s.PutVariants(ctx, "x", 1, variants); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTikTokSKUs(ctx, "x", 1, skus); err != nil {
			t.Fatal(err)
		}
		vkeys, skeys, err := catalogKeys(ctx, s, "x")
		if err != nil {
			t.Fatal(err)
		}
		// In SKU order.
		if want := []shop.VariantKey{vk("9", "A"), vk("10", "B"), vk("11", "C")}; !slices.Equal(vkeys, want) {
			t.Errorf("variant keys = %v, want %v", vkeys, want)
		}
		if want := []shop.SKUKey{sk("s1", "t1", "A"), sk("s2", "t2", "D")}; !slices.Equal(skeys, want) {
			t.Errorf("SKU keys = %v, want %v", skeys, want)
		}
		all, err := s.VariantsAfter(ctx, "x", "", "", 0)
		if err != nil || len(all) != 3 {
			t.Fatalf("VariantsAfter = %+v, %v", all, err)
		}
		if !reflect.DeepEqual(all[2], variants[0]) {
			t.Errorf("variant 9 = %+v, want %+v", all[2], variants[0])
		}
		if all[0].Tags == nil || len(all[0].Tags) != 0 || all[0].Available == nil || len(all[0].Available) != 0 || all[0].Link.Status != "" {
			t.Errorf("variant 10 = %+v; want empty tags and levels, not linked yet", all[0])
		}

		links := map[string]shop.Link{
			"9":   {Status: shop.LinkLinked, SKUID: "s1", TikTokProductID: "t1"},
			"10":  {Status: shop.LinkUnmatched, Reason: "no TikTok SKU has seller SKU B"},
			"11":  {Status: shop.LinkUnmatched, Reason: "no TikTok SKU has seller SKU C"},
			"404": {Status: shop.LinkLinked}, // not in the catalog: ignored
		}
		skuLinks := map[string]shop.Link{"s1": {Status: shop.LinkLinked, VariantID: "9"}, "s2": {Status: shop.LinkConflict, Reason: "two"}}
		if err := s.SetLinks(ctx, "x", links, skuLinks); err != nil {
			t.Fatal(err)
		}
		// A new import rewrites the platform's fields and keeps the links;
		// a variant given twice is stored as given last.
		changed := variants[0]
		changed.Available, changed.Tracked = map[string]int{"L1": 4}, false
		if err := s.PutVariants(ctx, "x", 2, []shop.Variant{{ID: "9", SKU: "stale"}, changed, variants[1]}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTikTokSKUs(ctx, "x", 2, skus[:1]); err != nil {
			t.Fatal(err)
		}
		page, err := s.VariantsAfter(ctx, "x", shop.LinkLinked, "", 10)
		changed.Link = links["9"]
		if err != nil || len(page) != 1 || !reflect.DeepEqual(page[0], changed) {
			t.Errorf("linked variants = %+v, %v; want %+v", page, err, changed)
		}
		if page, err := s.VariantsAfter(ctx, "x", shop.LinkUnmatched, "", 1); err != nil || len(page) != 1 || page[0].ID != "10" {
			t.Errorf("first unmatched variant = %+v, %v; want 10", page, err)
		} else if page, err := s.VariantsAfter(ctx, "x", shop.LinkUnmatched, page[0].ID, 1); err != nil || len(page) != 1 || page[0].ID != "11" {
			t.Errorf("second unmatched variant = %+v, %v; want 11", page, err)
		}
		if page, err := s.TikTokSKUsAfter(ctx, "x", shop.LinkConflict, "", 0); err != nil || len(page) != 1 || page[0].ID != "s2" ||
			page[0].Link.Reason != "two" || page[0].Warehouses == nil || page[0].Quantities == nil {
			t.Errorf("conflicting SKUs = %+v, %v; want s2 with empty warehouses and quantities", page, err)
		}

		// Run 2 did not see variant 11 nor SKU s2: pruning deletes them.
		if err := s.PruneCatalog(ctx, "x", 2); err != nil {
			t.Fatal(err)
		}
		vkeys, skeys, err = catalogKeys(ctx, s, "x")
		if err != nil || !slices.Equal(vkeys, []shop.VariantKey{vk("9", "A"), vk("10", "B")}) || !slices.Equal(skeys, []shop.SKUKey{sk("s1", "t1", "A")}) {
			t.Errorf("after pruning: %v %v, %v", vkeys, skeys, err)
		}
		if page, err := s.TikTokSKUsAfter(ctx, "x", "", "", 0); err != nil || len(page) != 1 || !reflect.DeepEqual(page[0].Link, skuLinks["s1"]) ||
			!slices.Equal(page[0].Warehouses, []string{"w1", "w2"}) || page[0].Quantities["w1"] != 3 {
			t.Errorf("SKUs after pruning = %+v, %v", page, err)
		}

		mustPutShop(t, s, "empty")
		if v, k, err := catalogKeys(ctx, s, "empty"); err != nil || len(v)+len(k) != 0 {
			t.Errorf("CatalogKeys of a shop without catalog = %v, %v, %v", v, k, err)
		}
		if page, err := s.VariantsAfter(ctx, "empty", "", "", 0); err != nil || len(page) != 0 {
			t.Errorf("VariantsAfter of a shop without catalog = %v, %v", page, err)
		}
		for name, err := range map[string]error{
			"PutVariants":     s.PutVariants(ctx, "nope", 1, variants),
			"PutTikTokSKUs":   s.PutTikTokSKUs(ctx, "nope", 1, skus),
			"PruneCatalog":    s.PruneCatalog(ctx, "nope", 1),
			"SetLinks":        s.SetLinks(ctx, "nope", links, nil),
			"VariantKeys":     second(s.VariantKeys(ctx, "nope", shop.VariantKey{}, 0)),
			"SKUKeys":         second(s.SKUKeys(ctx, "nope", shop.SKUKey{}, 0)),
			"VariantsAfter":   second(s.VariantsAfter(ctx, "nope", "", "", 0)),
			"TikTokSKUsAfter": second(s.TikTokSKUsAfter(ctx, "nope", "", "", 0)),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of a missing shop: %v, want ErrNotFound", name, err)
			}
		}
		for name, err := range map[string]error{
			"variant": s.PutVariants(ctx, "x", 3, []shop.Variant{{ID: "1", Tags: []string{"a\x00b"}}}),
			"level":   s.PutVariants(ctx, "x", 3, []shop.Variant{{ID: "1", Available: map[string]int{"\xff": 1}}}),
			"SKU":     s.PutTikTokSKUs(ctx, "x", 3, []shop.TikTokSKU{{ID: "1", Warehouses: []string{"\xff"}}}),
			"link":    s.SetLinks(ctx, "x", map[string]shop.Link{"9": {Reason: "\x00"}}, nil),
		} {
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("a %s with text no engine stores: %v, want ErrInvalid", name, err)
			}
		}
	})
}

// TestCatalogLarge writes and links more rows in one call than one
// statement of either engine may carry parameters for.
func TestCatalogLarge(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		const n = 6000
		variants := make([]shop.Variant, n)
		links := make(map[string]shop.Link, n)
		for i := range variants {
			id := fmt.Sprintf("%019d", 1<<53+i)
			variants[i] = shop.Variant{ID: id, SKU: fmt.Sprint("S", i), Available: map[string]int{"L": i}}
			if i%3 == 0 {
				links[id] = shop.Link{Status: shop.LinkLinked, SKUID: "k" + id}
			}
		}
		if err := s.PutVariants(ctx, "x", 7, variants); err != nil {
			t.Fatal(err)
		}
		if err := s.SetLinks(ctx, "x", links, nil); err != nil {
			t.Fatal(err)
		}
		linked := walk(t, 1000, n, func(last *shop.Variant) ([]shop.Variant, error) {
			after := ""
			if last != nil {
				after = last.ID
			}
			return s.VariantsAfter(ctx, "x", shop.LinkLinked, after, 1000)
		})
		if len(linked) != len(links) {
			t.Fatalf("%d linked variants, want %d", len(linked), len(links))
		}
		for i, v := range linked {
			if v.ID != variants[3*i].ID || v.Link != links[v.ID] || v.Available["L"] != 3*i {
				t.Fatalf("linked variant %d = %+v, want %+v linked", i, v, variants[3*i])
			}
		}
	})
}

func TestUpdateCredentials(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		if err := s.ReplaceCredentials(ctx, "x", map[string][]shop.SealedCredential{
			"tiktok": {{Name: "access_token", Sealed: []byte{1}}, {Name: "app_key", Sealed: []byte{2}}},
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateCredentials(ctx, "x", []shop.SealedCredential{
			{Group: "tiktok", Name: "access_token", Sealed: []byte{3}},
			{Group: "tiktok", Name: "refresh_token", Sealed: []byte{4}},
		}); err != nil {
			t.Fatal(err)
		}
		creds, err := s.Credentials(ctx, "x")
		var got []string
		for _, c := range creds {
			got = append(got, fmt.Sprintf("%s/%s=%x", c.Group, c.Name, c.Sealed))
		}
		if want := []string{"tiktok/access_token=03", "tiktok/app_key=02", "tiktok/refresh_token=04"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("Credentials = %v, %v; want %v", got, err, want)
		}
		if err := s.UpdateCredentials(ctx, "nope", []shop.SealedCredential{{Group: "tiktok", Name: "n", Sealed: []byte{1}}}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateCredentials of a missing shop: %v, want ErrNotFound", err)
		}
		if err := s.UpdateCredentials(ctx, "x", []shop.SealedCredential{{Name: "n", Sealed: []byte{1}}}); err == nil {
			t.Error("a credential without a group was stored")
		}
	})
}

// mustStartRun starts a connect run of a shop.
func mustStartRun(t *testing.T, ctx context.Context, s *store.Store, id string) shop.Run {
	t.Helper()
	r, err := s.StartRun(ctx, shop.Run{Shop: id, Kind: "connect"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func vk(id, sku string) shop.VariantKey { return shop.VariantKey{ID: id, SKU: sku} }

func sk(id, product, sellerSKU string) shop.SKUKey {
	return shop.SKUKey{ID: id, ProductID: product, SellerSKU: sellerSKU}
}

// catalogKeys reads both sides' keys whole.
func catalogKeys(ctx context.Context, s *store.Store, id string) ([]shop.VariantKey, []shop.SKUKey, error) {
	v, err := s.VariantKeys(ctx, id, shop.VariantKey{}, 0)
	if err != nil {
		return nil, nil, err
	}
	k, err := s.SKUKeys(ctx, id, shop.SKUKey{}, 0)
	return v, k, err
}

// TestKeysPageInSKUOrder: linking reads both sides a page at a time in
// one byte order, on both engines, whatever the SKUs hold.
func TestKeysPageInSKUOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		skus := []string{"", "b", "B", "a-1", "a_1", "É", "e", "10", "9", "b"}
		var variants []shop.Variant
		var tiktokSKUs []shop.TikTokSKU
		for i, sku := range skus {
			variants = append(variants, shop.Variant{ID: strconv.Itoa(100 - i), SKU: sku})
			tiktokSKUs = append(tiktokSKUs, shop.TikTokSKU{ID: strconv.Itoa(100 - i), ProductID: "p", SellerSKU: sku})
		}
		if err := s.PutVariants(ctx, "x", 1, variants); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTikTokSKUs(ctx, "x", 1, tiktokSKUs); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(variants)
		slices.SortFunc(want, func(a, b shop.Variant) int {
			return cmp.Or(strings.Compare(a.SKU, b.SKU), strings.Compare(a.ID, b.ID))
		})
		var got []shop.VariantKey
		for after := (shop.VariantKey{}); ; {
			page, err := s.VariantKeys(ctx, "x", after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got, after = append(got, page...), page[len(page)-1]
		}
		var gotSKUs []shop.SKUKey
		for after := (shop.SKUKey{}); ; {
			page, err := s.SKUKeys(ctx, "x", after, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			gotSKUs, after = append(gotSKUs, page...), page[len(page)-1]
		}
		if len(got) != len(want) || len(gotSKUs) != len(want) {
			t.Fatalf("%d variant keys and %d SKU keys, want %d", len(got), len(gotSKUs), len(want))
		}
		for i, w := range want {
			if got[i] != (shop.VariantKey{ID: w.ID, SKU: w.SKU}) || gotSKUs[i] != (shop.SKUKey{ID: w.ID, ProductID: "p", SellerSKU: w.SKU}) {
				t.Errorf("key %d: %+v and %+v, want %s %q", i, got[i], gotSKUs[i], w.ID, w.SKU)
			}
		}
	})
}
