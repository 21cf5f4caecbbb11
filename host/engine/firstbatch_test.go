//go:build linux

package engine_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

// newVersion returns wasm with a custom section naming version appended: a
// module that runs the same but that no cache, proof or engine has seen,
// as a plugin's new version is.
func newVersion(wasm []byte, version string) []byte {
	name := "syncrules-test-version"
	content := binary.AppendUvarint(nil, uint64(len(name)))
	content = append(content, name...)
	content = append(content, version...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0) // custom section
	out = binary.AppendUvarint(out, uint64(len(content)))
	return append(out, content...)
}

// cacheFiles lists the files of wazero's compilation cache in dir, not the
// engine's own folders.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != dir && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case d.Type().IsRegular():
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestWorkerStartsFromCache: loading a new module in a sandboxed engine
// with workers leaves the workers' machine code in the cache, so that the
// first big batch starts a worker that compiles nothing (a compilation
// would add its entry to the cache); an engine without workers does not
// pay for their compilation. A restart finds both proofs and starts no
// child; a missing proof for the workers' runtime starts one again.
func TestWorkerStartsFromCache(t *testing.T) {
	ctx := context.Background()
	wasm := newVersion(wasmbuild.ForTest(t, defaultModulePkg), t.Name())
	const minItems = 16
	big, err := batchOf(minItems, -1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name        string
		minItems    int
		wantWorkers bool
	}{
		{name: "with workers", minItems: minItems, wantWorkers: true},
		{name: "without workers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := hostileConfig()
			cfg.CacheDir = t.TempDir()
			wasm := newVersion(wasm, tt.name)
			eng := sandboxed(t, tt.minItems, cfg)
			mod, err := eng.Load(ctx, "fresh", wasm)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := mod.CompileInfo(), (engine.CompileInfo{Child: true}); got != want {
				t.Errorf("CompileInfo() = %+v, want %+v", got, want)
			}
			if got := engine.InWorkerCache(eng, wasm); got != tt.wantWorkers {
				t.Errorf("after Load, the workers' machine code in the cache: %v, want %v", got, tt.wantWorkers)
			}
			if !tt.wantWorkers {
				return
			}
			before := cacheFiles(t, cfg.CacheDir)
			var where string
			err = mod.CallInfo(ctx, big, func(_ []byte, info *engine.CallInfo) error { where = info.Where; return nil })
			if err != nil || where != engine.RunWorker {
				t.Fatalf("first big batch ran %q: %v", where, err)
			}
			if after := cacheFiles(t, cfg.CacheDir); !slices.Equal(after, before) {
				t.Errorf("the first worker compiled the module: the cache went from %v to %v", before, after)
			}

			proofs := engine.BoundedProofDir(cfg.CacheDir)
			for _, step := range []struct {
				name      string
				change    func()
				wantChild bool
			}{
				{name: "restart"},
				{name: "workers' proof removed", wantChild: true, change: func() {
					files, _ := filepath.Glob(filepath.Join(proofs, "*-worker"))
					if len(files) != 1 {
						t.Fatalf("proofs for the workers' runtime: %v, want one", files)
					}
					os.Remove(files[0])
				}},
			} {
				if step.change != nil {
					step.change()
				}
				engine.ForgetBoundedCompiles(wasm)
				mod, err := sandboxed(t, tt.minItems, cfg).Load(ctx, "fresh", wasm)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := mod.CompileInfo(), (engine.CompileInfo{Cached: true, Child: step.wantChild}); got != want {
					t.Errorf("%s: CompileInfo() = %+v, want %+v", step.name, got, want)
				}
			}
		})
	}
}

// TestBothChildrenStop: an engine with workers compiles in two children at
// once; when they stall, the time limit or the caller giving up kills both,
// and Load says why, not that one child was stopped because the other
// failed.
func TestBothChildrenStop(t *testing.T) {
	wasm := newVersion(wasmbuild.ForTest(t, defaultModulePkg), t.Name())
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
			started := make(chan int, 2)
			eng := sandboxed(t, 16, engine.WithCompileHooks(cfg, true, func(pid int) { started <- pid }))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pids := make(chan []int, 1)
			go func() {
				both := []int{<-started, <-started}
				if tt.cancel {
					cancel()
				}
				pids <- both
			}()
			_, err := eng.Load(ctx, "stalled", wasm)
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Load() = %v, want %v containing %q", err, tt.wantIs, tt.wantMsg)
			}
			for _, pid := range <-pids {
				if !gone(pid) {
					t.Errorf("compiling child %d outlived Load", pid)
				}
			}
			if files := cacheFiles(t, cfg.CacheDir); len(files) > 0 {
				t.Errorf("the cache holds %v after a failed Load, want nothing", files)
			}
		})
	}
}

// BenchmarkFirstBigBatch loads a new version of a module in a sandboxed
// engine with workers, as an upload does (not timed, but reported as
// load-ms), then times its first batch of worker_min_items items, which
// starts the module's first worker, and its second, which reuses it: the
// default rule and, after make build, the buffer example plugin.
func BenchmarkFirstBigBatch(b *testing.B) {
	modules := []struct {
		name string
		wasm func() []byte
	}{
		{"default", func() []byte { return wasmbuild.ForTest(b, defaultModulePkg) }},
		{"buffer", func() []byte {
			wasm, err := os.ReadFile("../../bin/plugins/buffer.wasm")
			if err != nil {
				b.Skip("no bin/plugins/buffer.wasm: run make build")
			}
			return wasm
		}},
	}
	for _, m := range modules {
		b.Run(m.name, func(b *testing.B) { benchFirstBigBatch(b, m.wasm()) })
	}
}

func benchFirstBigBatch(b *testing.B, wasm []byte) {
	ctx := context.Background()
	const minItems = 256
	input, err := benchBatch(minItems).Encode()
	if err != nil {
		b.Fatal(err)
	}
	// A new cache folder, and versions this process has not seen in
	// another (it remembers bounded compiles).
	dir := b.TempDir()
	cfg := engine.Config{Sandboxed: true, CacheDir: dir, Worker: engine.WorkerConfig{MinItems: minItems}}
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	var load, first, second time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		start := time.Now()
		mod, err := eng.Load(ctx, "fresh", newVersion(wasm, fmt.Sprint(dir, i)))
		if err != nil {
			b.Fatal(err)
		}
		load += time.Since(start)
		b.StartTimer()
		for n, took := range []*time.Duration{&first, &second} {
			var where string
			start := time.Now()
			err := mod.CallInfo(ctx, input, func(_ []byte, info *engine.CallInfo) error { where = info.Where; return nil })
			if err != nil || where != engine.RunWorker {
				b.Fatalf("batch %d ran %q: %v", n+1, where, err)
			}
			*took += time.Since(start)
		}
		b.StopTimer()
		mod.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(load.Milliseconds())/float64(b.N), "load-ms")
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-ms")
	b.ReportMetric(float64(second.Microseconds())/float64(b.N), "second-µs")
}
