// Command recursion is a rule that, for a batch holding an item "hostile",
// recurses without end. Other batches get the identity rule.
package main

import "github.com/syncrules/syncrules/sdk"

// depth is global so the compiler keeps every frame.
var depth int

//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	depth = n
	return recurse(n+1) + int(pad[(n+1)%64])
}

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			if it.ID() == "hostile" {
				recurse(0)
			}
		}
		return nil
	}))
}

func main() {}
