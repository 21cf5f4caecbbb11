// Package sdk is what an inventory rule imports. A rule is a function of a
// [Batch]: it reads each item's inputs and the quantities so far, and sets the
// quantities to publish to each TikTok Shop warehouse.
//
// A rule module is a package main that registers its rule from an init
// function and is built as a WASI reactor:
//
//	package main
//
//	import "github.com/syncrules/syncrules/sdk"
//
//	func init() { sdk.Register(sdk.RuleFunc(holdBack)) }
//
//	func main() {}
//
//	// holdBack publishes two units fewer than the rules before it.
//	func holdBack(b *sdk.Batch) error {
//		for _, it := range b.Items() {
//			for w := range b.NumWarehouses() {
//				it.SetQuantity(w, max(0, it.Quantity(w)-2))
//			}
//		}
//		return nil
//	}
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hold.wasm .
//
// The package compiles natively too, so rule code is tested with go test;
// [Runner] runs a rule on an encoded batch exactly as the module does.
//
// Strings a Batch returns (ids, SKUs, tags) point into the batch's buffer and
// are valid only until the rule returns; use strings.Clone to keep one.
package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"

	"github.com/syncrules/syncrules/sdk/abi"
)

// A Rule computes the quantities of a batch. Returning an error fails the
// whole batch; [Item.Fail] fails one item.
type Rule interface {
	Compute(b *Batch) error
}

// RuleFunc adapts an ordinary function to a Rule.
type RuleFunc func(b *Batch) error

// Compute calls f(b).
func (f RuleFunc) Compute(b *Batch) error { return f(b) }

var registered Rule

// Register makes r the module's rule. Call it once, from an init function of
// package main: a reactor module never runs main.
func Register(r Rule) {
	if registered != nil {
		panic("sdk: Register called twice")
	}
	registered = r
}

// Runner runs a rule on encoded batches, reusing its buffers between runs.
// The module's exported functions use one; tests and benchmarks use one to
// run a rule natively, through the same code. A Runner is not safe for
// concurrent use.
type Runner struct {
	rule  Rule
	batch Batch
	out   abi.OutputBuilder
}

// NewRunner returns a Runner for r.
func NewRunner(r Rule) *Runner {
	rn := &Runner{rule: r}
	rn.batch.out = &rn.out
	return rn
}

// Run runs the rule on input, a batch encoded as package abi describes, and
// returns the encoded output. The output is valid until the next Run. A rule
// that returns an error or panics produces an output that says so.
func (r *Runner) Run(input []byte) (output []byte) {
	b := &r.batch
	if err := b.in.Reset(input); err != nil {
		return r.out.Fail(err.Error())
	}
	c := b.in.Counts()
	r.out.Reset(c.Items, c.Warehouses, b.in.Quantities())
	b.quantities = r.out.Quantities()
	b.explain = b.in.Settings().Flags&abi.FlagExplain != 0
	defer func() {
		if p := recover(); p != nil {
			output = r.out.Fail(fmt.Sprint("rule panicked: ", p))
		}
	}()
	if err := r.rule.Compute(b); err != nil {
		return r.out.Fail(err.Error())
	}
	return r.out.Bytes()
}

// Batch is the set of items a rule computes in one call, with the shop's
// locations, warehouses and settings.
type Batch struct {
	in         abi.Input
	out        *abi.OutputBuilder
	quantities []int32
	explain    bool
}

// Settings are the shop-wide settings the default rule applies.
type Settings struct {
	// Percentage is the share of available stock to publish, in basis
	// points: 10000 is 100%, 3333 is 33.33%.
	Percentage int64
	// MaxQuantity is the most any warehouse may be given; the host never
	// publishes anything outside [0, MaxQuantity].
	MaxQuantity int64
}

// Settings returns the shop-wide settings.
func (b *Batch) Settings() Settings {
	s := b.in.Settings()
	return Settings{Percentage: int64(s.Percentage), MaxQuantity: int64(s.MaxQuantity)}
}

// Params returns the rule's own params as JSON, or nil when it has none.
func (b *Batch) Params() []byte { return b.in.Params() }

// DecodeParams decodes the rule's params into v, which keeps its values
// when there are no params. Unknown fields are an error, so a mistyped
// param name is reported rather than ignored. [WithParams] does this once
// per distinct params and is the usual way to take params.
func (b *Batch) DecodeParams(v any) error {
	p := b.in.Params()
	if len(p) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(p))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	return nil
}

// Explaining reports whether the caller asked for an explanation. Rules
// call Item.Explain only when it is true, since explaining costs time.
func (b *Batch) Explaining() bool { return b.explain }

// Len returns the number of items.
func (b *Batch) Len() int { return b.in.Counts().Items }

// Item returns item i, for 0 <= i < Len(). Reading an item out of range
// panics with an index error.
func (b *Batch) Item(i int) Item { return Item{b: b, i: i} }

// Items returns an iterator over the items and their indices.
func (b *Batch) Items() iter.Seq2[int, Item] {
	return func(yield func(int, Item) bool) {
		for i := range b.Len() {
			if !yield(i, Item{b: b, i: i}) {
				return
			}
		}
	}
}

// Location is a Shopify location.
type Location struct {
	ID     string
	Active bool
}

// NumLocations returns the number of Shopify locations.
func (b *Batch) NumLocations() int { return b.in.Counts().Locations }

// Location returns location l, for 0 <= l < NumLocations().
func (b *Batch) Location(l int) Location {
	id, flags := b.in.Location(l)
	return Location{ID: id, Active: flags&abi.LocationActive != 0}
}

// LocationActive reports whether location l is active. It reads only the
// flag, which in WebAssembly costs a fraction of Location(l).Active.
func (b *Batch) LocationActive(l int) bool {
	return b.in.LocationFlags(l)&abi.LocationActive != 0
}

// Warehouse is a TikTok Shop pickup warehouse. Only active warehouses
// receive stock; the host ignores quantities set for others.
type Warehouse struct {
	ID      string
	Active  bool
	Default bool
}

// NumWarehouses returns the number of TikTok Shop warehouses.
func (b *Batch) NumWarehouses() int { return b.in.Counts().Warehouses }

// Warehouse returns warehouse w, for 0 <= w < NumWarehouses().
func (b *Batch) Warehouse(w int) Warehouse {
	id, f := b.in.Warehouse(w)
	return Warehouse{id, f&abi.WarehouseActive != 0, f&abi.WarehouseDefault != 0}
}

// WarehouseActive reports whether warehouse w is active. It reads only the
// flag, which in WebAssembly costs a fraction of Warehouse(w).Active.
func (b *Batch) WarehouseActive(w int) bool {
	return b.in.WarehouseFlags(w)&abi.WarehouseActive != 0
}

// AllLocations is the Location of a Mapping whose source is "*", every
// active location.
const AllLocations = -1

// Mapping sends a Shopify location's stock (or, with AllLocations, every
// active location's) to a warehouse.
type Mapping struct {
	Location  int
	Warehouse int
}

// NumMappings returns the number of mappings.
func (b *Batch) NumMappings() int { return b.in.Counts().Mappings }

// Mapping returns mapping m, for 0 <= m < NumMappings().
func (b *Batch) Mapping(m int) Mapping {
	loc, wh := b.in.Mapping(m)
	// abi.AllLocations is 0xffffffff, which as an int32 is AllLocations;
	// every real location index is far below 2^31.
	return Mapping{Location: int(int32(loc)), Warehouse: int(wh)}
}

// Item is one Shopify variant of a batch. It is a small value that reads the
// batch in place.
type Item struct {
	b *Batch
	i int
}

// Index returns the item's position in its batch.
func (it Item) Index() int { return it.i }

// ID returns the item's id.
func (it Item) ID() string { return it.b.in.ItemID(it.i) }

// ProductID returns the id of the item's product, or "".
func (it Item) ProductID() string { return it.b.in.ItemProductID(it.i) }

// SKU returns the item's SKU, or "".
func (it Item) SKU() string { return it.b.in.ItemSKU(it.i) }

// Tracked reports whether Shopify tracks the item's quantity.
func (it Item) Tracked() bool { return it.b.in.ItemFlags(it.i)&abi.ItemTracked != 0 }

// ContinueSelling reports whether the item may be sold when out of stock.
func (it Item) ContinueSelling() bool {
	return it.b.in.ItemFlags(it.i)&abi.ItemContinueSelling != 0
}

// Tags returns an iterator over the item's tags.
func (it Item) Tags() iter.Seq[string] {
	return func(yield func(string) bool) {
		first, n := it.b.in.ItemTags(it.i)
		for t := first; t < first+n; t++ {
			if !yield(it.b.in.Tag(t)) {
				return
			}
		}
	}
}

// HasTag reports whether the item carries tag, compared exactly.
func (it Item) HasTag(tag string) bool {
	first, n := it.b.in.ItemTags(it.i)
	for t := first; t < first+n; t++ {
		if it.b.in.Tag(t) == tag {
			return true
		}
	}
	return false
}

// Stock returns the item's available stock at every location, indexed like
// Batch.Location. The slice is the batch's: read it, do not change it. In
// WebAssembly, a loop over it is several times cheaper than calls to
// Available.
func (it Item) Stock() []int32 { return it.b.in.AvailableRow(it.i) }

// Quantities returns the item's quantities in every warehouse, indexed like
// Batch.Warehouse. Writing to the slice sets them, as SetQuantity does.
func (it Item) Quantities() []int32 {
	nw := it.b.in.Counts().Warehouses
	return it.b.quantities[it.i*nw : (it.i+1)*nw : (it.i+1)*nw]
}

// Available returns the item's available stock at location l. It may be
// negative: stock owed elsewhere. A location out of range panics.
func (it Item) Available(l int) int64 { return int64(it.Stock()[l]) }

// Quantity returns the item's quantity in warehouse w so far: what the rules
// before this one computed, or what this rule has set. A warehouse out of
// range panics.
func (it Item) Quantity(w int) int64 { return int64(it.Quantities()[w]) }

// SetQuantity sets the item's quantity in warehouse w. The host never
// publishes anything outside [0, MaxQuantity]. A warehouse out of range
// panics, never reaching another item.
func (it Item) SetQuantity(w int, q int64) {
	it.Quantities()[w] = int32(min(max(q, math.MinInt32), math.MaxInt32))
}

// Fail marks the item as failed by this rule: the host publishes nothing for
// it and reports err to the caller.
func (it Item) Fail(err error) {
	if err == nil {
		err = errors.New("failed")
	}
	it.b.out.FailItem(it.i, err.Error())
}

// Explain adds attributes to the explanation of the item's quantity in
// warehouse w, or of the whole item when w is -1. It does nothing unless the
// batch is Explaining. Values of kinds other than bool, numbers, strings and
// groups are shown as strings.
func (it Item) Explain(w int, attrs ...slog.Attr) {
	if !it.b.explain || len(attrs) == 0 {
		return
	}
	wh := abi.NoWarehouse
	if w >= 0 {
		wh = uint32(w)
	}
	it.b.out.AppendNote(it.i, wh, func(dst []byte) []byte {
		for _, a := range attrs {
			dst = abi.AppendAttr(dst, toABI(a, 1))
		}
		return dst
	})
}

// toABI converts an attribute to what the host accepts: UTF-8 text, keys of
// at most abi.MaxAttrKeyLen bytes, and groups no deeper than abi.MaxAttrDepth
// (a deeper group is shown as a string).
func toABI(a slog.Attr, depth int) abi.Attr {
	v := a.Value.Resolve()
	out := abi.Attr{Key: abi.ValidText(a.Key, abi.MaxAttrKeyLen)}
	if v.Kind() == slog.KindGroup && depth >= abi.MaxAttrDepth {
		return abi.Attr{Key: out.Key, Kind: abi.KindString, String: abi.ValidText(v.String(), abi.MaxMessageLen)}
	}
	switch v.Kind() {
	case slog.KindBool:
		out.Kind, out.Bool = abi.KindBool, v.Bool()
	case slog.KindInt64:
		out.Kind, out.Int64 = abi.KindInt64, v.Int64()
	case slog.KindUint64:
		out.Kind, out.Uint64 = abi.KindUint64, v.Uint64()
	case slog.KindFloat64:
		out.Kind, out.Float64 = abi.KindFloat64, v.Float64()
	case slog.KindGroup:
		out.Kind = abi.KindGroup
		for _, g := range v.Group() {
			out.Group = append(out.Group, toABI(g, depth+1))
		}
	default:
		out.Kind, out.String = abi.KindString, abi.ValidText(v.String(), math.MaxInt)
	}
	return out
}
