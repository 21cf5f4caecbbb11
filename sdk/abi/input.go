package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// InputHeaderSize is the size of the input header. The input buffer is:
//
//	+--------------------------------------+ 0
//	| header (96 bytes, below)             |
//	+--------------------------------------+ LocationsOffset
//	| locations   L x 12  {id, flags}      |
//	+--------------------------------------+ WarehousesOffset
//	| warehouses  W x 12  {id, flags}      |
//	+--------------------------------------+ MappingsOffset
//	| mappings    M x 8   {location, wh}   |
//	+--------------------------------------+ ItemsOffset
//	| items       N x 40  (ItemRecordSize) |
//	+--------------------------------------+ TagsOffset
//	| tags        T x 8   {string ref}     |
//	+--------------------------------------+ AvailableOffset
//	| available   N x L x int32, by item   |
//	+--------------------------------------+ QuantitiesOffset
//	| quantities  N x W x int32, by item   |
//	+--------------------------------------+ ParamsOffset
//	| params      the rule's JSON params   |
//	+--------------------------------------+ StringsOffset
//	| strings     UTF-8 bytes              |
//	+--------------------------------------+
//
// Every section starts at a multiple of 8. A string reference is two uint32:
// offset into the string table, then length. The header, all uint32:
//
//	 0 magic "SRIN"     4 version           8 flags (FlagExplain)
//	12 items N         16 locations L      20 warehouses W
//	24 mappings M      28 tags T           32 percentage, basis points 0..10000
//	36 max quantity    40 locations off    44 warehouses off
//	48 mappings off    52 items off        56 tags off
//	60 available off   64 quantities off   68 params off
//	72 params len      76 strings off      80 strings len
//	84..96 reserved, zero
//
// Records:
//
//	location  0 id off   4 id len   8 flags (LocationActive)
//	warehouse 0 id off   4 id len   8 flags (WarehouseActive, WarehouseDefault)
//	mapping   0 location index, or AllLocations   4 warehouse index
//	item      0 flags (ItemTracked, ItemContinueSelling)
//	          4 id off      8 id len     12 product id off  16 product id len
//	         20 sku off    24 sku len    28 first tag       32 tag count
//	         36 reserved, zero
//	tag       0 off  4 len
const InputHeaderSize = 96

// Record sizes of the input sections.
const (
	LocationRecordSize  = 12
	WarehouseRecordSize = 12
	MappingRecordSize   = 8
	ItemRecordSize      = 40
	TagRecordSize       = 8
)

// InputMagic opens every input buffer ("SRIN", little-endian).
const InputMagic uint32 = 'S' | 'R'<<8 | 'I'<<16 | 'N'<<24

// Input header flags.
const (
	// FlagExplain asks the rule to explain its result with notes.
	FlagExplain uint32 = 1 << 0
)

// Location, warehouse and item flags.
const (
	LocationActive      uint32 = 1 << 0
	WarehouseActive     uint32 = 1 << 0
	WarehouseDefault    uint32 = 1 << 1
	ItemTracked         uint32 = 1 << 0
	ItemContinueSelling uint32 = 1 << 1
)

// MaxPercentage is 100% in basis points.
const MaxPercentage = 10000

// ErrMalformedInput is the error a guest reports for an input buffer that
// does not follow the layout. A host that encodes with [InputBuilder] never
// causes it.
var ErrMalformedInput = errors.New("abi: malformed input")

// InputCounts are the sizes of an input's sections.
type InputCounts struct {
	Items, Locations, Warehouses, Mappings, Tags int
}

// Settings are the shop-wide settings carried in the input header.
type Settings struct {
	// Percentage is the share of stock to publish in basis points:
	// 10000 is 100%, 3333 is 33.33%.
	Percentage uint32
	// MaxQuantity caps every published quantity.
	MaxQuantity uint32
	// Flags holds input header flags such as FlagExplain.
	Flags uint32
}

type inputLayout struct {
	locations, warehouses, mappings, items, tags, available, quantities, params, strings int
}

func align8(n int) int { return (n + 7) &^ 7 }

func layoutFor(c InputCounts, paramsLen int) inputLayout {
	var l inputLayout
	off := InputHeaderSize
	next := func(size int) int { at := off; off = align8(off + size); return at }
	l.locations = next(c.Locations * LocationRecordSize)
	l.warehouses = next(c.Warehouses * WarehouseRecordSize)
	l.mappings = next(c.Mappings * MappingRecordSize)
	l.items = next(c.Items * ItemRecordSize)
	l.tags = next(c.Tags * TagRecordSize)
	l.available = next(c.Items * c.Locations * 4)
	l.quantities = next(c.Items * c.Warehouses * 4)
	l.params = next(paramsLen)
	l.strings = off
	return l
}

// InputBuilder encodes a batch into the input layout. Set every record by
// index, then call Bytes. Strings are appended to the string table as they
// are set; the fixed sections are sized from the counts given to
// NewInputBuilder and start zeroed.
type InputBuilder struct {
	buf    []byte
	counts InputCounts
	layout inputLayout
	tagAt  int
}

// NewInputBuilder starts an input with the given section sizes, settings and
// params, reusing dst's storage when it is large enough. stringsHint is the
// expected size of the string table.
func NewInputBuilder(dst []byte, c InputCounts, s Settings, params []byte, stringsHint int) *InputBuilder {
	l := layoutFor(c, len(params))
	size := l.strings
	if cap(dst) < size+stringsHint {
		dst = make([]byte, size, size+stringsHint)
	} else {
		dst = dst[:size]
		clear(dst)
	}
	b := &InputBuilder{buf: dst, counts: c, layout: l}
	put := func(off int, v uint32) { binary.LittleEndian.PutUint32(dst[off:], v) }
	put(0, InputMagic)
	put(4, Version)
	put(8, s.Flags)
	put(12, uint32(c.Items))
	put(16, uint32(c.Locations))
	put(20, uint32(c.Warehouses))
	put(24, uint32(c.Mappings))
	put(28, uint32(c.Tags))
	put(32, s.Percentage)
	put(36, s.MaxQuantity)
	put(40, uint32(l.locations))
	put(44, uint32(l.warehouses))
	put(48, uint32(l.mappings))
	put(52, uint32(l.items))
	put(56, uint32(l.tags))
	put(60, uint32(l.available))
	put(64, uint32(l.quantities))
	put(68, uint32(l.params))
	put(72, uint32(len(params)))
	put(76, uint32(l.strings))
	copy(dst[l.params:], params)
	return b
}

func (b *InputBuilder) put(off int, v uint32) { binary.LittleEndian.PutUint32(b.buf[off:], v) }

func (b *InputBuilder) putString(off int, s string) {
	b.put(off, uint32(len(b.buf)-b.layout.strings))
	b.put(off+4, uint32(len(s)))
	b.buf = append(b.buf, s...)
}

// SetLocation sets location i.
func (b *InputBuilder) SetLocation(i int, id string, flags uint32) {
	off := b.layout.locations + i*LocationRecordSize
	b.putString(off, id)
	b.put(off+8, flags)
}

// SetWarehouse sets warehouse i.
func (b *InputBuilder) SetWarehouse(i int, id string, flags uint32) {
	off := b.layout.warehouses + i*WarehouseRecordSize
	b.putString(off, id)
	b.put(off+8, flags)
}

// SetMapping sets mapping i: location (or AllLocations) feeds warehouse.
func (b *InputBuilder) SetMapping(i int, location, warehouse uint32) {
	off := b.layout.mappings + i*MappingRecordSize
	b.put(off, location)
	b.put(off+4, warehouse)
}

// SetItem sets item i. Items must be set in order, because their tags are
// appended to the tag section as they come.
func (b *InputBuilder) SetItem(i int, flags uint32, id, productID, sku string, tags []string) {
	off := b.layout.items + i*ItemRecordSize
	b.put(off, flags)
	b.putString(off+4, id)
	b.putString(off+12, productID)
	b.putString(off+20, sku)
	b.put(off+28, uint32(b.tagAt))
	b.put(off+32, uint32(len(tags)))
	for _, t := range tags {
		b.putString(b.layout.tags+b.tagAt*TagRecordSize, t)
		b.tagAt++
	}
}

// SetAvailable sets the available stock of item i at location l.
func (b *InputBuilder) SetAvailable(i, l int, v int32) {
	b.put(b.layout.available+(i*b.counts.Locations+l)*4, uint32(v))
}

// SetQuantity sets the quantity so far of item i in warehouse w.
func (b *InputBuilder) SetQuantity(i, w int, q int32) {
	b.put(b.layout.quantities+(i*b.counts.Warehouses+w)*4, uint32(q))
}

// Bytes finishes the input and returns it. The builder must not be used after.
func (b *InputBuilder) Bytes() []byte {
	b.put(80, uint32(len(b.buf)-b.layout.strings))
	return b.buf
}

// Input is a read-only view of an encoded batch. Its accessors read the
// buffer in place and allocate nothing; strings alias the buffer and are
// valid only as long as it is.
type Input struct {
	buf                          []byte
	settings                     Settings
	items, locations, warehouses int
	mappings, tags               int
	// Sections are spans of buf rather than slices: storing a slice costs a
	// write barrier, which Go's WebAssembly code pays for on every call. The
	// item records, read once per item, stay a slice.
	locs, whs, maps, tagRecs, params, strtab span
	recs                                     []byte
	// The int32 tables, viewed in place (or converted into the own tables,
	// on a big-endian machine or an unaligned buffer).
	available, quantities       []int32
	ownAvailable, ownQuantities []int32
}

// ParseInput checks buf against the input layout and returns a view of it.
func ParseInput(buf []byte) (*Input, error) {
	in := new(Input)
	return in, in.Reset(buf)
}

// maxCount bounds every count in a header, so section sizes cannot
// overflow: no section of a 4 GiB buffer holds more records.
const maxCount = 1 << 28

// Reset makes in a view of buf, reusing in's storage. It runs on every call
// of a rule, and Go's WebAssembly code pays for every branch, so the common
// path leaves bounds to Go's own slice checks and builds a message only when
// one fails.
func (in *Input) Reset(buf []byte) (err error) {
	defer func() {
		if recover() != nil {
			err = in.malformed(buf)
		}
	}()
	buf = buf[:len(buf):len(buf)] // slicing may reach cap: never read past len
	h := buf[:InputHeaderSize:InputHeaderSize]
	u := func(off int) uint64 { return uint64(binary.LittleEndian.Uint32(h[off:])) }
	n, l, w, m, t := u(12), u(16), u(20), u(24), u(28)
	if u(0) != uint64(InputMagic) || u(4) != uint64(Version) || u(32) > MaxPercentage || max(n, l, w, m, t) >= maxCount {
		return in.malformed(buf)
	}
	sec := func(at int, size uint64) span {
		off := u(at)
		if off < InputHeaderSize || off+size > uint64(len(buf)) {
			panic(ErrMalformedInput)
		}
		return span{int(off), int(off + size)}
	}
	keep(&in.buf, buf)
	in.settings = Settings{Flags: uint32(u(8)), Percentage: uint32(u(32)), MaxQuantity: uint32(u(36))}
	in.items, in.locations, in.warehouses, in.mappings, in.tags = int(n), int(l), int(w), int(m), int(t)
	in.locs = sec(40, l*LocationRecordSize)
	in.whs = sec(44, w*WarehouseRecordSize)
	in.maps = sec(48, m*MappingRecordSize)
	keep(&in.recs, in.bytes(sec(52, n*ItemRecordSize)))
	in.tagRecs = sec(56, t*TagRecordSize)
	available, quantities := in.bytes(sec(60, n*l*4)), in.bytes(sec(64, n*w*4))
	if v, ok := int32View(available); ok {
		keep(&in.available, v)
	} else {
		in.ownAvailable = decodeInt32s(in.ownAvailable, available)
		in.available = in.ownAvailable
	}
	if v, ok := int32View(quantities); ok {
		keep(&in.quantities, v)
	} else {
		in.ownQuantities = decodeInt32s(in.ownQuantities, quantities)
		in.quantities = in.ownQuantities
	}
	in.params = sec(68, u(72))
	in.strtab = sec(76, u(80))
	maps := in.bytes(in.maps)
	for k := 0; k+MappingRecordSize <= len(maps); k += MappingRecordSize {
		loc, wh := binary.LittleEndian.Uint32(maps[k:]), binary.LittleEndian.Uint32(maps[k+4:])
		if (loc != AllLocations && uint64(loc) >= l) || uint64(wh) >= w {
			return in.malformed(buf)
		}
	}
	return nil
}

// malformed explains what is wrong with buf, and leaves in empty.
func (in *Input) malformed(buf []byte) error {
	*in = Input{ownAvailable: in.ownAvailable, ownQuantities: in.ownQuantities}
	if len(buf) < InputHeaderSize {
		return fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformedInput, len(buf), InputHeaderSize)
	}
	u := func(off int) uint32 { return binary.LittleEndian.Uint32(buf[off:]) }
	switch {
	case u(0) != InputMagic:
		return fmt.Errorf("%w: bad magic %#x", ErrMalformedInput, u(0))
	case u(4) != Version:
		return fmt.Errorf("%w: version %d, this module speaks %d", ErrMalformedInput, u(4), Version)
	case u(32) > MaxPercentage:
		return fmt.Errorf("%w: percentage %d basis points is over %d", ErrMalformedInput, u(32), MaxPercentage)
	}
	for i, name := range []string{"items", "locations", "warehouses", "mappings", "tags"} {
		if c := u(12 + 4*i); c >= maxCount {
			return fmt.Errorf("%w: %d %s is over the limit of %d", ErrMalformedInput, c, name, maxCount)
		}
	}
	names := [...]string{"locations", "warehouses", "mappings", "items", "tags", "available", "quantities", "params", "strings"}
	offsets := [...]int{40, 44, 48, 52, 56, 60, 64, 68, 76}
	for i, name := range names {
		if off := u(offsets[i]); off < InputHeaderSize || uint64(off) > uint64(len(buf)) {
			return fmt.Errorf("%w: the %s section at offset %d is outside %d bytes", ErrMalformedInput, name, off, len(buf))
		}
	}
	for k := range int(u(24)) {
		at := int(u(48)) + k*MappingRecordSize
		if at+MappingRecordSize > len(buf) {
			break
		}
		if loc, wh := u(at), u(at+4); (loc != AllLocations && loc >= u(16)) || wh >= u(20) {
			return fmt.Errorf("%w: mapping %d (location %d, warehouse %d) is out of range", ErrMalformedInput, k, loc, wh)
		}
	}
	return fmt.Errorf("%w: a section does not fit in %d bytes", ErrMalformedInput, len(buf))
}

// Settings returns the shop-wide settings.
func (in *Input) Settings() Settings { return in.settings }

// Counts returns the sizes of the input's sections.
func (in *Input) Counts() InputCounts {
	return InputCounts{Items: in.items, Locations: in.locations, Warehouses: in.warehouses, Mappings: in.mappings, Tags: in.tags}
}

// Params returns the rule's params, as JSON, or nil when there are none.
func (in *Input) Params() []byte {
	if in.params.end == in.params.off {
		return nil
	}
	return in.bytes(in.params)
}

// span is a section of the buffer: buf[off:end].
type span struct{ off, end int }

// bytes returns a section's bytes.
func (in *Input) bytes(s span) []byte { return in.buf[s.off:s.end:s.end] }

// u32 reads the uint32 at off in a section; off outside it panics.
func (in *Input) u32(s span, off int) uint32 {
	return binary.LittleEndian.Uint32(in.buf[s.off:s.end][off:])
}

// str resolves a string reference. A reference outside the string table
// panics with an index error, like any out-of-range slice.
func (in *Input) str(s span, off int) string {
	return in.strAt(in.buf[s.off:s.end][off:])
}

// recStr resolves the string reference at off in item i's record.
func (in *Input) recStr(i, off int) string {
	return in.strAt(in.recs[i*ItemRecordSize:][off:ItemRecordSize])
}

func (in *Input) strAt(ref []byte) string {
	b := in.bytes(in.strtab)[binary.LittleEndian.Uint32(ref):][:binary.LittleEndian.Uint32(ref[4:])]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Location returns location l's id and flags.
func (in *Input) Location(l int) (id string, flags uint32) {
	off := l * LocationRecordSize
	return in.str(in.locs, off), in.u32(in.locs, off+8)
}

// Warehouse returns warehouse w's id and flags.
func (in *Input) Warehouse(w int) (id string, flags uint32) {
	off := w * WarehouseRecordSize
	return in.str(in.whs, off), in.u32(in.whs, off+8)
}

// LocationFlags returns location l's flags.
func (in *Input) LocationFlags(l int) uint32 { return in.u32(in.locs, l*LocationRecordSize+8) }

// WarehouseFlags returns warehouse w's flags.
func (in *Input) WarehouseFlags(w int) uint32 { return in.u32(in.whs, w*WarehouseRecordSize+8) }

// Mapping returns mapping m: its location index (or AllLocations) and
// warehouse index, both checked to be in range by Reset.
func (in *Input) Mapping(m int) (location, warehouse uint32) {
	off := m * MappingRecordSize
	return in.u32(in.maps, off), in.u32(in.maps, off+4)
}

// ItemFlags returns item i's flags.
func (in *Input) ItemFlags(i int) uint32 {
	return binary.LittleEndian.Uint32(in.recs[i*ItemRecordSize:])
}

// ItemID returns item i's id. Like every string accessor, it panics with an
// index error if the record points outside the string table, which an input
// built by InputBuilder never does.
func (in *Input) ItemID(i int) string { return in.recStr(i, 4) }

// ItemProductID returns item i's product id.
func (in *Input) ItemProductID(i int) string { return in.recStr(i, 12) }

// ItemSKU returns item i's SKU.
func (in *Input) ItemSKU(i int) string { return in.recStr(i, 20) }

// ItemTags returns the index of item i's first tag and its number of tags,
// clipped to the tag section.
func (in *Input) ItemTags(i int) (first, count int) {
	rec := in.recs[i*ItemRecordSize:][:ItemRecordSize]
	f, c := uint64(binary.LittleEndian.Uint32(rec[28:])), uint64(binary.LittleEndian.Uint32(rec[32:]))
	if f > uint64(in.tags) {
		return 0, 0
	}
	return int(f), int(min(c, uint64(in.tags)-f))
}

// Tag returns tag t of the tag section.
func (in *Input) Tag(t int) string { return in.str(in.tagRecs, t*TagRecordSize) }

// keep stores v in *dst unless *dst is already v. Reset runs on every call
// of a rule, and in Go's WebAssembly code each store of a slice pays a
// write-barrier check; with the same buffer and shape, nothing is stored.
func keep[T any](dst *[]T, v []T) {
	if unsafe.SliceData(*dst) != unsafe.SliceData(v) || len(*dst) != len(v) || cap(*dst) != cap(v) {
		*dst = v
	}
}

// Available returns the available stock of item i at location l.
func (in *Input) Available(i, l int) int32 { return in.available[i*in.locations+l] }

// AvailableRow returns item i's available stock at every location.
func (in *Input) AvailableRow(i int) []int32 {
	return in.available[i*in.locations : (i+1)*in.locations]
}

// Quantities returns the quantities so far of every item, item-major.
func (in *Input) Quantities() []int32 { return in.quantities }

// InputItems returns the item count of an encoded input without checking
// the rest of it, or false when buf is too short or not an input. Hosts use
// it to size a call's deadline.
func InputItems(buf []byte) (int, bool) {
	if len(buf) < InputHeaderSize || binary.LittleEndian.Uint32(buf) != InputMagic {
		return 0, false
	}
	return int(binary.LittleEndian.Uint32(buf[12:])), true
}
