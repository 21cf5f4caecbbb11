// Command loop is a rule that never returns once a batch has an item whose
// id is "loop": the host must stop it at the deadline.
package main

import "github.com/syncrules/syncrules/sdk"

var spins uint64

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			if it.ID() == "loop" {
				for {
					spins++
				}
			}
			for w := range b.NumWarehouses() {
				it.SetQuantity(w, 1)
			}
		}
		return nil
	}))
}

func main() {}
