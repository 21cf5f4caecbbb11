// Command oob is a rule that, for a batch holding an item "hostile", writes
// through a pointer far past the end of its linear memory: a trap that no
// Go recover can catch. Other batches get the identity rule.
package main

import (
	"unsafe"

	"github.com/syncrules/syncrules/sdk"
)

// far is a variable so the compiler cannot see the address.
var far uintptr = 0xfff0_0000

func init() {
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			if it.ID() == "hostile" {
				p := (*uint64)(unsafe.Pointer(far))
				*p = 42
			}
		}
		return nil
	}))
}

func main() {}
