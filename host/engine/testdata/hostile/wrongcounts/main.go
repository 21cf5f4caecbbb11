// Command wrongcounts is a module that, for a batch holding an item
// "hostile", returns a well-formed output for one item more and one
// warehouse more than the batch has.
package main

import (
	"github.com/syncrules/syncrules/host/engine/testdata/hostile/rawguest"
	"github.com/syncrules/syncrules/sdk/abi"
)

var out abi.OutputBuilder

func init() {
	rawguest.Misbehave = func(in *abi.Input, _ []byte) uint64 {
		c := in.Counts()
		out.Reset(c.Items+1, c.Warehouses+1, nil)
		return rawguest.Result(out.Bytes())
	}
}

func main() {}
