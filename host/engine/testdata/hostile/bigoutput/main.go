// Command bigoutput is a module that, for a batch holding an item "hostile",
// returns an output of 2 MiB: a valid output padded with zeros, larger than
// the host allows.
package main

import (
	"github.com/syncrules/syncrules/host/engine/testdata/hostile/rawguest"
	"github.com/syncrules/syncrules/sdk/abi"
)

var big []byte

func init() {
	rawguest.Misbehave = func(_ *abi.Input, good []byte) uint64 {
		if big == nil {
			big = make([]byte, 2<<20)
		}
		copy(big, good)
		return rawguest.Result(big)
	}
}

func main() {}
