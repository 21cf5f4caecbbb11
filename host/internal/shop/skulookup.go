package shop

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// skuLookupBatch is how many catalog keys one read of VariantsWithSKU
// takes: a seller SKU is on one variant, or on a few in a conflict.
const skuLookupBatch = 64

// VariantsWithSKU returns at most limit of the shop's imported variants
// whose seller SKU is sku ("" is the variants without one), with the
// status given ("": all), whose ids sort after after, and whether more
// follow. It reads the catalog in seller SKU order, so a lookup costs what
// the SKU's own variants cost, however large the catalog: the merchant's
// page finds "why this number" by the SKU a merchant knows.
func (s *Service) VariantsWithSKU(ctx context.Context, p auth.Principal, id, sku string, status LinkStatus, after string, limit int) ([]Variant, bool, error) {
	if err := CheckShop(p, id); err != nil {
		return nil, false, err
	}
	if err := checkLinkStatus(status); err != nil {
		return nil, false, err
	}
	if !utf8.ValidString(sku) || strings.IndexByte(sku, 0) >= 0 {
		return nil, false, &Error{Code: Invalid, Message: "The SKU filter is not text.",
			Fields: []compute.FieldError{{Field: "sku", Detail: "must be UTF-8 text without NUL"}}}
	}
	limit = pageSize(limit, DefaultPageSize, MaxPageSize)
	var out []Variant
	from := VariantKey{SKU: sku, ID: after}
	for {
		keys, err := s.store.VariantKeys(ctx, id, from, skuLookupBatch)
		if err != nil {
			return nil, false, storeError(id, err)
		}
		for _, k := range keys {
			if k.SKU != sku {
				return out, false, nil
			}
			v, found, err := s.store.CatalogVariant(ctx, id, k.ID)
			if err != nil {
				return nil, false, storeError(id, err)
			}
			if !found || (status != "" && v.Link.Status != status) {
				continue // pruned meanwhile, or filtered out
			}
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, v)
		}
		if len(keys) < skuLookupBatch {
			return out, false, nil
		}
		from = keys[len(keys)-1]
	}
}
