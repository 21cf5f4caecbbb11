package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// linkVariants stores n variants of shop id linked to SKUs k0…, of TikTok
// product tp, each stocked in w1.
func linkVariants(t *testing.T, s *store.Store, id string, n int) {
	t.Helper()
	ctx := t.Context()
	var vs []shop.Variant
	var ks []shop.TikTokSKU
	vlinks, klinks := map[string]shop.Link{}, map[string]shop.Link{}
	for i := range n {
		v, k := fmt.Sprintf("v%02d", i), fmt.Sprintf("k%02d", i)
		vs = append(vs, shop.Variant{ID: v, ProductID: "p", SKU: "S" + v, InventoryItemID: "i" + v, Tracked: true, Available: map[string]int{"l1": i}})
		ks = append(ks, shop.TikTokSKU{ID: k, ProductID: "tp", SellerSKU: "S" + v, Warehouses: []string{"w1"}, Quantities: map[string]int{"w1": 2 * i}})
		vlinks[v] = shop.Link{Status: shop.LinkLinked, SKUID: k, TikTokProductID: "tp"}
		klinks[k] = shop.Link{Status: shop.LinkLinked, VariantID: v}
	}
	vs = append(vs, shop.Variant{ID: "v99", ProductID: "p", SKU: "unlinked", InventoryItemID: "iv99"})
	vlinks["v99"] = shop.Link{Status: shop.LinkUnmatched}
	if err := s.PutVariants(ctx, id, 1, vs); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTikTokSKUs(ctx, id, 1, ks); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinks(ctx, id, vlinks, klinks); err != nil {
		t.Fatal(err)
	}
}

// TestLinkedTargets pages through the linked variants by id, each with
// its SKU's warehouses and imported quantities; unlinked ones are left out.
func TestLinkedTargets(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		mustPutShop(t, s, "a")
		linkVariants(t, s, "a", 5)
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			page, err := s.LinkedTargets(t.Context(), "a", after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				if pages != 3 {
					t.Errorf("%d pages of 2 for 5 variants, want 3", pages)
				}
				break
			}
			for _, tg := range page {
				got = append(got, fmt.Sprintf("%s>%s:%v", tg.Variant.ID, tg.SKUID, tg.Quantities))
			}
			after = page[len(page)-1].Variant.ID
		}
		want := "[v00>k00:map[w1:0] v01>k01:map[w1:2] v02>k02:map[w1:4] v03>k03:map[w1:6] v04>k04:map[w1:8]]"
		if fmt.Sprint(got) != want {
			t.Errorf("linked targets = %v, want %s", got, want)
		}
	})
}

// TestReadBackRoundTrip: a read-back replaces the last of its SKU and
// warehouse; its time and the start of a drop below are kept to the
// microsecond, and a read-back not below clears the start.
func TestReadBackRoundTrip(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		mustPutShop(t, s, "b")
		at := time.Date(2026, 3, 2, 9, 0, 0, 123456000, time.UTC)
		first := []shop.ReadBack{
			{SKUID: "k1", WarehouseID: "w1", Available: 5, Committed: 3, At: at, BelowSince: at.Add(-time.Minute)},
			{SKUID: "k1", WarehouseID: "w2", Available: 0, At: at},
			{SKUID: "k2", WarehouseID: "w1", Available: 7, At: at},
		}
		if err := s.RecordReadBack(ctx, "a", first); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordReadBack(ctx, "b", []shop.ReadBack{{SKUID: "k1", WarehouseID: "w1", Available: 99, At: at}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.LastReadBack(ctx, "a", []string{"k1", "k3"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[shop.PublishKey{SKUID: "k1", WarehouseID: "w1"}] != first[0] || got[shop.PublishKey{SKUID: "k1", WarehouseID: "w2"}] != first[1] {
			t.Errorf("read-back of k1 = %+v, want %+v", got, first[:2])
		}

		later := shop.ReadBack{SKUID: "k1", WarehouseID: "w1", Available: 8, At: at.Add(time.Hour)}
		if err := s.RecordReadBack(ctx, "a", []shop.ReadBack{later}); err != nil {
			t.Fatal(err)
		}
		got, err = s.LastReadBack(ctx, "a", []string{"k1"})
		if err != nil || got[shop.PublishKey{SKUID: "k1", WarehouseID: "w1"}] != later {
			t.Errorf("read-back after another = %+v, %v; want %+v", got, err, later)
		}
		if err := s.RecordReadBack(ctx, "gone", first); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("read-back of a missing shop: %v, want ErrNotFound", err)
		}
	})
}

// TestPendingAmong: the items given that are pending, every one while the
// whole shop is.
func TestPendingAmong(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: "a", WebhookID: "w1", Topic: "t"}, []string{"i1", "i2"}, false, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.PendingAmong(ctx, "a", []string{"i2", "i3"})
		if err != nil || len(got) != 1 || !got["i2"] {
			t.Errorf("pending among i2, i3 = %v, %v; want i2", got, err)
		}
		if err := s.MarkAllPending(ctx, "a", "settings:2", nil); err != nil {
			t.Fatal(err)
		}
		got, err = s.PendingAmong(ctx, "a", []string{"i2", "i3"})
		if err != nil || len(got) != 2 || !got["i3"] {
			t.Errorf("pending among i2, i3 with every item pending = %v, %v; want both", got, err)
		}
	})
}

// TestReconcileStates: connected shops only, each with when its
// reconciliation last started and where it resumes.
func TestReconcileStates(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, id := range []string{"a", "b", "c"} {
			mustPutShop(t, s, id)
		}
		for _, id := range []string{"a", "b"} {
			if err := s.Connect(ctx, id, shop.Connection{Locations: []shop.Location{{ID: "l1", Active: true}}, Warehouses: []shop.Warehouse{{ID: "w1", Active: true, Default: true}}}); err != nil {
				t.Fatal(err)
			}
		}
		at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		after, err := s.StartReconcile(ctx, "a", at)
		if err != nil || after != "" {
			t.Fatalf("first start = %q, %v; want from the first page", after, err)
		}
		if err := s.ResumeReconcileAfter(ctx, "a", "v07"); err != nil {
			t.Fatal(err)
		}
		if after, err := s.StartReconcile(ctx, "a", at.Add(time.Minute)); err != nil || after != "v07" {
			t.Errorf("resumed start = %q, %v; want after v07", after, err)
		}
		states, err := s.ReconcileStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.ReconcileState{{Shop: "a", Started: at.Add(time.Minute), ResumeAfter: "v07"}, {Shop: "b"}}
		if fmt.Sprint(states) != fmt.Sprint(want) {
			t.Errorf("states = %+v, want %+v (c is not connected)", states, want)
		}
		if _, err := s.StartReconcile(ctx, "gone", at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("start of a missing shop: %v, want ErrNotFound", err)
		}
	})
}
