// Command buffer is a rule plugin that holds back a few units of stock in
// every TikTok Shop warehouse, so that an order placed on TikTok Shop or in
// the Shopify store between two syncs does not oversell the last units.
//
// For each item that Shopify tracks and does not sell when out of stock, in
// each active warehouse w:
//
//	q = max(0, q - units(w))
//
// where units(w) is params.warehouses[id of w] when the warehouse is listed
// there, and params.units otherwise. Untracked and continue-selling items,
// which the default rule gives max_quantity, are left alone: there is no
// real stock to protect. Inactive warehouses are left alone.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o buffer.wasm ./plugins/buffer
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/syncrules/syncrules/sdk"
)

func init() { sdk.Register(sdk.WithParams(Params{}, Compute)) }

func main() {}

// Params are the buffer's params, for example
//
//	{"units": 2, "warehouses": {"7310431234567890123": 5}}
type Params struct {
	// Units is the number of units to hold back in every warehouse. It is
	// required and must be at least 0.
	Units *int64 `json:"units"`
	// Warehouses overrides Units for the warehouses it names, by TikTok
	// Shop warehouse id (compared exactly). An id the shop does not have is
	// ignored: warehouses come and go, and params that name a closed one
	// should not start failing every sync.
	Warehouses map[string]int64 `json:"warehouses"`
}

// Validate reports what to fix in p.
func (p Params) Validate() error {
	if p.Units == nil {
		return errors.New(`units is required, for example {"units": 2}`)
	}
	if *p.Units < 0 {
		return fmt.Errorf("units must be at least 0, got %d", *p.Units)
	}
	for _, id := range slices.Sorted(maps.Keys(p.Warehouses)) {
		if id == "" {
			return errors.New("warehouses: a warehouse id must not be empty")
		}
		if n := p.Warehouses[id]; n < 0 {
			return fmt.Errorf("warehouses: units for %q must be at least 0, got %d", id, n)
		}
	}
	return nil
}

// stackWarehouses is the number of warehouses up to which Compute keeps its
// table on the stack and allocates nothing.
const stackWarehouses = 16

// Compute holds back units in every active warehouse of every tracked item
// of b that does not continue selling.
func Compute(b *sdk.Batch, p Params) error {
	// units[w] is what to hold back in warehouse w; -1 marks an inactive
	// warehouse, which the rule leaves alone. It is read once per batch so
	// that the item loop makes no calls.
	var unitsA [stackWarehouses]int64
	units := unitsA[:0]
	if nw := b.NumWarehouses(); nw > len(unitsA) {
		units = make([]int64, 0, nw)
	}
	for w := range b.NumWarehouses() {
		n := int64(-1)
		if b.WarehouseActive(w) {
			n = *p.Units
			if len(p.Warehouses) > 0 {
				if u, ok := p.Warehouses[b.Warehouse(w).ID]; ok {
					n = u
				}
			}
		}
		units = append(units, n)
	}
	if b.Explaining() {
		explain(b, units)
	}
	holdBack(b, units)
	return nil
}

// holdBack sets the quantities. Its loop calls nothing, which keeps it cheap
// in WebAssembly (RATIONALE.md, "Why is the default rule's item loop
// call-free?").
func holdBack(b *sdk.Batch, units []int64) {
	for i := range b.Len() {
		it := b.Item(i)
		if !it.Tracked() || it.ContinueSelling() {
			continue
		}
		q := it.Quantities()
		for w, n := range units {
			if n >= 0 {
				q[w] = int32(held(int64(q[w]), n))
			}
		}
	}
}

// held is what is left of q after holding back n units.
func held(q, n int64) int64 { return max(0, q-n) }

// explain records, before holdBack runs, what it will do to each item.
func explain(b *sdk.Batch, units []int64) {
	for _, it := range b.Items() {
		if !it.Tracked() || it.ContinueSelling() {
			it.Explain(-1, slog.String("unchanged", unlimitedReason(it)))
			continue
		}
		for w, n := range units {
			if n < 0 {
				continue
			}
			before := it.Quantity(w)
			it.Explain(w, slog.Int64("before", before), slog.Int64("units", n), slog.Int64("after", held(before, n)))
		}
	}
}

// unlimitedReason says why the default rule gave it max_quantity.
func unlimitedReason(it sdk.Item) string {
	if !it.Tracked() {
		return "untracked"
	}
	return "continue_selling"
}
