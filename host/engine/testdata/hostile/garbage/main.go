// Command garbage is a module that, for a batch holding an item "hostile",
// returns 4 KiB of pseudo-random bytes instead of an output.
package main

import (
	"github.com/syncrules/syncrules/host/engine/testdata/hostile/rawguest"
	"github.com/syncrules/syncrules/sdk/abi"
)

var junk = make([]byte, 4096)

func init() {
	rawguest.Misbehave = func(*abi.Input, []byte) uint64 {
		x := uint32(2463534242)
		for i := range junk {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			junk[i] = byte(x)
		}
		return rawguest.Result(junk)
	}
}

func main() {}
