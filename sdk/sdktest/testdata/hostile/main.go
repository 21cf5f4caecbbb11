// Command hostile is a rule that publishes every batch unchanged but for
// two kinds of item: for an item "spin" it never returns, and for an item
// "hoard" it allocates 128 MiB at once, more than the server's 64 MiB (many
// small allocations would hit the deadline first, as the collector works
// ever harder near the limit). The tests check that sdktest.Check stops
// both at the server's limits, as the server would.
package main

import "github.com/syncrules/syncrules/sdk"

var (
	spins uint64
	hoard [][]byte
)

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			switch it.ID() {
			case "spin":
				for {
					spins++
				}
			case "hoard":
				hoard = append(hoard, make([]byte, 128<<20))
			}
		}
		return nil
	}))
}

func main() {}
