package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

const defaultModulePkg = "./rules/defaultrule/module"

// benchBatch is a typical shop: three locations, two of them mapped to the
// default warehouse, one to a second, at 80%.
func benchBatch(n int) sdktest.Batch {
	r := rand.New(rand.NewPCG(1, 2))
	b := sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}, {ID: "B", Active: true}, {ID: "C", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}},
		Mappings:   []sdktest.Mapping{{Location: "A", Warehouse: "alpha"}, {Location: "B", Warehouse: "alpha"}, {Location: "C", Warehouse: "beta"}},
		Settings:   sdk.Settings{Percentage: 8000, MaxQuantity: 999_999},
	}
	for i := range n {
		b.Items = append(b.Items, sdktest.Item{
			ID:              fmt.Sprintf("gid://shopify/ProductVariant/%d", 40000000000000+i),
			Untracked:       r.IntN(20) == 0,
			ContinueSelling: r.IntN(20) == 0,
			Available:       map[string]int64{"A": r.Int64N(2000) - 100, "B": r.Int64N(500), "C": r.Int64N(50)},
		})
	}
	return b
}

// readAll reads every quantity, as the host does with an output.
func readAll(out []byte, n, w int) error {
	o, err := abi.ParseOutput(out, n, w)
	if err != nil {
		return err
	}
	var sum int64
	for i := range n {
		for k := range w {
			sum += int64(o.Quantity(i, k))
		}
	}
	if sum < 0 {
		return fmt.Errorf("negative")
	}
	return nil
}

// BenchmarkDefaultRule runs the default rule on the same encoded batch
// natively (the baseline) and in wasm, reading the whole output both ways.
func BenchmarkDefaultRule(b *testing.B) {
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	mod, err := eng.Load(ctx, "default", wasmbuild.ForTest(b, defaultModulePkg))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 100, 10_000, 100_000} {
		batch := benchBatch(n)
		input, err := batch.Encode()
		if err != nil {
			b.Fatal(err)
		}
		nw := len(batch.Warehouses)
		b.Run(fmt.Sprintf("native/n=%d", n), func(b *testing.B) {
			runner := sdk.NewRunner(defaultrule.Rule)
			for b.Loop() {
				if err := readAll(runner.Run(input), n, nw); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sku")
		})
		b.Run(fmt.Sprintf("wasm/n=%d", n), func(b *testing.B) {
			read := func(out []byte) error { return readAll(out, n, nw) }
			for b.Loop() {
				if err := mod.Call(ctx, input, read); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sku")
		})
	}
}
