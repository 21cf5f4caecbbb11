package shop

import (
	"cmp"
	"context"
	"slices"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shopify"
)

// PreviewTop is how many items a catalog preview lists: those that change
// most.
const PreviewTop = 20

// previewPageSize is how many variants a catalog preview reads and
// computes at once: it holds one page, whatever the catalog's size.
var previewPageSize = 500

// PreviewCatalog is Preview over the shop's whole imported catalog, as the
// sync would compute it: every variant with its stock at the shop's
// locations as last imported. Its summary counts every variant; its items
// are the PreviewTop that change most, most first (SKU included). The
// catalog is read and computed a page at a time, so memory stays flat
// however large it is; a shop with no catalog (not connected yet) previews
// no items, and the proposed settings are still checked.
func (s *Service) PreviewCatalog(ctx context.Context, p auth.Principal, id string, proposed *compute.Settings) (*Preview, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, err
	}
	if proposed == nil {
		return nil, invalid(compute.FieldError{Field: "/settings", Detail: "is required: the proposed settings ({} for the defaults)"})
	}
	// One reading of the settings for every page: the preview compares
	// two fixed sets of settings, while the catalog may move under it.
	sh, current, stored, err := s.state(ctx, id)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(sh.Locations))
	for _, l := range sh.Locations {
		known[l.ID] = true
	}
	total := newPreviewTotal()
	for after, first := "", true; ; first = false {
		page, err := s.store.VariantsAfter(ctx, id, "", after, previewPageSize)
		if err != nil {
			return nil, storeError(id, err)
		}
		if len(page) == 0 && !first {
			break
		}
		items := make([]compute.Item, len(page))
		for i, v := range page {
			items[i] = catalogItem(v, known)
		}
		// The first page is computed even when empty: it checks the
		// proposed settings.
		out, err := s.previewItems(ctx, sh, current, stored, proposed, items)
		if err != nil {
			return nil, err
		}
		for i := range out.Items {
			out.Items[i].SKU = page[i].SKU
		}
		total.add(out)
		if len(page) < previewPageSize {
			break
		}
		after = page[len(page)-1].ID
	}
	return total.result(), nil
}

// catalogItem is the compute item of an imported variant, as the sync
// builds it; stock at a location the shop no longer has is left out, as
// the sync leaves it out of the shop's locations.
func catalogItem(v Variant, known map[string]bool) compute.Item {
	in := syncInput{VariantID: v.ID, Available: make(map[string]int, len(v.Available)), Tracked: v.Tracked,
		ContinueSelling: v.InventoryPolicy == string(shopify.PolicyContinue), ProductID: v.ProductID, SKU: v.SKU, Tags: v.Tags}
	for loc, n := range v.Available {
		if known[loc] {
			in.Available[loc] = n
		}
	}
	return in.item(v.ID)
}

// previewTotal adds up the pages of a catalog preview.
type previewTotal struct {
	out *Preview
	// top are the items that change most so far, most first, with the
	// size of their change.
	top   []rankedItem
	warns map[[2]string]bool // code and field of the warnings kept
}

type rankedItem struct {
	item PreviewItem
	size int64
}

func newPreviewTotal() *previewTotal {
	t := &previewTotal{out: &Preview{Items: []PreviewItem{}}, warns: map[[2]string]bool{}}
	t.out.Summary.Warehouses = map[string]*UnitsDelta{}
	t.out.Warnings.Current, t.out.Warnings.Proposed = []compute.Warning{}, []compute.Warning{}
	return t
}

func (t *previewTotal) add(page *Preview) {
	sum := &t.out.Summary
	sum.Items += page.Summary.Items
	sum.Changed += page.Summary.Changed
	sum.Failed.Current += page.Summary.Failed.Current
	sum.Failed.Proposed += page.Summary.Failed.Proposed
	for wh, d := range page.Summary.Warehouses {
		if sum.Warehouses[wh] == nil {
			sum.Warehouses[wh] = &UnitsDelta{}
		}
		sum.Warehouses[wh].Added += d.Added
		sum.Warehouses[wh].Removed += d.Removed
	}
	// Each page words a warning with its own counts: the first page that
	// raises one is kept, once.
	t.out.Warnings.Current = t.keepWarnings("current", t.out.Warnings.Current, page.Warnings.Current)
	t.out.Warnings.Proposed = t.keepWarnings("proposed", t.out.Warnings.Proposed, page.Warnings.Proposed)
	for _, it := range page.Items {
		if it.Changed {
			t.top = append(t.top, rankedItem{it, changeSize(it)})
		}
	}
	slices.SortFunc(t.top, func(a, b rankedItem) int {
		return cmp.Or(cmp.Compare(b.size, a.size), cmp.Compare(a.item.ID, b.item.ID))
	})
	t.top = slices.Clip(t.top[:min(len(t.top), PreviewTop)])
}

func (t *previewTotal) keepWarnings(side string, kept, page []compute.Warning) []compute.Warning {
	for _, w := range page {
		k := [2]string{side + "\x00" + w.Code, w.Field}
		if !t.warns[k] {
			t.warns[k] = true
			kept = append(kept, w)
		}
	}
	return kept
}

func (t *previewTotal) result() *Preview {
	for _, r := range t.top {
		t.out.Items = append(t.out.Items, r.item)
	}
	return t.out
}

// changeSize is how many units an item's change moves: the sum over the
// warehouses of the difference, or, for an item that fails one way only,
// what the other way publishes.
func changeSize(it PreviewItem) int64 {
	var n int64
	switch {
	case it.Current.Error == nil && it.Proposed.Error == nil:
		for wh, q := range it.Proposed.Quantities.All() {
			before, _ := it.Current.Quantities.Get(wh)
			n += max(int64(q)-int64(before), int64(before)-int64(q))
		}
	case it.Current.Error == nil:
		for _, q := range it.Current.Quantities.All() {
			n += int64(q)
		}
	case it.Proposed.Error == nil:
		for _, q := range it.Proposed.Quantities.All() {
			n += int64(q)
		}
	}
	return n
}
