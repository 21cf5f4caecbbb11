// Package abi is the contract between the syncrules host and a rule module
// compiled to WebAssembly. It imports only the standard library, so the host
// and the guest SDK can both depend on it without pulling in either side.
//
// A rule module is a WASI (wasip1) reactor. Besides "_initialize", which the
// host calls once per instance, it exports three functions:
//
//	syncrules_abi_version() -> i32
//	syncrules_input(size i32) -> i32
//	syncrules_compute(size i32) -> i64
//
// One computation is two calls on the same instance:
//
//	host                                   guest
//	 |  ptr = syncrules_input(len(in))  ->  |  (re)uses a buffer of >= len(in) bytes
//	 |  write in at ptr                     |
//	 |  r = syncrules_compute(len(in))  ->  |  reads the batch in place, runs the rule,
//	 |                                      |  writes the result to its output buffer
//	 |  read out at r>>32, length r&0xffffffff
//
// The host may skip syncrules_input when a buffer it got earlier from the same
// instance is large enough: the guest keeps it until the next syncrules_input.
//
// Both buffers are little-endian, with fixed-size records the guest reads and
// writes in place: no per-item allocation, no reflection and no JSON on the
// per-item path. The input layout is described on [InputHeaderSize], the output
// layout on [OutputHeaderSize]. Strings (ids, SKUs, tags) live in a string
// table and are referenced by (offset, length) pairs relative to it.
//
// # Worked example
//
// One item "v-1", tracked, with 100 available at location "A" and 200 at "B",
// both locations mapped with "*" to the only warehouse "alpha", at 80%:
//
//	header     magic "SRIN", version 1, flags 0, items 1, locations 2,
//	           warehouses 1, mappings 1, percentage 8000 bp, max 999999, tags 0
//	locations  {id "A" active} {id "B" active}            2 x 12 bytes
//	warehouses {id "alpha" active default}                1 x 12 bytes
//	mappings   {location 0xffffffff (= *), warehouse 0}    1 x 8 bytes
//	items      {flags tracked, id "v-1", product "", sku "", tags 0+0}  40 bytes
//	available  [100 200]                                   item-major, 2 x int32
//	quantities [0]                                         item-major, 1 x int32
//	strings    "ABalphav-1"
//
// The default rule answers with one quantity: floor((100+200) x 8000 / 10000) = 240.
//
//	header     magic "SROU", version 1, status 0, items 1, warehouses 1
//	quantities [240]
package abi

// Version is the ABI version this package describes. A module exports it from
// syncrules_abi_version; the host refuses modules whose version it does not
// support.
const Version uint32 = 1

// Names of the functions a rule module exports.
const (
	// ExportABIVersion returns the ABI version the module was built for.
	//
	//	syncrules_abi_version() -> (version i32)
	ExportABIVersion = "syncrules_abi_version"

	// ExportInput returns the address of a guest buffer of at least size
	// bytes that the host fills with the encoded batch. It returns 0 when the
	// guest cannot allocate it. The buffer stays valid, and keeps its
	// capacity, until the next call to syncrules_input.
	//
	//	syncrules_input(size i32) -> (ptr i32)
	ExportInput = "syncrules_input"

	// ExportCompute runs the rule on the first size bytes of the input buffer
	// and returns the output buffer's address in the high 32 bits and its
	// length in the low 32 bits. The output stays valid until the next call
	// into the instance. A rule that fails reports it in the output (see
	// [StatusError]); a trap means the instance is unusable.
	//
	//	syncrules_compute(size i32) -> (ptr<<32 | len i64)
	ExportCompute = "syncrules_compute"

	// ExportInitialize is the WASI reactor initialiser the host calls once
	// per instance before anything else.
	ExportInitialize = "_initialize"
)

// ValType is a WebAssembly value type, as encoded in the binary format.
type ValType byte

// The value types the exports use.
const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

// Signature is a function's parameter and result types.
type Signature struct {
	Params, Results []ValType
}

// Exports lists every function a rule module must export, with its
// signature. The host checks them before it instantiates a module.
var Exports = map[string]Signature{
	ExportABIVersion: {Results: []ValType{I32}},
	ExportInput:      {Params: []ValType{I32}, Results: []ValType{I32}},
	ExportCompute:    {Params: []ValType{I32}, Results: []ValType{I64}},
	ExportInitialize: {},
}

// AllLocations is the location index of a mapping whose source is "*":
// every active location.
const AllLocations uint32 = 0xffffffff

// NoWarehouse is the warehouse index of a note about a whole item.
const NoWarehouse uint32 = 0xffffffff

// PackResult packs an output address and length into the result of
// syncrules_compute.
func PackResult(ptr, size uint32) uint64 { return uint64(ptr)<<32 | uint64(size) }

// UnpackResult splits the result of syncrules_compute into the output
// address and length.
func UnpackResult(r uint64) (ptr, size uint32) { return uint32(r >> 32), uint32(r) }
