// Command cap is a rule plugin that publishes at most max units to each
// TikTok Shop warehouse. It keeps a large stock from showing on TikTok Shop
// in full, and gives made-to-order and continue-selling products, which the
// default rule publishes as max_quantity (999,999), a believable number.
//
// For every item, in each active warehouse:
//
//	q = min(q, max)
//
// The cap applies to untracked and continue-selling items too: they are the
// ones it matters most for. Inactive warehouses are left alone.
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o cap.wasm ./plugins/cap
package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/syncrules/syncrules/sdk"
)

func init() { sdk.Register(sdk.WithParams(Params{}, Compute)) }

func main() {}

// Params are the cap's params, for example {"max": 50}.
type Params struct {
	// Max is the most any warehouse is given. It is required and must be
	// at least 0; 0 publishes nothing.
	Max *int64 `json:"max"`
}

// Validate reports what to fix in p.
func (p Params) Validate() error {
	if p.Max == nil {
		return errors.New(`max is required, for example {"max": 50}`)
	}
	if *p.Max < 0 {
		return fmt.Errorf("max must be at least 0, got %d", *p.Max)
	}
	return nil
}

// stackWarehouses is the number of warehouses up to which Compute keeps its
// table on the stack and allocates nothing.
const stackWarehouses = 16

// Compute lowers to p.Max every quantity above it, for every item of b, in
// every active warehouse.
func Compute(b *sdk.Batch, p Params) error {
	var buf [stackWarehouses]bool
	active := activeWarehouses(b, buf[:])
	if b.Explaining() {
		explain(b, active, *p.Max)
	}
	limit(b, active, *p.Max)
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

// limit sets the quantities. Its loop calls nothing, which keeps it cheap in
// WebAssembly (RATIONALE.md, "Why is the default rule's item loop
// call-free?").
func limit(b *sdk.Batch, active []bool, n int64) {
	for i := range b.Len() {
		q := b.Item(i).Quantities()
		for w, a := range active {
			if a {
				q[w] = int32(capped(int64(q[w]), n))
			}
		}
	}
}

// capped is q, at most n and at least 0.
func capped(q, n int64) int64 { return min(max(q, 0), n) }

// explain records, before limit runs, what it will do to each item.
func explain(b *sdk.Batch, active []bool, n int64) {
	for _, it := range b.Items() {
		for w, a := range active {
			if a {
				before := it.Quantity(w)
				it.Explain(w, slog.Int64("before", before), slog.Int64("max", n), slog.Int64("after", capped(before, n)))
			}
		}
	}
}
