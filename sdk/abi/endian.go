package abi

import (
	"encoding/binary"
	"unsafe"
)

// littleEndian reports whether this machine stores integers little-endian,
// as wasm always does. Then an aligned int32 table is read and written in
// place through an []int32 view; otherwise it is converted.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// int32View returns b as []int32 without copying when the machine is
// little-endian and b is 4-aligned; ok is false otherwise.
func int32View(b []byte) (v []int32, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if !littleEndian || uintptr(p)%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*int32)(p), len(b)/4), true
}

// decodeInt32s converts a little-endian table into dst's storage.
func decodeInt32s(dst []int32, b []byte) []int32 {
	n := len(b) / 4
	if cap(dst) < n {
		dst = make([]int32, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = int32(binary.LittleEndian.Uint32(b[i*4:]))
	}
	return dst
}

// encodeInt32s writes v into b little-endian.
func encodeInt32s(b []byte, v []int32) {
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[i*4:], uint32(x))
	}
}
