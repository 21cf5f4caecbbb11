// Command oom is a rule that, for a batch holding an item "hostile",
// allocates memory and keeps it until the Go runtime cannot grow its linear
// memory any more. With an item "chatty-hostile" it first writes 8 KiB of
// log lines, more than the host keeps of a call's output, and then does the
// same. Other batches get the identity rule.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/syncrules/syncrules/sdk"
)

var hoard [][]byte

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			switch it.ID() {
			case "chatty-hostile":
				line := strings.Repeat("x", 63) + "\n"
				for range 128 {
					fmt.Fprint(os.Stderr, line)
				}
				fallthrough
			case "hostile":
				for {
					hoard = append(hoard, make([]byte, 1<<20))
				}
			}
		}
		return nil
	}))
}

func main() {}
