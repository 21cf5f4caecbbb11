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

func TestThreshold(t *testing.T) {
	tests := []struct {
		name   string
		params string
		item   sdktest.Item
		want   map[string]int64
	}{
		{name: "below min", params: `{"min": 3}`,
			item: sdktest.Item{Quantities: qty(2, 1)}, want: qty(0, 0)},
		{name: "at min", params: `{"min": 3}`,
			item: sdktest.Item{Quantities: qty(3, 4)}, want: qty(3, 4)},
		{name: "per warehouse", params: `{"min": 5}`,
			item: sdktest.Item{Quantities: qty(4, 50)}, want: qty(0, 50)},
		{name: "zero min", params: `{"min": 0}`,
			item: sdktest.Item{Quantities: qty(0, 1)}, want: qty(0, 1)},
		{name: "untracked keeps max_quantity", params: `{"min": 1000000}`,
			item: sdktest.Item{Untracked: true, Quantities: qty(999_999, 999_999)}, want: qty(999_999, 999_999)},
		{name: "continue selling keeps what it has", params: `{"min": 10}`,
			item: sdktest.Item{ContinueSelling: true, Quantities: qty(5, 999_999)}, want: qty(5, 999_999)},
		{name: "negative quantity becomes zero", params: `{"min": 0}`,
			item: sdktest.Item{Quantities: qty(-4, 10)}, want: qty(0, 10)},
		{name: "huge min", params: `{"min": 9223372036854775807}`,
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

func TestThresholdExplain(t *testing.T) {
	b := shop(`{"min": 5}`,
		sdktest.Item{ID: "v-1", Quantities: qty(4, 50)},
		sdktest.Item{ID: "v-2", Untracked: true, Quantities: qty(999_999, 999_999)},
		sdktest.Item{ID: "v-3", ContinueSelling: true, Quantities: qty(999_999, 999_999)},
	)
	b.Explain = true
	res, err := sdktest.Check(t, rule, ".", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"wh-1": "before=4 min=5 after=0", "wh-2": "before=50 min=5 after=50"},
		{"": "unchanged=untracked"},
		{"": "unchanged=continue_selling"},
	}
	for i, it := range res.Items {
		if got := notes(it.Notes); !equal(got, want[i]) {
			t.Errorf("item %d: notes %v, want %v", i, got, want[i])
		}
	}
}

// Example is the README's: with min 5, 4 becomes 0 and 5 and 50 stay.
func Example() {
	res, err := sdktest.Run(rule, sdktest.Batch{
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}},
		Params:     `{"min": 5}`,
		Items: []sdktest.Item{
			{ID: "v-1", Quantities: map[string]int64{"alpha": 4, "beta": 50}},
			{ID: "v-2", Quantities: map[string]int64{"alpha": 5, "beta": 4}},
			{ID: "v-3", ContinueSelling: true, Quantities: map[string]int64{"alpha": 3, "beta": 3}},
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
	// v-1: alpha=0 beta=50 | alpha: before=4 min=5 after=0
	// v-2: alpha=5 beta=0 | alpha: before=5 min=5 after=5
	// v-3: alpha=3 beta=3 | item: unchanged=continue_selling
}

func TestParams(t *testing.T) {
	tests := []struct {
		params  string
		wantErr string
	}{
		{params: ``, wantErr: `params: min is required, for example {"min": 3}`},
		{params: `{}`, wantErr: `params: min is required`},
		{params: `{"min": null}`, wantErr: `params: min is required`},
		{params: `{"min": -1}`, wantErr: `params: min must be at least 0, got -1`},
		{params: `{"minimum": 3}`, wantErr: `params: json: unknown field "minimum"`},
		{params: `{"min": 3, "max": 9}`, wantErr: `params: json: unknown field "max"`},
		{params: `{"min": 2.5}`, wantErr: `params: json: cannot unmarshal number 2.5`},
		{params: `{"min": "3"}`, wantErr: `params: json: cannot unmarshal string`},
		{params: `[3]`, wantErr: `params: json: cannot unmarshal array`},
		{params: `{"min": 3} {"min": 4}`, wantErr: `params: unexpected data after the JSON value`},
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
	for _, params := range []string{`{"min": 0}`, `{"min": 1000000}`} {
		if _, err := sdktest.Run(rule, shop(params)); err != nil {
			t.Errorf("params %#q: %v", params, err)
		}
	}
}

// TestProperties checks, on random shops and items, that every quantity the
// threshold touches is either kept or 0, that it keeps exactly those at or
// above min, and that explaining changes no quantity. rapid runs 100 cases
// (-rapid.checks=N for more).
func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t)
		n := rapid.OneOf(rapid.Int64Range(0, 40), rapid.SampledFrom([]int64{0, 1, 999_999, 1_000_000})).Draw(t, "min")
		b.Params = fmt.Sprintf(`{"min": %d}`, n)
		res, err := sdktest.Run(rule, b)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range b.Items {
			for _, w := range b.Warehouses {
				in, out := it.Quantities[w.ID], res.Items[i].Quantities[w.ID]
				switch {
				case !w.Active, it.Untracked, it.ContinueSelling:
					if out != in {
						t.Fatalf("item %d, %s: %d became %d; it should be left alone", i, w.ID, in, out)
					}
				case out != 0 && out != in:
					t.Fatalf("item %d, %s: %d became %d, neither 0 nor itself", i, w.ID, in, out)
				case in < n && out != 0, in >= n && out != in:
					t.Fatalf("item %d, %s: %d with min %d became %d", i, w.ID, in, n, out)
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
