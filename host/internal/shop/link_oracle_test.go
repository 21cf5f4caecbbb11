package shop

// LinkCatalog links a whole catalog in memory, by the rule stated in
// link.go, and returns every variant's and SKU's link by id with the
// counts. It is the oracle linkStored, which the service runs a page at a
// time, must agree with (TestLinkStoredAgreesWithLinkCatalog); nothing but
// the tests calls it. Unlike the store, its input may list an id twice: a
// conflict in each of its seller SKUs.
func LinkCatalog(variants []VariantKey, skus []SKUKey) (map[string]Link, map[string]Link, LinkCounts) {
	type group struct {
		variants []string // variant ids, one per row
		skus     []SKUKey
	}
	groups := map[string]*group{}
	groupOf := func(sku string) *group {
		g := groups[sku]
		if g == nil {
			g = &group{}
			groups[sku] = g
		}
		return g
	}
	variantRows := map[string]int{}
	for _, v := range variants {
		variantRows[v.ID]++
		if v.SKU != "" {
			g := groupOf(v.SKU)
			g.variants = append(g.variants, v.ID)
		}
	}
	skuRows := map[string]int{}
	for _, k := range skus {
		skuRows[k.ID]++
		if k.SellerSKU != "" {
			g := groupOf(k.SellerSKU)
			g.skus = append(g.skus, k)
		}
	}

	vlinks := make(map[string]Link, len(variantRows))
	slinks := make(map[string]Link, len(skuRows))
	var counts LinkCounts
	// A conflict overrides whatever else an id listed twice got.
	setV := func(id string, l Link) {
		if old, ok := vlinks[id]; !ok || old.Status != LinkConflict {
			vlinks[id] = l
		}
	}
	setS := func(id string, l Link) {
		if old, ok := slinks[id]; !ok || old.Status != LinkConflict {
			slinks[id] = l
		}
	}
	for _, v := range variants {
		if v.SKU == "" {
			setV(v.ID, Link{Status: LinkUnmatched, Reason: reasonNoSKU})
		}
	}
	for _, k := range skus {
		if k.SellerSKU == "" {
			setS(k.ID, Link{Status: LinkUnmatched, Reason: reasonNoSellerSKU})
		}
	}

	for sku, g := range groups {
		if linkGroup(sku, g.variants, g.skus, variantRows, skuRows, setV, setS) {
			counts.Conflicts++
		}
	}

	for _, l := range vlinks {
		switch l.Status {
		case LinkLinked:
			counts.Linked++
		case LinkUnmatched:
			counts.UnmatchedVariants++
		}
	}
	for _, l := range slinks {
		if l.Status == LinkUnmatched {
			counts.UnmatchedSKUs++
		}
	}
	return vlinks, slinks, counts
}
