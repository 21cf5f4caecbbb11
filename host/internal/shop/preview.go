package shop

import (
	"context"
	"fmt"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// PreviewSide is an item's result under one set of settings.
type PreviewSide struct {
	Quantities compute.Quantities `json:"quantities,omitzero"`
	Error      *compute.ItemError `json:"error,omitempty"`
}

// PreviewItem is an item's result under the current and the proposed
// settings.
type PreviewItem struct {
	ID string `json:"id"`
	// SKU is the variant's SKU in a catalog preview.
	SKU      string      `json:"sku,omitempty"`
	Current  PreviewSide `json:"current"`
	Proposed PreviewSide `json:"proposed"`
	Changed  bool        `json:"changed"`
}

// UnitsDelta is what a change does to one warehouse over every item whose
// quantities both settings compute.
type UnitsDelta struct {
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
}

// PreviewSummary counts what a change does.
type PreviewSummary struct {
	Items   int `json:"items"`
	Changed int `json:"changed"`
	// Failed counts items with an error instead of quantities.
	Failed struct {
		Current  int `json:"current"`
		Proposed int `json:"proposed"`
	} `json:"failed"`
	Warehouses map[string]*UnitsDelta `json:"warehouses"`
}

// Preview puts the results of the current and the proposed settings side
// by side.
type Preview struct {
	Items    []PreviewItem  `json:"items"`
	Summary  PreviewSummary `json:"summary"`
	Warnings struct {
		Current  []compute.Warning `json:"current"`
		Proposed []compute.Warning `json:"proposed"`
	} `json:"warnings"`
}

// Preview computes items under the shop's current settings and under
// proposed ones, which need not be valid to be stored yet: what is wrong
// with them is an error at its place in proposed. A shop with nothing to
// compute with yet (no settings, no default warehouse) previews its first
// settings: each item's current side is a no_settings error.
func (s *Service) Preview(ctx context.Context, p auth.Principal, id string, proposed *compute.Settings, items []compute.Item) (*Preview, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, err
	}
	if proposed == nil {
		return nil, invalid(compute.FieldError{Field: "/settings", Detail: "is required: the proposed settings ({} for the defaults)"})
	}
	sh, current, stored, err := s.state(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.previewItems(ctx, sh, current, stored, proposed, items)
}

// previewItems computes items under both settings and compares them.
func (s *Service) previewItems(ctx context.Context, sh Shop, current *compute.Settings, stored bool, proposed *compute.Settings, items []compute.Item) (*Preview, error) {
	id := sh.ID
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// Proposed first: the caller's errors, items or settings, are reported
	// at their place in the body before anything about the stored settings.
	req := computeRequest(sh)
	req.Settings, req.Items = proposed, items
	next, err := s.compute.Compute(ctx, req, compute.Options{Tenant: shopTenant(id)})
	if err != nil {
		return nil, err
	}
	if unsettled(sh, stored) {
		return comparePreview(noneComputed(next), next)
	}
	req = computeRequest(sh)
	req.Settings, req.Items = current, items
	now, err := s.compute.Compute(ctx, req, compute.Options{Tenant: shopTenant(id)})
	if err != nil {
		return nil, storedBroken(err)
	}
	return comparePreview(now, next)
}

// noneComputed is the current side of an unsettled shop's preview: the
// items of proposed, each with a no_settings error.
func noneComputed(proposed *compute.Response) *compute.Response {
	out := &compute.Response{Items: make([]compute.ItemResult, len(proposed.Items))}
	for i, it := range proposed.Items {
		out.Items[i] = compute.ItemResult{ID: it.ID, Error: &compute.ItemError{Rule: compute.DefaultRuleName, Code: "no_settings",
			Detail: "the shop has no settings and no default warehouse: nothing is computed"}}
	}
	return out
}

// comparePreview puts two results for the same items side by side.
func comparePreview(current, proposed *compute.Response) (*Preview, error) {
	if len(current.Items) != len(proposed.Items) {
		return nil, fmt.Errorf("preview: %d current results for %d proposed", len(current.Items), len(proposed.Items))
	}
	out := &Preview{Items: make([]PreviewItem, len(current.Items))}
	out.Summary.Items = len(current.Items)
	out.Summary.Warehouses = map[string]*UnitsDelta{}
	out.Warnings.Current, out.Warnings.Proposed = current.Warnings, proposed.Warnings
	if out.Warnings.Current == nil {
		out.Warnings.Current = []compute.Warning{}
	}
	if out.Warnings.Proposed == nil {
		out.Warnings.Proposed = []compute.Warning{}
	}
	for i := range current.Items {
		cur, prop := current.Items[i], proposed.Items[i]
		it := PreviewItem{ID: cur.ID,
			Current:  PreviewSide{Quantities: cur.Quantities, Error: cur.Error},
			Proposed: PreviewSide{Quantities: prop.Quantities, Error: prop.Error}}
		if cur.Error != nil {
			out.Summary.Failed.Current++
		}
		if prop.Error != nil {
			out.Summary.Failed.Proposed++
		}
		switch {
		case cur.Error != nil || prop.Error != nil:
			it.Changed = (cur.Error == nil) != (prop.Error == nil) ||
				(cur.Error != nil && *cur.Error != *prop.Error)
		default:
			for wh, q := range prop.Quantities.All() {
				before, _ := cur.Quantities.Get(wh)
				d := out.Summary.Warehouses[wh]
				if d == nil {
					d = &UnitsDelta{}
					out.Summary.Warehouses[wh] = d
				}
				switch diff := int64(q) - int64(before); {
				case diff > 0:
					d.Added += diff
					it.Changed = true
				case diff < 0:
					d.Removed -= diff
					it.Changed = true
				}
			}
		}
		if it.Changed {
			out.Summary.Changed++
		}
		out.Items[i] = it
	}
	return out, nil
}
