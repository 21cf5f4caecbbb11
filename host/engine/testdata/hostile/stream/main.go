// Command stream is a rule that, for a batch holding an item "hostile",
// writes to stdout without end. With an item "burst" it writes 32 MiB and
// then returns. Other batches get the identity rule.
package main

import (
	"os"

	"github.com/syncrules/syncrules/sdk"
)

var chunk = make([]byte, 64<<10)

func init() {
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			switch it.ID() {
			case "hostile":
				for {
					os.Stdout.Write(chunk)
				}
			case "burst":
				for range (32 << 20) / len(chunk) {
					os.Stdout.Write(chunk)
				}
			}
		}
		return nil
	}))
}

func main() {}
