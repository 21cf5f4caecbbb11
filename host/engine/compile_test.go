//go:build linux

package engine_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

// The compile bombs: modules small enough to upload whose compilation in
// wazero takes minutes to hours, written byte by byte. wazero's compiler is
// quadratic in a function's nesting: 10,000 nested blocks take 0.7 s,
// 30,000 take 6.7 s; a br_table of 100,000 targets takes 5 s.

// wasmModule returns a module of funcs functions of type () -> (), each
// with body (without its locals and final end).
func wasmModule(funcs int, body []byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, content []byte) {
		m = append(m, id)
		m = binary.AppendUvarint(m, uint64(len(content)))
		m = append(m, content...)
	}
	section(1, []byte{1, 0x60, 0, 0}) // one type: () -> ()
	fn := binary.AppendUvarint(nil, uint64(funcs))
	for range funcs {
		fn = append(fn, 0)
	}
	section(3, fn)
	code := binary.AppendUvarint(nil, uint64(funcs))
	for range funcs {
		code = binary.AppendUvarint(code, uint64(len(body)+2))
		code = append(code, 0) // no locals
		code = append(code, body...)
		code = append(code, 0x0b)
	}
	section(10, code)
	return m
}

// nestedBlocks is a body of n nested empty blocks.
func nestedBlocks(n int) []byte {
	b := make([]byte, 0, 3*n)
	for range n {
		b = append(b, 0x02, 0x40) // block with no result
	}
	for range n {
		b = append(b, 0x0b)
	}
	return b
}

// brTable is a body with one br_table of n targets.
func brTable(n int) []byte {
	b := []byte{0x02, 0x40, 0x41, 0x00, 0x0e} // block; i32.const 0; br_table
	b = binary.AppendUvarint(b, uint64(n))
	for range n + 1 { // the targets and the default, all to the block
		b = append(b, 0)
	}
	return append(b, 0x0b)
}

var compileBombs = []struct {
	name string
	wasm func() []byte
}{
	{"200,000 nested blocks", func() []byte { return wasmModule(1, nestedBlocks(200_000)) }},
	{"a br_table of 1M targets", func() []byte { return wasmModule(1, brTable(1_000_000)) }},
	{"250 functions of 20,000 nested blocks", func() []byte { return wasmModule(250, nestedBlocks(20_000)) }},
}

// gone reports whether no process has the id pid.
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// TestCompileBombsRefused loads each bomb, at once, beside a normal module:
// each bomb is refused as invalid when its compilation passes the limit of
// time or memory, and the normal module loads.
func TestCompileBombsRefused(t *testing.T) {
	cfg := hostileConfig()
	cfg.CacheDir = t.TempDir()
	good := wasmbuild.ForTest(t, defaultModulePkg)
	// Compile the normal module first, with the default limits, so that
	// loading it beside the bombs is a cache hit that the short limit
	// below cannot fail.
	if _, err := sandboxed(t, 0, cfg).Load(context.Background(), "warm", good); err != nil {
		t.Fatal(err)
	}
	// Times engine.CompileTimeoutFactor in a race build; the normal
	// module's child must finish within it beside the bombs.
	cfg.CompileTimeout = 2 * time.Second * busySlowdown
	var pids sync.Map
	cfg = engine.WithCompileHooks(cfg, false, func(pid int) { pids.Store(pid, true) })
	eng := sandboxed(t, 0, cfg)
	var wg sync.WaitGroup
	for _, b := range compileBombs {
		wg.Go(func() {
			wasm := b.wasm()
			start := time.Now()
			_, err := eng.Load(context.Background(), "bomb", wasm)
			if !errors.Is(err, engine.ErrInvalidModule) {
				t.Errorf("%s: Load() = %v, want ErrInvalidModule", b.name, err)
			}
			t.Logf("%s (%d KiB): refused after %v: %v", b.name, len(wasm)>>10, time.Since(start).Round(time.Millisecond), err)
		})
	}
	wg.Go(func() {
		mod, err := eng.Load(context.Background(), "default", good)
		if err != nil {
			t.Errorf("the normal module beside the bombs: %v", err)
			return
		}
		stillAnswers(t, mod, nil)
	})
	wg.Wait()
	pids.Range(func(pid, _ any) bool {
		if !gone(pid.(int)) {
			t.Errorf("compiling child %d is still running", pid)
		}
		return true
	})
	// No temporary directory of a child, no half-written cache file.
	filepath.WalkDir(cfg.CacheDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), ".compile-") || strings.HasSuffix(d.Name(), ".tmp")) {
			t.Errorf("left behind: %s", path)
		}
		return err
	})
}

// TestCompileStops holds a compiling child and checks that the time limit
// and the caller giving up both kill it.
func TestCompileStops(t *testing.T) {
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	started := make(chan int, 1)
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		cancel  bool
		wantIs  error
		wantMsg string
	}{
		{name: "time limit", timeout: 100 * time.Millisecond, wantIs: engine.ErrInvalidModule,
			wantMsg: fmt.Sprintf("stalled: compilation took longer than %v", 100*time.Millisecond*engine.CompileTimeoutFactor)},
		{name: "caller gone", timeout: time.Hour, cancel: true, wantIs: context.Canceled, wantMsg: "engine: load stalled: context canceled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := hostileConfig()
			cfg.CacheDir = t.TempDir()
			cfg.CompileTimeout = tt.timeout
			eng := sandboxed(t, 0, engine.WithCompileHooks(cfg, true, func(pid int) { started <- pid }))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				pid := <-started
				if tt.cancel {
					cancel()
				}
				started <- pid
			}()
			_, err := eng.Load(ctx, "stalled", wasm)
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Load() = %v, want %v containing %q", err, tt.wantIs, tt.wantMsg)
			}
			if tt.cancel && errors.Is(err, engine.ErrInvalidModule) {
				t.Errorf("Load() = %v: a caller giving up does not make the module invalid", err)
			}
			if pid := <-started; !gone(pid) {
				t.Errorf("compiling child %d outlived Load", pid)
			}
			if entries, _ := os.ReadDir(cfg.CacheDir); len(entries) > 1 {
				t.Errorf("cache directory holds %v, want only wazero's", entries)
			}
		})
	}
}

// TestBoundedCompileRemembered: a module a child compiled within given
// bounds is not compiled in a child again after a restart on the same cache
// directory; other bounds, or a proof torn or missing, start a child again.
// Each step restarts, in order.
func TestBoundedCompileRemembered(t *testing.T) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	base := hostileConfig()
	base.CacheDir = t.TempDir()
	proofs := engine.BoundedProofDir(base.CacheDir)
	// restart loads wasm in a new engine that, as a new process, has not
	// seen a child compile it.
	restart := func(cfg engine.Config) engine.CompileInfo {
		t.Helper()
		engine.ForgetBoundedCompiles(wasm)
		mod, err := sandboxed(t, 0, cfg).Load(ctx, "default", wasm)
		if err != nil {
			t.Fatal(err)
		}
		return mod.CompileInfo()
	}
	if got, want := restart(base), (engine.CompileInfo{Child: true}); got != want {
		t.Fatalf("first start: %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		name      string
		change    func(c *engine.Config)
		wantChild bool
	}{
		{name: "same bounds"},
		{name: "longer compile timeout", change: func(c *engine.Config) { c.CompileTimeout = time.Hour }, wantChild: true},
		{name: "more compile memory", change: func(c *engine.Config) { c.CompileMemoryBytes = 1 << 30 }, wantChild: true},
		{name: "more instance memory", change: func(c *engine.Config) { c.MaxMemoryBytes = 128 << 20 }, wantChild: true},
		{name: "proofs torn", change: func(*engine.Config) { truncateAll(t, proofs) }, wantChild: true},
		{name: "proofs removed", change: func(*engine.Config) { os.RemoveAll(proofs) }, wantChild: true},
		{name: "proof written again"},
	} {
		cfg := base
		if tt.change != nil {
			tt.change(&cfg)
		}
		// The machine code is in the cache whatever the bounds.
		if got, want := restart(cfg), (engine.CompileInfo{Cached: true, Child: tt.wantChild}); got != want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, want)
		}
	}
}

// truncateAll empties every file in dir, as a crash could.
func truncateAll(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no proofs in %s: %v", dir, err)
	}
	for _, e := range entries {
		if err := os.Truncate(filepath.Join(dir, e.Name()), 0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompileMemoryBound compiles a normal module from scratch in a child
// allowed too little memory, and with the default in an engine without a
// cache directory, which compiles again in process.
func TestCompileMemoryBound(t *testing.T) {
	if raceSlowdown > 1 {
		t.Skip("a race build compiles without a memory cap")
	}
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	cfg := hostileConfig()
	cfg.Sandboxed = true
	cfg.CompileMemoryBytes = 40 << 20
	eng, err := engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	_, err = eng.Load(context.Background(), "big", wasm)
	if !errors.Is(err, engine.ErrInvalidModule) || !strings.Contains(err.Error(), "big: compilation needed more than 40 MiB of memory") {
		t.Fatalf("Load() = %v, want ErrInvalidModule: compilation needed more than 40 MiB", err)
	}
	t.Log(err)

	cfg.CompileMemoryBytes = 0
	eng, err = engine.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	mod, err := eng.Load(context.Background(), "default", wasm)
	if err != nil {
		t.Fatal(err)
	}
	stillAnswers(t, mod, nil)
}

// BenchmarkSandboxedLoad loads each example plugin (make build) in a new
// sandboxed engine, as a start does: "cold" compiles it in the child, then
// in process from the cache the child filled; "cache" finds it in the cache
// but, with no proof that a child compiled it within these bounds, starts
// a child again; "cache+proof" finds both, and starts no child.
func BenchmarkSandboxedLoad(b *testing.B) {
	files, _ := filepath.Glob("../../bin/plugins/*.wasm")
	if len(files) == 0 {
		b.Skip("no bin/plugins/*.wasm: run make build")
	}
	ctx := context.Background()
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".wasm")
		for _, st := range []struct {
			name         string
			cache, proof bool
		}{{"cold", false, false}, {"cache", true, false}, {"cache+proof", true, true}} {
			b.Run(fmt.Sprintf("%s/%s", name, st.name), func(b *testing.B) {
				dir := b.TempDir()
				cfg := engine.Config{Sandboxed: true, CacheDir: dir, MaxMemoryBytes: 64 << 20}
				load := func() {
					eng, err := engine.New(ctx, cfg)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := eng.Load(ctx, name, wasm); err != nil {
						b.Fatal(err)
					}
					eng.Close(ctx)
				}
				load()
				for b.Loop() {
					b.StopTimer()
					// What a new process knows.
					engine.ForgetBoundedCompiles(wasm)
					if !st.cache {
						os.RemoveAll(dir)
					}
					if !st.proof {
						os.RemoveAll(engine.BoundedProofDir(dir))
					}
					b.StartTimer()
					load()
				}
			})
		}
	}
}
