// Package rawguest implements the rule ABI by hand, without the SDK, for
// hostile modules that must break the ABI itself. It behaves like an
// identity rule (every quantity stays what the input says) until a batch
// holds an item whose id is Trigger; then it returns what Misbehave returns
// as the result of syncrules_compute.
package rawguest

import (
	"unsafe"

	"github.com/syncrules/syncrules/sdk/abi"
)

// Trigger is the item id that makes the module misbehave.
const Trigger = "hostile"

// Misbehave returns the result of syncrules_compute for a batch that holds
// the trigger; good is the output a well-behaved module would return.
var Misbehave func(in *abi.Input, good []byte) uint64

var (
	input []byte
	out   abi.OutputBuilder
)

// Result packs b's address and length as syncrules_compute returns them.
func Result(b []byte) uint64 { return abi.PackResult(Addr(b), uint32(len(b))) }

// Addr returns the address of b's first byte in the guest's memory.
func Addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

//go:wasmexport syncrules_abi_version
func abiVersion() uint32 { return abi.Version }

//go:wasmexport syncrules_input
func inputBuffer(size uint32) uint32 {
	if uint32(cap(input)) < size || cap(input) == 0 {
		input = make([]byte, max(size, 1))
	}
	input = input[:cap(input)]
	return Addr(input)
}

//go:wasmexport syncrules_compute
func compute(size uint32) uint64 {
	in, err := abi.ParseInput(input[:size])
	if err != nil {
		return Result(out.Fail(err.Error()))
	}
	c := in.Counts()
	out.Reset(c.Items, c.Warehouses, in.Quantities())
	good := out.Bytes()
	for i := range c.Items {
		if in.ItemID(i) == Trigger && Misbehave != nil {
			return Misbehave(in, good)
		}
	}
	return Result(good)
}
