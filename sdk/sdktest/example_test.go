package sdktest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// Run encodes a batch described in plain Go values, runs the rule on it and
// reads the output back with the host's checks. An item the rule fails has
// its message in Err; a rule that fails the whole batch gives ErrRuleFailed.
func ExampleRun() {
	// needSKU fails the items TikTok Shop cannot match, and publishes
	// everything else unchanged.
	needSKU := sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			if it.SKU() == "" {
				it.Fail(errors.New("no SKU"))
			}
		}
		return nil
	})
	batch := sdktest.Batch{
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
		Items: []sdktest.Item{
			{ID: "v-1", SKU: "MUG-RED", Quantities: map[string]int64{"alpha": 240}},
			{ID: "v-2", Quantities: map[string]int64{"alpha": 12}},
		},
	}

	res, err := sdktest.Run(needSKU, batch)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, it := range res.Items {
		if it.Err != "" {
			fmt.Printf("%s: failed: %s\n", batch.Items[i].ID, it.Err)
			continue
		}
		fmt.Printf("%s: alpha=%d\n", batch.Items[i].ID, it.Quantities["alpha"])
	}

	_, err = sdktest.Run(sdk.RuleFunc(func(*sdk.Batch) error { return errors.New("price feed is down") }), batch)
	fmt.Println(errors.Is(err, sdktest.ErrRuleFailed), err)
	// Output:
	// v-1: alpha=240
	// v-2: failed: no SKU
	// true rule failed: price feed is down
}

// Check belongs in a _test.go file of the rule's own package main, which
// registers the rule: it runs the rule natively and, built from that
// package ("."), as the server runs an uploaded plugin, and fails the test
// if the two disagree or the module breaks one of the server's limits.
func ExampleCheck() {
	// The rule, which the package's init registers with sdk.Register.
	holdBack := sdk.RuleFunc(func(b *sdk.Batch) error {
		for _, it := range b.Items() {
			for w := range b.NumWarehouses() {
				it.SetQuantity(w, max(0, it.Quantity(w)-2))
			}
		}
		return nil
	})
	// Its test, as func TestHoldBack(t *testing.T) in holdback_test.go.
	testHoldBack := func(t *testing.T) {
		res, err := sdktest.Check(t, holdBack, ".", sdktest.Batch{
			Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
			Items:      []sdktest.Item{{ID: "v-1", Quantities: map[string]int64{"alpha": 240}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Items[0].Quantities["alpha"]; got != 238 {
			t.Errorf("alpha = %d, want 238", got)
		}
	}
	_ = testHoldBack
}
