package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// rule is the plugin's rule, as init registers it.
var rule = sdk.WithParams(Params{}, Compute)

// shop has two active warehouses and an inactive one; the quantities so far
// are what the default rule left, so the inactive warehouse has 0.
func shop(params string, items ...sdktest.Item) sdktest.Batch {
	return sdktest.Batch{
		Warehouses: []sdktest.Warehouse{
			{ID: "wh-1", Active: true, Default: true},
			{ID: "wh-2", Active: true},
			{ID: "wh-off"},
		},
		Params: params,
		Items:  items,
	}
}

// qty is an item's quantities in wh-1 and wh-2 (and 0 in wh-off).
func qty(wh1, wh2 int64) map[string]int64 {
	return map[string]int64{"wh-1": wh1, "wh-2": wh2, "wh-off": 0}
}

func TestBuffer(t *testing.T) {
	tests := []struct {
		name   string
		params string
		item   sdktest.Item
		want   map[string]int64
	}{
		{name: "every active warehouse", params: `{"units": 2}`,
			item: sdktest.Item{Quantities: qty(10, 3)}, want: qty(8, 1)},
		{name: "never below zero", params: `{"units": 5}`,
			item: sdktest.Item{Quantities: qty(3, 0)}, want: qty(0, 0)},
		{name: "zero units", params: `{"units": 0}`,
			item: sdktest.Item{Quantities: qty(10, 3)}, want: qty(10, 3)},
		{name: "warehouse override", params: `{"units": 2, "warehouses": {"wh-2": 5}}`,
			item: sdktest.Item{Quantities: qty(10, 10)}, want: qty(8, 5)},
		{name: "override of zero", params: `{"units": 2, "warehouses": {"wh-1": 0}}`,
			item: sdktest.Item{Quantities: qty(10, 10)}, want: qty(10, 8)},
		{name: "unknown warehouse id ignored", params: `{"units": 2, "warehouses": {"closed-wh": 9}}`,
			item: sdktest.Item{Quantities: qty(10, 10)}, want: qty(8, 8)},
		{name: "override of an inactive warehouse", params: `{"units": 1, "warehouses": {"wh-off": 3}}`,
			item: sdktest.Item{Quantities: qty(10, 10)}, want: qty(9, 9)},
		{name: "untracked keeps max_quantity", params: `{"units": 2}`,
			item: sdktest.Item{Untracked: true, Quantities: qty(999_999, 999_999)}, want: qty(999_999, 999_999)},
		{name: "continue selling keeps max_quantity", params: `{"units": 2}`,
			item: sdktest.Item{ContinueSelling: true, Quantities: qty(999_999, 0)}, want: qty(999_999, 0)},
		{name: "negative quantity becomes zero", params: `{"units": 0}`,
			item: sdktest.Item{Quantities: qty(-4, 10)}, want: qty(0, 10)},
		{name: "huge buffer", params: `{"units": 9223372036854775807}`,
			item: sdktest.Item{Quantities: qty(2147483647, 1)}, want: qty(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.item.ID = "v-1"
			res, err := sdktest.Check(t, rule, ".", shop(tt.params, tt.item))
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Items[0].Quantities; !equal(got, tt.want) {
				t.Errorf("quantities %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBufferExplain(t *testing.T) {
	b := shop(`{"units": 2, "warehouses": {"wh-2": 5}}`,
		sdktest.Item{ID: "v-1", Quantities: qty(10, 3)},
		sdktest.Item{ID: "v-2", Untracked: true, Quantities: qty(999_999, 999_999)},
		sdktest.Item{ID: "v-3", ContinueSelling: true, Quantities: qty(999_999, 999_999)},
	)
	b.Explain = true
	res, err := sdktest.Check(t, rule, ".", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"wh-1": "before=10 units=2 after=8", "wh-2": "before=3 units=5 after=0"},
		{"": "unchanged=untracked"},
		{"": "unchanged=continue_selling"},
	}
	for i, it := range res.Items {
		if got := notes(it.Notes); !equal(got, want[i]) {
			t.Errorf("item %d: notes %v, want %v", i, got, want[i])
		}
	}
}

// Example is the README's: the default rule left 788 in alpha and 12 in
// beta; the buffer holds back 2, and 5 in beta.
func Example() {
	res, err := sdktest.Run(rule, sdktest.Batch{
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}},
		Params:     `{"units": 2, "warehouses": {"beta": 5}}`,
		Items: []sdktest.Item{
			{ID: "v-1", Quantities: map[string]int64{"alpha": 788, "beta": 12}},
			{ID: "v-2", Quantities: map[string]int64{"alpha": 788, "beta": 3}},
			{ID: "v-3", Untracked: true, Quantities: map[string]int64{"alpha": 999999, "beta": 999999}},
		},
		Explain: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, it := range res.Items {
		n := notes(it.Notes)
		note := "alpha: " + n["alpha"]
		if n["alpha"] == "" {
			note = "item: " + n[""]
		}
		fmt.Printf("v-%d: alpha=%d beta=%d | %s\n", i+1, it.Quantities["alpha"], it.Quantities["beta"], note)
	}
	// Output:
	// v-1: alpha=786 beta=7 | alpha: before=788 units=2 after=786
	// v-2: alpha=786 beta=0 | alpha: before=788 units=2 after=786
	// v-3: alpha=999999 beta=999999 | item: unchanged=untracked
}

func TestParams(t *testing.T) {
	tests := []struct {
		params  string
		wantErr string
	}{
		{params: ``, wantErr: `params: units is required, for example {"units": 2}`},
		{params: `{}`, wantErr: `params: units is required`},
		{params: `{"units": null}`, wantErr: `params: units is required`},
		{params: `{"units": -1}`, wantErr: `params: units must be at least 0, got -1`},
		{params: `{"unit": 2}`, wantErr: `params: json: unknown field "unit"`},
		{params: `{"units": 2, "warehouse": {"wh-1": 1}}`, wantErr: `params: json: unknown field "warehouse"`},
		{params: `{"units": 2.5}`, wantErr: `params: json: cannot unmarshal number 2.5`},
		{params: `{"units": "2"}`, wantErr: `params: json: cannot unmarshal string`},
		{params: `{"units": 2, "warehouses": {"wh-1": -3}}`, wantErr: `params: warehouses: units for "wh-1" must be at least 0, got -3`},
		{params: `{"units": 2, "warehouses": {"": 1}}`, wantErr: `params: warehouses: a warehouse id must not be empty`},
		{params: `{"units": 2, "warehouses": ["wh-1"]}`, wantErr: `params: json: cannot unmarshal array`},
		{params: `{"units": 2} {"units": 3}`, wantErr: `params: unexpected data after the JSON value`},
	}
	for _, tt := range tests {
		// With one item, and with none: the host checks a chain's params on
		// a batch of no items before it runs the chain.
		for _, items := range [][]sdktest.Item{{{ID: "v-1", Quantities: qty(10, 10)}}, nil} {
			_, err := sdktest.Check(t, rule, ".", shop(tt.params, items...))
			if !errors.Is(err, sdktest.ErrRuleFailed) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("params %#q, %d items: err = %v, want %q", tt.params, len(items), err, tt.wantErr)
			}
		}
	}
	for _, params := range []string{`{"units": 0}`, `{"units": 3, "warehouses": {}}`, `{"units": 3, "warehouses": null}`} {
		if _, err := sdktest.Run(rule, shop(params)); err != nil {
			t.Errorf("params %#q: %v", params, err)
		}
	}
}

// TestProperties checks, on random shops and items, that the buffer holds
// back exactly its units where it applies and touches nothing else, and
// that explaining changes no quantity. rapid runs 100 cases (-rapid.checks=N
// for more).
func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t)
		units := genUnits().Draw(t, "units")
		p := Params{Units: &units, Warehouses: map[string]int64{}}
		for _, w := range append(b.Warehouses, sdktest.Warehouse{ID: "closed-wh"}) {
			if rapid.Bool().Draw(t, w.ID+".override") {
				p.Warehouses[w.ID] = genUnits().Draw(t, w.ID+".units")
			}
		}
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Params = string(raw)
		res, err := sdktest.Run(rule, b)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range b.Items {
			for _, w := range b.Warehouses {
				in, out := it.Quantities[w.ID], res.Items[i].Quantities[w.ID]
				n, ok := p.Warehouses[w.ID]
				if !ok {
					n = units
				}
				switch {
				case !w.Active, it.Untracked, it.ContinueSelling:
					if out != in {
						t.Fatalf("item %d, %s: %d became %d; it should be left alone", i, w.ID, in, out)
					}
				case out != max(0, in-n) || out < 0 || out > in:
					t.Fatalf("item %d, %s: %d - %d units became %d", i, w.ID, in, n, out)
				}
			}
		}
		b.Explain = true
		explained, err := sdktest.Run(rule, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b.Items {
			if !equal(explained.Items[i].Quantities, res.Items[i].Quantities) {
				t.Fatalf("item %d: explaining changed %v to %v", i, res.Items[i].Quantities, explained.Items[i].Quantities)
			}
		}
	})
}

func genUnits() *rapid.Generator[int64] {
	return rapid.OneOf(rapid.Int64Range(0, 20), rapid.SampledFrom([]int64{0, 1, 999_999, 1 << 40}))
}

// genBatch draws warehouses W0.. with random active flags and items with
// random flags whose quantities so far are what the host lets through a
// rule: 0 in inactive warehouses, within [0, 999,999] in active ones.
func genBatch(t *rapid.T) sdktest.Batch {
	var b sdktest.Batch
	for w := range rapid.IntRange(1, 5).Draw(t, "warehouses") {
		id := fmt.Sprintf("W%d", w)
		b.Warehouses = append(b.Warehouses, sdktest.Warehouse{ID: id, Active: rapid.Bool().Draw(t, id+".active"), Default: w == 0})
	}
	quantity := rapid.OneOf(rapid.Int64Range(0, 30), rapid.Int64Range(0, 999_999), rapid.SampledFrom([]int64{0, 1, 999_999}))
	for i := range rapid.IntRange(0, 6).Draw(t, "items") {
		id := fmt.Sprintf("v-%d", i)
		it := sdktest.Item{
			ID:              id,
			Untracked:       rapid.Float64Range(0, 1).Draw(t, id+".untracked") < 0.2,
			ContinueSelling: rapid.Float64Range(0, 1).Draw(t, id+".continue_selling") < 0.2,
			Quantities:      map[string]int64{},
		}
		for _, w := range b.Warehouses {
			if w.Active {
				it.Quantities[w.ID] = quantity.Draw(t, id+"."+w.ID)
			}
		}
		b.Items = append(b.Items, it)
	}
	return b
}

// notes renders an item's explanation as "key=value ..." by warehouse id.
func notes(n map[string][]abi.Attr) map[string]string {
	out := map[string]string{}
	for w, attrs := range n {
		var s []string
		for _, a := range attrs {
			switch a.Kind {
			case abi.KindInt64:
				s = append(s, fmt.Sprintf("%s=%d", a.Key, a.Int64))
			default:
				s = append(s, fmt.Sprintf("%s=%s", a.Key, a.String))
			}
		}
		out[w] = strings.Join(s, " ")
	}
	return out
}

func equal[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
