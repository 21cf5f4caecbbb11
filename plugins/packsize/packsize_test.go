package main

import (
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

func TestPackSize(t *testing.T) {
	tests := []struct {
		name   string
		params string
		item   sdktest.Item
		want   map[string]int64
	}{
		{name: "round down", params: `{"size": 6}`,
			item: sdktest.Item{Quantities: qty(14, 5)}, want: qty(12, 0)},
		{name: "whole packs kept", params: `{"size": 6}`,
			item: sdktest.Item{Quantities: qty(12, 0)}, want: qty(12, 0)},
		{name: "size one", params: `{"size": 1}`,
			item: sdktest.Item{Quantities: qty(14, 5)}, want: qty(14, 5)},
		{name: "untracked is rounded", params: `{"size": 12}`,
			item: sdktest.Item{Untracked: true, Quantities: qty(999_999, 999_999)}, want: qty(999_996, 999_996)},
		{name: "continue selling is rounded", params: `{"size": 12}`,
			item: sdktest.Item{ContinueSelling: true, Quantities: qty(999_999, 0)}, want: qty(999_996, 0)},
		{name: "size above the quantity", params: `{"size": 9223372036854775807}`,
			item: sdktest.Item{Quantities: qty(2147483647, 1)}, want: qty(0, 0)},
		{name: "negative quantity becomes zero", params: `{"size": 4}`,
			item: sdktest.Item{Quantities: qty(-5, 10)}, want: qty(0, 8)},
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

func TestPackSizeExplain(t *testing.T) {
	b := shop(`{"size": 6}`,
		sdktest.Item{ID: "v-1", Quantities: qty(14, 5)},
		sdktest.Item{ID: "v-2", ContinueSelling: true, Quantities: qty(999_999, 999_999)},
	)
	b.Explain = true
	res, err := sdktest.Check(t, rule, ".", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"wh-1": "before=14 size=6 after=12", "wh-2": "before=5 size=6 after=0"},
		{"wh-1": "before=999999 size=6 after=999996", "wh-2": "before=999999 size=6 after=999996"},
	}
	for i, it := range res.Items {
		if got := notes(it.Notes); !equal(got, want[i]) {
			t.Errorf("item %d: notes %v, want %v", i, got, want[i])
		}
	}
}

// Example is the README's: in cartons of 6, 14 becomes 12, 5 becomes 0,
// and an untracked item's 999,999 becomes 999,996.
func Example() {
	res, err := sdktest.Run(rule, sdktest.Batch{
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}},
		Params:     `{"size": 6}`,
		Items: []sdktest.Item{
			{ID: "v-1", Quantities: map[string]int64{"alpha": 14, "beta": 5}},
			{ID: "v-2", Quantities: map[string]int64{"alpha": 12, "beta": 0}},
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
	// v-1: alpha=12 beta=0 | alpha: before=14 size=6 after=12
	// v-2: alpha=12 beta=0 | alpha: before=12 size=6 after=12
	// v-3: alpha=999996 beta=999996 | alpha: before=999999 size=6 after=999996
}

func TestParams(t *testing.T) {
	tests := []struct {
		params  string
		wantErr string
	}{
		{params: ``, wantErr: `params: size is required, for example {"size": 6}`},
		{params: `{}`, wantErr: `params: size is required`},
		{params: `{"size": null}`, wantErr: `params: size is required`},
		{params: `{"size": 0}`, wantErr: `params: size must be at least 1, got 0`},
		{params: `{"size": -6}`, wantErr: `params: size must be at least 1, got -6`},
		{params: `{"pack_size": 6}`, wantErr: `params: json: unknown field "pack_size"`},
		{params: `{"size": 6, "units": 1}`, wantErr: `params: json: unknown field "units"`},
		{params: `{"size": 2.5}`, wantErr: `params: json: cannot unmarshal number 2.5`},
		{params: `{"size": "6"}`, wantErr: `params: json: cannot unmarshal string`},
		{params: `{"size": 6} {"size": 12}`, wantErr: `params: unexpected data after the JSON value`},
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
	for _, params := range []string{`{"size": 1}`, `{"size": 1000000}`} {
		if _, err := sdktest.Run(rule, shop(params)); err != nil {
			t.Errorf("params %#q: %v", params, err)
		}
	}
}

// TestProperties checks, on random shops and items, that every quantity in
// an active warehouse becomes the largest multiple of size not above it, for
// every kind of item, and that explaining changes no quantity. rapid runs
// 100 cases (-rapid.checks=N for more).
func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t)
		n := rapid.OneOf(rapid.Int64Range(1, 40), rapid.SampledFrom([]int64{1, 2, 6, 12, 999_999, 1_000_000})).Draw(t, "size")
		b.Params = fmt.Sprintf(`{"size": %d}`, n)
		res, err := sdktest.Run(rule, b)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range b.Items {
			for _, w := range b.Warehouses {
				in, out := it.Quantities[w.ID], res.Items[i].Quantities[w.ID]
				switch {
				case !w.Active:
					if out != in {
						t.Fatalf("item %d, %s: %d became %d in an inactive warehouse", i, w.ID, in, out)
					}
				case out%n != 0 || out > in || in-out >= n || out < 0:
					t.Fatalf("item %d, %s: %d with size %d became %d", i, w.ID, in, n, out)
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
