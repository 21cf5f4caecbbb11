package catalog_test

import (
	"math/big"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

var twoTo53 = new(big.Int).Lsh(big.NewInt(1), 53)

func aboveTwoTo53(t *rapid.T, what, id string) {
	n, ok := new(big.Int).SetString(id, 10)
	if !ok || n.Cmp(twoTo53) <= 0 {
		t.Fatalf("%s id %q is not a number above 2^53", what, id)
	}
}

func TestGenerateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o := catalog.Options{
			Products:         rapid.IntRange(1, 12).Draw(t, "products"),
			Variants:         rapid.IntRange(1, 5).Draw(t, "variants"),
			Locations:        rapid.IntRange(1, 4).Draw(t, "locations"),
			Seed:             rapid.Uint64().Draw(t, "seed"),
			WithoutConflicts: rapid.Bool().Draw(t, "clean"),
		}
		c, err := catalog.Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := catalog.Generate(o)
		if !reflect.DeepEqual(c, again) {
			t.Fatal("the same options gave two catalogs")
		}
		if len(c.Links) != o.Products*o.Variants {
			t.Fatalf("%d links, want %d", len(c.Links), o.Products*o.Variants)
		}

		ids := map[string]bool{}
		unique := func(what, id string) {
			aboveTwoTo53(t, what, id)
			if ids[id] {
				t.Fatalf("%s id %s used twice", what, id)
			}
			ids[id] = true
		}
		variantsBySKU, tracked, continues := map[string]int{}, 0, 0
		for _, p := range c.Products {
			unique("product", p.ID)
			for _, v := range p.Variants {
				unique("variant", v.ID)
				unique("inventory item", v.InventoryItemID)
				variantsBySKU[v.SKU]++
				if !v.Tracked {
					tracked++
				}
				if v.InventoryPolicy == "CONTINUE" {
					continues++
				}
				if len(v.Available) != o.Locations {
					t.Fatalf("variant %s stocked at %d of %d locations", v.ID, len(v.Available), o.Locations)
				}
			}
		}
		skusBySeller, multi := map[string]int{}, 0
		for _, p := range c.TikTokProducts {
			unique("tiktok product", p.ID)
			for _, k := range p.SKUs {
				unique("sku", k.ID)
				skusBySeller[k.SellerSKU]++
				if len(k.Inventory) > 1 {
					multi++
				}
			}
		}
		for _, l := range c.Locations {
			unique("location", l.ID)
		}
		for _, w := range c.Warehouses {
			unique("warehouse", w.ID)
		}
		for _, l := range c.Links {
			if variantsBySKU[l.SellerSKU] != 1 || skusBySeller[l.SellerSKU] != 1 {
				t.Fatalf("link %s is not one variant to one SKU", l.SellerSKU)
			}
		}
		if multi == 0 {
			t.Fatal("no multi-warehouse SKU")
		}
		n := o.Products * o.Variants
		if n >= 2 && tracked == 0 || n >= 3 && continues == 0 {
			t.Fatalf("%d variants: %d untracked, %d continue selling", n, tracked, continues)
		}
		if inactive := !c.Locations[len(c.Locations)-1].Active; inactive != (o.Locations >= 2) {
			t.Fatalf("%d locations, last inactive: %v", o.Locations, inactive)
		}
		if o.WithoutConflicts {
			if len(c.DuplicateSKUs)+len(c.ShopifyOnly)+len(c.TikTokOnly) != 0 {
				t.Fatal("conflicts in a catalog without them")
			}
			return
		}
		if variantsBySKU[catalog.DuplicateSKU] != 2 || skusBySeller[catalog.DuplicateSKU] != 1 {
			t.Fatal("no duplicate SKU")
		}
		if skusBySeller[catalog.TikTokOnlySKU] != 1 || variantsBySKU[catalog.TikTokOnlySKU] != 0 || len(c.TikTokOnly) != 1 {
			t.Fatal("no TikTok-only SKU")
		}
		if len(c.ShopifyOnly) != 2 || variantsBySKU[""] != 1 {
			t.Fatal("want a Shopify-only SKU and a variant without a SKU")
		}
	})
}

func TestSeedsDiffer(t *testing.T) {
	a, _ := catalog.Generate(catalog.Options{Products: 2, Variants: 2, Locations: 2, Seed: 1})
	b, _ := catalog.Generate(catalog.Options{Products: 2, Variants: 2, Locations: 2, Seed: 2})
	if a.Products[0].ID == b.Products[0].ID {
		t.Error("two seeds gave the same ids")
	}
}

func TestCloneIsDeep(t *testing.T) {
	a, _ := catalog.Generate(catalog.Options{Products: 1, Variants: 1, Locations: 2, Seed: 1})
	b := a.Clone()
	b.Products[0].Variants[0].Available[b.Locations[0].ID] = -100
	b.TikTokProducts[0].SKUs[0].Inventory[0].Quantity = -100
	if a.Products[0].Variants[0].Available[a.Locations[0].ID] == -100 || a.TikTokProducts[0].SKUs[0].Inventory[0].Quantity == -100 {
		t.Error("changing a clone changed the original")
	}
}

func TestGenerateRefusesEmptySizes(t *testing.T) {
	for _, o := range []catalog.Options{{Products: 0, Variants: 1, Locations: 1}, {Products: 1, Variants: 0, Locations: 1}, {Products: 1, Variants: 1, Locations: 0}} {
		if _, err := catalog.Generate(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
