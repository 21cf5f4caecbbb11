package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// OutputHeaderSize is the size of the output header. The output buffer is:
//
//	+--------------------------------------+ 0
//	| header (64 bytes, below)             |
//	+--------------------------------------+ QuantitiesOffset
//	| quantities  N x W x int32, by item   |
//	+--------------------------------------+ ItemErrorsOffset
//	| item errors E x 12 {item, message}   |
//	+--------------------------------------+ NotesOffset
//	| notes       K x 16 {item, wh, attrs} |
//	+--------------------------------------+ DataOffset
//	| data        messages and attributes  |
//	+--------------------------------------+
//
// The header, all uint32:
//
//	 0 magic "SROU"     4 version          8 status (StatusOK, StatusError)
//	12 items N         16 warehouses W    20 item errors E
//	24 notes K         28 quantities off  32 item errors off
//	36 notes off       40 data off        44 data len
//	48 message off     52 message len     56..64 reserved, zero
//
// Offsets of messages and attributes are relative to the data section.
// Records:
//
//	item error 0 item index   4 message off   8 message len
//	note       0 item index   4 warehouse index, or NoWarehouse
//	           8 attributes off  12 attributes len
//
// With StatusError the rule failed as a whole: the message says why and the
// rest of the output is ignored. Otherwise N and W must equal the input's,
// and every item that is not listed in the item errors has its quantities.
// Notes are read only when the input asked for them with FlagExplain; their
// attributes are encoded as described on [AppendAttr].
const OutputHeaderSize = 64

// Output record sizes.
const (
	ItemErrorRecordSize = 12
	NoteRecordSize      = 16
)

// OutputMagic opens every output buffer ("SROU", little-endian).
const OutputMagic uint32 = 'S' | 'R'<<8 | 'O'<<16 | 'U'<<24

// Output status values.
const (
	StatusOK    uint32 = 0
	StatusError uint32 = 1
)

// MaxMessageLen bounds the messages a host keeps from an output; longer ones
// are cut.
const MaxMessageLen = 1024

// ErrContract is the error for an output that breaks this contract. Hosts
// test for it with errors.Is.
var ErrContract = errors.New("rule broke the output contract")

func contractErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrContract}, args...)...)
}

// OutputBuilder encodes a rule's result. Quantities are written in place;
// item errors, notes and their data are collected and laid out by Bytes.
// A builder is reused across calls with Reset and then allocates nothing
// unless the rule fails items or explains.
type OutputBuilder struct {
	buf        []byte
	items, whs int
	q          []int32 // the quantities table, in place in buf if inPlace
	inPlace    bool
	errs       []uint32 // item, off, len
	failed     []uint64 // bit set of failed items, sized on the first failure
	notes      []uint32 // item, warehouse, off, len
	data       []byte
}

// Reset starts an output for items x warehouses quantities, initialised from
// quantities (item-major, as Input.Quantities returns them).
//
// Reset runs on every call of a rule, and in Go's WebAssembly code every
// store of a slice costs a write-barrier check, so it stores only what
// changed: with the same shape of batch, nothing.
func (b *OutputBuilder) Reset(items, warehouses int, quantities []int32) {
	size := OutputHeaderSize + items*warehouses*4
	if cap(b.buf) < size {
		b.buf = make([]byte, size, size+size/4)
		b.q = nil
	}
	if len(b.buf) != size {
		b.buf = b.buf[:size]
	}
	if !b.viewOf(items * warehouses) {
		if b.q, b.inPlace = int32View(b.buf[OutputHeaderSize:]); !b.inPlace {
			b.q = make([]int32, items*warehouses)
		}
	}
	b.items, b.whs = items, warehouses
	copy(b.q, quantities)
	if len(b.errs) > 0 {
		clear(b.failed)
		b.errs = b.errs[:0]
	}
	if len(b.notes) > 0 {
		b.notes = b.notes[:0]
	}
	if len(b.data) > 0 {
		b.data = b.data[:0]
	}
}

// viewOf reports whether the quantities table from the last Reset serves n
// quantities in the current buffer: finish may have moved the buffer.
func (b *OutputBuilder) viewOf(n int) bool {
	switch {
	case b.q == nil || len(b.q) != n:
		return false
	case !b.inPlace:
		return true
	}
	return unsafe.Pointer(unsafe.SliceData(b.q)) == unsafe.Pointer(&b.buf[OutputHeaderSize])
}

// Quantities returns the quantities table, item-major, for the rule to read
// and write in place.
func (b *OutputBuilder) Quantities() []int32 { return b.q }

// FailItem records that item failed, with a message. An item fails once:
// a second failure of the same item keeps the first message.
func (b *OutputBuilder) FailItem(item int, message string) {
	if words := (b.items + 63) / 64; len(b.failed) < words {
		b.failed = append(b.failed, make([]uint64, words-len(b.failed))...)
	}
	if b.failed[item/64]&(1<<(item%64)) != 0 {
		return
	}
	b.failed[item/64] |= 1 << (item % 64)
	off := len(b.data)
	b.data = append(b.data, message...)
	b.errs = append(b.errs, uint32(item), uint32(off), uint32(len(message)))
}

// AppendNote records a note about item in warehouse (or NoWarehouse), whose
// attributes are produced by the append function. The function must only
// append to the slice it is given.
func (b *OutputBuilder) AppendNote(item int, warehouse uint32, attrs func([]byte) []byte) {
	off := len(b.data)
	b.data = attrs(b.data)
	b.notes = append(b.notes, uint32(item), warehouse, uint32(off), uint32(len(b.data)-off))
}

// Bytes lays out the output with StatusOK and returns it. It is valid until
// the next Reset.
func (b *OutputBuilder) Bytes() []byte {
	return b.finish(StatusOK, "")
}

// Fail returns an output with StatusError and the message.
func (b *OutputBuilder) Fail(message string) []byte {
	if cap(b.buf) < OutputHeaderSize {
		b.buf = make([]byte, OutputHeaderSize)
	}
	b.buf = b.buf[:OutputHeaderSize]
	b.q = nil       // the buffer no longer holds quantities
	clear(b.failed) // or the next batch's failures of these items are lost
	b.errs, b.notes, b.data = b.errs[:0], b.notes[:0], b.data[:0]
	return b.finish(StatusError, message)
}

func (b *OutputBuilder) finish(status uint32, message string) []byte {
	qOff := OutputHeaderSize
	if !b.inPlace && status == StatusOK {
		encodeInt32s(b.buf[qOff:], b.q)
	}
	eOff := len(b.buf)
	for _, v := range b.errs {
		b.buf = binary.LittleEndian.AppendUint32(b.buf, v)
	}
	nOff := len(b.buf)
	for _, v := range b.notes {
		b.buf = binary.LittleEndian.AppendUint32(b.buf, v)
	}
	msgOff := len(b.data)
	b.data = append(b.data, message...)
	dOff := len(b.buf)
	b.buf = append(b.buf, b.data...)
	h := b.buf[:OutputHeaderSize:OutputHeaderSize]
	binary.LittleEndian.PutUint32(h[0:], OutputMagic)
	binary.LittleEndian.PutUint32(h[4:], Version)
	binary.LittleEndian.PutUint32(h[8:], status)
	binary.LittleEndian.PutUint32(h[12:], uint32(b.items))
	binary.LittleEndian.PutUint32(h[16:], uint32(b.whs))
	binary.LittleEndian.PutUint32(h[20:], uint32(len(b.errs)/3))
	binary.LittleEndian.PutUint32(h[24:], uint32(len(b.notes)/4))
	binary.LittleEndian.PutUint32(h[28:], uint32(qOff))
	binary.LittleEndian.PutUint32(h[32:], uint32(eOff))
	binary.LittleEndian.PutUint32(h[36:], uint32(nOff))
	binary.LittleEndian.PutUint32(h[40:], uint32(dOff))
	binary.LittleEndian.PutUint32(h[44:], uint32(len(b.data)))
	binary.LittleEndian.PutUint32(h[48:], uint32(msgOff))
	binary.LittleEndian.PutUint32(h[52:], uint32(len(message)))
	binary.LittleEndian.PutUint64(h[56:], 0) // reserved
	return b.buf
}

// Output is a checked view of a rule's output. It reads the buffer in place;
// everything it returns is a copy, so the buffer may be reused once the
// caller has taken what it needs.
type Output struct {
	status                  uint32
	message                 string
	items, whs              int
	quantities, errs, notes []byte
	data                    []byte
}

// ParseOutput checks buf against the output layout for a batch of items x
// warehouses and returns a view of it. Any departure from the layout is an
// error wrapping ErrContract.
func ParseOutput(buf []byte, items, warehouses int) (*Output, error) {
	if len(buf) < OutputHeaderSize {
		return nil, contractErr("output of %d bytes is shorter than the %d-byte header", len(buf), OutputHeaderSize)
	}
	u := func(off int) uint32 { return binary.LittleEndian.Uint32(buf[off:]) }
	if u(0) != OutputMagic {
		return nil, contractErr("output has bad magic %#x", u(0))
	}
	if u(4) != Version {
		return nil, contractErr("output has ABI version %d, want %d", u(4), Version)
	}
	o := &Output{status: u(8), items: items, whs: warehouses}
	dOff, dLen := uint64(u(40)), uint64(u(44))
	if dOff < OutputHeaderSize || dOff+dLen > uint64(len(buf)) {
		return nil, contractErr("data section [%d, %d) is outside the %d-byte output", dOff, dOff+dLen, len(buf))
	}
	o.data = buf[dOff : dOff+dLen]
	switch o.status {
	case StatusOK:
	case StatusError:
		msg, err := o.text(u(48), u(52))
		if err != nil {
			return nil, fmt.Errorf("%w (in the failure message)", err)
		}
		o.message = msg
		return o, nil
	default:
		return nil, contractErr("unknown status %d", o.status)
	}
	if int64(u(12)) != int64(items) || int64(u(16)) != int64(warehouses) {
		return nil, contractErr("output is for %d items x %d warehouses, the input had %d x %d", u(12), u(16), items, warehouses)
	}
	section := func(name string, offAt int, count, size uint64) ([]byte, error) {
		off, n := uint64(u(offAt)), count*size
		if off < OutputHeaderSize || off+n > uint64(len(buf)) {
			return nil, contractErr("%s section [%d, %d) is outside the %d-byte output", name, off, off+n, len(buf))
		}
		return buf[off : off+n], nil
	}
	var err error
	if o.quantities, err = section("quantities", 28, uint64(items)*uint64(warehouses), 4); err != nil {
		return nil, err
	}
	if o.errs, err = section("item errors", 32, uint64(u(20)), ItemErrorRecordSize); err != nil {
		return nil, err
	}
	if o.notes, err = section("notes", 36, uint64(u(24)), NoteRecordSize); err != nil {
		return nil, err
	}
	var seen map[uint32]bool
	if o.NumItemErrors() > 0 {
		seen = make(map[uint32]bool, o.NumItemErrors())
	}
	for k := range o.NumItemErrors() {
		item := binary.LittleEndian.Uint32(o.errs[k*ItemErrorRecordSize:])
		if item >= uint32(items) {
			return nil, contractErr("item error %d names item %d of %d", k, item, items)
		}
		if seen[item] {
			return nil, contractErr("item %d is failed twice", item)
		}
		seen[item] = true
		if _, err := o.text(binary.LittleEndian.Uint32(o.errs[k*ItemErrorRecordSize+4:]), binary.LittleEndian.Uint32(o.errs[k*ItemErrorRecordSize+8:])); err != nil {
			return nil, fmt.Errorf("%w (in the error of item %d)", err, item)
		}
	}
	for k := range o.NumNotes() {
		r := o.notes[k*NoteRecordSize:]
		item, wh := binary.LittleEndian.Uint32(r), binary.LittleEndian.Uint32(r[4:])
		if item >= uint32(items) || (wh >= uint32(warehouses) && wh != NoWarehouse) {
			return nil, contractErr("note %d is about item %d, warehouse %d, of %d x %d", k, item, wh, items, warehouses)
		}
		off, n := uint64(binary.LittleEndian.Uint32(r[8:])), uint64(binary.LittleEndian.Uint32(r[12:]))
		if off+n > uint64(len(o.data)) {
			return nil, contractErr("note %d's attributes [%d, %d) are outside the %d-byte data section", k, off, off+n, len(o.data))
		}
	}
	return o, nil
}

func (o *Output) text(off, n uint32) (string, error) {
	if uint64(off)+uint64(n) > uint64(len(o.data)) {
		return "", contractErr("message [%d, %d) is outside the %d-byte data section", off, uint64(off)+uint64(n), len(o.data))
	}
	// Replacements can lengthen text; four times the limit is always enough.
	return ValidText(string(o.data[off:off+min(n, 4*MaxMessageLen)]), MaxMessageLen), nil
}

// ValidText returns s as valid UTF-8 of at most limit bytes, cut at a rune
// boundary, with invalid sequences replaced by U+FFFD: text a host accepts.
func ValidText(s string, limit int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Failed reports whether the rule failed as a whole, and why.
func (o *Output) Failed() (message string, failed bool) {
	return o.message, o.status == StatusError
}

// Quantity returns the quantity of item i in warehouse w. An output that
// Failed has no quantities: check Failed first.
func (o *Output) Quantity(i, w int) int32 {
	return int32(binary.LittleEndian.Uint32(o.quantities[(i*o.whs+w)*4:]))
}

// NumItemErrors returns the number of failed items.
func (o *Output) NumItemErrors() int { return len(o.errs) / ItemErrorRecordSize }

// ItemError returns the k-th failed item and its message, cut to
// MaxMessageLen bytes.
func (o *Output) ItemError(k int) (item int, message string) {
	r := o.errs[k*ItemErrorRecordSize:]
	message, _ = o.text(binary.LittleEndian.Uint32(r[4:]), binary.LittleEndian.Uint32(r[8:]))
	return int(binary.LittleEndian.Uint32(r)), message
}

// NumNotes returns the number of notes.
func (o *Output) NumNotes() int { return len(o.notes) / NoteRecordSize }

// Note returns the k-th note: its item, its warehouse (-1 for the whole
// item) and its decoded attributes.
func (o *Output) Note(k int) (item, warehouse int, attrs []Attr, err error) {
	r := o.notes[k*NoteRecordSize:]
	item = int(binary.LittleEndian.Uint32(r))
	warehouse = int(binary.LittleEndian.Uint32(r[4:]))
	if uint32(warehouse) == NoWarehouse {
		warehouse = -1
	}
	off, n := binary.LittleEndian.Uint32(r[8:]), binary.LittleEndian.Uint32(r[12:])
	attrs, err = DecodeAttrs(o.data[off : off+n])
	if err != nil {
		err = fmt.Errorf("%w (in note %d)", err, k)
	}
	return item, warehouse, attrs, err
}

// AttrKind is the type of an attribute's value.
type AttrKind uint8

// Attribute kinds.
const (
	KindBool AttrKind = iota + 1
	KindInt64
	KindUint64
	KindFloat64
	KindString
	KindGroup
)

// Limits on decoded attributes.
const (
	MaxAttrDepth  = 8
	MaxAttrKeyLen = 256
)

// Attr is a decoded note attribute: a key and a value of one kind.
type Attr struct {
	Key     string
	Kind    AttrKind
	Bool    bool
	Int64   int64
	Uint64  uint64
	Float64 float64
	String  string
	Group   []Attr
}

// AppendAttr appends an attribute's encoding to dst. An attribute is its
// kind (one byte), its key (uvarint length, then bytes), and its value:
//
//	KindBool    one byte, 0 or 1
//	KindInt64   zig-zag varint
//	KindUint64  uvarint
//	KindFloat64 8 bytes, IEEE 754 bits, little-endian
//	KindString  uvarint length, then bytes
//	KindGroup   uvarint count, then that many attributes
//
// For example Int64("total", 985) is 02 05 't' 'o' 't' 'a' 'l' b2 0f.
func AppendAttr(dst []byte, a Attr) []byte {
	dst = append(dst, byte(a.Kind))
	dst = binary.AppendUvarint(dst, uint64(len(a.Key)))
	dst = append(dst, a.Key...)
	switch a.Kind {
	case KindBool:
		if a.Bool {
			return append(dst, 1)
		}
		return append(dst, 0)
	case KindInt64:
		return binary.AppendVarint(dst, a.Int64)
	case KindUint64:
		return binary.AppendUvarint(dst, a.Uint64)
	case KindFloat64:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.Float64))
	case KindString:
		dst = binary.AppendUvarint(dst, uint64(len(a.String)))
		return append(dst, a.String...)
	case KindGroup:
		dst = binary.AppendUvarint(dst, uint64(len(a.Group)))
		for _, g := range a.Group {
			dst = AppendAttr(dst, g)
		}
	}
	return dst
}

// DecodeAttrs decodes a sequence of attributes encoded by AppendAttr. Any
// malformation, a group nested deeper than MaxAttrDepth, a key longer than
// MaxAttrKeyLen or text that is not UTF-8 is an error wrapping ErrContract.
func DecodeAttrs(b []byte) ([]Attr, error) {
	d := attrDecoder{b: b}
	var attrs []Attr
	for len(d.b) > 0 {
		a, err := d.attr(1)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

type attrDecoder struct{ b []byte }

// varintLen returns the length of the canonical varint at the start of b, or
// 0 if there is none: a redundant trailing zero byte (0x80 0x00) is refused,
// so every accepted encoding is the one AppendAttr writes.
func varintLen(b []byte, n int) int {
	if n <= 0 || (n > 1 && b[n-1] == 0) {
		return 0
	}
	return n
}

func (d *attrDecoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.b)
	if n = varintLen(d.b, n); n == 0 {
		return 0, contractErr("attribute has a bad length")
	}
	d.b = d.b[n:]
	return v, nil
}

func (d *attrDecoder) text(limit uint64) (string, error) {
	n, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(d.b)) || n > limit {
		return "", contractErr("attribute text of %d bytes is too long", n)
	}
	s := d.b[:n]
	d.b = d.b[n:]
	if !utf8.Valid(s) {
		return "", contractErr("attribute text is not UTF-8")
	}
	return string(s), nil
}

func (d *attrDecoder) attr(depth int) (Attr, error) {
	if depth > MaxAttrDepth {
		return Attr{}, contractErr("attribute groups nest deeper than %d", MaxAttrDepth)
	}
	var a Attr
	if len(d.b) == 0 {
		return a, contractErr("attribute is cut short")
	}
	a.Kind = AttrKind(d.b[0])
	d.b = d.b[1:]
	var err error
	if a.Key, err = d.text(MaxAttrKeyLen); err != nil {
		return a, err
	}
	switch a.Kind {
	case KindBool:
		if len(d.b) == 0 || d.b[0] > 1 {
			return a, contractErr("attribute %q has a bad bool", a.Key)
		}
		a.Bool = d.b[0] == 1
		d.b = d.b[1:]
	case KindInt64:
		v, n := binary.Varint(d.b)
		if n = varintLen(d.b, n); n == 0 {
			return a, contractErr("attribute %q has a bad int", a.Key)
		}
		a.Int64, d.b = v, d.b[n:]
	case KindUint64:
		if a.Uint64, err = d.uvarint(); err != nil {
			return a, err
		}
	case KindFloat64:
		if len(d.b) < 8 {
			return a, contractErr("attribute %q has a bad float", a.Key)
		}
		a.Float64, d.b = math.Float64frombits(binary.LittleEndian.Uint64(d.b)), d.b[8:]
	case KindString:
		if a.String, err = d.text(uint64(len(d.b))); err != nil {
			return a, err
		}
	case KindGroup:
		n, err := d.uvarint()
		if err != nil {
			return a, err
		}
		if n > uint64(len(d.b)) { // every attribute takes at least one byte
			return a, contractErr("attribute group %q claims %d members", a.Key, n)
		}
		a.Group = make([]Attr, 0, n)
		for range n {
			g, err := d.attr(depth + 1)
			if err != nil {
				return a, err
			}
			a.Group = append(a.Group, g)
		}
	default:
		return a, contractErr("attribute %q has unknown kind %d", a.Key, a.Kind)
	}
	return a, nil
}
