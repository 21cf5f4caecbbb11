// Command badoutput returns an output that lies outside its memory.
package main

import (
	"unsafe"

	"github.com/syncrules/syncrules/sdk/abi"
)

func main() {}

var buf = make([]byte, 1<<16)

//go:wasmexport syncrules_abi_version
func abiVersion() uint32 { return abi.Version }

//go:wasmexport syncrules_input
func input(size uint32) uint32 {
	if int(size) > len(buf) {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
}

//go:wasmexport syncrules_compute
func compute(size uint32) uint64 { return abi.PackResult(0xfffffff0, 1<<20) }
