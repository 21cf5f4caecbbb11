// Command outside is a module that, for a batch holding an item "hostile",
// returns an output address and length that reach past the end of its
// linear memory.
package main

import (
	"github.com/syncrules/syncrules/host/engine/testdata/hostile/rawguest"
	"github.com/syncrules/syncrules/sdk/abi"
)

func init() {
	rawguest.Misbehave = func(_ *abi.Input, good []byte) uint64 {
		return abi.PackResult(0xffff_0000, uint32(len(good)))
	}
}

func main() {}
