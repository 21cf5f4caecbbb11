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
