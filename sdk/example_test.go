package sdk_test

import (
	"fmt"
	"log/slog"

	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// safetyStock holds a few units back in every warehouse, so that an order
// placed on TikTok Shop while a sync is under way is not oversold. Items
// tagged "preorder" are left alone. Its params name the number of units:
// {"keep": 5}.
func safetyStock(b *sdk.Batch) error {
	params := struct {
		Keep int64 `json:"keep"`
	}{Keep: 1}
	if err := b.DecodeParams(&params); err != nil {
		return err
	}
	for _, it := range b.Items() {
		if it.HasTag("preorder") {
			continue
		}
		for w := range b.NumWarehouses() {
			before := it.Quantity(w)
			it.SetQuantity(w, max(0, before-params.Keep))
			if b.Explaining() {
				it.Explain(w, slog.Int64("before", before), slog.Int64("keep", params.Keep))
			}
		}
	}
	return nil
}

// A rule is a function of a batch. sdktest runs it natively, the way the
// host runs the compiled module: here on two items whose quantities so far
// come from the default rule (80% of 985 is 788).
func Example() {
	res, err := sdktest.Run(sdk.RuleFunc(safetyStock), sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
		Mappings:   []sdktest.Mapping{{Location: "*", Warehouse: "alpha"}},
		Params:     `{"keep": 5}`,
		Items: []sdktest.Item{
			{ID: "v-1", Available: map[string]int64{"A": 985}, Quantities: map[string]int64{"alpha": 788}},
			{ID: "v-2", Tags: []string{"preorder"}, Quantities: map[string]int64{"alpha": 3}},
		},
		Explain: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, it := range res.Items {
		fmt.Printf("item %d: alpha=%d\n", i, it.Quantities["alpha"])
		for _, a := range it.Notes["alpha"] {
			fmt.Printf("  %s=%d\n", a.Key, a.Int64)
		}
	}
	// Output:
	// item 0: alpha=783
	//   before=788
	//   keep=5
	// item 1: alpha=3
}

// exampleParams are the params of exampleHoldBack: {"units": 3}.
type exampleParams struct {
	Units int64 `json:"units"`
}

// Validate says what to fix; WithParams calls it after decoding.
func (p exampleParams) Validate() error {
	if p.Units < 0 {
		return fmt.Errorf("units must be at least 0, got %d", p.Units)
	}
	return nil
}

// exampleHoldBack holds p.Units back in every active warehouse.
func exampleHoldBack(b *sdk.Batch, p exampleParams) error {
	for _, it := range b.Items() {
		q := it.Quantities()
		for w := range q {
			if b.WarehouseActive(w) {
				q[w] = int32(max(0, int64(q[w])-p.Units))
			}
		}
	}
	return nil
}

// WithParams decodes a rule's params into a typed value, over defaults,
// refusing unknown fields and calling Validate. Bad params fail the batch
// with a message that says what to fix; the host runs the same check when
// settings name the rule.
func ExampleWithParams() {
	rule := sdk.WithParams(exampleParams{Units: 1}, exampleHoldBack)
	batch := func(params string) sdktest.Batch {
		return sdktest.Batch{
			Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
			Params:     params,
			Items:      []sdktest.Item{{ID: "v-1", Quantities: map[string]int64{"alpha": 10}}},
		}
	}
	for _, params := range []string{``, `{"units": 3}`, `{"units": -1}`, `{"unit": 3}`} {
		res, err := sdktest.Run(rule, batch(params))
		if err != nil {
			fmt.Printf("%-14s %v\n", params, err)
			continue
		}
		fmt.Printf("%-14s alpha=%d\n", params, res.Items[0].Quantities["alpha"])
	}
	// Output:
	//                alpha=9
	// {"units": 3}   alpha=7
	// {"units": -1}  rule failed: params: units must be at least 0, got -1
	// {"unit": 3}    rule failed: params: json: unknown field "unit"
}
