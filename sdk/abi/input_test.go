package abi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/sdk/abi"
)

// batch is an input as plain values: what an InputBuilder is given, and so
// what an Input must give back.
type batch struct {
	settings   abi.Settings
	params     []byte
	locations  []record
	warehouses []record
	mappings   [][2]uint32 // location (or AllLocations), warehouse
	items      []item
	available  []int32 // item-major, items x locations
	quantities []int32 // item-major, items x warehouses
}

type record struct {
	id    string
	flags uint32
}

type item struct {
	flags            uint32
	id, product, sku string
	tags             []string
}

func (b batch) counts() abi.InputCounts {
	c := abi.InputCounts{Items: len(b.items), Locations: len(b.locations), Warehouses: len(b.warehouses), Mappings: len(b.mappings)}
	for _, it := range b.items {
		c.Tags += len(it.tags)
	}
	return c
}

// encode encodes b with an InputBuilder, reusing dst's storage.
func (b batch) encode(dst []byte) []byte {
	in := abi.NewInputBuilder(dst, b.counts(), b.settings, b.params, 16)
	for i, l := range b.locations {
		in.SetLocation(i, l.id, l.flags)
	}
	for i, w := range b.warehouses {
		in.SetWarehouse(i, w.id, w.flags)
	}
	for i, m := range b.mappings {
		in.SetMapping(i, m[0], m[1])
	}
	nl, nw := len(b.locations), len(b.warehouses)
	for i, it := range b.items {
		in.SetItem(i, it.flags, it.id, it.product, it.sku, it.tags)
		for l := range nl {
			in.SetAvailable(i, l, b.available[i*nl+l])
		}
		for w := range nw {
			in.SetQuantity(i, w, b.quantities[i*nw+w])
		}
	}
	return in.Bytes()
}

// seedBatch is a small batch with something in every section.
func seedBatch() batch {
	return batch{
		settings:   abi.Settings{Percentage: 8000, MaxQuantity: 999_999, Flags: abi.FlagExplain},
		params:     []byte(`{"keep":2}`),
		locations:  []record{{"A", abi.LocationActive}, {"B", 0}},
		warehouses: []record{{"alpha", abi.WarehouseActive | abi.WarehouseDefault}, {"beta", abi.WarehouseActive}},
		mappings:   [][2]uint32{{abi.AllLocations, 0}, {1, 1}},
		items: []item{
			{abi.ItemTracked, "v-1", "p-1", "SKU-1", []string{"sale", "new"}},
			{abi.ItemContinueSelling, "v-2", "", "", nil},
		},
		available:  []int32{100, -3, 0, math.MaxInt32},
		quantities: []int32{80, 0, math.MinInt32, 7},
	}
}

// fataler is what the checks need from *testing.T and *rapid.T.
type fataler interface {
	Fatalf(format string, args ...any)
}

// checkInput fails unless every accessor of in returns what b set.
func checkInput(t fataler, in *abi.Input, b batch) {
	if got, want := in.Counts(), b.counts(); got != want {
		t.Fatalf("Counts() = %+v, want %+v", got, want)
	}
	if got := in.Settings(); got != b.settings {
		t.Fatalf("Settings() = %+v, want %+v", got, b.settings)
	}
	if got := in.Params(); !bytes.Equal(got, b.params) {
		t.Fatalf("Params() = %q, want %q", got, b.params)
	}
	for l, want := range b.locations {
		if id, flags := in.Location(l); id != want.id || flags != want.flags {
			t.Fatalf("Location(%d) = %q, %#x; want %q, %#x", l, id, flags, want.id, want.flags)
		}
	}
	for w, want := range b.warehouses {
		if id, flags := in.Warehouse(w); id != want.id || flags != want.flags {
			t.Fatalf("Warehouse(%d) = %q, %#x; want %q, %#x", w, id, flags, want.id, want.flags)
		}
	}
	for m, want := range b.mappings {
		if loc, wh := in.Mapping(m); loc != want[0] || wh != want[1] {
			t.Fatalf("Mapping(%d) = %d, %d; want %d, %d", m, loc, wh, want[0], want[1])
		}
	}
	nl := len(b.locations)
	for i, want := range b.items {
		if got := in.ItemFlags(i); got != want.flags {
			t.Fatalf("ItemFlags(%d) = %#x, want %#x", i, got, want.flags)
		}
		if got := in.ItemID(i); got != want.id {
			t.Fatalf("ItemID(%d) = %q, want %q", i, got, want.id)
		}
		if got := in.ItemProductID(i); got != want.product {
			t.Fatalf("ItemProductID(%d) = %q, want %q", i, got, want.product)
		}
		if got := in.ItemSKU(i); got != want.sku {
			t.Fatalf("ItemSKU(%d) = %q, want %q", i, got, want.sku)
		}
		first, n := in.ItemTags(i)
		var tags []string
		for k := first; k < first+n; k++ {
			tags = append(tags, in.Tag(k))
		}
		if !slices.Equal(tags, want.tags) {
			t.Fatalf("item %d has tags %q, want %q", i, tags, want.tags)
		}
		row := b.available[i*nl : (i+1)*nl]
		if got := in.AvailableRow(i); !slices.Equal(got, row) {
			t.Fatalf("AvailableRow(%d) = %v, want %v", i, got, row)
		}
		for l, want := range row {
			if got := in.Available(i, l); got != want {
				t.Fatalf("Available(%d, %d) = %d, want %d", i, l, got, want)
			}
		}
	}
	if got := in.Quantities(); !slices.Equal(got, b.quantities) {
		t.Fatalf("Quantities() = %v, want %v", got, b.quantities)
	}
}

func genBatch(t *rapid.T) batch {
	var b batch
	b.settings = abi.Settings{
		Percentage:  rapid.Uint32Range(0, abi.MaxPercentage).Draw(t, "percentage"),
		MaxQuantity: rapid.Uint32().Draw(t, "max"),
		Flags:       rapid.Uint32().Draw(t, "flags"),
	}
	b.params = rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "params")
	str := rapid.StringN(-1, 12, -1)
	rec := rapid.Custom(func(t *rapid.T) record {
		return record{str.Draw(t, "id"), rapid.Uint32().Draw(t, "flags")}
	})
	b.locations = rapid.SliceOfN(rec, 0, 4).Draw(t, "locations")
	b.warehouses = rapid.SliceOfN(rec, 0, 4).Draw(t, "warehouses")
	if nw := len(b.warehouses); nw > 0 {
		nm := rapid.IntRange(0, 5).Draw(t, "mappings")
		for range nm {
			loc := abi.AllLocations
			if len(b.locations) > 0 && rapid.Bool().Draw(t, "one location") {
				loc = rapid.Uint32Range(0, uint32(len(b.locations)-1)).Draw(t, "location")
			}
			b.mappings = append(b.mappings, [2]uint32{loc, rapid.Uint32Range(0, uint32(nw-1)).Draw(t, "warehouse")})
		}
	}
	b.items = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) item {
		return item{
			flags:   rapid.Uint32().Draw(t, "flags"),
			id:      str.Draw(t, "id"),
			product: str.Draw(t, "product"),
			sku:     str.Draw(t, "sku"),
			tags:    rapid.SliceOfN(str, 0, 3).Draw(t, "tags"),
		}
	}), 0, 5).Draw(t, "items")
	n := len(b.items)
	b.available = rapid.SliceOfN(rapid.Int32(), n*len(b.locations), n*len(b.locations)).Draw(t, "available")
	b.quantities = rapid.SliceOfN(rapid.Int32(), n*len(b.warehouses), n*len(b.warehouses)).Draw(t, "quantities")
	return b
}

// unaligned returns a copy of buf that starts one byte past an 8-byte
// boundary, so that Input cannot view its int32 tables in place.
func unaligned(buf []byte) []byte {
	u := make([]byte, len(buf)+1)[1:]
	copy(u, buf)
	return u
}

func TestInputRoundTrip(t *testing.T) {
	var reused abi.Input
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t)
		// A builder reusing a dirty buffer must encode the same bytes.
		dirty := bytes.Repeat([]byte{0xa5}, rapid.IntRange(0, 1024).Draw(t, "dst cap"))
		buf := b.encode(dirty[:0])
		if fresh := b.encode(nil); !bytes.Equal(buf, fresh) {
			t.Fatalf("encoding into a reused buffer differs from a fresh one")
		}
		in, err := abi.ParseInput(buf)
		if err != nil {
			t.Fatalf("ParseInput: %v", err)
		}
		checkInput(t, in, b)
		// An Input reused across batches, and one whose int32 tables
		// cannot be viewed in place, read the same.
		if err := reused.Reset(buf); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		checkInput(t, &reused, b)
		in, err = abi.ParseInput(unaligned(buf))
		if err != nil {
			t.Fatalf("ParseInput of an unaligned copy: %v", err)
		}
		checkInput(t, in, b)
	})
}

// TestInputWorkedExample encodes the example of the package documentation
// and checks the layout it describes.
func TestInputWorkedExample(t *testing.T) {
	in := abi.NewInputBuilder(nil, abi.InputCounts{Items: 1, Locations: 2, Warehouses: 1, Mappings: 1},
		abi.Settings{Percentage: 8000, MaxQuantity: 999999}, nil, 0)
	in.SetLocation(0, "A", abi.LocationActive)
	in.SetLocation(1, "B", abi.LocationActive)
	in.SetWarehouse(0, "alpha", abi.WarehouseActive|abi.WarehouseDefault)
	in.SetMapping(0, abi.AllLocations, 0)
	in.SetItem(0, abi.ItemTracked, "v-1", "", "", nil)
	in.SetAvailable(0, 0, 100)
	in.SetAvailable(0, 1, 200)
	buf := in.Bytes()

	if got := string(buf[:4]); got != "SRIN" {
		t.Errorf("magic = %q, want SRIN", got)
	}
	// Each section starts at the next multiple of 8 after the one before.
	wantOffsets := []struct {
		name      string
		at, value uint32
	}{
		{"locations", 40, 96},   // right after the header
		{"warehouses", 44, 120}, // 96 + 2x12
		{"mappings", 48, 136},   // 120 + 12 = 132, aligned
		{"items", 52, 144},      // 136 + 8
		{"tags", 56, 184},       // 144 + 40
		{"available", 60, 184},  // no tags
		{"quantities", 64, 192}, // 184 + 2x4
		{"params", 68, 200},     // 192 + 4 = 196, aligned
		{"strings", 76, 200},    // no params
	}
	for _, o := range wantOffsets {
		if got := binary.LittleEndian.Uint32(buf[o.at:]); got != o.value {
			t.Errorf("%s offset = %d, want %d", o.name, got, o.value)
		}
	}
	if got := string(buf[200:]); got != "ABalphav-1" {
		t.Errorf("string table = %q, want %q", got, "ABalphav-1")
	}
	if got := binary.LittleEndian.Uint32(buf[80:]); got != 10 {
		t.Errorf("strings len = %d, want 10", got)
	}
}

// setU32 returns a copy of buf with the uint32 at off set to v.
func setU32(buf []byte, off int, v uint32) []byte {
	buf = slices.Clone(buf)
	binary.LittleEndian.PutUint32(buf[off:], v)
	return buf
}

func TestParseInputRejects(t *testing.T) {
	valid := seedBatch().encode(nil)
	tests := []struct {
		name string
		buf  []byte
	}{
		{"empty", nil},
		// Cut inputs keep their spare capacity, as a reused buffer does:
		// the bytes past len(buf) are not part of the input.
		{"shorter than the header", valid[:abi.InputHeaderSize-1]},
		{"bad magic", setU32(valid, 0, abi.OutputMagic)},
		{"newer version", setU32(valid, 4, abi.Version+1)},
		{"percentage over 100%", setU32(valid, 32, abi.MaxPercentage+1)},
		{"too many items", setU32(valid, 12, 1<<28)},
		{"too many locations", setU32(valid, 16, math.MaxUint32)},
		{"too many warehouses", setU32(valid, 20, 1<<28)},
		{"too many mappings", setU32(valid, 24, 1<<28)},
		{"too many tags", setU32(valid, 28, 1<<28)},
		{"section inside the header", setU32(valid, 40, abi.InputHeaderSize-8)},
		{"section past the end", setU32(valid, 76, uint32(len(valid)+1))},
		{"strings longer than the buffer", setU32(valid, 80, uint32(len(valid)))},
		{"params longer than the buffer", setU32(valid, 72, uint32(len(valid)))},
		{"items section does not fit", setU32(valid, 12, uint32(len(valid)/abi.ItemRecordSize+1))},
		{"cut short", valid[:len(valid)-1]},
		// The seed's first mapping is at the start of the mappings section.
		{"mapping from an unknown location", setU32(valid, int(binary.LittleEndian.Uint32(valid[48:])), 2)},
		{"mapping to an unknown warehouse", setU32(valid, int(binary.LittleEndian.Uint32(valid[48:]))+4, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := abi.ParseInput(tt.buf)
			if !errors.Is(err, abi.ErrMalformedInput) {
				t.Fatalf("ParseInput() error = %v, want ErrMalformedInput", err)
			}
			// A rule that ignores the error sees an empty batch.
			if c := in.Counts(); c != (abi.InputCounts{}) {
				t.Errorf("after the error, Counts() = %+v, want none", c)
			}
		})
	}
}

func TestParseInputAccepts(t *testing.T) {
	tests := []struct {
		name  string
		batch batch
	}{
		{"empty batch", batch{}},
		{"100%", batch{settings: abi.Settings{Percentage: abi.MaxPercentage}}},
		{"* with no locations", batch{warehouses: []record{{"alpha", abi.WarehouseActive}}, mappings: [][2]uint32{{abi.AllLocations, 0}}}},
		{"seed", seedBatch()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := abi.ParseInput(tt.batch.encode(nil))
			if err != nil {
				t.Fatalf("ParseInput() error = %v", err)
			}
			checkInput(t, in, tt.batch)
		})
	}
}

// TestInputParamsNilWhenNone: Params documents nil for an input without
// params, so a rule may test for nil.
func TestInputParamsNilWhenNone(t *testing.T) {
	in, err := abi.ParseInput(batch{}.encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if p := in.Params(); p != nil {
		t.Errorf("Params() = %#v, want nil", p)
	}
}

// TestInputResetLeavesOldBufferAlone: Input is a read-only view, so making
// it a view of a new buffer must not write to the buffer it viewed before,
// which its caller may have reused.
func TestInputResetLeavesOldBufferAlone(t *testing.T) {
	first := seedBatch()
	second := seedBatch()
	second.available = []int32{1, 2, 3, 4}
	second.quantities = []int32{5, 6, 7, 8}

	old := first.encode(nil)
	before := slices.Clone(old)
	var in abi.Input
	if err := in.Reset(old); err != nil {
		t.Fatal(err)
	}
	if err := in.Reset(unaligned(second.encode(nil))); err != nil {
		t.Fatal(err)
	}
	checkInput(t, &in, second)
	if !bytes.Equal(old, before) {
		t.Errorf("Reset wrote to the buffer the Input viewed before")
	}
}

// TestInputStringOutsideTable checks the documented behaviour of a string
// reference that points outside the string table: the accessor panics with
// an index error, as an out-of-range slice does. Reset does not check string
// references; inside a rule module the panic becomes a failed output.
func TestInputStringOutsideTable(t *testing.T) {
	b := seedBatch()
	buf := b.encode(nil)
	item0 := int(binary.LittleEndian.Uint32(buf[52:])) // item 0's record
	strLen := binary.LittleEndian.Uint32(buf[80:])
	tests := []struct {
		name      string
		at        int // offset of the reference to corrupt
		off, n    uint32
		wantPanic bool
	}{
		{"length past the end", item0 + 4, 0, strLen + 1, true},
		{"offset past the end", item0 + 4, strLen + 1, 0, true},
		{"offset and length overflow uint32", item0 + 4, math.MaxUint32, 2, true},
		{"empty at the end", item0 + 4, strLen, 0, false},
		{"whole table", item0 + 4, 0, strLen, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := setU32(setU32(buf, tt.at, tt.off), tt.at+4, tt.n)
			in, err := abi.ParseInput(buf)
			if err != nil {
				t.Fatalf("ParseInput() error = %v", err)
			}
			var id string
			p := catch(func() { id = in.ItemID(0) })
			if gotPanic := p != nil; gotPanic != tt.wantPanic {
				t.Fatalf("ItemID(0) panicked: %v, want panic %v", p, tt.wantPanic)
			}
			if p == nil && uint32(len(id)) != tt.n {
				t.Errorf("ItemID(0) = %q, want %d bytes", id, tt.n)
			}
			if _, ok := p.(interface{ RuntimeError() }); p != nil && !ok {
				t.Errorf("ItemID(0) panicked with %v, want a runtime index error", p)
			}
		})
	}
}

// TestItemTagsClipped: an item's tag range is clipped to the tag section,
// so Tag is never called out of range.
func TestItemTagsClipped(t *testing.T) {
	b := seedBatch() // item 0 has tags 0 and 1, of 2
	buf := b.encode(nil)
	item0 := int(binary.LittleEndian.Uint32(buf[52:])) // item 0's record
	tests := []struct {
		name             string
		first, count     uint32
		wantFirst, wantN int
	}{
		{"in range", 1, 1, 1, 1},
		{"count too large", 1, 5, 1, 1},
		{"count overflows", 1, math.MaxUint32, 1, 1},
		{"first at the end", 2, 3, 2, 0},
		{"first past the end", 3, 1, 0, 0},
		{"first far past the end", math.MaxUint32, math.MaxUint32, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := abi.ParseInput(setU32(setU32(buf, item0+28, tt.first), item0+32, tt.count))
			if err != nil {
				t.Fatalf("ParseInput() error = %v", err)
			}
			first, n := in.ItemTags(0)
			if first != tt.wantFirst || n != tt.wantN {
				t.Errorf("ItemTags(0) = %d, %d; want %d, %d", first, n, tt.wantFirst, tt.wantN)
			}
		})
	}
}

// catch runs f and returns what it panicked with, or nil.
func catch(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// rawInput reads what an accepted input's records hold, from the layout
// alone, to check Input's accessors against.
type rawInput struct{ buf []byte }

func (r rawInput) u(off int) uint32 { return binary.LittleEndian.Uint32(r.buf[off:]) }

// str returns the string a reference at off names, and whether it lies
// inside the string table.
func (r rawInput) str(off int) (string, bool) {
	so, sl := uint64(r.u(76)), uint64(r.u(80))
	o, n := uint64(r.u(off)), uint64(r.u(off+4))
	if o+n > sl {
		return "", false
	}
	return string(r.buf[so+o : so+o+n]), true
}

// checkString calls get and checks it against the reference at off: the
// referenced bytes when they are inside the string table, a panic otherwise.
func checkString(t *testing.T, what string, get func() string, r rawInput, off int) {
	t.Helper()
	want, ok := r.str(off)
	var got string
	p := catch(func() { got = get() })
	switch {
	case ok && p != nil:
		t.Fatalf("%s panicked on a reference inside the string table: %v", what, p)
	case ok && got != want:
		t.Fatalf("%s = %q, want %q", what, got, want)
	case !ok && p == nil:
		t.Fatalf("%s = %q for a reference outside the string table, want a panic", what, got)
	}
}

func FuzzParseInput(f *testing.F) {
	valid := seedBatch().encode(nil)
	f.Add(valid)
	f.Add(batch{}.encode(nil))
	f.Add(unaligned(valid))
	f.Add(valid[:len(valid)-1])
	f.Add(valid[:abi.InputHeaderSize])
	f.Add(setU32(valid, 12, 1<<28-1))
	f.Add(setU32(valid, 52, 8))
	f.Add(setU32(valid, 80, math.MaxUint32))
	f.Add(setU32(valid, int(binary.LittleEndian.Uint32(valid[52:]))+4, math.MaxUint32))
	f.Add(setU32(valid, int(binary.LittleEndian.Uint32(valid[52:]))+28, math.MaxUint32))
	f.Fuzz(func(t *testing.T, buf []byte) {
		// The input is exactly these bytes. Reading past len(buf) into
		// spare capacity is what TestParseInputRejects's "cut short" and
		// "shorter than the header" cases catch; clipping keeps this
		// target on everything else.
		buf = slices.Clip(buf)
		in, err := abi.ParseInput(buf)
		// The same bytes at another alignment read the same, through the
		// int32 conversion rather than a view.
		in2, err2 := abi.ParseInput(unaligned(buf))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("ParseInput error %v, on an unaligned copy %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, abi.ErrMalformedInput) {
				t.Fatalf("error %v does not wrap ErrMalformedInput", err)
			}
			return
		}
		r := rawInput{buf}
		c := in.Counts()
		if c != in2.Counts() || in.Settings() != in2.Settings() || !bytes.Equal(in.Params(), in2.Params()) {
			t.Fatalf("the unaligned copy reads differently")
		}
		if p := in.Settings().Percentage; p > abi.MaxPercentage {
			t.Fatalf("accepted percentage %d", p)
		}
		for l := range c.Locations {
			rec := int(r.u(40)) + l*abi.LocationRecordSize
			checkString(t, fmt.Sprint("Location ", l), func() string {
				id, flags := in.Location(l)
				if flags != r.u(rec+8) {
					t.Fatalf("Location(%d) flags = %#x, want %#x", l, flags, r.u(rec+8))
				}
				return id
			}, r, rec)
		}
		for w := range c.Warehouses {
			rec := int(r.u(44)) + w*abi.WarehouseRecordSize
			checkString(t, fmt.Sprint("Warehouse ", w), func() string {
				id, flags := in.Warehouse(w)
				if flags != r.u(rec+8) {
					t.Fatalf("Warehouse(%d) flags = %#x, want %#x", w, flags, r.u(rec+8))
				}
				return id
			}, r, rec)
		}
		for m := range c.Mappings {
			loc, wh := in.Mapping(m)
			if loc != abi.AllLocations && int(loc) >= c.Locations || int(wh) >= c.Warehouses {
				t.Fatalf("Mapping(%d) = %d, %d: out of range of %d locations, %d warehouses", m, loc, wh, c.Locations, c.Warehouses)
			}
		}
		for k := range c.Tags {
			checkString(t, fmt.Sprint("Tag ", k), func() string { return in.Tag(k) }, r, int(r.u(56))+k*abi.TagRecordSize)
		}
		q, q2 := in.Quantities(), in2.Quantities()
		if len(q) != c.Items*c.Warehouses || !slices.Equal(q, q2) {
			t.Fatalf("Quantities() has %d values, want %d, the same as the unaligned copy's", len(q), c.Items*c.Warehouses)
		}
		for i := range c.Items {
			rec := int(r.u(52)) + i*abi.ItemRecordSize
			if in.ItemFlags(i) != r.u(rec) {
				t.Fatalf("ItemFlags(%d) differs from the record", i)
			}
			checkString(t, fmt.Sprint("ItemID ", i), func() string { return in.ItemID(i) }, r, rec+4)
			checkString(t, fmt.Sprint("ItemProductID ", i), func() string { return in.ItemProductID(i) }, r, rec+12)
			checkString(t, fmt.Sprint("ItemSKU ", i), func() string { return in.ItemSKU(i) }, r, rec+20)
			first, n := in.ItemTags(i)
			if first < 0 || n < 0 || first+n > c.Tags {
				t.Fatalf("ItemTags(%d) = %d, %d: outside %d tags", i, first, n, c.Tags)
			}
			row := in.AvailableRow(i)
			if len(row) != c.Locations || !slices.Equal(row, in2.AvailableRow(i)) {
				t.Fatalf("AvailableRow(%d) = %v, want %d values, the same as the unaligned copy's", i, row, c.Locations)
			}
			for l := range c.Locations {
				want := int32(r.u(int(r.u(60)) + (i*c.Locations+l)*4))
				if got := in.Available(i, l); got != want || got != row[l] {
					t.Fatalf("Available(%d, %d) = %d, want %d", i, l, got, want)
				}
			}
			for w := range c.Warehouses {
				if want := int32(r.u(int(r.u(64)) + (i*c.Warehouses+w)*4)); q[i*c.Warehouses+w] != want {
					t.Fatalf("quantity of item %d in warehouse %d = %d, want %d", i, w, q[i*c.Warehouses+w], want)
				}
			}
		}
	})
}
