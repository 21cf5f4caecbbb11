package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/sdk"
)

// Check runs rule natively and, built from the Go package in dir (usually
// "."), through the host's engine exactly as the server runs an uploaded
// plugin: sandboxed, under the server's default limits
// ([engine.SandboxDefaults]), and, for a batch of 256 items or more, in a
// worker process. It fails tb if the server would refuse the module or
// stop it on this batch, saying which limit it broke, and unless both runs
// produce the same output byte for byte. It returns the result, or the
// error both runs failed the batch with.
//
// The package is built once per test binary; compiled modules are cached
// under the user's cache directory, so later runs start fast.
func Check(tb testing.TB, rule sdk.Rule, dir string, b Batch) (*Result, error) {
	tb.Helper()
	input, err := b.Encode()
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	native := slices.Clone(sdk.NewRunner(rule).Run(input))
	mod := loadModule(tb, dir)
	var wasm []byte
	if err := mod.Call(context.Background(), input, func(out []byte) error {
		wasm = slices.Clone(out)
		return nil
	}); err != nil {
		tb.Fatalf("sdktest: the module built from %s %s", dir, describeFailure(err, len(b.Items)))
	}
	if !bytes.Equal(native, wasm) {
		nres, nerr := Decode(b, native)
		wres, werr := Decode(b, wasm)
		tb.Fatalf("sdktest: the rule run natively and the module built from %s disagree:\nnative: %s\nwasm:   %s",
			dir, describe(nres, nerr), describe(wres, werr))
	}
	return Decode(b, wasm)
}

// describeFailure says which of the server's limits a failed call broke,
// or else how it failed.
func describeFailure(err error, items int) string {
	limits := engine.SandboxDefaults()
	switch engine.KindOf(err) {
	case engine.KindTimeout:
		return fmt.Sprintf("ran past the server's time limit of %v for %s (sandbox.call_timeout %v + sandbox.item_timeout %v per item) and was stopped, as the server would stop it: %v",
			limits.CallTimeout+time.Duration(items)*limits.ItemTimeout, pluralItems(items), limits.CallTimeout, limits.ItemTimeout, err)
	case engine.KindMemory:
		return fmt.Sprintf("needed more than the server's %d MiB of memory (sandbox.max_memory_mib) for %s and was stopped, as the server would stop it: %v",
			limits.MaxMemoryBytes>>20, pluralItems(items), err)
	}
	return fmt.Sprintf("failed where the rule ran natively: %v", err)
}

func pluralItems(n int) string {
	if n == 1 {
		return "1 item"
	}
	return fmt.Sprintf("%d items", n)
}

func describe(r *Result, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%+v", r.Items)
}

// A test binary that calls Check is also the engine's worker process and
// compiling child: the engine starts the binary again, with a variable in
// its environment, to run big batches and to compile a module within
// bounds, as the server does. Such a process must serve the engine, not
// run the tests; doing it here, before the tests' packages initialise,
// spares every rule's tests a TestMain.
func init() {
	if engine.IsWorker() {
		os.Exit(engine.ServeWorker())
	}
}

var harness struct {
	sync.Mutex
	eng     *engine.Engine
	modules map[string]*engine.Module // by absolute package directory
	calls   callCounter
}

// callCounter counts the engine's calls by where they ran, for tests.
type callCounter struct {
	mu      sync.Mutex
	byWhere map[string]int
}

func (c *callCounter) Called(_, where string, _ engine.ErrorKind, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byWhere == nil {
		c.byWhere = map[string]int{}
	}
	c.byWhere[where]++
}

func (c *callCounter) count(where string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byWhere[where]
}

func (*callCounter) Compiled(string, time.Duration) {}
func (*callCounter) Waited(string, time.Duration)   {}

// sandboxConfig is the server's default configuration for plugins, with
// workers where the system has them (the server runs on Linux; elsewhere
// big batches run in process, under the same deadline).
func sandboxConfig() engine.Config {
	cfg := engine.SandboxDefaults()
	if !engine.WorkersSupported() {
		cfg.Worker.MinItems = 0
	}
	if cache, err := os.UserCacheDir(); err == nil {
		cfg.CacheDir = filepath.Join(cache, "syncrules", "sdktest")
	}
	cfg.Observer = &harness.calls
	return cfg
}

// loadModule builds the package in dir and loads it into the shared engine.
func loadModule(tb testing.TB, dir string) *engine.Module {
	tb.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	harness.Lock()
	defer harness.Unlock()
	if m, ok := harness.modules[abs]; ok {
		return m
	}
	ctx := context.Background()
	if harness.eng == nil {
		eng, err := engine.New(ctx, sandboxConfig())
		if err != nil {
			tb.Fatalf("sdktest: %v", err)
		}
		harness.eng, harness.modules = eng, map[string]*engine.Module{}
	}
	tmp, err := os.MkdirTemp("", "sdktest-")
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "rule.wasm")
	if err := wasmbuild.Build(ctx, abs, ".", out); err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	if len(wasm) > engine.DefaultMaxModuleBytes {
		tb.Fatalf("sdktest: the module built from %s is %.1f MiB; the server accepts up to %d MiB (sandbox.max_module_mib): drop dependencies to shrink it",
			dir, float64(len(wasm))/(1<<20), engine.DefaultMaxModuleBytes>>20)
	}
	m, err := harness.eng.Load(ctx, filepath.Base(abs), wasm)
	if err != nil {
		if errors.Is(err, engine.ErrInvalidModule) {
			tb.Fatalf("sdktest: the server would refuse the module built from %s: %v", dir, err)
		}
		tb.Fatalf("sdktest: %v", err)
	}
	harness.modules[abs] = m
	return m
}
