package shop

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Linking: a variant and a TikTok SKU are linked when the variant's SKU is
// the SKU's seller SKU and no other variant or TikTok SKU has it. A seller
// SKU on two variants, on two TikTok products, or on two SKUs of one
// TikTok product is a conflict: it links nothing, and each of its
// variants and SKUs says why, naming the others. A variant or SKU without
// a partner, or without a SKU at all, is unmatched. SKUs are compared
// exactly, as TikTok and Shopify store them: "ab-1" and "AB-1 " are
// different SKUs.

// Reasons of the unmatched.
const (
	reasonNoSKU       = "the variant has no SKU"
	reasonNoSellerSKU = "the TikTok SKU has no seller SKU"
)

// maxNamed bounds the ids a conflict's reason names: a SKU on a thousand
// variants must not make every one of their rows a page long.
const maxNamed = 5

// linkGroup links the variants and the TikTok SKUs of one seller SKU,
// other than "", through setV and setS, and reports a conflict.
// variantRows and skuRows count the rows of each id, to tell an id listed
// twice; nil when each id has one row, as in the store.
func linkGroup(sku string, variants []string, skus []SKUKey, variantRows, skuRows map[string]int,
	setV, setS func(id string, l Link)) (conflict bool) {
	var reasons []string
	if len(variants) > 1 {
		reasons = append(reasons, fmt.Sprintf("SKU %q is on %d variants: %s", sku, len(variants), nameSome(variants)))
	}
	products := make([]string, 0, len(skus))
	ids := make([]string, 0, len(skus))
	for _, k := range skus {
		ids = append(ids, k.ID)
		if !slices.Contains(products, k.ProductID) {
			products = append(products, k.ProductID)
		}
	}
	switch {
	case len(products) > 1:
		reasons = append(reasons, fmt.Sprintf("seller SKU %q is on %d TikTok products: %s", sku, len(products), nameSome(products)))
	case len(skus) > 1:
		reasons = append(reasons, fmt.Sprintf("seller SKU %q is on %d SKUs of TikTok product %s: %s", sku, len(skus), products[0], nameSome(ids)))
	}
	reasons = append(reasons, listedTwice("variant", variants, variantRows)...)
	reasons = append(reasons, listedTwice("TikTok SKU", ids, skuRows)...)

	switch {
	case len(reasons) > 0:
		l := Link{Status: LinkConflict, Reason: strings.Join(reasons, "; ")}
		for _, id := range variants {
			setV(id, l)
		}
		for _, k := range skus {
			setS(k.ID, l)
		}
		return true
	case len(variants) == 1 && len(skus) == 1:
		v, k := variants[0], skus[0]
		setV(v, Link{Status: LinkLinked, SKUID: k.ID, TikTokProductID: k.ProductID})
		setS(k.ID, Link{Status: LinkLinked, VariantID: v})
	case len(variants) == 1:
		setV(variants[0], Link{Status: LinkUnmatched, Reason: fmt.Sprintf("no TikTok SKU has seller SKU %q", sku)})
	default:
		setS(skus[0].ID, Link{Status: LinkUnmatched, Reason: fmt.Sprintf("no Shopify variant has SKU %q", sku)})
	}
	return false
}

// listedTwice says which of ids are listed more than once on their side,
// each once.
func listedTwice(what string, ids []string, rows map[string]int) []string {
	if rows == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if rows[id] > 1 && !seen[id] {
			seen[id] = true
			out = append(out, fmt.Sprintf("%s %s is listed %d times", what, id, rows[id]))
		}
	}
	return out
}

// nameSome lists ids in order (numbers by value: platform ids are
// decimal), at most maxNamed of them.
func nameSome(ids []string) string {
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	if len(sorted) <= maxNamed {
		return strings.Join(sorted, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(sorted[:maxNamed], ", "), len(sorted)-maxNamed)
}

// linkPage is how many keys of each side linking reads at once, and how
// many links it writes at once.
const linkPage = 1000

// keyReader pages through one side of a stored catalog in seller SKU
// order.
type keyReader[K any] struct {
	read func(after K) ([]K, error)
	sku  func(K) string
	page []K
	last K
	done bool
}

// peek is the next key's seller SKU; false at the end.
func (r *keyReader[K]) peek() (string, bool, error) {
	if len(r.page) == 0 && !r.done {
		page, err := r.read(r.last)
		if err != nil {
			return "", false, err
		}
		if len(page) == 0 {
			r.done = true
		} else {
			r.page, r.last = page, page[len(page)-1]
		}
	}
	if len(r.page) == 0 {
		return "", false, nil
	}
	return r.sku(r.page[0]), true, nil
}

// take returns the keys of seller SKU sku, which may span pages.
func (r *keyReader[K]) take(sku string) ([]K, error) {
	var out []K
	for {
		next, ok, err := r.peek()
		if err != nil || !ok || next != sku {
			return out, err
		}
		out = append(out, r.page[0])
		r.page = r.page[1:]
	}
}

// linkStored links a stored catalog by the rule above: it reads both sides a
// page at a time in seller SKU order, links each seller SKU's group as it
// completes and writes the links a page at a time, so that it holds a
// page and the largest group, whatever the catalog's size. progress sees
// the rows linked so far.
func linkStored(ctx context.Context, st CatalogStore, shop string, page int, progress func(done int64)) (LinkCounts, error) {
	variants := &keyReader[VariantKey]{
		read: func(after VariantKey) ([]VariantKey, error) { return st.VariantKeys(ctx, shop, after, page) },
		sku:  func(k VariantKey) string { return k.SKU },
	}
	skus := &keyReader[SKUKey]{
		read: func(after SKUKey) ([]SKUKey, error) { return st.SKUKeys(ctx, shop, after, page) },
		sku:  func(k SKUKey) string { return k.SellerSKU },
	}
	var counts LinkCounts
	var done int64
	vlinks, slinks := map[string]Link{}, map[string]Link{}
	setV := func(id string, l Link) {
		vlinks[id] = l
		switch l.Status {
		case LinkLinked:
			counts.Linked++
		case LinkUnmatched:
			counts.UnmatchedVariants++
		}
	}
	setS := func(id string, l Link) {
		slinks[id] = l
		if l.Status == LinkUnmatched {
			counts.UnmatchedSKUs++
		}
	}
	flush := func() error {
		if err := st.SetLinks(ctx, shop, vlinks, slinks); err != nil {
			return err
		}
		done += int64(len(vlinks) + len(slinks))
		if progress != nil {
			progress(done)
		}
		clear(vlinks)
		clear(slinks)
		return nil
	}
	for {
		vsku, vok, err := variants.peek()
		if err != nil {
			return LinkCounts{}, err
		}
		ssku, sok, err := skus.peek()
		if err != nil {
			return LinkCounts{}, err
		}
		if !vok && !sok {
			break
		}
		sku := vsku
		if !vok || (sok && ssku < vsku) {
			sku = ssku
		}
		vkeys, err := variants.take(sku)
		if err != nil {
			return LinkCounts{}, err
		}
		skeys, err := skus.take(sku)
		if err != nil {
			return LinkCounts{}, err
		}
		if sku == "" {
			for _, v := range vkeys {
				setV(v.ID, Link{Status: LinkUnmatched, Reason: reasonNoSKU})
			}
			for _, k := range skeys {
				setS(k.ID, Link{Status: LinkUnmatched, Reason: reasonNoSellerSKU})
			}
		} else {
			ids := make([]string, len(vkeys))
			for i, v := range vkeys {
				ids[i] = v.ID
			}
			if linkGroup(sku, ids, skeys, nil, nil, setV, setS) {
				counts.Conflicts++
			}
		}
		if len(vlinks)+len(slinks) >= page {
			if err := flush(); err != nil {
				return LinkCounts{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return LinkCounts{}, err
	}
	return counts, nil
}
