// Command badsig exports syncrules_compute with the wrong result type.
package main

func main() {}

//go:wasmexport syncrules_abi_version
func abiVersion() uint32 { return 1 }

//go:wasmexport syncrules_input
func input(size uint32) uint32 { return 0 }

//go:wasmexport syncrules_compute
func compute(size uint32) uint32 { return 0 }
