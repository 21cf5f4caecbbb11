// Command trap is a rule module whose compute export panics outside the
// SDK's recovery, so the Go runtime aborts: a trap for the host.
package main

import "github.com/syncrules/syncrules/sdk/abi"

func main() {}

var buf = make([]byte, 1<<16)

//go:wasmexport syncrules_abi_version
func abiVersion() uint32 { return abi.Version }

//go:wasmexport syncrules_input
func input(size uint32) uint32 {
	if int(size) > len(buf) {
		return 0
	}
	return uint32(uintptrOf(buf))
}

//go:wasmexport syncrules_compute
func compute(size uint32) uint64 { panic("boom from the guest") }
