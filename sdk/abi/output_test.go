package abi_test

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/sdk/abi"
)

// result is a rule's result as plain values: what an OutputBuilder is
// given, and so what ParseOutput must give back.
type result struct {
	items, warehouses int
	quantities        []int32
	itemErrors        []itemError
	notes             []note
}

type itemError struct {
	item    int
	message string
}

type note struct {
	item      int
	warehouse uint32 // or NoWarehouse
	attrs     []abi.Attr
}

func (r result) encode(b *abi.OutputBuilder) []byte {
	b.Reset(r.items, r.warehouses, r.quantities)
	for _, e := range r.itemErrors {
		b.FailItem(e.item, e.message)
	}
	for _, n := range r.notes {
		b.AppendNote(n.item, n.warehouse, func(dst []byte) []byte {
			for _, a := range n.attrs {
				dst = abi.AppendAttr(dst, a)
			}
			return dst
		})
	}
	return b.Bytes()
}

// seedResult is a small result with something in every section.
func seedResult() result {
	return result{
		items: 3, warehouses: 2,
		quantities: []int32{788, 0, math.MaxInt32, -1, 5, 6},
		itemErrors: []itemError{{1, "no stock feed"}},
		notes: []note{
			{0, 0, []abi.Attr{{Key: "total", Kind: abi.KindInt64, Int64: 985}, {Key: "capped", Kind: abi.KindBool, Bool: true}}},
			{2, abi.NoWarehouse, []abi.Attr{{Key: "reason", Kind: abi.KindString, String: "untracked"}}},
		},
	}
}

// checkOutput fails unless o holds r.
func checkOutput(t fataler, o *abi.Output, r result) {
	if msg, failed := o.Failed(); failed {
		t.Fatalf("Failed() = %q, true; want success", msg)
	}
	for i := range r.items {
		for w := range r.warehouses {
			if got, want := o.Quantity(i, w), r.quantities[i*r.warehouses+w]; got != want {
				t.Fatalf("Quantity(%d, %d) = %d, want %d", i, w, got, want)
			}
		}
	}
	if got := o.NumItemErrors(); got != len(r.itemErrors) {
		t.Fatalf("NumItemErrors() = %d, want %d", got, len(r.itemErrors))
	}
	for k, want := range r.itemErrors {
		if item, msg := o.ItemError(k); item != want.item || msg != want.message {
			t.Fatalf("ItemError(%d) = %d, %q; want %d, %q", k, item, msg, want.item, want.message)
		}
	}
	if got := o.NumNotes(); got != len(r.notes) {
		t.Fatalf("NumNotes() = %d, want %d", got, len(r.notes))
	}
	for k, want := range r.notes {
		item, wh, attrs, err := o.Note(k)
		if err != nil {
			t.Fatalf("Note(%d): %v", k, err)
		}
		wantWh := int(want.warehouse)
		if want.warehouse == abi.NoWarehouse {
			wantWh = -1
		}
		if item != want.item || wh != wantWh || !attrsEqual(attrs, want.attrs) {
			t.Fatalf("Note(%d) = %d, %d, %+v; want %d, %d, %+v", k, item, wh, attrs, want.item, wantWh, want.attrs)
		}
	}
}

func genResult(t *rapid.T) result {
	var r result
	r.items = rapid.IntRange(0, 6).Draw(t, "items")
	r.warehouses = rapid.IntRange(0, 4).Draw(t, "warehouses")
	r.quantities = rapid.SliceOfN(rapid.Int32(), r.items*r.warehouses, r.items*r.warehouses).Draw(t, "quantities")
	if r.items == 0 {
		return r
	}
	message := rapid.StringN(-1, -1, abi.MaxMessageLen)
	failed := rapid.SliceOfNDistinct(rapid.IntRange(0, r.items-1), 0, r.items, rapid.ID).Draw(t, "failed items")
	for _, i := range failed {
		r.itemErrors = append(r.itemErrors, itemError{i, message.Draw(t, "message")})
	}
	wh := rapid.Just(abi.NoWarehouse)
	if r.warehouses > 0 {
		wh = rapid.OneOf(wh, rapid.Uint32Range(0, uint32(r.warehouses-1)))
	}
	r.notes = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) note {
		return note{
			item:      rapid.IntRange(0, r.items-1).Draw(t, "item"),
			warehouse: wh.Draw(t, "warehouse"),
			attrs:     rapid.SliceOfN(attrGen(1), 0, 3).Draw(t, "attrs"),
		}
	}), 0, 4).Draw(t, "notes")
	return r
}

func TestOutputRoundTrip(t *testing.T) {
	// One builder for every case: Reset must leave nothing of the last
	// result behind.
	var b abi.OutputBuilder
	rapid.Check(t, func(t *rapid.T) {
		r := genResult(t)
		buf := r.encode(&b)
		o, err := abi.ParseOutput(buf, r.items, r.warehouses)
		if err != nil {
			t.Fatalf("ParseOutput: %v", err)
		}
		checkOutput(t, o, r)
	})
}

func TestOutputFailRoundTrip(t *testing.T) {
	var b abi.OutputBuilder
	rapid.Check(t, func(t *rapid.T) {
		// Fail may follow a partly built result, which it discards.
		r := genResult(t)
		r.encode(&b)
		msg := rapid.StringN(-1, -1, abi.MaxMessageLen).Draw(t, "message")
		// The host checks a failed output for any batch size.
		o, err := abi.ParseOutput(b.Fail(msg), rapid.IntRange(0, 10).Draw(t, "items"), rapid.IntRange(0, 10).Draw(t, "warehouses"))
		if err != nil {
			t.Fatalf("ParseOutput: %v", err)
		}
		if got, failed := o.Failed(); !failed || got != msg {
			t.Fatalf("Failed() = %q, %v; want %q, true", got, failed, msg)
		}
		if o.NumItemErrors() != 0 || o.NumNotes() != 0 {
			t.Fatalf("a failed output has %d item errors and %d notes, want none", o.NumItemErrors(), o.NumNotes())
		}
	})
}

// TestOutputBuilderKeepsQuantities: quantities a rule does not write are
// the ones Reset was given, the quantities so far.
func TestOutputBuilderKeepsQuantities(t *testing.T) {
	var b abi.OutputBuilder
	b.Reset(2, 2, []int32{9, 9, 9, 9})
	b.Bytes()
	b.Reset(2, 2, []int32{1, 2, 3, 4})
	b.Quantities()[3] = 40
	o, err := abi.ParseOutput(b.Bytes(), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, o, result{items: 2, warehouses: 2, quantities: []int32{1, 2, 3, 40}})
}

// TestOutputWorkedExample checks the output of the package documentation's
// example: a header and one quantity, nothing else.
func TestOutputWorkedExample(t *testing.T) {
	var b abi.OutputBuilder
	b.Reset(1, 1, []int32{0})
	b.Quantities()[0] = 240
	buf := b.Bytes()
	if got, want := len(buf), abi.OutputHeaderSize+4; got != want {
		t.Fatalf("output is %d bytes, want %d", got, want)
	}
	if got := string(buf[:4]); got != "SROU" {
		t.Errorf("magic = %q, want SROU", got)
	}
	if got := int32(binary.LittleEndian.Uint32(buf[abi.OutputHeaderSize:])); got != 240 {
		t.Errorf("quantity = %d, want 240", got)
	}
}

// u32 reads the uint32 at off.
func u32(buf []byte, off int) uint32 { return binary.LittleEndian.Uint32(buf[off:]) }

func TestParseOutputRejects(t *testing.T) {
	var b abi.OutputBuilder
	valid := slices.Clone(seedResult().encode(&b))
	failed := fail("no stock feed")
	errs, notes, dataLen := int(u32(valid, 32)), int(u32(valid, 36)), u32(valid, 44)
	// The builder refuses to fail an item twice, so a hostile guest's
	// output is made by failing two items and pointing the second record
	// at the first.
	var two abi.OutputBuilder
	two.Reset(2, 1, nil)
	two.FailItem(0, "first")
	two.FailItem(1, "second")
	twice := append([]byte(nil), two.Bytes()...)
	twice = setU32(twice, int(u32(twice, 32))+abi.ItemErrorRecordSize, 0)

	tests := []struct {
		name              string
		buf               []byte
		items, warehouses int // of the batch; the seed's 3 x 2 when zero
	}{
		{name: "empty", buf: nil},
		{name: "shorter than the header", buf: valid[:abi.OutputHeaderSize-1]},
		{name: "bad magic", buf: setU32(valid, 0, abi.InputMagic)},
		{name: "newer version", buf: setU32(valid, 4, abi.Version+1)},
		{name: "unknown status", buf: setU32(valid, 8, 2)},
		{name: "more items than the batch", buf: setU32(valid, 12, 4)},
		{name: "fewer warehouses than the batch", buf: setU32(valid, 16, 1)},
		{name: "batch has more items", buf: valid, items: 4, warehouses: 2},
		{name: "batch has more warehouses", buf: valid, items: 3, warehouses: 3},
		{name: "data inside the header", buf: setU32(valid, 40, abi.OutputHeaderSize-4)},
		{name: "data past the end", buf: setU32(valid, 44, dataLen+1)},
		{name: "data offset past the end", buf: setU32(valid, 40, uint32(len(valid)+1))},
		{name: "quantities inside the header", buf: setU32(valid, 28, 0)},
		{name: "quantities past the end", buf: setU32(valid, 28, uint32(len(valid)-4))},
		{name: "item errors past the end", buf: setU32(valid, 20, uint32(len(valid)/abi.ItemErrorRecordSize))},
		{name: "item errors inside the header", buf: setU32(valid, 32, 4)},
		{name: "notes past the end", buf: setU32(valid, 24, math.MaxUint32)},
		{name: "notes inside the header", buf: setU32(valid, 36, 8)},
		{name: "item error names an item past the batch", buf: setU32(valid, errs, 3)},
		{name: "item failed twice", buf: twice, items: 2, warehouses: 1},
		{name: "item error message past the data", buf: setU32(valid, errs+8, dataLen+1)},
		{name: "item error message offset past the data", buf: setU32(valid, errs+4, dataLen)},
		{name: "item error message offset overflows", buf: setU32(setU32(valid, errs+4, math.MaxUint32), errs+8, 2)},
		{name: "failure message past the data", buf: setU32(failed, 52, u32(failed, 44)+1)},
		{name: "failure message offset past the data", buf: setU32(failed, 48, math.MaxUint32)},
		{name: "note about an item past the batch", buf: setU32(valid, notes, 3)},
		{name: "note about a warehouse past the batch", buf: setU32(valid, notes+4, 2)},
		{name: "note about warehouse NoWarehouse-1", buf: setU32(valid, notes+4, abi.NoWarehouse-1)},
		{name: "note attributes past the data", buf: setU32(valid, notes+12, dataLen+1)},
		{name: "note attributes offset past the data", buf: setU32(valid, notes+8, dataLen)},
		{name: "note attributes offset overflows", buf: setU32(setU32(valid, notes+8, math.MaxUint32), notes+12, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, warehouses := tt.items, tt.warehouses
			if items == 0 {
				items, warehouses = 3, 2
			}
			o, err := abi.ParseOutput(tt.buf, items, warehouses)
			if !errors.Is(err, abi.ErrContract) {
				t.Fatalf("ParseOutput() = %v, %v; want an error wrapping ErrContract", o, err)
			}
		})
	}
}

func TestParseOutputAccepts(t *testing.T) {
	long := strings.Repeat("x", abi.MaxMessageLen+100)
	tests := []struct {
		name        string
		buf         []byte
		wantFailed  bool
		wantMessage string // the failure message, or item 0's error
	}{
		{name: "failure", buf: fail("no stock feed"), wantFailed: true, wantMessage: "no stock feed"},
		{name: "failure with an empty message", buf: fail(""), wantFailed: true, wantMessage: ""},
		{name: "failure message not UTF-8", buf: fail("bad \xff byte"), wantFailed: true, wantMessage: "bad \uFFFD byte"},
		{name: "failure message too long", buf: fail(long), wantFailed: true, wantMessage: long[:abi.MaxMessageLen]},
		{name: "failure of another batch size", buf: setU32(fail("x"), 12, 7), wantFailed: true, wantMessage: "x"},
		{name: "item error not UTF-8", buf: failItem(0, "bad \xc3"), wantMessage: "bad \uFFFD"},
		{name: "item error too long", buf: failItem(0, long), wantMessage: long[:abi.MaxMessageLen]},
		{name: "item error empty", buf: failItem(0, ""), wantMessage: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := abi.ParseOutput(tt.buf, 1, 1)
			if err != nil {
				t.Fatalf("ParseOutput() error = %v", err)
			}
			msg, failed := o.Failed()
			if failed != tt.wantFailed {
				t.Fatalf("Failed() = %q, %v; want failed %v", msg, failed, tt.wantFailed)
			}
			if failed {
				if msg != tt.wantMessage {
					t.Errorf("Failed() message = %q, want %q", msg, tt.wantMessage)
				}
				return
			}
			if n := o.NumItemErrors(); n != 1 {
				t.Fatalf("NumItemErrors() = %d, want 1", n)
			}
			if item, msg := o.ItemError(0); item != 0 || msg != tt.wantMessage {
				t.Errorf("ItemError(0) = %d, %q; want 0, %q", item, msg, tt.wantMessage)
			}
		})
	}
}

// fail returns a failed output with message.
func fail(message string) []byte {
	var b abi.OutputBuilder
	return b.Fail(message)
}

// failItem returns the output of a 1 x 1 batch whose item failed.
func failItem(item int, message string) []byte {
	var b abi.OutputBuilder
	b.Reset(1, 1, nil)
	b.FailItem(item, message)
	return b.Bytes()
}

// TestOutputMessageCutAtRuneBoundary: a message is cut to MaxMessageLen
// bytes, and cutting a valid message must neither make it longer nor put a
// replacement character where a whole rune was.
func TestOutputMessageCutAtRuneBoundary(t *testing.T) {
	msg := strings.Repeat("a", abi.MaxMessageLen-1) + "é" // é is 2 bytes, across the limit
	o, err := abi.ParseOutput(failItem(0, msg), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, got := o.ItemError(0)
	if len(got) > abi.MaxMessageLen || !strings.HasPrefix(msg, got) {
		t.Errorf("ItemError(0) message has %d bytes ending %q, want a prefix of the message of at most %d bytes",
			len(got), got[max(0, len(got)-4):], abi.MaxMessageLen)
	}
}

// TestOutputCopiesOut: everything an Output returns is a copy, so the host
// may reuse the buffer once it has read it.
func TestOutputCopiesOut(t *testing.T) {
	var b abi.OutputBuilder
	r := seedResult()
	buf := r.encode(&b)
	o, err := abi.ParseOutput(buf, r.items, r.warehouses)
	if err != nil {
		t.Fatal(err)
	}
	_, msg := o.ItemError(0)
	_, _, attrs, err := o.Note(1)
	if err != nil {
		t.Fatal(err)
	}
	clear(buf[u32(buf, 40):])
	if msg != r.itemErrors[0].message || !attrsEqual(attrs, r.notes[1].attrs) {
		t.Errorf("after the buffer was reused, got %q and %+v", msg, attrs)
	}
}

// TestOutputNoteBadAttrs: the layout of a note is checked by ParseOutput,
// its attributes when it is read.
func TestOutputNoteBadAttrs(t *testing.T) {
	var b abi.OutputBuilder
	b.Reset(1, 1, nil)
	b.AppendNote(0, 0, func(dst []byte) []byte { return append(dst, 0xff) })
	o, err := abi.ParseOutput(b.Bytes(), 1, 1)
	if err != nil {
		t.Fatalf("ParseOutput() error = %v", err)
	}
	if _, _, _, err := o.Note(0); !errors.Is(err, abi.ErrContract) {
		t.Errorf("Note(0) error = %v, want ErrContract", err)
	}
}

func FuzzParseOutput(f *testing.F) {
	var b abi.OutputBuilder
	add := func(buf []byte, items, warehouses int) {
		f.Add(slices.Clone(buf), uint16(items), uint16(warehouses))
	}
	r := seedResult()
	valid := slices.Clone(r.encode(&b))
	add(valid, r.items, r.warehouses)
	add(valid, r.items+1, r.warehouses)
	add(valid[:len(valid)-1], r.items, r.warehouses)
	add(valid[:abi.OutputHeaderSize], r.items, r.warehouses)
	add(setU32(valid, int(u32(valid, 36)), 7), r.items, r.warehouses)
	add(setU32(valid, int(u32(valid, 36))+12, math.MaxUint32), r.items, r.warehouses)
	add(setU32(valid, int(u32(valid, 32)), 2), r.items, r.warehouses)
	add(setU32(valid, 44, math.MaxUint32), r.items, r.warehouses)
	add(result{}.encode(&b), 0, 0)
	add(fail("no stock feed"), 1, 1)
	add(setU32(fail("x"), 52, 5), 1, 1)
	add(failItem(0, "bad \xff"), 1, 1)
	f.Fuzz(func(t *testing.T, buf []byte, items, warehouses uint16) {
		o, err := abi.ParseOutput(buf, int(items), int(warehouses))
		if err != nil {
			if !errors.Is(err, abi.ErrContract) {
				t.Fatalf("error %v does not wrap ErrContract", err)
			}
			return
		}
		msg, failed := o.Failed()
		if !utf8.ValidString(msg) {
			t.Fatalf("Failed() message %q is not UTF-8", msg)
		}
		if failed {
			// The rest of a failed output is ignored: not read, not checked.
			return
		}
		qOff := int(u32(buf, 28))
		for i := range int(items) {
			for w := range int(warehouses) {
				want := int32(u32(buf, qOff+(i*int(warehouses)+w)*4))
				if got := o.Quantity(i, w); got != want {
					t.Fatalf("Quantity(%d, %d) = %d, want %d", i, w, got, want)
				}
			}
		}
		seen := make(map[int]bool)
		for k := range o.NumItemErrors() {
			item, msg := o.ItemError(k)
			if item < 0 || item >= int(items) || seen[item] {
				t.Fatalf("ItemError(%d) names item %d of %d, or one failed before", k, item, items)
			}
			seen[item] = true
			if !utf8.ValidString(msg) {
				t.Fatalf("ItemError(%d) message %q is not UTF-8", k, msg)
			}
		}
		for k := range o.NumNotes() {
			item, wh, attrs, err := o.Note(k)
			if item < 0 || item >= int(items) || wh < -1 || wh >= int(warehouses) {
				t.Fatalf("Note(%d) is about item %d, warehouse %d, of %d x %d", k, item, wh, items, warehouses)
			}
			if err != nil && !errors.Is(err, abi.ErrContract) {
				t.Fatalf("Note(%d) error %v does not wrap ErrContract", k, err)
			}
			if err == nil {
				checkAttrs(t, attrs, 1)
			}
		}
	})
}

// TestOutputBuilderReuseAfterGrowth: a call whose notes outgrow the buffer
// moves it; the next call of the same shape must write its quantities into
// the new buffer, not the old one.
func TestOutputBuilderReuseAfterGrowth(t *testing.T) {
	var b abi.OutputBuilder
	b.Reset(1, 2, []int32{1, 2})
	for range 100 {
		b.AppendNote(0, 0, func(dst []byte) []byte {
			return abi.AppendAttr(dst, abi.Attr{Key: "k", Kind: abi.KindString, String: strings.Repeat("x", 100)})
		})
	}
	if _, err := abi.ParseOutput(b.Bytes(), 1, 2); err != nil {
		t.Fatal(err)
	}
	b.Reset(1, 2, []int32{0, 0})
	q := b.Quantities()
	q[0], q[1] = 7, 9
	out, err := abi.ParseOutput(b.Bytes(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if out.Quantity(0, 0) != 7 || out.Quantity(0, 1) != 9 {
		t.Fatalf("quantities = %d, %d; want 7, 9 written through Quantities()", out.Quantity(0, 0), out.Quantity(0, 1))
	}
}

// A batch that fails as a whole after failing an item must not leave the
// item marked: the next batch's failure of the same item would be lost, and
// the item published.
func TestOutputBuilderFailForgetsFailedItems(t *testing.T) {
	var b abi.OutputBuilder
	b.Reset(3, 1, nil)
	b.FailItem(1, "first batch")
	b.Fail("the whole batch failed")
	b.Reset(3, 1, nil)
	b.FailItem(1, "second batch")
	o, err := abi.ParseOutput(b.Bytes(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if o.NumItemErrors() != 1 {
		t.Fatalf("%d item errors, want the second batch's failure of item 1", o.NumItemErrors())
	}
	if i, msg := o.ItemError(0); i != 1 || msg != "second batch" {
		t.Fatalf("item error %d %q, want 1 \"second batch\"", i, msg)
	}
}
