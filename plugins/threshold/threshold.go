// Command threshold is a rule plugin that publishes 0 instead of a small
// quantity: when a warehouse would get fewer than min units, it gets none.
// The last few units of a product are the ones most likely to be sold twice,
// once in the Shopify store and once on TikTok Shop, before the next sync.
//
// For each item that Shopify tracks and does not sell when out of stock, in
// each active warehouse:
//
//	q = 0  if q < min
//	q      otherwise
//
// Untracked and continue-selling items, which the default rule gives
// max_quantity, are left alone: they cannot run out. Inactive warehouses
// are left alone.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o threshold.wasm ./plugins/threshold
package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/syncrules/syncrules/sdk"
)

func init() { sdk.Register(sdk.WithParams(Params{}, Compute)) }

func main() {}

// Params are the threshold's params, for example {"min": 3}.
type Params struct {
	// Min is the smallest quantity worth publishing; anything below it is
	// published as 0. It is required and must be at least 0; 0 and 1
	// change nothing.
	Min *int64 `json:"min"`
}

// Validate reports what to fix in p.
func (p Params) Validate() error {
	if p.Min == nil {
		return errors.New(`min is required, for example {"min": 3}`)
	}
	if *p.Min < 0 {
		return fmt.Errorf("min must be at least 0, got %d", *p.Min)
	}
	return nil
}

// stackWarehouses is the number of warehouses up to which Compute keeps its
// table on the stack and allocates nothing.
const stackWarehouses = 16

// Compute sets to 0 every quantity below p.Min of every tracked item of b
// that does not continue selling, in every active warehouse.
func Compute(b *sdk.Batch, p Params) error {
	var buf [stackWarehouses]bool
	active := activeWarehouses(b, buf[:])
	if b.Explaining() {
		explain(b, active, *p.Min)
	}
	zeroBelow(b, active, *p.Min)
	return nil
}

// activeWarehouses returns which warehouses of b are active, in buf when it
// is large enough. Reading the flags once per batch keeps the item loop free
// of calls.
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

// zeroBelow sets the quantities. Its loop calls nothing, which keeps it
// cheap in WebAssembly (RATIONALE.md, "Why is the default rule's item loop
// call-free?").
func zeroBelow(b *sdk.Batch, active []bool, n int64) {
	for i := range b.Len() {
		it := b.Item(i)
		if !it.Tracked() || it.ContinueSelling() {
			continue
		}
		q := it.Quantities()
		for w, a := range active {
			if a {
				q[w] = int32(threshold(int64(q[w]), n))
			}
		}
	}
}

// threshold is q, or 0 when q is below n (or below 0).
func threshold(q, n int64) int64 {
	if q < n || q < 0 {
		return 0
	}
	return q
}

// explain records, before zeroBelow runs, what it will do to each item.
func explain(b *sdk.Batch, active []bool, n int64) {
	for _, it := range b.Items() {
		if !it.Tracked() || it.ContinueSelling() {
			it.Explain(-1, slog.String("unchanged", unlimitedReason(it)))
			continue
		}
		for w, a := range active {
			if a {
				before := it.Quantity(w)
				it.Explain(w, slog.Int64("before", before), slog.Int64("min", n), slog.Int64("after", threshold(before, n)))
			}
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
