// Command holdback is the rule of README.md, "Writing a rule": it publishes
// a number of units fewer than the rules before it. Build it with
//
//	bin/syncrules rule build -o bin/holdback.wasm ./examples/holdback
package main

import "github.com/syncrules/syncrules/sdk"

type Params struct {
	Units int64 `json:"units"`
}

func init() { sdk.Register(sdk.WithParams(Params{Units: 2}, holdBack)) }

func main() {}

// holdBack publishes p.Units fewer than the rules before it.
func holdBack(b *sdk.Batch, p Params) error {
	for _, it := range b.Items() {
		for w := range b.NumWarehouses() {
			if b.WarehouseActive(w) {
				it.SetQuantity(w, max(0, it.Quantity(w)-p.Units))
			}
		}
	}
	return nil
}
