package abi_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/sdk/abi"
)

func TestPackResult(t *testing.T) {
	// The address is in the high 32 bits, the length in the low ones.
	if got, want := abi.PackResult(0x10, 0x44), uint64(0x10_0000_0044); got != want {
		t.Errorf("PackResult(0x10, 0x44) = %#x, want %#x", got, want)
	}
	rapid.Check(t, func(t *rapid.T) {
		ptr, size := rapid.Uint32().Draw(t, "ptr"), rapid.Uint32().Draw(t, "size")
		if p, s := abi.UnpackResult(abi.PackResult(ptr, size)); p != ptr || s != size {
			t.Fatalf("UnpackResult(PackResult(%d, %d)) = %d, %d", ptr, size, p, s)
		}
	})
}
