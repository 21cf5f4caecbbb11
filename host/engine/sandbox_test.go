package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// sandboxed returns a sandboxed engine with workers for batches of at least
// minItems items (0: none).
func sandboxed(t testing.TB, minItems int, cfg engine.Config) *engine.Engine {
	t.Helper()
	cfg.Sandboxed = true
	cfg.Worker.MinItems = minItems
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.WithTestCache(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(ctx) })
	return eng
}

func batchOf(n int, loopAt int) sdktest.Batch {
	b := sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
		Mappings:   []sdktest.Mapping{{Location: "*", Warehouse: "alpha"}},
	}
	for i := range n {
		id := fmt.Sprint("v-", i)
		if i == loopAt {
			id = "loop"
		}
		b.Items = append(b.Items, sdktest.Item{ID: id, Available: map[string]int64{"A": int64(i)}})
	}
	return b
}

// TestSandboxedAgreesWithTrusted runs the default rule trusted, sandboxed in
// process and in a worker process: the outputs must be identical.
func TestSandboxedAgreesWithTrusted(t *testing.T) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(t, "./rules/defaultrule/module")
	input, err := batchOf(5000, -1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	var outs [][]byte
	var wheres []string
	// Agreement is what this test asserts, not speed: a busy machine must
	// not stop a call at the default 150 ms of a 5,000-item batch.
	roomy := engine.Config{CallTimeout: 5 * time.Second * slowdown}
	for _, eng := range []*engine.Engine{newEngine(t, engine.Config{}), sandboxed(t, 0, roomy), sandboxed(t, 1, roomy)} {
		mod, err := eng.Load(ctx, "default", wasm)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			err = mod.CallInfo(ctx, input, func(out []byte, info *engine.CallInfo) error {
				outs = append(outs, bytes.Clone(out))
				wheres = append(wheres, info.Where)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range outs {
		if !bytes.Equal(outs[i], outs[0]) {
			t.Errorf("call %d (%s) differs from the trusted call", i, wheres[i])
		}
	}
	if want := []string{"trusted", "trusted", "trusted", "sandboxed", "sandboxed", "sandboxed", "worker", "worker", "worker"}; fmt.Sprint(wheres) != fmt.Sprint(want) {
		t.Errorf("calls ran %v, want %v", wheres, want)
	}
}

// TestEndlessLoopStops: a guest that never returns is stopped at its
// deadline, in process and in a worker, and the module keeps answering.
func TestEndlessLoopStops(t *testing.T) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(t, "./host/engine/testdata/loop")
	for _, minItems := range []int{0, 1} {
		// The fine batch must finish within it.
		cfg := engine.Config{CallTimeout: 50 * time.Millisecond * slowdown, ItemTimeout: time.Microsecond}
		eng := sandboxed(t, minItems, cfg)
		mod, err := eng.Load(ctx, "loop", wasm)
		if err != nil {
			t.Fatal(err)
		}
		looping, _ := batchOf(10, 3).Encode()
		fine, _ := batchOf(10, -1).Encode()
		for range 3 {
			start := time.Now()
			err := mod.Call(ctx, looping, func([]byte) error { return nil })
			took := time.Since(start)
			if !errors.Is(err, engine.ErrTimeout) {
				t.Fatalf("workers from %d items: Call() = %v, want ErrTimeout", minItems, err)
			}
			t.Logf("workers from %d items: stopped after %v (limit %v): %v", minItems, took, cfg.CallTimeout+10*cfg.ItemTimeout, err)
			if err := mod.Call(ctx, fine, func([]byte) error { return nil }); err != nil {
				t.Fatalf("after a timeout: %v", err)
			}
		}
	}
}

// TestIdleWorkersStop: a worker nobody calls is stopped after IdleTimeout,
// and the next big batch starts another.
func TestIdleWorkersStop(t *testing.T) {
	ctx := context.Background()
	// The worker must outlive the first call until it is counted.
	eng := sandboxed(t, 1, engine.Config{Worker: engine.WorkerConfig{IdleTimeout: 200 * time.Millisecond * slowdown}})
	mod, err := eng.Load(ctx, "default", wasmbuild.ForTest(t, "./rules/defaultrule/module"))
	if err != nil {
		t.Fatal(err)
	}
	input, _ := batchOf(10, -1).Encode()
	if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if w := mod.Stats().Workers; w < 1 {
		t.Fatalf("%d workers after a big batch, want at least 1", w)
	}
	deadline := time.Now().Add(10 * time.Second)
	for mod.Stats().Workers > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still live 10 s after their last call", mod.Stats().Workers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
		t.Fatalf("after the workers stopped: %v", err)
	}
}

// TestLazyInstances: a lazy engine keeps no instance of a module after
// Load, makes one on the first call, and closes it once idle for
// IdleTimeout; an eager engine keeps its instances.
func TestLazyInstances(t *testing.T) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	input, _ := batchOf(10, -1).Encode()
	for _, lazy := range []bool{true, false} {
		t.Run(fmt.Sprint("lazy=", lazy), func(t *testing.T) {
			eng := sandboxed(t, 0, engine.Config{Lazy: lazy, IdleTimeout: time.Hour})
			mod, err := eng.Load(ctx, "default", wasm)
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if lazy {
				want = 0
			}
			if s := mod.Stats(); s.Instances != want {
				t.Fatalf("after Load: %+v, want %d instances", s, want)
			}
			if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if s := mod.Stats(); s.Instances != 1 || s.Idle != 1 {
				t.Fatalf("after a call: %+v, want 1 idle instance", s)
			}
			eng.ReapIdle(time.Now().Add(30 * time.Minute)) // not idle long enough
			if s := mod.Stats(); s.Instances != 1 {
				t.Fatalf("30 minutes after the call: %+v, want 1 instance", s)
			}
			eng.ReapIdle(time.Now().Add(2 * time.Hour))
			if s := mod.Stats(); s.Instances != want {
				t.Fatalf("two hours after the call: %+v, want %d instances", s, want)
			}
			if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
				t.Fatalf("after reaping: %v", err)
			}
		})
	}
}

// TestRecycleGrownInstance: a sandboxed instance whose memory grew past
// RecycleMemoryBytes during a call is closed after it; one that did not is
// kept.
func TestRecycleGrownInstance(t *testing.T) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	small, _ := batchOf(10, -1).Encode()
	big, _ := batchOf(300_000, -1).Encode()
	memoryAfter := func(mod *engine.Module, input []byte) uint64 {
		t.Helper()
		var mem uint64
		if err := mod.CallInfo(ctx, input, func(_ []byte, info *engine.CallInfo) error {
			mem = info.MemoryBytes
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return mem
	}
	cfg := engine.Config{MaxMemoryBytes: 256 << 20, CallTimeout: 10 * time.Second * raceSlowdown}
	probe, err := sandboxed(t, 0, cfg).Load(ctx, "default", wasm)
	if err != nil {
		t.Fatal(err)
	}
	base := memoryAfter(probe, small)

	cfg.RecycleMemoryBytes = base + 1<<20
	mod, err := sandboxed(t, 0, cfg).Load(ctx, "default", wasm)
	if err != nil {
		t.Fatal(err)
	}
	if mem := memoryAfter(mod, small); mem > cfg.RecycleMemoryBytes || mod.Stats().Instances != 1 {
		t.Fatalf("after a small batch: %d MiB of memory, %+v; want the instance kept", mem>>20, mod.Stats())
	}
	grown := memoryAfter(mod, big)
	t.Logf("memory after a batch of 10 items: %.1f MiB; of %d KiB: %.1f MiB; threshold %.1f MiB", float64(base)/(1<<20), len(big)>>10, float64(grown)/(1<<20), float64(cfg.RecycleMemoryBytes)/(1<<20))
	if grown <= cfg.RecycleMemoryBytes {
		t.Fatalf("a batch of %d KiB left %d MiB of memory, want more than %d MiB", len(big)>>10, grown>>20, cfg.RecycleMemoryBytes>>20)
	}
	if s := mod.Stats(); s.Instances != 0 {
		t.Fatalf("after the grown call: %+v, want its instance closed", s)
	}
	if mem := memoryAfter(mod, small); mem > cfg.RecycleMemoryBytes {
		t.Fatalf("a new instance has %d MiB of memory, want at most %d", mem>>20, cfg.RecycleMemoryBytes>>20)
	}
}

// BenchmarkPluginMemory reports the memory of each example plugin (make
// build) after a batch of n items, for [sandbox] recycle_memory_mib.
func BenchmarkPluginMemory(b *testing.B) {
	files, _ := filepath.Glob("../../bin/plugins/*.wasm")
	if len(files) == 0 {
		b.Skip("no bin/plugins/*.wasm: run make build")
	}
	ctx := context.Background()
	eng := sandboxed(b, 0, engine.Config{MaxMemoryBytes: 1 << 30, CallTimeout: time.Minute, RecycleMemoryBytes: 1 << 30})
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".wasm")
		mod, err := eng.Load(ctx, name, wasm)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 1_000, 10_000, 100_000} {
			input, _ := benchBatch(n).Encode()
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				var mem uint64
				for b.Loop() {
					if err := mod.CallInfo(ctx, input, func(_ []byte, info *engine.CallInfo) error {
						mem = info.MemoryBytes
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(mem)/(1<<20), "MiB")
			})
		}
	}
}

// BenchmarkRecycledCall measures what replacing an instance costs the next
// call: a one-item call with instances kept, and with each instance
// replaced after one call.
func BenchmarkRecycledCall(b *testing.B) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(b, defaultModulePkg)
	input, _ := batchOf(1, -1).Encode()
	for _, calls := range []int{0, 1} {
		b.Run(fmt.Sprint("recycle_calls=", calls), func(b *testing.B) {
			mod, err := sandboxed(b, 0, engine.Config{RecycleCalls: calls, PoolSize: 1}).Load(ctx, "default", wasm)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
