package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

func testdata(name string) string { return "./host/engine/testdata/" + name }

func newEngine(t testing.TB, cfg engine.Config) *engine.Engine {
	t.Helper()
	eng, err := engine.New(context.Background(), engine.WithTestCache(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	return eng
}

func load(t testing.TB, eng *engine.Engine, pkg string) *engine.Module {
	t.Helper()
	mod, err := eng.Load(context.Background(), pkg, wasmbuild.ForTest(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// seedBatch is the seed's first example: 985 available at 80%.
var seedBatch = sdktest.Batch{
	Locations:  []sdktest.Location{{ID: "A", Active: true}},
	Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
	Mappings:   []sdktest.Mapping{{Location: "*", Warehouse: "alpha"}},
	Settings:   sdk.Settings{Percentage: 8000, MaxQuantity: 999_999},
	Items:      []sdktest.Item{{ID: "v-1", Available: map[string]int64{"A": 985}}},
}

// call runs a batch through a module and decodes the result as the host does.
func call(t testing.TB, mod *engine.Module, b sdktest.Batch) (*sdktest.Result, error) {
	t.Helper()
	input, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var res *sdktest.Result
	err = mod.Call(context.Background(), input, func(out []byte) error {
		var derr error
		res, derr = sdktest.Decode(b, out)
		return derr
	})
	return res, err
}

func TestLoadDefaultModule(t *testing.T) {
	eng := newEngine(t, engine.Config{})
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	mod, err := eng.Load(context.Background(), "default", wasm)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	if got, want := mod.SHA256(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("SHA256() = %s, want %s", got, want)
	}
	if mod.ABIVersion() != abi.Version || mod.Name() != "default" {
		t.Errorf("ABIVersion() = %d, Name() = %q", mod.ABIVersion(), mod.Name())
	}
	res, err := call(t, mod, seedBatch)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Items[0].Quantities["alpha"]; got != 788 {
		t.Errorf("seed example: alpha = %d, want 788 (985 x 80%%)", got)
	}
}

func TestLoadRefusesBadModules(t *testing.T) {
	tests := []struct {
		name    string
		wasm    func(t *testing.T) []byte
		cfg     engine.Config
		wantErr string
	}{
		{"not wasm", func(*testing.T) []byte { return []byte("\x7fELF not a wasm module") }, engine.Config{}, "does not compile"},
		{"empty", func(*testing.T) []byte { return nil }, engine.Config{}, "does not compile"},
		{"missing exports", func(t *testing.T) []byte { return wasmbuild.ForTest(t, testdata("noexports")) }, engine.Config{}, "does not export syncrules_abi_version"},
		{"wrong signature", func(t *testing.T) []byte { return wasmbuild.ForTest(t, testdata("badsig")) }, engine.Config{}, "export syncrules_compute has signature (i32) -> (i32), want (i32) -> (i64)"},
		{"import the host does not provide", func(t *testing.T) []byte { return wasmbuild.ForTest(t, testdata("envimport")) }, engine.Config{}, "imports env.steal_secrets; a rule may import only wasi_snapshot_preview1"},
		{"unsupported ABI version", func(t *testing.T) []byte { return wasmbuild.ForTest(t, testdata("badabi")) }, engine.Config{}, "speaks ABI version 99; this host supports 1"},
		{"memory minimum over the limit", func(t *testing.T) []byte { return wasmbuild.ForTest(t, defaultModulePkg) }, engine.Config{MaxMemoryBytes: 1 << 20}, "over limit of 16 pages (1 Mi)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := newEngine(t, tt.cfg)
			_, err := eng.Load(context.Background(), "bad", tt.wasm(t))
			if !errors.Is(err, engine.ErrInvalidModule) {
				t.Fatalf("Load() error = %v, want ErrInvalidModule", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load() error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCallErrors(t *testing.T) {
	eng := newEngine(t, engine.Config{})
	tests := []struct {
		name     string
		pkg      string
		wantIs   error
		wantText string
	}{
		{"guest panics outside the SDK", testdata("trap"), engine.ErrTrap, "boom from the guest"},
		{"output outside guest memory", testdata("badoutput"), abi.ErrContract, "outside the guest's memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := load(t, eng, tt.pkg)
			for range 3 { // a broken instance is replaced, and the replacement fails the same way
				_, err := call(t, mod, seedBatch)
				if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("Call() error = %v, want %v containing %q", err, tt.wantIs, tt.wantText)
				}
			}
		})
	}
}

func TestReadErrorIsReturned(t *testing.T) {
	eng := newEngine(t, engine.Config{PoolSize: 1})
	mod := load(t, eng, defaultModulePkg)
	input, _ := seedBatch.Encode()
	sentinel := errors.New("reader refused the output")
	if err := mod.Call(context.Background(), input, func([]byte) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("Call() error = %v, want the reader's error", err)
	}
	if res, err := call(t, mod, seedBatch); err != nil || res.Items[0].Quantities["alpha"] != 788 {
		t.Fatalf("call after a discarded instance: %v, %v", res, err)
	}
}

func TestPoolWaitHonoursContext(t *testing.T) {
	eng := newEngine(t, engine.Config{PoolSize: 1})
	mod := load(t, eng, defaultModulePkg)
	input, _ := seedBatch.Encode()

	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- mod.Call(context.Background(), input, func([]byte) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := mod.Call(ctx, input, func([]byte) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call() on a full pool = %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, mod, seedBatch); err != nil {
		t.Fatalf("Call() after the instance came back = %v", err)
	}
}

func TestConcurrentCallsAgreeWithNative(t *testing.T) {
	eng := newEngine(t, engine.Config{PoolSize: 2})
	mod := load(t, eng, defaultModulePkg)
	const workers = 8
	calls := 100
	if testing.Short() {
		calls = 20
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			native := sdk.NewRunner(defaultrule.Rule)
			for range calls {
				b := randomBatch(r, 1+r.IntN(50))
				input, err := b.Encode()
				if err != nil {
					errs <- err
					return
				}
				want := bytes.Clone(native.Run(input))
				err = mod.Call(context.Background(), input, func(out []byte) error {
					if !bytes.Equal(out, want) {
						return fmt.Errorf("wasm output differs from native for %+v", b)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDefaultRuleNativeAndWasmAgree is the differential test: the default
// rule compiled natively and to WebAssembly gives byte-identical outputs on
// at least 100,000 random items, explanations included.
func TestDefaultRuleNativeAndWasmAgree(t *testing.T) {
	eng := newEngine(t, engine.Config{})
	mod := load(t, eng, defaultModulePkg)
	native := sdk.NewRunner(defaultrule.Rule)
	total := 100_000
	if testing.Short() {
		total = 10_000
	}
	r := rand.New(rand.NewPCG(2026, 11))
	for done := 0; done < total; {
		b := randomBatch(r, 1+r.IntN(2000))
		b.Explain = r.IntN(8) == 0
		done += len(b.Items)
		input, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(native.Run(input))
		if _, err := sdktest.Decode(b, want); err != nil {
			t.Fatalf("native output rejected: %v", err)
		}
		err = mod.Call(context.Background(), input, func(out []byte) error {
			if !bytes.Equal(out, want) {
				wantRes, _ := sdktest.Decode(b, want)
				gotRes, gotErr := sdktest.Decode(b, out)
				for i := range b.Items {
					if gotErr == nil && fmt.Sprint(gotRes.Items[i]) != fmt.Sprint(wantRes.Items[i]) {
						return fmt.Errorf("item %+v: wasm %v, native %v", b.Items[i], gotRes.Items[i], wantRes.Items[i])
					}
				}
				return fmt.Errorf("outputs differ (%d vs %d bytes; wasm decode error %v)", len(out), len(want), gotErr)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// randomBatch draws a shop with valid mappings, random settings and n
// random items, including extreme stock values.
func randomBatch(r *rand.Rand, n int) sdktest.Batch {
	var b sdktest.Batch
	nl, nw := 1+r.IntN(6), 1+r.IntN(4)
	for l := range nl {
		b.Locations = append(b.Locations, sdktest.Location{ID: fmt.Sprintf("gid://shopify/Location/%d", 1000+l), Active: r.IntN(5) > 0})
	}
	for w := range nw {
		b.Warehouses = append(b.Warehouses, sdktest.Warehouse{ID: fmt.Sprintf("wh-%d", w), Active: r.IntN(5) > 0, Default: w == 0})
	}
	if r.IntN(3) == 0 {
		b.Mappings = []sdktest.Mapping{{Location: "*", Warehouse: b.Warehouses[r.IntN(nw)].ID}}
	} else {
		for _, l := range b.Locations {
			if r.IntN(4) > 0 {
				b.Mappings = append(b.Mappings, sdktest.Mapping{Location: l.ID, Warehouse: b.Warehouses[r.IntN(nw)].ID})
			}
		}
	}
	b.Settings = sdk.Settings{Percentage: r.Int64N(10_001), MaxQuantity: 1 + r.Int64N(999_999)}
	for i := range n {
		it := sdktest.Item{
			ID:              fmt.Sprintf("v-%d", i),
			Untracked:       r.IntN(10) == 0,
			ContinueSelling: r.IntN(10) == 0,
			Available:       map[string]int64{},
		}
		for _, l := range b.Locations {
			switch r.IntN(10) {
			case 0:
				continue
			case 1:
				it.Available[l.ID] = []int64{math.MinInt32, math.MaxInt32, -1, 0}[r.IntN(4)]
			default:
				it.Available[l.ID] = r.Int64N(20_000) - 1_000
			}
		}
		b.Items = append(b.Items, it)
	}
	return b
}

func TestCompilationCacheSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	for run := range 2 {
		eng, err := engine.New(context.Background(), engine.Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		mod, err := eng.Load(context.Background(), "default", wasm)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: load took %v", run, time.Since(start))
		if res, err := call(t, mod, seedBatch); err != nil || res.Items[0].Quantities["alpha"] != 788 {
			t.Fatalf("run %d: %v, %v", run, res, err)
		}
		eng.Close(context.Background())
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) == 0 {
			t.Fatalf("run %d: cache dir has %d entries (%v), want the compiled module", run, len(entries), err)
		}
	}
}

// TestCompileInfo: Load and Compile say whether the module's machine code
// came from the compilation cache, each step in a new engine on the same
// cache directory, as after a restart. A sandboxed engine's machine code
// (with deadline checks) is not a trusted engine's.
func TestCompileInfo(t *testing.T) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	dir := t.TempDir()
	for _, tt := range []struct {
		name       string
		cacheDir   string
		sandboxed  bool
		compile    bool // Compile, not Load
		wantCached bool
	}{
		{name: "first load", cacheDir: dir},
		{name: "load after a restart", cacheDir: dir, wantCached: true},
		{name: "compile after a restart", cacheDir: dir, compile: true, wantCached: true},
		{name: "first sandboxed compile", cacheDir: dir, sandboxed: true, compile: true},
		{name: "sandboxed load after a restart", cacheDir: dir, sandboxed: true, wantCached: true},
		{name: "no cache directory"},
	} {
		eng, err := engine.New(ctx, engine.Config{CacheDir: tt.cacheDir, Sandboxed: tt.sandboxed})
		if err != nil {
			t.Fatal(err)
		}
		var info engine.CompileInfo
		if tt.compile {
			info, err = eng.Compile(ctx, "default", wasm)
		} else {
			var mod *engine.Module
			if mod, err = eng.Load(ctx, "default", wasm); err == nil {
				info = mod.CompileInfo()
			}
		}
		eng.Close(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if info.Cached != tt.wantCached {
			t.Errorf("%s: %+v, want Cached %t", tt.name, info, tt.wantCached)
		}
	}
}

func TestGuestSeesNoHost(t *testing.T) {
	eng := newEngine(t, engine.Config{})
	mod := load(t, eng, testdata("sandbox"))
	res, err := call(t, mod, seedBatch)
	if err != nil {
		t.Fatal(err)
	}
	// No arguments but the program name wazero supplies (none), no
	// environment, no filesystem, and a fake clock.
	got := res.Items[0].Err
	for _, want := range []string{"args=0", "env=0", "file_error=true", "dir_error=true"} {
		if !strings.Contains(got, want) {
			t.Errorf("guest report %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, fmt.Sprintf("year=%d", time.Now().Year())) {
		t.Errorf("guest report %q shows the real year: the clock is not sandboxed", got)
	}
}

func TestClosedModuleRefusesCalls(t *testing.T) {
	eng := newEngine(t, engine.Config{})
	mod := load(t, eng, defaultModulePkg)
	if err := mod.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, mod, seedBatch); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Call() after Close = %v, want ErrClosed", err)
	}
}

// TestSameBytesLoadedTogether: modules of the same bytes loaded at once
// from the compilation cache each run, and closing some leaves the others
// running (wazero shares one compiled module between them).
func TestSameBytesLoadedTogether(t *testing.T) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	cache := t.TempDir()
	warm, err := engine.New(ctx, engine.Config{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.Load(ctx, "warm", wasm); err != nil {
		t.Fatal(err)
	}
	warm.Close(ctx)

	input, _ := batchOf(3, -1).Encode()
	// The race it guards against is narrow: rounds make it show.
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	for round := range rounds {
		eng, err := engine.New(ctx, engine.Config{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		const n = 16
		mods := make([]*engine.Module, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				mod, err := eng.Load(ctx, fmt.Sprintf("m%d", i), wasm)
				if err != nil {
					t.Error(err)
					return
				}
				mods[i] = mod
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for i, mod := range mods {
			if i%2 == 0 {
				mod.Close(ctx)
			}
		}
		for i, mod := range mods {
			if i%2 == 1 {
				if err := mod.Call(ctx, input, func([]byte) error { return nil }); err != nil {
					t.Errorf("round %d: module %d after its siblings closed: %v", round, i, err)
				}
			}
		}
		eng.Close(ctx)
	}
}
