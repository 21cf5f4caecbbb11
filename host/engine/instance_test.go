package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/sdk/abi"
)

func loadInternal(t *testing.T, pkg string, cfg Config) *Module {
	t.Helper()
	ctx := context.Background()
	eng, err := New(ctx, WithTestCache(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(ctx) })
	mod, err := eng.Load(ctx, pkg, wasmbuild.ForTest(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// smallInput is two items, two locations mapped one to one to two
// warehouses, the second item untracked. (Package sdktest builds inputs for
// the external tests; it imports this package, so these build by hand.)
func smallInput() []byte {
	b := abi.NewInputBuilder(nil, abi.InputCounts{Items: 2, Locations: 2, Warehouses: 2, Mappings: 2},
		abi.Settings{Percentage: abi.MaxPercentage, MaxQuantity: 999_999}, nil, 0)
	b.SetLocation(0, "A", abi.LocationActive)
	b.SetLocation(1, "B", abi.LocationActive)
	b.SetWarehouse(0, "alpha", abi.WarehouseActive|abi.WarehouseDefault)
	b.SetWarehouse(1, "beta", abi.WarehouseActive)
	b.SetMapping(0, 0, 0)
	b.SetMapping(1, 1, 1)
	b.SetItem(0, abi.ItemTracked, "v-1", "", "", nil)
	b.SetAvailable(0, 0, 100)
	b.SetAvailable(0, 1, 200)
	b.SetItem(1, 0, "v-2", "", "", nil)
	return b.Bytes()
}

// TestMemoryStaysFlat calls one instance 100,000 times after a warm-up and
// requires its linear memory to end the size it was after the warm-up. The
// default rule allocates nothing per call; a rule that allocates reaches a
// plateau once the yields of the SDK let the collector keep up (RATIONALE.md,
// "Why yield every sixteenth call?"). The leaking rule is the control: the same
// measurement sees it grow.
func TestMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("500,000 calls, nothing concurrent: make test runs it without -short")
	}
	const calls = 100_000
	input := smallInput()
	tests := []struct {
		name     string
		pkg      string
		warmup   int
		wantFlat bool
	}{
		{"default rule", "./rules/defaultrule/module", 1_000, true},
		{"rule allocating 64 KiB of garbage a call", "./host/engine/testdata/alloc", 100_000, true},
		{"control: rule keeping 4 KiB a call", "./host/engine/testdata/leak", 1_000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := loadInternal(t, tt.pkg, Config{PoolSize: 1})
			ctx := context.Background()
			inst, err := mod.pool.acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.pool.release(inst, false)
			read := func([]byte) error { return nil }
			var after uint32
			for i := range tt.warmup + calls {
				if err := inst.call(ctx, input, 1<<30, read); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if i == tt.warmup {
					after = inst.mem.Size()
				}
			}
			end := inst.mem.Size()
			t.Logf("memory after %d warm-up calls: %d KiB; after %d more: %d KiB", tt.warmup, after>>10, calls, end>>10)
			if flat := end == after; flat != tt.wantFlat {
				t.Errorf("memory went from %d to %d bytes; want flat = %t", after, end, tt.wantFlat)
			}
		})
	}
}

func TestErrorDiscardsInstance(t *testing.T) {
	mod := loadInternal(t, "./rules/defaultrule/module", Config{PoolSize: 1})
	ctx := context.Background()
	input := smallInput()

	first, err := mod.pool.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod.pool.release(first, true)
	if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	same, _ := mod.pool.acquire(ctx)
	if same != first {
		t.Fatal("a successful call did not return its instance to the pool")
	}
	mod.pool.release(same, true)

	if err := mod.Call(ctx, input, func([]byte) error { return errors.New("bad output") }); err == nil {
		t.Fatal("Call() = nil, want the reader's error")
	}
	next, err := mod.pool.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.pool.release(next, true)
	if next == first {
		t.Fatal("the instance that returned an error went back to the pool")
	}
	if len(mod.pool.sem) != 1 {
		t.Fatalf("pool holds %d live instances, want 1", len(mod.pool.sem))
	}
}

func TestLogBufferIsBounded(t *testing.T) {
	b := &logBuffer{limit: 8}
	n, err := b.Write([]byte("0123456789abcdef"))
	if n != 16 || err != nil {
		t.Fatalf("Write() = %d, %v; a guest's write must never fail", n, err)
	}
	if got := b.buf.String(); got != "01234567" || b.dropped != 8 {
		t.Fatalf("kept %q and dropped %d, want the first 8 bytes and 8 dropped", got, b.dropped)
	}
	b.Reset()
	b.Write([]byte("x"))
	if got := b.buf.String(); got != "x" {
		t.Fatalf("after Reset kept %q", got)
	}
}
