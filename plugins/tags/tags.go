// Command tags is a rule plugin for per-product control, which the default
// rule's shop-wide settings cannot give: the merchant tags a product in
// Shopify, and the tag decides what TikTok Shop gets. An item carrying an
// exclude tag publishes 0 in every warehouse; an item carrying a cap tag
// publishes at most that cap in each warehouse.
//
// For every item, in each active warehouse:
//
//	limit = 0                                if the item carries an exclude tag
//	limit = the smallest cap of its cap tags otherwise
//	q     = min(q, limit)                    when some tag matched; q otherwise
//
// When an item matches several tags the smallest limit wins: the plugin never
// publishes more than any one of its tags allows. Tags compare as Shopify
// treats them: surrounding spaces are ignored and case is not significant
// (Unicode case folding, as strings.EqualFold). Untracked and
// continue-selling items are limited too. Inactive warehouses are left alone.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tags.wasm ./plugins/tags
package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/syncrules/syncrules/sdk"
)

func init() { sdk.Register(sdk.WithParams(Params{}, Compute)) }

func main() {}

// Params are the tag overrides, for example
//
//	{"exclude": ["no-tiktok"], "caps": {"limited": 5}}
//
// At least one tag is required, in either field.
type Params struct {
	// Exclude lists the tags whose items publish 0 everywhere.
	Exclude []string `json:"exclude"`
	// Caps gives, by tag, the most an item carrying that tag publishes to
	// each warehouse; a cap must be at least 0.
	Caps map[string]int64 `json:"caps"`

	// caps is Caps trimmed and sorted by cap, then tag, so that the first
	// match is the smallest and the item loop ranges over a slice rather
	// than a map. Validate sets it.
	caps []tagCap
}

// tagCap is a tag of Caps, trimmed, and its cap.
type tagCap struct {
	tag string
	max int64
}

// Validate reports what to fix in p. It also trims the tags and fills
// p.caps: WithParams runs it once per distinct params and hands the rule
// the result, so this work is not repeated per batch.
func (p *Params) Validate() error {
	if len(p.Exclude) == 0 && len(p.Caps) == 0 {
		return errors.New(`name at least one tag, for example {"exclude": ["no-tiktok"]} or {"caps": {"limited": 5}}`)
	}
	for i, tag := range p.Exclude {
		p.Exclude[i] = strings.TrimSpace(tag)
		if p.Exclude[i] == "" {
			return fmt.Errorf("exclude[%d] is empty: give a tag or remove it", i)
		}
	}
	caps := make([]tagCap, 0, len(p.Caps))
	for _, tag := range slices.Sorted(maps.Keys(p.Caps)) {
		n := p.Caps[tag]
		if strings.TrimSpace(tag) == "" {
			return fmt.Errorf("caps: a tag must not be empty, got %q", tag)
		}
		if n < 0 {
			return fmt.Errorf("caps: %q must be at least 0, got %d", tag, n)
		}
		caps = append(caps, tagCap{tag: strings.TrimSpace(tag), max: n})
	}
	slices.SortFunc(caps, func(a, b tagCap) int {
		return cmp.Or(cmp.Compare(a.max, b.max), strings.Compare(a.tag, b.tag))
	})
	p.caps = caps
	return nil
}

// stackWarehouses is the number of warehouses up to which Compute keeps its
// table on the stack and allocates nothing.
const stackWarehouses = 16

// Compute limits every item of b that carries a tag of p, in every active
// warehouse.
func Compute(b *sdk.Batch, p Params) error {
	var buf [stackWarehouses]bool
	active := activeWarehouses(b, buf[:])
	explaining := b.Explaining()
	for i := range b.Len() {
		it := b.Item(i)
		n, by, excluded := p.limit(it)
		if n < 0 {
			continue
		}
		if explaining {
			explain(it, active, n, by, excluded)
		}
		q := it.Quantities()
		for w, a := range active {
			if a {
				q[w] = int32(capped(int64(q[w]), n))
			}
		}
	}
	return nil
}

// activeWarehouses returns which warehouses of b are active, in buf when it
// is large enough.
func activeWarehouses(b *sdk.Batch, buf []bool) []bool {
	active := buf[:0]
	if nw := b.NumWarehouses(); nw > len(buf) {
		active = make([]bool, 0, nw)
	}
	for w := range b.NumWarehouses() {
		active = append(active, b.WarehouseActive(w))
	}
	return active
}

// limit returns the most the item may publish to a warehouse, the tag of p
// that sets it and whether that is an exclude tag; n is -1 when the item
// carries none of p's tags. An exclude tag wins outright; among cap tags the
// smallest cap wins.
func (p *Params) limit(it sdk.Item) (n int64, by string, excluded bool) {
	n = -1
	for tag := range it.Tags() {
		tag = strings.TrimSpace(tag)
		for _, e := range p.Exclude {
			if strings.EqualFold(tag, e) {
				return 0, e, true
			}
		}
		for _, c := range p.caps {
			if n >= 0 && c.max >= n {
				break // p.caps is sorted: no later cap is smaller
			}
			if strings.EqualFold(tag, c.tag) {
				n, by = c.max, c.tag
				break
			}
		}
	}
	return n, by, false
}

// capped is q, at most n and at least 0.
func capped(q, n int64) int64 { return min(max(q, 0), n) }

// explain records, before the quantities change, which tag limits the item
// and what it does to each active warehouse.
func explain(it sdk.Item, active []bool, n int64, by string, excluded bool) {
	if excluded {
		it.Explain(-1, slog.String("excluded_by", by))
	} else {
		it.Explain(-1, slog.String("capped_by", by), slog.Int64("cap", n))
	}
	for w, a := range active {
		if a {
			before := it.Quantity(w)
			it.Explain(w, slog.Int64("before", before), slog.Int64("after", capped(before, n)))
		}
	}
}
