// Command badabi is a module that speaks an ABI version no host supports.
package main

func main() {}

//go:wasmexport syncrules_abi_version
func abiVersion() uint32 { return 99 }

//go:wasmexport syncrules_input
func input(size uint32) uint32 { return 0 }

//go:wasmexport syncrules_compute
func compute(size uint32) uint64 { return 0 }
