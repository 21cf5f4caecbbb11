//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"

	"github.com/syncrules/syncrules/sdk/abi"
)

// The module's exports, as package abi names them. They live here so that a
// rule author writes only the rule.

var (
	runner *Runner
	input  []byte
	calls  uint64
)

// Yield policy of syncrules_compute; see RATIONALE.md, "Why yield every
// sixteenth call?".
const (
	yieldEvery       = 16
	yieldAlwaysBytes = 64 << 10
)

//go:wasmexport syncrules_abi_version
func exportABIVersion() uint32 { return abi.Version }

//go:wasmexport syncrules_input
func exportInput(size uint32) uint32 {
	if uint32(cap(input)) < size {
		input = make([]byte, size)
	}
	input = input[:cap(input)]
	if len(input) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

//go:wasmexport syncrules_compute
func exportCompute(size uint32) uint64 {
	if runner == nil {
		runner = NewRunner(registered)
	}
	var out []byte
	switch {
	case registered == nil:
		out = runner.out.Fail("no rule registered: call sdk.Register from an init function of package main")
	case size > uint32(len(input)):
		out = runner.out.Fail("input size exceeds the buffer from syncrules_input")
	default:
		out = runner.Run(input[:size])
	}
	// Yield now and then so the Go scheduler runs the garbage collector's
	// background work: without it a reactor's heap grows call after call.
	// A yield costs about 1 µs, so small batches share one.
	calls++
	if calls%yieldEvery == 0 || size >= yieldAlwaysBytes {
		runtime.Gosched()
	}
	return abi.PackResult(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out)))), uint32(len(out)))
}
