package tiktok

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
)

// Whatever update a caller builds, given the product as the client read it
// from the shop, no request reaching TikTok lists a SKU of another product
// or leaves out a warehouse of a SKU; and an update that keeps the rules is
// sent once and applied. The requests are read from the fake's log.
func TestNoUpdateRequestMixesProductsOrLeavesOutAWarehouse(t *testing.T) {
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		cat, err := catalog.Generate(catalog.Options{
			Products:  rapid.IntRange(1, 3).Draw(rt, "products"),
			Variants:  rapid.IntRange(1, 4).Draw(rt, "variants"),
			Locations: 1, Seed: rapid.Uint64().Draw(rt, "seed"),
		})
		if err != nil {
			rt.Fatal(err)
		}
		f := startFake(t, tiktokfake.Options{Catalog: cat})
		defer f.Close()
		shop := fakeClient(t, f).Shop(f.ShopCipher(), fakeTokens(f))

		var read []Product
		for p, err := range shop.Products(ctx, ProductQuery{}) {
			if err != nil {
				rt.Fatal(err)
			}
			read = append(read, p)
		}
		var allSKUs []SKU
		for _, p := range read {
			allSKUs = append(allSKUs, p.SKUs...)
		}
		var warehouses []string
		for _, w := range cat.Warehouses {
			warehouses = append(warehouses, w.ID)
		}
		product := rapid.SampledFrom(read).Draw(rt, "product")
		skuID := func(k SKU) string { return k.ID }

		// An update that keeps the rules, then perhaps broken in the ways
		// a caller could break it.
		u := InventoryUpdate{ProductID: product.ID}
		for _, k := range rapid.SliceOfNDistinct(rapid.SampledFrom(product.SKUs), 1, -1, skuID).Draw(rt, "skus") {
			q := map[string]int{}
			for _, wh := range k.WarehouseIDs() {
				q[wh] = rapid.IntRange(0, MaxQuantity).Draw(rt, "quantity")
			}
			u.SKUs = append(u.SKUs, SKUQuantities{SKUID: k.ID, Quantities: q})
		}
		valid := true
		pick := func(label string) *SKUQuantities {
			return &u.SKUs[rapid.IntRange(0, len(u.SKUs)-1).Draw(rt, label)]
		}
		if others := slices.DeleteFunc(slices.Clone(allSKUs), func(k SKU) bool {
			return slices.ContainsFunc(product.SKUs, func(o SKU) bool { return o.ID == k.ID })
		}); len(others) > 0 && rapid.Bool().Draw(rt, "add another product's SKU") {
			k := rapid.SampledFrom(others).Draw(rt, "other SKU")
			q := map[string]int{}
			for _, wh := range k.WarehouseIDs() {
				q[wh] = 1
			}
			u.SKUs = append(u.SKUs, SKUQuantities{SKUID: k.ID, Quantities: q})
			valid = false
		}
		if rapid.Bool().Draw(rt, "leave out a warehouse") {
			if k := pick("SKU losing a warehouse"); len(k.Quantities) > 0 {
				delete(k.Quantities, rapid.SampledFrom(slices.Sorted(maps.Keys(k.Quantities))).Draw(rt, "warehouse left out"))
				valid = false
			}
		}
		if rapid.Bool().Draw(rt, "add a warehouse") {
			pick("SKU gaining a warehouse").Quantities[rapid.SampledFrom(warehouses).Draw(rt, "warehouse added")] = 1
			valid = false
		}

		f.ResetRequests()
		err = shop.UpdateInventory(ctx, u, &product)
		var invalid *InvalidUpdateError
		if valid && err != nil {
			rt.Fatalf("an update that keeps the rules failed: %v", err)
		}
		if err != nil && !errors.As(err, &invalid) {
			var partial *UpdateFailures
			if !errors.As(err, &partial) {
				rt.Fatalf("error %v, want nil, *InvalidUpdateError or *UpdateFailures", err)
			}
			for _, k := range partial.SKUs {
				if k.Code == tiktokfake.CodeOtherProduct || k.Code == tiktokfake.CodeMissingWarehouse {
					rt.Fatalf("TikTok refused SKU %s with %d: the client sent what it must not", k.SKUID, k.Code)
				}
			}
		}

		reqs := f.Requests()
		if invalid == nil && len(reqs) != 1 {
			rt.Fatalf("%d requests for an update sent, want 1", len(reqs))
		}
		if invalid != nil && len(reqs) != 0 {
			rt.Fatalf("%d requests for a refused update", len(reqs))
		}
		for _, r := range reqs {
			id, _ := strings.CutPrefix(r.Path, "/product/202309/products/")
			id, _ = strings.CutSuffix(id, "/inventory/update")
			i := slices.IndexFunc(cat.TikTokProducts, func(p catalog.TikTokProduct) bool { return p.ID == id })
			if i < 0 {
				rt.Fatalf("request to %s: no such product", r.Path)
			}
			owner := cat.TikTokProducts[i]
			var body struct {
				SKUs []struct {
					ID        string `json:"id"`
					Inventory []struct {
						WarehouseID string `json:"warehouse_id"`
					} `json:"inventory"`
				} `json:"skus"`
			}
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
				rt.Fatal(err)
			}
			for _, k := range body.SKUs {
				j := slices.IndexFunc(owner.SKUs, func(o catalog.TikTokSKU) bool { return o.ID == k.ID })
				if j < 0 {
					rt.Fatalf("request for product %s lists SKU %s of another product", id, k.ID)
				}
				for _, st := range owner.SKUs[j].Inventory {
					if !slices.ContainsFunc(k.Inventory, func(l struct {
						WarehouseID string `json:"warehouse_id"`
					}) bool {
						return l.WarehouseID == st.WarehouseID
					}) {
						rt.Fatalf("request lists SKU %s without its warehouse %s", k.ID, st.WarehouseID)
					}
				}
			}
		}
	})
}
