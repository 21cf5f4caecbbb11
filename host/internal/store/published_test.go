package store_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// TestExpandAllPending: the item '*' becomes every linked variant's item,
// after the items already pending, which keep their cause; a '*' recorded
// again since stays.
func TestExpandAllPending(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		err := s.PutVariants(ctx, "a", 1, []shop.Variant{
			{ID: "v1", ProductID: "p", SKU: "A", InventoryItemID: "i1"},
			{ID: "v2", ProductID: "p", SKU: "B", InventoryItemID: "i2"},
			{ID: "v3", ProductID: "p", SKU: "C", InventoryItemID: "i3"}, // unlinked
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutTikTokSKUs(ctx, "a", 1, []shop.TikTokSKU{{ID: "k1", ProductID: "tp", SellerSKU: "A"}, {ID: "k2", ProductID: "tp", SellerSKU: "B"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetLinks(ctx, "a",
			map[string]shop.Link{"v1": {Status: shop.LinkLinked, SKUID: "k1", TikTokProductID: "tp"}, "v2": {Status: shop.LinkLinked, SKUID: "k2", TikTokProductID: "tp"},
				"v3": {Status: shop.LinkUnmatched}},
			map[string]shop.Link{"k1": {Status: shop.LinkLinked, VariantID: "v1"}, "k2": {Status: shop.LinkLinked, VariantID: "v2"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w1", Topic: "t"}, []string{"i2"}, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkAllPending(ctx, "a", "settings:3", nil); err != nil {
			t.Fatal(err)
		}
		items, err := s.PendingItems(ctx, "a", 0)
		if err != nil || len(items) != 2 || items[1].InventoryItemID != shop.AllItems {
			t.Fatalf("pending = %+v, %v; want i2 then *", items, err)
		}
		if err := s.ExpandAllPending(ctx, "a", items[1]); err != nil {
			t.Fatal(err)
		}
		if got, want := pendingIDs(t, s, "a"), []string{"i2@w1", "i1@settings:3"}; !slices.Equal(got, want) {
			t.Errorf("pending after expanding = %v, want %v", got, want)
		}

		// A '*' recorded after the one expanded stays.
		if err := s.MarkAllPending(ctx, "a", "settings:4", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.ExpandAllPending(ctx, "a", items[1]); err != nil {
			t.Fatal(err)
		}
		if got, want := pendingIDs(t, s, "a"), []string{"i2@w1", "i1@settings:3", "*@settings:4"}; !slices.Equal(got, want) {
			t.Errorf("pending after a stale expansion = %v, want %v", got, want)
		}

		targets, err := s.SyncTargets(ctx, "a", []string{"i1", "i3", "i2", "i1"})
		if err != nil || len(targets) != 2 || targets[0].Variant.ID != "v1" || targets[0].SKUID != "k1" || targets[0].ProductID != "tp" || targets[1].SKUID != "k2" {
			t.Errorf("SyncTargets = %+v, %v; want v1 -> k1 and v2 -> k2 of product tp", targets, err)
		}
		if err := s.MarkAllPending(ctx, "nope", "x", nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkAllPending of no shop: %v, want ErrNotFound", err)
		}
	})
}

// TestExpandAllPendingGroupsProducts: the expanded items are numbered by
// TikTok product, then item, whatever their item ids: a SyncShop batch
// takes items in seq order, so a product's variants land in one batch and
// cost one TikTok call, not one per batch they are scattered over. On
// SQLite the order holds across the expansion's transactions too (chunks
// of 2 cut through products).
func TestExpandAllPendingGroupsProducts(t *testing.T) {
	for _, chunk := range []int{0, 2} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) {
			if chunk > 0 {
				t.Cleanup(store.SetExpandChunk(chunk))
			}
			expandGroupsProducts(t)
		})
	}
}

func expandGroupsProducts(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		// Item ids interleave the products: i1 of tp2, i2 of tp1, i3 of
		// tp2, i4 of tp1, i5 of tp3.
		product := map[string]string{"1": "tp2", "2": "tp1", "3": "tp2", "4": "tp1", "5": "tp3"}
		var variants []shop.Variant
		var skus []shop.TikTokSKU
		links, skuLinks := map[string]shop.Link{}, map[string]shop.Link{}
		for _, n := range slices.Sorted(maps.Keys(product)) {
			variants = append(variants, shop.Variant{ID: "v" + n, ProductID: "p" + product[n], SKU: "S" + n, InventoryItemID: "i" + n})
			skus = append(skus, shop.TikTokSKU{ID: "k" + n, ProductID: product[n], SellerSKU: "S" + n})
			links["v"+n] = shop.Link{Status: shop.LinkLinked, SKUID: "k" + n, TikTokProductID: product[n]}
			skuLinks["k"+n] = shop.Link{Status: shop.LinkLinked, VariantID: "v" + n}
		}
		if err := s.PutVariants(ctx, "a", 1, variants); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTikTokSKUs(ctx, "a", 1, skus); err != nil {
			t.Fatal(err)
		}
		if err := s.SetLinks(ctx, "a", links, skuLinks); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkAllPending(ctx, "a", "resync", nil); err != nil {
			t.Fatal(err)
		}
		items, err := s.PendingItems(ctx, "a", 0)
		if err != nil || len(items) != 1 {
			t.Fatalf("pending = %+v, %v; want *", items, err)
		}
		if err := s.ExpandAllPending(ctx, "a", items[0]); err != nil {
			t.Fatal(err)
		}
		want := []string{"i2@resync", "i4@resync", "i1@resync", "i3@resync", "i5@resync"}
		if got := pendingIDs(t, s, "a"); !slices.Equal(got, want) {
			t.Errorf("pending after expanding = %v, want %v (tp1's, tp2's, tp3's)", got, want)
		}
	})
}

// TestRecordPublication: accepted quantities replace the published ones
// and clear their SKU's failure; a refused SKU keeps its quantities and is
// recorded failed; the history keeps every entry in order.
func TestRecordPublication(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		eight := 8
		steps := []shop.Publication{
			{Accepted: map[shop.PublishKey]int{{SKUID: "k1", WarehouseID: "w"}: 8, {SKUID: "k2", WarehouseID: "w"}: 3},
				History: []shop.HistoryEntry{{SKUID: "k1", WarehouseID: "w", Quantity: 8, Outcome: shop.OutcomePublished, Cause: "h1", Inputs: []byte(`{"a":1}`)}}},
			{Failed: []shop.SKUFailure{{SKUID: "k1", Code: "12052109", Message: "over", RequestID: "r1"}},
				History: []shop.HistoryEntry{{SKUID: "k1", WarehouseID: "w", Previous: &eight, Quantity: 16, Outcome: shop.OutcomeFailed, Cause: "h2",
					RequestID: "r1", ErrorCode: "12052109", ErrorMsg: "over", SettingsVersion: 2}}},
		}
		for _, p := range steps {
			if err := s.RecordPublication(ctx, "a", p); err != nil {
				t.Fatal(err)
			}
		}
		published, err := s.Published(ctx, "a", []string{"k1", "k2", "k3"})
		want := map[shop.PublishKey]int{{SKUID: "k1", WarehouseID: "w"}: 8, {SKUID: "k2", WarehouseID: "w"}: 3}
		if err != nil || !maps.Equal(published, want) {
			t.Errorf("published = %v, %v; want %v", published, err, want)
		}
		failures, err := s.SyncFailures(ctx, "a")
		if err != nil || len(failures) != 1 || failures[0] != (shop.SKUFailure{SKUID: "k1", Code: "12052109", Message: "over", RequestID: "r1"}) {
			t.Errorf("failures = %+v, %v", failures, err)
		}
		hist, err := s.SyncHistory(ctx, "a", 0, 0)
		if err != nil || len(hist) != 2 {
			t.Fatalf("history = %+v, %v; want 2 entries", hist, err)
		}
		if h := hist[0]; h.Previous != nil || h.Quantity != 8 || string(h.Inputs) != `{"a":1}` || string(h.Modules) != "[]" || h.Time.IsZero() {
			t.Errorf("first entry = %+v", h)
		}
		if h := hist[1]; h.Previous == nil || *h.Previous != 8 || h.Outcome != shop.OutcomeFailed || h.ErrorCode != "12052109" || h.SettingsVersion != 2 || h.ID <= hist[0].ID {
			t.Errorf("second entry = %+v", h)
		}
		if after, err := s.SyncHistory(ctx, "a", hist[0].ID, 10); err != nil || len(after) != 1 || after[0].ID != hist[1].ID {
			t.Errorf("history after the first = %+v, %v", after, err)
		}

		// Accepted again: the failure is cleared.
		if err := s.RecordPublication(ctx, "a", shop.Publication{Accepted: map[shop.PublishKey]int{{SKUID: "k1", WarehouseID: "w"}: 16}}); err != nil {
			t.Fatal(err)
		}
		if failures, err := s.SyncFailures(ctx, "a"); err != nil || len(failures) != 0 {
			t.Errorf("failures after an accepted push = %+v, %v", failures, err)
		}
		if err := s.RecordPublication(ctx, "nope", steps[0]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RecordPublication of no shop: %v, want ErrNotFound", err)
		}
	})
}
