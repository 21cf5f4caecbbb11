package sdk_test

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// shop is a batch with something in every part: an inactive location and
// warehouse, a "*" mapping and a single-location one, tags, negative stock
// and quantities from the rules before.
func shop() sdktest.Batch {
	return sdktest.Batch{
		Locations: []sdktest.Location{{ID: "A", Active: true}, {ID: "B"}},
		Warehouses: []sdktest.Warehouse{
			{ID: "alpha", Active: true, Default: true},
			{ID: "beta", Active: true},
			{ID: "gamma"},
		},
		Mappings: []sdktest.Mapping{{Location: "*", Warehouse: "alpha"}, {Location: "B", Warehouse: "beta"}},
		Settings: sdk.Settings{Percentage: 8000, MaxQuantity: 500},
		Params:   `{"keep":2}`,
		Items: []sdktest.Item{
			{
				ID: "v-1", ProductID: "p-1", SKU: "SKU-1", Tags: []string{"sale", "Fragile"},
				Available:  map[string]int64{"A": 985, "B": -3},
				Quantities: map[string]int64{"alpha": 788, "beta": 7},
			},
			{ID: "v-2", Untracked: true, ContinueSelling: true, Tags: []string{"preorder"}},
		},
	}
}

// nothing is a rule that leaves every quantity as it was.
var nothing = sdk.RuleFunc(func(*sdk.Batch) error { return nil })

// run runs rule on b through sdktest and fails the test on an error.
func run(t *testing.T, rule sdk.RuleFunc, b sdktest.Batch) *sdktest.Result {
	t.Helper()
	res, err := sdktest.Run(rule, b)
	if err != nil {
		t.Fatalf("sdktest.Run: %v", err)
	}
	return res
}

// seen is what a rule saw of a batch, copied out of it.
type seen struct {
	len, locations, warehouses, mappings int
	settings                             sdk.Settings
	params                               string
	explaining                           bool
	location                             []sdk.Location
	warehouse                            []sdk.Warehouse
	mapping                              []sdk.Mapping
	items                                []seenItem
}

type seenItem struct {
	index                     int
	id, product, sku          string
	tracked, continueSelling  bool
	tags                      []string
	stock, quantities         []int32
	available, quantity       []int64
	hasSale, hasSALE, hasNone bool
}

func look(b *sdk.Batch) seen {
	s := seen{
		len: b.Len(), locations: b.NumLocations(), warehouses: b.NumWarehouses(), mappings: b.NumMappings(),
		settings: b.Settings(), params: string(b.Params()), explaining: b.Explaining(),
	}
	for l := range b.NumLocations() {
		loc := b.Location(l)
		loc.ID = strings.Clone(loc.ID)
		s.location = append(s.location, loc)
	}
	for w := range b.NumWarehouses() {
		wh := b.Warehouse(w)
		wh.ID = strings.Clone(wh.ID)
		s.warehouse = append(s.warehouse, wh)
	}
	for m := range b.NumMappings() {
		s.mapping = append(s.mapping, b.Mapping(m))
	}
	for i, it := range b.Items() {
		si := seenItem{
			index: i, id: strings.Clone(it.ID()), product: strings.Clone(it.ProductID()), sku: strings.Clone(it.SKU()),
			tracked: it.Tracked(), continueSelling: it.ContinueSelling(),
			stock: slices.Clone(it.Stock()), quantities: slices.Clone(it.Quantities()),
			hasSale: it.HasTag("sale"), hasSALE: it.HasTag("SALE"), hasNone: it.HasTag(""),
		}
		if it.Index() != i || b.Item(i).ID() != it.ID() {
			panic("Items() and Item(i) disagree")
		}
		for tag := range it.Tags() {
			si.tags = append(si.tags, strings.Clone(tag))
		}
		for l := range b.NumLocations() {
			si.available = append(si.available, it.Available(l))
		}
		for w := range b.NumWarehouses() {
			si.quantity = append(si.quantity, it.Quantity(w))
		}
		s.items = append(s.items, si)
	}
	return s
}

// TestBatchReadsInput: a rule sees the batch sdktest was given, in the
// order it was given.
func TestBatchReadsInput(t *testing.T) {
	var got seen
	run(t, func(b *sdk.Batch) error { got = look(b); return nil }, shop())
	want := seen{
		len: 2, locations: 2, warehouses: 3, mappings: 2,
		settings: sdk.Settings{Percentage: 8000, MaxQuantity: 500},
		params:   `{"keep":2}`,
		location: []sdk.Location{{ID: "A", Active: true}, {ID: "B"}},
		warehouse: []sdk.Warehouse{
			{ID: "alpha", Active: true, Default: true},
			{ID: "beta", Active: true},
			{ID: "gamma"},
		},
		mapping: []sdk.Mapping{{Location: sdk.AllLocations, Warehouse: 0}, {Location: 1, Warehouse: 1}},
		items: []seenItem{
			{
				index: 0, id: "v-1", product: "p-1", sku: "SKU-1", tracked: true, tags: []string{"sale", "Fragile"},
				stock: []int32{985, -3}, available: []int64{985, -3},
				quantities: []int32{788, 7, 0}, quantity: []int64{788, 7, 0},
				hasSale: true,
			},
			{
				index: 1, id: "v-2", continueSelling: true, tags: []string{"preorder"},
				stock: []int32{0, 0}, available: []int64{0, 0},
				quantities: []int32{0, 0, 0}, quantity: []int64{0, 0, 0},
			},
		},
	}
	if d := diff(got, want); d != "" {
		t.Errorf("the rule saw %s", d)
	}
}

// diff describes how two views differ, or returns "".
func diff(got, want seen) string {
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		return fmt.Sprintf("\n%s\nwant\n%s", g, w)
	}
	return ""
}

func TestItemsStopsWhenAsked(t *testing.T) {
	var visited, tags int
	run(t, func(b *sdk.Batch) error {
		for range b.Items() {
			visited++
			break
		}
		for range b.Item(0).Tags() {
			tags++
			break
		}
		return nil
	}, shop())
	if visited != 1 || tags != 1 {
		t.Errorf("visited %d items and %d tags before the break, want 1 and 1", visited, tags)
	}
}

func TestHasTag(t *testing.T) {
	tests := []struct {
		name string
		item int
		tag  string
		want bool
	}{
		{name: "first tag", item: 0, tag: "sale", want: true},
		{name: "second tag", item: 0, tag: "Fragile", want: true},
		{name: "case differs", item: 0, tag: "fragile", want: false},
		{name: "prefix of a tag", item: 0, tag: "sal", want: false},
		{name: "another item's tag", item: 0, tag: "preorder", want: false},
		{name: "own tag after another item's", item: 1, tag: "preorder", want: true},
		{name: "empty", item: 0, tag: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bool
			run(t, func(b *sdk.Batch) error { got = b.Item(tt.item).HasTag(tt.tag); return nil }, shop())
			if got != tt.want {
				t.Errorf("Item(%d).HasTag(%q) = %v, want %v", tt.item, tt.tag, got, tt.want)
			}
		})
	}
}

// TestUntouchedQuantitiesPass: a rule that sets nothing publishes the
// quantities the rules before it left.
func TestUntouchedQuantitiesPass(t *testing.T) {
	res := run(t, nothing, shop())
	want := []map[string]int64{{"alpha": 788, "beta": 7, "gamma": 0}, {"alpha": 0, "beta": 0, "gamma": 0}}
	for i, w := range want {
		if got := res.Items[i].Quantities; !maps.Equal(got, w) {
			t.Errorf("item %d quantities = %v, want %v", i, got, w)
		}
	}
}

func TestSetQuantity(t *testing.T) {
	tests := []struct {
		name string
		set  int64
		want int64
	}{
		{name: "in range", set: 42, want: 42},
		{name: "zero", set: 0, want: 0},
		{name: "negative, for the host to clamp", set: -5, want: -5},
		{name: "above MaxQuantity, for the host to clamp", set: 1_000_000, want: 1_000_000},
		{name: "largest int32", set: math.MaxInt32, want: math.MaxInt32},
		{name: "just above int32", set: math.MaxInt32 + 1, want: math.MaxInt32},
		{name: "largest int64", set: math.MaxInt64, want: math.MaxInt32},
		{name: "just below int32", set: math.MinInt32 - 1, want: math.MinInt32},
		{name: "smallest int64", set: math.MinInt64, want: math.MinInt32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var readBack int64
			res := run(t, func(b *sdk.Batch) error {
				it := b.Item(0)
				it.SetQuantity(1, tt.set)
				readBack = it.Quantity(1)
				return nil
			}, shop())
			if readBack != tt.want {
				t.Errorf("Quantity(1) after SetQuantity(1, %d) = %d, want %d", tt.set, readBack, tt.want)
			}
			got := res.Items[0].Quantities
			if want := map[string]int64{"alpha": 788, "beta": tt.want, "gamma": 0}; !maps.Equal(got, want) {
				t.Errorf("published %v, want %v", got, want)
			}
		})
	}
}

// TestQuantitiesView: writing the slice Quantities returns sets the item's
// quantities, and only that item's.
func TestQuantitiesView(t *testing.T) {
	var readBack int64
	res := run(t, func(b *sdk.Batch) error {
		q := b.Item(0).Quantities()
		q[0] = 1
		readBack = b.Item(0).Quantity(0)
		_ = append(q, 99) // past the item's row: must not reach item 1
		return nil
	}, shop())
	if readBack != 1 {
		t.Errorf("Quantity(0) after writing Quantities()[0] = %d, want 1", readBack)
	}
	if got := res.Items[0].Quantities["alpha"]; got != 1 {
		t.Errorf("item 0 publishes %d in alpha, want 1", got)
	}
	if got := res.Items[1].Quantities["alpha"]; got != 0 {
		t.Errorf("item 1 publishes %d in alpha, want 0: appending to item 0's row reached it", got)
	}
}

func TestRuleFails(t *testing.T) {
	errNoFeed := errors.New("no stock feed")
	tests := []struct {
		name        string
		rule        sdk.RuleFunc
		wantMessage string // a prefix of the failure message
	}{
		{name: "error", rule: func(*sdk.Batch) error { return errNoFeed }, wantMessage: "no stock feed"},
		{name: "error after failing an item", rule: func(b *sdk.Batch) error {
			b.Item(0).Fail(errors.New("item"))
			return errNoFeed
		}, wantMessage: "no stock feed"},
		{name: "panic", rule: func(*sdk.Batch) error { panic("boom") }, wantMessage: "rule panicked: boom"},
		{name: "panic with an error", rule: func(*sdk.Batch) error { panic(errNoFeed) }, wantMessage: "rule panicked: no stock feed"},
		{name: "item out of range", rule: func(b *sdk.Batch) error {
			_ = b.Item(b.Len()).ID()
			return nil
		}, wantMessage: "rule panicked: runtime error: "},
		{name: "warehouse out of range", rule: func(b *sdk.Batch) error {
			b.Item(b.Len()-1).SetQuantity(b.NumWarehouses(), 1)
			return nil
		}, wantMessage: "rule panicked: runtime error: index out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := shop()
			input, err := b.Encode()
			if err != nil {
				t.Fatal(err)
			}
			out, err := abi.ParseOutput(sdk.NewRunner(tt.rule).Run(input), len(b.Items), len(b.Warehouses))
			if err != nil {
				t.Fatalf("ParseOutput: %v", err)
			}
			msg, failed := out.Failed()
			if !failed || !strings.HasPrefix(msg, tt.wantMessage) {
				t.Errorf("Failed() = %q, %v; want a message starting %q", msg, failed, tt.wantMessage)
			}
			// sdktest reports the same failure as ErrRuleFailed.
			if _, err := sdktest.Run(tt.rule, b); !errors.Is(err, sdktest.ErrRuleFailed) || !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("sdktest.Run() error = %v, want ErrRuleFailed with %q", err, tt.wantMessage)
			}
		})
	}
}

// TestItemWarehouseOutOfRange: a rule that sets a warehouse past the last
// one fails, as it does on the last item; it must not publish a quantity
// for the next item instead.
func TestItemWarehouseOutOfRange(t *testing.T) {
	res, err := sdktest.Run(sdk.RuleFunc(func(b *sdk.Batch) error {
		b.Item(0).SetQuantity(b.NumWarehouses(), 42)
		return nil
	}), shop())
	if err == nil {
		t.Fatalf("sdktest.Run() succeeded, item 1 publishes %v; want ErrRuleFailed", res.Items[1].Quantities)
	}
	if !errors.Is(err, sdktest.ErrRuleFailed) {
		t.Errorf("sdktest.Run() error = %v, want ErrRuleFailed", err)
	}
}

func TestItemFail(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{name: "with an error", err: errors.New("no SKU"), wantErr: "no SKU"},
		{name: "with nil", err: nil, wantErr: "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, func(b *sdk.Batch) error {
				b.Item(1).Fail(tt.err)
				b.Item(0).SetQuantity(0, 3)
				return nil
			}, shop())
			if got := res.Items[1].Err; got != tt.wantErr {
				t.Errorf("item 1 Err = %q, want %q", got, tt.wantErr)
			}
			if got := res.Items[0]; got.Err != "" || got.Quantities["alpha"] != 3 {
				t.Errorf("item 0 = %+v, want no error and 3 in alpha", got)
			}
		})
	}
}

// TestItemFailTwice: failing an item that already failed, say once per
// warehouse, still fails just that item; it must not make the host reject
// the whole output.
func TestItemFailTwice(t *testing.T) {
	res, err := sdktest.Run(sdk.RuleFunc(func(b *sdk.Batch) error {
		for w := range b.NumWarehouses() {
			b.Item(0).Fail(fmt.Errorf("warehouse %d", w))
		}
		return nil
	}), shop())
	if err != nil {
		t.Fatalf("sdktest.Run() error = %v, want item 0 failed", err)
	}
	if res.Items[0].Err == "" || res.Items[1].Err != "" {
		t.Errorf("item errors = %q, %q; want only item 0 failed", res.Items[0].Err, res.Items[1].Err)
	}
}

// loud is a slog.LogValuer, which Explain resolves.
type loud string

func (l loud) LogValue() slog.Value { return slog.StringValue(strings.ToUpper(string(l))) }

func TestExplainKinds(t *testing.T) {
	when := time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		attr slog.Attr
		want abi.Attr
	}{
		{name: "bool", attr: slog.Bool("capped", true), want: abi.Attr{Key: "capped", Kind: abi.KindBool, Bool: true}},
		{name: "int", attr: slog.Int("total", -3), want: abi.Attr{Key: "total", Kind: abi.KindInt64, Int64: -3}},
		{name: "int64", attr: slog.Int64("total", math.MinInt64), want: abi.Attr{Key: "total", Kind: abi.KindInt64, Int64: math.MinInt64}},
		{name: "uint64", attr: slog.Uint64("n", math.MaxUint64), want: abi.Attr{Key: "n", Kind: abi.KindUint64, Uint64: math.MaxUint64}},
		{name: "float64", attr: slog.Float64("share", 0.8), want: abi.Attr{Key: "share", Kind: abi.KindFloat64, Float64: 0.8}},
		{name: "string", attr: slog.String("why", "untracked"), want: abi.Attr{Key: "why", Kind: abi.KindString, String: "untracked"}},
		{name: "group", attr: slog.Group("sum", slog.Int("A", 100), slog.Group("inner", slog.Bool("ok", false))),
			want: abi.Attr{Key: "sum", Kind: abi.KindGroup, Group: []abi.Attr{
				{Key: "A", Kind: abi.KindInt64, Int64: 100},
				{Key: "inner", Kind: abi.KindGroup, Group: []abi.Attr{{Key: "ok", Kind: abi.KindBool}}},
			}}},
		{name: "duration as a string", attr: slog.Duration("took", 1500*time.Millisecond), want: abi.Attr{Key: "took", Kind: abi.KindString, String: "1.5s"}},
		{name: "time as a string", attr: slog.Time("at", when), want: abi.Attr{Key: "at", Kind: abi.KindString, String: "2024-05-01 09:30:00 +0000 UTC"}},
		{name: "error as a string", attr: slog.Any("err", errors.New("boom")), want: abi.Attr{Key: "err", Kind: abi.KindString, String: "boom"}},
		{name: "struct as a string", attr: slog.Any("pair", struct{ A, B int }{1, 2}), want: abi.Attr{Key: "pair", Kind: abi.KindString, String: "{1 2}"}},
		{name: "LogValuer resolved", attr: slog.Any("v", loud("hi")), want: abi.Attr{Key: "v", Kind: abi.KindString, String: "HI"}},
		{name: "LogValuer in a group", attr: slog.Group("g", slog.Any("v", loud("hi"))),
			want: abi.Attr{Key: "g", Kind: abi.KindGroup, Group: []abi.Attr{{Key: "v", Kind: abi.KindString, String: "HI"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := shop()
			b.Explain = true
			res := run(t, func(b *sdk.Batch) error { b.Item(0).Explain(0, tt.attr); return nil }, b)
			got := res.Items[0].Notes["alpha"]
			if len(got) != 1 || !attrEqual(got[0], tt.want) {
				t.Errorf("notes = %+v, want [%+v]", got, tt.want)
			}
		})
	}
}

func attrEqual(a, b abi.Attr) bool {
	return a.Key == b.Key && a.Kind == b.Kind && a.Bool == b.Bool && a.Int64 == b.Int64 && a.Uint64 == b.Uint64 &&
		a.Float64 == b.Float64 && a.String == b.String && slices.EqualFunc(a.Group, b.Group, attrEqual)
}

func TestExplain(t *testing.T) {
	explain := func(b *sdk.Batch) error {
		it := b.Item(0)
		it.Explain(-1, slog.String("why", "tracked"))
		it.Explain(0, slog.Int("total", 985))
		it.Explain(0, slog.Int("percent", 80), slog.Int("result", 788))
		it.Explain(1, slog.Bool("capped", false))
		it.Explain(2) // no attributes, no note
		return nil
	}
	t.Run("asked", func(t *testing.T) {
		b := shop()
		b.Explain = true
		var explaining bool
		res := run(t, func(b *sdk.Batch) error { explaining = b.Explaining(); return explain(b) }, b)
		if !explaining {
			t.Errorf("Explaining() = false with Explain set")
		}
		want := map[string][]abi.Attr{
			"": {{Key: "why", Kind: abi.KindString, String: "tracked"}},
			"alpha": {
				{Key: "total", Kind: abi.KindInt64, Int64: 985},
				{Key: "percent", Kind: abi.KindInt64, Int64: 80},
				{Key: "result", Kind: abi.KindInt64, Int64: 788},
			},
			"beta": {{Key: "capped", Kind: abi.KindBool}},
		}
		got := res.Items[0].Notes
		if !maps.EqualFunc(got, want, func(a, b []abi.Attr) bool { return slices.EqualFunc(a, b, attrEqual) }) {
			t.Errorf("notes = %+v, want %+v", got, want)
		}
		if n := res.Items[1].Notes; n != nil {
			t.Errorf("item 1 notes = %+v, want none", n)
		}
	})
	t.Run("not asked", func(t *testing.T) {
		var explaining bool
		res := run(t, func(b *sdk.Batch) error { explaining = b.Explaining(); return explain(b) }, shop())
		if explaining {
			t.Errorf("Explaining() = true without Explain")
		}
		if n := res.Items[0].Notes; n != nil {
			t.Errorf("notes = %+v, want none", n)
		}
	})
}

// TestExplainAlwaysAccepted: whatever a rule explains, the host accepts the
// output; an explanation must not fail the batch it explains.
func TestExplainAlwaysAccepted(t *testing.T) {
	deep := slog.Bool("leaf", true)
	for range abi.MaxAttrDepth {
		deep = slog.Group("g", deep)
	}
	tests := []struct {
		name string
		attr slog.Attr
	}{
		{name: "value not UTF-8", attr: slog.String("sku", "SKU-\xff")},
		{name: "key not UTF-8", attr: slog.Int("\xffkey", 1)},
		{name: "key longer than MaxAttrKeyLen", attr: slog.Int(strings.Repeat("k", abi.MaxAttrKeyLen+1), 1)},
		{name: "groups deeper than MaxAttrDepth", attr: deep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := shop()
			b.Explain = true
			if _, err := sdktest.Run(sdk.RuleFunc(func(b *sdk.Batch) error { b.Item(0).Explain(0, tt.attr); return nil }), b); err != nil {
				t.Errorf("sdktest.Run() error = %v", err)
			}
		})
	}
}

type keepParams struct {
	Keep int64  `json:"keep"`
	Tag  string `json:"tag"`
}

func TestDecodeParams(t *testing.T) {
	defaults := keepParams{Keep: 2, Tag: "sale"}
	tests := []struct {
		name    string
		params  string
		want    keepParams
		wantErr string // a part of the error, or "" for none
	}{
		{name: "none keeps the defaults", params: "", want: defaults},
		{name: "null keeps the defaults", params: "null", want: defaults},
		{name: "empty object keeps the defaults", params: "{}", want: defaults},
		{name: "one field", params: `{"keep":5}`, want: keepParams{Keep: 5, Tag: "sale"}},
		{name: "every field", params: `{"keep":0,"tag":"preorder"}`, want: keepParams{Keep: 0, Tag: "preorder"}},
		{name: "unknown field", params: `{"keep":1,"kepe":5}`, wantErr: `"kepe"`},
		{name: "wrong type", params: `{"keep":"five"}`, wantErr: "keep"},
		{name: "not JSON", params: `{"keep":`, wantErr: "params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := shop()
			b.Params = tt.params
			var got keepParams
			_, err := sdktest.Run(sdk.RuleFunc(func(b *sdk.Batch) error {
				got = defaults
				return b.DecodeParams(&got)
			}), b)
			if tt.wantErr != "" {
				if !errors.Is(err, sdktest.ErrRuleFailed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want a failed rule mentioning %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if got != tt.want {
				t.Errorf("DecodeParams gave %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		name, params string
	}{
		{name: "none", params: ""},
		{name: "object", params: `{"keep":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := shop()
			b.Params = tt.params
			var got string
			run(t, func(b *sdk.Batch) error { got = string(b.Params()); return nil }, b)
			if got != tt.params {
				t.Errorf("Params() = %q, want %q", got, tt.params)
			}
		})
	}
}

// TestMalformedInput: a runner given bytes that are not a batch answers
// with a failed output that says so, without calling the rule.
func TestMalformedInput(t *testing.T) {
	valid, err := shop().Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		input []byte
	}{
		{name: "nothing", input: nil},
		// Clipped: a cut input with spare capacity is abi's TestParseInputRejects.
		{name: "shorter than the header", input: slices.Clip(valid[:abi.InputHeaderSize-1])},
		{name: "an output", input: func() []byte { var b abi.OutputBuilder; b.Reset(1, 1, nil); return b.Bytes() }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			out := sdk.NewRunner(sdk.RuleFunc(func(*sdk.Batch) error { called = true; return nil })).Run(tt.input)
			o, err := abi.ParseOutput(out, 0, 0)
			if err != nil {
				t.Fatalf("ParseOutput: %v", err)
			}
			if msg, failed := o.Failed(); !failed || !strings.HasPrefix(msg, abi.ErrMalformedInput.Error()) {
				t.Errorf("Failed() = %q, %v; want a message starting %q", msg, failed, abi.ErrMalformedInput)
			}
			if called {
				t.Errorf("the rule ran on a malformed input")
			}
		})
	}
}

// TestRunnerReuse: a Runner reuses its buffers, and nothing of one run
// shows in the next: not item errors, notes, quantities or a failure.
func TestRunnerReuse(t *testing.T) {
	var fail, panics bool
	rn := sdk.NewRunner(sdk.RuleFunc(func(b *sdk.Batch) error {
		if panics {
			panic("boom")
		}
		if fail {
			b.Item(0).Fail(errors.New("no SKU"))
			b.Item(0).Explain(0, slog.Int("total", 1))
			b.Item(1).SetQuantity(0, 5)
		}
		return nil
	}))
	first := shop()
	first.Explain = true
	second := shop()
	second.Explain = true
	second.Items[0].Quantities = map[string]int64{"alpha": 1, "beta": 2, "gamma": 3}

	step := func(b sdktest.Batch) (*sdktest.Result, error) {
		t.Helper()
		input, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return sdktest.Decode(b, rn.Run(input))
	}
	fail = true
	if _, err := step(first); err != nil {
		t.Fatalf("first run: %v", err)
	}
	panics = true
	if _, err := step(first); !errors.Is(err, sdktest.ErrRuleFailed) {
		t.Fatalf("panicking run: error = %v, want ErrRuleFailed", err)
	}
	if out := rn.Run([]byte("not a batch")); len(out) == 0 {
		t.Fatalf("malformed run: no output")
	}
	fail, panics = false, false
	res, err := step(second)
	if err != nil {
		t.Fatalf("last run: %v", err)
	}
	for i, want := range []map[string]int64{{"alpha": 1, "beta": 2, "gamma": 3}, {"alpha": 0, "beta": 0, "gamma": 0}} {
		got := res.Items[i]
		if got.Err != "" || got.Notes != nil || !maps.Equal(got.Quantities, want) {
			t.Errorf("last run, item %d = %+v, want quantities %v and nothing else", i, got, want)
		}
	}
}

// TestRunnersInParallel: Runners share nothing, so a host may run one per
// goroutine on the same input.
func TestRunnersInParallel(t *testing.T) {
	b := shop()
	input, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rule := sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			for w := range b.NumWarehouses() {
				it.SetQuantity(w, it.Quantity(w)+int64(it.Stock()[0]))
			}
		}
		return nil
	})
	runs := 200
	if testing.Short() {
		runs = 20
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			rn := sdk.NewRunner(rule)
			for range runs {
				res, err := sdktest.Decode(b, rn.Run(input))
				if err != nil {
					t.Error(err)
					return
				}
				if got := res.Items[0].Quantities["alpha"]; got != 788+985 {
					t.Errorf("alpha = %d, want %d", got, 788+985)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRegisterTwicePanics(t *testing.T) {
	register := func() (p any) {
		defer func() { p = recover() }()
		sdk.Register(nothing)
		return nil
	}
	register() // the first call in this binary succeeds, later ones panic
	if p := register(); p == nil {
		t.Errorf("a second Register did not panic")
	}
}
