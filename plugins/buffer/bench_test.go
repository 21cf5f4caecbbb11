package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// The sandboxed benchmark runs big batches in worker processes, which are
// this test binary started again.
func TestMain(m *testing.M) {
	if engine.IsWorker() {
		os.Exit(engine.ServeWorker())
	}
	code := m.Run()
	if cacheDir != "" {
		os.RemoveAll(cacheDir)
	}
	os.Exit(code)
}

// BenchmarkChain runs the buffer as one stage of a chain: natively (the
// baseline), in a runtime without deadline checks (trusted, as the default
// rule runs), and sandboxed as uploaded plugins really run (in process with
// wazero's deadline checks below worker_min_items, in a worker process
// killed at the deadline above).
func BenchmarkChain(b *testing.B) {
	runtimes := []runtime{
		{"trusted", load(b, engine.Config{})},
		{"sandboxed", load(b, engine.Config{Sandboxed: true, Worker: engine.WorkerConfig{MinItems: 256}})},
	}
	benchRuntimes(b, runtimes, []int{1, 10_000}, true)
}

// BenchmarkCrossover compares the two ways of sandboxing by batch size: in
// process with wazero's deadline checks, and always in a worker process.
// Where they cross is worker_min_items (RATIONALE.md).
func BenchmarkCrossover(b *testing.B) {
	runtimes := []runtime{
		{"inprocess", load(b, engine.Config{Sandboxed: true})},
		{"worker", load(b, engine.Config{Sandboxed: true, Worker: engine.WorkerConfig{MinItems: 1}})},
	}
	benchRuntimes(b, runtimes, []int{1, 16, 64, 256, 1024, 10_000}, false)
}

type runtime struct {
	name string
	mod  *engine.Module
}

// load loads the buffer module into a new engine with cfg.
func load(b *testing.B, cfg engine.Config) *engine.Module {
	ctx := context.Background()
	cfg.CacheDir = benchCache(b)
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(ctx) })
	mod, err := eng.Load(ctx, "buffer", wasmbuild.ForTest(b, "./plugins/buffer"))
	if err != nil {
		b.Fatal(err)
	}
	// Wait for the worker Load starts, so that no run pays for its start.
	input, err := chainBatch(100).Encode()
	if err != nil {
		b.Fatal(err)
	}
	if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
		b.Fatal(err)
	}
	return mod
}

var cacheDir string

func benchCache(b *testing.B) string {
	if cacheDir == "" {
		dir, err := os.MkdirTemp("", "buffer-bench-")
		if err != nil {
			b.Fatal(err)
		}
		cacheDir = dir
	}
	return cacheDir
}

func benchRuntimes(b *testing.B, runtimes []runtime, sizes []int, native bool) {
	ctx := context.Background()
	for _, n := range sizes {
		input, err := chainBatch(n).Encode()
		if err != nil {
			b.Fatal(err)
		}
		read := func(out []byte) error { return readAll(out, n, 2) }
		if native {
			b.Run(fmt.Sprintf("buffer/native/n=%d", n), func(b *testing.B) {
				runner := sdk.NewRunner(sdk.WithParams(Params{}, Compute))
				for b.Loop() {
					if err := read(runner.Run(input)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sku")
			})
		}
		for _, rt := range runtimes {
			b.Run(fmt.Sprintf("buffer/%s/n=%d", rt.name, n), func(b *testing.B) {
				for b.Loop() {
					if err := rt.mod.Call(ctx, input, read); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sku")
			})
		}
	}
}

// chainBatch is n items with the default rule's quantities so far in two
// warehouses, and the buffer's params.
func chainBatch(n int) sdktest.Batch {
	r := rand.New(rand.NewPCG(1, 2))
	b := sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}, {ID: "B", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}},
		Mappings:   []sdktest.Mapping{{Location: "A", Warehouse: "alpha"}, {Location: "B", Warehouse: "beta"}},
		Params:     `{"units": 2}`,
	}
	for i := range n {
		a, c := r.Int64N(2000), r.Int64N(50)
		b.Items = append(b.Items, sdktest.Item{
			ID:         fmt.Sprintf("gid://shopify/ProductVariant/%d", 40000000000000+i),
			Available:  map[string]int64{"A": a, "B": c},
			Quantities: map[string]int64{"alpha": a * 8 / 10, "beta": c * 8 / 10},
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
	if msg, failed := o.Failed(); failed {
		return fmt.Errorf("buffer failed: %s", msg)
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
