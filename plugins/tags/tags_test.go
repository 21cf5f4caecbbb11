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

func TestTags(t *testing.T) {
	const params = `{"exclude": ["no-tiktok"], "caps": {"limited": 5, "rare": 2}}`
	tests := []struct {
		name   string
		params string
		item   sdktest.Item
		want   map[string]int64
	}{
		{name: "excluded", params: params,
			item: sdktest.Item{Tags: []string{"summer", "no-tiktok"}, Quantities: qty(10, 999)}, want: qty(0, 0)},
		{name: "item tag case and spaces", params: params,
			item: sdktest.Item{Tags: []string{"  No-TikTok "}, Quantities: qty(10, 999)}, want: qty(0, 0)},
		{name: "params tag case and spaces", params: `{"exclude": [" NO-TIKTOK\t"]}`,
			item: sdktest.Item{Tags: []string{"no-tiktok"}, Quantities: qty(10, 999)}, want: qty(0, 0)},
		{name: "unicode case folding", params: `{"exclude": ["été"]}`,
			item: sdktest.Item{Tags: []string{"ÉTÉ"}, Quantities: qty(10, 999)}, want: qty(0, 0)},
		{name: "capped", params: params,
			item: sdktest.Item{Tags: []string{"limited"}, Quantities: qty(10, 3)}, want: qty(5, 3)},
		{name: "smallest cap wins", params: params,
			item: sdktest.Item{Tags: []string{"limited", "rare"}, Quantities: qty(10, 10)}, want: qty(2, 2)},
		{name: "exclude beats caps", params: params,
			item: sdktest.Item{Tags: []string{"rare", "limited", "no-tiktok"}, Quantities: qty(10, 10)}, want: qty(0, 0)},
		{name: "tag in exclude and caps", params: `{"exclude": ["limited"], "caps": {"limited": 5}}`,
			item: sdktest.Item{Tags: []string{"limited"}, Quantities: qty(10, 10)}, want: qty(0, 0)},
		{name: "caps differing in case", params: `{"caps": {"Limited": 5, "limited": 3}}`,
			item: sdktest.Item{Tags: []string{"LIMITED"}, Quantities: qty(10, 10)}, want: qty(3, 3)},
		{name: "cap of zero", params: `{"caps": {"paused": 0}}`,
			item: sdktest.Item{Tags: []string{"paused"}, Quantities: qty(10, 10)}, want: qty(0, 0)},
		{name: "cap above the quantity", params: `{"caps": {"limited": 100}}`,
			item: sdktest.Item{Tags: []string{"limited"}, Quantities: qty(10, 3)}, want: qty(10, 3)},
		{name: "no matching tag", params: params,
			item: sdktest.Item{Tags: []string{"summer", "no-tiktok-please", "limited-edition"}, Quantities: qty(10, 3)}, want: qty(10, 3)},
		{name: "no tags", params: params,
			item: sdktest.Item{Quantities: qty(10, 3)}, want: qty(10, 3)},
		{name: "untracked excluded", params: params,
			item: sdktest.Item{Untracked: true, Tags: []string{"no-tiktok"}, Quantities: qty(999_999, 999_999)}, want: qty(0, 0)},
		{name: "continue selling capped", params: params,
			item: sdktest.Item{ContinueSelling: true, Tags: []string{"limited"}, Quantities: qty(999_999, 999_999)}, want: qty(5, 5)},
		{name: "negative quantity becomes zero", params: params,
			item: sdktest.Item{Tags: []string{"limited"}, Quantities: qty(-4, 10)}, want: qty(0, 5)},
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

func TestTagsExplain(t *testing.T) {
	b := shop(`{"exclude": ["No-TikTok"], "caps": {"limited": 5, "rare": 2}}`,
		sdktest.Item{ID: "v-1", Tags: []string{"no-tiktok"}, Quantities: qty(10, 0)},
		sdktest.Item{ID: "v-2", Tags: []string{"Limited", "rare"}, Quantities: qty(10, 1)},
		sdktest.Item{ID: "v-3", Tags: []string{"summer"}, Quantities: qty(10, 1)},
	)
	b.Explain = true
	res, err := sdktest.Check(t, rule, ".", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"": "excluded_by=No-TikTok", "wh-1": "before=10 after=0", "wh-2": "before=0 after=0"},
		{"": "capped_by=rare cap=2", "wh-1": "before=10 after=2", "wh-2": "before=1 after=1"},
		{},
	}
	for i, it := range res.Items {
		if got := notes(it.Notes); !equal(got, want[i]) {
			t.Errorf("item %d: notes %v, want %v", i, got, want[i])
		}
	}
}

// Example is the README's table: the default rule left 10 in alpha and 3
// in beta for each item, which carries the tags shown.
func Example() {
	res, err := sdktest.Run(rule, sdktest.Batch{
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}},
		Params:     `{"exclude": ["no-tiktok"], "caps": {"limited": 5, "rare": 2}}`,
		Items: []sdktest.Item{
			{ID: "v-1", Tags: []string{"summer"}, Quantities: map[string]int64{"alpha": 10, "beta": 3}},
			{ID: "v-2", Tags: []string{"Limited"}, Quantities: map[string]int64{"alpha": 10, "beta": 3}},
			{ID: "v-3", Tags: []string{"limited", "rare"}, Quantities: map[string]int64{"alpha": 10, "beta": 3}},
			{ID: "v-4", Tags: []string{"rare", "No-TikTok"}, Quantities: map[string]int64{"alpha": 10, "beta": 3}},
		},
		Explain: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, it := range res.Items {
		n := notes(it.Notes)
		note := "item: " + n[""]
		if n[""] == "" {
			note = "no tag matched"
		}
		fmt.Printf("v-%d: alpha=%d beta=%d | %s\n", i+1, it.Quantities["alpha"], it.Quantities["beta"], note)
	}
	// Output:
	// v-1: alpha=10 beta=3 | no tag matched
	// v-2: alpha=5 beta=3 | item: capped_by=limited cap=5
	// v-3: alpha=2 beta=2 | item: capped_by=rare cap=2
	// v-4: alpha=0 beta=0 | item: excluded_by=no-tiktok
}

func TestParams(t *testing.T) {
	tests := []struct {
		params  string
		wantErr string
	}{
		{params: ``, wantErr: `params: name at least one tag, for example {"exclude": ["no-tiktok"]} or {"caps": {"limited": 5}}`},
		{params: `{}`, wantErr: `params: name at least one tag`},
		{params: `{"exclude": [], "caps": {}}`, wantErr: `params: name at least one tag`},
		{params: `{"exclude": ["no-tiktok", " "]}`, wantErr: `params: exclude[1] is empty: give a tag or remove it`},
		{params: `{"caps": {"limited": -1}}`, wantErr: `params: caps: "limited" must be at least 0, got -1`},
		{params: `{"caps": {"": 5}}`, wantErr: `params: caps: a tag must not be empty, got ""`},
		{params: `{"excludes": ["no-tiktok"]}`, wantErr: `params: json: unknown field "excludes"`},
		{params: `{"exclude": "no-tiktok"}`, wantErr: `params: json: cannot unmarshal string`},
		{params: `{"caps": ["limited"]}`, wantErr: `params: json: cannot unmarshal array`},
		{params: `{"caps": {"limited": 2.5}}`, wantErr: `params: json: cannot unmarshal number 2.5`},
		{params: `{"exclude": [5]}`, wantErr: `params: json: cannot unmarshal number`},
		{params: `{"exclude": ["a"]} {"exclude": ["b"]}`, wantErr: `params: unexpected data after the JSON value`},
	}
	for _, tt := range tests {
		// With one item, and with none: the host checks a chain's params on
		// a batch of no items before it runs the chain.
		for _, items := range [][]sdktest.Item{{{ID: "v-1", Tags: []string{"limited"}, Quantities: qty(10, 10)}}, nil} {
			_, err := sdktest.Check(t, rule, ".", shop(tt.params, items...))
			if !errors.Is(err, sdktest.ErrRuleFailed) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("params %#q, %d items: err = %v, want %q", tt.params, len(items), err, tt.wantErr)
			}
		}
	}
	for _, params := range []string{`{"exclude": ["no-tiktok"]}`, `{"caps": {"limited": 0}}`, `{"exclude": ["a"], "caps": null}`} {
		if _, err := sdktest.Run(rule, shop(params)); err != nil {
			t.Errorf("params %#q: %v", params, err)
		}
	}
}

// pool is the tags the property test draws from; each may appear on an
// item in another case or with spaces around it.
var pool = []string{"no-tiktok", "limited", "rare", "summer", "sale"}

// TestProperties checks, on random shops, items and tag params, that each
// item publishes exactly min(q, smallest limit of its tags) in active
// warehouses, never more than it had, that nothing else changes, and that
// explaining changes no quantity. rapid runs 100 cases (-rapid.checks=N for
// more).
func TestProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := genBatch(t)
		var p Params
		for _, tag := range pool {
			switch rapid.IntRange(0, 3).Draw(t, tag+".use") {
			case 1:
				p.Exclude = append(p.Exclude, spell(t, tag, "exclude."+tag))
			case 2, 3:
				if p.Caps == nil {
					p.Caps = map[string]int64{}
				}
				p.Caps[spell(t, tag, "caps."+tag)] = rapid.Int64Range(0, 20).Draw(t, tag+".cap")
			}
		}
		if len(p.Exclude) == 0 && len(p.Caps) == 0 {
			p.Exclude = []string{"no-tiktok"}
		}
		// The oracle: tags lowered and trimmed, the smallest limit.
		limits := map[string]int64{}
		for tag, n := range p.Caps {
			k := strings.ToLower(strings.TrimSpace(tag))
			if old, ok := limits[k]; !ok || n < old {
				limits[k] = n
			}
		}
		for _, tag := range p.Exclude {
			limits[strings.ToLower(strings.TrimSpace(tag))] = 0
		}
		for i := range b.Items {
			for _, tag := range rapid.SliceOfN(rapid.SampledFrom(pool), 0, 3).Draw(t, b.Items[i].ID+".tags") {
				b.Items[i].Tags = append(b.Items[i].Tags, spell(t, tag, b.Items[i].ID+"."+tag))
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
			limit := int64(-1)
			for _, tag := range it.Tags {
				if n, ok := limits[strings.ToLower(strings.TrimSpace(tag))]; ok && (limit < 0 || n < limit) {
					limit = n
				}
			}
			for _, w := range b.Warehouses {
				in, out := it.Quantities[w.ID], res.Items[i].Quantities[w.ID]
				switch {
				case !w.Active || limit < 0:
					if out != in {
						t.Fatalf("item %d, %s: %d became %d; it should be left alone", i, w.ID, in, out)
					}
				case out > in || out < 0 || out != min(in, limit):
					t.Fatalf("item %d, %s: %d with tags %q (limit %d) became %d", i, w.ID, in, it.Tags, limit, out)
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

// spell draws a way to write tag: as is, in upper case, or with spaces.
func spell(t *rapid.T, tag, label string) string {
	switch rapid.IntRange(0, 3).Draw(t, label) {
	case 1:
		return strings.ToUpper(tag)
	case 2:
		return " " + tag + "  "
	default:
		return tag
	}
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
