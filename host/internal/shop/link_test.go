package shop_test

import (
	"fmt"
	"maps"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/shop"
)

func TestLinkCatalog(t *testing.T) {
	linked := func(sku, product string) shop.Link {
		return shop.Link{Status: shop.LinkLinked, SKUID: sku, TikTokProductID: product}
	}
	linkedTo := func(variant string) shop.Link { return shop.Link{Status: shop.LinkLinked, VariantID: variant} }
	unmatched := func(reason string) shop.Link { return shop.Link{Status: shop.LinkUnmatched, Reason: reason} }
	conflict := func(reason string) shop.Link { return shop.Link{Status: shop.LinkConflict, Reason: reason} }
	tests := []struct {
		name         string
		variants     []shop.VariantKey
		skus         []shop.SKUKey
		wantVariants map[string]shop.Link
		wantSKUs     map[string]shop.Link
		wantCounts   shop.LinkCounts
	}{
		{
			name:         "one variant and one SKU with the same seller SKU",
			variants:     []shop.VariantKey{{ID: "v1", SKU: "A"}},
			skus:         []shop.SKUKey{{ID: "s1", ProductID: "p1", SellerSKU: "A"}},
			wantVariants: map[string]shop.Link{"v1": linked("s1", "p1")},
			wantSKUs:     map[string]shop.Link{"s1": linkedTo("v1")},
			wantCounts:   shop.LinkCounts{Linked: 1},
		},
		{
			name:         "SKUs compare exactly",
			variants:     []shop.VariantKey{{ID: "v1", SKU: "a"}},
			skus:         []shop.SKUKey{{ID: "s1", ProductID: "p1", SellerSKU: "A"}},
			wantVariants: map[string]shop.Link{"v1": unmatched(`no TikTok SKU has seller SKU "a"`)},
			wantSKUs:     map[string]shop.Link{"s1": unmatched(`no Shopify variant has SKU "A"`)},
			wantCounts:   shop.LinkCounts{UnmatchedVariants: 1, UnmatchedSKUs: 1},
		},
		{
			name:         "empty SKUs match nothing, not each other",
			variants:     []shop.VariantKey{{ID: "v1"}, {ID: "v2"}},
			skus:         []shop.SKUKey{{ID: "s1", ProductID: "p1"}},
			wantVariants: map[string]shop.Link{"v1": unmatched("the variant has no SKU"), "v2": unmatched("the variant has no SKU")},
			wantSKUs:     map[string]shop.Link{"s1": unmatched("the TikTok SKU has no seller SKU")},
			wantCounts:   shop.LinkCounts{UnmatchedVariants: 2, UnmatchedSKUs: 1},
		},
		{
			name:     "two variants with one SKU link neither",
			variants: []shop.VariantKey{{ID: "v2", SKU: "D"}, {ID: "v1", SKU: "D"}, {ID: "v3", SKU: "E"}},
			skus:     []shop.SKUKey{{ID: "s1", ProductID: "p1", SellerSKU: "D"}, {ID: "s2", ProductID: "p1", SellerSKU: "E"}},
			wantVariants: map[string]shop.Link{
				"v1": conflict(`SKU "D" is on 2 variants: v1, v2`),
				"v2": conflict(`SKU "D" is on 2 variants: v1, v2`),
				"v3": linked("s2", "p1"),
			},
			wantSKUs:   map[string]shop.Link{"s1": conflict(`SKU "D" is on 2 variants: v1, v2`), "s2": linkedTo("v3")},
			wantCounts: shop.LinkCounts{Linked: 1, Conflicts: 1},
		},
		{
			name:         "two variants with one SKU TikTok lacks",
			variants:     []shop.VariantKey{{ID: "v1", SKU: "D"}, {ID: "v2", SKU: "D"}},
			wantVariants: map[string]shop.Link{"v1": conflict(`SKU "D" is on 2 variants: v1, v2`), "v2": conflict(`SKU "D" is on 2 variants: v1, v2`)},
			wantSKUs:     map[string]shop.Link{},
			wantCounts:   shop.LinkCounts{Conflicts: 1},
		},
		{
			name:         "one seller SKU on two TikTok products",
			variants:     []shop.VariantKey{{ID: "v1", SKU: "X"}},
			skus:         []shop.SKUKey{{ID: "s1", ProductID: "p2", SellerSKU: "X"}, {ID: "s2", ProductID: "p1", SellerSKU: "X"}},
			wantVariants: map[string]shop.Link{"v1": conflict(`seller SKU "X" is on 2 TikTok products: p1, p2`)},
			wantSKUs: map[string]shop.Link{
				"s1": conflict(`seller SKU "X" is on 2 TikTok products: p1, p2`),
				"s2": conflict(`seller SKU "X" is on 2 TikTok products: p1, p2`),
			},
			wantCounts: shop.LinkCounts{Conflicts: 1},
		},
		{
			name:         "one seller SKU on two SKUs of one product",
			variants:     []shop.VariantKey{{ID: "v1", SKU: "X"}},
			skus:         []shop.SKUKey{{ID: "s1", ProductID: "p1", SellerSKU: "X"}, {ID: "s2", ProductID: "p1", SellerSKU: "X"}},
			wantVariants: map[string]shop.Link{"v1": conflict(`seller SKU "X" is on 2 SKUs of TikTok product p1: s1, s2`)},
			wantSKUs: map[string]shop.Link{
				"s1": conflict(`seller SKU "X" is on 2 SKUs of TikTok product p1: s1, s2`),
				"s2": conflict(`seller SKU "X" is on 2 SKUs of TikTok product p1: s1, s2`),
			},
			wantCounts: shop.LinkCounts{Conflicts: 1},
		},
		{
			name:         "a SKU listed twice under its product",
			variants:     []shop.VariantKey{{ID: "v1", SKU: "X"}},
			skus:         []shop.SKUKey{{ID: "s1", ProductID: "p1", SellerSKU: "X"}, {ID: "s1", ProductID: "p1", SellerSKU: "X"}},
			wantVariants: map[string]shop.Link{"v1": conflict(`seller SKU "X" is on 2 SKUs of TikTok product p1: s1, s1; TikTok SKU s1 is listed 2 times`)},
			wantSKUs:     map[string]shop.Link{"s1": conflict(`seller SKU "X" is on 2 SKUs of TikTok product p1: s1, s1; TikTok SKU s1 is listed 2 times`)},
			wantCounts:   shop.LinkCounts{Conflicts: 1},
		},
		{
			name:     "conflicts on both sides say both",
			variants: []shop.VariantKey{{ID: "v1", SKU: "X"}, {ID: "v2", SKU: "X"}},
			skus:     []shop.SKUKey{{ID: "s1", ProductID: "p1", SellerSKU: "X"}, {ID: "s2", ProductID: "p2", SellerSKU: "X"}},
			wantVariants: map[string]shop.Link{
				"v1": conflict(`SKU "X" is on 2 variants: v1, v2; seller SKU "X" is on 2 TikTok products: p1, p2`),
				"v2": conflict(`SKU "X" is on 2 variants: v1, v2; seller SKU "X" is on 2 TikTok products: p1, p2`),
			},
			wantSKUs: map[string]shop.Link{
				"s1": conflict(`SKU "X" is on 2 variants: v1, v2; seller SKU "X" is on 2 TikTok products: p1, p2`),
				"s2": conflict(`SKU "X" is on 2 variants: v1, v2; seller SKU "X" is on 2 TikTok products: p1, p2`),
			},
			wantCounts: shop.LinkCounts{Conflicts: 1},
		},
		{
			name: "a long conflict names five, by number",
			variants: []shop.VariantKey{
				{ID: "10", SKU: "M"}, {ID: "9", SKU: "M"}, {ID: "8", SKU: "M"}, {ID: "7", SKU: "M"},
				{ID: "11", SKU: "M"}, {ID: "12", SKU: "M"}, {ID: "100", SKU: "M"},
			},
			wantVariants: func() map[string]shop.Link {
				m := map[string]shop.Link{}
				for _, id := range []string{"7", "8", "9", "10", "11", "12", "100"} {
					m[id] = conflict(`SKU "M" is on 7 variants: 7, 8, 9, 10, 11 and 2 more`)
				}
				return m
			}(),
			wantSKUs:   map[string]shop.Link{},
			wantCounts: shop.LinkCounts{Conflicts: 1},
		},
		{
			name:         "a variant listed with two SKUs links through neither",
			variants:     []shop.VariantKey{{ID: "v1", SKU: "A"}, {ID: "v1", SKU: "B"}},
			skus:         []shop.SKUKey{{ID: "s1", ProductID: "p1", SellerSKU: "A"}, {ID: "s2", ProductID: "p2", SellerSKU: "B"}},
			wantVariants: map[string]shop.Link{"v1": conflict(`variant v1 is listed 2 times`)},
			wantSKUs:     map[string]shop.Link{"s1": conflict(`variant v1 is listed 2 times`), "s2": conflict(`variant v1 is listed 2 times`)},
			wantCounts:   shop.LinkCounts{Conflicts: 2},
		},
		{
			name:         "nothing",
			wantVariants: map[string]shop.Link{},
			wantSKUs:     map[string]shop.Link{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, ks, counts := shop.LinkCatalog(tt.variants, tt.skus)
			if !maps.Equal(vs, tt.wantVariants) {
				t.Errorf("variants:\n got %v\nwant %v", vs, tt.wantVariants)
			}
			if !maps.Equal(ks, tt.wantSKUs) {
				t.Errorf("SKUs:\n got %v\nwant %v", ks, tt.wantSKUs)
			}
			if counts != tt.wantCounts {
				t.Errorf("counts = %+v, want %+v", counts, tt.wantCounts)
			}
		})
	}
}

// TestLinkCatalogProperties links random catalogs drawn from a few SKUs,
// ids and products, so that duplicates on either side are common.
func TestLinkCatalogProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sku := rapid.SampledFrom([]string{"", "A", "B", "C", "D", "E"})
		variants := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) shop.VariantKey {
			return shop.VariantKey{ID: fmt.Sprint("v", rapid.IntRange(0, 12).Draw(t, "variant")), SKU: sku.Draw(t, "sku")}
		}), 0, 12).Draw(t, "variants")
		skus := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) shop.SKUKey {
			return shop.SKUKey{
				ID:        fmt.Sprint("s", rapid.IntRange(0, 12).Draw(t, "sku id")),
				ProductID: fmt.Sprint("p", rapid.IntRange(0, 3).Draw(t, "product")),
				SellerSKU: sku.Draw(t, "seller sku"),
			}
		}), 0, 12).Draw(t, "skus")

		vs, ks, counts := shop.LinkCatalog(variants, skus)

		// Every id gets exactly one link, and nothing else does.
		for _, v := range variants {
			if _, ok := vs[v.ID]; !ok {
				t.Fatalf("variant %s has no link", v.ID)
			}
		}
		for _, k := range skus {
			if _, ok := ks[k.ID]; !ok {
				t.Fatalf("SKU %s has no link", k.ID)
			}
		}
		variantRows, skuRows := map[string]int{}, map[string]int{}
		for _, v := range variants {
			variantRows[v.ID]++
		}
		for _, k := range skus {
			skuRows[k.ID]++
		}
		if len(vs) != len(variantRows) || len(ks) != len(skuRows) {
			t.Fatalf("%d variant links for %d variants, %d SKU links for %d SKUs", len(vs), len(variantRows), len(ks), len(skuRows))
		}

		// Every link is mutual, and joins a variant and a SKU of one
		// seller SKU that no other row has.
		sellerOf := func(id string) string {
			for _, k := range skus {
				if k.ID == id {
					return k.SellerSKU
				}
			}
			return ""
		}
		rowsWith := func(s string) (n int) {
			for _, v := range variants {
				if v.SKU == s {
					n++
				}
			}
			for _, k := range skus {
				if k.SellerSKU == s {
					n++
				}
			}
			return n
		}
		linkedV, linkedS := 0, 0
		for id, l := range vs {
			if l.Status != shop.LinkLinked {
				if l.Reason == "" {
					t.Fatalf("variant %s is %s without a reason", id, l.Status)
				}
				continue
			}
			linkedV++
			back := ks[l.SKUID]
			if back.Status != shop.LinkLinked || back.VariantID != id {
				t.Fatalf("variant %s links to SKU %s, which links to %+v", id, l.SKUID, back)
			}
			s := sellerOf(l.SKUID)
			if s == "" || rowsWith(s) != 2 || variantRows[id] != 1 || skuRows[l.SKUID] != 1 {
				t.Fatalf("variant %s linked to SKU %s through seller SKU %q held by %d rows", id, l.SKUID, s, rowsWith(s))
			}
		}
		for id, l := range ks {
			if l.Status != shop.LinkLinked {
				if l.Reason == "" {
					t.Fatalf("SKU %s is %s without a reason", id, l.Status)
				}
				continue
			}
			linkedS++
			if back := vs[l.VariantID]; back.Status != shop.LinkLinked || back.SKUID != id {
				t.Fatalf("SKU %s links to variant %s, which links to %+v", id, l.VariantID, back)
			}
		}

		// A seller SKU in conflict links nothing: none of its rows is
		// linked.
		conflicting := map[string]bool{}
		for _, v := range variants {
			if vs[v.ID].Status == shop.LinkConflict && v.SKU != "" {
				conflicting[v.SKU] = true
			}
		}
		for _, k := range skus {
			if ks[k.ID].Status == shop.LinkConflict && k.SellerSKU != "" {
				conflicting[k.SellerSKU] = true
			}
		}
		for _, v := range variants {
			if conflicting[v.SKU] && vs[v.ID].Status == shop.LinkLinked {
				t.Fatalf("variant %s is linked through conflicting SKU %q", v.ID, v.SKU)
			}
		}
		for _, k := range skus {
			if conflicting[k.SellerSKU] && ks[k.ID].Status == shop.LinkLinked {
				t.Fatalf("SKU %s is linked through conflicting seller SKU %q", k.ID, k.SellerSKU)
			}
		}

		// The counts agree with the links.
		want := shop.LinkCounts{Linked: linkedV, Conflicts: len(conflicting)}
		for _, l := range vs {
			if l.Status == shop.LinkUnmatched {
				want.UnmatchedVariants++
			}
		}
		for _, l := range ks {
			if l.Status == shop.LinkUnmatched {
				want.UnmatchedSKUs++
			}
		}
		if linkedS != linkedV || counts != want {
			t.Fatalf("counts %+v, links say %+v (%d SKUs linked)", counts, want, linkedS)
		}
	})
}
