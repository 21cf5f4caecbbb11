package shop_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// TestLinkStoredAgreesWithLinkCatalog is a differential test: linking a
// stored catalog a page at a time gives every variant and SKU the link,
// and the catalog the counts, that linking it whole in memory gives,
// whatever the page size (groups span pages) and the SKUs (byte order,
// case, spaces, the empty SKU).
func TestLinkStoredAgreesWithLinkCatalog(t *testing.T) {
	db := storetest.SQLite(t, t.TempDir())
	ctx := context.Background()
	round := 0
	rapid.Check(t, func(rt *rapid.T) {
		round++
		id := fmt.Sprintf("s%d", round)
		if _, err := db.PutShop(ctx, shop.Shop{ID: id, Locations: []shop.Location{}, Warehouses: []shop.Warehouse{}}, nil); err != nil {
			rt.Fatal(err)
		}
		sku := rapid.SampledFrom([]string{"", "a", "A", "a ", "b", "é", "10", "9"})
		var variants []shop.Variant
		var vkeys []shop.VariantKey
		for i := range rapid.IntRange(0, 30).Draw(rt, "variants") {
			v := shop.Variant{ID: fmt.Sprint(1000 + i), SKU: sku.Draw(rt, "sku")}
			variants, vkeys = append(variants, v), append(vkeys, shop.VariantKey{ID: v.ID, SKU: v.SKU})
		}
		var skus []shop.TikTokSKU
		var skeys []shop.SKUKey
		for i := range rapid.IntRange(0, 30).Draw(rt, "skus") {
			k := shop.TikTokSKU{ID: fmt.Sprint(2000 + i), ProductID: rapid.SampledFrom([]string{"p1", "p2", "p3"}).Draw(rt, "product"),
				SellerSKU: sku.Draw(rt, "seller sku")}
			skus, skeys = append(skus, k), append(skeys, shop.SKUKey{ID: k.ID, ProductID: k.ProductID, SellerSKU: k.SellerSKU})
		}
		if err := db.PutVariants(ctx, id, 1, variants); err != nil {
			rt.Fatal(err)
		}
		if err := db.PutTikTokSKUs(ctx, id, 1, skus); err != nil {
			rt.Fatal(err)
		}
		page := rapid.IntRange(1, 7).Draw(rt, "page")
		var last int64
		counts, err := shop.LinkStored(ctx, db, id, page, func(done int64) { last = done })
		if err != nil {
			rt.Fatal(err)
		}
		wantV, wantS, wantCounts := shop.LinkCatalog(vkeys, skeys)
		if counts != wantCounts {
			rt.Errorf("counts %+v, want %+v", counts, wantCounts)
		}
		if last != int64(len(variants)+len(skus)) {
			rt.Errorf("progress ended at %d, want %d rows", last, len(variants)+len(skus))
		}
		gotV := map[string]shop.Link{}
		stored, err := db.VariantsAfter(ctx, id, "", "", 0)
		if err != nil {
			rt.Fatal(err)
		}
		for _, v := range stored {
			gotV[v.ID] = v.Link
		}
		gotS := map[string]shop.Link{}
		storedSKUs, err := db.TikTokSKUsAfter(ctx, id, "", "", 0)
		if err != nil {
			rt.Fatal(err)
		}
		for _, k := range storedSKUs {
			gotS[k.ID] = k.Link
		}
		if !maps.Equal(gotV, wantV) {
			rt.Errorf("variant links\n%v\nwant\n%v", gotV, wantV)
		}
		if !maps.Equal(gotS, wantS) {
			rt.Errorf("SKU links\n%v\nwant\n%v", gotS, wantS)
		}
	})
}
