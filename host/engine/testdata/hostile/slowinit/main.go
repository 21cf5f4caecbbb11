// Command slowinit is a rule whose package initialisation computes for a
// while (about 60 ms in a worker; ten times that in process, under
// wazero's deadline checks), as a rule that builds big tables does, and that
// writes past the end of its memory, a trap, for a batch holding an item
// "hostile". Other batches get the identity rule.
package main

import (
	"unsafe"

	"github.com/syncrules/syncrules/sdk"
)

var (
	table [1 << 16]uint64
	far   uintptr = 0xfff0_0000
)

func init() {
	x := uint64(1)
	for i := range 300 {
		for j := range table {
			x = x*6364136223846793005 + uint64(i^j)
			table[j] ^= x
		}
	}
	sdk.Register(sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			if it.ID() == "hostile" {
				*(*uint64)(unsafe.Pointer(far)) = table[0]
			}
		}
		return nil
	}))
}

func main() {}
