// Command packsize is a rule plugin that publishes whole packs only: each
// warehouse's quantity is rounded down to a multiple of size. A merchant
// whose TikTok Shop orders ship in cartons of 6 publishes 12 rather than 14,
// since the two loose units cannot be shipped as a carton.
//
// For every item, in each active warehouse:
//
//	q = q - q % size
//
// The rounding applies to untracked and continue-selling items too, so that
// every published quantity is a multiple of size; it takes at most size-1
// units off their max_quantity. Inactive warehouses are left alone.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o packsize.wasm ./plugins/packsize
package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/syncrules/syncrules/sdk"
)

func init() { sdk.Register(sdk.WithParams(Params{}, Compute)) }

func main() {}

// Params are the pack size's params, for example {"size": 6}.
type Params struct {
	// Size is the number of units in a pack. It is required and must be at
	// least 1; 1 changes nothing.
	Size *int64 `json:"size"`
}

// Validate reports what to fix in p.
func (p Params) Validate() error {
	if p.Size == nil {
		return errors.New(`size is required, for example {"size": 6}`)
	}
	if *p.Size < 1 {
		return fmt.Errorf("size must be at least 1, got %d", *p.Size)
	}
	return nil
}

// stackWarehouses is the number of warehouses up to which Compute keeps its
// table on the stack and allocates nothing.
const stackWarehouses = 16

// Compute rounds every quantity of every item of b down to a multiple of
// p.Size, in every active warehouse.
func Compute(b *sdk.Batch, p Params) error {
	var buf [stackWarehouses]bool
	active := activeWarehouses(b, buf[:])
	if b.Explaining() {
		explain(b, active, *p.Size)
	}
	roundDown(b, active, *p.Size)
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

// roundDown sets the quantities. Its loop calls nothing, which keeps it
// cheap in WebAssembly (RATIONALE.md, "Why is the default rule's item loop
// call-free?").
func roundDown(b *sdk.Batch, active []bool, size int64) {
	for i := range b.Len() {
		q := b.Item(i).Quantities()
		for w, a := range active {
			if a {
				q[w] = int32(packs(int64(q[w]), size))
			}
		}
	}
}

// packs is q rounded down to a multiple of size, and at least 0.
func packs(q, size int64) int64 {
	q = max(q, 0)
	return q - q%size
}

// explain records, before roundDown runs, what it will do to each item.
func explain(b *sdk.Batch, active []bool, size int64) {
	for _, it := range b.Items() {
		for w, a := range active {
			if a {
				before := it.Quantity(w)
				it.Explain(w, slog.Int64("before", before), slog.Int64("size", size), slog.Int64("after", packs(before, size)))
			}
		}
	}
}
