// Package sdktest runs a rule on a batch described in plain Go values, the
// way the host runs it: the batch is encoded as package abi lays it out, the
// rule runs through [sdk.Runner] (the code the WebAssembly exports call), and
// the output is read back with the host's checks.
//
//	res, err := sdktest.Run(myRule, sdktest.Batch{
//		Locations:  []sdktest.Location{{ID: "A", Active: true}},
//		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
//		Mappings:   []sdktest.Mapping{{Location: "*", Warehouse: "alpha"}},
//		Items:      []sdktest.Item{{ID: "v-1", Available: map[string]int64{"A": 985}}},
//	})
//	res.Items[0].Quantities["alpha"] // 985
//
// [Check] does that and more: it also builds the rule's package to
// WebAssembly and runs the module exactly as the server runs an uploaded
// plugin, sandboxed, under the server's default limits (the [sandbox]
// section of its configuration, [engine.SandboxDefaults]):
//
//   - a call is stopped at 100 ms plus 10 µs per item of its batch
//     (sandbox.call_timeout, sandbox.item_timeout);
//   - the module's memory is capped at 64 MiB (sandbox.max_memory_mib);
//   - a batch of 256 items or more (sandbox.worker_min_items) runs in a
//     worker process, killed at the deadline;
//   - the module must be at most 16 MiB (sandbox.max_module_mib), compile
//     within 30 s and 512 MiB, and initialise within 5 s.
//
// A rule that breaks a limit fails the test with a message naming the
// limit, so a rule whose Check tests pass is one the server accepts and
// runs on those batches. Check times the rule on the machine the tests run
// on: leave a margin for a slower or busier server, and test batches as
// big as your shops'.
//
// The worker process and the compiling child are the test binary itself,
// started again with a variable in its environment; importing sdktest makes
// the binary serve them, so a rule's tests need no TestMain. Workers need
// Linux, as the server does; elsewhere big batches run in process, under
// the same deadline.
package sdktest

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
)

// Location is a Shopify location.
type Location struct {
	ID     string
	Active bool
}

// Warehouse is a TikTok Shop warehouse.
type Warehouse struct {
	ID      string
	Active  bool
	Default bool
}

// Mapping sends a location, or "*" for every active location, to a
// warehouse, both by id.
type Mapping struct {
	Location, Warehouse string
}

// Item is a Shopify variant. Its zero value is tracked, with no stock.
type Item struct {
	ID, ProductID, SKU string
	Tags               []string
	Untracked          bool
	ContinueSelling    bool
	// Available is the stock by location id; missing locations have 0.
	Available map[string]int64
	// Quantities are the quantities so far by warehouse id, as the rules
	// before this one left them; missing warehouses have 0.
	Quantities map[string]int64
}

// Batch is a whole input: the shop, the settings and the items.
type Batch struct {
	Locations  []Location
	Warehouses []Warehouse
	Mappings   []Mapping
	// Settings are the shop's settings. The zero value means 100% and a
	// maximum of 999,999.
	Settings sdk.Settings
	// Params are the rule's params, as JSON.
	Params  string
	Items   []Item
	Explain bool
}

// DefaultSettings are the settings a zero Settings stands for.
var DefaultSettings = sdk.Settings{Percentage: 10000, MaxQuantity: 999_999}

// Encode encodes the batch as the host would. Unknown ids, a percentage
// outside [0, 10000] basis points or values outside int32 are errors.
func (b Batch) Encode() ([]byte, error) {
	s := b.Settings
	if s == (sdk.Settings{}) {
		s = DefaultSettings
	}
	if s.Percentage < 0 || s.Percentage > abi.MaxPercentage {
		return nil, fmt.Errorf("sdktest: percentage %d basis points is outside [0, %d]", s.Percentage, abi.MaxPercentage)
	}
	if s.MaxQuantity < 1 || s.MaxQuantity > math.MaxInt32 {
		return nil, fmt.Errorf("sdktest: max quantity %d is out of range", s.MaxQuantity)
	}
	locs := index(b.Locations, func(l Location) string { return l.ID })
	whs := index(b.Warehouses, func(w Warehouse) string { return w.ID })
	c := abi.InputCounts{Items: len(b.Items), Locations: len(b.Locations), Warehouses: len(b.Warehouses), Mappings: len(b.Mappings)}
	for _, it := range b.Items {
		c.Tags += len(it.Tags)
	}
	var flags uint32
	if b.Explain {
		flags |= abi.FlagExplain
	}
	in := abi.NewInputBuilder(nil, c, abi.Settings{Percentage: uint32(s.Percentage), MaxQuantity: uint32(s.MaxQuantity), Flags: flags}, []byte(b.Params), 0)
	for i, l := range b.Locations {
		in.SetLocation(i, l.ID, bit(l.Active, abi.LocationActive))
	}
	for i, w := range b.Warehouses {
		in.SetWarehouse(i, w.ID, bit(w.Active, abi.WarehouseActive)|bit(w.Default, abi.WarehouseDefault))
	}
	for i, m := range b.Mappings {
		loc := abi.AllLocations
		if m.Location != "*" {
			l, ok := locs[m.Location]
			if !ok {
				return nil, fmt.Errorf("sdktest: mapping %d names unknown location %q", i, m.Location)
			}
			loc = uint32(l)
		}
		w, ok := whs[m.Warehouse]
		if !ok {
			return nil, fmt.Errorf("sdktest: mapping %d names unknown warehouse %q", i, m.Warehouse)
		}
		in.SetMapping(i, loc, uint32(w))
	}
	for i, it := range b.Items {
		in.SetItem(i, bit(!it.Untracked, abi.ItemTracked)|bit(it.ContinueSelling, abi.ItemContinueSelling), it.ID, it.ProductID, it.SKU, it.Tags)
		for id, v := range it.Available {
			l, ok := locs[id]
			if !ok {
				return nil, fmt.Errorf("sdktest: item %d has stock at unknown location %q", i, id)
			}
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("sdktest: item %d has %d available at %q, outside int32", i, v, id)
			}
			in.SetAvailable(i, l, int32(v))
		}
		for id, q := range it.Quantities {
			w, ok := whs[id]
			if !ok {
				return nil, fmt.Errorf("sdktest: item %d has a quantity for unknown warehouse %q", i, id)
			}
			if q < math.MinInt32 || q > math.MaxInt32 {
				return nil, fmt.Errorf("sdktest: item %d has quantity %d in %q, outside int32", i, q, id)
			}
			in.SetQuantity(i, w, int32(q))
		}
	}
	return in.Bytes(), nil
}

func bit(set bool, flag uint32) uint32 {
	if set {
		return flag
	}
	return 0
}

func index[T any](s []T, id func(T) string) map[string]int {
	m := make(map[string]int, len(s))
	for i, v := range s {
		m[id(v)] = i
	}
	return m
}

// Result is what a rule produced for a batch.
type Result struct {
	// Items are the items' results, in batch order.
	Items []ItemResult
	// Output is the encoded output, for byte-level comparisons.
	Output []byte
}

// ItemResult is one item's result.
type ItemResult struct {
	// Quantities by warehouse id, every warehouse of the batch included.
	Quantities map[string]int64
	// Err is the item's failure, or "".
	Err string
	// Notes are the item's explanations by warehouse id; "" holds the
	// notes about the whole item.
	Notes map[string][]abi.Attr
}

// ErrRuleFailed is wrapped by Run's error when the rule failed the whole
// batch, by returning an error or panicking.
var ErrRuleFailed = errors.New("rule failed")

// Run runs the rule natively on the batch and checks its output as the host
// does.
func Run(r sdk.Rule, b Batch) (*Result, error) {
	input, err := b.Encode()
	if err != nil {
		return nil, err
	}
	return Decode(b, sdk.NewRunner(r).Run(input))
}

// Decode checks an output for the batch and returns it as a Result.
func Decode(b Batch, output []byte) (*Result, error) {
	out, err := abi.ParseOutput(output, len(b.Items), len(b.Warehouses))
	if err != nil {
		return nil, err
	}
	if msg, failed := out.Failed(); failed {
		return nil, fmt.Errorf("%w: %s", ErrRuleFailed, msg)
	}
	res := &Result{Items: make([]ItemResult, len(b.Items)), Output: slices.Clone(output)}
	for i := range b.Items {
		q := make(map[string]int64, len(b.Warehouses))
		for w, wh := range b.Warehouses {
			q[wh.ID] = int64(out.Quantity(i, w))
		}
		res.Items[i].Quantities = q
	}
	for k := range out.NumItemErrors() {
		i, msg := out.ItemError(k)
		res.Items[i].Err = msg
	}
	for k := range out.NumNotes() {
		i, w, attrs, err := out.Note(k)
		if err != nil {
			return nil, err
		}
		key := ""
		if w >= 0 {
			key = b.Warehouses[w].ID
		}
		if res.Items[i].Notes == nil {
			res.Items[i].Notes = map[string][]abi.Attr{}
		}
		res.Items[i].Notes[key] = append(res.Items[i].Notes[key], attrs...)
	}
	return res, nil
}
